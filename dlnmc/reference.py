"""Reference ensembles by emcee on the closed-form reduced densities (MATH.md section 6).

Two references, independent of the balanced-manifold samplers, both returned in
the DataTree layout of :func:`dlnmc.sample_balanced` (walkers play the role of
chains):

- :func:`reference_singular_values` (orthogonally invariant ``E = |X|^2/2``): the
  ordered singular values have density
  ``exp(-beta E) prod s_i^{-(N-1)/N} prod_{i<j} |s_i^2 - s_j^2| D_ij^{-alpha}``.
- :func:`reference_end_to_end` (any target ``Y``): ``X`` in ``d^2`` dimensions with
  Lebesgue density ``exp(-beta |X - Y|^2/2) rho(X)``, ``log rho`` from
  :func:`dlnmc.entropy.log_rho_sv` (with ``D_ij^{-alpha}`` for the test family).

Why a change of variables: ``rho`` has the integrable singularity
``s_min^{-(N-1)/N}`` at singular ``X``, where a random-walk ensemble sampler
mixes poorly. Both references sample ``Z`` with ``X = U diag(sigma^N) V^T``
(``Z = U diag(sigma) V^T``, i.e. ``s = sigma^N``) and add the exact log-Jacobian

    log |det dX/dZ| = d log N + (N-1) sum_i log sigma_i + sum_{i<j} log D_ij,

(a spectral function ``f(sigma) = sigma^N`` has Jacobian
``prod f'(sigma_i) prod_{i<j} (f_i^2 - f_j^2)/(sigma_i^2 - sigma_j^2)``), under which
the pulled-back density is smooth. The singular-value version is the same with
``u = s^{1/N}`` (unordered, reflected to ``|u|``; the density is symmetric, so
sorting gives the ordered law).
"""

from __future__ import annotations

import json

import emcee
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_square, check_width
from dlnmc.energy import QuadraticEnergy
from dlnmc.ensemble import build_tree
from dlnmc.entropy import _log_D_from_logs, entropy_sv, log_sv_density

__all__ = [
    "log_density_end_to_end",
    "power_map_log_jacobian",
    "reference_end_to_end",
    "reference_singular_values",
]


def _log_D_sum(t: NDArray[np.float64], depth: int) -> NDArray[np.float64]:
    """``sum_{i<j} log D_ij`` from ``t = log s`` (any order), shape ``(...)``."""
    iu, ju = np.triu_indices(t.shape[-1], 1)
    hi = np.maximum(t[..., iu], t[..., ju])
    lo = np.minimum(t[..., iu], t[..., ju])
    return _log_D_from_logs(hi, lo, depth).sum(axis=-1)


def power_map_log_jacobian(sigma: ArrayLike, depth: int) -> NDArray[np.float64]:
    """``log |det dX/dZ|`` of ``Z = U diag(sigma) V^T -> X = U diag(sigma^N) V^T``.

    Parameters
    ----------
    sigma : array_like, shape (..., d)
        Singular values of ``Z``, positive.
    depth : int

    Returns
    -------
    ndarray, shape (...)
        ``d log N + (N-1) sum log sigma_i + sum_{i<j} log D_ij(s = sigma^N)``.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    N = check_depth(depth)
    t = N * np.log(sigma)
    return sigma.shape[-1] * np.log(N) + (N - 1) * np.log(sigma).sum(-1) + _log_D_sum(t, N)


def log_density_end_to_end(
    X: ArrayLike, depth: int, beta: float, target: ArrayLike | None = None, *, alpha: float = 0.5
) -> NDArray[np.float64]:
    """Unnormalized ``log p(X) = -beta |X - Y|^2/2 - (N-1)/N sum log s_i - alpha sum log D_ij``.

    With ``alpha = 1/2`` this is ``-beta E(X) + log rho(X)`` up to a constant
    (MATH.md section 6). Returns ``-inf`` for singular ``X``.
    """
    X = check_square(X)
    N = check_depth(depth)
    E = QuadraticEnergy(target).value(X)
    s = np.linalg.svd(X, compute_uv=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(s)
        out = -beta * E - (N - 1) / N * t.sum(-1) - alpha * _log_D_sum(t, N)
    return np.where(np.all(s > 0, axis=-1) & np.isfinite(out), out, -np.inf)


class _ZDensity:
    """emcee log-probability of ``Z`` (flattened, vectorized over walkers)."""

    def __init__(self, d, N, beta, target, alpha):
        self.d, self.N, self.beta, self.alpha = d, N, beta, alpha
        self.energy = QuadraticEnergy(target)

    def __call__(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        d, N = self.d, self.N
        Z = z.reshape(-1, d, d)
        U, sig, Vt = np.linalg.svd(Z)
        X = (U * sig[:, None, :] ** N) @ Vt
        with np.errstate(divide="ignore", invalid="ignore"):
            t = N * np.log(sig)
            log_p = (
                -self.beta * self.energy.value(X)
                - (N - 1) / N * t.sum(-1)
                - self.alpha * _log_D_sum(t, N)
                + power_map_log_jacobian(sig, N)
            )
        return np.where(np.isfinite(log_p), log_p, -np.inf)


class _UDensity:
    """emcee log-probability of ``v`` with ``u = |v| = s^{1/N}`` (unordered)."""

    def __init__(self, N, beta, alpha):
        self.N, self.beta, self.alpha = N, beta, alpha

    def __call__(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        N = self.N
        u = np.abs(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = u**N
            ok = np.all(s > 0, axis=-1) & np.all(np.isfinite(s), axis=-1)
            s_safe = np.where(ok[:, None], s, 1.0)
            # ds = N u^{N-1} du per coordinate.
            log_p = log_sv_density(s_safe, N, self.beta, alpha=self.alpha) + (N - 1) * np.log(
                np.where(ok[:, None], u, 1.0)
            ).sum(-1)
        return np.where(ok & np.isfinite(log_p), log_p, -np.inf)


def _run_emcee(log_prob, p0, n_draws, n_burn, thin, rng):
    n_walkers, ndim = p0.shape
    sampler = emcee.EnsembleSampler(
        n_walkers,
        ndim,
        log_prob,
        vectorize=True,
        # Stretch + differential evolution. Not DESnookerMove: on these densities
        # emcee 3.1.6's snooker move converged to a visibly wrong law (E[s_1] 1.09
        # instead of 1.228 for d=2, N=3), while stretch and DE agree with quadrature.
        moves=[(emcee.moves.StretchMove(), 0.5), (emcee.moves.DEMove(), 0.5)],
    )
    # emcee draws from its own RandomState: seed it from our generator (reproducible).
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
    state = sampler.run_mcmc(p0, n_burn, progress=False) if n_burn else p0
    sampler.reset()
    sampler.run_mcmc(state, n_draws * thin, thin_by=1, progress=False)
    chain = sampler.get_chain(thin=thin)  # (draw, walker, ndim)
    return np.swapaxes(chain, 0, 1), float(np.mean(sampler.acceptance_fraction))


def reference_singular_values(
    width: int,
    depth: int,
    *,
    beta: float,
    n_draws: int,
    seed: int,
    n_walkers: int = 32,
    n_burn: int = 1000,
    thin: int = 1,
    alpha: float = 0.5,
) -> xr.DataTree:
    """emcee on the singular-value law of MATH.md section 6 (``E = |X|_F^2 / 2``).

    Returns
    -------
    xarray.DataTree
        ``posterior``: ``singular_values (chain=walker, draw, sv)`` descending,
        ``entropy``, ``energy``; root attributes ``alpha`` and ``reference``.
    """
    d, N = check_width(width), check_depth(depth)
    rng = np.random.default_rng(seed)
    p0 = np.abs(rng.standard_normal((n_walkers, d))) ** (1.0 / N) + 0.05
    chain, acc = _run_emcee(_UDensity(N, beta, alpha), p0, n_draws, n_burn, thin, rng)
    s = -np.sort(-(np.abs(chain) ** N), axis=-1)
    posterior = {
        "singular_values": s,
        "entropy": entropy_sv(s, N),
        "energy": 0.5 * (s * s).sum(-1),
    }
    attrs = {
        "width": d,
        "depth": N,
        "beta": float(beta),
        "seed": int(seed),
        "alpha": float(alpha),
        "sampler": "emcee",
        "reference": "singular_values",
        "acceptance_fraction": acc,
        "settings": json.dumps({"n_walkers": n_walkers, "n_burn": n_burn, "thin": thin}),
    }
    return build_tree(posterior, attrs=attrs)


def reference_end_to_end(
    width: int,
    depth: int,
    *,
    beta: float,
    n_draws: int,
    seed: int,
    target: ArrayLike | None = None,
    n_walkers: int | None = None,
    n_burn: int = 2000,
    thin: int = 1,
    alpha: float = 0.5,
) -> xr.DataTree:
    """emcee on ``X`` (``d^2`` dimensions) with log density ``-beta E(X) + log rho(X)``.

    Returns
    -------
    xarray.DataTree
        ``posterior``: ``X``, ``singular_values``, ``entropy``, ``energy``, ``trace_X``.
    """
    d, N = check_width(width), check_depth(depth)
    rng = np.random.default_rng(seed)
    n_walkers = n_walkers or max(32, 4 * d * d)
    Y = None if target is None else check_square(target, "target")
    X0 = rng.standard_normal((n_walkers, d, d)) + (0 if Y is None else Y)
    U, s0, Vt = np.linalg.svd(X0)
    Z0 = (U * s0[:, None, :] ** (1.0 / N)) @ Vt
    log_prob = _ZDensity(d, N, beta, Y, alpha)
    chain, acc = _run_emcee(log_prob, Z0.reshape(n_walkers, -1), n_draws, n_burn, thin, rng)
    Z = chain.reshape(*chain.shape[:2], d, d)
    U, sig, Vt = np.linalg.svd(Z)
    X = (U * sig[..., None, :] ** N) @ Vt
    s = sig**N
    energy = QuadraticEnergy(Y).value(X)
    posterior = {
        "X": X,
        "singular_values": s,
        "entropy": entropy_sv(s, N),
        "energy": energy,
        "trace_X": np.trace(X, axis1=-2, axis2=-1),
    }
    attrs = {
        "width": d,
        "depth": N,
        "beta": float(beta),
        "seed": int(seed),
        "alpha": float(alpha),
        "sampler": "emcee",
        "reference": "end_to_end",
        "acceptance_fraction": acc,
        "target": None if Y is None else json.dumps(Y.tolist()),
        "settings": json.dumps({"n_walkers": n_walkers, "n_burn": n_burn, "thin": thin}),
    }
    return build_tree(posterior, attrs=attrs)
