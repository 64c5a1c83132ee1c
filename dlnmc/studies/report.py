"""Tables and plots from a study result file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["format_results", "load_result", "plot_result"]


def load_result(path: str | Path) -> xr.DataTree:
    """Open a result file written by :func:`dlnmc.run_study` (fully loaded, file closed)."""
    from dlnmc.studies.runner import read_tree

    return read_tree(path)


def _fmt(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.10g}"


# Grid keys as the paper writes them: d is the width, N the depth
# (docs/guide/theory.md, 'Conventions').
_SYMBOL = {"width": "d", "depth": "N", "beta": "β", "target": "Y", "field": "F"}


def format_results(tree: xr.DataTree) -> str:
    """The results table: one row per cell and statistic, Monte Carlo beside closed form.

    Columns: part, grid parameters, statistic, estimate (Monte Carlo value),
    stderr, closed form, z = (estimate - closed form) / stderr.
    """
    rows = []
    for part, node in tree["results"].children.items():
        ds = node.to_dataset()
        # the grid keys, in the kind's order: every dimension of the estimate but the statistic
        keys = [k for k in ds["estimate"].dims if k != "statistic"]
        # a field coordinate of "real" only is the default: leave it out of the labels
        shown = [k for k in keys if not (k == "field" and set(ds["field"].values) == {"real"})]
        stacked = ds[["estimate", "stderr", "closed_form", "z_score"]].stack(
            row=[*keys, "statistic"]
        )
        for i in range(stacked.sizes["row"]):
            r = stacked.isel(row=i)
            if not np.isfinite(float(r["estimate"])):
                continue  # padding, e.g. mean_s3 at width 2
            cell = " ".join(
                f"{_SYMBOL.get(k, k)}={r[k].item():g}"
                if k in ("beta", "target")
                else f"{_SYMBOL.get(k, k)}={r[k].item()}"
                for k in shown
            )
            rows.append(
                [
                    part,
                    cell,
                    str(r["statistic"].item()),
                    _fmt(float(r["estimate"])),
                    f"{float(r['stderr']):.2e}",
                    _fmt(float(r["closed_form"])),
                    f"{float(r['z_score']):+.2f}",
                ]
            )
    head = ["part", "cell", "statistic", "monte carlo", "stderr", "closed form", "z"]
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
    lines = [
        "  ".join(
            h.ljust(w) if j < 3 else h.rjust(w)
            for j, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if j < 3 else c.rjust(w)
                for j, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    z = np.concatenate(
        [np.ravel(n.to_dataset()["z_score"].values) for n in tree["results"].children.values()]
    )
    z = z[np.isfinite(z)]
    if z.size:
        lines.append(f"{z.size} checks, max |z| = {np.abs(z).max():.2f}")
    for part, node in tree["results"].children.items():
        ref = node.attrs.get("reference")
        if ref is None:
            continue
        # the closed-form column of a lifted cell is a sampler that assumes the theorem
        names = sorted(set(ref.values())) if isinstance(ref, dict) else [ref]
        lift = " (the lifted sampler: assumes the entropy formula)" if "lift" in names else ""
        lines.append(f"{part}: closed form = reference {', '.join(map(str, names))}{lift}")
    return "\n".join(lines)


def _plot_z_fallback(tree: xr.DataTree, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
    offset = 0
    for part, node in tree["results"].children.items():
        z = np.ravel(node.to_dataset()["z_score"].values)
        z = z[np.isfinite(z)]
        ax.plot(np.arange(offset, offset + z.size), z, "o", label=part)
        offset += z.size
    for level in (-4.5, 4.5):
        ax.axhline(level, color="k", ls="--", lw=0.8)
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_xlabel("check (cell x statistic)")
    ax.set_ylabel("z = (Monte Carlo - closed form) / stderr")
    ax.set_title(f"{tree.attrs.get('study_name', '')}: z-scores (dashed: |z| = 4.5)")
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _all_z(tree: xr.DataTree) -> xr.DataArray:
    """Every finite z-score of a study as one DataArray over ``check`` (labelled by cell)."""
    labels, values = [], []
    for part, node in tree["results"].children.items():
        z = node.to_dataset()["z_score"]
        keys = list(z.dims)
        flat = z.stack(check=keys)
        for k in range(flat.sizes["check"]):
            v = float(flat.values[k])
            if not np.isfinite(v):
                continue
            idx = flat["check"].values[k]
            idx = idx if isinstance(idx, tuple) else (idx,)
            words = [part]
            words += [
                f"{_SYMBOL.get(d, d)}={x}"
                for d, x in zip(keys, idx, strict=True)
                if d != "statistic"
            ]
            words += [str(x) for d, x in zip(keys, idx, strict=True) if d == "statistic"]
            labels.append(" ".join(words))
            values.append(v)
    return xr.DataArray(
        np.asarray(values), dims=("check",), coords={"check": labels}, name="z_score"
    )


def plot_result(tree: xr.DataTree, result_path: str | Path) -> list[Path]:
    """Write PNGs next to ``result_path``; returns their paths.

    With :mod:`dlnmc.plots`: the orbit-volume figure for each ``orbit_volume``
    part, singular-value histograms against the closed-form law for each kept
    ensemble, and a z-score summary of the whole study. Without it, the
    z-score summary only. A failing figure is reported and skipped: the
    result file is already written.
    """
    import warnings

    result_path = Path(result_path)
    stem = result_path.with_suffix("")
    written: list[Path] = []
    try:
        from dlnmc import plots
    except ImportError:
        plots = None
    if plots is None:
        p = Path(f"{stem}_z_scores.png")
        _plot_z_fallback(tree, p)
        return [p]

    def attempt(fn, *args, **kwargs) -> None:
        try:
            written.append(Path(fn(*args, **kwargs)))
        except Exception as exc:
            warnings.warn(f"figure {args[1]} skipped: {type(exc).__name__}: {exc}", stacklevel=2)

    for part, node in tree["results"].children.items():
        ds = node.to_dataset()
        if ds.attrs.get("kind") == "orbit_volume":
            table = ds.sel(statistic="log_volume").rename(estimate="log_volume_mc")
            table = table[["log_volume_mc", "stderr", "closed_form", "z_score"]]
            for field in table["field"].values.tolist() if "field" in table.dims else [None]:
                one = table if field is None else table.sel(field=field, drop=True)
                suffix = "" if field in (None, "real") else f"_{field}"
                attempt(
                    plots.plot_orbit_volumes, one, Path(f"{stem}_{part}{suffix}_orbit_volumes.png")
                )
        if ds.attrs.get("kind") == "langevin":
            for label, cell in _langevin_cells(ds):
                attempt(_plot_langevin_cell, cell, Path(f"{stem}_{part}_{label}_langevin.png"))
    if "ensembles" in tree.children:
        for part, node in tree["ensembles"].children.items():
            for label, ens in node.children.items():
                depth = ens.attrs.get("depth", _label_value(label, "depth"))
                beta = ens.attrs.get("beta", _label_value(label, "beta"))
                attempt(
                    plots.plot_sv_histograms,
                    ens,
                    Path(f"{stem}_{part}_{label}_sv_histograms.png"),
                    depth=int(depth),
                    beta=float(beta),
                    field=str(ens.attrs.get("field", "real")),
                )
    p = Path(f"{stem}_z_scores.png")
    try:
        plots.plot_z_scores(_all_z(tree), p)
    except Exception:
        _plot_z_fallback(tree, p)
    written.append(p)
    return written


def _langevin_cells(ds: xr.Dataset):
    """``(label, cell Dataset)`` for every grid point of a ``langevin`` part."""
    import itertools

    from dlnmc.studies.model import label_value

    keys = [k for k in ds["estimate"].dims if k not in ("statistic", "time", "sv")]
    for values in itertools.product(*(ds[k].values.tolist() for k in keys)):
        cell = ds.sel(dict(zip(keys, values, strict=True)))
        if not np.isfinite(cell["estimate"].values).any():
            continue
        cell = cell.dropna("sv", how="all", subset=["estimate"])  # padding of a narrower cell
        label = "_".join(
            f"{k}_{label_value(v)}".replace("[", "").replace("]", "").replace(", ", "x")
            for k, v in zip(keys, values, strict=True)
        )
        yield label, cell


def _plot_langevin_cell(cell: xr.Dataset, path: Path) -> Path:
    """Means and 10-90% bands against time, manifold route beside the SDE (and equilibrium)."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlnmc.dynamics.compare import comparison_from_cell, plot_comparison

    eq = None
    width, depth = int(cell["width"]), int(cell["depth"])
    field = str(cell["field"].item()) if "field" in cell.coords else "real"
    if width <= 2:  # the quadrature of the equilibrium law is available
        from dlnmc.sv_law import sv_law_moments

        law = sv_law_moments(width, depth, float(cell["beta"]), field, (0.1, 0.9))
        eq = {"mean": law.mean, "quantiles": law.quantiles}
    fig = plot_comparison(comparison_from_cell(cell), equilibrium=eq)
    start = cell["start"].item()
    start = json.loads(start) if isinstance(start, str) else start
    fig.axes[0].set_title(
        f"d={width} N={depth} beta={float(cell['beta']):g} start={start} "
        f"dt={float(cell['dt']):g}: " + fig.axes[0].get_title(),
        fontsize=8,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _label_value(label: str, key: str) -> str:
    parts = label.split("_")
    return parts[parts.index(key) + 1]
