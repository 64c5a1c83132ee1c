"""The DLN over F = R, C, H: end-to-end map, balanced factorizations, gauge orbits (MATH.md 8).

Same definitions as :mod:`dlnmc.network` with ``^T -> ^*`` and the gauge group
``G_d = O_d, U_d, Sp_d``. Layers are stored as ``(..., N, n, n)`` in the
storage of :mod:`dlnmc.fields` (``n = 2d`` for ``H``); real coordinates of the
ambient space ``M_d(F)^N = R^{b N d^2}`` come from
``realify(W, field, n_axes=3)`` (order: layer, row, col, component).

- Balanced: ``W_{p+1}^* W_{p+1} = W_p W_p^*``: ``(N-1)`` Hermitian equations,
  ``d + b d(d-1)/2`` real ones each.
- ``dim M_b = b N d^2 - (N-1)(d + b d(d-1)/2) = b d^2 + (N-1) dim G_d``.
- Orbit tangent vectors: ``B in g^{N-1}`` gives ``dW_p = B_p W_p - W_p B_{p-1}``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth
from dlnmc.fields import (
    check_field,
    check_field_matrix,
    conj_transpose,
    diag_embed,
    dyson_index,
    from_components,
    group_dimension,
    lie_algebra_basis,
    realify,
    singular_values_field,
    svd_field,
    to_components,
    width_of,
)
from dlnmc.groups_fields import haar_field

__all__ = [
    "balanced_dimension_field",
    "balanced_factorization_field",
    "balancedness_residual_field",
    "constraint_jacobian_field",
    "dphi_field",
    "gauge_action_field",
    "horizontal_basis_field",
    "log_orbit_gram_field",
    "orbit_tangent_basis_field",
    "orbit_tangent_vectors_field",
    "phi_field",
    "tangent_basis_field",
]


def _layers(W: ArrayLike, field: str) -> NDArray:
    W = check_field_matrix(W, field, "W", n_axes=3)
    if W.ndim < 3:
        raise ValueError(f"W must have shape (..., N, n, n), got {W.shape}")
    return W


def phi_field(W: ArrayLike, field: str) -> NDArray:
    """End-to-end matrix ``X = W_N ... W_1`` over ``F``.

    Parameters
    ----------
    W : array_like, shape (..., N, n, n)
    field : str

    Returns
    -------
    ndarray, shape (..., n, n)
    """
    W = _layers(W, field)
    X = W[..., 0, :, :]
    for p in range(1, W.shape[-3]):  # loop over layers, vectorized over the batch
        X = W[..., p, :, :] @ X
    return X


def balanced_dimension_field(width: int, depth: int, field: str) -> int:
    """``dim M_b = b d^2 + (N-1) dim G_d``."""
    d, N = check_depth(width, "width"), check_depth(depth)
    return dyson_index(field) * d * d + (N - 1) * group_dimension(d, field)


def balanced_factorization_field(
    X: ArrayLike,
    depth: int,
    field: str,
    gauge: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
) -> NDArray:
    """A balanced ``W`` over ``F`` with ``phi(W) = X``.

    ``X = U diag(s) V^*`` (:func:`dlnmc.fields.svd_field`), ``Lambda = diag(s)^{1/N}``,
    ``W_p = Q_p Lambda Q_{p-1}^*``, ``Q_0 = V``, ``Q_N = U``.

    Parameters
    ----------
    X : array_like, shape (..., n, n)
        Invertible.
    depth : int
    field : str
    gauge : array_like, shape (..., N-1, n, n), optional
        ``Q_1..Q_{N-1}`` in ``G_d``. Default: Haar when ``rng`` is given, else ``Q_p = U``.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    ndarray, shape (..., N, n, n)
    """
    field = check_field(field)
    N = check_depth(depth)
    X = check_field_matrix(X, field)
    singular_values_field(X, field)  # raises on singular X
    U, s, V = svd_field(X, field)
    lam = diag_embed(s ** (1.0 / N), field)
    batch, n = X.shape[:-2], X.shape[-1]
    if gauge is not None:
        Q = np.asarray(gauge)
        if Q.shape[-3:] != (N - 1, n, n):
            raise ValueError(f"gauge must have shape (..., {N - 1}, {n}, {n}), got {Q.shape}")
        if N > 1:
            Q = check_field_matrix(Q, field, "gauge", n_axes=3)
        Q = np.broadcast_to(Q, (*batch, N - 1, n, n))
    elif rng is not None:
        Q = haar_field(width_of(X, field), field, (*batch, N - 1), rng)
    else:
        Q = np.broadcast_to(U[..., None, :, :], (*batch, N - 1, n, n))
    frames = np.concatenate([V[..., None, :, :], Q.astype(U.dtype), U[..., None, :, :]], -3)
    return frames[..., 1:, :, :] @ lam[..., None, :, :] @ conj_transpose(frames[..., :-1, :, :])


def balancedness_residual_field(W: ArrayLike, field: str) -> NDArray:
    """``W_{p+1}^* W_{p+1} - W_p W_p^*``, shape ``(..., N-1, n, n)``; zero when balanced."""
    W = _layers(W, field)
    Wh = conj_transpose(W)
    return Wh[..., 1:, :, :] @ W[..., 1:, :, :] - W[..., :-1, :, :] @ Wh[..., :-1, :, :]


def gauge_action_field(U: ArrayLike, W: ArrayLike, field: str) -> NDArray:
    """``W_p -> U_p W_p U_{p-1}^*`` with ``U_0 = U_N = I``, ``U`` of shape ``(..., N-1, n, n)``."""
    W = _layers(W, field)
    N, n = W.shape[-3], W.shape[-1]
    U = np.asarray(U)
    if U.shape[-3:] != (N - 1, n, n):
        raise ValueError(f"U must have shape (..., {N - 1}, {n}, {n}), got {U.shape}")
    eye = np.broadcast_to(np.eye(n, dtype=W.dtype), (*U.shape[:-3], 1, n, n))
    full = np.concatenate([eye, U.astype(W.dtype), eye], axis=-3)
    return full[..., 1:, :, :] @ W @ conj_transpose(full[..., :-1, :, :])


def orbit_tangent_vectors_field(W: ArrayLike, field: str) -> NDArray:
    """Images of a real-orthonormal basis of ``g^{N-1}`` under the orbit map's differential.

    Basis: :func:`dlnmc.fields.lie_algebra_basis` (orthonormal for ``Re tr(A^* B)``).

    Returns
    -------
    ndarray, shape (..., (N-1) dim G_d, N, n, n)
        Vector ``q * m + k`` is generator ``k`` in factor ``q + 1``.
    """
    W = _layers(W, field)
    N, n = W.shape[-3], W.shape[-1]
    E = lie_algebra_basis(width_of(W, field), field)
    m = E.shape[0]
    out = np.zeros((*W.shape[:-3], (N - 1) * m, N, n, n), dtype=W.dtype)
    for q in range(N - 1):  # generator in U_{q+1} moves layers q+1 (left) and q+2 (right)
        rows = slice(q * m, (q + 1) * m)
        out[..., rows, q, :, :] = E @ W[..., None, q, :, :]
        out[..., rows, q + 1, :, :] = -(W[..., None, q + 1, :, :] @ E)
    return out


def log_orbit_gram_field(W: ArrayLike, field: str) -> NDArray[np.float64]:
    """``log sqrt(det Gram)`` of the realified orbit tangent vectors in ``R^{b N d^2}``.

    With the group volume this gives the orbit volume independently of the
    closed form: ``log vol(O_X) = (N-1) log vol(G_d) + log_orbit_gram_field(W)``
    (the action is isometric, so the Gram determinant is constant on the orbit).

    Returns
    -------
    ndarray, shape (...)
    """
    T = realify(orbit_tangent_vectors_field(W, field), field, n_axes=3)
    if T.shape[-2] == 0:
        return np.zeros(T.shape[:-2])
    return 0.5 * np.linalg.slogdet(T @ np.swapaxes(T, -1, -2))[1]


def _orthonormal_columns(A: NDArray[np.float64], rank: int) -> NDArray[np.float64]:
    u, _, _ = np.linalg.svd(A, full_matrices=False)
    return u[..., :rank]


def orbit_tangent_basis_field(W: ArrayLike, field: str) -> NDArray[np.float64]:
    """Orthonormal basis (columns) of the realified orbit tangent space.

    Returns
    -------
    ndarray, shape (..., b N d^2, (N-1) dim G_d)
    """
    T = realify(orbit_tangent_vectors_field(W, field), field, n_axes=3)
    return _orthonormal_columns(np.swapaxes(T, -1, -2), T.shape[-2])


def _ambient_basis(N: int, d: int, field: str) -> NDArray:
    """The standard basis of ``R^{b N d^2}`` as stored layers, shape ``(b N d^2, N, n, n)``."""
    b = dyson_index(field)
    K = b * N * d * d
    return from_components(np.eye(K).reshape(K, N, d, d, b), field)


def _hermitian_coordinates(Hm: NDArray, field: str) -> NDArray[np.float64]:
    """Independent real coordinates of Hermitian matrices.

    Real diagonal, then all components of the upper triangle.
    """
    c = to_components(Hm, field)  # (..., d, d, b)
    d = c.shape[-2]
    idx = np.arange(d)
    iu, ju = np.triu_indices(d, 1)
    diag = c[..., idx, idx, 0]
    upper = c[..., iu, ju, :].reshape(*c.shape[:-3], -1)
    return np.concatenate([diag, upper], axis=-1)


def constraint_jacobian_field(W: ArrayLike, field: str) -> NDArray[np.float64]:
    """Realified Jacobian of the balancedness constraint.

    Row block ``p`` holds the independent real coordinates (real diagonal,
    then all ``b`` components of the upper triangle) of
    ``dW_{p+1}^* W_{p+1} + W_{p+1}^* dW_{p+1} - dW_p W_p^* - W_p dW_p^*``;
    columns are the ``b N d^2`` real coordinates of ``realify(W, field, 3)``.

    Returns
    -------
    ndarray, shape (..., (N-1) (d + b d(d-1)/2), b N d^2)
    """
    W = _layers(W, field)
    N = W.shape[-3]
    d = width_of(W, field)
    E = _ambient_basis(N, d, field)  # (K, N, n, n)
    Wb = W[..., None, :, :, :]
    Wh, Eh = conj_transpose(Wb), conj_transpose(E)
    dF = (
        Eh[..., 1:, :, :] @ Wb[..., 1:, :, :]
        + Wh[..., 1:, :, :] @ E[..., 1:, :, :]
        - E[..., :-1, :, :] @ Wh[..., :-1, :, :]
        - Wb[..., :-1, :, :] @ Eh[..., :-1, :, :]
    )  # (..., K, N-1, n, n), Hermitian over F
    rows = _hermitian_coordinates(dF, field)  # (..., K, N-1, h)
    rows = rows.reshape(*rows.shape[:-2], -1)
    return np.swapaxes(rows, -1, -2)


def tangent_basis_field(W: ArrayLike, field: str) -> NDArray[np.float64]:
    """Orthonormal basis of ``T_W M_b``: null space of :func:`constraint_jacobian_field`.

    Returns
    -------
    ndarray, shape (..., b N d^2, dim M_b)
    """
    W = _layers(W, field)
    N, d = W.shape[-3], width_of(W, field)
    K = dyson_index(field) * N * d * d
    if N == 1:
        return np.broadcast_to(np.eye(K), (*W.shape[:-3], K, K)).copy()
    J = constraint_jacobian_field(W, field)
    _, _, vt = np.linalg.svd(J, full_matrices=True)
    # Full row rank on M (checked in the tests): the last K - rows right singular vectors.
    return np.swapaxes(vt[..., J.shape[-2] :, :], -1, -2)


def horizontal_basis_field(W: ArrayLike, field: str) -> NDArray[np.float64]:
    """Orthonormal basis of the horizontal space: ``T_W M_b`` minus orbit directions.

    Returns
    -------
    ndarray, shape (..., b N d^2, b d^2)
    """
    T = tangent_basis_field(W, field)
    O = orbit_tangent_basis_field(W, field)
    P = T - O @ (np.swapaxes(O, -1, -2) @ T)
    W = np.asarray(W)
    d = width_of(W, field)
    return _orthonormal_columns(P, dyson_index(field) * d * d)


def dphi_field(W: ArrayLike, Z: ArrayLike, field: str) -> NDArray:
    """Differential of ``phi`` at ``W`` applied to ``Z`` (both ``(..., N, n, n)``).

    ``dphi(Z) = sum_p W_N ... W_{p+1} Z_p W_{p-1} ... W_1``.

    Returns
    -------
    ndarray, shape (..., n, n)
    """
    W = _layers(W, field)
    Z = np.asarray(Z, dtype=W.dtype)
    N, n = W.shape[-3], W.shape[-1]
    eye = np.broadcast_to(np.eye(n, dtype=W.dtype), (*W.shape[:-3], n, n))
    right = [eye]  # right[p] = W_p ... W_1 (0-based: layers 0..p-1)
    for p in range(N - 1):
        right.append(W[..., p, :, :] @ right[-1])
    out = np.zeros((*np.broadcast_shapes(Z.shape[:-3], W.shape[:-3]), n, n), dtype=W.dtype)
    left = eye
    for p in range(N - 1, -1, -1):  # left = W_N ... W_{p+2} (0-based layers p+1..N-1)
        out = out + left @ Z[..., p, :, :] @ right[p]
        left = left @ W[..., p, :, :]
    return out
