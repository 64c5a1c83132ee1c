"""The gauge group O_d: its volume, Haar samples and the basis of so(d).

Convention (MATH.md section 4): ``O_d`` sits inside ``M_d = R^{d x d}`` with
the Frobenius metric, so its Lie algebra ``so(d)`` carries ``|B|^2 = tr(B^T B)``.
This is twice the "textbook" metric ``tr(B^T B)/2``; volumes differ by
``2^{d(d-1)/4}`` from the textbook ones.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from dlnmc._validation import check_width

__all__ = [
    "haar_orthogonal",
    "haar_special_orthogonal",
    "log_group_volume",
    "so_basis",
]


def log_group_volume(d: int) -> float:
    """Log volume ``log c_d`` of ``O_d`` for the Frobenius-induced metric.

    Parameters
    ----------
    d : int
        Width, ``d >= 1``.

    Returns
    -------
    float
        ``log c_d = d log 2 + d(d+1)/4 log pi + d(d-1)/4 log 2 - sum_{k=1}^d log Gamma(k/2)``
        (MATH.md section 4). ``c_1 = 2`` counts the two points ``{+1, -1}``.
    """
    d = check_width(d, "d")
    k = np.arange(1, d + 1)
    return float(
        d * np.log(2.0)
        + d * (d + 1) / 4.0 * np.log(np.pi)
        + d * (d - 1) / 4.0 * np.log(2.0)
        - gammaln(k / 2.0).sum()
    )


def so_basis(d: int) -> NDArray[np.float64]:
    """Orthonormal basis of ``so(d)`` for ``<A, B> = tr(A^T B)``.

    Returns
    -------
    ndarray, shape (d(d-1)/2, d, d)
        ``(E_ij - E_ji) / sqrt(2)`` for ``i < j`` in ``numpy.triu_indices`` order.
    """
    d = check_width(d, "d")
    iu, ju = np.triu_indices(d, 1)
    B = np.zeros((iu.size, d, d))
    k = np.arange(iu.size)
    B[k, iu, ju] = 1.0 / np.sqrt(2.0)
    B[k, ju, iu] = -1.0 / np.sqrt(2.0)
    return B


def haar_orthogonal(
    d: int, size: int | tuple[int, ...] = (), rng: np.random.Generator | int | None = None
) -> NDArray[np.float64]:
    """Exact Haar samples of ``O(d)``.

    QR of a standard Gaussian matrix, with the columns of ``Q`` multiplied by
    ``sign(diag R)`` so that the factorization is unique and ``Q`` is Haar
    (Mezzadri 2007). Batched: one LAPACK call over all samples.

    Parameters
    ----------
    d : int
        Matrix size.
    size : int or tuple of int
        Batch shape.
    rng : numpy.random.Generator, int or None
        Source of randomness (passed to ``numpy.random.default_rng``).

    Returns
    -------
    ndarray, shape (*size, d, d)
    """
    d = check_width(d, "d")
    rng = np.random.default_rng(rng)
    size = (size,) if isinstance(size, int | np.integer) else tuple(size)
    Z = rng.standard_normal((*size, d, d))
    Q, R = np.linalg.qr(Z)
    sign = np.sign(np.diagonal(R, axis1=-2, axis2=-1))
    sign[sign == 0] = 1.0  # probability zero, but keep Q orthogonal regardless
    return Q * sign[..., None, :]


def haar_special_orthogonal(
    d: int, size: int | tuple[int, ...] = (), rng: np.random.Generator | int | None = None
) -> NDArray[np.float64]:
    """Exact Haar samples of ``SO(d)``: Haar ``O(d)`` with the first column's sign set so det = +1.

    Returns
    -------
    ndarray, shape (*size, d, d)
    """
    Q = haar_orthogonal(d, size, rng)
    det = np.linalg.det(Q)
    # Flipping one column of a Haar O(d) sample with det -1 is a measure-preserving
    # bijection of the det -1 coset onto SO(d).
    Q[..., :, 0] *= np.sign(det)[..., None]
    return Q
