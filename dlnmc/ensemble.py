"""Ensembles as ``xarray.DataTree`` in ArviZ's layout.

Groups ``posterior`` and ``sample_stats`` with dimensions ``chain`` and
``draw`` first (DESIGN.md, Ensemble files), so ``arviz.summary(tree)`` works
with no arguments.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["DEFAULT_DIMS", "build_tree"]

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
    return ds.assign_coords(
        chain=np.arange(ds.sizes.get("chain", 0)), draw=np.arange(ds.sizes.get("draw", 0))
    )


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
        Root attributes (width, depth, beta, seed, sampler, ...). The package
        version and the creation time are added.

    Returns
    -------
    xarray.DataTree
    """
    from dlnmc import __version__

    children = {"posterior": xr.DataTree(_dataset(posterior, dims))}
    if sample_stats:
        children["sample_stats"] = xr.DataTree(_dataset(sample_stats, dims))
    root_attrs = {
        "dlnmc_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **{k: v for k, v in (attrs or {}).items() if v is not None},
    }
    return xr.DataTree(dataset=xr.Dataset(attrs=root_attrs), children=children)
