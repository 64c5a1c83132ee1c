"""The in-memory backend: the ensemble as an ``xarray.DataTree``."""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dlnmc.backends.base import RunInfo, ensemble_arrays
from dlnmc.ensemble import build_tree
from dlnmc.fields import COMPONENT_LABELS

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """Collect the draws in preallocated arrays; :meth:`close` returns the DataTree.

    The tree has the layout of :func:`dlnmc.ensemble.build_tree` (groups ``posterior``
    and ``sample_stats``, dimensions ``(chain, draw, ...)``); over C and H the
    ``component`` coordinate holds the labels ``re, i[, j, k]``.
    """

    def __init__(self) -> None:
        self._info: RunInfo | None = None
        self._arrays: tuple[dict[str, NDArray], dict[str, NDArray]] | None = None
        self._dims: dict[str, tuple[str, ...]] = {}
        self._k = 0

    def open(self, info: RunInfo) -> None:
        self._info = info
        self._arrays = None
        self._k = 0

    def append(self, W: NDArray, E: NDArray, stats: dict[str, NDArray]) -> None:
        info = self._info
        if info is None:
            raise ValueError("MemoryBackend.append before open")
        post, st, self._dims = ensemble_arrays(W, E, stats, info.field)
        if self._arrays is None:  # allocate once, for the whole run
            self._arrays = tuple(
                {k: np.empty((info.n_chains, info.n_draws, *a.shape[2:]), a.dtype)
                 for k, a in group.items()}
                for group in (post, st)
            )  # fmt: skip
        k0, k1 = self._k, self._k + W.shape[1]
        for store, group in zip(self._arrays, (post, st), strict=True):
            for name, a in group.items():
                store[name][:, k0:k1] = a
        self._k = k1

    def close(self) -> xr.DataTree:
        info = self._info
        if info is None or self._arrays is None:
            raise ValueError("MemoryBackend.close: nothing was appended")
        post, st = self._arrays
        tree = build_tree(post, st, dims=self._dims or None, attrs=info.attrs)
        if info.field.b != 1:
            labels = list(COMPONENT_LABELS[info.field.name])
            ds = tree["posterior"].to_dataset().assign_coords(component=labels)
            tree["posterior"] = xr.DataTree(ds)
        return tree

    def abort(self) -> None:
        self._arrays = None
