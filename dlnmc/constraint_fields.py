"""The balancedness constraint over F = R, C, H in realified coordinates (MATH.md section 8).

``F_p(W) = W_{p+1}^* W_{p+1} - W_p W_p^*`` (``p = 1..N-1``) is Hermitian over
``F``. Samplers over ``C`` and ``H`` work on the **component layout**: the
real components of every entry,

    Wc = to_components(W, field).reshape(..., N, d, d * b)      (float64)

(flattened order: layer, row, col, component = ``realify(W, field, 3)``).
This is an isometry ``M_d(F)^N -> R^{b N d^2}`` for the real inner product of
MATH.md section 8 (for ``H``: the sum of products of all four components,
``Re tr(chi(V)^* chi(W)) / 2``), so in these coordinates

- a standard Gaussian vector is standard Gaussian for the real inner product,
- ``|P|^2`` is the kinetic energy in that inner product, and
- Euclidean orthogonal projections are the orthogonal projections of ``M_b``,

which is why the factor 2 of the complex representation of ``H`` never enters
the sampler. Quaternionic iterates cannot leave ``image(chi)``: only the
components are stored, and :func:`unpack` rebuilds ``chi``.

Constraint coordinates: an orthonormal real basis of Hermitian matrices over
``F`` (real diagonal entries; ``sqrt 2`` times each of the ``b`` components
of the strict upper triangle), ``hermitian_dimension(d, field)`` per layer
pair, so the Newton tolerance means the same as for the real constraint.

:class:`FieldBalancedConstraint` is the dense (per-chain Jacobian matrix)
variant of :class:`dlnmc.constraint.BalancedConstraint`: ``J(W)`` is linear in
``W``, assembled by one matmul with a constant tensor, and the chord-Newton
projection, tangent projection and Gram factor are inherited unchanged.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_width
from dlnmc.constraint import _MAX_GRAM_COND, BalancedConstraint, GramFactor, _inv_or_nan
from dlnmc.fields import (
    check_field,
    conj_transpose,
    dyson_index,
    from_components,
    hermitian_dimension,
    to_components,
)

__all__ = ["FieldBalancedConstraint", "hermitian_coords", "pack", "unpack"]

# Largest ambient dimension b N d^2 of the dense field constraint (J is (n m) x K
# per chain and the constant tensor K x (n m K)); larger problems are refused.
_FIELD_AMBIENT_MAX = 400


def pack(W: ArrayLike, field: str) -> NDArray[np.float64]:
    """Stored matrices over ``F`` ``(..., n, n)`` -> component layout ``(..., d, d * b)``."""
    c = to_components(W, check_field(field))  # (..., d, d, b)
    return np.ascontiguousarray(c.reshape(*c.shape[:-2], c.shape[-2] * c.shape[-1]))


def unpack(Wc: NDArray[np.float64], field: str) -> NDArray:
    """Component layout ``(..., d, d * b)`` -> stored matrices over ``F`` (``chi`` for ``H``)."""
    b = dyson_index(field)
    d = Wc.shape[-2]
    return from_components(Wc.reshape(*Wc.shape[:-1], d, b), field)


def hermitian_coords(Hm: NDArray, field: str) -> NDArray[np.float64]:
    """Coordinates of Hermitian matrices over ``F`` in an orthonormal real basis.

    Real diagonal entries, then ``sqrt 2`` times every component of the strict
    upper triangle (``numpy.triu_indices`` order, components innermost), so the
    Euclidean norm of the coordinates is ``|Hm|`` in the real inner product.

    Returns
    -------
    ndarray, shape (..., hermitian_dimension(d, field))
    """
    c = to_components(Hm, field)  # (..., d, d, b)
    d = c.shape[-2]
    idx = np.arange(d)
    iu, ju = np.triu_indices(d, 1)
    upper = np.sqrt(2.0) * c[..., iu, ju, :].reshape(*c.shape[:-3], -1)
    return np.concatenate([c[..., idx, idx, 0], upper], axis=-1)


class FieldBalancedConstraint(BalancedConstraint):
    """Balancedness over ``field`` for width ``d`` and depth ``N``, on the component layout.

    All methods take ``W`` of shape ``(C, N, d, d * b)`` (see :func:`pack`).
    Dense mode only (per-chain Jacobian matrices, chord Newton): the ambient
    dimension ``b N d^2`` must be at most 400.

    Parameters
    ----------
    width, depth : int
    field : {"real", "complex", "quaternion"}
        ``"real"`` works too (``b = 1``; the constraint coordinates are then
        those of :class:`~dlnmc.constraint.BalancedConstraint` up to order).
    tol, max_iter : as for :class:`~dlnmc.constraint.BalancedConstraint`.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        field: str,
        *,
        tol: float = 1e-12,
        max_iter: int = 40,
    ) -> None:
        self.field = check_field(field)
        self.b = dyson_index(field)
        self.d = check_width(width)
        self.N = check_depth(depth)
        self.n = self.N - 1
        self.m = hermitian_dimension(self.d, field)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.K = self.b * self.N * self.d * self.d
        if self.K > _FIELD_AMBIENT_MAX:
            raise ValueError(
                f"the field constraint is dense only: b N d^2 = {self.K} exceeds "
                f"{_FIELD_AMBIENT_MAX} (width {self.d}, depth {self.N}, field {field!r})"
            )
        self.mode = "dense"
        self.dense = self.n > 0
        if self.dense:
            # J(W) is linear in W: J(W)[r, c] = sum_k W_k A[k, r, c] with W_k the
            # components. Built once from the basis (J(E_k) E_c for all k, c).
            E = np.eye(self.K).reshape(self.K, self.N, self.d, self.d * self.b)
            A = np.stack([self.jac(E[k][None], E) for k in range(self.K)])  # (k, c, n, m)
            self._A = np.ascontiguousarray(
                A.reshape(self.K, self.K, self.n * self.m).transpose(0, 2, 1).reshape(self.K, -1)
            )

    # -- the constraint ---------------------------------------------------------
    def residual(self, W: NDArray[np.float64]) -> NDArray:
        """``F(W)`` in the storage of the field, shape ``(..., N-1, n, n)``, Hermitian."""
        S = unpack(W, self.field)
        Sh = conj_transpose(S)
        return Sh[..., 1:, :, :] @ S[..., 1:, :, :] - S[..., :-1, :, :] @ Sh[..., :-1, :, :]

    def residual_norm(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """Largest constraint coordinate ``max |F(W)|`` (orthonormal Hermitian basis)."""
        rc = hermitian_coords(self.residual(W), self.field)
        return np.abs(rc).max(axis=(-2, -1), initial=0.0)

    def jac(self, W: NDArray[np.float64], V: NDArray[np.float64]) -> NDArray[np.float64]:
        """``J(W) V``: the differential of ``F`` in orthonormal Hermitian coordinates.

        ``dF_p = V_{p+1}^* W_{p+1} + W_{p+1}^* V_{p+1} - V_p W_p^* - W_p V_p^*``,
        shape ``(..., N-1, m)`` (``W``, ``V`` in the component layout, broadcast).
        """
        S, T = unpack(W, self.field), unpack(V, self.field)
        M = conj_transpose(S[..., 1:, :, :]) @ T[..., 1:, :, :] - T[
            ..., :-1, :, :
        ] @ conj_transpose(S[..., :-1, :, :])
        return hermitian_coords(M + conj_transpose(M), self.field)

    def jac_t(self, W, lam):  # pragma: no cover - block mode is not implemented for fields
        raise NotImplementedError("FieldBalancedConstraint works in dense mode only")

    def gram_blocks(self, W):  # pragma: no cover
        raise NotImplementedError("FieldBalancedConstraint works in dense mode only")

    # -- dense operators -----------------------------------------------------------
    def jac_matrix(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """``J(W)`` as a matrix ``(C, n m, b N d^2)`` on the flattened component layout."""
        C = W.shape[0]
        return (W.reshape(C, self.K) @ self._A).reshape(C, self.n * self.m, self.K)

    def normal_matrix(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """``J(W)^T``: columns spanning the normal space, shape ``(C, b N d^2, n m)``."""
        return np.swapaxes(self.jac_matrix(W), -1, -2)

    def factor(self, W: NDArray[np.float64]) -> GramFactor:
        """Dense Gram factor at ``W``: ``(J J^T)^{-1}``, the tangent projector and ``J^T``."""
        if self.n == 0:
            return GramFactor(None, None, None, 0, self.m)
        J = self.jac_matrix(W)
        Jt = np.swapaxes(J, -1, -2)
        Kinv = _inv_or_nan(J @ Jt, _MAX_GRAM_COND)
        bad = np.isnan(Kinv).any(axis=(-2, -1))
        Jt[bad] = np.nan  # projections of a chain on the singular stratum must fail
        tangent_proj = np.eye(self.K) - Jt @ Kinv @ J
        return GramFactor(Kinv, None, None, self.n, self.m, None, tangent_proj, Jt)

    def _dense_factor(self, W: NDArray[np.float64]) -> GramFactor:
        return self.factor(W)

    def project_tangent(
        self, W: NDArray[np.float64], V: NDArray[np.float64], factor: GramFactor
    ) -> NDArray[np.float64]:
        """Orthogonal projection (real inner product) of ``V`` onto ``T_W M_b``."""
        if self.n == 0:
            return V
        flat = V.reshape(V.shape[0], -1)
        return np.matvec(factor.tangent_proj, flat).reshape(V.shape)
