"""The Deep Linear Network over R, C, H: end-to-end map, balanced factorizations, gauge orbits.

Conventions (docs/guide/theory.md, 'Conventions' and 'The balanced manifold';
docs/guide/fields.md): layers ``W`` have shape ``(..., N, n, n)`` in
the storage of the field (:mod:`dlnmc.fields`; ``n = 2d`` for H), ``W[..., 0, :, :] = W_1``
the layer applied first, ``X = phi(W) = W_N ... W_1``. The balanced manifold ``M_b`` is cut
out by ``W_{p+1}^* W_{p+1} = W_p W_p^*`` (``p = 1..N-1``) with ``X`` invertible. The gauge
group ``G_d^{N-1}`` (``G_d = O_d, U_d, Sp_d``) acts by ``W_p -> U_p W_p U_{p-1}^*``
(``U_0 = U_N = I``). Real coordinates of the ambient space ``R^{b N d^2}`` are those of
``field.realify(W, n_axes=3)`` (layer, row, col, component). Every public function takes
``field="real"`` (a name or a :class:`~dlnmc.fields.Field`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_layers
from dlnmc.fields import REAL, Field, resolve_field

__all__ = [
    "balanced_dimension",
    "balanced_factorization",
    "balancedness_residual",
    "constraint_jacobian",
    "dphi",
    "end_to_end",
    "gauge_action",
    "horizontal_basis",
    "log_orbit_gram",
    "orbit_tangent_basis",
    "orbit_tangent_vectors",
    "phi",
    "product",
    "residual",
    "tangent_basis",
]

FieldLike = str | Field

#: Tolerance of the unitarity check on user-supplied gauges: max |Q^* Q - I|.
_ORTHOGONAL_TOL = 1e-10


def layers(W: ArrayLike, field: Field, name: str = "W") -> NDArray:
    """``W`` validated as stored layers ``(..., N, n, n)`` over ``field`` (float64 over R)."""
    if field.b == 1:
        return check_layers(W, name)
    W = field.check_matrix(W, name, n_axes=3)
    if W.shape[-3] < 1:
        raise ValueError(f"{name} must have depth N >= 1 layers, got shape {W.shape}")
    return W


def end_to_end(W: ArrayLike, field: FieldLike = REAL) -> NDArray:
    """End-to-end matrix ``X = W_N...W_1``.

    Parameters
    ----------
    W : array_like, shape (..., N, n, n)
        Layers, ``W[..., 0, :, :] = W_1``.
    field : str or Field

    Returns
    -------
    ndarray, shape (..., n, n)
    """
    return product(layers(W, resolve_field(field)))


phi = end_to_end  # the paper's name for the end-to-end map


def product(W: NDArray) -> NDArray:
    """``W_N ... W_1`` of stored layers ``(..., N, n, n)`` without validation (hot paths).

    The one end-to-end product of the package: the same matmuls for every field.
    """
    X = W[..., 0, :, :]
    for p in range(1, W.shape[-3]):  # loop over layers, vectorized over the batch
        X = W[..., p, :, :] @ X
    return X


def residual(W: NDArray, field: Field) -> NDArray:
    """``W_{p+1}^* W_{p+1} - W_p W_p^*`` of stored layers without validation (hot paths).

    The one balancedness residual of the package, shape ``(..., N-1, n, n)``.
    """
    Wh = field.ct(W)
    return Wh[..., 1:, :, :] @ W[..., 1:, :, :] - W[..., :-1, :, :] @ Wh[..., :-1, :, :]


def balanced_dimension(width: int, depth: int, field: FieldLike = REAL) -> int:
    """``dim M_b = b d^2 + (N-1) dim G_d`` (``d^2 + (N-1) d(d-1)/2`` over R)."""
    f = resolve_field(field)
    d, N = check_depth(width, "width"), check_depth(depth)
    return f.b * d * d + (N - 1) * f.group_dimension(d)


def check_unitary(Q: ArrayLike, field: Field, name: str) -> NDArray:
    """Return ``Q`` (..., n, n) in storage if finite and in ``G_d`` to 1e-10, else raise.

    A non-unitary gauge leaves the orbit silently: the result would not be
    balanced and ``phi`` would change.
    """
    Q = np.asarray(Q)
    if Q.size == 0:  # N = 1: no gauge factors
        return Q.astype(field.dtype, copy=False)
    Q = field.check_matrix(Q, name)
    err = np.abs(field.ct(Q) @ Q - np.eye(Q.shape[-1])).max()
    if not err <= _ORTHOGONAL_TOL:
        kind = "orthogonal" if field.b == 1 else "unitary"
        raise ValueError(
            f"{name} must be {kind} (Q^* Q = I to {_ORTHOGONAL_TOL:g}); "
            f"max |Q^* Q - I| = {err:.3g}"
        )
    return Q


def balanced_factorization(
    X: ArrayLike,
    depth: int,
    gauge: ArrayLike | None = None,
    rng: np.random.Generator | int | None = None,
    field: FieldLike = REAL,
) -> NDArray:
    """A balanced ``W`` with ``phi(W) = X``.

    ``X = U diag(s) V^*`` (:meth:`Field.svd`), ``Lambda = diag(s)^{1/N}``,
    ``W_p = Q_p Lambda Q_{p-1}^*`` with ``Q_0 = V``, ``Q_N = U`` and ``Q_1..Q_{N-1}`` the
    gauge (docs/guide/theory.md, 'The balanced manifold', and docs/guide/fields.md).

    Parameters
    ----------
    X : array_like, shape (..., n, n)
        Invertible end-to-end matrices in the storage of ``field``.
    depth : int
        ``N >= 1``.
    gauge : array_like, shape (..., N-1, n, n), optional
        ``Q_1..Q_{N-1}`` in ``G_d``. If omitted: Haar-random when ``rng`` is given,
        else ``Q_p = U`` for all ``p`` (the symmetric choice).
    rng : numpy.random.Generator or int, optional
        Draw the gauge from Haar measure on ``G_d^{N-1}``, which makes ``W`` a uniform
        point of the orbit ``O_X``.
    field : str or Field

    Returns
    -------
    ndarray, shape (..., N, n, n)
    """
    f = resolve_field(field)
    N = check_depth(depth)
    X = f.check_matrix(X)
    f.singular_values(X)  # raises on singular X
    U, s, V = f.svd(X)
    lam = f.expand_diagonal(s ** (1.0 / N))
    batch, n = X.shape[:-2], X.shape[-1]
    if gauge is not None:
        Q = np.asarray(gauge)
        if Q.ndim < 3 or Q.shape[-3:] != (N - 1, n, n):
            raise ValueError(f"gauge must have shape (..., {N - 1}, {n}, {n}), got {Q.shape}")
        Q = check_unitary(Q, f, "gauge")
        Q = np.broadcast_to(Q, (*batch, N - 1, n, n))
    elif rng is not None:
        Q = f.haar(f.width_of(X), (*batch, N - 1), rng)
    else:
        Q = np.broadcast_to(U[..., None, :, :], (*batch, N - 1, n, n))
    frames = np.concatenate([V[..., None, :, :], Q.astype(U.dtype), U[..., None, :, :]], -3)
    # W_p = Q_p diag(lam) Q_{p-1}^*
    return (frames[..., 1:, :, :] * lam[..., None, None, :]) @ f.ct(frames[..., :-1, :, :])


def balancedness_residual(W: ArrayLike, field: FieldLike = REAL) -> NDArray:
    """``W_{p+1}^* W_{p+1} - W_p W_p^*`` for ``p = 1..N-1``.

    Returns
    -------
    ndarray, shape (..., N-1, n, n)
        Hermitian; zero exactly on the balanced variety.
    """
    f = resolve_field(field)
    return residual(layers(W, f), f)


def gauge_action(U: ArrayLike, W: ArrayLike, field: FieldLike = REAL) -> NDArray:
    """Act by ``U = (U_1..U_{N-1}) in G_d^{N-1}``: ``W_p -> U_p W_p U_{p-1}^*``, ``U_0 = U_N = I``.

    Parameters
    ----------
    U : array_like, shape (..., N-1, n, n)
    W : array_like, shape (..., N, n, n)

    Returns
    -------
    ndarray, shape (..., N, n, n)
        Same end-to-end matrix, still balanced if ``W`` was.
    """
    f = resolve_field(field)
    W = layers(W, f)
    N, n = W.shape[-3], W.shape[-1]
    U = np.asarray(U)
    if U.ndim < 3 or U.shape[-3:] != (N - 1, n, n):
        raise ValueError(f"U must have shape (..., {N - 1}, {n}, {n}), got {U.shape}")
    U = check_unitary(U, f, "U")
    eye = np.broadcast_to(np.eye(n, dtype=W.dtype), (*U.shape[:-3], 1, n, n))
    full = np.concatenate([eye, U.astype(W.dtype, copy=False), eye], axis=-3)
    return full[..., 1:, :, :] @ W @ f.ct(full[..., :-1, :, :])


def orbit_tangent_vectors(W: ArrayLike, field: FieldLike = REAL) -> NDArray:
    """Images of an orthonormal basis of ``g^{N-1}`` under the orbit map's differential.

    ``B in g^{N-1}`` gives ``dW_p = B_p W_p - W_p B_{p-1}`` (``B_0 = B_N = 0``). The basis
    of ``g`` is :meth:`Field.lie_algebra_basis` (orthonormal for ``Re tr(A^* B)``).

    Returns
    -------
    ndarray, shape (..., (N-1) dim G_d, N, n, n)
        Vector ``q * m + k`` is generator ``k`` placed in factor ``q + 1``.
    """
    f = resolve_field(field)
    W = layers(W, f)
    N, n = W.shape[-3], W.shape[-1]
    E = f.lie_algebra_basis(f.width_of(W))
    m = E.shape[0]
    out = np.zeros((*W.shape[:-3], (N - 1) * m, N, n, n), dtype=W.dtype)
    for q in range(N - 1):  # generator in U_{q+1} moves layers q+1 (left) and q+2 (right)
        rows = slice(q * m, (q + 1) * m)
        out[..., rows, q, :, :] = E @ W[..., None, q, :, :]
        out[..., rows, q + 1, :, :] = -(W[..., None, q + 1, :, :] @ E)
    return out


def log_orbit_gram(W: ArrayLike, field: FieldLike = REAL) -> NDArray[np.float64]:
    """``log sqrt(det Gram)`` of the realified orbit tangent vectors in ``R^{b N d^2}``.

    With the group volume this gives the orbit volume independently of the closed form:
    ``log vol(O_X) = (N-1) log vol(G_d) + log_orbit_gram(W)`` (the action is isometric, so
    the Gram determinant is constant on the orbit).

    Returns
    -------
    ndarray, shape (...)
    """
    f = resolve_field(field)
    T = f.realify(orbit_tangent_vectors(W, f), n_axes=3)
    if T.shape[-2] == 0:
        return np.zeros(T.shape[:-2])
    return 0.5 * np.linalg.slogdet(T @ np.swapaxes(T, -1, -2))[1]


def orthonormal_columns(A: NDArray[np.float64], rank: int) -> NDArray[np.float64]:
    """First ``rank`` left singular vectors of ``A`` (..., n, k)."""
    u, _, _ = np.linalg.svd(A, full_matrices=False)
    return u[..., :rank]


def orbit_tangent_basis(W: ArrayLike, field: FieldLike = REAL) -> NDArray[np.float64]:
    """Orthonormal basis of the (realified) orbit tangent space at a point with invertible X.

    Returns
    -------
    ndarray, shape (..., b N d^2, (N-1) dim G_d)
        Columns in the real coordinates ``field.realify(W, n_axes=3)``.
    """
    f = resolve_field(field)
    T = f.realify(orbit_tangent_vectors(W, f), n_axes=3)
    return orthonormal_columns(np.swapaxes(T, -1, -2), T.shape[-2])


def constraint_jacobian(W: ArrayLike, field: FieldLike = REAL) -> NDArray[np.float64]:
    """Dense (realified) Jacobian of the balancedness constraint.

    The constraint is ``F_p(W) = W_{p+1}^* W_{p+1} - W_p W_p^*`` for ``p = 1..N-1``, its
    differential ``dW_{p+1}^* W_{p+1} + W_{p+1}^* dW_{p+1} - dW_p W_p^* - W_p dW_p^*``.
    Rows of block ``p`` are the independent real entries of that Hermitian matrix: the
    upper triangle in ``numpy.triu_indices(d)`` order, the diagonal's real part and every
    component of an off-diagonal entry (components innermost); columns are the real
    coordinates of ``field.realify(W, n_axes=3)``. A dense reference; samplers use the
    block structure of :mod:`dlnmc.constraint` instead.

    Returns
    -------
    ndarray, shape (..., (N-1) (d + b d(d-1)/2), b N d^2)
    """
    f = resolve_field(field)
    W = layers(W, f)
    N, d = W.shape[-3], f.width_of(W)
    K = f.b * N * d * d
    E = f.from_components(np.eye(K).reshape(K, N, d, d, f.b))  # ambient basis, stored
    Wb = W[..., None, :, :, :]
    Wh, Eh = f.ct(Wb), f.ct(E)
    dF = (
        Eh[..., 1:, :, :] @ Wb[..., 1:, :, :]
        + Wh[..., 1:, :, :] @ E[..., 1:, :, :]
        - E[..., :-1, :, :] @ Wh[..., :-1, :, :]
        - Wb[..., :-1, :, :] @ Eh[..., :-1, :, :]
    )  # (..., K, N-1, n, n), Hermitian
    c = f.to_components(dF)  # (..., K, N-1, d, d, b)
    iu, ju = np.triu_indices(d)
    upper = c[..., iu, ju, :]  # (..., K, N-1, m_full, b)
    keep = (iu != ju)[:, None] | (np.arange(f.b) == 0)[None, :]  # drop Im of the diagonal
    rows = upper[..., keep].reshape(*upper.shape[:-3], -1)
    return np.swapaxes(rows, -1, -2)


def tangent_basis(W: ArrayLike, field: FieldLike = REAL) -> NDArray[np.float64]:
    """Orthonormal basis of ``T_W M_b`` (null space of :func:`constraint_jacobian`).

    Returns
    -------
    ndarray, shape (..., b N d^2, dim M_b)
    """
    f = resolve_field(field)
    W = layers(W, f)
    N, d = W.shape[-3], f.width_of(W)
    K = f.b * N * d * d
    if N == 1:
        return np.broadcast_to(np.eye(K), (*W.shape[:-3], K, K)).copy()
    J = constraint_jacobian(W, f)
    _, _, vt = np.linalg.svd(J, full_matrices=True)
    # J has full row rank on M; the remaining right singular vectors span its null space.
    return np.swapaxes(vt[..., J.shape[-2] :, :], -1, -2)


def horizontal_basis(W: ArrayLike, field: FieldLike = REAL) -> NDArray[np.float64]:
    """Orthonormal basis of the horizontal space: ``T_W M_b`` minus orbit directions.

    Returns
    -------
    ndarray, shape (..., b N d^2, b d^2)
    """
    f = resolve_field(field)
    T = tangent_basis(W, f)
    O = orbit_tangent_basis(W, f)
    # Project the tangent basis off the orbit directions; what is left spans b d^2 dims.
    P = T - O @ (np.swapaxes(O, -1, -2) @ T)
    d = f.width_of(np.asarray(W))
    return orthonormal_columns(P, f.b * d * d)


def dphi(W: ArrayLike, Z: ArrayLike, field: FieldLike = REAL) -> NDArray:
    """Differential of ``phi`` at ``W`` applied to ``Z`` (both ``(..., N, n, n)``).

    ``dphi(Z) = sum_p W_N ... W_{p+1} Z_p W_{p-1} ... W_1``.

    Returns
    -------
    ndarray, shape (..., n, n)
    """
    f = resolve_field(field)
    W = layers(W, f)
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
