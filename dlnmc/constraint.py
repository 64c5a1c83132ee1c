"""The balancedness constraint of the DLN, its Jacobian action and Gram solves.

``F_p(W) = W_{p+1}^T W_{p+1} - W_p W_p^T`` for ``p = 1..N-1`` (docs/guide/theory.md,
'The balanced manifold'),
symmetric, so its independent entries are the upper triangles. Instead of the
rows of a dense Jacobian we work with symmetric multipliers ``Lambda_p``: the
normal space of ``M`` at ``W`` is spanned by ``J^T Lambda`` with

    (J^T Lambda)_q = W_q Lambda_{q-1} - Lambda_q W_q     (Lambda_0 = Lambda_N = 0),

which is (half) the adjoint of the differential
``(J V)_p = 2 sym(W_{p+1}^T V_{p+1}) - 2 sym(V_p W_p^T)`` in the Frobenius inner
product. Constraint ``p`` only touches layers ``p`` and ``p+1``, so the Gram
operator ``K = J J^T`` is block-tridiagonal in ``p``:

    K(Lambda)_p = S_p Lambda_p + Lambda_p S_p - 2 W_{p+1}^T Lambda_{p+1} W_{p+1}
                  - 2 W_p Lambda_{p-1} W_p^T,           S_p = W_{p+1}^T W_{p+1} + W_p W_p^T,

with blocks of size ``m = d(d+1)/2`` in an orthonormal basis of symmetric
matrices. It is factorized by block Gaussian elimination (block Thomas) in
``O(N m^3)`` per chain, or inverted densely when ``(N-1) m`` is tiny (then a
solve is one batched mat-vec, which is what matters when numpy call overhead
dominates). The Newton matrix ``J(W) J(W0)^T`` of the projection along the
normal space at ``W0`` has the same block-tridiagonal pattern (not symmetric;
``chord_blocks``) and is factorized by block LU in the same ``O(N m^3)``.
Everything is batched over a leading chain axis, and every iterative decision
is taken per chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dlnmc._validation import check_depth, check_width
from dlnmc.fields import REAL, Field, resolve_field
from dlnmc.network import residual

__all__ = [
    "BalancedConstraint",
    "GramFactor",
    "ProjectionResult",
    "hermitian_basis",
    "pack",
    "unpack",
]

# Up to this total size (N-1) m the Gram matrix is inverted densely.
_DENSE_MAX = 40
# Up to this ambient dimension N d^2 the projections are per-chain dense matrices:
# a Newton iteration is then one batched mat-vec (overhead dominates at small sizes).
_DENSE_AMBIENT_MAX = 144
# A projection iteration that contracts the residual by less than this is a failure.
_MIN_CONTRACTION = 0.9
# The Newton matrix of a projection is refreshed (per chain) on the first two
# iterations and whenever an iteration contracts the residual by less than this.
_REFRESH_RATIO = 0.05
# A Gram matrix with a larger 1-norm condition number is treated as singular: its
# inverse has (almost) no correct digits, so projections with it mean nothing.
_MAX_GRAM_COND = 1e13


def _inv_or_nan(K: NDArray[np.float64], max_cond: float = np.inf) -> NDArray[np.float64]:
    """Batched ``inv(K)``; matrices that are singular or worse conditioned than ``max_cond``
    (1-norm) get an all-NaN inverse instead of raising for the whole batch.

    NaN operators make every projection that uses them fail (non-finite residual),
    so a chain whose proposal lands on the singular stratum of ``M`` is rejected
    while the other chains go on. The outcome depends only on that chain's ``K``.
    """
    try:
        Kinv = np.linalg.inv(K)
    except np.linalg.LinAlgError:
        # Rare path: redo chain by chain to find the singular ones.
        Kinv = np.empty_like(K)
        for i in np.ndindex(K.shape[:-2]):
            try:
                Kinv[i] = np.linalg.inv(K[i])
            except np.linalg.LinAlgError:
                Kinv[i] = np.nan
    with np.errstate(over="ignore", invalid="ignore"):
        cond = np.abs(K).sum(axis=-2).max(axis=-1) * np.abs(Kinv).sum(axis=-2).max(axis=-1)
    Kinv[~(cond <= max_cond)] = np.nan  # also catches NaN from the fallback
    return Kinv


def _iteration_status(
    err: NDArray[np.float64],
    prev: NDArray[np.float64],
    k: int,
    tol: float,
    pending: NDArray[np.bool_],
    failed: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Per-chain bookkeeping of projection iteration ``k``; updates ``pending``, ``failed``.

    A chain is done when ``err < tol``; it fails on NaN, on blow-up beyond ``1e6``, or
    when the last iteration contracted its residual by less than ``_MIN_CONTRACTION``.
    Returns the pending chains whose Newton matrix is refreshed: on the first two
    iterations and whenever the residual contracted by less than ``_REFRESH_RATIO``.
    Every decision is per chain, so a chain's projection is a function of its own
    ``(W0, Wt)`` only: the reverse check then tests the map the forward move used.
    (One function for the dense and the block projection, so they cannot drift apart.)
    """
    done = err < tol
    bad = ~(err < np.minimum(1e6, _MIN_CONTRACTION * prev)) & ~done
    failed |= pending & bad
    pending &= ~(done | bad)
    return pending & ((k < 2) | (err > _REFRESH_RATIO * prev))


def _block_lu(
    diag: NDArray[np.float64], lower: NDArray[np.float64], upper: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Block LU (block Thomas) of a block-tridiagonal matrix that need not be symmetric.

    ``diag (..., n, m, m)``; ``lower (..., n-1, m, m)``: block ``(p+1, p)``;
    ``upper (..., n-1, m, m)``: block ``(p, p+1)``. Returns ``(Si, E, F)`` for
    :func:`_block_lu_solve`: inverses of the Schur complements, the elimination
    multipliers ``E_p = L_p S_{p-1}^{-1}`` (``E_0`` unused) and ``F_p = S_p^{-1} U_p``.
    A singular or ill-conditioned Schur complement (as in :meth:`BalancedConstraint.factor`)
    makes that chain fail.
    """
    n = diag.shape[-3]
    Si = np.empty_like(diag)
    E = np.empty_like(diag)
    F = np.empty_like(upper)
    with np.errstate(invalid="ignore", over="ignore"):
        Si[..., 0, :, :] = _inv_or_nan(diag[..., 0, :, :], _MAX_GRAM_COND)
        for p in range(1, n):
            E[..., p, :, :] = lower[..., p - 1, :, :] @ Si[..., p - 1, :, :]
            F[..., p - 1, :, :] = Si[..., p - 1, :, :] @ upper[..., p - 1, :, :]
            schur = diag[..., p, :, :] - E[..., p, :, :] @ upper[..., p - 1, :, :]
            Si[..., p, :, :] = _inv_or_nan(schur, _MAX_GRAM_COND)
    return Si, E, F


def _block_lu_solve(
    Si: NDArray[np.float64], E: NDArray[np.float64], F: NDArray[np.float64], b: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Solve with the factor of :func:`_block_lu`; ``b`` and the result ``(..., n, m)``."""
    n = b.shape[-2]
    y = np.empty_like(b)
    y[..., 0, :] = b[..., 0, :]
    for p in range(1, n):
        y[..., p, :] = b[..., p, :] - np.matvec(E[..., p, :, :], y[..., p - 1, :])
    x = np.empty_like(b)
    x[..., n - 1, :] = np.matvec(Si[..., n - 1, :, :], y[..., n - 1, :])
    for p in range(n - 2, -1, -1):
        x[..., p, :] = np.matvec(Si[..., p, :, :], y[..., p, :]) - np.matvec(
            F[..., p, :, :], x[..., p + 1, :]
        )
    return x


def _sym_basis(d: int) -> NDArray[np.float64]:
    """Orthonormal basis of symmetric d x d matrices, shape ``(d*d, m)`` (Frobenius)."""
    iu, ju = np.triu_indices(d)
    m = iu.size
    T = np.zeros((d, d, m))
    k = np.arange(m)
    diag = iu == ju
    T[iu, ju, k] = np.where(diag, 1.0, np.sqrt(0.5))
    T[ju, iu, k] = np.where(diag, 1.0, np.sqrt(0.5))
    return T.reshape(d * d, m)


def hermitian_basis(d: int, field: Field) -> NDArray:
    """Orthonormal basis (real inner product) of Hermitian ``d x d`` matrices over ``field``.

    Returns
    -------
    ndarray, shape (m, n, n), ``m = field.hermitian_dimension(d)``, in the storage of the
    field. Over ``R`` the order is ``numpy.triu_indices(d)`` (the basis of
    :func:`_sym_basis`); over ``C`` and ``H`` the real diagonal comes first, then every
    component of the strict upper triangle (components innermost).
    """
    if field.b == 1:
        return np.ascontiguousarray(_sym_basis(d).T.reshape(-1, d, d))
    b = field.b
    m = field.hermitian_dimension(d)
    comps = np.zeros((m, d, d, b))
    idx = np.arange(d)
    comps[idx, idx, idx, 0] = 1.0
    iu, ju = np.triu_indices(d, 1)
    k = d
    for i, j in zip(iu, ju, strict=True):
        for c in range(b):
            comps[k, i, j, c] = np.sqrt(0.5)
            comps[k, j, i, c] = np.sqrt(0.5) if c == 0 else -np.sqrt(0.5)  # conjugate
            k += 1
    return field.from_components(comps)


def pack(W: NDArray, field: str | Field) -> NDArray[np.float64]:
    """Stored matrices ``(..., n, n)`` -> component layout ``(..., d, d * b)`` (float64).

    The component layout (real components of every entry, components innermost) is the
    coordinate system of the samplers: Euclidean there is the real inner product of the
    field, and quaternionic iterates cannot leave ``image(chi)``. Over ``R`` it is the
    storage itself.
    """
    field = resolve_field(field)
    c = field.to_components(W)  # (..., d, d, b)
    return np.ascontiguousarray(c.reshape(*c.shape[:-2], c.shape[-2] * c.shape[-1]))


def unpack(Wc: NDArray[np.float64], field: str | Field) -> NDArray:
    """Component layout ``(..., d, d * b)`` -> stored matrices (``chi`` for ``H``)."""
    field = resolve_field(field)
    d = Wc.shape[-2]
    return field.from_components(Wc.reshape(*Wc.shape[:-1], d, field.b))


@dataclass
class GramFactor:
    """A factorization of the Gram operator ``K = J J^T`` at a batch of points.

    Built by :meth:`BalancedConstraint.factor`; ``solve`` maps right-hand sides
    in symmetric coordinates ``(..., N-1, m)`` to multipliers in the same
    coordinates. Chains whose ``K`` is singular or ill-conditioned (a point on
    the singular stratum of ``M``) get all-NaN operators: every projection with
    them fails, so a sampler rejects such a proposal instead of crashing.
    """

    dense_inv: NDArray[np.float64] | None  # (..., n m, n m)
    schur_inv: NDArray[np.float64] | None  # (..., n, m, m): inverses of Schur complements
    elim: NDArray[np.float64] | None  # (..., n, m, m): E_p = B_{p-1} S_{p-1}^{-1} (E_0 unused)
    n: int
    m: int
    # Small problems: per-chain dense operators in flat coordinates (C, N d^2, ...).
    newton_map: NDArray[np.float64] | None = None  # F(W) (n d^2) -> J^T K^{-1} F (N d^2)
    tangent_proj: NDArray[np.float64] | None = None  # I - J^T K^{-1} J on R^{N d^2}
    normal: NDArray[np.float64] | None = None  # J^T as a matrix (C, N d^2, n m)

    def select(self, mask: NDArray[np.bool_], other: GramFactor) -> GramFactor:
        """Per chain: this factor where ``mask``, else ``other`` (same solver for both)."""

        def pick(x, y):
            if x is None:
                return None
            return np.where(mask.reshape((-1,) + (1,) * (x.ndim - 1)), x, y)

        # Every operator must follow the selection: a chain whose factor lost its dense
        # operators would project with a different solver than its reverse check.
        return GramFactor(
            pick(self.dense_inv, other.dense_inv),
            pick(self.schur_inv, other.schur_inv),
            pick(self.elim, other.elim),
            self.n,
            self.m,
            newton_map=pick(self.newton_map, other.newton_map),
            tangent_proj=pick(self.tangent_proj, other.tangent_proj),
            normal=pick(self.normal, other.normal),
        )

    def solve(self, b: NDArray[np.float64]) -> NDArray[np.float64]:
        """``K^{-1} b`` for ``b`` of shape ``(..., n, m)``."""
        n, m = self.n, self.m
        if n == 0:
            return b
        if self.dense_inv is not None:
            flat = b.reshape(*b.shape[:-2], n * m)
            return np.matvec(self.dense_inv, flat).reshape(b.shape)
        Si, E = self.schur_inv, self.elim
        y = np.empty_like(b)
        y[..., 0, :] = b[..., 0, :]
        for p in range(1, n):  # forward elimination
            y[..., p, :] = b[..., p, :] - np.matvec(E[..., p, :, :], y[..., p - 1, :])
        x = np.empty_like(b)
        x[..., n - 1, :] = np.matvec(Si[..., n - 1, :, :], y[..., n - 1, :])
        for p in range(n - 2, -1, -1):  # back substitution; S_p^{-1} B_p^T = E_{p+1}^T
            x[..., p, :] = np.matvec(Si[..., p, :, :], y[..., p, :]) - np.vecmat(
                x[..., p + 1, :], E[..., p + 1, :, :]
            )
        return x


@dataclass
class ProjectionResult:
    """Outcome of a Newton projection onto ``M`` for a batch of chains.

    Attributes
    ----------
    W : ndarray, shape (C, N, d, d)
        Projected points; for chains that failed, the starting point ``W0``.
    converged : ndarray of bool, shape (C,)
    iterations : ndarray of int, shape (C,)
        Newton iterations used (residual evaluations minus one).
    """

    W: NDArray[np.float64]
    converged: NDArray[np.bool_]
    iterations: NDArray[np.int_]


class BalancedConstraint:
    """The balancedness constraint for width ``d``, depth ``N`` and a field ``F``.

    All methods take ``W`` in the component layout ``(C, N, d, d * b)`` (see
    :func:`pack`; over ``R`` simply ``(C, N, d, d)``), a chain axis first (or any
    leading batch axes), ``W[..., 0, :, :] = W_1``. Internally the algebra runs in the
    storage of the field (``^T`` read as ``^*``); the constraint coordinates are an
    orthonormal real basis of Hermitian matrices (:func:`hermitian_basis`), so the
    Gram and Newton blocks are real for every field and one block LU serves all.

    Parameters
    ----------
    width, depth : int
        ``d >= 1`` and ``N >= 1``.
    tol : float
        Newton stops when every real component of ``F(W)`` is below ``tol`` in
        absolute value (stored draws then have residual below ``1e-10``).
    max_iter : int
        Newton iterations before a projection counts as failed.
    mode : {"auto", "dense", "block"}
        ``"dense"``: per-chain dense Jacobian matrices and full Newton (fast when
        ``b N d^2`` is small); ``"block"``: block-tridiagonal Gram factor and
        block-LU Newton projections (scale to large ``N``, ``d``); ``"auto"``
        picks by size. Both give the same projections (to rounding) where both
        converge.
    field : str or Field
        ``"real"`` (default), ``"complex"`` or ``"quaternion"``.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        *,
        tol: float = 1e-12,
        max_iter: int = 40,
        mode: str = "auto",
        field: str | Field = REAL,
    ) -> None:
        self.field = resolve_field(field)
        self.b = self.field.b
        self.d = check_width(width)
        self.N = check_depth(depth)
        self.n = self.N - 1
        self.m = self.field.hermitian_dimension(self.d)
        self.K = self.b * self.N * self.d * self.d  # real ambient dimension
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        # Basis (m, n, n) in storage; the coordinate map S -> <E_k, S> as one matrix.
        self._E = hermitian_basis(self.d, self.field)
        nn = self._E.shape[-1] ** 2
        Ef = self._E.reshape(self.m, nn)
        if self.b == 1:
            self._T = np.ascontiguousarray(Ef.T)  # (d^2, m), as before fields existed
        else:  # Re tr(E^* S), halved for H (chi counts every component twice)
            self._T = np.ascontiguousarray(Ef.conj().T * (0.5 if self.b == 4 else 1.0))
        self._Tt = np.ascontiguousarray(Ef)
        if mode not in ("auto", "dense", "block"):
            raise ValueError(f"mode must be 'auto', 'dense' or 'block', got {mode!r}")
        small = self.n * self.m <= _DENSE_MAX and self.K <= _DENSE_AMBIENT_MAX
        self.dense = self.n > 0 and (mode == "dense" or (mode == "auto" and small))
        self.mode = mode
        if self.dense:
            # J(W) is linear in W: J(W)[r, c] = sum_k W_k A[k, r, c]. One matmul then
            # gives the whole Jacobian matrix of every chain.
            D = self.K
            E = np.eye(D).reshape(D, self.N, self.d, self.d * self.b)
            A = self.jac(E[:, None], E[None, :])  # (k, c, n, m)
            self._A = np.ascontiguousarray(
                A.reshape(D, D, self.n * self.m).transpose(0, 2, 1).reshape(D, -1)
            )

    # -- coordinates ------------------------------------------------------------
    def unpack(self, W: NDArray[np.float64]) -> NDArray:
        """Component layout -> storage (the identity over ``R``)."""
        return W if self.b == 1 else unpack(W, self.field)

    def pack(self, S: NDArray) -> NDArray[np.float64]:
        """Storage -> component layout (the identity over ``R``)."""
        return S if self.b == 1 else pack(S, self.field)

    def to_coords(self, S: NDArray) -> NDArray[np.float64]:
        """Hermitian ``(..., n, n)`` (storage) -> orthonormal coordinates ``(..., m)``."""
        c = S.reshape(*S.shape[:-2], S.shape[-1] * S.shape[-1]) @ self._T
        return c if self.b == 1 else c.real

    def from_coords(self, c: NDArray[np.float64]) -> NDArray:
        """Coordinates ``(..., m)`` -> Hermitian matrices ``(..., n, n)`` (storage)."""
        n = self._E.shape[-1]
        return (c @ self._Tt).reshape(*c.shape[:-1], n, n)

    # -- the constraint ---------------------------------------------------------
    def residual(self, W: NDArray[np.float64]) -> NDArray:
        """``F(W)`` in storage, shape ``(..., N-1, n, n)``, Hermitian."""
        return residual(self.unpack(W), self.field)

    def residual_abs_max(self, R: NDArray) -> NDArray[np.float64]:
        """Largest real component ``max |F|`` of residuals ``R (..., N-1, n, n)``."""
        if self.b == 1:
            return np.abs(R).max(axis=(-3, -2, -1), initial=0.0)
        return np.abs(self.field.to_components(R)).max(axis=(-4, -3, -2, -1), initial=0.0)

    def residual_norm(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """``max |F(W)|`` over all real components, shape ``(...)``."""
        return self.residual_abs_max(self.residual(W))

    def jac(self, W: NDArray[np.float64], V: NDArray[np.float64]) -> NDArray[np.float64]:
        """``J(W) V`` in Hermitian coordinates, shape ``(..., N-1, m)``."""
        W, V = self.unpack(W), self.unpack(V)
        Wt = self.field.ct(W)
        M = Wt[..., 1:, :, :] @ V[..., 1:, :, :] - V[..., :-1, :, :] @ Wt[..., :-1, :, :]
        # <E_k, M + M^*> = 2 <E_k, M> for a Hermitian basis element E_k.
        return 2.0 * self.to_coords(M)

    def jac_t(self, W: NDArray[np.float64], lam: NDArray[np.float64]) -> NDArray[np.float64]:
        """Normal vector ``J^T Lambda`` from coordinates ``lam (..., N-1, m)``; layout of ``W``."""
        S = self.unpack(W)
        L = self.from_coords(lam)
        n = S.shape[-1]
        pad = np.zeros((*L.shape[:-3], 1, n, n), dtype=L.dtype)
        Lp = np.concatenate([pad, L, pad], axis=-3)  # Lambda_0 .. Lambda_N
        return self.pack(S @ Lp[..., :-1, :, :] - Lp[..., 1:, :, :] @ S)

    # -- Gram operator -----------------------------------------------------------
    def gram_blocks(
        self, W: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Diagonal blocks ``(..., N-1, m, m)`` and sub-diagonal blocks ``(..., N-2, m, m)``.

        Sub-diagonal block ``p`` couples ``Lambda_p`` (column) to row ``p+1``.
        Built from the images of the basis matrices ``E_b`` (no Kronecker products):
        entry ``(a, b)`` is ``<E_a, L(E_b)>``.
        """
        E = self._E
        W = self.unpack(W)
        ct = self.field.ct
        Wt = ct(W)
        S = Wt[..., 1:, :, :] @ W[..., 1:, :, :] + W[..., :-1, :, :] @ Wt[..., :-1, :, :]
        S = S[..., None, :, :]
        img = S @ E + E @ S  # Lambda -> S Lambda + Lambda S on each basis element
        diag = np.swapaxes(self.to_coords(img), -1, -2)
        # Row p+1 gets -2 W_{p+1} Lambda_p W_{p+1}^* (0-based: interior layers 1..N-2).
        inner = W[..., 1:-1, None, :, :]
        img = inner @ E @ ct(inner)
        sub = -2.0 * np.swapaxes(self.to_coords(img), -1, -2)
        return diag, sub

    def chord_blocks(
        self, W: NDArray[np.float64], W0: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Blocks of the Newton matrix ``J(W) J(W0)^T`` of ``Lambda -> F(W + J(W0)^T Lambda)``.

        Block-tridiagonal like the Gram operator (it is ``K`` when ``W = W0``) but not
        symmetric. Returns ``(diag (..., N-1, m, m), lower (..., N-2, m, m),
        upper (..., N-2, m, m))``; ``lower[p]`` is block ``(p+1, p)``, ``upper[p]``
        block ``(p, p+1)``, entries ``<E_a, L(E_b)>`` in the orthonormal basis.
        """
        E = self._E
        W, W0 = self.unpack(W), self.unpack(W0)
        ct = self.field.ct
        WT = ct(W)
        # Row p: sym2(W_{p+1}^* V_{p+1}) - sym2(V_p W_p^*) with V = J(W0)^T Lambda, where
        # V_q = W0_q Lambda_{q-1} - Lambda_q W0_q and sym2(M) = M + M^*.
        A = (WT[..., 1:, :, :] @ W0[..., 1:, :, :])[..., None, :, :]
        B = (W0[..., :-1, :, :] @ WT[..., :-1, :, :])[..., None, :, :]
        img = A @ E + E @ B
        diag = np.swapaxes(self.to_coords(img + ct(img)), -1, -2)
        inner, inner0 = W[..., 1:-1, None, :, :], W0[..., 1:-1, None, :, :]
        img = inner0 @ E @ ct(inner)  # Lambda_p in row p+1, via V_{p+1}
        lower = -np.swapaxes(self.to_coords(img + ct(img)), -1, -2)
        img = ct(inner) @ E @ inner0  # Lambda_{p+1} in row p, via V_{p+1}
        upper = -np.swapaxes(self.to_coords(img + ct(img)), -1, -2)
        return diag, lower, upper

    def gram_dense(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """The Gram matrix ``J J^T`` assembled densely, shape ``(..., (N-1) m, (N-1) m)``."""
        diag, sub = self.gram_blocks(W)
        n, m = self.n, self.m
        G = np.zeros((*W.shape[:-3], n, m, n, m))
        for p in range(n):
            G[..., p, :, p, :] = diag[..., p, :, :]
        for p in range(n - 1):
            G[..., p + 1, :, p, :] = sub[..., p, :, :]
            G[..., p, :, p + 1, :] = np.swapaxes(sub[..., p, :, :], -1, -2)
        return G.reshape(*W.shape[:-3], n * m, n * m)

    def factor(self, W: NDArray[np.float64]) -> GramFactor:
        """Factorize ``K = J J^T`` at ``W`` (block-tridiagonal elimination or dense inverse)."""
        n, m = self.n, self.m
        if n == 0:
            return GramFactor(None, None, None, 0, m)
        if self.dense:
            return self._dense_factor(W)
        if self.mode == "auto" and n * m <= _DENSE_MAX:
            return GramFactor(_inv_or_nan(self.gram_dense(W), _MAX_GRAM_COND), None, None, n, m)
        diag, sub = self.gram_blocks(W)
        Si = np.empty_like(diag)
        E = np.empty_like(diag)
        Si[..., 0, :, :] = _inv_or_nan(diag[..., 0, :, :], _MAX_GRAM_COND)
        with np.errstate(invalid="ignore"):  # NaN blocks of singular chains propagate
            for p in range(1, n):
                B = sub[..., p - 1, :, :]  # block (p, p-1)
                E[..., p, :, :] = B @ Si[..., p - 1, :, :]
                schur = diag[..., p, :, :] - E[..., p, :, :] @ np.swapaxes(B, -1, -2)
                Si[..., p, :, :] = _inv_or_nan(schur, _MAX_GRAM_COND)
        # One singular Schur complement makes the whole factor of that chain NaN.
        bad = np.isnan(Si).any(axis=(-3, -2, -1))
        Si[bad], E[bad] = np.nan, np.nan
        return GramFactor(None, Si, E, n, m)

    def jac_matrix(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """``J(W)`` as a matrix ``(C, n m, b N d^2)`` on the flat component layout (dense)."""
        C = W.shape[0]
        D = self.K
        return (W.reshape(C, D) @ self._A).reshape(C, self.n * self.m, D)

    def normal_matrix(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """Columns ``J^T e_k`` for the coordinate basis ``e_k``: shape ``(..., b N d^2, n m)``."""
        n, m = self.n, self.m
        lam = np.eye(n * m).reshape(n * m, n, m)
        cols = self.jac_t(W[..., None, :, :, :], lam)  # (..., n m, N, d, d b)
        return np.swapaxes(cols.reshape(*W.shape[:-3], n * m, self.K), -1, -2)

    def _dense_factor(self, W: NDArray[np.float64]) -> GramFactor:
        n, m = self.n, self.m
        J = self.jac_matrix(W)
        # Our J^T (normal vectors) is half the Frobenius adjoint of J.
        Jt = 0.5 * np.swapaxes(J, -1, -2)
        Kinv = _inv_or_nan(J @ Jt, _MAX_GRAM_COND)
        bad = np.isnan(Kinv).any(axis=(-2, -1))
        Jt[bad] = np.nan  # the projections of a singular chain must fail too
        JtKinv = Jt @ Kinv
        tangent_proj = np.eye(self.K) - JtKinv @ J
        return GramFactor(Kinv, None, None, n, m, None, tangent_proj, Jt)

    # -- projections ---------------------------------------------------------------
    def project_tangent(
        self, W: NDArray[np.float64], V: NDArray[np.float64], factor: GramFactor
    ) -> NDArray[np.float64]:
        """Orthogonal projection of ``V`` onto the tangent space ``T_W M``."""
        if self.n == 0:
            return V
        if factor.tangent_proj is not None:
            flat = V.reshape(V.shape[0], -1)
            return np.matvec(factor.tangent_proj, flat).reshape(V.shape)
        return V - self.jac_t(W, factor.solve(self.jac(W, V)))

    def project_position(
        self,
        W0: NDArray[np.float64],
        Wt: NDArray[np.float64],
        factor0: GramFactor,
        active: NDArray[np.bool_] | None = None,
    ) -> ProjectionResult:
        """Solve ``F(Wt + J(W0)^T Lambda) = 0`` for ``Lambda`` by Newton / chord iterations.

        The correction moves only along the normal space at ``W0`` (the RATTLE /
        Zappa et al. projection): ``W <- W - J(W0)^T M^{-1} F(W)`` with the Newton
        matrix ``M = J(W) J(W0)^T`` refreshed on the first two iterations and
        whenever an iteration contracts the residual by less than
        ``_REFRESH_RATIO``, frozen (chord method) otherwise. Small problems
        invert ``M`` densely; large ones factor it by block-tridiagonal LU
        (``O(N m^3)``). (The Gram factor ``K(W0) = M(W0)`` alone is not enough:
        near the singular stratum of ``M`` it differs from ``M(W)`` by more than
        ``K`` itself and the iteration diverges.) Every decision is per chain, so
        a chain's result depends on its own ``(W0, Wt)`` only. A chain fails if
        its residual is non-finite, grows beyond ``1e6``, contracts by less than
        ``_MIN_CONTRACTION`` in one iteration, or is not below ``tol`` after
        ``max_iter`` iterations; failed chains (and inactive ones) get ``W0`` back.

        Parameters
        ----------
        W0 : ndarray, shape (C, N, d, d)
            Points on ``M`` whose normal space is used.
        Wt : ndarray, shape (C, N, d, d)
            Points to project.
        factor0 : GramFactor
            ``factor(W0)``.
        active : ndarray of bool, shape (C,), optional
            Chains to project; the others are returned unchanged as failures.
        """
        C = Wt.shape[0]
        iters = np.zeros(C, dtype=np.int_)
        if self.n == 0:
            return ProjectionResult(Wt.copy(), np.ones(C, bool), iters)
        if factor0.normal is not None:
            return self._project_dense(W0, Wt, factor0, active)
        W = Wt.copy()
        pending = np.ones(C, bool) if active is None else active.copy()
        failed = ~pending
        prev = np.full(C, np.inf)
        lu: tuple[NDArray[np.float64], ...] = ()  # per-chain block LU of J(W) J(W0)^T
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(self.max_iter + 1):
                R = self.residual(W)
                err = self.residual_abs_max(R)
                refresh = _iteration_status(err, prev, k, self.tol, pending, failed)
                if not pending.any():
                    break
                prev = err
                if refresh.any():  # always at k = 0, so every pending chain has a factor
                    idx = np.flatnonzero(refresh)
                    new = _block_lu(*self.chord_blocks(W[idx], W0[idx]))
                    if not lu:
                        lu = tuple(np.zeros((C, *a.shape[1:])) for a in new)
                    for a, b in zip(lu, new, strict=True):
                        a[idx] = b
                idx = np.flatnonzero(pending)
                lam = _block_lu_solve(*(a[idx] for a in lu), self.to_coords(R[idx]))
                W[idx] -= self.jac_t(W0[idx], lam)
                iters += pending
        failed |= pending  # out of iterations
        W = np.where(failed[:, None, None, None], W0, W)
        return ProjectionResult(W, ~failed, iters)

    def _project_dense(self, W0, Wt, factor0, active) -> ProjectionResult:
        """Chord-Newton in flat coordinates; ``F(W) = J(W) W / 2`` (F is quadratic)."""
        C = Wt.shape[0]
        shape = Wt.shape
        iters = np.zeros(C, dtype=np.int_)
        Jt0 = factor0.normal
        W = Wt.reshape(C, -1).copy()
        pending = np.ones(C, bool) if active is None else active.copy()
        failed = ~pending
        prev = np.full(C, np.inf)
        Minv = None
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(self.max_iter + 1):
                J = self.jac_matrix(W)
                rc = 0.5 * np.matvec(J, W)  # F(W) in orthonormal symmetric coordinates
                err = np.abs(rc).max(axis=-1)
                # Newton while far away or contracting slowly, then the chord method
                # (matrix frozen): each refresh costs a batched inverse.
                refresh = _iteration_status(err, prev, k, self.tol, pending, failed)
                if not pending.any():
                    break
                prev = err
                if refresh.any():
                    idx = np.flatnonzero(refresh)
                    if Minv is None:
                        Minv = np.zeros((C, *Jt0.shape[-1:], Jt0.shape[-1]))
                    # a singular chord matrix fails that chain
                    Minv[idx] = _inv_or_nan(J[idx] @ Jt0[idx])
                lam = np.matvec(Minv, rc)
                W -= np.matvec(Jt0, lam) * pending[:, None]
                iters += pending
        failed |= pending
        W = np.where(failed[:, None], W0.reshape(C, -1), W).reshape(shape)
        return ProjectionResult(W, ~failed, iters)
