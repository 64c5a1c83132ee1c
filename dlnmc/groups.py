"""The gauge groups G_d = O_d, U_d, Sp_d: volumes, Haar samples and Lie-algebra bases.

Convention (docs/guide/theory.md, 'Group volumes', and
docs/guide/fields.md): ``G_d`` sits inside ``M_d(F) = R^{b d^2}``
with the real inner product ``Re tr(V^* W)`` (over ``H`` the sum of squares of
all four components), so the Lie algebra carries ``|B|^2 = Re tr(B^* B)``. Over
``R`` this is the Frobenius metric, twice the "textbook" ``tr(B^T B)/2``:
volumes differ by ``2^{d(d-1)/4}`` from the textbook ones.

The numerics live in :class:`dlnmc.fields.Field` (``log_group_volume``,
``haar``, ``lie_algebra_basis``); this module is the public face with
``field=`` and the historical names of the single-field samplers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dlnmc.fields import (
    COMPLEX,
    GRAM_SCHMIDT_MAX_WIDTH,
    QUATERNION,
    REAL,
    Field,
    haar_gram_schmidt,
    haar_qr_real,
    resolve_field,
)

__all__ = [
    "GRAM_SCHMIDT_MAX_WIDTH",
    "haar",
    "haar_gram_schmidt",
    "haar_orthogonal",
    "haar_qr_real",
    "haar_special_orthogonal",
    "haar_symplectic",
    "haar_unitary",
    "lie_algebra_basis",
    "log_group_volume",
    "so_basis",
]

Size = int | tuple[int, ...]
Seed = np.random.Generator | int | None


def log_group_volume(d: int, *, field: str | Field = "real") -> float:
    """``log vol(G_d)`` for ``G_d = O_d, U_d, Sp_d`` in the metric induced by ``Re tr(V^* W)``.

    Parameters
    ----------
    d : int
        Width, ``1 <= d <= 10**6``.
    field : {"real", "complex", "quaternion"} or Field, keyword-only

    Returns
    -------
    float
        ``d log 2 + b d(d+1)/4 log pi + b d(d-1)/4 log 2 - sum_{k=1}^d log Gamma(bk/2)``
        (:meth:`dlnmc.fields.Field.log_group_volume`). Over ``R`` this is
        ``log c_d`` of docs/guide/theory.md, 'Group volumes'; ``O_1`` has volume 2 (two points),
        ``U_1`` ``2 pi`` (the unit circle), ``Sp_1`` ``2 pi^2`` (the unit 3-sphere).
    """
    return resolve_field(field).log_group_volume(d)


def haar(d: int, size: Size = (), rng: Seed = None, *, field: str | Field = "real") -> NDArray:
    """Exact Haar samples of ``G_d`` in the storage of ``field``, shape ``(*size, n, n)``.

    QR of a Gaussian matrix with the phases of ``diag R`` removed (Mezzadri
    2007; over ``H`` the quaternionic Gram-Schmidt of :meth:`dlnmc.fields.Field.haar`).
    No loop over samples.

    Parameters
    ----------
    d : int
        Width.
    size : int or tuple of int
        Batch shape.
    rng : numpy.random.Generator, int or None
        Source of randomness (passed to ``numpy.random.default_rng``).
    field : {"real", "complex", "quaternion"} or Field, keyword-only

    Returns
    -------
    ndarray
        float64 ``(*size, d, d)`` over ``R``, complex128 ``(*size, d, d)`` over
        ``C``, the complex representation ``(*size, 2d, 2d)`` over ``H``.
    """
    return resolve_field(field).haar(d, size, rng)


def haar_orthogonal(d: int, size: Size = (), rng: Seed = None) -> NDArray[np.float64]:
    """Exact Haar samples of ``O(d)``, shape ``(*size, d, d)``: :func:`haar` over ``R``.

    For ``d <= GRAM_SCHMIDT_MAX_WIDTH`` by batched Gram-Schmidt of Gaussian
    columns (the QR with ``diag R > 0``), else by LAPACK QR with the sign of
    ``diag R`` removed.
    """
    return REAL.haar(d, size, rng)


def haar_special_orthogonal(d: int, size: Size = (), rng: Seed = None) -> NDArray[np.float64]:
    """Exact Haar samples of ``SO(d)``: Haar ``O(d)`` with the first column's sign set so det = +1.

    Returns
    -------
    ndarray, shape ``(*size, d, d)``
    """
    Q = haar_orthogonal(d, size, rng)
    det = np.linalg.det(Q)
    # Flipping one column of a Haar O(d) sample with det -1 is a measure-preserving
    # bijection of the det -1 coset onto SO(d).
    Q[..., :, 0] *= np.sign(det)[..., None]
    return Q


def haar_unitary(d: int, size: Size = (), rng: Seed = None) -> NDArray[np.complex128]:
    """Exact Haar samples of ``U(d)``, complex128 ``(*size, d, d)``: :func:`haar` over ``C``."""
    return COMPLEX.haar(d, size, rng)


def haar_symplectic(d: int, size: Size = (), rng: Seed = None) -> NDArray[np.complex128]:
    """Exact Haar samples of ``Sp(d) = U(d, H)``: :func:`haar` over ``H``.

    Returns
    -------
    ndarray, complex128, shape ``(*size, 2d, 2d)``
        The complex representation ``chi(U)``.
    """
    return QUATERNION.haar(d, size, rng)


def lie_algebra_basis(d: int, *, field: str | Field = "real") -> NDArray:
    """Orthonormal basis of ``o(d), u(d), sp(d)`` for the real inner product, in storage.

    Returns
    -------
    ndarray, shape (dim G_d, n, n)
        :meth:`dlnmc.fields.Field.lie_algebra_basis`: diagonal elements first,
        then the pairs ``k < l`` in ``numpy.triu_indices`` order.
    """
    return resolve_field(field).lie_algebra_basis(d)


def so_basis(d: int) -> NDArray[np.float64]:
    """Orthonormal basis of ``so(d)`` for ``<A, B> = tr(A^T B)``.

    Returns
    -------
    ndarray, shape (d(d-1)/2, d, d)
        ``(E_ij - E_ji) / sqrt(2)`` for ``i < j`` in ``numpy.triu_indices`` order
        (:func:`lie_algebra_basis` over ``R``).
    """
    return REAL.lie_algebra_basis(d)
