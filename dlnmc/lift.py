"""The lifted sampler: X from its closed-form law, then W uniform on the orbit of X.

This sampler ASSUMES the entropy formula. It draws the end-to-end matrix ``X``
from the density ``∝ exp(-beta E(X)) rho_b(X)`` that the entropy theorem
predicts for ``X = phi(W)`` under the Gibbs measure ``exp(-beta E(phi(W)))``
on the balanced manifold ``M`` (docs/guide/theory.md, 'The law of X on the balanced manifold'),
and lifts every kept draw to ``M`` exactly: given ``X``, ``W`` is uniform on the orbit
``O_X`` (docs/guide/theory.md, 'The exact lift'), i.e. ``W_p = Q_p Lambda Q_{p-1}^*``
with ``Q_0 = V``, ``Q_N = U`` and ``Q_1..Q_{N-1}`` Haar in ``G_d = O_d, U_d, Sp_d``.

Because ``rho_b`` is the theorem's output, an ensemble from this module can
never validate the theory; it is the tool for studies at sizes the
theory-free samplers cannot reach (widths up to 64, depths up to 1000 and
beyond) once the theory is trusted. Every tree it returns carries the root
attribute ``assumes_entropy_formula = 1``.

Two routes:

- ``E = |X|^2 / 2`` (orthogonally invariant, ``target=None``): HMC on the
  ``d`` ordered log singular values ``t_1 > ... > t_d`` (``t = log s``) in gap
  coordinates ``(t_1, log(t_1 - t_2), ..., log(t_{d-1} - t_d))``. These remove
  the repulsion barrier at collisions (no ordering constraint is left) and give
  the very long left tail of ``s_min`` of deep real networks (``log s_min`` of
  order ``-N``) an O(1) scale; ``U, V`` are Haar. The log density of
  ``t`` is evaluated in log space: with ``delta = t_i - t_j > 0`` each pair
  contributes ``b (1 + 1/N) t_i + (b/2) [log(1 - e^{-2 delta}) + log(1 - e^{-2 delta/N})]``
  and each value ``(b - 1 + 1/N) t_i - beta e^{2 t_i} / 2``.
- A general target ``Y`` (``E = |X - Y|^2 / 2``) or energy: HMC on ``Z`` with
  ``X = Z |Z|^{N-1} = U diag(sigma^N) V^*`` (the power map of
  :mod:`dlnmc.reference`), whose pulled-back density
  ``exp(-beta E(X)) prod sigma_i^{(b-1)(N-1)} prod_{i<j} D_ij^{b/2}`` is smooth.
  The gradient of ``E(X(Z))`` uses the Frechet derivative of the power map in
  the SVD frame: divided differences ``(f_i - f_j) / (sigma_i - sigma_j)`` on
  the Hermitian part and ``(f_i + f_j) / (sigma_i + sigma_j)`` on the
  skew-Hermitian part of ``U^* G V`` (``f = sigma^N``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_count, check_depth, check_positive, check_width
from dlnmc.energy import QuadraticEnergy, as_energy
from dlnmc.ensemble import build_tree
from dlnmc.fields import Field, resolve_field
from dlnmc.samplers.euclidean import sample_hmc

__all__ = [
    "DEFAULT_KEEP_W_BYTES",
    "entropy_log_sv",
    "kept_draws",
    "lift_to_manifold",
    "log_density_log_sv",
    "log_density_power_map",
    "power_map_vjp",
    "sample_lifted",
]

#: By default all draws keep W when all of them fit in this many bytes; otherwise
#: as many evenly spaced draws per chain as fit (at least the last one).
DEFAULT_KEEP_W_BYTES = 64 * 2**20
# Gaps below this use the series of log G_N and of its derivative (0/0 otherwise).
_SMALL_GAP = 1e-6
# Independent random streams derived from the seed (MCMC, frames U and V, gauges).
_STREAM_MCMC, _STREAM_FRAMES, _STREAM_GAUGE = 0, 1, 2
# Draws per chunk when forming X from (U, s, V): bounds the temporaries.
_FRAME_CHUNK = 64


# ---------------------------------------------------------------------------------------
# Log-space pieces of the closed-form law
# ---------------------------------------------------------------------------------------


def _log1mexp(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log(1 - e^{-x})`` for ``x > 0``, accurate for small and large ``x``."""
    return np.where(x < 0.693, np.log(-np.expm1(-x)), np.log1p(-np.exp(-x)))


def _log_geometric(delta: NDArray[np.float64], depth: int) -> NDArray[np.float64]:
    """``log G_N`` with ``G_N = (1 - e^{-2 delta}) / (1 - e^{-2 delta / N})`` for ``delta >= 0``."""
    small = delta < _SMALL_GAP
    safe = np.where(small, 1.0, delta)
    inv = 1.0 / depth
    out = _log1mexp(2.0 * safe) - _log1mexp(2.0 * safe * inv)
    series = np.log(depth) - delta * (1.0 - inv) + delta * delta * (1.0 - inv * inv) / 6.0
    return np.where(small, series, out)


def _d_log_geometric(delta: NDArray[np.float64], depth: int) -> NDArray[np.float64]:
    """``d log G_N / d delta = 2/expm1(2 delta) - (2/N)/expm1(2 delta/N)`` (finite at 0)."""
    small = delta < _SMALL_GAP
    safe = np.where(small, 1.0, delta)
    inv = 1.0 / depth
    with np.errstate(over="ignore"):
        out = 2.0 / np.expm1(2.0 * safe) - 2.0 * inv / np.expm1(2.0 * safe * inv)
    series = -(1.0 - inv) + delta * (1.0 - inv * inv) / 3.0
    return np.where(small, series, out)


def entropy_log_sv(t: ArrayLike, depth: int, field: str | Field = "real") -> NDArray[np.float64]:
    """The closed-form entropy ``S_b`` from log singular values ``t = log s`` (any order).

    ``(N-1) log vol(G_d) + (b/2) sum_{i<j} log D_ij + ((b-1)/2) sum_i log D_ii``
    (docs/guide/theory.md, 'The entropy formula', and docs/guide/fields.md), evaluated
    without forming ``s``: usable where
    ``s_min`` underflows a double (deep real networks, ``log s_min ~ -N``).

    Returns
    -------
    ndarray, shape (...)
    """
    F = resolve_field(field)
    N = check_depth(depth)
    t = np.asarray(t, dtype=np.float64)
    d = t.shape[-1]
    iu, ju = np.triu_indices(d, 1)
    out = np.empty(t.shape[:-1])
    flat_t, flat_out = t.reshape(-1, d), out.reshape(-1)
    for start in range(0, flat_t.shape[0], 256):  # chunks bound the (rows, pairs) temporaries
        tc = flat_t[start : start + 256]
        hi = np.maximum(tc[:, iu], tc[:, ju])
        lo = np.minimum(tc[:, iu], tc[:, ju])
        off = (2.0 * (1.0 - 1.0 / N) * hi + _log_geometric(hi - lo, N)).sum(-1)
        diag = (np.log(N) + 2.0 * (1.0 - 1.0 / N) * tc).sum(-1)
        flat_out[start : start + 256] = 0.5 * F.b * off + 0.5 * (F.b - 1) * diag
    return out + (N - 1) * F.log_group_volume(d)


def log_density_log_sv(
    t: ArrayLike, depth: int, beta: float, field: str | Field = "real"
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Log density of ``t = log s`` under the closed-form law (``E = |X|^2 / 2``) and its gradient.

    ``-beta sum e^{2 t_i} / 2 + (b - 1 + 1/N) sum t_i
    + sum_{i<j} [b (1 + 1/N) max(t_i, t_j) + (b/2) log(1 - e^{-2 delta_ij})
    + (b/2) log(1 - e^{-2 delta_ij / N})]``, ``delta_ij = |t_i - t_j|``: the law
    of docs/guide/theory.md, 'The law of X on the balanced manifold' (``ds = s dt`` included),
    symmetric in the ``t_i``, up to an additive constant. Equals
    ``dlnmc.entropy.log_sv_density(e^t, N, beta, field=...) + sum t`` up to a constant.

    Parameters
    ----------
    t : array_like, shape (..., d)
    depth, beta, field : as for :func:`sample_lifted`.

    Returns
    -------
    lp : ndarray, shape (...)
        ``-inf`` at a collision ``t_i = t_j`` or where ``e^{2t}`` overflows.
    grad : ndarray, shape (..., d)
    """
    F = resolve_field(field)
    N = check_depth(depth)
    b = float(F.b)
    t = np.asarray(t, dtype=np.float64)
    d = t.shape[-1]
    inv = 1.0 / N
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        e2t = np.exp(2.0 * t)
        lp = -0.5 * beta * e2t.sum(-1) + (b - 1.0 + inv) * t.sum(-1)
        grad = -beta * e2t + (b - 1.0 + inv)
        if d > 1:
            diff = t[..., :, None] - t[..., None, :]  # (..., d, d)
            delta = np.abs(diff)
            off = ~np.eye(d, dtype=bool)
            dsafe = np.where(off, delta, 1.0)
            pair = 0.5 * b * (_log1mexp(2.0 * dsafe) + _log1mexp(2.0 * dsafe * inv))
            hi = np.maximum(t[..., :, None], t[..., None, :])
            # Each unordered pair appears twice in the full matrix.
            lp = lp + 0.5 * np.where(off, b * (1.0 + inv) * hi + pair, 0.0).sum((-2, -1))
            dpair = b / np.expm1(2.0 * dsafe) + b * inv / np.expm1(2.0 * dsafe * inv)
            gmat = b * (1.0 + inv) * (diff > 0) + np.sign(diff) * dpair
            grad = grad + np.where(off, gmat, 0.0).sum(-1)
    return lp, grad


def _spectral_pair_grad(t: NDArray[np.float64], depth: int) -> NDArray[np.float64]:
    """Gradient in ``t`` of ``sum_{i<j} log D_ij`` (``t = log s``, any order), shape (..., d)."""
    N = depth
    d = t.shape[-1]
    diff = t[..., :, None] - t[..., None, :]
    off = ~np.eye(d, dtype=bool)
    dg = _d_log_geometric(np.abs(diff), N)
    # d/dt_i [2(1-1/N) max + log G(|t_i - t_j|)]; at a tie split the max evenly.
    hi_share = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
    gmat = 2.0 * (1.0 - 1.0 / N) * hi_share + np.sign(diff) * dg
    return np.where(off, gmat, 0.0).sum(-1)


def _divided_differences(log_sig: NDArray[np.float64], depth: int):
    """``(f_i - f_j)/(sigma_i - sigma_j)`` (``f'`` on ties) and ``(f_i + f_j)/(sigma_i + sigma_j)``.

    ``f = sigma^N``; the first is ``sigma_hi^{N-1} sum_k v^k`` (``v = sigma_lo / sigma_hi``),
    evaluated in log space, so ties (the doubled values of the complex
    representation over ``H``) and huge ``N`` are exact.
    """
    N = depth
    a, c = log_sig[..., :, None], log_sig[..., None, :]
    hi, lo = np.maximum(a, c), np.minimum(a, c)
    gap = hi - lo
    small = gap < _SMALL_GAP
    safe = np.where(small, 1.0, gap)
    with np.errstate(over="ignore", under="ignore"):
        log_sum = np.where(
            small,
            np.log(N) - 0.5 * (N - 1) * gap + (N * N - 1.0) * gap * gap / 24.0,
            _log1mexp(N * safe) - _log1mexp(safe),
        )
        dd = np.exp((N - 1) * hi + log_sum)
        fs = np.exp(N * a) + np.exp(N * c)
        ds = fs / (np.exp(a) + np.exp(c))
    return dd, ds


def power_map_vjp(
    U: NDArray, sig: NDArray[np.float64], Vh: NDArray, G: NDArray, depth: int, field: Field
) -> NDArray:
    """``(dX/dZ)^* G`` for ``X = Z |Z|^{N-1}`` at ``Z = U diag(sig) Vh`` (real inner product).

    The derivative is self-adjoint (it is the Hessian of ``sum sigma^{N+1}/(N+1)``):
    in the frame ``G~ = U^* G V`` it multiplies the Hermitian part entrywise by
    the divided differences of ``sigma^N`` and the skew-Hermitian part by
    ``(f_i + f_j)/(sigma_i + sigma_j)``. ``U, sig, Vh`` may come from the plain
    complex SVD of the stored matrix (over ``H`` the complex representation):
    the formula does not depend on the basis inside a cluster of equal ``sigma``.

    Returns
    -------
    ndarray, shape of ``G``
    """
    dd, ds = _divided_differences(np.log(sig), depth)
    Gt = field.ct(U) @ G @ field.ct(Vh)
    Gh = field.ct(Gt)
    out = 0.5 * (dd * (Gt + Gh) + ds * (Gt - Gh))
    return U @ out @ Vh


def log_density_power_map(
    z: NDArray[np.float64],
    depth: int,
    beta: float,
    energy: Any,
    field: Field,
    width: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Log density of ``Z`` (real components, flattened) and its gradient, for ``X = Z|Z|^{N-1}``.

    ``-beta E(X) + (b-1)(N-1) sum log sigma_i + (b/2) sum_{i<j} log D_ij(sigma^N)``:
    the density ``exp(-beta E) rho_b(X)`` of docs/guide/theory.md, 'The law of X on the
    balanced manifold', times the
    Jacobian of the power map (:func:`dlnmc.reference.power_map_log_jacobian_field`),
    up to a constant.

    Parameters
    ----------
    z : (C, b d^2)
        Real components of ``Z`` (order of :meth:`Field.to_components`).

    Returns
    -------
    lp : (C,), grad : (C, b d^2)
    """
    N, d, F = depth, width, field
    Zm = F.from_components(z.reshape(-1, d, d, F.b))
    U, sig, Vh = np.linalg.svd(Zm)
    rep = F.rep_size(d) // d  # the complex representation of H doubles every sigma
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
        log_sig = np.log(sig)
        X = (U * np.exp(N * log_sig)[..., None, :]) @ Vh
        once = log_sig[..., ::rep]
        t = N * once
        iu, ju = np.triu_indices(d, 1)
        hi, lo = np.maximum(t[..., iu], t[..., ju]), np.minimum(t[..., iu], t[..., ju])
        log_d = (2.0 * (1.0 - 1.0 / N) * hi + _log_geometric(hi - lo, N)).sum(-1)
        lp = -beta * energy.value(X) + (F.b - 1) * (N - 1) * once.sum(-1) + 0.5 * F.b * log_d
        # d/d log sigma of the spectral part, then / sigma, each value on all its copies.
        g_tau = (F.b - 1) * (N - 1) + 0.5 * F.b * N * _spectral_pair_grad(t, N)
        g_sig = np.repeat(g_tau, rep, axis=-1) / sig
        grad = U @ (g_sig[..., :, None] * Vh) - power_map_vjp(
            U, sig, Vh, beta * energy.grad(X), N, F
        )
    gz = F.to_components(grad).reshape(z.shape)
    return np.where(np.isfinite(lp), lp, -np.inf), gz


# ---------------------------------------------------------------------------------------
# The lift
# ---------------------------------------------------------------------------------------


def lift_to_manifold(
    U: NDArray,
    log_lam: NDArray[np.float64],
    V: NDArray,
    depth: int,
    field: str | Field = "real",
    rng: np.random.Generator | None = None,
    gauge: NDArray | None = None,
) -> NDArray:
    """A balanced ``W`` with ``phi(W) = U diag(e^{N log_lam}) V^*``, uniform on its orbit.

    ``W_p = Q_p diag(e^{log_lam}) Q_{p-1}^*`` with ``Q_0 = V``, ``Q_N = U`` and
    ``Q_1..Q_{N-1}`` Haar in ``G_d`` (from ``rng``) or the given ``gauge``.
    Taking ``Lambda`` from its logarithm keeps the layers exact where ``s_min``
    itself underflows.

    Parameters
    ----------
    U, V : (..., n, n)
        Frames in ``G_d`` (storage of ``field``).
    log_lam : (..., d)
        ``log s / N``.
    rng : numpy.random.Generator, optional
        Source of the Haar gauge (required unless ``gauge`` is given).
    gauge : (..., N-1, n, n), optional

    Returns
    -------
    ndarray, shape (..., N, n, n)
    """
    F = resolve_field(field)
    N = check_depth(depth)
    n = U.shape[-1]
    batch = U.shape[:-2]
    if gauge is None:
        if rng is None:
            raise ValueError("lift_to_manifold needs rng (Haar gauge) or gauge")
        gauge = F.haar(F.width_of(U), (*batch, N - 1), rng) if N > 1 else None
    lam = F.expand_diagonal(np.exp(log_lam)).astype(F.dtype)
    parts = [V[..., None, :, :]]
    if N > 1:
        parts.append(np.broadcast_to(gauge, (*batch, N - 1, n, n)).astype(F.dtype))
    parts.append(U[..., None, :, :])
    frames = np.concatenate(parts, axis=-3)
    return (frames[..., 1:, :, :] * lam[..., None, None, :]) @ F.ct(frames[..., :-1, :, :])


def _phi(W: NDArray) -> NDArray:
    X = W[..., 0, :, :]
    for p in range(1, W.shape[-3]):
        X = W[..., p, :, :] @ X
    return X


def kept_draws(keep_W: object, n_draws: int, n_chains: int, bytes_per_W: int) -> NDArray:
    """Sorted draw indices (the same for every chain) whose W is lifted and stored."""
    if keep_W is None:
        fit = DEFAULT_KEEP_W_BYTES // max(1, n_chains * bytes_per_W)
        keep_W = n_draws if fit >= n_draws else max(1, int(fit))
    if isinstance(keep_W, str):
        if keep_W not in ("all", "none"):
            raise ValueError(
                f"keep_W must be 'all', 'none', an int or draw indices, got {keep_W!r}"
            )
        return np.arange(n_draws) if keep_W == "all" else np.zeros(0, dtype=np.int64)
    if isinstance(keep_W, bool | np.bool_):
        return np.arange(n_draws) if keep_W else np.zeros(0, dtype=np.int64)
    if isinstance(keep_W, int | np.integer):
        k = int(keep_W)
        if k < 0:
            raise ValueError(f"keep_W must be >= 0 draws per chain, got {k}")
        k = min(k, n_draws)
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        # k evenly spaced draws ending with the last one (distinct since k <= n_draws).
        return np.sort(n_draws - 1 - (np.arange(k) * n_draws) // k)
    if isinstance(keep_W, Sequence | np.ndarray):
        idx = np.asarray(keep_W)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(
                f"keep_W as draw indices must be a 1-d sequence of ints, got {keep_W!r}"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= n_draws):
            raise ValueError(f"keep_W draw indices must lie in [0, {n_draws}), got {keep_W!r}")
        return np.unique(idx.astype(np.int64))
    raise TypeError(f"keep_W must be None, 'all', 'none', an int or draw indices, got {keep_W!r}")


# ---------------------------------------------------------------------------------------
# The public entry
# ---------------------------------------------------------------------------------------


def _ordered_log_density(
    t: NDArray[np.float64], depth: int, beta: float, b: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`log_density_log_sv` for strictly descending ``t`` (C, d), tuned for speed.

    Full ``d x d`` pair matrices with ``+inf`` on the diagonal (which contributes
    exactly 0) instead of gathering and scattering the upper triangle: twice the
    arithmetic, but no fancy indexing, which dominated at ``d = 64``.
    A tie gives ``-inf``.
    """
    d = t.shape[-1]
    inv = 1.0 / depth
    e2t = np.exp(2.0 * t)
    rank = d - 1 - np.arange(d)  # t_i is the larger member of its d - 1 - i pairs with j > i
    lp = -0.5 * beta * e2t.sum(-1) + ((b - 1.0 + inv) + b * (1.0 + inv) * rank) @ t.T
    grad = -beta * e2t + ((b - 1.0 + inv) + b * (1.0 + inv) * rank)
    if d == 1:
        return lp, grad
    D = np.abs(t[:, :, None] - t[:, None, :])
    diag = np.arange(d)
    D[:, diag, diag] = np.inf
    m1 = np.expm1(-2.0 * D)  # -(1 - e^{-2 delta}); -1 on the diagonal
    m2 = np.expm1((-2.0 * inv) * D)
    lp = lp + 0.25 * b * np.log(m1 * m2).sum((-2, -1))  # every pair twice
    # d/d delta of the pair term: b e^{-2 delta}/(1 - e^{-2 delta}) + (b/N) (same at delta/N),
    # i.e. -b (1/m1 + 1) - (b/N)(1/m2 + 1); 0 on the diagonal. Sign: + for j > i.
    np.reciprocal(m1, out=m1)
    np.reciprocal(m2, out=m2)
    m1 += 1.0
    m2 += 1.0
    m1 *= -b
    m1 -= (b * inv) * m2
    grad = grad + (m1 * _pair_sign(d)).sum(-1)
    return lp, grad


@functools.lru_cache(maxsize=16)
def _pair_sign(d: int) -> NDArray[np.float64]:
    """``+1`` above the diagonal, ``-1`` below, 0 on it (read-only, cached)."""
    S = np.triu(np.ones((d, d)), 1) - np.tril(np.ones((d, d)), -1)
    S.flags.writeable = False
    return S


def _gaps_to_logs(q: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(t_1, eta_1..eta_{d-1}) -> t`` with ``t_{k+1} = t_k - e^{eta_k}`` (descending)."""
    with np.errstate(over="ignore"):
        steps = np.cumsum(np.exp(q[..., 1:]), axis=-1)
    return np.concatenate([q[..., :1], q[..., :1] - steps], axis=-1)


def _logs_to_gaps(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of :func:`_gaps_to_logs` for strictly descending ``t``."""
    return np.concatenate([t[..., :1], np.log(-np.diff(t, axis=-1))], axis=-1)


def sample_lifted(
    width: int,
    depth: int,
    *,
    beta: float,
    n_draws: int,
    n_chains: int,
    seed: int | None,
    target: ArrayLike | None = None,
    field: str | Field = "real",
    n_warmup: int | None = None,
    keep_W: object = None,
    energy: Any = None,
    step_size: float = 0.1,
    integration_time: float | None = None,
    max_leapfrog: int = 256,
    target_accept: float = 0.8,
    thin: int = 1,
    progress: bool = False,
) -> xr.DataTree:
    """Sample the Gibbs measure on ``M`` by drawing ``X`` from its closed-form law and lifting.

    ASSUMES the entropy formula: the law of ``X`` used here is the theorem's
    prediction ``exp(-beta E(X)) rho_b(X)`` (docs/guide/theory.md, 'The law of X on the
    balanced manifold'), so the
    output is never a validation of the theory; it is the theory's side of a
    comparison, or the tool for large studies once the theory is trusted. The
    tree says so in its root attribute ``assumes_entropy_formula = 1``.

    Parameters
    ----------
    width, depth : int
        ``d >= 1`` and ``N >= 1``.
    beta : float
        Inverse temperature ``> 0``.
    n_draws, n_chains : int
        Stored draws per chain (after warm-up) and chains (vectorized).
    seed : int or None
        ``>= 0``; the same seed gives identical output. ``None`` draws a fresh
        seed and records it.
    target : array_like, optional
        ``Y`` in ``E = |X - Y|^2 / 2``, in the storage of ``field`` (real
        ``d x d``, complex ``d x d``, or the complex ``2d x 2d`` representation
        over ``H``). ``None`` (with no ``energy``) selects the singular-value
        route; anything else the power-map route.
    field : {"real", "complex", "quaternion"} or Field
    n_warmup : int, optional
        HMC adaptation transitions, default ``max(500, n_draws // 2)``.
    keep_W : None, "all", "none", bool, int or sequence of int
        Draws for which ``W`` is lifted and stored (the same indices for every
        chain): all, none, ``k`` evenly spaced draws per chain (ending with the
        last), or explicit draw indices. ``None``: all draws if their ``W`` fit
        in :data:`DEFAULT_KEEP_W_BYTES`, else as many evenly spaced draws as
        fit, at least the last (one ``W`` at ``d = 64, N = 1000`` is 32 MB).
    energy : object, optional
        A custom energy (``value(X)``, ``grad(X)`` in the storage of ``field``,
        gradient for the real inner product) instead of the quadratic one;
        sampled by the power-map route.
    step_size, integration_time, max_leapfrog, target_accept : HMC settings
        Initial step size and mean integration time in whitened units (default
        integration time 2 for the singular-value route, 3 for the power map),
        the cap on leapfrog steps per transition, the dual-averaging target.
    thin : int
        Keep every ``thin``-th HMC transition.
    progress : bool
        Show a tqdm progress bar over the HMC transitions.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (dims ``chain, draw``): ``X (row, col[, component])``,
        ``singular_values (sv)`` descending (clipped to the smallest positive
        double where ``s`` underflows, as :func:`dlnmc.sample_balanced` does),
        ``log_singular_values (sv)`` (exact, never clipped), ``entropy``
        (closed-form ``S_b``, from ``log s``), ``energy`` (``E(X)``),
        ``trace_X ([component])``, and ``W (layer, row, col[, component])``
        when every draw keeps it. ``sample_stats``: ``acceptance_rate``,
        ``step_size``, ``diverging``, ``lp`` (log density in the sampled
        coordinates), ``n_steps``, and, when ``W`` is in the posterior,
        ``constraint_residual`` (max ``|W_{p+1}^* W_{p+1} - W_p W_p^*|``) and
        ``phi_error`` (max ``|phi(W) - X| / max |X|``). When only some draws keep
        ``W``: group ``lifted`` with ``W (chain, kept_draw, layer, row, col[,
        component])``, ``constraint_residual`` and ``phi_error``, coordinate
        ``kept_draw`` = the draw indices. Over ``C`` and ``H`` matrices are real
        components along ``component`` (``re, i`` or ``re, i, j, k``). Root
        attributes: provenance, width, depth, beta, seed, field, sampler
        ``"lift"``, route, settings (JSON), energy, target,
        ``assumes_entropy_formula = 1``.
    """
    d = check_width(width)
    N = check_depth(depth)
    beta = check_positive(beta, "beta")
    F = resolve_field(field)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy) % (1 << 63)
    seed = check_count(seed, "seed", 0)
    n_draws = check_count(n_draws, "n_draws", 1)
    n_chains = check_count(n_chains, "n_chains", 1)
    n_warmup = max(500, n_draws // 2) if n_warmup is None else check_count(n_warmup, "n_warmup", 0)
    step_size = check_positive(step_size, "step_size")
    max_leapfrog = check_count(max_leapfrog, "max_leapfrog", 1)
    thin = check_count(thin, "thin", 1)
    target_accept = check_positive(target_accept, "target_accept")
    if not target_accept < 1:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept!r}")
    n = F.rep_size(d)
    if energy is not None and target is not None:
        raise ValueError("pass either target or energy, not both (target defines the energy)")
    if energy is None:
        en = QuadraticEnergy(target, field=F)
        if en.target is not None and en.target.shape != (n, n):
            raise ValueError(
                f"target must have shape ({n}, {n}) over {F.name!r}, got {en.target.shape}"
            )
    else:
        en = as_energy(energy)
    route = "singular_values" if energy is None and en.target is None else "power_map"
    if integration_time is None:
        integration_time = 2.0 if route == "singular_values" else 3.0
    integration_time = check_positive(integration_time, "integration_time")
    bytes_per_W = N * n * n * F.dtype.itemsize
    kept = kept_draws(keep_W, n_draws, n_chains, bytes_per_W)

    rng = np.random.default_rng([seed, _STREAM_MCMC])
    hmc = {
        "n_warmup": n_warmup,
        "n_draws": n_draws,
        "rng": rng,
        "step_size": step_size,
        "integration_time": integration_time,
        "max_leapfrog": max_leapfrog,
        "target_accept": target_accept,
        "thin": thin,
        "progress": bool(progress),
    }
    if route == "singular_values":
        log_s, X, frames, res = _run_singular_values(d, N, beta, F, n_chains, hmc, seed, kept)
        energy_values = 0.5 * np.exp(2.0 * log_s).sum(-1)
    else:
        Y = getattr(en, "target", None)
        log_s, X, frames, res = _run_power_map(d, N, beta, F, en, Y, n_chains, hmc, kept)
        energy_values = en.value(X)

    W_kept, resid, phi_err = _lift_kept(X, log_s, frames, kept, N, F, seed, n_chains)
    s = np.maximum(np.exp(log_s), np.finfo(np.float64).tiny)
    Xc = F.to_components(X)  # (chain, draw, d, d, b)
    idx = np.arange(d)
    posterior: dict[str, NDArray] = {
        "X": Xc if F.b > 1 else Xc[..., 0],
        "singular_values": s,
        "log_singular_values": log_s,
        "entropy": entropy_log_sv(log_s, N, F),
        "energy": energy_values,
        "trace_X": Xc[..., idx, idx, :].sum(axis=-2) if F.b > 1 else Xc[..., idx, idx, 0].sum(-1),
    }
    sample_stats = dict(res.stats)
    all_kept = kept.size == n_draws
    if all_kept:
        posterior["W"] = W_kept
        sample_stats["constraint_residual"] = resid
        sample_stats["phi_error"] = phi_err
    settings = {
        "n_warmup": n_warmup,
        "step_size": step_size,
        "integration_time": integration_time,
        "max_leapfrog": max_leapfrog,
        "target_accept": target_accept,
        "thin": thin,
        "frozen_step_size": res.step_size,
        "keep_W": "all" if all_kept else kept.tolist(),
    }
    Y = getattr(en, "target", None)
    attrs = {
        "width": d,
        "depth": N,
        "beta": beta,
        "seed": seed,
        "sampler": "lift",
        "route": route,
        "n_warmup": n_warmup,
        "thin": thin,
        "settings": json.dumps(settings),
        "energy": "|X - Y|^2 / 2" if energy is None else repr(en),
        "target": None if Y is None else json.dumps(F.to_components(Y)[..., 0].tolist()
                                                     if F.b == 1 else F.to_components(Y).tolist()),
        "field": F.name,
        "assumes_entropy_formula": 1,
    }
    dims = {"log_singular_values": ("sv",)}
    comp = F.b > 1
    if comp:
        dims.update({
            "W": ("layer", "row", "col", "component"),
            "X": ("row", "col", "component"),
            "trace_X": ("component",),
        })
    tree = build_tree(posterior, sample_stats, dims=dims, attrs=attrs)
    if comp:
        post = tree["posterior"].to_dataset().assign_coords(component=list(F.components))
        tree["posterior"] = xr.DataTree(post)
    if not all_kept:
        wdims = ("chain", "kept_draw", "layer", "row", "col") + (("component",) if comp else ())
        ds = xr.Dataset(
            {
                "W": (wdims, W_kept),
                "constraint_residual": (("chain", "kept_draw"), resid),
                "phi_error": (("chain", "kept_draw"), phi_err),
            },
            coords={
                "chain": np.arange(n_chains),
                "kept_draw": kept,
                **{dim: np.arange(W_kept.shape[i + 2]) for i, dim in enumerate(wdims[2:5])},
            },
        )
        if comp:
            ds = ds.assign_coords(component=list(F.components))
        tree["lifted"] = xr.DataTree(ds)
    return tree


def _run_singular_values(d, N, beta, F, n_chains, hmc, seed, kept):
    """HMC on the ordered log singular values; Haar frames ``U, V`` for every draw.

    Returns ``log s (C, K, d)``, ``X (C, K, n, n)``, the frames of the kept draws
    (``(C, len(kept), n, n)`` each) and the HMC result.
    """
    rng = hmc["rng"]
    # Start: log singular values of Gaussian matrices scaled by beta^{-1/2}; the warm-up
    # moves s_min into its deep tail within a few windows (its log gap is O(1)).
    g = F.gaussian(d, n_chains, rng) / np.sqrt(beta)
    t0 = np.log(F.singular_values_unchecked(g))
    t0 = t0 - 1e-3 * np.arange(d)  # strictly decreasing even if two values coincide
    b = float(F.b)

    def log_density(q):
        t = _gaps_to_logs(q)
        lp, g_t = _ordered_log_density(t, N, beta, b)
        # t_1 moves every t_k; eta_i moves t_k for k > i (by -e^{eta_i}); log-Jacobian sum eta.
        tail = np.cumsum(g_t[:, ::-1], axis=-1)[:, ::-1]  # tail[k] = sum_{m >= k} g_m
        with np.errstate(over="ignore", invalid="ignore"):
            g_eta = 1.0 - np.exp(q[:, 1:]) * tail[:, 1:]
        return lp + q[:, 1:].sum(-1), np.concatenate([tail[:, :1], g_eta], axis=-1)

    res = sample_hmc(log_density, _logs_to_gaps(t0), dense=d <= 200, **hmc)
    log_s = _gaps_to_logs(res.draws)  # (chain, draw, d), descending
    C, K = log_s.shape[:2]
    frames_rng = np.random.default_rng([seed, _STREAM_FRAMES])
    n = F.rep_size(d)
    X = np.empty((C, K, n, n), dtype=F.dtype)
    Uk = np.empty((C, kept.size, n, n), dtype=F.dtype)
    Vk = np.empty_like(Uk)
    for start in range(0, K, _FRAME_CHUNK):  # fixed chunks: the stream does not depend on K
        stop = min(start + _FRAME_CHUNK, K)
        Q = F.haar(d, (C, stop - start, 2), frames_rng)
        U, V = Q[:, :, 0], Q[:, :, 1]
        s = F.expand_diagonal(np.exp(log_s[:, start:stop]))
        X[:, start:stop] = (U * s[..., None, :]) @ F.ct(V)
        sel = (kept >= start) & (kept < stop)
        Uk[:, sel], Vk[:, sel] = U[:, kept[sel] - start], V[:, kept[sel] - start]
    return log_s, X, (Uk, Vk), res


def _run_power_map(d, N, beta, F, en, Y, n_chains, hmc, kept):
    """HMC on ``Z`` (real components) with ``X = Z |Z|^{N-1}``."""
    rng = hmc["rng"]
    X0 = F.gaussian(d, n_chains, rng)
    if Y is not None:
        X0 = X0 + Y
    U0, s0, V0 = F.svd(X0)
    Z0 = (U0 * F.expand_diagonal(s0 ** (1.0 / N))[..., None, :]) @ F.ct(V0)
    z0 = F.to_components(Z0).reshape(n_chains, -1)

    def log_density(z):
        return log_density_power_map(z, N, beta, en, F, d)

    dim = z0.shape[-1]
    res = sample_hmc(log_density, z0, dense=dim <= 200, **hmc)
    C, K = res.draws.shape[:2]
    Zm = F.from_components(res.draws.reshape(C, K, d, d, F.b))
    U, sig, V = F.svd(Zm)  # frames in G_d (for H in the image of chi), sigma once each
    log_sig = np.log(sig)
    X = (U * F.expand_diagonal(np.exp(N * log_sig))[..., None, :]) @ F.ct(V)
    return N * log_sig, X, (U[:, kept], V[:, kept]), res


def _lift_kept(X, log_s, frames, kept, N, F, seed, n_chains):
    """Lift the kept draws of every chain: W in components, residuals and phi errors.

    The gauge of chain ``c`` comes from its own stream (seed, chain), drawn in
    chunks over its kept draws in order.
    """
    Uk, Vk = frames
    n = X.shape[-1]
    d = log_s.shape[-1]
    K = kept.size
    comp_shape = (d, d, F.b) if F.b > 1 else (n, n)
    W_out = np.empty((n_chains, K, N, *comp_shape))
    resid = np.zeros((n_chains, K))
    phi_err = np.empty((n_chains, K))
    # Chunks of kept draws bound the temporaries (one W is N n^2 numbers).
    chunk = max(1, int(DEFAULT_KEEP_W_BYTES // (8 * max(1, N * n * n * F.dtype.itemsize))))
    for c in range(n_chains):  # loop over chains, vectorized over their kept draws
        gauge_rng = np.random.default_rng([seed, _STREAM_GAUGE, c])
        for start in range(0, K, chunk):
            sl = slice(start, min(start + chunk, K))
            ks = kept[sl]
            W = lift_to_manifold(Uk[c, sl], log_s[c, ks] / N, Vk[c, sl], N, F, rng=gauge_rng)
            if N > 1:
                Wh = F.ct(W)
                r = Wh[:, 1:] @ W[:, 1:] - W[:, :-1] @ Wh[:, :-1]
                resid[c, sl] = np.abs(F.to_components(r)).max(axis=(-4, -3, -2, -1))
            Xw = _phi(W)
            scale = np.abs(X[c, ks]).max(axis=(-2, -1))
            phi_err[c, sl] = np.abs(Xw - X[c, ks]).max(axis=(-2, -1)) / scale
            W_out[c, sl] = F.to_components(W) if F.b > 1 else W
    return W_out, resid, phi_err
