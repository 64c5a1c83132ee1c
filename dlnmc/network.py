"""The Deep Linear Network: end-to-end map, balanced factorizations, gauge action.

Conventions (MATH.md sections 1-2): parameters ``W`` have shape
``(..., N, d, d)`` with ``W[..., 0, :, :] = W_1`` the layer applied first,
``X = phi(W) = W_N ... W_1``. The balanced manifold ``M`` is cut out by
``W_{p+1}^T W_{p+1} = W_p W_p^T`` (``p = 1..N-1``) with ``X`` invertible. The
gauge group ``G = O_d^{N-1}`` acts by ``W_p -> U_p W_p U_{p-1}^T``
(``U_0 = U_N = I``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_layers, check_square
from dlnmc.entropy import check_invertible
from dlnmc.groups import haar_orthogonal, so_basis

__all__ = [
    "balanced_dimension",
    "balanced_factorization",
    "balancedness_residual",
    "constraint_jacobian",
    "end_to_end",
    "gauge_action",
    "horizontal_basis",
    "orbit_tangent_basis",
    "orbit_tangent_vectors",
    "phi",
    "tangent_basis",
]


def end_to_end(W: ArrayLike) -> NDArray[np.float64]:
    """End-to-end matrix ``X = W_N ... W_1``.

    Parameters
    ----------
    W : array_like, shape (..., N, d, d)
        Layers, ``W[..., 0, :, :] = W_1``.

    Returns
    -------
    ndarray, shape (..., d, d)
    """
    W = check_layers(W)
    X = W[..., 0, :, :]
    for p in range(1, W.shape[-3]):  # loop over layers, vectorized over the batch
        X = W[..., p, :, :] @ X
    return X


phi = end_to_end  # the paper's name for the end-to-end map


def balanced_dimension(width: int, depth: int) -> int:
    """``dim M = d^2 + (N-1) d(d-1)/2``."""
    d, N = check_depth(width, "width"), check_depth(depth)
    return d * d + (N - 1) * d * (d - 1) // 2


#: Tolerance of the orthogonality check on user-supplied gauges: max |Q^T Q - I|.
_ORTHOGONAL_TOL = 1e-10


def _check_orthogonal(Q: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``Q`` (..., d, d) as float64 if finite, real and orthogonal to 1e-10, else raise.

    A non-orthogonal gauge leaves the orbit silently: the result would not be
    balanced and ``phi`` would change.
    """
    Q = np.asarray(Q)
    if Q.size == 0:  # N = 1: no gauge factors
        return Q.astype(np.float64, copy=False)
    Q = check_square(Q, name)
    err = np.abs(np.swapaxes(Q, -1, -2) @ Q - np.eye(Q.shape[-1])).max()
    if not err <= _ORTHOGONAL_TOL:
        raise ValueError(
            f"{name} must be orthogonal (Q^T Q = I to {_ORTHOGONAL_TOL:g}); "
            f"max |Q^T Q - I| = {err:.3g}"
        )
    return Q


def balanced_factorization(
    X: ArrayLike,
    depth: int,
    gauge: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
) -> NDArray[np.float64]:
    """A balanced ``W`` with ``phi(W) = X``.

    ``X = U diag(s) V^T``, ``Lambda = diag(s)^{1/N}``, ``W_p = Q_p Lambda Q_{p-1}^T``
    with ``Q_0 = V``, ``Q_N = U`` and ``Q_1..Q_{N-1}`` the gauge (MATH.md section 2).

    Parameters
    ----------
    X : array_like, shape (..., d, d)
        Invertible end-to-end matrices.
    depth : int
        ``N >= 1``.
    gauge : array_like, shape (..., N-1, d, d), optional
        Orthogonal ``Q_1..Q_{N-1}``. If omitted: Haar-random when ``rng`` is
        given, else ``Q_p = U`` for all ``p`` (the symmetric choice).
    rng : numpy.random.Generator or int, optional
        Draw the gauge from Haar measure on ``O_d^{N-1}``, which makes ``W`` a
        uniform point of the orbit ``O_X``.

    Returns
    -------
    ndarray, shape (..., N, d, d)
    """
    X = check_square(X)
    N = check_depth(depth)
    U, s, Vt = np.linalg.svd(X)
    check_invertible(s)
    lam = s ** (1.0 / N)
    batch, d = X.shape[:-2], X.shape[-1]
    if gauge is not None:
        Q = check_layers(gauge, "gauge") if N > 1 else np.zeros((*batch, 0, d, d))
        if Q.shape[-3:] != (N - 1, d, d):
            raise ValueError(f"gauge must have shape (..., {N - 1}, {d}, {d}), got {Q.shape}")
        Q = _check_orthogonal(Q, "gauge")
        Q = np.broadcast_to(Q, (*batch, N - 1, d, d))
    elif rng is not None:
        Q = haar_orthogonal(d, (*batch, N - 1), rng)
    else:
        Q = np.broadcast_to(U[..., None, :, :], (*batch, N - 1, d, d))
    frames = np.concatenate([np.swapaxes(Vt, -1, -2)[..., None, :, :], Q, U[..., None, :, :]], -3)
    # W_p = Q_p diag(lam) Q_{p-1}^T
    return (frames[..., 1:, :, :] * lam[..., None, None, :]) @ np.swapaxes(
        frames[..., :-1, :, :], -1, -2
    )


def balancedness_residual(W: ArrayLike) -> NDArray[np.float64]:
    """``W_{p+1}^T W_{p+1} - W_p W_p^T`` for ``p = 1..N-1``.

    Returns
    -------
    ndarray, shape (..., N-1, d, d)
        Zero exactly on the balanced variety.
    """
    W = check_layers(W)
    Wt = np.swapaxes(W, -1, -2)
    return Wt[..., 1:, :, :] @ W[..., 1:, :, :] - W[..., :-1, :, :] @ Wt[..., :-1, :, :]


def gauge_action(U: ArrayLike, W: ArrayLike) -> NDArray[np.float64]:
    """Act by ``U = (U_1..U_{N-1}) in O_d^{N-1}``: ``W_p -> U_p W_p U_{p-1}^T``, ``U_0 = U_N = I``.

    Parameters
    ----------
    U : array_like, shape (..., N-1, d, d)
    W : array_like, shape (..., N, d, d)

    Returns
    -------
    ndarray, shape (..., N, d, d)
        Same end-to-end matrix, still balanced if ``W`` was.
    """
    W = check_layers(W)
    N, d = W.shape[-3], W.shape[-1]
    U = np.asarray(U)
    if U.ndim < 3 or U.shape[-3:] != (N - 1, d, d):
        raise ValueError(f"U must have shape (..., {N - 1}, {d}, {d}), got {U.shape}")
    U = _check_orthogonal(U, "U")
    eye = np.broadcast_to(np.eye(d), (*U.shape[:-3], 1, d, d))
    full = np.concatenate([eye, U, eye], axis=-3)
    return full[..., 1:, :, :] @ W @ np.swapaxes(full[..., :-1, :, :], -1, -2)


def orbit_tangent_vectors(W: ArrayLike) -> NDArray[np.float64]:
    """Images of an orthonormal basis of ``so(d)^{N-1}`` under the orbit map's differential.

    ``B in so(d)^{N-1}`` gives ``dW_p = B_p W_p - W_p B_{p-1}`` (``B_0 = B_N = 0``).
    The basis of ``so(d)`` is :func:`dlnmc.groups.so_basis` (``tr(A^T B)``).

    Returns
    -------
    ndarray, shape (..., (N-1) d(d-1)/2, N, d, d)
        Vector ``q * m + k`` is generator ``k`` placed in factor ``q + 1``.
    """
    W = check_layers(W)
    N, d = W.shape[-3], W.shape[-1]
    E = so_basis(d)
    m = E.shape[0]
    out = np.zeros((*W.shape[:-3], (N - 1) * m, N, d, d))
    for q in range(N - 1):  # generator in U_{q+1} moves layers q+1 (left) and q+2 (right)
        rows = slice(q * m, (q + 1) * m)
        out[..., rows, q, :, :] = E @ W[..., None, q, :, :]
        out[..., rows, q + 1, :, :] = -(W[..., None, q + 1, :, :] @ E)
    return out


def _orthonormal_columns(A: NDArray[np.float64], rank: int) -> NDArray[np.float64]:
    """First ``rank`` left singular vectors of ``A`` (..., n, k)."""
    u, _, _ = np.linalg.svd(A, full_matrices=False)
    return u[..., :rank]


def orbit_tangent_basis(W: ArrayLike) -> NDArray[np.float64]:
    """Orthonormal basis of the orbit tangent space at a point with invertible ``X``.

    Returns
    -------
    ndarray, shape (..., N d^2, (N-1) d(d-1)/2)
        Columns in the flattened coordinates ``W.reshape(..., N*d*d)``.
    """
    T = orbit_tangent_vectors(W)
    flat = T.reshape(*T.shape[:-3], T.shape[-3] * T.shape[-2] * T.shape[-1])
    return _orthonormal_columns(np.swapaxes(flat, -1, -2), flat.shape[-2])


def constraint_jacobian(W: ArrayLike) -> NDArray[np.float64]:
    """Dense Jacobian of the balancedness constraint (upper triangles, diagonal included).

    The constraint is ``F_p(W) = triu(W_{p+1}^T W_{p+1} - W_p W_p^T)`` for
    ``p = 1..N-1``; its differential is
    ``dW_{p+1}^T W_{p+1} + W_{p+1}^T dW_{p+1} - dW_p W_p^T - W_p dW_p^T``.

    Returns
    -------
    ndarray, shape (..., (N-1) d(d+1)/2, N d^2)
        Row order: constraint ``p`` then ``numpy.triu_indices(d)``; columns in
        ``W.reshape(..., N*d*d)`` order. A dense reference; samplers use the
        block-bidiagonal structure instead.
    """
    W = check_layers(W)
    N, d = W.shape[-3], W.shape[-1]
    iu, ju = np.triu_indices(d)
    n_c = iu.size
    J = np.zeros((*W.shape[:-3], (N - 1) * n_c, N, d, d))
    eye = np.eye(d)
    # d(A^T A)_{ij} / dA_{kl} = delta_{jl} A_{ki} + delta_{il} A_{kj}
    # d(B B^T)_{ij} / dB_{kl} = delta_{ik} B_{jl} + delta_{jk} B_{il}
    for p in range(N - 1):
        A, B = W[..., p + 1, :, :], W[..., p, :, :]
        rows = slice(p * n_c, (p + 1) * n_c)
        dA = (
            A[..., :, iu].swapaxes(-1, -2)[..., :, :, None] * eye[ju][..., None, :]
            + A[..., :, ju].swapaxes(-1, -2)[..., :, :, None] * eye[iu][..., None, :]
        )
        dB = (
            eye[iu][..., :, None] * B[..., ju, None, :]
            + eye[ju][..., :, None] * B[..., iu, None, :]
        )
        J[..., rows, p + 1, :, :] = dA
        J[..., rows, p, :, :] = -dB
    return J.reshape(*W.shape[:-3], (N - 1) * n_c, N * d * d)


def tangent_basis(W: ArrayLike) -> NDArray[np.float64]:
    """Orthonormal basis of ``T_W M`` (null space of :func:`constraint_jacobian`).

    Returns
    -------
    ndarray, shape (..., N d^2, dim M)
    """
    W = check_layers(W)
    N, d = W.shape[-3], W.shape[-1]
    if N == 1:
        return np.broadcast_to(np.eye(d * d), (*W.shape[:-3], d * d, d * d)).copy()
    J = constraint_jacobian(W)
    _, _, vt = np.linalg.svd(J, full_matrices=True)
    # J has full row rank (N-1) d(d+1)/2 on M; the remaining right singular
    # vectors span its null space.
    return np.swapaxes(vt[..., J.shape[-2] :, :], -1, -2)


def horizontal_basis(W: ArrayLike) -> NDArray[np.float64]:
    """Orthonormal basis of the horizontal space: ``T_W M`` minus orbit directions.

    Returns
    -------
    ndarray, shape (..., N d^2, d^2)
    """
    T = tangent_basis(W)
    O = orbit_tangent_basis(W)
    # Project the tangent basis off the orbit directions; what is left spans
    # a d^2-dimensional space.
    P = T - O @ (np.swapaxes(O, -1, -2) @ T)
    d2 = np.asarray(W).shape[-1] ** 2
    return _orthonormal_columns(P, d2)
