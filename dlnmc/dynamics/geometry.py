"""The one door from the dynamics to the constraint machinery of the balanced manifold.

Everything the Langevin routes need from ``M`` over a field (R, C, H) goes
through :class:`ManifoldAdapter`: the state layout (real layers ``(N, d, d)``
for R; the real-component layout ``(N, d, d b)`` of
:mod:`dlnmc.constraint` for C and H, an isometry for the real inner
product, so an ambient standard Gaussian is simply ``standard_normal`` in it),
the Gram factor at the current point, the position projection along the normal
space of the current point, the tangent projection, ``phi``, the ambient
gradient of ``E(phi(W))`` and the singular values. Keeping these in one small
class means the rest of :mod:`dlnmc.dynamics` never imports a constraint class,
so swapping the constraint implementation touches this file only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlnmc.constraint import BalancedConstraint, pack, unpack
from dlnmc.energy import Energy
from dlnmc.fields import Field
from dlnmc.network import balanced_factorization

__all__ = ["ManifoldAdapter", "ambient_energy_gradient"]


def ambient_energy_gradient(W: NDArray, G: NDArray, field: Field) -> NDArray:
    """Ambient gradient of ``E(phi(W))`` in ``W`` (storage), given ``G = grad E(X)``.

    With ``X = L_p W_p R_p`` (``L_p = W_N..W_{p+1}``, ``R_p = W_{p-1}..W_1``) the
    gradient for the real inner product is ``L_p^* G R_p^*``.

    Returns
    -------
    ndarray, shape of ``W`` (storage of ``field``)
    """
    N, n = W.shape[-3], W.shape[-1]
    eye = np.broadcast_to(np.eye(n, dtype=W.dtype), (*W.shape[:-3], n, n))
    right = np.empty_like(W)
    left = np.empty_like(W)
    right[..., 0, :, :] = eye
    for p in range(1, N):
        right[..., p, :, :] = W[..., p - 1, :, :] @ right[..., p - 1, :, :]
    left[..., N - 1, :, :] = eye
    for p in range(N - 2, -1, -1):
        left[..., p, :, :] = left[..., p + 1, :, :] @ W[..., p + 1, :, :]
    G = np.asarray(G, dtype=W.dtype)
    return field.ct(left) @ G[..., None, :, :] @ field.ct(right)


class ManifoldAdapter:
    """Balanced manifold ``M_b`` of width ``d``, depth ``N`` over ``field``, for the dynamics.

    States are real arrays of shape ``(B, N, d, d b)`` (``b = 1``: the layers
    themselves). Every method is batched over the leading path axis ``B``.

    Parameters
    ----------
    width, depth : int
    field : Field
    tol : float
        Newton tolerance of the position projection (largest constraint
        coordinate); recorded states have residual below ``1e-10``.
    max_iter : int
        Newton iterations before a projection counts as failed.
    """

    def __init__(
        self, width: int, depth: int, field: Field, *, tol: float = 1e-12, max_iter: int = 40
    ) -> None:
        self.d, self.N, self.field = int(width), int(depth), field
        self.b = field.b
        self.constraint: Any = BalancedConstraint(
            width, depth, tol=tol, max_iter=max_iter, field=field
        )
        self.state_shape = (self.N, self.d, self.d * self.b)

    # -- layouts ----------------------------------------------------------------
    def to_state(self, W: NDArray) -> NDArray[np.float64]:
        """Stored layers ``(B, N, n, n)`` -> state ``(B, N, d, d b)``."""
        if self.field.is_real:
            return np.ascontiguousarray(W, dtype=np.float64)
        return pack(W, self.field.name)

    def from_state(self, Wc: NDArray[np.float64]) -> NDArray:
        """State -> stored layers (``chi`` for H)."""
        return Wc if self.field.is_real else unpack(Wc, self.field.name)

    def lift(self, X: NDArray, gauges: NDArray) -> NDArray[np.float64]:
        """Balanced ``W`` with ``phi(W) = X`` and gauge ``Q_1..Q_{N-1}`` (state layout)."""
        W = balanced_factorization(X, self.N, gauge=gauges, field=self.field)
        return self.to_state(W)

    # -- geometry -----------------------------------------------------------------
    def phi(self, Wc: NDArray[np.float64]) -> NDArray:
        """``X = W_N ... W_1`` in storage, shape ``(B, n, n)``."""
        W = self.from_state(Wc)
        X = W[..., 0, :, :]
        for p in range(1, self.N):
            X = W[..., p, :, :] @ X
        return X

    def energy_gradient(
        self, Wc: NDArray[np.float64], energy: Energy
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``E(phi(W))`` ``(B,)`` and its ambient gradient in the state layout."""
        W = self.from_state(Wc)
        X = self.phi(Wc)
        g = ambient_energy_gradient(W, energy.grad(X), self.field)
        return np.asarray(energy.value(X), dtype=np.float64), self.to_state(g)

    def singular_values(self, Wc: NDArray[np.float64]) -> NDArray[np.float64]:
        """Singular values over ``F`` of ``phi(W)`` on ``M`` as ``sigma(W_1)^N``, descending."""
        lam = self.field.singular_values_unchecked(self.from_state(Wc)[..., 0, :, :])
        with np.errstate(under="ignore", divide="ignore"):
            return np.exp(self.N * np.log(lam))

    def residual_norm(self, Wc: NDArray[np.float64]) -> NDArray[np.float64]:
        """Largest constraint coordinate ``max |F(W)|``, shape ``(B,)``."""
        if self.N == 1:
            return np.zeros(Wc.shape[0])
        return self.constraint.residual_norm(Wc)

    def factor(self, Wc: NDArray[np.float64]) -> Any:
        """Gram factor at the current points (NaN for points on the singular stratum)."""
        return self.constraint.factor(Wc)

    def project(
        self, W0: NDArray[np.float64], Wt: NDArray[np.float64], factor0: Any
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Solve ``F(Wt + J(W0)^* Lambda) = 0``: projection along the normal space at ``W0``.

        Returns the projected states (``W0`` where it failed) and the success mask.
        """
        res = self.constraint.project_position(W0, Wt, factor0)
        return res.W, res.converged

    def project_tangent(
        self, Wc: NDArray[np.float64], V: NDArray[np.float64], factor: Any
    ) -> NDArray[np.float64]:
        """Orthogonal projection of ``V`` onto ``T_W M`` (real inner product)."""
        return self.constraint.project_tangent(Wc, V, factor)
