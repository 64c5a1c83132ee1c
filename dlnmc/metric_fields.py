"""The metric g_N over F = R, C, H (MATH.md sections 3 and 8).

``A_{N,X}(P) = sum_{p=1}^N (X X^*)^{(N-p)/N} P (X^* X)^{(p-1)/N}`` and
``g_N(X)(Z1, Z2) = Re tr(Z1^* A_{N,X}^{-1}(Z2))`` (halved for ``H`` in the
complex representation, see :func:`dlnmc.fields.inner`).

:func:`apply_A_field` uses the matrix powers directly (Hermitian eigen-
decompositions, no singular-value frame), so it is an independent reference
for :func:`g_N_field`, which works in the frame ``X = U diag(s) V^*`` where
``A`` multiplies quaternionic/complex entry ``(i, j)`` of ``U^* P V`` by ``D_ij``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth
from dlnmc.entropy import log_D
from dlnmc.fields import (
    check_field,
    check_field_matrix,
    conj_transpose,
    inner,
    singular_values_field,
    svd_field,
)

__all__ = ["apply_A_field", "apply_A_inv_field", "g_N_field"]


def _hermitian_power(H: NDArray, power: float) -> NDArray:
    """``H^power`` for Hermitian positive definite ``H``.

    Basis-independent, so for ``H = chi(.)`` it stays in the image of ``chi``.
    """
    lam, Q = np.linalg.eigh(H)
    return (Q * lam[..., None, :] ** power) @ conj_transpose(Q)


def apply_A_field(X: ArrayLike, P: ArrayLike, depth: int, field: str) -> NDArray:
    """``A_{N,X}(P)`` from matrix powers of ``X X^*`` and ``X^* X``.

    Returns
    -------
    ndarray, shape (..., n, n)
    """
    field = check_field(field)
    N = check_depth(depth)
    X = check_field_matrix(X, field)
    P = check_field_matrix(P, field, "P")
    singular_values_field(X, field)  # raises on singular X
    L, R = X @ conj_transpose(X), conj_transpose(X) @ X
    out = np.zeros(np.broadcast_shapes(X.shape, P.shape), dtype=np.result_type(X, P))
    for p in range(1, N + 1):  # N terms, each vectorized over the batch
        out = out + _hermitian_power(L, (N - p) / N) @ P @ _hermitian_power(R, (p - 1) / N)
    return out


def _frame(X: ArrayLike, field: str, depth: int):
    field = check_field(field)
    N = check_depth(depth)
    X = check_field_matrix(X, field)
    singular_values_field(X, field)
    U, s, V = svd_field(X, field)
    D = np.exp(log_D(s, N))
    if field == "quaternion":
        D = np.concatenate([np.concatenate([D, D], -1)] * 2, -2)  # entry (i,j) sits in 4 blocks
    return U, V, D


def apply_A_inv_field(X: ArrayLike, Z: ArrayLike, depth: int, field: str) -> NDArray:
    """``A_{N,X}^{-1}(Z) = U ((U^* Z V) / D) V^*``.

    Returns
    -------
    ndarray, shape (..., n, n)
    """
    U, V, D = _frame(X, field, depth)
    Z = check_field_matrix(Z, field, "Z")
    return U @ ((conj_transpose(U) @ Z @ V) / D) @ conj_transpose(V)


def g_N_field(
    X: ArrayLike, Z1: ArrayLike, Z2: ArrayLike | None = None, *, depth: int, field: str
) -> NDArray[np.float64]:
    """``g_N(X)(Z1, Z2) = Re tr(Z1^* A_{N,X}^{-1}(Z2))`` over ``F`` (``Z2 = Z1`` if omitted).

    Returns
    -------
    ndarray, shape (...)
    """
    Z2 = Z1 if Z2 is None else Z2
    Z1 = check_field_matrix(Z1, field, "Z1")
    return inner(Z1, apply_A_inv_field(X, Z2, depth, field), field)
