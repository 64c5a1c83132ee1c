"""The ``langevin`` kind: Langevin dynamics on ``M`` against the singular-value SDE, by cell.

Grid ``width``, ``depth``, ``beta``, ``start`` (singular values, one per
width), ``dt`` and the optional ``field``; settings ``t_max``, ``n_paths``,
``record_times`` and the ratios of the SDE run. A cell runs the theory-free
manifold route and the singular-value SDE of the theory from the same start
(:func:`dlnmc.dynamics.study.run_langevin_cell`): at every recorded time the
means and 10%/90% quantiles of each singular value, with ``closed_form`` the
SDE's (itself a Monte Carlo estimate, so ``stderr`` combines both runs).
Every cell's settings are checked by
:func:`~dlnmc.dynamics.study.validate_langevin_settings` before any cell runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.fields import resolve_field
from dlnmc.studies.errors import StudyError
from dlnmc.studies.kinds.common import BETA, DEPTH, WIDTH, field_key, int_seed
from dlnmc.studies.registry import Kind, register_kind
from dlnmc.studies.values import (
    GridKey,
    Setting,
    boolean,
    integer,
    number,
    positive_numbers,
)

__all__ = ["MAX_CELL_FLOATS", "check_langevin_cell", "run_langevin"]

# Recorded states of every path are held in memory (the SDE run has sv_paths_ratio
# times as many paths): above this many float64 (1 GiB) a cell is refused.
MAX_CELL_FLOATS = 2**27


def _settings_of(params: Mapping[str, Any], settings: Mapping[str, Any]):
    """The validated :class:`~dlnmc.dynamics.study.LangevinSettings` of a cell, or StudyError."""
    from dlnmc.dynamics.study import LangevinSettingsError, validate_langevin_settings

    try:
        return validate_langevin_settings({**params, **settings})
    except LangevinSettingsError as exc:
        raise StudyError(str(exc)) from None


def check_langevin_cell(params: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Refuse a cell whose settings :func:`run_langevin` would reject, or too large to hold."""
    st = _settings_of(params, settings)
    F = resolve_field(st.field)
    n_times = len(st.record_times) + 1  # and the start
    per_path = F.b * st.width**2 * (1 + st.depth) + st.width + 4
    floats = st.n_paths * max(st.sv_paths_ratio, 1) * n_times * per_path
    if floats > MAX_CELL_FLOATS:
        raise StudyError(
            f"the recorded states need {8 * floats / 2**30:.1f} GiB ({st.n_paths} x "
            f"{st.sv_paths_ratio} paths x {n_times} times), more than the "
            f"{8 * MAX_CELL_FLOATS / 2**30:.0f} GiB a cell may use; lower n_paths, "
            "sv_paths_ratio or the number of record_times"
        )


def run_langevin(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> xr.Dataset:
    """One cell: manifold route against the singular-value SDE at the recorded times.

    Returns
    -------
    xarray.Dataset
        Dims ``statistic`` (mean, q10, q90), ``time``, ``sv`` (0 = largest):
        ``estimate`` (manifold route), ``closed_form`` (SDE), ``stderr``
        (combined), ``z_score``, the two runs' own s.e., with ``check_half_dt``
        the ``dt/2`` change on the same Brownian paths and its s.e.; scalars
        ``n_dropped``, ``n_refinements`` and ``max_constraint_residual`` of the
        manifold run.
    """
    from dlnmc.dynamics.study import run_langevin_cell

    ds = run_langevin_cell(_settings_of(params, settings), int_seed(ss))
    for name in ("n_dropped", "n_refinements", "max_constraint_residual"):
        ds[name] = ((), ds.attrs[name])
    return ds


LANGEVIN = register_kind(
    Kind(
        "langevin",
        "Langevin dynamics on the balanced manifold against the singular-value SDE of the theory",
        run_langevin,
        {
            "width": WIDTH,
            "depth": DEPTH,
            "beta": BETA,
            "start": GridKey(positive_numbers, None, "start singular values (length = width)"),
            "dt": GridKey(number(0.0, strict=True), None, "time step of the manifold route"),
            "field": field_key(),
        },
        {
            "t_max": Setting(number(0.0, strict=True), None, "final time (a multiple of dt)"),
            "n_paths": Setting(integer(2), None, "paths of the manifold route"),
            "record_times": Setting(
                positive_numbers, None, "times compared (multiples of dt, increasing, <= t_max)"
            ),
            "sv_dt_ratio": Setting(integer(1), 10, "the SDE steps dt / sv_dt_ratio"),
            "sv_paths_ratio": Setting(integer(1), 4, "the SDE runs this many times more paths"),
            "check_half_dt": Setting(
                boolean, False, "rerun the manifold route at dt / 2 on the same Brownian paths"
            ),
            "batch_size": Setting(integer(1), None, "paths advanced together (no effect on bits)"),
        },
        check_cell=check_langevin_cell,
    )
)
