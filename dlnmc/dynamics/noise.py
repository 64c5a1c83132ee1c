"""Per-path random streams: the same seed gives the same path, whatever the batch or worker.

Path ``i`` of a run with seed ``seed`` owns three generators built from
``SeedSequence(seed, spawn_key=(i, k))``: ``k = 0`` the Brownian increments of
the coarse steps, ``k = 1`` the Brownian-bridge midpoints of refined steps,
``k = 2`` the start (the Haar gauge of a lifted start), ``k = 3`` the bridge
points that refine the coarse increments of a coupled finer run. A path's randomness is
a function of ``(seed, i)`` only, so splitting the paths into batches or
worker processes cannot change a single bit. Increments are drawn in blocks of
``block`` steps per path (one generator call per path per block), which keeps
the Python overhead per step independent of the number of paths.

Coupled refinement. With ``halvings = k`` every coarse normal ``z`` (the
increment of a step ``h``, ``dB = sqrt(h) z``) is split ``k`` times by the
Brownian bridge: ``z -> ((z + zeta) / sqrt 2, (z - zeta) / sqrt 2)`` with an
independent standard normal ``zeta`` from stream ``k = 3``. The two halves are
independent standard normals and the increments of the two steps ``h / 2``
sum to ``dB`` exactly, so a run at ``dt / 2^k`` follows *the same Brownian
path* as the run at ``dt`` with the same seed, and the difference of the two
runs path by path estimates the discretization bias with a variance far below
that of two independent runs.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["PathStreams"]

_INCREMENTS, _BRIDGE, _START, _HALVING = 0, 1, 2, 3


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
    halvings : int
        ``k >= 0``: the normals of a run at ``dt / 2^k`` on the Brownian path of
        the run at ``dt`` with the same seed (``0``: the run at ``dt`` itself).
    """

    def __init__(
        self,
        seed: int,
        paths: NDArray[np.int_],
        dim: int,
        block: int = 256,
        halvings: int = 0,
    ) -> None:
        self.paths = np.asarray(paths, dtype=np.int64)
        self.dim, self.block = int(dim), int(block)
        self.seed = int(seed)
        self.halvings = int(halvings)
        self.increments = [_generator(seed, int(i), _INCREMENTS) for i in self.paths]
        self._bridge: dict[int, np.random.Generator] = {}  # built on first use (rare)
        self._buf: NDArray[np.float64] | None = None
        self._next = 0
        if self.halvings:
            self._halving = [_generator(seed, int(i), _HALVING) for i in self.paths]
            self._fine: NDArray[np.float64] | None = None
            self._zeta: NDArray[np.float64] | None = None
            self._fine_next = self._zeta_next = 0

    def normals(self) -> NDArray[np.float64]:
        """Standard normals of the next step for every path, shape ``(B, dim)``."""
        if self.halvings:
            if self._fine is None or self._fine_next == self._fine.shape[0]:
                self._fine = self._split(self._coarse())
                self._fine_next = 0
            z = self._fine[self._fine_next]
            self._fine_next += 1
            return z
        return self._coarse()

    def _split(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """The ``2^k`` bridge-refined normals ``(2^k, B, dim)`` of a coarse normal ``(B, dim)``."""
        n_mid = 2**self.halvings - 1  # bridge points per coarse step
        if self._zeta is None or self._zeta_next == self.block:
            self._zeta = np.stack(
                [g.standard_normal((self.block, n_mid, self.dim)) for g in self._halving], axis=2
            )  # (block, n_mid, B, dim), one call per path per block as for the increments
            self._zeta_next = 0
        zeta = self._zeta[self._zeta_next]
        self._zeta_next += 1
        parts = z[None]
        used = 0
        for _ in range(self.halvings):
            m = parts.shape[0]
            x = zeta[used : used + m]
            used += m
            fine = np.empty((2 * m, *z.shape))
            fine[0::2] = (parts + x) / np.sqrt(2.0)  # first half of each step, then second
            fine[1::2] = (parts - x) / np.sqrt(2.0)
            parts = fine
        return parts

    def _coarse(self) -> NDArray[np.float64]:
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
