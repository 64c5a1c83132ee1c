"""Hamiltonian Monte Carlo on a flat space, vectorized over chains (used by the lifted sampler).

The balanced-manifold samplers of this package move on a constrained surface;
the lifted sampler (:mod:`dlnmc.lift`) only needs an ordinary Euclidean HMC on a
smooth reduced density (log singular values, or the matrix ``Z`` of the power
map). This module is that HMC, kept separate so the reduced densities stay
readable and the integrator can be tested on a Gaussian.

Scheme: leapfrog in whitened coordinates ``q = L w`` (``L L^T`` the adapted
covariance, dense or diagonal), a per-chain integration time jittered
uniformly in ``[0.5, 1.5] * integration_time``, the number of leapfrog steps
``ceil(time / step_size)`` (chains that finish early are frozen, so the
transition stays vectorized), dual averaging of the step size towards
``target_accept``, and Stan-like warm-up windows for the covariance (pooled
over chains). After warm-up the step size is frozen at the median over chains
of the dual-averaging iterates.

A state where the log density is ``-inf`` or not finite rejects the proposal:
this is how the ordered-cone constraint of the singular-value route is imposed
(an exact Metropolis rejection, not a reflection).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dlnmc.samplers.base import DualAveraging

__all__ = ["HMCResult", "LogDensity", "sample_hmc", "warmup_windows"]

#: ``log_density(q) -> (lp, grad)`` for ``q`` of shape ``(C, n)``: ``lp (C,)``, ``grad (C, n)``.
LogDensity = Callable[[NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.float64]]]

#: Energy error beyond which a transition counts as divergent (ArviZ / Stan convention).
DIVERGENCE_THRESHOLD = 1000.0


@dataclass
class HMCResult:
    """Draws and per-transition statistics of :func:`sample_hmc`.

    Attributes
    ----------
    draws : (C, n_draws, n)
        Positions after each kept transition.
    stats : dict of (C, n_draws) arrays
        ``acceptance_rate``, ``step_size``, ``diverging``, ``lp``, ``n_steps`` (ArviZ names).
    step_size : float
        Frozen step size (in whitened units).
    chol : (n, n)
        Final Cholesky factor of the adapted covariance (diagonal when not dense).
    """

    draws: NDArray[np.float64]
    stats: dict[str, NDArray]
    step_size: float
    chol: NDArray[np.float64]


def warmup_windows(n_warmup: int) -> list[int]:
    """End indices (exclusive) of the slow windows at which the covariance is re-estimated.

    Stan's layout scaled to ``n_warmup``: an initial fast window of 15%, slow
    windows doubling from 25 draws, a final fast window of 10% for the step size.
    Fewer than 20 warm-up transitions: no covariance adaptation.
    """
    if n_warmup < 20:
        return []
    start = max(1, int(0.15 * n_warmup))
    end = n_warmup - max(1, int(0.10 * n_warmup))
    ends, size, pos = [], 25, start
    while pos + size <= end:
        nxt = pos + size
        if nxt + 2 * size > end:  # the last slow window absorbs the remainder
            nxt = end
        ends.append(nxt)
        pos, size = nxt, 2 * size
    if not ends and end > start:
        ends = [end]
    return ends


def _covariance_factor(samples: NDArray[np.float64], dense: bool) -> NDArray[np.float64]:
    """Cholesky factor of the regularized sample covariance (Stan's shrinkage towards 1e-3 I)."""
    n, dim = samples.shape
    x = samples - samples.mean(axis=0)
    if dense:
        cov = x.T @ x / max(n - 1, 1)
        cov = (n / (n + 5.0)) * cov + 1e-3 * (5.0 / (n + 5.0)) * np.eye(dim)
        return np.linalg.cholesky(cov)
    var = (x * x).sum(axis=0) / max(n - 1, 1)
    var = (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0))
    return np.diag(np.sqrt(var))


def _leapfrog(log_density, w, z, lp, gw, eps, n_steps, chol):
    """Integrate every chain for its own ``n_steps`` (frozen afterwards); whitened coordinates.

    Returns the end point ``(w, z, lp, gw)`` and whether the trajectory met a
    non-finite density (then the chain stops there and its proposal is rejected).
    """
    w, z, gw = w.copy(), z.copy(), gw.copy()
    lp = lp.copy()
    bad = np.zeros(w.shape[0], dtype=bool)
    e = eps[:, None]
    z += 0.5 * e * gw
    for k in range(int(n_steps.max())):  # loop over leapfrog steps, vectorized over chains
        active = (k < n_steps) & ~bad
        if not active.any():
            break
        a = active[:, None]
        w = np.where(a, w + e * z, w)
        with np.errstate(all="ignore"):
            lp_new, g = log_density(w @ chol.T)
            gw_new = g @ chol
        ok = np.isfinite(lp_new) & np.all(np.isfinite(gw_new), axis=-1)
        bad |= active & ~ok
        upd = active & ok
        lp = np.where(upd, lp_new, lp)
        gw = np.where(upd[:, None], gw_new, gw)
        last = (k == n_steps - 1)[:, None]
        z = np.where(upd[:, None], z + np.where(last, 0.5, 1.0) * e * gw, z)
    return w, z, lp, gw, bad


def sample_hmc(
    log_density: LogDensity,
    q0: NDArray[np.float64],
    *,
    n_warmup: int,
    n_draws: int,
    rng: np.random.Generator,
    step_size: float = 0.1,
    integration_time: float = 2.0,
    max_leapfrog: int = 256,
    target_accept: float = 0.8,
    dense: bool = True,
    chol: NDArray[np.float64] | None = None,
    thin: int = 1,
    progress: bool = False,
) -> HMCResult:
    """Run ``C`` HMC chains from ``q0`` (shape ``(C, n)``), all advanced together.

    Parameters
    ----------
    log_density : callable
        ``q (C, n) -> (lp (C,), grad (C, n))``; ``lp = -inf`` marks a forbidden point.
    q0 : (C, n)
        Starting points, each with a finite log density.
    n_warmup, n_draws : int
        Adaptation transitions (discarded) and kept transitions.
    rng : numpy.random.Generator
        The only source of randomness (same generator state -> same draws).
    step_size : float
        Initial step size in whitened units.
    integration_time : float
        Mean integration time (whitened units); each transition draws
        ``uniform(0.5, 1.5) * integration_time`` per chain.
    max_leapfrog : int
        Cap on the leapfrog steps of one transition.
    target_accept : float
        Dual-averaging target of the mean acceptance probability.
    dense : bool
        Dense (True) or diagonal covariance adaptation.
    chol : (n, n), optional
        Initial whitening factor (default identity).
    thin : int
        Keep every ``thin``-th transition after warm-up (``n_draws`` are kept).
    progress : bool
        Show a tqdm progress bar over the transitions.

    Returns
    -------
    HMCResult
    """
    q0 = np.asarray(q0, dtype=np.float64)
    C, dim = q0.shape
    chol = np.eye(dim) if chol is None else np.asarray(chol, dtype=np.float64)
    lp, g = log_density(q0)
    if not np.all(np.isfinite(lp)):
        raise ValueError("every starting point must have a finite log density")
    w = np.linalg.solve(chol, q0.T).T
    gw = g @ chol
    eps = np.full(C, float(step_size))
    adapt = DualAveraging(eps.copy(), target_accept)
    windows = warmup_windows(n_warmup)
    window_start = max(1, int(0.15 * n_warmup)) if windows else 0
    buffer: list[NDArray[np.float64]] = []
    total = n_warmup + n_draws * thin
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="hmc")
    draws = np.empty((n_draws, C, dim))
    names = ("acceptance_rate", "step_size", "diverging", "lp", "n_steps")
    stats = {k: np.empty((n_draws, C)) for k in names}
    for it in range(total):
        warm = it < n_warmup
        if it == n_warmup:
            # Frozen step size: one value for all chains (the median of their iterates).
            eps = np.full(C, float(np.median(adapt.final())))
        time = integration_time * rng.uniform(0.5, 1.5, size=C)
        n_steps = np.clip(np.ceil(time / eps), 1, max_leapfrog).astype(np.int64)
        z0 = rng.standard_normal((C, dim))
        w1, z1, lp1, gw1, bad = _leapfrog(log_density, w, z0, lp, gw, eps, n_steps, chol)
        with np.errstate(all="ignore"):
            log_ratio = (lp1 - 0.5 * (z1 * z1).sum(-1)) - (lp - 0.5 * (z0 * z0).sum(-1))
        log_ratio = np.where(bad | ~np.isfinite(log_ratio), -np.inf, log_ratio)
        accept_prob = np.exp(np.minimum(log_ratio, 0.0))
        accept = rng.uniform(size=C) < accept_prob
        diverging = bad | (log_ratio < -DIVERGENCE_THRESHOLD)
        w = np.where(accept[:, None], w1, w)
        lp = np.where(accept, lp1, lp)
        gw = np.where(accept[:, None], gw1, gw)
        used_eps = eps.copy()
        if warm:
            eps = adapt.update(accept_prob)
            if windows and it >= window_start:
                buffer.append(w @ chol.T)
                if it + 1 == windows[0]:
                    # New covariance from this window (pooled over chains); restart the
                    # step-size adaptation around the current step size.
                    q = np.concatenate(buffer, axis=0)
                    new = _covariance_factor(q, dense)
                    w = np.linalg.solve(new, (w @ chol.T).T).T
                    gw = (gw @ np.linalg.inv(chol)) @ new
                    chol = new
                    windows.pop(0)
                    buffer = []
                    eps = np.full(C, float(np.median(eps)))
                    adapt = DualAveraging(eps.copy(), target_accept)
        elif (it - n_warmup) % thin == thin - 1:
            k = (it - n_warmup) // thin
            draws[k] = w @ chol.T
            stats["acceptance_rate"][k] = accept_prob
            stats["step_size"][k] = used_eps
            stats["diverging"][k] = diverging
            stats["lp"][k] = lp
            stats["n_steps"][k] = n_steps
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    if n_draws == 0 or n_warmup == total:
        eps = np.full(C, float(np.median(adapt.final())))
    out = {k: np.ascontiguousarray(v.T) for k, v in stats.items()}
    out["diverging"] = out["diverging"].astype(bool)
    out["n_steps"] = out["n_steps"].astype(np.int64)
    return HMCResult(np.ascontiguousarray(np.swapaxes(draws, 0, 1)), out, float(eps[0]), chol)
