"""The metric g_N on observables (MATH.md section 3).

``A_{N,X}(P) = sum_{p=1}^N (X X^T)^{(N-p)/N} P (X^T X)^{(p-1)/N}`` and
``g_N(X)(Z, Z) = tr(Z^T A_{N,X}^{-1}(Z))``. In the SVD frame
``X = U diag(s) V^T``, ``P~ = U^T P V``, the operator ``A`` multiplies entry
``(i, j)`` of ``P~`` by ``D_ij`` (:func:`dlnmc.entropy.log_D`), so every
operation here is a change of frame and an entrywise product.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_square
from dlnmc.entropy import check_invertible, log_D, singular_values

__all__ = ["apply_A", "apply_A_inv", "g_N", "log_det_A"]


def _frame(X: ArrayLike, P: ArrayLike, depth: int):
    X = check_square(X)
    N = check_depth(depth)
    P = check_square(P, "P")
    U, s, Vt = np.linalg.svd(X)
    check_invertible(s)
    return U, Vt, np.exp(log_D(s, N)), P


def apply_A(X: ArrayLike, P: ArrayLike, depth: int) -> NDArray[np.float64]:
    """``A_{N,X}(P)``.

    Parameters
    ----------
    X : array_like, shape (..., d, d)
        Invertible end-to-end matrix.
    P : array_like, shape (..., d, d)
        Tangent vector (broadcasts against ``X``).
    depth : int
        ``N >= 1``.

    Returns
    -------
    ndarray, shape (..., d, d)
    """
    U, Vt, D, P = _frame(X, P, depth)
    Ut, V = np.swapaxes(U, -1, -2), np.swapaxes(Vt, -1, -2)
    return U @ (D * (Ut @ P @ V)) @ Vt


def apply_A_inv(X: ArrayLike, Z: ArrayLike, depth: int) -> NDArray[np.float64]:
    """``A_{N,X}^{-1}(Z)``: the inverse of :func:`apply_A`.

    Returns
    -------
    ndarray, shape (..., d, d)
    """
    U, Vt, D, Z = _frame(X, Z, depth)
    Ut, V = np.swapaxes(U, -1, -2), np.swapaxes(Vt, -1, -2)
    return U @ ((Ut @ Z @ V) / D) @ Vt


def g_N(
    X: ArrayLike, Z1: ArrayLike, Z2: ArrayLike | None = None, *, depth: int
) -> NDArray[np.float64]:
    """The metric ``g_N(X)(Z1, Z2) = tr(Z1^T A_{N,X}^{-1}(Z2))``.

    Parameters
    ----------
    X : array_like, shape (..., d, d)
    Z1, Z2 : array_like, shape (..., d, d)
        Tangent vectors at ``X``; ``Z2 = Z1`` when omitted.
    depth : int
        ``N >= 1`` (keyword-only, to keep it apart from the tangent vectors).

    Returns
    -------
    ndarray, shape (...)
    """
    U, Vt, D, Z1 = _frame(X, Z1, depth)
    Z2 = Z1 if Z2 is None else check_square(Z2, "Z2")
    Ut, V = np.swapaxes(U, -1, -2), np.swapaxes(Vt, -1, -2)
    a, b = Ut @ Z1 @ V, Ut @ Z2 @ V
    return (a * b / D).sum(axis=(-2, -1))


def log_det_A(X: ArrayLike, depth: int) -> NDArray[np.float64]:
    """``log det A_{N,X} = sum_i log D_ii + sum_{i != j} log D_ij`` (as a map on ``R^{d x d}``).

    Returns
    -------
    ndarray, shape (...)
    """
    N = check_depth(depth)
    return log_D(singular_values(X), N).sum(axis=(-2, -1))
