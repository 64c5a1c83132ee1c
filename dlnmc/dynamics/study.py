"""The ``langevin`` study kind: settings validated before any work, and one cell.

A cell runs the theory-free manifold route and the singular-value SDE (the
theory's side) from the same start and compares the means and 10%/90%
quantiles of every singular value at every recorded time
(:func:`dlnmc.dynamics.compare.compare_routes`). Optionally the manifold
route is rerun at ``dt/2`` (the discretization check). The grid keys swept by
a study are ``width``, ``depth``, ``beta``, ``start`` and ``dt``; every other
key is a setting shared by the cells.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.dynamics.api import langevin
from dlnmc.dynamics.compare import compare_routes, coupled_change, route_summary

__all__ = [
    "GRID_KEYS",
    "LangevinSettings",
    "LangevinSettingsError",
    "run_langevin_cell",
    "validate_langevin_settings",
]

GRID_KEYS = ("width", "depth", "beta", "start", "dt")
_STATISTICS = ("mean", "q10", "q90")


class LangevinSettingsError(ValueError):
    """A ``langevin`` cell's settings are invalid (the message names the key)."""


@dataclass(frozen=True)
class LangevinSettings:
    """Validated settings of one ``langevin`` cell (see :func:`validate_langevin_settings`)."""

    width: int
    depth: int
    beta: float
    start: tuple[float, ...]
    dt: float
    t_max: float
    n_paths: int
    record_times: tuple[float, ...]
    field: str = "real"
    sv_dt_ratio: int = 10
    sv_paths_ratio: int = 4
    check_half_dt: bool = False
    batch_size: int = 2048

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int(v: Any, key: str, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise LangevinSettingsError(f"{key} must be an integer >= {lo}, got {v!r}")
    if v < lo:
        raise LangevinSettingsError(f"{key} must be an integer >= {lo}, got {v}")
    return v


def _num(v: Any, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise LangevinSettingsError(f"{key} must be a number > 0, got {v!r}")
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise LangevinSettingsError(f"{key} must be finite and > 0, got {v!r}")
    return v


_REQUIRED = ("width", "depth", "beta", "start", "dt", "t_max", "n_paths", "record_times")
_OPTIONAL = ("field", "sv_dt_ratio", "sv_paths_ratio", "check_half_dt", "batch_size")


def validate_langevin_settings(settings: Mapping[str, Any]) -> LangevinSettings:
    """Check every key of one cell and return the settings; raise before any work.

    Parameters
    ----------
    settings : mapping
        Required: ``width``, ``depth``, ``beta``, ``start`` (singular values, one
        per width, > 0), ``dt``, ``t_max`` (a multiple of ``dt``), ``n_paths``,
        ``record_times`` (multiples of ``dt`` in ``(0, t_max]``). Optional:
        ``field`` (real, complex, quaternion), ``sv_dt_ratio`` (the SDE route
        steps ``dt / sv_dt_ratio``, default 10), ``sv_paths_ratio`` (it runs that
        many times more paths, default 4), ``check_half_dt`` (rerun the
        manifold route at ``dt / 2`` on the same Brownian paths), ``batch_size``.

    Raises
    ------
    LangevinSettingsError
        Naming the offending key (unknown keys included).
    """
    if not isinstance(settings, Mapping):
        raise LangevinSettingsError(f"settings must be a table, got {type(settings).__name__}")
    unknown = sorted(set(settings) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise LangevinSettingsError(
            f"unknown langevin setting(s) {unknown}; allowed: {sorted(_REQUIRED + _OPTIONAL)}"
        )
    missing = [k for k in _REQUIRED if k not in settings]
    if missing:
        raise LangevinSettingsError(f"missing langevin setting(s) {missing}")
    d = _int(settings["width"], "width", 1)
    N = _int(settings["depth"], "depth", 1)
    beta = _num(settings["beta"], "beta")
    start = settings["start"]
    if not isinstance(start, list | tuple) or len(start) != d:
        raise LangevinSettingsError(f"start must be {d} singular values (width {d}), got {start!r}")
    start = tuple(_num(v, f"start[{i}]") for i, v in enumerate(start))
    dt = _num(settings["dt"], "dt")
    t_max = _num(settings["t_max"], "t_max")
    n_steps = round(t_max / dt)
    if n_steps < 1 or abs(n_steps * dt - t_max) > 1e-9 * t_max:
        raise LangevinSettingsError(f"t_max = {t_max} must be a multiple of dt = {dt}")
    rt = settings["record_times"]
    if not isinstance(rt, list | tuple) or not rt:
        raise LangevinSettingsError(f"record_times must be a non-empty list, got {rt!r}")
    rt = tuple(_num(v, f"record_times[{i}]") for i, v in enumerate(rt))
    for t in rt:
        k = round(t / dt)
        if abs(k * dt - t) > 1e-9 * t or t > t_max * (1 + 1e-12):
            raise LangevinSettingsError(f"record_times: {t} is not a multiple of dt <= t_max")
    if any(b <= a for a, b in itertools.pairwise(rt)):
        raise LangevinSettingsError("record_times must be strictly increasing")
    field = settings.get("field", "real")
    if field not in ("real", "complex", "quaternion"):
        raise LangevinSettingsError(f"field must be real, complex or quaternion, got {field!r}")
    check = settings.get("check_half_dt", False)
    if not isinstance(check, bool):
        raise LangevinSettingsError(f"check_half_dt must be a boolean, got {check!r}")
    return LangevinSettings(
        width=d,
        depth=N,
        beta=beta,
        start=start,
        dt=dt,
        t_max=t_max,
        n_paths=_int(settings["n_paths"], "n_paths", 2),
        record_times=rt,
        field=field,
        sv_dt_ratio=_int(settings.get("sv_dt_ratio", 10), "sv_dt_ratio", 1),
        sv_paths_ratio=_int(settings.get("sv_paths_ratio", 4), "sv_paths_ratio", 1),
        check_half_dt=check,
        batch_size=_int(settings.get("batch_size", 2048), "batch_size", 1),
    )


def _stack(summary: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """(estimate, stderr) with a ``statistic`` dimension: mean, q10, q90."""
    est = xr.concat(
        [summary["mean"], *(summary["quantile"].isel(prob=k, drop=True) for k in range(2))],
        dim="statistic",
    ).drop_vars("prob", errors="ignore")
    se = xr.concat(
        [summary["mean_se"], *(summary["quantile_se"].isel(prob=k, drop=True) for k in range(2))],
        dim="statistic",
    ).drop_vars("prob", errors="ignore")
    return est.assign_coords(statistic=list(_STATISTICS)), se.assign_coords(
        statistic=list(_STATISTICS)
    )


def _common(st: LangevinSettings) -> dict[str, Any]:
    """The :func:`langevin` keywords every run of a cell shares."""
    return {
        "beta": st.beta,
        "start": np.asarray(st.start),
        "t_max": st.t_max,
        "field": st.field,
        "record_times": (0.0, *st.record_times),
    }


def _route_runs(
    st: LangevinSettings, seed: int, common: dict[str, Any]
) -> tuple[xr.DataTree, xr.DataTree]:
    """The two runs of a cell: the manifold route (``seed``), the finer SDE (``seed + 1``)."""
    man = langevin(
        st.width, st.depth, dt=st.dt, n_paths=st.n_paths, seed=seed, route="manifold", **common
    )
    sv = langevin(
        st.width,
        st.depth,
        dt=st.dt / st.sv_dt_ratio,
        n_paths=st.n_paths * st.sv_paths_ratio,
        seed=seed + 1,
        route="singular_values",
        **common,
    )
    return man, sv


def run_langevin_cell(settings: LangevinSettings | Mapping[str, Any], seed: int) -> xr.Dataset:
    """Run one cell: manifold route against the singular-value SDE at the recorded times.

    Returns
    -------
    xarray.Dataset
        Dims ``time``, ``sv``, ``statistic`` (mean, q10, q90): ``estimate`` and
        ``estimate_stderr`` (manifold route), ``closed_form`` and
        ``closed_form_stderr`` (the SDE of the theory, itself a Monte Carlo
        estimate), ``stderr`` (combined), ``z_score``; with ``check_half_dt``
        also ``half_dt_change`` (the manifold route rerun at ``dt/2`` on the same
        Brownian paths, minus the run at ``dt``), ``half_dt_change_stderr`` (its
        coupled s.e.) and ``half_dt_change_over_se`` (the change over
        ``estimate_stderr``: the bias in units of the Monte Carlo error).
        Attributes: ``n_dropped``, ``n_refinements``, ``max_constraint_residual``,
        ``max_abs_z`` and the settings.
    """
    st = (
        settings if isinstance(settings, LangevinSettings) else validate_langevin_settings(settings)
    )
    seed = int(seed)
    common = {**_common(st), "batch_size": st.batch_size}
    man, sv = _route_runs(st, seed, common)
    t = list(st.record_times)
    sm, ss = route_summary(man).sel(time=t), route_summary(sv).sel(time=t)
    est, est_se = _stack(sm)
    ref, ref_se = _stack(ss)
    se = np.sqrt(est_se**2 + ref_se**2)
    out = xr.Dataset(
        {
            "estimate": est,
            "estimate_stderr": est_se,
            "closed_form": ref,
            "closed_form_stderr": ref_se,
            "stderr": se,
            "z_score": (est - ref) / se,
        }
    )
    if st.check_half_dt:
        # the same paths at dt/2 on their own Brownian paths, bridge-refined: the change
        # is the discretization bias, measured far below the Monte Carlo error
        half = langevin(
            st.width,
            st.depth,
            dt=st.dt / 2,
            brownian_dt=st.dt,
            n_paths=st.n_paths,
            seed=seed,
            route="manifold",
            **common,
        )
        cc = coupled_change(man, half).sel(time=t)
        out["half_dt_change"] = cc["change"]
        out["half_dt_change_stderr"] = cc["change_se"]
        out["half_dt_change_over_se"] = cc["change"] / est_se
    z = np.abs(out["z_score"].values)
    out.attrs.update(
        {
            "n_dropped": int(man.attrs["n_dropped"]),
            "n_refinements": int(man.attrs["n_refinements"]),
            "max_constraint_residual": float(man["sample_stats"]["constraint_residual"].max()),
            "max_abs_z": float(np.nanmax(z)),
            "closed_form_route": "singular_values (SDE of the theory, Monte Carlo)",
            "assumes_entropy_formula": 0,
            **{
                f"setting_{k}": (list(v) if isinstance(v, tuple) else v)
                for k, v in st.as_dict().items()
            },
        }
    )
    # The comparison itself (both runs' summaries) for plotting.
    out.attrs["comparison_runs"] = "manifold, singular_values"
    return out


def comparison_of_cell(settings: LangevinSettings | Mapping[str, Any], seed: int) -> xr.Dataset:
    """The full :func:`compare_routes` of a cell (for plots), recomputed from the seed."""
    st = (
        settings if isinstance(settings, LangevinSettings) else validate_langevin_settings(settings)
    )
    return compare_routes(*_route_runs(st, seed, _common(st)))
