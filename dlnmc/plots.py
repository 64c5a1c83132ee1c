"""Figures that hold Monte Carlo estimates against the closed form.

Every function writes a PNG (matplotlib, Agg backend, so no display is needed)
and returns its path. Conventions on every figure: logarithms are natural,
singular values are ordered ``s_1 >= s_2 >= ...``, ``X = W_N ... W_1``,
``E(X) = |X - Y|_F^2 / 2``; closed-form curves are solid black lines, Monte
Carlo estimates are coloured markers or filled histograms, reference samplers
dashed lines.

Closed-form singular-value marginals
------------------------------------
The law is that of docs/guide/theory.md, 'The law of X on the balanced manifold'.
For ``Y = 0`` the ordered singular values have the joint density
:func:`dlnmc.entropy.log_sv_density` of the ensemble's field (``b = 1, 2, 4``;
read from the ``field`` attribute unless given). For ``d = 1`` and ``d = 2``
its marginals and means come from the project's quadrature of that law
(:func:`dlnmc.sv_law.sv_marginal_density`, :func:`dlnmc.sv_law.sv_law_moments`).
For ``d >= 3``, or a non-zero target ``Y``, nested quadrature is not attempted; the overlay is
a *reference sample* of the closed-form law ``exp(-beta E(X)) rho(X)`` drawn by
importance sampling (:func:`reference_sv_sample`), shown as a dashed step
histogram and labelled with its effective sample size (over ``R`` only: over
``C`` and ``H`` such a reference must be passed in). A reference sample
(e.g. the balanced sampler's emcee reference) can also be passed in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_width
from dlnmc.fields import REAL, Field, resolve_field
from dlnmc.reference import PowerMapDensity
from dlnmc.sv_law import sv_law_moments, sv_marginal_density

__all__ = [
    "ReferenceSample",
    "ensemble_field",
    "plot_orbit_volumes",
    "plot_result",
    "plot_sv_histograms",
    "plot_trace_rank",
    "plot_z_scores",
    "reference_sv_sample",
]

Z_BAND = 4.5  # the |z| tolerance used by every statistical test of the project


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> Path:
    from dlnmc.storage import atomic_path

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plots are written as PNG; path must end in .png, got {str(path)!r}")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _check_beta(beta: float) -> float:
    beta = float(beta)
    if not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be finite and > 0 for a normalizable law, got {beta!r}")
    return beta


# --------------------------------------------------------------------------- reference


class ReferenceSample(NamedTuple):
    """Weighted singular values from the closed-form law (self-normalized importance sampling)."""

    singular_values: NDArray[np.float64]
    """Shape ``(n_proposals, d)``, ordered ``s_1 >= ... >= s_d``."""
    weights: NDArray[np.float64]
    """Shape ``(n_proposals,)``, non-negative, summing to 1."""
    ess: float
    """Kish effective sample size ``1 / sum(weights^2)``."""

    def mean(self) -> NDArray[np.float64]:
        """Weighted means ``E[s_i]``, shape ``(d,)``."""
        return self.weights @ self.singular_values

    def stderr(self) -> NDArray[np.float64]:
        """Standard errors of :meth:`mean`: weighted standard deviation / sqrt(ESS)."""
        var = self.weights @ (self.singular_values - self.mean()) ** 2
        return np.sqrt(var / self.ess)


def reference_sv_sample(
    *,
    width: int,
    depth: int,
    beta: float,
    target: ArrayLike | None = None,
    n_proposals: int = 200_000,
    seed: int = 0,
) -> ReferenceSample:
    """Singular values drawn from the closed-form law ``exp(-beta E(X)) rho(X)``.

    See docs/guide/theory.md, 'The law of X on the balanced manifold'.

    Importance sampling with resampling in the coordinates ``Z`` with
    ``X = Z (Z^T Z)^{(N-1)/2}`` (:class:`dlnmc.reference.PowerMapDensity`, the
    density of the emcee reference), where it is smooth: a short emcee pilot
    run gives the location and scale of a multivariate-t proposal (4 degrees
    of freedom, covariance inflated 1.5x), refined by two rounds of weighted
    moments; in the last round ``n_proposals`` proposals are
    weighted by density / proposal. The weights make the result exact in the
    limit whatever the pilot's quality; their effective sample size is
    returned. (Plain emcee directly in ``X`` sticks
    near ``det X = 0``, where rho diverges, and gave visibly biased means.)

    Parameters
    ----------
    width, depth : int
        ``d`` and ``N``.
    beta : float
        Inverse temperature ``> 0``.
    target : array_like (d, d), optional
        ``Y`` in ``E = |X - Y|_F^2 / 2``; ``None`` means zero.
    n_proposals : int
        Number of weighted draws.
    seed : int

    Returns
    -------
    ReferenceSample
        ``singular_values (n_proposals, d)`` (descending), ``weights``, ``ess``.
    """
    import emcee
    from scipy.stats import multivariate_t

    d, N, beta = check_width(width), check_depth(depth), _check_beta(beta)
    Y = np.zeros((d, d)) if target is None else np.asarray(target, dtype=float)
    if Y.shape != (d, d):
        raise ValueError(f"target must have shape ({d}, {d}), got {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("target must be finite")
    rng = np.random.default_rng(seed)
    ndim = d * d
    n_walkers = max(4 * ndim, 32)

    logp = PowerMapDensity(d, N, beta, None if target is None else Y, 0.5, REAL)

    pilot = emcee.EnsembleSampler(n_walkers, ndim, logp, vectorize=True)
    # emcee draws from its own legacy RandomState; seed it from our generator.
    pilot.random_state = np.random.RandomState(rng.integers(2**32)).get_state()
    pilot.run_mcmc(rng.normal(size=(n_walkers, ndim)), 1500)
    chain = pilot.get_chain(discard=500, flat=True)
    loc, cov = chain.mean(axis=0), np.cov(chain.T)
    # Two rounds of adaptive importance sampling (weighted moments) refine the
    # pilot's proposal before the final, larger round.
    for size in (20_000, 20_000, int(n_proposals)):
        proposal = multivariate_t(loc=loc, shape=1.5 * cov + 1e-9 * np.eye(ndim), df=4)
        Z = proposal.rvs(size=size, random_state=rng).reshape(-1, ndim)
        log_w = logp(Z) - proposal.logpdf(Z)
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        loc = w @ Z
        cov = (Z - loc).T @ ((Z - loc) * w[:, None])
    s = np.linalg.svd(Z.reshape(-1, d, d), compute_uv=False) ** N
    return ReferenceSample(-np.sort(-s, axis=-1), w, float(1.0 / (w @ w)))


# --------------------------------------------------------------------------- figures


def plot_sv_histograms(
    tree: xr.DataTree,
    path: str | os.PathLike,
    *,
    depth: int,
    beta: float,
    target: ArrayLike | None = None,
    reference: ArrayLike | None = None,
    bins: int = 60,
    title: str | None = None,
    seed: int = 0,
    field: str | Field | None = None,
) -> Path:
    """Histogram each singular value of an ensemble against the closed-form law.

    The law: docs/guide/theory.md, 'The law of X on the balanced manifold' (over C and H:
    docs/guide/fields.md).

    Parameters
    ----------
    tree : xarray.DataTree
        Ensemble with ``posterior.singular_values (chain, draw, sv)``.
    path : path-like
        Output ``.png``.
    depth, beta : int, float
        ``N`` and the inverse temperature of the ensemble.
    target : array_like (d, d), optional
        ``Y`` in ``E = |X - Y|^2/2``; ``None`` means zero.
    reference : array_like (n, d), optional
        Reference singular values to overlay instead of generating them with
        :func:`reference_sv_sample` (used when no quadrature exists).
    bins : int
        Histogram bins per panel.
    title : str, optional
        Figure title; by default it names the sampler from ``tree.attrs``.
    seed : int
        Seed of a generated reference sample.
    field : {"real", "complex", "quaternion"}, Field or None
        The field of the ensemble (docs/guide/fields.md); ``None``: the tree's
        ``field`` attribute, else ``"real"`` (a value contradicting that
        attribute raises). The closed-form curve and
        means (``Y = 0``, ``d <= 2``) are those of the field's law
        (:func:`dlnmc.sv_law.sv_marginal_density`, :func:`dlnmc.sv_law.sv_law_moments`);
        otherwise over ``C`` and ``H`` give ``reference`` (:func:`reference_sv_sample`
        is for ``R`` only).

    Returns
    -------
    pathlib.Path
    """
    plt = _pyplot()
    F = ensemble_field(tree, field)
    N, beta = check_depth(depth), _check_beta(beta)
    try:
        sv = tree["posterior"]["singular_values"]
    except KeyError:
        raise ValueError("tree has no posterior.singular_values (chain, draw, sv)") from None
    s = -np.sort(-sv.values.reshape(-1, sv.shape[-1]), axis=-1)
    d = s.shape[-1]
    closed = target is None and d <= 2
    ref_label, ref_w = "reference sample", None
    if not closed and reference is None:
        if not F.is_real:  # reference_sv_sample is for the real law only
            raise ValueError(
                f"field {F.name!r}: the closed-form curve needs Y = 0 and width <= 2; "
                "give reference"
            )
        ref = reference_sv_sample(width=d, depth=N, beta=beta, target=target, seed=seed)
        reference, ref_w = ref.singular_values, ref.weights
        ref_label = f"reference: closed-form law, importance-weighted (ESS {ref.ess:,.0f})"
    if reference is not None:
        reference = -np.sort(-np.asarray(reference, dtype=float).reshape(-1, d), axis=-1)
        if ref_w is None:
            ref_w = np.full(len(reference), 1.0 / len(reference))

    # Per-variable MCSE of the mean through ArviZ (accounts for autocorrelation).
    from dlnmc.ensemble import diagnostics

    diag = diagnostics(tree, var_names=["singular_values"])["singular_values"]
    mcse = diag.sel(diagnostic="mcse_mean").values
    # The quadrature law is keyed by the field's name (a string, hashable and printable).
    means_cf = sv_law_moments(d, N, beta, F.name).mean if closed else None
    section = "docs/guide/theory.md" if F.is_real else "docs/guide/fields.md"

    ncol = min(d, 4)
    nrow = -(-d // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.8 * nrow), squeeze=False)
    sampler = tree.attrs.get("sampler", "ensemble")
    for i, ax in enumerate(axes.flat):
        if i >= d:
            ax.set_visible(False)
            continue
        data = s[:, i]
        hi = np.quantile(data, 0.995)
        edges = np.linspace(0.0, hi, bins + 1)
        ax.hist(
            data, bins=edges, density=True, color="tab:blue", alpha=0.45,
            label=f"Monte Carlo: {sampler} ({len(data):,} draws)",
        )  # fmt: skip
        text = f"MC mean {data.mean():.4f} ± {mcse[i]:.4f} (MCSE)"
        if closed:
            grid = np.linspace(hi / 2000, hi, 400)
            dens = sv_marginal_density(grid, width=d, depth=N, beta=beta, field=F.name)[i]
            label = f"closed form ({section}, quadrature)"
            ax.plot(grid, dens, color="black", lw=1.8, label=label)
            z = (data.mean() - means_cf[i]) / mcse[i]
            text += f"\nclosed form {means_cf[i]:.4f}, z = {z:+.2f}"
        else:
            ax.hist(
                reference[:, i], bins=edges, weights=ref_w, density=True, histtype="step",
                color="black", ls="--", lw=1.5, label=ref_label,
            )  # fmt: skip
            text += f"\nreference mean {ref_w @ reference[:, i]:.4f}"
        ax.text(0.97, 0.97, text, transform=ax.transAxes, ha="right", va="top", fontsize=8)
        ax.set_xlim(0, hi)
        if i == d - 1 and N > 1 and F.is_real:
            # The smallest singular value's density diverges like s^{-(N-1)/N}
            # at 0 (over R only: s^{b-1} tames it for b = 2, 4); a log scale
            # shows the singularity and the tail together.
            ax.set_yscale("log")
        ax.set_xlabel(f"$s_{i + 1}$ ({_ordinal(i + 1)} largest singular value of $X$)")
        ax.set_ylabel("probability density (per unit $s$)")
    # One legend for all panels, below them, so it never hides data.
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    tgt = "Y = 0" if target is None else "Y ≠ 0 (given target)"
    over = "" if F.is_real else f" over {F.name} (b = {F.b})"
    fig.suptitle(
        title
        or f"Singular values of X = W_N⋯W_1{over} on the balanced manifold: d={d}, N={N}, "
        f"β={beta:g}, E = |X − Y|²/2, {tgt}\nsource: {sampler}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _save(fig, path)


def ensemble_field(tree: xr.DataTree, field: str | Field | None = None) -> Field:
    """The field of an ensemble: ``field`` if given, else its ``field`` attribute, else R.

    Raises ``ValueError`` if ``field`` contradicts the attribute: a complex
    ensemble must never be held against the real law.
    """
    recorded = tree.attrs.get("field")
    if field is None:
        return resolve_field(str(recorded) if recorded is not None else "real")
    F = resolve_field(field)
    if recorded is not None and resolve_field(str(recorded)) is not F:
        raise ValueError(
            f"field={F.name!r} contradicts the ensemble's field attribute {recorded!r}"
        )
    return F


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _check_table(ds: xr.Dataset, needed: tuple[str, ...]) -> None:
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"expected an xarray.Dataset, got {type(ds).__name__}")
    missing = [v for v in needed if v not in ds]
    if missing:
        raise ValueError(f"dataset lacks variable(s) {missing}; it has {sorted(ds.data_vars)}")


def plot_orbit_volumes(
    ds: xr.Dataset, path: str | os.PathLike, *, title: str | None = None
) -> Path:
    """Monte Carlo orbit log-volumes with error bars against the closed form ``S``.

    Parameters
    ----------
    ds : xarray.Dataset
        Dims ``(width, depth)`` with ``log_volume_mc``, ``stderr``,
        ``closed_form`` and ``z_score`` (the layout of the orbit helper's
        ``orbit_volume_table``); missing cells may be NaN.
    path : path-like
        Output ``.png``.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Top panel: ``log vol(O_X)`` against depth, one colour per width, closed
    form as a line, Monte Carlo as markers with ±2 standard-error bars.
    Bottom panel: the residual Monte Carlo − closed form with ±2 s.e. bars,
    on a scale where the error bars are visible.
    """
    plt = _pyplot()
    _check_table(ds, ("log_volume_mc", "stderr", "closed_form", "z_score"))
    if set(ds["log_volume_mc"].dims) != {"width", "depth"}:
        raise ValueError(f"expected dims (width, depth), got {ds['log_volume_mc'].dims}")
    ds = ds.transpose("width", "depth", ...)
    depths = ds["depth"].values if "depth" in ds.coords else np.arange(ds.sizes["depth"]) + 1
    widths = ds["width"].values if "width" in ds.coords else np.arange(ds.sizes["width"]) + 1
    fig, (top, bot) = plt.subplots(
        2, 1, figsize=(7.5, 7.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(widths)))
    n = len(widths)
    offsets = (np.arange(n) - (n - 1) / 2) * 0.06  # dodge markers of different widths
    for k, (w, c) in enumerate(zip(widths, colors, strict=True)):
        cell = ds.isel(width=k)
        mc, se, cf = (cell[v].values for v in ("log_volume_mc", "stderr", "closed_form"))
        top.plot(depths, cf, "-", color=c, lw=1.6, label=f"d = {w}: closed form S")
        top.errorbar(
            depths, mc, yerr=2 * se, fmt="o", mfc="white", mec=c, ecolor=c,
            ms=5, capsize=3, label=f"d = {w}: Monte Carlo ±2 s.e.",
        )  # fmt: skip
        bot.errorbar(
            depths + offsets[k], mc - cf, yerr=2 * se, fmt="o", mfc="white", mec=c, ecolor=c,
            ms=5, capsize=3, label=f"d = {w}",
        )  # fmt: skip
    bot.axhline(0.0, color="black", lw=1.2, label="closed form (zero residual)")
    top.set_ylabel("log vol(O_X)  (natural log of the orbit's\nHausdorff volume in R^(N·d²))")
    bot.set_ylabel("Monte Carlo − closed form\n(natural-log units)")
    bot.set_xlabel("depth N (number of layers)")
    bot.set_xticks(depths)
    top.legend(fontsize=7, ncol=2, frameon=False)
    bot.legend(fontsize=7, ncol=min(n + 1, 4), frameon=False)
    z = ds["z_score"].values
    zmax = np.nanmax(np.abs(z)) if np.isfinite(z).any() else float("nan")
    method = ds.attrs.get("method", "Monte Carlo")
    top.set_title(
        title
        or f"Orbit volumes: Monte Carlo ({method}) vs closed form S(X) "
        "(docs/guide/theory.md, 'The entropy formula')\n"
        f"{np.isfinite(z).sum()} cells, max |z| = {zmax:.2f} (tolerance {Z_BAND}); "
        "residuals dodged horizontally by width",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, path)


def plot_z_scores(
    ds: xr.Dataset | xr.DataArray,
    path: str | os.PathLike,
    *,
    var: str = "z_score",
    title: str | None = None,
) -> Path:
    """Z-scores of a study: one per cell with the ±4.5 band, and their histogram against N(0, 1).

    Parameters
    ----------
    ds : xarray.Dataset or DataArray
        A study result with a variable ``var`` (any dims: each element is a
        cell), or the z-scores themselves. NaN cells are skipped.
    path : path-like
        Output ``.png``.
    var : str
        Name of the z-score variable.

    Returns
    -------
    pathlib.Path
    """
    from scipy.stats import norm

    plt = _pyplot()
    if isinstance(ds, xr.Dataset):
        _check_table(ds, (var,))
        da = ds[var]
    elif isinstance(ds, xr.DataArray):
        da = ds
    else:
        raise TypeError(f"expected an xarray Dataset or DataArray, got {type(ds).__name__}")
    flat = da.stack(cell=list(da.dims)) if da.dims else da.expand_dims(cell=[0])
    z = flat.values.astype(float)
    labels = [_cell_label(flat, k) for k in range(flat.sizes["cell"])]
    ok = np.isfinite(z)
    if not ok.any():
        raise ValueError(f"{var} has no finite value")
    z, labels = z[ok], [lab for lab, o in zip(labels, ok, strict=True) if o]
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [max(2, min(len(z), 40) / 8), 1.4]}
    )
    x = np.arange(len(z))
    bad = np.abs(z) >= Z_BAND
    left.axhspan(-Z_BAND, Z_BAND, color="tab:green", alpha=0.12, label=f"|z| < {Z_BAND} (pass)")
    left.axhline(0, color="black", lw=1)
    for sgn in (-2, 2):
        left.axhline(sgn, color="gray", lw=0.8, ls=":", label="|z| = 2" if sgn > 0 else None)
    left.plot(x[~bad], z[~bad], "o", color="tab:blue", label="cell passes")
    if bad.any():
        left.plot(x[bad], z[bad], "X", color="tab:red", ms=9, label="cell fails")
    left.set_xticks(x)
    left.set_xticklabels(labels, rotation=60 if len(z) > 6 else 0, ha="right", fontsize=7)
    left.set_xlim(-0.7, len(z) - 0.3)
    lim = max(Z_BAND + 0.8, np.abs(z).max() * 1.1)
    left.set_ylim(-lim, lim)
    left.set_ylabel("z = (Monte Carlo − closed form) / s.e.")
    left.set_xlabel("study cell")
    left.legend(fontsize=7.5, loc="lower right", frameon=False)
    K = int(np.ceil(lim))
    edges = np.arange(-K - 0.5, K + 0.51, 1.0)  # unit bins centred on integers
    right.hist(
        z, bins=edges, orientation="horizontal", color="tab:blue", alpha=0.5,
        label=f"z of {len(z)} cells",
    )  # fmt: skip
    grid = np.linspace(-lim, lim, 300)
    right.plot(
        len(z) * (edges[1] - edges[0]) * norm.pdf(grid), grid, color="black", lw=1.8,
        label="N(0, 1), expected counts",
    )  # fmt: skip
    right.set_ylim(-lim, lim)
    right.set_xlabel("number of cells")
    right.legend(fontsize=7.5, loc="lower right", frameon=False)
    fig.suptitle(
        title
        or f"z-scores across the study: {len(z)} cells, {bad.sum()} with |z| ≥ {Z_BAND}, "
        f"mean {z.mean():+.2f}, sd {z.std(ddof=1) if len(z) > 1 else float('nan'):.2f}",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, path)


def _cell_label(flat: xr.DataArray, k: int) -> str:
    coords: Mapping[str, Any] = {
        name: flat[name].values[k] for name in flat.coords if flat[name].dims == ("cell",)
    }
    parts = []
    for name, val in coords.items():
        if name == "cell":
            continue
        if isinstance(val, str | np.str_):
            parts.append(str(val))  # already a label (e.g. a study's "check" coordinate)
            continue
        short = {"width": "d", "depth": "N", "beta": "β"}.get(name, name)
        parts.append(
            f"{short}={val:g}" if isinstance(val, float | np.floating) else f"{short}={val}"
        )
    return ", ".join(parts) or str(k)


def plot_trace_rank(
    tree: xr.DataTree,
    path_stem: str | os.PathLike,
    *,
    var_names: tuple[str, ...] = ("singular_values", "entropy"),
) -> list[Path]:
    """ArviZ trace (with marginal densities) and rank plots of an ensemble.

    Parameters
    ----------
    tree : xarray.DataTree
        Ensemble in ArviZ's layout.
    path_stem : path-like
        Writes ``<stem>_trace.png`` (``arviz.plot_trace_dist``) and
        ``<stem>_rank.png`` (``arviz.plot_rank``: per-chain fractional-rank
        ECDF differences with simultaneous envelopes; flat means mixed).
    var_names : tuple of str
        Posterior variables to show (those absent are skipped).

    Returns
    -------
    list of pathlib.Path
    """
    import arviz as az

    plt = _pyplot()
    names = [v for v in var_names if v in tree["posterior"].data_vars]
    if not names:
        raise ValueError(f"posterior has none of {var_names}")
    stem = Path(path_stem)
    out = []
    for kind, fn in (("trace", az.plot_trace_dist), ("rank", az.plot_rank)):
        pc = fn(tree, var_names=names, backend="matplotlib")
        fig = pc.viz["chart"].item() if "chart" in pc.viz else plt.gcf()
        fig.suptitle(
            f"ArviZ {fn.__name__}: {', '.join(names)}; chains {tree['posterior'].sizes['chain']}, "
            f"draws {tree['posterior'].sizes['draw']}; source: {tree.attrs.get('sampler', '?')}"
            "\nsingular_values index 0 = s_1 (largest); x-axis of the trace: draw index",
            fontsize=10,
            # 0.5 inch above the axes area, clear of ArviZ's own two-line panel
            # titles; bbox_inches="tight" keeps it in the PNG.
            y=1.0 + 0.5 / fig.get_figheight(),
        )
        out.append(_save(fig, stem.with_name(f"{stem.name}_{kind}.png")))
    return out


def _ensemble_target(tree: xr.DataTree, F: Field) -> NDArray | None:
    """The target ``Y`` recorded in an ensemble's ``target`` attribute (JSON), in storage."""
    import json

    raw = tree.attrs.get("target")
    if raw is None or (isinstance(raw, str) and raw in ("", "null", "None")):
        return None
    Y = np.asarray(json.loads(raw) if isinstance(raw, str) else raw, dtype=float)
    return Y if F.is_real else F.from_components(Y)


def _plot_ensemble(tree, directory, stem, depth, beta, target, field, reference) -> list[Path]:
    out: list[Path] = []
    F = ensemble_field(tree, field)
    depth = depth if depth is not None else tree.attrs.get("depth")
    beta = beta if beta is not None else tree.attrs.get("beta", 1.0)
    target = target if target is not None else _ensemble_target(tree, F)
    if "singular_values" in tree["posterior"].data_vars:
        if depth is None:
            raise ValueError("depth is neither given nor a root attribute of the ensemble")
        out.append(
            plot_sv_histograms(
                tree,
                directory / f"{stem}_sv_histograms.png",
                depth=int(depth),
                beta=float(beta),
                target=target,
                reference=reference,
                field=F,
            )
        )
    return out + plot_trace_rank(tree, directory / stem)


def _plot_table(ds: xr.Dataset, directory: Path, stem: str) -> list[Path]:
    out: list[Path] = []
    if "log_volume_mc" in ds and set(ds["log_volume_mc"].dims) == {"width", "depth"}:
        out.append(plot_orbit_volumes(ds, directory / f"{stem}_orbit_volumes.png"))
    if "z_score" in ds:
        out.append(plot_z_scores(ds, directory / f"{stem}_z_scores.png"))
    return out


def study_z_scores(tree: xr.DataTree) -> xr.DataArray:
    """Every finite z-score of a study result as one DataArray over ``check`` (cell labels)."""
    symbol = {"width": "d", "depth": "N", "beta": "β", "target": "Y", "field": "F"}
    labels, values = [], []
    for part, node in tree["results"].children.items():
        ds = node.to_dataset()
        if "z_score" not in ds:
            continue
        z = ds["z_score"]
        keys = list(z.dims)
        flat = z.stack(check=keys) if keys else z.expand_dims(check=[0])
        for k in range(flat.sizes["check"]):
            v = float(flat.values[k])
            if not np.isfinite(v):
                continue
            idx = flat["check"].values[k] if keys else ()
            idx = idx if isinstance(idx, tuple) else (idx,)
            named = zip(keys, idx, strict=True)
            words = [part] + [f"{symbol.get(n, n)}={x}" for n, x in named if n != "statistic"]
            words += [str(x) for n, x in zip(keys, idx, strict=True) if n == "statistic"]
            labels.append(" ".join(words))
            values.append(v)
    return xr.DataArray(
        np.asarray(values), dims=("check",), coords={"check": labels}, name="z_score"
    )


def _plot_study(tree: xr.DataTree, directory: Path, stem: str, attempt) -> None:
    """Figures of a study result file (groups ``results`` and, if kept, ``ensembles``)."""
    for part, node in tree["results"].children.items():
        ds = node.to_dataset()
        if ds.attrs.get("kind") != "orbit_volume" or "statistic" not in ds.dims:
            continue
        table = ds.sel(statistic="log_volume").rename(estimate="log_volume_mc")
        table = table[["log_volume_mc", "stderr", "closed_form", "z_score"]]
        fields = table["field"].values.tolist() if "field" in table.dims else [None]
        for name in fields:
            one = table if name is None else table.sel(field=name, drop=True)
            suffix = "" if name in (None, "real") else f"_{name}"
            attempt(
                lambda one=one, suffix=suffix, part=part: [
                    plot_orbit_volumes(one, directory / f"{stem}_{part}{suffix}_orbit_volumes.png")
                ]
            )
    if "ensembles" in tree.children:
        for part, node in tree["ensembles"].children.items():
            for label, ens in node.children.items():
                words = label.split("_")

                def from_label(key: str, words=words):
                    return words[words.index(key) + 1] if key in words[:-1] else None

                depth = ens.attrs.get("depth", from_label("depth"))
                beta = ens.attrs.get("beta", from_label("beta"))
                attempt(
                    lambda ens=ens, depth=depth, beta=beta, name=f"{stem}_{part}_{label}": [
                        plot_sv_histograms(
                            ens,
                            directory / f"{name}_sv_histograms.png",
                            depth=int(depth),
                            beta=float(beta),
                            target=_ensemble_target(ens, ensemble_field(ens)),
                        )
                    ]
                )
    z = study_z_scores(tree)
    if z.size:
        attempt(lambda: [plot_z_scores(z, directory / f"{stem}_z_scores.png")])


def plot_result(
    result: xr.DataTree | xr.Dataset,
    directory: str | os.PathLike,
    *,
    stem: str = "result",
    depth: int | None = None,
    beta: float | None = None,
    target: ArrayLike | None = None,
    field: str | Field | None = None,
    reference: ArrayLike | None = None,
    on_error: str = "raise",
) -> list[Path]:
    """Every figure that applies to a result, saved as PNGs in ``directory``.

    The one entry point for figures: ensembles, study tables and study result
    files. Every singular-value figure is drawn against the law of the
    ensemble's own field (its ``field`` attribute), never the real one by default.

    Parameters
    ----------
    result : xarray.DataTree or Dataset
        An ensemble (``posterior.singular_values``); a study table (with
        ``z_score``; with ``log_volume_mc`` and dims ``(width, depth)`` also
        the orbit-volume figure); or a study result file (a DataTree with a
        ``results`` group and optionally ``ensembles``): orbit-volume figures of
        each ``orbit_volume`` part (one per field), singular-value histograms of
        each kept ensemble and one z-score summary of the whole study.
    directory : path-like
        Existing directory to write into.
    stem : str
        File-name prefix.
    depth, beta, target, field, reference
        For an ensemble; by default from its root attributes ``depth``,
        ``beta``, ``target`` (JSON) and ``field``. ``reference``: singular
        values of the law to overlay where no quadrature exists
        (:func:`plot_sv_histograms`).
    on_error : {"raise", "warn"}
        For a study result file: ``"warn"`` reports a failing figure as a
        warning and goes on (the result file is already written).

    Returns
    -------
    list of pathlib.Path
        Files written: ``<stem>_orbit_volumes.png``, ``<stem>_z_scores.png``,
        ``<stem>_sv_histograms.png``, ``<stem>_trace.png``, ``<stem>_rank.png``
        as applicable (study files: ``<stem>_<part>[_<field>]_orbit_volumes.png``,
        ``<stem>_<part>_<label>_sv_histograms.png``, ``<stem>_z_scores.png``).
    """
    if on_error not in ("raise", "warn"):
        raise ValueError(f"on_error must be 'raise' or 'warn', got {on_error!r}")
    directory = Path(directory)
    if isinstance(result, xr.DataTree) and "posterior" in result.children:
        return _plot_ensemble(result, directory, stem, depth, beta, target, field, reference)
    if isinstance(result, xr.DataTree) and "results" in result.children:
        out: list[Path] = []

        def attempt(draw) -> None:
            try:
                out.extend(draw())
            except Exception as exc:
                if on_error == "raise":
                    raise
                import warnings

                warnings.warn(f"figure skipped: {type(exc).__name__}: {exc}", stacklevel=3)

        _plot_study(result, directory, stem, attempt)
        return out
    ds = result.to_dataset() if isinstance(result, xr.DataTree) else result
    out = _plot_table(ds, directory, stem)
    if not out:
        raise ValueError("result is neither an ensemble nor a table with z_score")
    return out
