"""Ensembles as ``xarray.DataTree`` in ArviZ's layout.

Groups ``posterior`` and ``sample_stats`` with dimensions ``chain`` and
``draw`` first (DESIGN.md, Ensemble files), so ``arviz.summary(tree)`` works
with no arguments. Every dimension carries an integer coordinate (ArviZ's
rank plots select by coordinate and fail on bare dimensions).

Root attributes come from :func:`provenance_attrs`: package and dependency
versions, creation time and whatever the caller adds (study text, seed,
sampler and its settings). Saving and loading live in :mod:`dlnmc.storage`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.provenance import provenance_attrs

__all__ = ["DEFAULT_DIMS", "build_tree", "diagnostics", "provenance_attrs"]

# Dimension names of the standard variables after (chain, draw).
DEFAULT_DIMS: dict[str, tuple[str, ...]] = {
    "W": ("layer", "row", "col"),
    "X": ("row", "col"),
    "singular_values": ("sv",),
    "entropy": (),
    "energy": (),
    "trace_X": (),
}


def _dataset(
    arrays: Mapping[str, np.ndarray], dims: Mapping[str, Sequence[str]] | None
) -> xr.Dataset:
    dims = {**DEFAULT_DIMS, **(dims or {})}
    data = {}
    for name, value in arrays.items():
        value = np.asarray(value)
        extra = tuple(dims.get(name, tuple(f"{name}_dim_{i}" for i in range(value.ndim - 2))))
        if value.ndim != 2 + len(extra):
            raise ValueError(
                f"{name} must have shape (chain, draw{''.join(', ' + e for e in extra)}), "
                f"got {value.shape}"
            )
        data[name] = (("chain", "draw", *extra), value)
    ds = xr.Dataset(data)
    # Integer coordinates on every dimension: arviz.plot_rank needs them.
    return ds.assign_coords({dim: np.arange(size) for dim, size in ds.sizes.items()})


def build_tree(
    posterior: Mapping[str, np.ndarray],
    sample_stats: Mapping[str, np.ndarray] | None = None,
    *,
    dims: Mapping[str, Sequence[str]] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Assemble an ensemble ``DataTree`` from arrays of shape ``(chain, draw, ...)``.

    Parameters
    ----------
    posterior : mapping of str to ndarray
        Variables of the ``posterior`` group.
    sample_stats : mapping of str to ndarray, optional
        Variables of the ``sample_stats`` group (acceptance, step size, ...).
    dims : mapping, optional
        Dimension names after ``(chain, draw)``; :data:`DEFAULT_DIMS` covers
        ``W``, ``X``, ``singular_values``, ``entropy``, ``energy``.
    attrs : mapping, optional
        Root attributes (width, depth, beta, seed, sampler, ...). The
        provenance of :func:`provenance_attrs` (package and dependency
        versions, creation time) is added; ``None`` values are dropped.

    Returns
    -------
    xarray.DataTree
    """
    children = {"posterior": xr.DataTree(_dataset(posterior, dims))}
    if sample_stats:
        children["sample_stats"] = xr.DataTree(_dataset(sample_stats, dims))
    root_attrs = {**provenance_attrs(), **{k: v for k, v in (attrs or {}).items() if v is not None}}
    return xr.DataTree(dataset=xr.Dataset(attrs=root_attrs), children=children)


def diagnostics(
    tree: xr.DataTree, *, group: str = "posterior", var_names: Sequence[str] | None = None
) -> xr.Dataset:
    """MCMC diagnostics of every variable of an ensemble, through ArviZ.

    Parameters
    ----------
    tree : xarray.DataTree
        An ensemble (from a sampler, :func:`dlnmc.storage.load_tree`, or a
        peer converter).
    group : str
        Group to diagnose.
    var_names : sequence of str, optional
        Variables to include (default: all).

    Returns
    -------
    xarray.Dataset
        Each variable keeps its own dimensions (``chain`` and ``draw``
        reduced) and gains a leading dimension ``diagnostic`` with
        coordinates ``rhat`` (rank-normalized split R-hat), ``ess_bulk``,
        ``ess_tail`` and ``mcse_mean`` (Monte Carlo standard error of the
        mean, in the variable's own units).
    """
    import arviz as az

    kw = {"group": group, "var_names": list(var_names) if var_names is not None else None}

    def _ds(obj: Any) -> xr.Dataset:
        # ArviZ returns a DataTree node for DataTree input.
        return obj.to_dataset() if isinstance(obj, xr.DataTree) else obj

    parts = {
        "rhat": _ds(az.rhat(tree, **kw)),
        "ess_bulk": _ds(az.ess(tree, method="bulk", **kw)),
        "ess_tail": _ds(az.ess(tree, method="tail", **kw)),
        "mcse_mean": _ds(az.mcse(tree, method="mean", **kw)),
    }
    out = xr.concat(list(parts.values()), dim="diagnostic", coords="minimal")
    return out.assign_coords(diagnostic=list(parts))
