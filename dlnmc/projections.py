"""The Jacobi projection strategy: constraint projections at the cost of the frames.

:class:`JacobiProjection` implements the :class:`dlnmc.manifold.Projection` protocol
(``factor``, ``project_tangent``, ``project_position``, ``residual_norm``) with the
Jacobi frame of :mod:`dlnmc.frames`: at a point of ``M`` the Gram operator
``K = J J^T`` is entrywise tridiagonal in the frame, so

- the factor at a point is its frames (``O(N d^3)``: a loop over depth, the cross-cluster
  directions refreshed to first order, ``refresh="perturbation"`` of
  :func:`dlnmc.frames.balanced_frames`) and the spectrum of the tridiagonal systems;
- a tangent projection is exact at the point (to rounding) and costs two layer
  rotations each way plus ``O(N d^2)``;
- a position projection solves ``F(Wt + J(W0)^T Lam) = 0`` by Newton-Krylov: each Newton
  step runs a fixed number of GMRES steps on ``J(W) J(W0)^T`` (applied, never built),
  right-preconditioned by the exact Gram solve at ``W0``. The preconditioner only decides
  how fast the residual falls: a chain stops when the largest real component of ``F``
  at the returned point is below ``tol`` (the test of
  :class:`dlnmc.constraint.BalancedConstraint`), and fails by the same rules.

Arrays in and out are in the component layout ``(C, N, d, d * b)`` of
:func:`dlnmc.constraint.pack`; the algebra runs on stored matrices (``^*`` over the field).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dlnmc._validation import check_depth, check_width
from dlnmc.constraint import BalancedConstraint, GramFactor, ProjectionResult, pack, unpack
from dlnmc.fields import REAL, Field, resolve_field
from dlnmc.frames import balanced_frames

__all__ = ["JacobiFactor", "JacobiProjection"]

# As in dlnmc.constraint: an iteration contracting by less than this fails the chain, and
# a Gram operator worse conditioned than _MAX_GRAM_COND counts as singular.
_MIN_CONTRACTION = 0.9
_MAX_GRAM_COND = 1e13


@dataclass
class JacobiFactor:
    """The Jacobi frame of a batch of points of ``M`` and the inverse spectrum of ``K``.

    Attributes
    ----------
    Q : ndarray, shape (C, N+1, n, n)
        Node frames (stored over the field).
    le : ndarray, float64, shape (C, n)
        The stored diagonal of ``L`` (``(lambda, lambda)`` for ``H``).
    inv_mu : ndarray, float64, shape (C, N-1, n, n)
        ``1 / mu_k[i, j]``: inverse eigenvalues of the tridiagonal system of entry
        ``(i, j)`` in the discrete sine basis; NaN for chains on the singular stratum
        (condition number above ``1e13``), so every projection with them fails.
    """

    Q: NDArray
    le: NDArray[np.float64]
    inv_mu: NDArray[np.float64]

    def select(self, mask: NDArray[np.bool_], other: JacobiFactor) -> JacobiFactor:
        """Per chain: this factor where ``mask``, else ``other``."""

        def pick(x, y):
            return np.where(mask.reshape((-1,) + (1,) * (x.ndim - 1)), x, y)

        return JacobiFactor(pick(self.Q, other.Q), pick(self.le, other.le),
                            pick(self.inv_mu, other.inv_mu))  # fmt: skip


class JacobiProjection:
    """Projections onto the balanced manifold in the Jacobi frame.

    Parameters
    ----------
    width, depth : int
        ``d >= 1``, ``N >= 1``.
    field : str or Field
        ``"real"``, ``"complex"`` or ``"quaternion"``.
    tol : float
        A position projection stops when every real component of ``F(W)`` is below
        ``tol`` in absolute value (as in :class:`dlnmc.constraint.BalancedConstraint`).
    max_iter : int
        Newton iterations before a projection counts as failed.
    inner : int
        GMRES steps per Newton iteration (``1``: a preconditioned chord step).
    fallback : bool
        Chains whose Newton-Krylov iteration fails are projected again, from the same
        ``(W0, Wt)``, by the block Newton solver of
        :class:`~dlnmc.constraint.BalancedConstraint` (exact Newton matrix, refreshed):
        far from ``W0`` or near the singular stratum the preconditioned iteration can
        contract too slowly where Newton still converges. Both find the root of ``F``
        along the normal space at ``W0``, so this changes which chains fail, not where
        the others land; the result is still a function of the chain's own data.
    """

    name = "jacobi"

    def __init__(
        self,
        width: int,
        depth: int,
        field: str | Field = REAL,
        *,
        tol: float = 1e-12,
        max_iter: int = 40,
        inner: int = 2,
        fallback: bool = True,
    ) -> None:
        self.field = resolve_field(field)
        self.b = self.field.b
        self.d = check_width(width)
        self.N = check_depth(depth)
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol!r}")
        if int(max_iter) < 1 or int(inner) < 1:
            raise ValueError(f"max_iter and inner must be >= 1, got {max_iter!r}, {inner!r}")
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.inner = int(inner)
        self.fallback = bool(fallback)
        self._block: BalancedConstraint | None = None
        n = self.N - 1
        # cos(k pi / N), k = 1..N-1: the spectrum of the path Laplacian in the sine basis
        self._cos = np.cos(np.pi * np.arange(1, n + 1) / self.N)[:, None, None]
        # The orthonormal discrete sine basis (type I) of the node axis, symmetric: applied
        # as one matmul on (C, N-1, n*n), faster than a transform along a strided axis.
        k = np.arange(1, n + 1)
        self._sine = np.sqrt(2.0 / self.N) * np.sin(np.pi * np.outer(k, k) / self.N)

    def __repr__(self) -> str:
        return (
            f"JacobiProjection(width={self.d}, depth={self.N}, field={self.field.name!r}, "
            f"tol={self.tol}, max_iter={self.max_iter}, inner={self.inner}, "
            f"fallback={self.fallback})"
        )

    # -- storage ------------------------------------------------------------------------
    def _unpack(self, W: NDArray[np.float64]) -> NDArray:
        if self.b == 1:
            return W
        if self.b == 2:  # components (re, im) innermost: a complex view of the same bytes
            return np.ascontiguousarray(W).view(np.complex128)
        return unpack(W, self.field)

    def _pack(self, S: NDArray) -> NDArray[np.float64]:
        if self.b == 1:
            return S
        if self.b == 2:
            return np.ascontiguousarray(S).view(np.float64)
        return pack(S, self.field)

    def _ct(self, M: NDArray) -> NDArray:
        return self.field.ct(M)

    def _cth(self, M: NDArray) -> NDArray:
        """``M^*`` as a contiguous array.

        numpy's stacked matmul does not hand a transposed view to BLAS: a product with one
        runs about three times slower (d = 16) than a copy and a product with the copy.
        """
        out = np.empty((*M.shape[:-2], M.shape[-1], M.shape[-2]), dtype=M.dtype)
        if self.b == 1:
            np.copyto(out, np.swapaxes(M, -1, -2))
        else:
            np.conjugate(np.swapaxes(M, -1, -2), out=out)
        return out

    # -- the protocol ---------------------------------------------------------------------
    def factor(self, W: NDArray[np.float64]) -> JacobiFactor:
        """Frames and inverse Gram spectrum at the points ``W`` (component layout)."""
        S = self._unpack(W)
        # First-order cross-cluster refresh instead of a batched eigh of the node Grams:
        # factors are taken on M, where it agrees with eigh to rounding (and chains far
        # from M are redone with eigh), at about a third of the cost.
        fr = balanced_frames(S, self.field, refresh="perturbation")
        le = fr.stored_lam
        a = 2.0 * (le[..., :, None] ** 2 + le[..., None, :] ** 2)
        c = -2.0 * le[..., :, None] * le[..., None, :]
        mu = a[..., None, :, :] + 2.0 * c[..., None, :, :] * self._cos
        with np.errstate(divide="ignore", invalid="ignore"):
            cond = mu.max(axis=(-3, -2, -1), initial=0.0) / mu.min(
                axis=(-3, -2, -1), initial=np.inf
            )
            inv_mu = 1.0 / mu
        inv_mu[~(cond <= _MAX_GRAM_COND)] = np.nan
        return JacobiFactor(fr.Q, le, inv_mu)

    def residual_norm(self, W: NDArray[np.float64]) -> NDArray[np.float64]:
        """``max |F(W)|`` over all real components, shape ``(C,)``."""
        S = self._unpack(W)
        return self._abs_max(self._residual(S, self._cth(S)))

    def project_tangent(
        self, W: NDArray[np.float64], V: NDArray[np.float64], factor: JacobiFactor
    ) -> NDArray[np.float64]:
        """Orthogonal projection of ``V`` onto ``T_W M``, exact at the point of the frames."""
        if self.N == 1:
            return V
        Q, le = factor.Q, factor.le
        Qh = self._cth(Q)
        Vt = Qh[..., 1:, :, :] @ self._unpack(V) @ Q[..., :-1, :, :]
        nle, lec = self._diag_factors(le)
        A = lec * Vt[..., 1:, :, :]
        A += Vt[..., :-1, :, :] * nle
        Lt = self._solve(A + self._ct(A), factor.inv_mu)
        Vt -= self._normal(nle, lec, Lt)
        return self._pack(Q[..., 1:, :, :] @ Vt @ Qh[..., :-1, :, :])

    def project_position(
        self,
        W0: NDArray[np.float64],
        Wt: NDArray[np.float64],
        factor0: JacobiFactor,
        active: NDArray[np.bool_] | None = None,
    ) -> ProjectionResult:
        """Solve ``F(Wt + J(W0)^T Lam) = 0`` along the normal space at ``W0`` (per chain).

        Newton-Krylov: Newton's matrix at the iterate ``W`` is ``M(W) = J(W) J(W0)^T``;
        each iteration runs ``inner`` GMRES steps on ``M(W) x = F(W)`` (from ``x = 0``),
        right-preconditioned by the exact Gram solve ``K(W0)^{-1}`` of the frames, and
        moves ``W <- W - J(W0)^T x``. The iteration runs in the frame of ``W0``, where
        ``J(W0)^T`` and the preconditioner are entrywise and ``F`` of the rotated iterate
        is the rotated ``F``; the frame residual only says when to look. A chain is done
        when ``max |F(W)| < tol`` at the iterate rotated back to the original coordinates
        (the point returned, so the test is on what the caller gets); if the frame
        residual is below ``tol`` and that one is not, the chain iterates on. It fails on a
        non-finite residual, growth beyond ``1e6``, an iteration that contracts the
        residual by less than 0.9, or ``max_iter`` iterations (as in
        :class:`dlnmc.constraint.BalancedConstraint`), and is then retried by the block
        solver when ``fallback`` is set.
        Every chain runs the same fixed number of Krylov steps and every decision is
        per chain, so a chain's result depends on its own ``(W0, Wt)`` only, which is
        what the reverse check of a sampler needs. Failed and inactive chains get ``W0``.

        Returns
        -------
        ProjectionResult
            ``W`` (component layout), ``converged``, ``iterations`` (Newton iterations,
            those of a block retry added).
        """
        C = Wt.shape[0]
        iters = np.zeros(C, dtype=np.int_)
        if self.N == 1:
            return ProjectionResult(Wt.copy(), np.ones(C, bool), iters)
        Q, le, inv_mu = factor0.Q, factor0.le, factor0.inv_mu
        Qh = self._cth(Q)
        S0 = self._unpack(Wt)
        St = Qh[..., 1:, :, :] @ S0 @ Q[..., :-1, :, :]  # the iterate, in the frame of W0
        Sout = np.zeros_like(S0)  # converged iterates, original coordinates
        nle, lec = self._diag_factors(le)
        pending = np.ones(C, bool) if active is None else active.copy()
        failed = ~pending
        prev = np.full(C, np.inf)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for _ in range(self.max_iter + 1):
                Sth = self._cth(St)  # shared by the residual and the Krylov steps
                Rt = self._residual(St, Sth)  # = Q^* F(W) Q up to rounding
                err = self._abs_max(Rt)
                done = np.zeros(C, bool)
                look = pending & (err < self.tol)
                if look.any():
                    # The test itself is on F at the point returned, in original coordinates.
                    idx = np.flatnonzero(look)
                    Qi, Qhi = Q[idx], Qh[idx]
                    Si = Qi[..., 1:, :, :] @ St[idx] @ Qhi[..., :-1, :, :]
                    err_o = self._abs_max(self._residual(Si, self._cth(Si)))
                    ok = err_o < self.tol
                    done[idx[ok]] = True
                    Sout[idx[ok]] = Si[ok]
                    err[idx] = err_o  # a chain that iterates on is judged by this one
                bad = ~(err < np.minimum(1e6, _MIN_CONTRACTION * prev)) & ~done
                failed |= pending & bad
                pending &= ~(done | bad)
                if not pending.any():
                    break
                prev = err
                step_t = self._gmres(Sth, nle, lec, inv_mu, Rt)
                if pending.all():  # the common case: no masked copy
                    St -= step_t
                else:
                    St = np.where(pending[:, None, None, None], St - step_t, St)
                iters += pending
        failed |= pending
        W = np.where(failed[:, None, None, None], W0, self._pack(Sout))
        retry = failed if active is None else failed & active
        if self.fallback and retry.any():
            idx = np.flatnonzero(retry)
            if self._block is None:
                self._block = BalancedConstraint(
                    self.d, self.N, tol=self.tol, max_iter=self.max_iter, mode="block",
                    field=self.field,
                )  # fmt: skip
            unused = GramFactor(None, None, None, self.N - 1, self._block.m)
            res = self._block.project_position(W0[idx], Wt[idx], unused)
            W[idx] = res.W
            failed[idx] = ~res.converged
            iters[idx] += res.iterations
        return ProjectionResult(W, ~failed, iters)

    # -- algebra ---------------------------------------------------------------------------
    @staticmethod
    def _residual(S: NDArray, Sh: NDArray) -> NDArray:
        """``F(W)`` from the stored layers ``S`` and ``Sh = S^*``."""
        R = Sh[..., 1:, :, :] @ S[..., 1:, :, :]
        R -= S[..., :-1, :, :] @ Sh[..., :-1, :, :]
        return R

    def _abs_max(self, R: NDArray) -> NDArray[np.float64]:
        """Largest real component of stored Hermitian matrices ``(C, N-1, n, n)``."""
        if self.b == 1:
            return np.abs(R).max(axis=(-3, -2, -1), initial=0.0)
        if self.b == 2:
            return np.abs(R.view(np.float64)).max(axis=(-3, -2, -1), initial=0.0)
        return np.abs(self.field.to_components(R)).max(axis=(-4, -3, -2, -1), initial=0.0)

    def _dot(self, A: NDArray, B: NDArray) -> NDArray[np.float64]:
        """``Re tr(A^* B)`` summed over the nodes, per chain (one batched dot product)."""
        C = A.shape[0]
        a, b = A.reshape(C, -1), B.reshape(C, -1)
        if self.b == 1:
            return np.vecdot(a, b)
        # Re(conj(x) y) = Re x Re y + Im x Im y: a real dot product of the float views.
        out = np.vecdot(a.view(np.float64), b.view(np.float64))
        return 0.5 * out if self.b == 4 else out  # H counts every component twice

    def _solve(self, Rt: NDArray, inv_mu: NDArray[np.float64]) -> NDArray:
        """``K~^{-1}`` in the frame: the sine basis diagonalizes every entry's system."""
        shape = Rt.shape
        flat = (shape[0], shape[1], shape[2] * shape[3])
        y = self._sine @ Rt.reshape(flat)
        y *= inv_mu.reshape(flat)
        return (self._sine @ y).reshape(shape)

    @staticmethod
    def _diag_factors(le: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
        """``-L`` acting from the right and ``L`` from the left, as full ``(C, 1, n, n)``.

        Broadcasting a full matrix along the node axis runs a contiguous inner loop,
        much faster than broadcasting ``lambda`` along one matrix axis.
        """
        C, n = le.shape
        nle = np.ascontiguousarray(np.broadcast_to(-le[:, None, None, :], (C, 1, n, n)))
        lec = np.ascontiguousarray(np.broadcast_to(le[:, None, :, None], (C, 1, n, n)))
        return nle, lec  # real: L commutes with the entries of every field

    @staticmethod
    def _normal(nle: NDArray, lec: NDArray, Lt: NDArray) -> NDArray:
        """``(J^T Lam)~_p = L Lam~_{p-1} - Lam~_p L`` in the frame (``Lam~_0 = Lam~_N = 0``).

        ``nle``, ``lec``: :meth:`_diag_factors` of the stored diagonal of ``L``.
        """
        C, n1 = Lt.shape[0], Lt.shape[-3]
        out = np.empty((C, n1 + 1, *Lt.shape[-2:]), dtype=Lt.dtype)
        np.multiply(Lt, nle, out=out[:, :-1])
        out[:, -1] = 0.0
        out[:, 1:] += lec * Lt
        return out

    def _jac(self, Sh: NDArray, Vt: NDArray) -> NDArray:
        """``J(W) V`` for ``W``, ``V`` both in the frame of the factor (frames cancel).

        ``Sh``: ``W^*`` (contiguous, :meth:`_cth`).
        """
        A = Sh[..., 1:, :, :] @ Vt[..., 1:, :, :]
        A -= Vt[..., :-1, :, :] @ Sh[..., :-1, :, :]
        return A + self._ct(A)

    def _gmres(self, Sh, nle, lec, inv_mu, Rt) -> NDArray:
        """``inner`` steps of right-preconditioned GMRES for ``J(W) J(W0)^T x = Rt``.

        ``Sh``: the iterate's ``W^*`` in the frame (contiguous).

        ``x = K^{-1} V y`` minimizes ``|Rt - M K^{-1} V y|`` over the Krylov space; what
        is returned is the Newton step ``J(W0)^T x`` in the frame, the combination of the
        normal vectors the matrix-vector products already formed (a chain with NaN
        operators gets NaN, so it fails on its own).
        """
        steps = self.inner
        C = Rt.shape[0]
        dot = self._dot
        beta = np.sqrt(dot(Rt, Rt))
        v = [Rt / np.where(beta > 0, beta, 1.0)[:, None, None, None]]
        nz: list[NDArray] = []  # J(W0)^T K^{-1} v_j
        H = np.zeros((C, steps + 1, steps))
        for j in range(steps):
            nz.append(self._normal(nle, lec, self._solve(v[j], inv_mu)))
            w = self._jac(Sh, nz[j])
            for i in range(j + 1):  # modified Gram-Schmidt
                h = dot(v[i], w)
                H[:, i, j] = h
                w -= h[:, None, None, None] * v[i]
            h = np.sqrt(dot(w, w))
            H[:, j + 1, j] = h
            if j + 1 < steps:
                v.append(w / np.where(h > 0, h, 1.0)[:, None, None, None])
        e1 = np.zeros((C, steps + 1))
        e1[:, 0] = beta
        finite = np.isfinite(H).all(axis=(-2, -1)) & np.isfinite(beta)
        y = _small_lstsq(np.where(finite[:, None, None], H, np.eye(steps + 1, steps)), e1)
        y[~finite] = np.nan
        step = y[:, 0, None, None, None] * nz[0]
        for j in range(1, steps):
            step += y[:, j, None, None, None] * nz[j]
        return step


def _small_lstsq(H: NDArray[np.float64], e: NDArray[np.float64]) -> NDArray[np.float64]:
    """Batched least squares ``min |H y - e|`` for tiny ``H (C, k+1, k)``.

    Normal equations: ``H`` is the Hessenberg matrix of a well-preconditioned Arnoldi
    process (close to the identity's), so squaring its condition number costs nothing;
    a batch with a rank-deficient ``H`` (an exact Krylov space) falls back to ``pinv``.
    """
    Ht = np.swapaxes(H, -1, -2)
    G = Ht @ H
    try:
        return np.linalg.solve(G, np.matvec(Ht, e)[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.matvec(np.linalg.pinv(H), e)
