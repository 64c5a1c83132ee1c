"""The balanced manifold as one object: what a sampler needs to move on it.

:class:`BalancedManifold` owns, for a width ``d``, a depth ``N`` and a field
``F`` (R, C, H):

- the coordinates: the component layout ``(N, d, d * b)`` of
  :func:`dlnmc.constraint.pack` (real components of every entry; Euclidean there
  is the real inner product, so a standard normal vector is a standard Gaussian
  momentum and ``|P|^2`` the kinetic energy, for every field);
- the balancedness constraint and its projections (position and tangent), held
  by a *projection strategy* object (:class:`Projection`): the dense and block
  Newton solvers of :class:`dlnmc.constraint.BalancedConstraint`, the Jacobi-frame
  solver of :class:`dlnmc.projections.JacobiProjection`, or any object with the same
  four methods (``BalancedManifold(..., projection=obj)``);
- ``phi`` and the gradient of ``beta E(phi(W))`` (the one potential gradient of
  the package);
- the number of connected components (``2^N`` over R, one over C and H), and
- random starting points.

Samplers (:mod:`dlnmc.samplers`) and exact moves (:mod:`dlnmc.moves`) see the
geometry only through this object.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_width
from dlnmc.constraint import BalancedConstraint, GramFactor, ProjectionResult, pack, unpack
from dlnmc.energy import Energy
from dlnmc.fields import REAL, Field, resolve_field
from dlnmc.network import balanced_dimension, balanced_factorization, product
from dlnmc.projections import JacobiProjection

__all__ = ["BalancedManifold", "Projection", "potential_and_grad"]


@runtime_checkable
class Projection(Protocol):
    """A strategy for the constraint solves of a :class:`BalancedManifold`.

    All arrays are in the component layout ``(C, N, d, d * b)``; ``factor(W)`` returns
    whatever the strategy needs to reuse at a point (a Gram factorization, a frame), an
    object with ``select(mask, other)`` (per chain: this factor where ``mask``, else
    ``other``), which samplers use when they accept some chains and reject others.
    """

    tol: float
    max_iter: int

    def factor(self, W: NDArray[np.float64]) -> Any: ...

    def project_tangent(
        self, W: NDArray[np.float64], V: NDArray[np.float64], factor: Any
    ) -> NDArray[np.float64]: ...

    def project_position(
        self,
        W0: NDArray[np.float64],
        Wt: NDArray[np.float64],
        factor0: Any,
        active: NDArray[np.bool_] | None = None,
    ) -> ProjectionResult: ...

    def residual_norm(self, W: NDArray[np.float64]) -> NDArray[np.float64]: ...


def potential_and_grad(
    W: NDArray[np.float64], energy: Energy, beta: float, field: str | Field = REAL
) -> tuple[NDArray, NDArray[np.float64], NDArray[np.float64]]:
    """``X = phi(W)``, ``E(X)`` and the gradient of ``beta E(phi(W))`` in ``W``.

    With ``X = L_p W_p R_p`` (``L_p = W_N..W_{p+1}``, ``R_p = W_{p-1}..W_1``),
    the gradient for the real inner product is ``beta L_p^* (dE/dX) R_p^*``.
    Prefix and suffix products cost ``2N`` batched matmuls.

    Parameters
    ----------
    W : (C, N, d, d * b) component layout (over R: plain layers).
    energy : an energy whose ``grad`` is the gradient for the real inner product.

    Returns
    -------
    X : (C, n, n) in storage; E : (C,); grad : (C, N, d, d * b) in the component layout.
    """
    field = resolve_field(field)
    S = W if field.b == 1 else unpack(W, field)
    N, n = S.shape[-3], S.shape[-1]
    eye = np.eye(n, dtype=S.dtype)
    right = np.empty_like(S)  # right[p] = product of S[:p]
    left = np.empty_like(S)  # left[p] = product of S[p+1:]
    right[..., 0, :, :] = eye
    for p in range(1, N):
        right[..., p, :, :] = S[..., p - 1, :, :] @ right[..., p - 1, :, :]
    X = S[..., N - 1, :, :] @ right[..., N - 1, :, :]
    left[..., N - 1, :, :] = eye
    for p in range(N - 2, -1, -1):
        left[..., p, :, :] = left[..., p + 1, :, :] @ S[..., p + 1, :, :]
    G = energy.grad(X)
    grad = field.ct(left) @ G[..., None, :, :] @ field.ct(right)
    E = energy.value(X)
    if field.b != 1:
        E, grad = np.asarray(E, dtype=np.float64), pack(grad, field)
    return X, E, beta * grad


class BalancedManifold:
    """The balanced manifold ``M_b`` of width ``d``, depth ``N`` over a field.

    Parameters
    ----------
    width, depth : int
        ``d >= 1``, ``N >= 1``.
    field : str or Field
        ``"real"`` (default), ``"complex"``, ``"quaternion"``.
    projection : {"auto", "dense", "block", "jacobi"} or Projection
        ``"dense"`` and ``"block"`` build :class:`~dlnmc.constraint.BalancedConstraint`
        with that mode, ``"jacobi"`` a :class:`~dlnmc.projections.JacobiProjection`
        (exact Gram solves in the Jacobi frame, ``O(N d^3)``); ``"auto"``: dense up to a
        small size, Jacobi above. An object implementing :class:`Projection` is used as
        it is (``tol`` and ``max_iter`` are then its own).
    tol, max_iter : float, int
        Newton tolerance (largest real component of ``F(W)``) and iteration cap.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        field: str | Field = REAL,
        *,
        projection: str | Projection = "auto",
        tol: float = 1e-12,
        max_iter: int = 40,
    ) -> None:
        self.field = resolve_field(field)
        self.width = check_width(width)
        self.depth = check_depth(depth)
        self.b = self.field.b
        if projection == "jacobi":
            self.projection: Projection = JacobiProjection(
                self.width, self.depth, self.field, tol=tol, max_iter=max_iter
            )
        elif isinstance(projection, str):
            self.projection = BalancedConstraint(
                self.width, self.depth, tol=tol, max_iter=max_iter, mode=projection,
                field=self.field,
            )  # fmt: skip
            # "auto": the dense solver where it is chosen (tiny sizes, where one batched
            # mat-vec per Newton step wins), the Jacobi frame above it: faster than the
            # block LU at every size measured (benchmarks/results_jacobi.txt).
            if projection == "auto" and not self.projection.dense and self.depth > 1:
                self.projection = JacobiProjection(
                    self.width, self.depth, self.field, tol=tol, max_iter=max_iter
                )
        elif isinstance(projection, Projection):
            self.projection = projection
        else:
            raise TypeError(
                "projection must be 'auto', 'dense', 'block', 'jacobi' or an object with factor, "
                f"project_tangent, project_position and residual_norm; got {projection!r}"
            )

    # -- description ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one point in the component layout, ``(N, d, d * b)``."""
        return (self.depth, self.width, self.width * self.b)

    @property
    def dim(self) -> int:
        """``dim M_b = b d^2 + (N-1) dim G_d``."""
        return balanced_dimension(self.width, self.depth, field=self.field)

    @property
    def n_components(self) -> int:
        """Connected components of ``M_b``: ``2^N`` over R (signs of ``det W_p``), else 1."""
        return 2**self.depth if self.b == 1 else 1

    @property
    def projection_name(self) -> str:
        """``"dense"``, ``"block"`` or ``"jacobi"`` for the built-in strategies, else the
        class name."""
        p = self.projection
        if isinstance(p, BalancedConstraint):
            return "dense" if p.dense else "block"
        if isinstance(p, JacobiProjection):
            return "jacobi"
        return type(p).__name__

    def __repr__(self) -> str:
        return (
            f"BalancedManifold(width={self.width}, depth={self.depth}, "
            f"field={self.field.name!r}, projection={self.projection_name!r})"
        )

    # -- coordinates ------------------------------------------------------------------
    def pack(self, W: ArrayLike) -> NDArray[np.float64]:
        """Stored layers ``(..., N, n, n)`` -> component layout ``(..., N, d, d * b)``."""
        W = np.asarray(W)
        return np.array(W, dtype=np.float64) if self.b == 1 else pack(W, self.field)

    def unpack(self, W: NDArray[np.float64]) -> NDArray:
        """Component layout -> stored layers (``chi`` for H)."""
        return W if self.b == 1 else unpack(W, self.field)

    # -- the maps ---------------------------------------------------------------------
    def phi(self, W: NDArray[np.float64]) -> NDArray:
        """``X = W_N...W_1`` in storage, shape ``(C, n, n)``, from the component layout."""
        return product(self.unpack(W))

    def potential(
        self, W: NDArray[np.float64], energy: Energy, beta: float
    ) -> tuple[NDArray, NDArray[np.float64], NDArray[np.float64]]:
        """``X``, ``E(X)`` and the gradient of ``beta E(phi(W))`` (component layout)."""
        return potential_and_grad(W, energy, beta, self.field)

    # -- constraint -------------------------------------------------------------------
    def factor(self, W: NDArray[np.float64]) -> GramFactor:
        """The projection strategy's factor at ``W``."""
        return self.projection.factor(W)

    def project_tangent(self, W, V, factor) -> NDArray[np.float64]:
        """Orthogonal projection of ``V`` onto ``T_W M`` (real inner product)."""
        return self.projection.project_tangent(W, V, factor)

    def project_position(self, W0, Wt, factor0, active=None) -> ProjectionResult:
        """Project ``Wt`` onto ``M`` along the normal space at ``W0`` (per chain)."""
        return self.projection.project_position(W0, Wt, factor0, active)

    def residual_norm(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """Largest real component of the balancedness residual, shape ``(C,)``."""
        return self.projection.residual_norm(W)

    # -- starting points --------------------------------------------------------------
    def random_point(
        self, n_chains: int, rng: np.random.Generator, target: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Over-dispersed points on ``M``, shape ``(n_chains, N, d, d * b)``.

        ``X0 = Y + G`` with ``G`` standard Gaussian over ``F`` (``Y`` a target, else 0),
        factorized with a Haar-random gauge, so over R chains start in random components.
        """
        X0 = self.field.gaussian(self.width, n_chains, rng)
        if target is not None:
            X0 = X0 + np.asarray(target)
        return self.pack(balanced_factorization(X0, self.depth, rng=rng, field=self.field))
