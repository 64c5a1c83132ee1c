"""An exact gauge move: ``W_p -> U_p W_p U_{p-1}^*`` with Haar-random ``U_p`` in ``G_d``.

The gauge action is an isometry of the ambient space that maps ``M`` onto itself and
keeps ``X = phi(W)``, so it preserves the Hausdorff measure and the target
``exp(-beta E(phi(W)))``. A fresh Haar draw of ``(U_1..U_{N-1})`` is independent of the
state, hence the kernel ``W -> U . W`` leaves the target invariant and needs no
accept/reject step. It costs ``O(N d^3)`` per chain and mixes the gauge (the fibre
``G_d^{N-1}`` of ``phi``) in one step; over R the Haar draw includes reflections, so it
also moves between the ``2^{N-1}`` gauge components (not the sign of ``det X``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from dlnmc.energy import Energy

if TYPE_CHECKING:
    from dlnmc.manifold import BalancedManifold

__all__ = ["GaugeMove"]


class GaugeMove:
    """Resample the gauge of every chain from Haar measure (always accepted)."""

    name = "gauge"
    stat_names: tuple[str, ...] = ()

    def check(self, manifold: BalancedManifold) -> None:
        """Every balanced manifold has a gauge group (trivial for depth 1)."""

    def apply(
        self,
        manifold: BalancedManifold,
        W: NDArray[np.float64],
        X: NDArray,
        E: NDArray[np.float64],
        energy: Energy,
        beta: float,
        rng: np.random.Generator,
    ) -> tuple[NDArray[np.float64], NDArray, NDArray[np.float64], dict[str, NDArray]]:
        f, N = manifold.field, manifold.depth
        if N == 1:
            return W, X, E, {}
        C = W.shape[0]
        S = manifold.unpack(W)
        n = S.shape[-1]
        U = f.haar(manifold.width, (C, N - 1), rng).astype(S.dtype, copy=False)
        eye = np.broadcast_to(np.eye(n, dtype=S.dtype), (C, 1, n, n))
        full = np.concatenate([eye, U, eye], axis=1)  # U_0 .. U_N
        S = full[:, 1:] @ S @ f.ct(full[:, :-1])
        return manifold.pack(S), X, E, {}

    def __repr__(self) -> str:
        return "GaugeMove()"
