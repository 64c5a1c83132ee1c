"""Reference ensembles by emcee on the closed-form reduced densities.

The densities are those of docs/guide/theory.md, 'The law of X on the balanced manifold'.

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

Fields (``field="complex"``, ``"quaternion"``; docs/guide/fields.md, Dyson index
``b = 2, 4``). The singular-value law becomes
``exp(-beta E) prod s_i^(b-1) D_ii^(-1/2) prod_{i<j} |s_i^2 - s_j^2|^b D_ij^(-b alpha)``
(:func:`dlnmc.entropy.log_sv_density` with ``field=``), sampled the same way. The
end-to-end reference samples ``X in M_d(F)`` in its real components
(:meth:`dlnmc.fields.Field.to_components`, ``b d^2`` coordinates, each real component
of a quaternion once), in which Lebesgue measure is the one of the real inner
product ``Re tr(V^* W)`` of docs/guide/fields.md and ``rho_b`` is a density (the complex
``2d x 2d`` representation would count every component twice: a factor 2 in
the energy). The power map over ``F`` has log-Jacobian

    d log N + b (N-1) sum_i log sigma_i + b sum_{i<j} log D_ij

(the Lebesgue measure of ``M_d(F)`` in SVD coordinates is
``prod s_i^(b-1) prod_{i<j} |s_i^2 - s_j^2|^b ds dU dV``; the map keeps ``U, V``).
One density class per reference (:class:`PowerMapDensity`, :class:`RootSVDensity`)
serves every field; ``b = 1`` is the real reference, draw for draw.
"""

from __future__ import annotations

import json

import emcee
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_width
from dlnmc.ensemble import build_tree
from dlnmc.entropy import entropy_sv, field_log_sv_density, log_D_pair_sum_from_logs
from dlnmc.fields import COMPONENT_LABELS, Field, resolve_field

__all__ = [
    "COMPONENTS",
    "PowerMapDensity",
    "RootSVDensity",
    "log_density_end_to_end",
    "power_map_log_jacobian",
    "reference_end_to_end",
    "reference_singular_values",
]

# Real component labels of a matrix entry over F (last dimension "component").
COMPONENTS = COMPONENT_LABELS


def _power_map_log_jacobian(sigma: NDArray[np.float64], N: int, field: Field) -> NDArray:
    t = N * np.log(sigma)
    return sigma.shape[-1] * np.log(N) + field.b * (
        (N - 1) * np.log(sigma).sum(-1) + log_D_pair_sum_from_logs(t, N)
    )


def power_map_log_jacobian(
    sigma: ArrayLike, depth: int, *, field: str | Field = "real"
) -> NDArray[np.float64]:
    """``log |det dX/dZ|`` of ``Z = U diag(sigma) V^* -> X = U diag(sigma^N) V^*`` on ``R^{b d^2}``.

    Parameters
    ----------
    sigma : array_like, shape (..., d)
        Singular values of ``Z`` over ``F`` (each once over ``H``), positive.
    depth : int
    field : {"real", "complex", "quaternion"} or Field, keyword-only

    Returns
    -------
    ndarray, shape (...)
        ``d log N + b (N-1) sum log sigma_i + b sum_{i<j} log D_ij(s = sigma^N)``.
    """
    F = resolve_field(field)
    return _power_map_log_jacobian(np.asarray(sigma, dtype=np.float64), check_depth(depth), F)


def _log_target(beta, energy, t, N, alpha, field: Field) -> NDArray[np.float64]:
    """``-beta E + log rho_b`` up to a constant, from ``t = log s``.

    The law of X: docs/guide/theory.md, 'The law of X on the balanced manifold'.

    ``log rho_b = -1/2 sum log D_ii - b/2 sum_{i<j} log D_ij`` with
    ``D_ii = N s_i^{2(N-1)/N}``; ``D_ij`` enters with the exponent ``b alpha``.
    """
    return (
        -beta * energy
        - (N - 1) / N * t.sum(-1)
        - field.b * alpha * log_D_pair_sum_from_logs(t, N)
    )


def log_density_end_to_end(
    X: ArrayLike,
    depth: int,
    beta: float,
    target: ArrayLike | None = None,
    *,
    alpha: float = 0.5,
    field: str | Field = "real",
) -> NDArray[np.float64]:
    """Unnormalized ``log p(X) = -beta |X - Y|^2/2 - (N-1)/N sum log s_i - b alpha sum log D_ij``.

    With ``alpha = 1/2`` this is ``-beta E(X) + log rho_b(X)`` up to a constant
    (docs/guide/theory.md, 'The law of X on the balanced manifold';
    ``X``, ``Y`` in the storage of ``field``).
    Returns ``-inf`` for singular ``X``.
    """
    F = resolve_field(field)
    X = F.check_matrix(X)
    N = check_depth(depth)
    D = X if target is None else X - F.check_matrix(target, "target")
    s = F.singular_values_unchecked(X)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _log_target(beta, 0.5 * F.sq_norm(D), np.log(s), N, alpha, F)
    return np.where(np.all(s > 0, axis=-1) & np.isfinite(out), out, -np.inf)


class PowerMapDensity:
    """emcee log-probability of ``Z`` with ``X = Z (Z^* Z)^{(N-1)/2}``, in real components.

    ``z`` of shape ``(walkers, b d^2)`` (the flattened :meth:`Field.to_components`
    of ``Z``, each real component once): ``-beta E(X) + log rho_b(X)`` plus the
    power map's log-Jacobian (:func:`power_map_log_jacobian`), smooth in ``Z``.
    """

    def __init__(self, width, depth, beta, target, alpha, field: Field):
        self.d, self.N, self.beta, self.alpha, self.field = width, depth, beta, alpha, field
        self.target = target

    def end_to_end(self, Zm: NDArray) -> tuple[NDArray, NDArray[np.float64]]:
        """``X = U diag(sigma^N) V^*`` (storage of the field) and ``sigma`` (each once)."""
        U, sig, Vh = np.linalg.svd(Zm)
        # Over H the complex SVD of chi(Z) doubles every sigma; X = Z (Z^* Z)^{(N-1)/2}
        # does not depend on the choice of singular vectors, so it stays in chi's image.
        X = (U * sig[..., None, :] ** self.N) @ Vh
        return X, self.field.fold_singular_values(sig)

    def __call__(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        F, d, N = self.field, self.d, self.N
        Zm = F.from_components(z.reshape(-1, d, d, F.b))
        X, sig = self.end_to_end(Zm)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            R = X if self.target is None else X - self.target
            log_p = _log_target(self.beta, 0.5 * F.sq_norm(R), N * np.log(sig), N, self.alpha, F)
            log_p = log_p + _power_map_log_jacobian(sig, N, F)
        return np.where(np.isfinite(log_p), log_p, -np.inf)


class RootSVDensity:
    """emcee log-probability of ``v`` with ``u = |v| = s^{1/N}`` (unordered singular values).

    The singular-value law of :func:`dlnmc.entropy.log_sv_density` times
    ``ds = N u^{N-1} du`` per coordinate.
    """

    def __init__(self, depth, beta, alpha, field: Field):
        self.N, self.beta, self.alpha, self.field = depth, beta, alpha, field

    def __call__(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        N = self.N
        u = np.abs(v)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            s = u**N
            ok = np.all(s > 0, axis=-1) & np.all(np.isfinite(s), axis=-1)
            s_safe = np.where(ok[:, None], s, 1.0)
            log_p = field_log_sv_density(
                s_safe, N, self.beta, self.field, self.alpha
            ) + (N - 1) * np.log(np.where(ok[:, None], u, 1.0)).sum(-1)
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
    field: str | Field = "real",
) -> xr.DataTree:
    """emcee on the closed-form singular-value law (``E = |X|^2 / 2``).

    The law: docs/guide/theory.md, 'The law of X on the balanced manifold'.

    ``field`` chooses the law (Dyson index ``b = 1, 2, 4``;
    :func:`dlnmc.entropy.log_sv_density`); over ``R`` the draws are those the
    real reference always gave.

    Returns
    -------
    xarray.DataTree
        ``posterior``: ``singular_values (chain=walker, draw, sv)`` descending
        (over ``H`` each quaternionic singular value once), ``entropy`` (``S_b``),
        ``energy``; root attributes ``alpha``, ``field`` and ``reference``.
    """
    F = resolve_field(field)
    d, N = check_width(width), check_depth(depth)
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    rng = np.random.default_rng(seed)
    p0 = np.abs(rng.standard_normal((n_walkers, d))) ** (1.0 / N) + 0.05
    chain, acc = _run_emcee(RootSVDensity(N, beta, alpha, F), p0, n_draws, n_burn, thin, rng)
    s = -np.sort(-(np.abs(chain) ** N), axis=-1)
    posterior = {
        "singular_values": s,
        "entropy": entropy_sv(s, N, field=F),
        "energy": 0.5 * (s * s).sum(-1),
    }
    attrs = _reference_attrs(
        "singular_values", d, N, beta, seed, alpha, F.name, acc, n_walkers, n_burn, thin
    )
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
    field: str | Field = "real",
) -> xr.DataTree:
    """emcee on ``X in M_d(F)`` (``b d^2`` real components), log density ``-beta E + log rho_b``.

    ``E = |X - Y|^2 / 2`` in the real inner product of docs/guide/fields.md;
    ``target`` ``Y`` in the storage of :mod:`dlnmc.fields` (real or complex
    ``d x d``, or the complex ``2d x 2d`` representation over ``H``).

    Returns
    -------
    xarray.DataTree
        ``posterior``: ``X``, ``singular_values``, ``entropy``, ``energy``, ``trace_X``.
        Over ``R``: ``X (chain, draw, row, col)``. Over ``C``, ``H`` (the layout
        of ``sample_balanced(field=...)``): ``X (chain, draw, row, col,
        component)`` and ``trace_X (chain, draw, component)`` in real components
        (coordinate ``component``: ``re, i`` or ``re, i, j, k``), ``singular_values``
        over ``F`` (each once), ``entropy`` ``S_b``; root attribute ``field``.
    """
    F = resolve_field(field)
    d, N = check_width(width), check_depth(depth)
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    rng = np.random.default_rng(seed)
    n_walkers = n_walkers or max(32, 4 * F.b * d * d)
    Y = None
    if target is not None:
        Y = F.check_matrix(target, "target")
        if Y.ndim != 2 or F.width_of(Y) != d:
            raise ValueError(f"target must be one {d} x {d} matrix over {F.name!r}, got {Y.shape}")
    log_prob = PowerMapDensity(d, N, beta, Y, alpha, F)
    X0 = F.gaussian(d, n_walkers, rng) + (0 if Y is None else Y)
    U, sig0, Vh = np.linalg.svd(X0)
    Z0 = (U * sig0[:, None, :] ** (1.0 / N)) @ Vh  # X0 = Z0 (Z0^* Z0)^{(N-1)/2}
    z0 = F.to_components(Z0).reshape(n_walkers, -1)
    chain, acc = _run_emcee(log_prob, z0, n_draws, n_burn, thin, rng)
    X, sig = log_prob.end_to_end(F.from_components(chain.reshape(*chain.shape[:2], d, d, F.b)))
    s = sig**N
    R = X if Y is None else X - Y
    Xc = F.to_components(X)
    idx = np.arange(d)
    trace = Xc[..., idx, idx, :].sum(axis=-2)  # tr_F X, component by component
    posterior = {
        "X": X if F.is_real else Xc,
        "singular_values": s,
        "entropy": entropy_sv(s, N, field=F),
        "energy": 0.5 * F.sq_norm(R),
        "trace_X": trace[..., 0] if F.is_real else trace,
    }
    target = None if Y is None else (Y.tolist() if F.is_real else F.to_components(Y).tolist())
    attrs = _end_to_end_attrs(d, N, beta, seed, alpha, F.name, acc, target, n_walkers, n_burn,
                              thin)  # fmt: skip
    if F.is_real:  # real ensembles carry no component dimension
        return build_tree(posterior, attrs=attrs)
    dims = {"X": ("row", "col", "component"), "trace_X": ("component",)}
    tree = build_tree(posterior, dims=dims, attrs=attrs)
    post = tree["posterior"].to_dataset().assign_coords(component=list(F.components))
    tree["posterior"] = xr.DataTree(post)
    return tree


def _reference_attrs(reference, d, N, beta, seed, alpha, field, acc, n_walkers, n_burn, thin,
                     **extra):  # fmt: skip
    """Root attributes of an emcee reference tree; ``extra`` entries go before ``settings``."""
    return {
        "width": d,
        "depth": N,
        "beta": float(beta),
        "seed": int(seed),
        "alpha": float(alpha),
        "field": field,
        "sampler": "emcee",
        "reference": reference,
        "acceptance_fraction": acc,
        **extra,
        "settings": json.dumps({"n_walkers": n_walkers, "n_burn": n_burn, "thin": thin}),
    }


def _end_to_end_attrs(d, N, beta, seed, alpha, field, acc, target, n_walkers, n_burn, thin):
    """Root attributes of an end-to-end reference tree (``target`` as nested lists or None)."""
    target = None if target is None else json.dumps(target)
    return _reference_attrs("end_to_end", d, N, beta, seed, alpha, field, acc, n_walkers,
                            n_burn, thin, target=target)  # fmt: skip
