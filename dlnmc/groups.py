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


#: Largest width accepted by :func:`log_group_volume` (its sum has d terms).
_MAX_WIDTH = 10**6


def log_group_volume(d: int) -> float:
    """Log volume ``log c_d`` of ``O_d`` for the Frobenius-induced metric.

    Parameters
    ----------
    d : int
        Width, ``1 <= d <= 10**6``.

    Returns
    -------
    float
        ``log c_d = d log 2 + d(d+1)/4 log pi + d(d-1)/4 log 2 - sum_{k=1}^d log Gamma(k/2)``
        (MATH.md section 4). ``c_1 = 2`` counts the two points ``{+1, -1}``.
    """
    d = check_width(d, "d")
    if d > _MAX_WIDTH:
        # The sum below materializes d terms (d = 1e10 was a MemoryError); no DLN that
        # this package can hold in memory has d x d layers with d > 1e6.
        raise ValueError(f"d must be <= {_MAX_WIDTH} for log_group_volume, got {d}")
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


#: Up to this width Haar samples come from batched Gram-Schmidt (numpy vector ops over
#: the batch); above it from LAPACK QR, whose per-matrix cost wins once d^3 dominates.
#: Crossover (between 16 and 24 here) measured by benchmarks/bench_haar.py.
GRAM_SCHMIDT_MAX_WIDTH = 20


def _haar_gram_schmidt(d: int, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``n`` Haar samples of ``O(d)``, shape (n, d, d), by Gram-Schmidt of Gaussian columns.

    Gram-Schmidt is QR with ``diag(R) > 0``, so this is the sign-fixed QR of a
    Gaussian matrix, i.e. exact Haar. Classical Gram-Schmidt applied twice
    (CGS2) keeps the columns orthonormal to rounding. The batch is the last,
    contiguous axis so every step is one vector operation over all samples.
    """
    Z = rng.standard_normal((d, d, n))  # Z[j, :, k] = column j of sample k
    Q = np.empty_like(Z)
    for j in range(d):  # loop over columns, vectorized over the batch
        v = Z[j]
        for _ in range(2 if j else 0):
            coef = np.einsum("kin,in->kn", Q[:j], v)
            v = v - np.einsum("kn,kin->in", coef, Q[:j])
        Q[j] = v / np.sqrt(np.einsum("in,in->n", v, v))
    return np.ascontiguousarray(Q.transpose(2, 1, 0))


def _haar_qr(d: int, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """``n`` Haar samples of ``O(d)`` by batched LAPACK QR with the sign of diag(R) fixed."""
    Q, R = np.linalg.qr(rng.standard_normal((n, d, d)))
    sign = np.sign(np.diagonal(R, axis1=-2, axis2=-1))
    sign[sign == 0] = 1.0  # probability zero, but keep Q orthogonal regardless
    Q *= sign[..., None, :]
    return Q


def haar_orthogonal(
    d: int, size: int | tuple[int, ...] = (), rng: np.random.Generator | int | None = None
) -> NDArray[np.float64]:
    """Exact Haar samples of ``O(d)``.

    The QR factorization of a standard Gaussian matrix with ``diag(R) > 0``
    (Mezzadri 2007): for ``d <= GRAM_SCHMIDT_MAX_WIDTH`` by batched Gram-Schmidt
    (which produces that factorization directly), else by LAPACK QR with the
    columns of ``Q`` multiplied by ``sign(diag R)``. No loop over samples.

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
    if any(int(k) < 0 for k in size):
        raise ValueError(f"size must be non-negative, got {size}")
    n = int(np.prod(size, dtype=np.int64))
    sampler = _haar_gram_schmidt if d <= GRAM_SCHMIDT_MAX_WIDTH else _haar_qr
    return sampler(d, n, rng).reshape(*size, d, d)


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
