"""The metric g_N on observables over R, C and H.

See docs/guide/theory.md, 'The metric on observables', and docs/guide/fields.md.

``A_{N,X}(P) = sum_{p=1}^N (X X^*)^{(N-p)/N} P (X^* X)^{(p-1)/N}`` and
``g_N(X)(Z1, Z2) = Re tr(Z1^* A_{N,X}^{-1}(Z2))``, the real inner product of
:meth:`dlnmc.fields.Field.inner` (halved over ``H`` in the complex
representation). In the frame ``X = U diag(s) V^*`` (``U, V`` in ``G_d``,
:meth:`dlnmc.fields.Field.svd`), ``A`` multiplies entry ``(i, j)`` of
``U^* P V`` by ``D_ij`` (:func:`dlnmc.entropy.log_D`), so every operation here
is a change of frame and an entrywise product; over ``H`` the factor of entry
``(i, j)`` sits in all four blocks of the representation
(:meth:`dlnmc.fields.Field.expand_entrywise`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth
from dlnmc.entropy import check_invertible, field_singular_values, log_D
from dlnmc.fields import Field, resolve_field

__all__ = ["apply_A", "apply_A_inv", "g_N", "log_det_A"]


def _frame(X: ArrayLike, depth: int, field: Field):
    """``U``, ``V`` of ``X = U diag(s) V^*`` and the factors ``D_ij`` on the stored grid."""
    N = check_depth(depth)
    U, s, V = field.svd(field.check_matrix(X))
    check_invertible(s)
    return U, V, field.expand_entrywise(np.exp(log_D(s, N)))


def apply_A(
    X: ArrayLike, P: ArrayLike, depth: int, *, field: str | Field = "real"
) -> NDArray:
    """``A_{N,X}(P)``.

    Parameters
    ----------
    X : array_like, shape (..., n, n)
        Invertible end-to-end matrix in the storage of ``field``.
    P : array_like, shape (..., n, n)
        Tangent vector (broadcasts against ``X``).
    depth : int
        ``N >= 1``.
    field : {"real", "complex", "quaternion"} or Field, keyword-only

    Returns
    -------
    ndarray, shape (..., n, n)
    """
    F = resolve_field(field)
    U, V, D = _frame(X, depth, F)
    P = F.check_matrix(P, "P")
    return U @ (D * (F.ct(U) @ P @ V)) @ F.ct(V)


def apply_A_inv(
    X: ArrayLike, Z: ArrayLike, depth: int, *, field: str | Field = "real"
) -> NDArray:
    """``A_{N,X}^{-1}(Z) = U ((U^* Z V) / D) V^*``: the inverse of :func:`apply_A`.

    Returns
    -------
    ndarray, shape (..., n, n)
    """
    F = resolve_field(field)
    U, V, D = _frame(X, depth, F)
    Z = F.check_matrix(Z, "Z")
    return U @ ((F.ct(U) @ Z @ V) / D) @ F.ct(V)


def g_N(
    X: ArrayLike,
    Z1: ArrayLike,
    Z2: ArrayLike | None = None,
    *,
    depth: int,
    field: str | Field = "real",
) -> NDArray[np.float64]:
    """The metric ``g_N(X)(Z1, Z2) = Re tr(Z1^* A_{N,X}^{-1}(Z2))``.

    Parameters
    ----------
    X : array_like, shape (..., n, n)
    Z1, Z2 : array_like, shape (..., n, n)
        Tangent vectors at ``X``; ``Z2 = Z1`` when omitted.
    depth : int
        ``N >= 1`` (keyword-only, to keep it apart from the tangent vectors).
    field : {"real", "complex", "quaternion"} or Field, keyword-only

    Returns
    -------
    ndarray, shape (...)
    """
    F = resolve_field(field)
    U, V, D = _frame(X, depth, F)
    Z1 = F.check_matrix(Z1, "Z1")
    Z2 = Z1 if Z2 is None else F.check_matrix(Z2, "Z2")
    Uh = F.ct(U)
    # The frame change is an isometry of the real inner product.
    return F.inner(Uh @ Z1 @ V, (Uh @ Z2 @ V) / D)


def log_det_A(X: ArrayLike, depth: int, *, field: str | Field = "real") -> NDArray[np.float64]:
    """``log det A_{N,X}`` with ``A`` a real-linear map of ``M_d(F) = R^{b d^2}``.

    Every entry ``(i, j)`` has ``b`` real components, each scaled by ``D_ij``:
    ``log det A = b (sum_i log D_ii + sum_{i != j} log D_ij)``.

    Returns
    -------
    ndarray, shape (...)
    """
    F = resolve_field(field)
    N = check_depth(depth)
    return F.b * log_D(field_singular_values(X, F), N).sum(axis=(-2, -1))
