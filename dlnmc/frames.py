"""The Jacobi frame of a balanced network: exact Gram solves at the cost of the frames.

At a point of the balanced manifold ``M`` every layer is ``W_p = Q_p L Q_{p-1}^*`` with
one real diagonal ``L = diag(lambda)``, ``lambda = s^(1/N)`` (docs/guide/theory.md,
'Structure used by the samplers: the Jacobi frame'; node ``p`` sits between layers ``p``
and ``p+1`` and carries ``Q_p``, unitary over ``F``).

Conventions (the ones of :mod:`dlnmc.constraint` for every field,
written on stored matrices so that one code path serves ``R``, ``C`` and ``H``):

- the constraint ``F_p(W) = W_{p+1}^* W_{p+1} - W_p W_p^*`` (``p = 1..N-1``), Hermitian;
- its differential ``J(W) V``: ``(J V)_p = sym2(W_{p+1}^* V_{p+1} - V_p W_p^*)`` with
  ``sym2(A) = A + A^*`` (:func:`constraint_jac`);
- normal vectors from Hermitian multipliers ``Lam_1..Lam_{N-1}`` (``Lam_0 = Lam_N = 0``):
  ``(J^T Lam)_q = W_q Lam_{q-1} - Lam_q W_q`` (:func:`constraint_jac_t`). This is *half*
  the adjoint of ``J`` for the real inner products ``Re tr(V^* W)`` (layers) and
  ``Re tr(A^* B)`` (multipliers); for ``H`` both carry the same factor 1/2 of the complex
  representation, so the statement holds for every field;
- the Gram operator ``K = J J^T`` is the composition of the two (:func:`gram_apply`).
  In any orthonormal coordinates ``c`` of the Hermitian matrices (those of
  ``BalancedConstraint.to_coords`` over ``R``, ``hermitian_coords`` over ``C``/``H``) its
  matrix is ``c K c^T``: this is ``BalancedConstraint.gram_dense`` over ``R``, and half
  the ``J J^T`` that ``FieldBalancedConstraint`` builds from its matrix Jacobian (that
  class uses the full adjoint as ``J^T``). The tangent projection
  ``V - J^T K^{-1} J V`` does not depend on that factor.

Derivation. Put ``Lam~_p = Q_p^* Lam_p Q_p`` and ``V~_p = Q_p^* V_p Q_{p-1}``. Then

    (J^T Lam)~_p = L Lam~_{p-1} - Lam~_p L,
    Q_p^* (J V)_p Q_p = sym2(L V~_{p+1} - V~_p L),

so ``(K Lam)~_p = 2 [L^2 Lam~_p + Lam~_p L^2 - L Lam~_{p-1} L - L Lam~_{p+1} L]`` and, entry
by entry (``L`` is real, so it commutes with the entries of any field),

    (K Lam)~_p[i, j] = 2 (lambda_i^2 + lambda_j^2) Lam~_p[i, j]
                       - 2 lambda_i lambda_j (Lam~_{p-1}[i, j] + Lam~_{p+1}[i, j]).

Each entry is an independent symmetric tridiagonal system of size ``N-1`` with *real*
coefficients that do not depend on ``p`` (one per pair ``i <= j``; the entry ``(j, i)`` is
its conjugate and solves the same system). For ``C`` the entries are complex and for
``H`` they are the ``2 x 2`` complex blocks of the representation ``chi``: in storage
the same formula holds entrywise with the stored diagonal ``(lambda, lambda)``. The
``(i, i)`` system has eigenvalues ``8 lambda_i^2 sin^2(k pi / 2N)``, so it loses rank
only as ``lambda_i -> 0``: the singular stratum. A solve costs the frames (``O(N d^3)``,
once per point) plus ``O(N d^2)`` per right-hand side (batched Thomas sweeps, a loop
over depth only; or a discrete sine transform, since the coefficients are constant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike, NDArray

from dlnmc.fields import Field, resolve_field

__all__ = [
    "BalancedFrames",
    "JacobiGram",
    "PositionProjection",
    "balanced_frames",
    "constraint_jac",
    "constraint_jac_t",
    "gram_apply",
    "jacobi_gram",
    "project_position_jacobi",
    "tangent_projection",
]

# Stored diagonal entries closer than this (relative to the larger one) are one cluster.
# Inside a cluster the frame is carried from layer to layer: a rotation error there grows
# by at most (1 + tol^2 / 2) per layer and costs (gap x error) in W = Q L Q^*, i.e.
# rounding times (1 + tol N). Across clusters it is reset from each layer's SVD, whose
# vectors are accurate to rounding / gap <= rounding / tol. 0.05 balances the two for
# depths up to ~1000 (both below ~50 eps).
_CLUSTER_TOL = 0.05
# A Gram operator worse conditioned than this is treated as singular (the value the
# constraint module uses for its block and dense factors).
_MAX_GRAM_COND = 1e13
# refresh="perturbation": a chain whose first-order cross-cluster correction exceeds this
# anywhere is redone with eigh (the neglected second order, ~ its square, must stay
# below rounding).
_MAX_FIRST_ORDER = 1e-8


def _check_layers(W: ArrayLike, field: Field, name: str = "W") -> NDArray:
    """Stored layers ``(..., N, n, n)`` as an array of the field's dtype (finite, square)."""
    W = np.asarray(W)
    if W.ndim < 3 or W.shape[-1] != W.shape[-2]:
        raise ValueError(f"{name} must have shape (..., N, n, n), got {W.shape}")
    if field.b == 1 and np.iscomplexobj(W):
        raise ValueError(f"{name} is complex but the field is real")
    if field.b == 4 and W.shape[-1] % 2:
        raise ValueError(f"{name}: quaternionic layers are stored as (2d, 2d), got {W.shape}")
    W = np.asarray(W, dtype=field.dtype)
    if not np.all(np.isfinite(W)):
        raise ValueError(f"{name} has non-finite entries")
    return W


# -- the constraint on stored matrices -----------------------------------------------------
def constraint_jac(W: NDArray, V: NDArray, field: str | Field = "real") -> NDArray:
    """``J(W) V``, the differential of ``F``: Hermitian, shape ``(..., N-1, n, n)``.

    ``(J V)_p = sym2(W_{p+1}^* V_{p+1} - V_p W_p^*)``, ``sym2(A) = A + A^*`` (stored
    matrices over ``field``; ``W`` and ``V`` broadcast).
    """
    f = resolve_field(field)
    Wh = f.ct(W)
    A = Wh[..., 1:, :, :] @ V[..., 1:, :, :] - V[..., :-1, :, :] @ Wh[..., :-1, :, :]
    return A + f.ct(A)


def constraint_jac_t(W: NDArray, Lam: NDArray, field: str | Field = "real") -> NDArray:
    """Normal vector ``(J^T Lam)_q = W_q Lam_{q-1} - Lam_q W_q``, shape of ``W``.

    ``Lam (..., N-1, n, n)`` Hermitian multipliers; half the adjoint of
    :func:`constraint_jac` for the real inner products (see the module docstring).
    """
    resolve_field(field)  # the formula is the same over every field
    pad = np.zeros((*Lam.shape[:-3], 1, *Lam.shape[-2:]), dtype=Lam.dtype)
    Lp = np.concatenate([pad, Lam, pad], axis=-3)  # Lam_0 .. Lam_N
    return W @ Lp[..., :-1, :, :] - Lp[..., 1:, :, :] @ W


def gram_apply(W: NDArray, Lam: NDArray, field: str | Field = "real") -> NDArray:
    """``K Lam = J(W) J(W)^T Lam`` at any ``W`` (``O(N d^3)``), Hermitian ``(..., N-1, n, n)``."""
    return constraint_jac(W, constraint_jac_t(W, Lam, field), field)


# -- frames --------------------------------------------------------------------------------
def _antiunitary(u: NDArray) -> NDArray:
    """The quaternionic structure ``K u = (-conj(bottom), conj(top))`` on columns of ``C^{2d}``.

    Column ``k`` of ``chi(Q)`` is mapped to column ``d + k``; ``K`` commutes with ``chi(H)``.
    """
    m = u.shape[-2] // 2
    return np.concatenate([-u[..., m:, :].conj(), u[..., :m, :].conj()], axis=-2)


def _quaternion_right_frame(X: NDArray, rtol: float = 1e3 * np.finfo(float).eps) -> NDArray:
    """Right singular frame of ``chi(X)`` in ``chi(Sp(d))``, accurate inside near-clusters.

    Like ``Field.svd`` for ``H`` (pick, per quaternionic singular value, the vector of its
    cluster least explained by those already chosen and their ``K`` images), but with a
    cluster tolerance at rounding level: distinct quaternionic singular values closer than
    ``Field.svd``'s ``1e-9 s_max`` then keep their own vectors, which the frame needs
    (a frame mixing two values ``g`` apart misses ``W = Q L Q^*`` by about ``g``).
    """
    _, sig, Vh = np.linalg.svd(X)
    V = np.swapaxes(Vh.conj(), -1, -2)
    d = X.shape[-1] // 2
    s = sig[..., ::2]
    tol = rtol * sig[..., :1]
    chosen = np.zeros((*X.shape[:-2], 2 * d, 0), dtype=np.complex128)
    for k in range(d):  # loop over the width, vectorized over the batch
        R = V - chosen @ (np.swapaxes(chosen.conj(), -1, -2) @ V)
        score = np.where(np.abs(sig - s[..., k : k + 1]) <= tol, np.linalg.norm(R, axis=-2), -1.0)
        v = np.take_along_axis(R, np.argmax(score, axis=-1)[..., None, None], axis=-1)
        v = v / np.linalg.norm(v, axis=-2, keepdims=True)
        chosen = np.concatenate([chosen, v, _antiunitary(v)], axis=-1)
    cols = chosen[..., 0::2]
    return np.concatenate([cols, _antiunitary(cols)], axis=-1)


@dataclass(frozen=True)
class BalancedFrames:
    """Frames ``Q_0..Q_N`` and the common diagonal ``lambda`` of balanced networks.

    Attributes
    ----------
    Q : ndarray, shape (..., N+1, n, n)
        ``Q[..., p]`` is the frame of node ``p`` (unitary over the field, stored).
    lam : ndarray, float64, shape (..., d)
        ``lambda = s^(1/N)``, descending (each once for ``H``).
    field : Field
    residual : ndarray, float64, shape (...)
        ``max_p max |Q_p^* W_p Q_{p-1} - L| / lambda_1``: how far ``W`` is from the
        exact balanced point ``Q_p L Q_{p-1}^*`` that the Jacobi operator describes
        (rounding on ``M``; of the order of ``|F(W)| / lambda_1^2`` off it).
    """

    Q: NDArray
    lam: NDArray[np.float64]
    field: Field
    residual: NDArray[np.float64]

    @property
    def depth(self) -> int:
        """``N``."""
        return self.Q.shape[-3] - 1

    @property
    def stored_lam(self) -> NDArray[np.float64]:
        """The stored diagonal of ``L``, shape ``(..., n)`` (``(lambda, lambda)`` for ``H``)."""
        return self.field.expand_diagonal(self.lam)

    def nodes_to_frame(self, Lam: NDArray) -> NDArray:
        """``Lam~_p = Q_p^* Lam_p Q_p`` for node quantities ``(..., N-1, n, n)``."""
        Qi = self.Q[..., 1:-1, :, :]
        return self.field.ct(Qi) @ Lam @ Qi

    def nodes_from_frame(self, Lt: NDArray) -> NDArray:
        """Inverse of :meth:`nodes_to_frame`."""
        Qi = self.Q[..., 1:-1, :, :]
        return Qi @ Lt @ self.field.ct(Qi)

    def layers_to_frame(self, V: NDArray) -> NDArray:
        """``V~_p = Q_p^* V_p Q_{p-1}`` for layer quantities ``(..., N, n, n)``."""
        return self.field.ct(self.Q[..., 1:, :, :]) @ V @ self.Q[..., :-1, :, :]

    def layers_from_frame(self, Vt: NDArray) -> NDArray:
        """Inverse of :meth:`layers_to_frame`."""
        return self.Q[..., 1:, :, :] @ Vt @ self.field.ct(self.Q[..., :-1, :, :])

    def point(self) -> NDArray:
        """The exact balanced point ``Q_p L Q_{p-1}^*``, shape ``(..., N, n, n)``."""
        Lt = np.broadcast_to(
            self.field.diag_embed(self.lam)[..., None, :, :],
            (*self.lam.shape[:-1], self.depth, *self.Q.shape[-2:]),
        )
        return self.layers_from_frame(Lt.astype(self.Q.dtype))


def balanced_frames(
    W: ArrayLike,
    field: str | Field = "real",
    *,
    cluster_tol: float = _CLUSTER_TOL,
    refresh: str = "eigh",
) -> BalancedFrames:
    """The Jacobi frames of balanced networks ``W`` (shape ``(..., N, n, n)``, stored).

    Method (``O(N d^3)``: one batched ``eigh`` of the node Grams, then a loop over depth
    of a few matmuls, vectorized over the batch). ``Q_0`` is a right singular frame of
    ``W_1`` (in ``G_d``) and ``lambda`` its singular values. For ``p = 1..N``,
    ``Y = W_p Q_{p-1} L^{-1}`` is ``Q_p`` on ``M``. Its components between different
    clusters of ``lambda`` (relative gap above ``cluster_tol``) are replaced by those of
    the spectral projectors of ``W_p W_p^*`` (``Y -> sum_c P_c Y Pi_c``, with ``Pi_c`` the
    frame columns of cluster ``c``), then one Newton-Schulz step makes it unitary again.
    So directions between separated singular values come fresh from each node's Gram
    (errors never compound over depth), while inside a cluster of (nearly) repeated
    values, where the frame is not unique, one consistent choice is carried along. The
    spectral projectors do not depend on the eigenbasis chosen inside an eigenspace, so a
    complex ``eigh`` serves ``H`` too (its output stays in the image of ``chi``).

    ``refresh="perturbation"`` replaces the ``eigh`` by first-order perturbation theory
    in the carried frame: with ``Y`` made unitary (Newton-Schulz) and
    ``E = Y^* W_p W_p^* Y``, whose cross-cluster entries are small on ``M``, the
    eigenvectors of ``E`` are ``I + X`` to first order, ``X[a, b] = E[a, b] / (l_b^2 -
    l_a^2)`` between clusters (zero inside them), so ``Q_p = Y (I + X)`` has the same
    cross-cluster components as the projected ``Y`` up to ``O(|X|^2)``. A chain with
    ``max |X| > 1e-8`` anywhere (far from ``M``, where the second order is not below
    rounding) is redone with ``eigh``; clusters are those of ``lambda`` itself (on ``M``
    the node Grams have the eigenvalues ``lambda^2``). Only for batches ``(C, N, n, n)``
    (other shapes take ``eigh``); at ``d = N = 16`` the frames cost about a third.

    Accuracy: ``residual`` is rounding on ``M`` away from its singular stratum; the node
    Grams square the condition number, so it degrades like ``eps (lambda_1 /
    lambda_d)^2`` as ``lambda_d -> 0`` (where the Gram solve itself loses rank), and a
    chain with ``lambda_d = 0`` gets NaN frames.

    Raises
    ------
    ValueError
        Bad shape, dtype or non-finite entries; ``cluster_tol`` outside ``(0, 1)``;
        ``refresh`` not ``"eigh"`` or ``"perturbation"``.
    """
    f = resolve_field(field)
    W = _check_layers(W, f)
    if not 0.0 < cluster_tol < 1.0:
        raise ValueError(f"cluster_tol must be in (0, 1), got {cluster_tol}")
    if refresh not in ("eigh", "perturbation"):
        raise ValueError(f"refresh must be 'eigh' or 'perturbation', got {refresh!r}")
    N = W.shape[-3]
    # Q_0 must resolve nearly repeated values to rounding (the only place inside a cluster
    # where the choice matters); Field.svd's quaternionic clusters are wider than that.
    W1 = W[..., 0, :, :]
    if f.b == 4:
        Q0, lam = _quaternion_right_frame(W1), np.linalg.svd(W1, compute_uv=False)[..., ::2]
    else:
        _, lam, Vh = np.linalg.svd(W1)
        Q0 = f.ct(Vh)
    le = f.expand_diagonal(lam)
    if refresh == "perturbation" and W.ndim == 4:
        Q, redo = _carried_frames(W, f, Q0, le, cluster_tol)
        if redo.any():  # far from M: the exact spectral projectors for those chains
            idx = np.flatnonzero(redo)
            Q[idx] = balanced_frames(W[idx], f, cluster_tol=cluster_tol).Q
        return _with_residual(W, Q, lam, f)
    mu, U = np.linalg.eigh(W @ f.ct(W))  # node Grams W_p W_p^*, ascending
    mu = np.sqrt(np.maximum(mu, 0.0))
    # same[a, j]: eigenvalue a of the node Gram and frame column j are in one cluster
    same = np.abs(mu[..., :, None] - le[..., None, None, :]) <= cluster_tol * np.maximum(
        mu[..., :, None], le[..., None, None, :]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / le[..., None, :]
    Q = np.empty((*W.shape[:-3], N + 1, *W.shape[-2:]), dtype=W.dtype)
    Q[..., 0, :, :] = Q0
    Uh = f.ct(U)
    # A singular W_p (lambda_d = 0: off M) gives NaN frames for that chain only, so every
    # solve with them fails instead of raising for the whole batch.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for p in range(N):
            Y = (W[..., p, :, :] @ Q[..., p, :, :]) * inv
            Y = U[..., p, :, :] @ np.where(same[..., p, :, :], Uh[..., p, :, :] @ Y, 0.0)
            Q[..., p + 1, :, :] = Y @ (1.5 * np.eye(Y.shape[-1]) - 0.5 * (f.ct(Y) @ Y))
    return _with_residual(W, Q, lam, f)


def _with_residual(W: NDArray, Q: NDArray, lam: NDArray, f: Field) -> BalancedFrames:
    """:class:`BalancedFrames` with its ``residual`` measured against ``W``."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        frames = BalancedFrames(Q, lam, f, np.zeros(lam.shape[:-1]))
        Wt = frames.layers_to_frame(W) - f.diag_embed(lam)[..., None, :, :]
        res = np.abs(Wt).max(axis=(-3, -2, -1)) / lam[..., 0]
    return BalancedFrames(Q, lam, f, res)


def _carried_frames(
    W: NDArray, f: Field, Q0: NDArray, le: NDArray, cluster_tol: float
) -> tuple[NDArray, NDArray[np.bool_]]:
    """Frames of ``W (C, N, n, n)`` with the cross-cluster reset to first order (no eigh).

    Returns the frames and, per chain, whether the first-order step was too large to
    trust anywhere (those chains must be redone with ``eigh``; see
    :func:`balanced_frames`).
    """
    C, N, n = W.shape[0], W.shape[1], W.shape[-1]
    # cross[a, b]: frame columns a and b lie in different clusters of lambda
    big = np.maximum(le[:, :, None], le[:, None, :])
    cross = np.abs(le[:, :, None] - le[:, None, :]) > cluster_tol * big
    l2 = le**2
    with np.errstate(divide="ignore", invalid="ignore"):
        gap_inv = np.where(cross, 1.0 / (l2[:, None, :] - l2[:, :, None]), 0.0)
        inv = 1.0 / le[:, None, :]
    eye = np.eye(n)
    Q = np.empty((C, N + 1, n, n), dtype=W.dtype)
    Q[:, 0] = Q0
    X = np.empty((C, N, n, n), dtype=W.dtype)  # the first-order steps, judged at the end
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for p in range(N):
            Wp = W[:, p]
            Y = (Wp @ Q[:, p]) * inv
            Y = Y @ (1.5 * eye - 0.5 * (f.ct(Y) @ Y))  # unitary first: E is then Hermitian
            B = f.ct(Y) @ Wp
            # E = Y^* W_p W_p^* Y, first order between clusters
            np.multiply(B @ f.ct(B), gap_inv, out=X[:, p])
            Q[:, p + 1] = Y + Y @ X[:, p]
        # max keeps a NaN (a singular chain): it fails the test, takes eigh and gets the
        # NaN frames of that path.
        worst = np.abs(X).max(axis=(-3, -2, -1))
    return Q, ~(worst <= _MAX_FIRST_ORDER)


# -- the Gram operator in the frame --------------------------------------------------------
class JacobiGram:
    """The Gram operator ``K = J J^T`` at balanced points, solved in the Jacobi frame.

    Built by :func:`jacobi_gram`. Multipliers and right-hand sides are Hermitian stored
    matrices ``(..., N-1, n, n)`` in the original (not rotated) coordinates; the
    ``*_frame`` methods work on rotated ones. To use orthonormal coordinates ``c``
    (``BalancedConstraint.to_coords`` / ``from_coords`` for ``R``), conjugate:
    ``c(solve(c^{-1}(r)))`` (see :meth:`solve_coords`).

    Parameters
    ----------
    frames : BalancedFrames
    method : {"sine", "thomas"}
        ``"sine"`` (default): the constant-coefficient systems are diagonal in the
        discrete sine basis (one ``scipy.fft.dst`` each way, no Python loop);
        ``"thomas"``: batched Thomas sweeps over depth (factorization built once).
        Both are exact; the sine transform is faster from depth ~16 on.

    Attributes
    ----------
    cond : ndarray, shape (...)
        The 2-norm condition number of ``K`` per chain, in closed form. Chains above
        ``1e13`` (the singular stratum, ``lambda_d -> 0``) get NaN solves, so every
        projection with them fails, as with the constraint module's factors.
    """

    def __init__(self, frames: BalancedFrames, method: str = "sine") -> None:
        if method not in ("thomas", "sine"):
            raise ValueError(f"method must be 'thomas' or 'sine', got {method!r}")
        self.frames = frames
        self.method = method
        self.field = frames.field
        self.n = frames.depth - 1
        le = frames.stored_lam
        # Coefficients of entry (i, j): diagonal a, both off-diagonals c (real).
        self.a = 2.0 * (le[..., :, None] ** 2 + le[..., None, :] ** 2)
        self.c = -2.0 * le[..., :, None] * le[..., None, :]
        n = self.n
        # Spectrum of every entry system: a + 2 c cos(k pi / N), k = 1..N-1; together they
        # are the spectrum of K (the frame rotation is orthogonal on Hermitian matrices).
        cos = np.cos(np.pi * np.arange(1, n + 1) / (n + 1))[:, None, None]
        mu = self.a[..., None, :, :] + 2.0 * self.c[..., None, :, :] * cos
        with np.errstate(divide="ignore", invalid="ignore"):
            #: 2-norm condition number of K per chain (inf on the singular stratum).
            self.cond = mu.max(axis=(-3, -2, -1), initial=0.0) / mu.min(
                axis=(-3, -2, -1), initial=np.inf
            )
        # As in the constraint module: a (nearly) singular K has no correct digits in its
        # inverse, so such a chain gets NaN operators and every projection with it fails.
        bad = ~(self.cond <= _MAX_GRAM_COND)
        if method == "thomas" and n > 0:
            # Thomas factorization: pivots den_k and multipliers w_k = c / den_k.
            den = np.empty((*self.a.shape[:-2], n, *self.a.shape[-2:]))
            den[..., 0, :, :] = self.a
            with np.errstate(divide="ignore", invalid="ignore"):
                for k in range(1, n):
                    den[..., k, :, :] = self.a - self.c**2 / den[..., k - 1, :, :]
                self._inv_den = 1.0 / den
            self._inv_den[bad] = np.nan
        if method == "sine" and n > 0:
            with np.errstate(divide="ignore"):
                self._inv_mu = 1.0 / mu
            self._inv_mu[bad] = np.nan

    def take(self, idx: NDArray[np.int_]) -> JacobiGram:
        """The operator of the chains ``idx`` (leading axis), sharing the factorization."""
        fr = self.frames
        new = object.__new__(JacobiGram)
        new.frames = BalancedFrames(fr.Q[idx], fr.lam[idx], fr.field, fr.residual[idx])
        new.method, new.field, new.n = self.method, self.field, self.n
        new.a, new.c = self.a[idx], self.c[idx]
        for name in ("_inv_den", "_inv_mu"):
            if hasattr(self, name):
                setattr(new, name, getattr(self, name)[idx])
        return new

    # in the frame
    def apply_frame(self, Lt: NDArray) -> NDArray:
        """``(K Lam)~`` from ``Lam~`` (``(..., N-1, n, n)``), entrywise tridiagonal."""
        a, c = self.a[..., None, :, :], self.c[..., None, :, :]
        out = a * Lt
        out[..., 1:, :, :] += c * Lt[..., :-1, :, :]
        out[..., :-1, :, :] += c * Lt[..., 1:, :, :]
        return out

    def solve_frame(self, Rt: NDArray) -> NDArray:
        """``Lam~`` with ``(K Lam)~ = Rt``; ``Rt`` of shape ``(..., N-1, n, n)``."""
        n = self.n
        if n == 0:
            return Rt
        if self.method == "sine":
            y = scipy.fft.dst(Rt, type=1, axis=-3, norm="ortho")
            return scipy.fft.dst(y * self._inv_mu, type=1, axis=-3, norm="ortho")
        c, inv = self.c, self._inv_den
        y = np.empty(np.broadcast_shapes(Rt.shape, inv.shape), dtype=Rt.dtype)
        y[..., 0, :, :] = Rt[..., 0, :, :] * inv[..., 0, :, :]
        for k in range(1, n):  # forward sweep
            y[..., k, :, :] = (Rt[..., k, :, :] - c * y[..., k - 1, :, :]) * inv[..., k, :, :]
        for k in range(n - 2, -1, -1):  # back substitution: x_k = y_k - (c / den_k) x_{k+1}
            y[..., k, :, :] -= c * inv[..., k, :, :] * y[..., k + 1, :, :]
        return y

    # in the original coordinates
    def apply(self, Lam: NDArray) -> NDArray:
        """``K Lam`` at the balanced point of the frames (Hermitian ``(..., N-1, n, n)``)."""
        fr = self.frames
        return fr.nodes_from_frame(self.apply_frame(fr.nodes_to_frame(Lam)))

    def solve(self, R: NDArray) -> NDArray:
        """``K^{-1} R`` for Hermitian ``R`` of shape ``(..., N-1, n, n)``."""
        fr = self.frames
        return fr.nodes_from_frame(self.solve_frame(fr.nodes_to_frame(R)))

    def solve_coords(self, r: NDArray, to_coords, from_coords) -> NDArray:
        """``K^{-1}`` in orthonormal coordinates: ``to_coords(solve(from_coords(r)))``."""
        return to_coords(self.solve(from_coords(r)))


def jacobi_gram(
    W: ArrayLike, field: str | Field = "real", *, method: str = "sine"
) -> JacobiGram:
    """:class:`JacobiGram` at balanced networks ``W`` (frames by :func:`balanced_frames`)."""
    return JacobiGram(balanced_frames(W, field), method)


def _frame_normal(le: NDArray, Lt: NDArray) -> NDArray:
    """``(J^T Lam)~_p = L Lam~_{p-1} - Lam~_p L`` in the frame; ``le`` the stored diagonal."""
    out = np.zeros((*Lt.shape[:-3], Lt.shape[-3] + 1, *Lt.shape[-2:]), dtype=Lt.dtype)
    out[..., :-1, :, :] = Lt * -le[..., None, None, :]
    out[..., 1:, :, :] += le[..., None, :, None] * Lt
    return out


def _frame_jac(le: NDArray, Vt: NDArray, field: Field) -> NDArray:
    """``(J V)~_p = sym2(L V~_{p+1} - V~_p L)`` in the frame; ``le`` the stored diagonal."""
    A = le[..., None, :, None] * Vt[..., 1:, :, :] - Vt[..., :-1, :, :] * le[..., None, None, :]
    return A + field.ct(A)


def tangent_projection(
    W: ArrayLike, V: ArrayLike, field: str | Field = "real", *, gram: JacobiGram | None = None
) -> NDArray:
    """Orthogonal projection ``V - J^T K^{-1} J V`` of ``V`` onto ``T_W M`` (real inner product).

    Done in the frame: ``V~ = Q^* V Q``, ``J``, the solve and ``J^T`` are entrywise there,
    so the cost is two layer rotations plus ``O(N d^2)``. It is the exact projector at the
    balanced point of the frames (``W`` to ``gram.frames.residual``).

    Parameters
    ----------
    W : array_like, shape (..., N, n, n)
        Balanced networks (stored over ``field``).
    V : array_like, shape (..., N, n, n)
    gram : JacobiGram, optional
        ``jacobi_gram(W, field)``, reused when given.
    """
    f = resolve_field(field)
    if gram is None:
        gram = jacobi_gram(W, f)
    V = _check_layers(V, f, "V")
    fr = gram.frames
    Vt = fr.layers_to_frame(V)
    le = fr.stored_lam
    Nt = _frame_normal(le, gram.solve_frame(_frame_jac(le, Vt, f)))
    return fr.layers_from_frame(Vt - Nt)


# -- position projection -------------------------------------------------------------------
@dataclass
class PositionProjection:
    """Outcome of :func:`project_position_jacobi` for a batch of chains.

    Attributes
    ----------
    W : ndarray, shape (C, N, n, n)
        Projected points; ``W0`` for chains that failed.
    lam : ndarray, shape (C, N-1, n, n)
        Multipliers: ``W = Wt + J(W0)^T lam`` (where converged).
    converged : ndarray of bool, shape (C,)
    iterations : ndarray of int, shape (C,)
        Newton iterations (each with ``inner`` preconditioned Krylov steps).
    """

    W: NDArray
    lam: NDArray
    converged: NDArray[np.bool_]
    iterations: NDArray[np.int_]


def _gmres_right(matvec, precond, R: NDArray, steps: int, field: Field) -> NDArray:
    """``steps`` of right-preconditioned GMRES for ``M x = R`` from ``x = 0``, batched.

    Every chain runs the same fixed number of steps, so its result depends on its own
    data only. Returns ``x = P y`` minimizing ``|R - M P y|`` over the Krylov space.
    """
    inner = lambda A, B: field.inner(A, B, 3)  # noqa: E731
    beta = np.sqrt(inner(R, R))
    safe = np.where(beta > 0, beta, 1.0)
    v = [R / safe[..., None, None, None]]
    z: list[NDArray] = []
    H = np.zeros((*R.shape[:-3], steps + 1, steps))
    for j in range(steps):
        z.append(precond(v[j]))
        w = matvec(z[j])
        for i in range(j + 1):  # modified Gram-Schmidt
            h = inner(v[i], w)
            H[..., i, j] = h
            w = w - h[..., None, None, None] * v[i]
        h = np.sqrt(inner(w, w))
        H[..., j + 1, j] = h
        v.append(w / np.where(h > 0, h, 1.0)[..., None, None, None])
    e1 = np.zeros((*R.shape[:-3], steps + 1))
    e1[..., 0] = beta
    # A chain with NaN operators (singular stratum) gets a NaN step: it fails on its own.
    finite = np.isfinite(H).all(axis=(-2, -1))
    y = np.matvec(np.linalg.pinv(np.where(finite[..., None, None], H, 0.0)), e1)
    y[~finite] = np.nan
    return sum(y[..., j, None, None, None] * z[j] for j in range(steps))


def project_position_jacobi(
    W0: ArrayLike,
    Wt: ArrayLike,
    field: str | Field = "real",
    *,
    gram0: JacobiGram | None = None,
    tol: float = 1e-12,
    max_iter: int = 40,
    inner: int = 2,
) -> PositionProjection:
    """Solve ``F(Wt + J(W0)^T Lam) = 0`` by Newton-Krylov, preconditioned by ``K(W0)^{-1}``.

    Newton's matrix at an iterate ``W`` is ``M(W) = J(W) J(W0)^T``, applied, never built.
    Each Newton step solves ``M(W) delta = F(W)`` approximately by ``inner`` steps of
    GMRES right-preconditioned with the Jacobi solve of ``K(W0) = M(W0)``, then
    ``W <- W - J(W0)^T delta``. Everything runs in the frame of ``W0`` (rotated once each
    way): there ``J(W0)^T`` and the preconditioner are entrywise, so a Krylov step costs
    two layer products (``J(W)``), not eight. The preconditioner only decides how fast the
    residual falls: a chain converges when the Frobenius norm of ``F(W)`` (which the
    rotation preserves, and which bounds every entry) is below ``tol``, and the solution
    is the root of ``F`` along the normal space at ``W0``, the point of the dense and
    block projections. A chain fails (and gets ``W0`` back) on a non-finite residual,
    growth beyond ``1e6``, an iteration that contracts by less than 0.9, or ``max_iter``
    iterations. Every decision is per chain, and every chain runs the same fixed number
    of Krylov steps, so its result depends on its own ``(W0, Wt)`` only.

    Parameters
    ----------
    W0 : array_like, shape (C, N, n, n)
        Balanced points whose normal space is used.
    Wt : array_like, shape (C, N, n, n)
        Points to project.
    gram0 : JacobiGram, optional
        ``jacobi_gram(W0, field)``.
    inner : int
        Krylov steps per Newton iteration (>= 1; 1 is a preconditioned chord step).
    """
    f = resolve_field(field)
    W0 = _check_layers(W0, f, "W0")
    Wt = _check_layers(Wt, f, "Wt")
    if W0.shape != Wt.shape or W0.ndim != 4:
        raise ValueError(f"W0 and Wt must both have shape (C, N, n, n), got {W0.shape}, {Wt.shape}")
    if inner < 1 or max_iter < 1 or not tol > 0:
        raise ValueError("inner and max_iter must be >= 1 and tol > 0")
    if gram0 is None:
        gram0 = jacobi_gram(W0, f)
    fr = gram0.frames
    C = W0.shape[0]
    W = fr.layers_to_frame(Wt)  # iterate, in the frame of W0
    lam = np.zeros((C, W0.shape[1] - 1, *W0.shape[-2:]), dtype=W0.dtype)
    iters = np.zeros(C, dtype=np.int_)
    pending = np.ones(C, bool)
    failed = np.zeros(C, bool)
    prev = np.full(C, np.inf)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_iter + 1):
            R = constraint_jac(W, W, f) / 2  # F(W) in the frame (sym2 doubles it)
            err = np.sqrt((np.abs(R) ** 2).sum(axis=(-3, -2, -1)))
            done = err < tol
            bad = ~(err < np.minimum(1e6, 0.9 * prev)) & ~done
            failed |= pending & bad
            pending &= ~(done | bad)
            if not pending.any():
                break
            prev = err
            idx = np.flatnonzero(pending)
            sub = gram0.take(idx)
            le, Wi = sub.frames.stored_lam, W[idx]
            delta = _gmres_right(
                lambda X, Wi=Wi, le=le: constraint_jac(Wi, _frame_normal(le, X), f),
                sub.solve_frame,
                R[idx],
                inner,
                f,
            )
            W[idx] -= _frame_normal(le, delta)
            lam[idx] -= delta
            iters[idx] += 1
    failed |= pending
    W = np.where(failed[:, None, None, None], W0, fr.layers_from_frame(W))
    return PositionProjection(W, fr.nodes_from_frame(lam), ~failed, iters)
