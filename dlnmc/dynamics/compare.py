"""Time-resolved comparison of two Langevin routes, relaxation times and the ``dt/2`` check.

The ``dt/2`` check compares a run with its coupled refinement (the same Brownian
path at half the step, :func:`coupled_change`): the change is then the
discretization bias itself, measured far more precisely than by two independent
runs, and is reported beside the Monte Carlo error of the run.

Statistics over paths at each recorded time (paths are independent, so the
standard errors are the i.i.d. ones): the mean of each singular value with
``sd / sqrt(n)``, and the 10%/90% quantiles with the asymptotic
``sqrt(p (1 - p) / n) / f(q_p)``, the density ``f`` at the quantile from a
Gaussian kernel density estimate (Scott's bandwidth). Two routes are compared
by ``z = (a - b) / sqrt(se_a^2 + se_b^2)``. Dropped paths (NaN) are left out,
and their number is reported beside each time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy import stats

__all__ = [
    "compare_routes",
    "comparison_from_cell",
    "coupled_change",
    "dt_halving",
    "integrated_autocorrelation_time",
    "plot_comparison",
    "route_summary",
]


def _quantile_se(x: NDArray[np.float64], q: float, p: float) -> float:
    n = x.size
    if n < 3 or np.ptp(x) == 0:
        return float("nan")
    f = float(stats.gaussian_kde(x)(q)[0])
    return float(np.sqrt(p * (1.0 - p) / n) / f)


def route_summary(tree: xr.DataTree, quantiles: Sequence[float] = (0.1, 0.9)) -> xr.Dataset:
    """Means and quantiles of every singular value at every recorded time, with s.e.

    Parameters
    ----------
    tree : xarray.DataTree
        Output of :func:`dlnmc.langevin`.
    quantiles : sequence of float

    Returns
    -------
    xarray.Dataset
        ``mean``, ``mean_se`` (time, sv); ``quantile``, ``quantile_se`` (time, sv, prob);
        ``n_paths`` (time): paths not dropped.
    """
    s = tree["trajectory"]["singular_values"].transpose("path", "time", "sv").values
    T, d = s.shape[1], s.shape[2]
    probs = [float(p) for p in quantiles]
    mean = np.full((T, d), np.nan)
    mse = np.full((T, d), np.nan)
    qv = np.full((T, d, len(probs)), np.nan)
    qse = np.full((T, d, len(probs)), np.nan)
    n_ok = np.zeros(T, np.int64)
    for t in range(T):
        ok = np.isfinite(s[:, t]).all(-1)
        x = s[ok, t]
        n_ok[t] = x.shape[0]
        if x.shape[0] < 2:
            continue
        mean[t] = x.mean(0)
        mse[t] = x.std(0, ddof=1) / np.sqrt(x.shape[0])
        for i in range(d):
            for k, p in enumerate(probs):
                qv[t, i, k] = np.quantile(x[:, i], p)
                qse[t, i, k] = _quantile_se(x[:, i], qv[t, i, k], p)
    coords = {
        "time": tree["trajectory"]["time"].values,
        "sv": np.arange(d),
        "prob": probs,
    }
    return xr.Dataset(
        {
            "mean": (("time", "sv"), mean),
            "mean_se": (("time", "sv"), mse),
            "quantile": (("time", "sv", "prob"), qv),
            "quantile_se": (("time", "sv", "prob"), qse),
            "n_paths": (("time",), n_ok),
        },
        coords=coords,
    )


# A combined s.e. below this fraction of the compared values is rounding, not Monte
# Carlo error: at t = 0 both routes sit at the same start and differ by ~1e-16.
_SE_FLOOR = 1e-9


def _z(a: xr.DataArray, se_a: xr.DataArray, b: xr.DataArray, se_b: xr.DataArray) -> xr.DataArray:
    """``(a - b) / sqrt(se_a^2 + se_b^2)``, NaN where the combined s.e. is rounding-level."""
    se = np.sqrt(se_a**2 + se_b**2)
    resolved = se > _SE_FLOOR * np.maximum(np.abs(a) + np.abs(b), 1e-300)
    return ((a - b) / se).where(resolved)


def compare_routes(
    a: xr.DataTree | xr.Dataset,
    b: xr.DataTree | xr.Dataset,
    quantiles: Sequence[float] = (0.1, 0.9),
    names: tuple[str, str] | None = None,
) -> xr.Dataset:
    """z-scores of means and quantiles between two runs at their common recorded times.

    Parameters
    ----------
    a, b : DataTree (a run) or Dataset (a :func:`route_summary`)
    quantiles : sequence of float
    names : pair of str, optional
        Labels of the runs (default: their ``route`` attributes).

    Returns
    -------
    xarray.Dataset
        Per run (``run`` dimension) ``mean``, ``mean_se``, ``quantile``, ``quantile_se``,
        ``n_paths``; ``z_mean (time, sv)``, ``z_quantile (time, sv, prob)``;
        attribute ``max_abs_z`` over the finite z-scores. A z-score is NaN where
        the combined s.e. is at rounding level (below ``1e-9`` of the compared
        values, e.g. at ``t = 0`` where both runs start from the same point), so
        the start never enters ``max_abs_z``.
    """
    sums = []
    labels = []
    for run in (a, b):
        if isinstance(run, xr.DataTree):
            labels.append(str(run.attrs.get("route", "run")))
            sums.append(route_summary(run, quantiles))
        else:
            labels.append(str(run.attrs.get("route", "run")))
            sums.append(run)
    if names is not None:
        labels = list(names)
    if labels[0] == labels[1]:
        labels = [labels[0] + "_a", labels[1] + "_b"]
    common = np.intersect1d(sums[0]["time"].values, sums[1]["time"].values)
    sa, sb = (s.sel(time=common) for s in sums)
    z_mean = _z(sa["mean"], sa["mean_se"], sb["mean"], sb["mean_se"])
    z_q = _z(sa["quantile"], sa["quantile_se"], sb["quantile"], sb["quantile_se"])
    both = xr.concat([sa, sb], dim="run").assign_coords(run=labels)
    out = both.assign(z_mean=z_mean, z_quantile=z_q)
    finite = np.concatenate([np.ravel(z_mean.values), np.ravel(z_q.values)])
    finite = finite[np.isfinite(finite)]
    out.attrs["max_abs_z"] = float(np.abs(finite).max()) if finite.size else float("nan")
    return out


def comparison_from_cell(cell: xr.Dataset, names: tuple[str, str] = ("manifold", "sde")):
    """A ``langevin`` study cell as a :func:`compare_routes`-shaped Dataset (for plots).

    Parameters
    ----------
    cell : xarray.Dataset
        One cell of a ``langevin`` study result (dims ``statistic`` = mean, q10,
        q90, ``time``, ``sv``; ``estimate`` the manifold route, ``closed_form`` the SDE).
    names : pair of str
        Labels of the two runs.

    Returns
    -------
    xarray.Dataset
        ``mean``, ``quantile (prob = 0.1, 0.9)`` over ``run``, ``time``, ``sv``;
        ``z_mean``; attribute ``max_abs_z`` over every finite z-score of the cell.
    """
    runs = [cell["estimate"], cell["closed_form"]]
    mean = xr.concat([r.sel(statistic="mean", drop=True) for r in runs], dim="run")
    quant = xr.concat(
        [
            xr.concat(
                [r.sel(statistic=q, drop=True) for q in ("q10", "q90")], dim="prob"
            ).assign_coords(prob=[0.1, 0.9])
            for r in runs
        ],
        dim="run",
    )
    out = xr.Dataset({"mean": mean, "quantile": quant}).assign_coords(run=list(names))
    out = out.assign(z_mean=cell["z_score"].sel(statistic="mean", drop=True))
    z = np.abs(np.ravel(cell["z_score"].values))
    z = z[np.isfinite(z)]
    out.attrs["max_abs_z"] = float(z.max()) if z.size else float("nan")
    return out


def integrated_autocorrelation_time(
    tree: xr.DataTree, *, sv: int = -1, t_burn: float = 0.0
) -> tuple[float, float]:
    """Integrated autocorrelation time of ``s_sv`` (default ``s_min``) at equilibrium.

    Each path after ``t_burn`` is one chain (draws = recorded times, equally
    spaced by ``delta``); ``tau = delta * n_draws * n_paths / ESS`` with ArviZ's
    bulk ESS over all paths.

    Returns
    -------
    (tau, delta) : float
        In units of time; ``tau`` is only resolved when ``tau >> delta``.
    """
    import arviz as az

    traj = tree["trajectory"]
    t = traj["time"].values
    keep = t >= t_burn
    s = traj["singular_values"].isel(sv=sv).values[:, keep]
    s = s[np.isfinite(s).all(-1)]
    delta = float(np.diff(t[keep]).mean())
    ess = float(az.ess(s, method="bulk"))
    return delta * s.size / ess, delta


def coupled_change(
    coarse: xr.DataTree,
    fine: xr.DataTree,
    quantiles: Sequence[float] = (0.1, 0.9),
    *,
    n_boot: int = 200,
    seed: int = 0,
) -> xr.Dataset:
    """Change of means and quantiles from a run to its coupled refinement, with s.e.

    ``fine`` must follow the Brownian path of ``coarse`` (same seed,
    ``fine.attrs["brownian_dt"] == coarse.attrs["dt"]``; see ``brownian_dt`` of
    :func:`dlnmc.langevin`). Path ``i`` of both runs then sees the same noise,
    and the change is computed on the paths the two runs share (``fine`` may
    hold only the first few of ``coarse``'s paths), at the recorded times they
    share. Paths dropped in either run are left out.

    Returns
    -------
    xarray.Dataset
        Dims ``time``, ``sv``, ``statistic`` (mean, q10, q90 for the default
        quantiles): ``change`` (fine minus coarse), ``change_se`` (its s.e.:
        paired for the means, a bootstrap over paths, ``n_boot`` resamples from
        ``seed``, for the quantiles), ``mc_se`` (the Monte Carlo s.e. of the
        coarse run's estimate over all its paths) and ``change_over_mc_se``:
        the discretization bias measured in units of the Monte Carlo error.
    """
    for name, tree in (("coarse", coarse), ("fine", fine)):
        if "trajectory" not in tree.children:
            raise ValueError(f"{name} is not a dlnmc.langevin result")
    if int(coarse.attrs["seed"]) != int(fine.attrs["seed"]):
        raise ValueError("coupled runs need the same seed")
    if not np.isclose(float(fine.attrs.get("brownian_dt", np.nan)), float(coarse.attrs["dt"])):
        raise ValueError(
            "fine must be run with brownian_dt equal to the coarse run's dt "
            f"({coarse.attrs['dt']}), got {fine.attrs.get('brownian_dt')}"
        )
    sc = coarse["trajectory"]["singular_values"]
    sf = fine["trajectory"]["singular_values"]
    times = np.intersect1d(sc["time"].values, sf["time"].values)
    paths = np.intersect1d(sc["path"].values, sf["path"].values)
    a = sc.sel(time=times, path=paths).transpose("path", "time", "sv").values
    b = sf.sel(time=times, path=paths).transpose("path", "time", "sv").values
    full = route_summary(coarse, quantiles).sel(time=times)
    probs = [float(p) for p in quantiles]
    labels = ["mean", *(f"q{round(100 * p)}" for p in probs)]
    T, d = a.shape[1], a.shape[2]
    change = np.full((len(labels), T, d), np.nan)
    change_se = np.full((len(labels), T, d), np.nan)
    rng = np.random.default_rng(seed)
    for t in range(T):
        ok = np.isfinite(a[:, t]).all(-1) & np.isfinite(b[:, t]).all(-1)
        x, y = a[ok, t], b[ok, t]
        n = x.shape[0]
        if n < 2:
            continue
        diff = y - x
        change[0, t] = diff.mean(0)
        change_se[0, t] = diff.std(0, ddof=1) / np.sqrt(n)
        q_of = np.quantile(y, probs, axis=0) - np.quantile(x, probs, axis=0)  # (prob, sv)
        change[1:, t] = q_of
        idx = rng.integers(0, n, size=(n_boot, n))  # the same resampled paths in both runs
        boot = np.quantile(y[idx], probs, axis=1) - np.quantile(x[idx], probs, axis=1)
        change_se[1:, t] = boot.std(axis=1, ddof=1)  # (prob, n_boot, sv) -> (prob, sv)
    mc_se = np.concatenate(
        [full["mean_se"].values[None], np.moveaxis(full["quantile_se"].values, -1, 0)]
    )
    coords = {"statistic": labels, "time": times, "sv": np.arange(d)}
    dims = ("statistic", "time", "sv")
    return xr.Dataset(
        {
            "change": (dims, change),
            "change_se": (dims, change_se),
            "mc_se": (dims, mc_se),
            "change_over_mc_se": (dims, change / mc_se),
        },
        coords=coords,
        attrs={
            "n_paths_coupled": int(paths.size),
            "coarse_dt": float(coarse.attrs["dt"]),
            "fine_dt": float(fine.attrs["dt"]),
        },
    )


def dt_halving(run: Mapping[str, Any], *, quantiles: Sequence[float] = (0.1, 0.9)) -> xr.Dataset:
    """Rerun ``dlnmc.langevin(**run)`` at ``dt / 2`` and report the change beside the MC error.

    The rerun follows the same Brownian path, bridge-refined (same seed,
    ``brownian_dt = dt``), so the change is the discretization bias of the
    run plus a small coupled noise (:func:`coupled_change`).

    Returns
    -------
    xarray.Dataset
        The :func:`compare_routes` of the two runs (``run = dt, dt/2``) plus
        ``change_mean = mean(dt/2) - mean(dt)``, ``change_mean_se`` (its paired
        s.e.) and ``change_over_se`` = ``change_mean`` over the Monte Carlo s.e.
        of the ``dt`` run's means (time, sv).
    """
    from dlnmc.dynamics.api import langevin

    first = langevin(**run)
    half = langevin(**{**run, "dt": run["dt"] / 2.0, "brownian_dt": run["dt"]})
    cmp = compare_routes(first, half, quantiles, names=("dt", "dt/2"))
    cc = coupled_change(first, half, quantiles).sel(statistic="mean", drop=True)
    return cmp.assign(
        change_mean=cc["change"],
        change_mean_se=cc["change_se"],
        change_over_se=cc["change_over_mc_se"],
    )


def plot_comparison(
    cmp: xr.Dataset,
    *,
    equilibrium: Mapping[str, NDArray[np.float64]] | None = None,
    ax: Any = None,
    prob_band: tuple[float, float] = (0.1, 0.9),
):
    """Means and quantile bands of each singular value against time for both runs.

    Parameters
    ----------
    cmp : Dataset from :func:`compare_routes`.
    equilibrium : mapping, optional
        ``{"mean": (d,), "quantiles": (2, d)}`` drawn as horizontal lines
        (e.g. from :func:`dlnmc.sv_law.sv_law_moments`).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    else:
        fig = ax.figure
    t = cmp["time"].values
    styles = ("-", "--")
    colors = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7")
    for r, run in enumerate(cmp["run"].values):
        for i in cmp["sv"].values:
            c = colors[i % len(colors)]
            m = cmp["mean"].sel(run=run, sv=i).values
            lo = cmp["quantile"].sel(run=run, sv=i, prob=prob_band[0]).values
            hi = cmp["quantile"].sel(run=run, sv=i, prob=prob_band[1]).values
            ax.plot(t, m, styles[r % 2], color=c, label=f"{run}: mean s_{i + 1}")
            ax.fill_between(t, lo, hi, color=c, alpha=0.15 if r == 0 else 0.08)
            if r == 1:
                ax.plot(t, lo, ":", color=c, lw=0.8)
                ax.plot(t, hi, ":", color=c, lw=0.8)
    if equilibrium is not None:
        for i, v in enumerate(np.asarray(equilibrium["mean"])):
            ax.axhline(v, color=colors[i % len(colors)], lw=0.8, alpha=0.7)
    ax.set_xlabel("t")
    ax.set_ylabel("singular value")
    ax.set_title(
        f"means and {int(prob_band[0] * 100)}-{int(prob_band[1] * 100)}% bands "
        f"(max |z| = {cmp.attrs.get('max_abs_z', float('nan')):.2f})"
    )
    ax.legend(fontsize=7, ncol=2)
    return fig
