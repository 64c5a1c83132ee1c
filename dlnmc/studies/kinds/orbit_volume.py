"""The ``orbit_volume`` kind: Monte Carlo ``log vol(O_X)`` by the chart route against ``S``.

Grid ``width``, ``depth`` and ``field`` (default real); settings ``n_samples``
(any integer >= 2: the count that ran is recorded), ``method`` and the
singular values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.fields import resolve_field
from dlnmc.studies.errors import StudyError
from dlnmc.studies.kinds.common import (
    DEPTH,
    SV_SETTINGS,
    WIDTH,
    cell_dataset,
    check_sv_length,
    draw_singular_values,
    field_key,
    int_seed,
)
from dlnmc.studies.model import Part
from dlnmc.studies.registry import Kind, register_kind
from dlnmc.studies.values import Setting, choice, integer

__all__ = ["MAX_SOBOL_DIMENSION", "N_REPLICATES", "rqmc_points_per_replicate", "run_orbit_volume"]

# scipy's Sobol' sequences exist up to this dimension; an RQMC cell integrates over
# (N - 1) dim(G_d) angles, so a wider or deeper cell cannot run by RQMC.
MAX_SOBOL_DIMENSION = 21201
# Independent scrambles of an RQMC estimate (their spread is its standard error).
N_REPLICATES = 16


def rqmc_points_per_replicate(n_samples: int) -> int:
    """Sobol' points per scramble for a total of at least ``n_samples``: a power of 2, >= 2.

    The user's count is rounded up to the next size with Sobol' balance, so any
    ``n_samples >= 2`` runs; the count actually used is recorded in the result.
    """
    per = max(2, math.ceil(n_samples / N_REPLICATES))
    return 1 << (per - 1).bit_length()


def run_orbit_volume(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> xr.Dataset:
    """Monte Carlo ``log vol(O_X)`` by the chart route (issue 3) against ``S``.

    Returns the standard cell Dataset with statistic ``log_volume``, the
    singular values used and ``n_samples``, the integrand evaluations that ran.
    """
    from dlnmc.volumes import estimate_orbit_volume

    d, N = params["width"], params["depth"]
    field = params.get("field", "real")
    rng_ss, est_ss = ss.spawn(2)
    s = draw_singular_values(d, settings, np.random.default_rng(rng_ss))
    method = settings["method"]
    # RQMC runs 16 replicates of a Sobol'-balanced count; the driver rounds up and says so.
    res = estimate_orbit_volume(
        s,
        N,
        settings["n_samples"],
        int_seed(est_ss),
        field=field,
        method=method,
        n_replicates=N_REPLICATES,
    )
    n_samples = int(res.n_samples)
    return cell_dataset(
        ["log_volume"],
        res.log_volume,
        res.stderr,
        res.closed_form,
        {"singular_values": (("sv",), s), "n_samples": ((), n_samples)},
        z_score=res.z_score,  # the estimator's z: 0 for exact counts equal to rounding
    )


def check_orbit_part(part: Part) -> None:
    """Complex and quaternionic orbits: depth >= 2 and RQMC (what their estimator does)."""
    check_sv_length(part)
    fields = part.grid.get("field", ["real"])
    if any(f != "real" for f in fields) and any(N < 2 for N in part.grid["depth"]):
        raise StudyError(
            f"part {part.name!r}: complex and quaternionic orbit volumes need depth >= 2, "
            f"got depth {part.grid['depth']}"
        )
    if any(f != "real" for f in fields) and part.settings.get("method", "rqmc") != "rqmc":
        raise StudyError(f"part {part.name!r}: fields other than 'real' use method = 'rqmc'")


def check_orbit_cell(params: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Refuse a cell whose RQMC dimension exceeds the Sobol' sequences that exist."""
    d, N = params["width"], params["depth"]
    F = resolve_field(params.get("field", "real"))
    dim = (N - 1) * F.group_dimension(d)
    exact = F.b == 1 and (d == 1 or N == 1)  # a finite orbit: counted, not integrated
    if not exact and settings["method"] == "rqmc" and dim > MAX_SOBOL_DIMENSION:
        hint = "; use method = 'mc'" if F.b == 1 else ""
        raise StudyError(
            f"RQMC over (N - 1) dim G_d = {dim} angles exceeds the {MAX_SOBOL_DIMENSION} "
            f"dimensions of Sobol' sequences{hint}"
        )


ORBIT_VOLUME = register_kind(
    Kind(
        "orbit_volume",
        "Monte Carlo orbit volumes (chart route, RQMC) against the entropy formula",
        run_orbit_volume,
        {"width": WIDTH, "depth": DEPTH, "field": field_key(default=["real"])},
        {
            "n_samples": Setting(
                integer(2), 4096, "chart points per cell (rounded up to a Sobol'-balanced size)"
            ),
            "method": Setting(choice("rqmc", "mc"), "rqmc", "randomized quasi-MC or plain MC"),
            **SV_SETTINGS,
        },
        requires=(("dlnmc.volumes", "not in this dlnmc build (issue 3: orbit volumes)"),),
        check_part=check_orbit_part,
        check_cell=check_orbit_cell,
    )
)
