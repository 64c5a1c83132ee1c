"""The gauge groups U_d and Sp_d: exact Haar samples and volumes (MATH.md section 8).

Metric convention: ``G_d`` sits inside ``M_d(F) = R^{b d^2}`` with the real
inner product ``Re tr(V^* W)`` (for ``H`` the sum of squares of all four
components), so ``|B|^2 = Re tr(B^* B)`` on the Lie algebra. For ``b = 1`` this
is the Frobenius convention of :mod:`dlnmc.groups`. The derivation of the
volumes is in ``docs/fields.md``:

    vol(G_d) = prod_{k=1}^d 2^{b(k-1)/2} vol(S^{bk-1}),   vol(S^{n-1}) = 2 pi^{n/2} / Gamma(n/2)

    log vol(U_d)  = d(d+1)/2 log(2 pi) - sum_{k=1}^{d-1} log k!
    log vol(Sp_d) = d^2 log 2 + d(d+1) log pi - sum_{k=1}^{d} log (2k-1)!

Quaternionic matrices are stored in the complex ``2d x 2d`` representation of
:mod:`dlnmc.fields`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from dlnmc._validation import check_width
from dlnmc.fields import _quaternion_columns, check_field, dyson_index, gaussian_matrix
from dlnmc.groups import haar_orthogonal

__all__ = [
    "haar_field",
    "haar_symplectic",
    "haar_unitary",
    "log_group_volume_field",
]


def log_group_volume_field(d: int, field: str = "real") -> float:
    """``log vol(G_d)`` for ``G_d = O_d, U_d, Sp_d`` in the metric ``Re tr(B^* B)``.

    ``log vol(G_d) = sum_{k=1}^d [ (b(k-1)/2) log 2 + log 2 + (bk/2) log pi - log Gamma(bk/2) ]``
    from the fibrations ``G_k / G_{k-1} = S^{bk-1}`` (``docs/fields.md``); the
    ``b = 1`` case equals :func:`dlnmc.log_group_volume`.

    Returns
    -------
    float
        ``log(2 pi)`` for ``U_1`` (unit circle), ``log(2 pi^2)`` for ``Sp_1``
        (unit 3-sphere), ``log 2`` for ``O_1`` (two points).
    """
    b = dyson_index(field)
    d = check_width(d, "d")
    k = np.arange(1, d + 1)
    n = b * k  # G_k / G_{k-1} is the unit sphere S^{n-1} in F^k = R^n
    log_sphere = np.log(2.0) + 0.5 * n * np.log(np.pi) - gammaln(0.5 * n)
    # The horizontal lift of a tangent vector of S^{n-1} has its b(k-1)
    # off-diagonal real components counted twice (column and row): factor sqrt(2) each.
    log_factor = 0.5 * b * (k - 1) * np.log(2.0)
    return float((log_sphere + log_factor).sum())


def _size(size: int | tuple[int, ...]) -> tuple[int, ...]:
    return (size,) if isinstance(size, int | np.integer) else tuple(size)


def haar_unitary(
    d: int, size: int | tuple[int, ...] = (), rng: np.random.Generator | int | None = None
) -> NDArray[np.complex128]:
    """Exact Haar samples of ``U(d)``.

    QR of a complex Ginibre matrix with the columns of ``Q`` multiplied by the
    phases of ``diag R`` (Mezzadri 2007): the QR factorization with positive
    real ``diag R`` is unique and equivariant under left multiplication, and
    the Ginibre law is left-invariant, so ``Q`` is Haar.

    Returns
    -------
    ndarray, complex128, shape (*size, d, d)
    """
    d = check_width(d, "d")
    Z = gaussian_matrix(d, "complex", _size(size), rng)
    Q, R = np.linalg.qr(Z)
    r = np.diagonal(R, axis1=-2, axis2=-1)
    absr = np.abs(r)
    phase = np.where(absr > 0, r / np.where(absr > 0, absr, 1.0), 1.0)
    return Q * phase[..., None, :]


def haar_symplectic(
    d: int, size: int | tuple[int, ...] = (), rng: np.random.Generator | int | None = None
) -> NDArray[np.complex128]:
    """Exact Haar samples of the compact symplectic group ``Sp(d) = U(d, H)``.

    Quaternionic QR of a quaternionic Ginibre matrix ``G``, done as a complex
    QR of ``chi(G)`` with its columns interleaved as ``(c_1, K c_1, c_2, K c_2, ...)``
    (``c_k``, ``K c_k = c_{d+k}`` the two complex columns of quaternionic column
    ``k``). Complex Gram-Schmidt in this order commutes with the antiunitary
    ``K``, so (after the phase fix making ``diag R`` positive) the odd columns
    of ``Q`` are ``K`` of the even ones: this is the quaternionic Gram-Schmidt.
    The result is rebuilt from the even columns, so it lies exactly in
    ``chi(M_d(H))``. ``G`` is left-``Sp(d)``-invariant in law and the
    factorization is equivariant, so ``Q`` is Haar.

    Returns
    -------
    ndarray, complex128, shape (*size, 2d, 2d)
        The complex representation ``chi(U)``.
    """
    d = check_width(d, "d")
    G = gaussian_matrix(d, "quaternion", _size(size), rng)
    perm = np.stack([np.arange(d), np.arange(d, 2 * d)], axis=-1).reshape(-1)
    Q, R = np.linalg.qr(G[..., :, perm])
    r = np.diagonal(R, axis1=-2, axis2=-1)
    absr = np.abs(r)
    phase = np.where(absr > 0, r / np.where(absr > 0, absr, 1.0), 1.0)
    Q = Q * phase[..., None, :]
    return _quaternion_columns(Q[..., :, 0::2])


def haar_field(
    d: int,
    field: str,
    size: int | tuple[int, ...] = (),
    rng: np.random.Generator | int | None = None,
) -> NDArray:
    """Haar samples of ``G_d = O_d, U_d, Sp_d`` in the storage of ``field``.

    Returns
    -------
    ndarray, shape (*size, n, n)
    """
    field = check_field(field)
    if field == "real":
        return haar_orthogonal(d, size, rng)
    if field == "complex":
        return haar_unitary(d, size, rng)
    return haar_symplectic(d, size, rng)
