"""Shared helpers of the studies tests (imported as ``tests.studyhelpers`` only)."""

from __future__ import annotations

import os
import time

import xarray as xr

from dlnmc.studies import KINDS, Kind, register_kind
from dlnmc.studies.kinds import run_entropy_sweep

SMALL = """
name = "small"
description = "a small entropy sweep"
seed = 7
kind = "entropy_sweep"
[grid]
width = [1, 2, 3]
depth = [2, 3]
[settings]
n_points = 3
"""

INTERRUPT_ENV = "DLNMC_TEST_INTERRUPT_AT"  # e.g. "2,3": raise at width 2, depth 3
FAIL_ENV = "DLNMC_TEST_FAIL_AT"  # e.g. "2,3": raise RuntimeError there
CALLS_ENV = "DLNMC_TEST_CALLS_FILE"  # one line appended per computed cell
SLEEP_ENV = "DLNMC_TEST_SLEEP"  # seconds to sleep in each cell (to interrupt a subprocess)


def trees_equal(a: xr.DataTree, b: xr.DataTree, ignore=("created",)) -> None:
    """Assert every node identical (arrays bit for bit, attrs), except ignored root attrs."""
    assert {k: v for k, v in a.attrs.items() if k not in ignore} == {
        k: v for k, v in b.attrs.items() if k not in ignore
    }
    paths_a = sorted(node.path for node in a.subtree)
    paths_b = sorted(node.path for node in b.subtree)
    assert paths_a == paths_b
    for path in paths_a:
        if path != "/":
            xr.testing.assert_identical(a[path].to_dataset(), b[path].to_dataset())


def _interrupting_kind(params, settings, ss, progress=False):
    """entropy_sweep that raises KeyboardInterrupt at one cell (a test hook, env-driven)."""
    calls = os.environ.get(CALLS_ENV)
    if calls:
        with open(calls, "a") as f:
            f.write(f"{params}\n")
    if os.environ.get(SLEEP_ENV):
        time.sleep(float(os.environ[SLEEP_ENV]))
    at = os.environ.get(INTERRUPT_ENV)
    if at and (params["width"], params["depth"]) == tuple(int(x) for x in at.split(",")):
        raise KeyboardInterrupt
    at = os.environ.get(FAIL_ENV)
    if at and (params["width"], params["depth"]) == tuple(int(x) for x in at.split(",")):
        raise RuntimeError("deliberate failure")
    return run_entropy_sweep(params, settings, ss)


register_kind(
    Kind(
        "_test_interrupt",
        "test kind that raises KeyboardInterrupt at a chosen cell",
        _interrupting_kind,
        KINDS["entropy_sweep"].grid,
        KINDS["entropy_sweep"].settings,
    )
)
