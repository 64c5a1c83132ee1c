"""Per-path random streams: the same seed gives the same path, whatever the batch or worker.

Path ``i`` of a run with seed ``seed`` owns three generators built from
``SeedSequence(seed, spawn_key=(i, k))``: ``k = 0`` the Brownian increments of
the coarse steps, ``k = 1`` the Brownian-bridge midpoints of refined steps,
``k = 2`` the start (the Haar gauge of a lifted start). A path's randomness is
a function of ``(seed, i)`` only, so splitting the paths into batches or
worker processes cannot change a single bit. Increments are drawn in blocks of
``block`` steps per path (one generator call per path per block), which keeps
the Python overhead per step independent of the number of paths.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["PathStreams"]

_INCREMENTS, _BRIDGE, _START = 0, 1, 2


def _generator(seed: int, path: int, kind: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(path, kind)))
    )


class PathStreams:
    """The generators of paths ``paths`` (global indices) of a run with ``seed``.

    Parameters
    ----------
    seed : int
    paths : array of int
        Global path indices of this batch.
    dim : int
        Real dimension of one Brownian increment.
    block : int
        Steps drawn per generator call.
    """

    def __init__(self, seed: int, paths: NDArray[np.int_], dim: int, block: int = 256) -> None:
        self.paths = np.asarray(paths, dtype=np.int64)
        self.dim, self.block = int(dim), int(block)
        self.seed = int(seed)
        self.increments = [_generator(seed, int(i), _INCREMENTS) for i in self.paths]
        self._bridge: dict[int, np.random.Generator] = {}  # built on first use (rare)
        self._buf: NDArray[np.float64] | None = None
        self._next = 0

    def normals(self) -> NDArray[np.float64]:
        """Standard normals of the next step for every path, shape ``(B, dim)``."""
        if self._buf is None or self._next == self.block:
            self._buf = np.stack(
                [g.standard_normal((self.block, self.dim)) for g in self.increments], axis=1
            )  # (block, B, dim): each path's block comes from its own generator
            self._next = 0
        z = self._buf[self._next]
        self._next += 1
        return z

    def bridge_normals(self, j: int) -> NDArray[np.float64]:
        """Standard normals ``(dim,)`` for a bridge midpoint of the batch's path ``j``."""
        if j not in self._bridge:
            self._bridge[j] = _generator(self.seed, int(self.paths[j]), _BRIDGE)
        return self._bridge[j].standard_normal(self.dim)

    def start_generators(self) -> list[np.random.Generator]:
        """One generator per path for its start (the Haar gauge of a lifted start)."""
        return [_generator(self.seed, int(i), _START) for i in self.paths]
