"""The netCDF backend: draws streamed to disk with flat memory, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from numpy.typing import NDArray

from dlnmc.backends.base import RunInfo, ensemble_arrays
from dlnmc.fields import COMPONENT_LABELS
from dlnmc.storage import EnsembleWriter

__all__ = ["NetCDFBackend"]


class NetCDFBackend:
    """Stream draws to ``path`` (``.nc``) through :class:`~dlnmc.storage.EnsembleWriter`.

    Each appended chunk is turned into the ensemble's variables and written at once, so
    peak memory is set by the chunk, not the run. The file appears at ``path`` only when
    :meth:`close` succeeds (a previous file is replaced atomically); after an error
    :meth:`abort` leaves any previous file untouched. The file opens with
    ``xarray.open_datatree`` and ArviZ and holds the same values as the
    :class:`~dlnmc.backends.MemoryBackend` result of the same run.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._writer: EnsembleWriter | None = None
        self._info: RunInfo | None = None

    def open(self, info: RunInfo) -> None:
        self._info = info
        coords = None
        if info.field.b != 1:
            coords = {"component": list(COMPONENT_LABELS[info.field.name])}
        dims = {
            "W": ("layer", "row", "col", *(("component",) if info.field.b != 1 else ())),
            "X": ("row", "col", *(("component",) if info.field.b != 1 else ())),
            "trace_X": ("component",) if info.field.b != 1 else (),
        }
        # unset attributes (target=None) are left out, as in the in-memory tree
        attrs = {k: v for k, v in info.attrs.items() if v is not None}
        self._writer = EnsembleWriter(self.path, attrs=attrs, dims=dims, coords=coords)

    def append(self, W: NDArray, E: NDArray, stats: dict[str, NDArray]) -> None:
        if self._writer is None or self._info is None:
            raise ValueError("NetCDFBackend.append before open")
        post, st, _ = ensemble_arrays(W, E, stats, self._info.field)
        self._writer.append(post, st)

    def close(self) -> Path:
        if self._writer is None:
            raise ValueError("NetCDFBackend.close before open")
        return self._writer.close()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()


