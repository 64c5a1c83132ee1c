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

Fields (``field="complex"``, ``"quaternion"``; MATH.md section 8, Dyson index
``b = 2, 4``). The singular-value law becomes
``exp(-beta E) prod s_i^(b-1) D_ii^(-1/2) prod_{i<j} |s_i^2 - s_j^2|^b D_ij^(-b alpha)``
(:func:`dlnmc.entropy_fields.log_sv_density_field`), sampled the same way. The
end-to-end reference samples ``X in M_d(F)`` in its real components
(:func:`dlnmc.fields.to_components`, ``b d^2`` coordinates, each real component
of a quaternion once), in which Lebesgue measure is the one of the real inner
product ``Re tr(V^* W)`` of section 8 and ``rho_b`` is a density (the complex
``2d x 2d`` representation would count every component twice: a factor 2 in
the energy). The power map over ``F`` has log-Jacobian

    d log N + b (N-1) sum_i log sigma_i + b sum_{i<j} log D_ij

(the Lebesgue measure of ``M_d(F)`` in SVD coordinates is
``prod s_i^(b-1) prod_{i<j} |s_i^2 - s_j^2|^b ds dU dV``; the map keeps ``U, V``).
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
from dlnmc.entropy_fields import log_sv_density_field
from dlnmc.fields import (
    COMPONENT_LABELS,
    check_field,
    check_field_matrix,
    dyson_index,
    from_components,
    gaussian_matrix,
    inner,
    to_components,
)

__all__ = [
    "COMPONENTS",
    "log_density_end_to_end",
    "power_map_log_jacobian",
    "power_map_log_jacobian_field",
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


# Real component labels of a matrix entry over F (last dimension "component").
COMPONENTS = COMPONENT_LABELS


def power_map_log_jacobian_field(sigma: ArrayLike, depth: int, field: str) -> NDArray[np.float64]:
    """``log |det dX/dZ|`` of ``Z -> X = U diag(sigma^N) V^*`` on ``M_d(F) = R^{b d^2}``.

    Returns
    -------
    ndarray, shape (...)
        ``d log N + b (N-1) sum log sigma_i + b sum_{i<j} log D_ij(s = sigma^N)``;
        equals :func:`power_map_log_jacobian` for ``field="real"``.
    """
    b = dyson_index(field)
    sigma = np.asarray(sigma, dtype=np.float64)
    N = check_depth(depth)
    t = N * np.log(sigma)
    return sigma.shape[-1] * np.log(N) + b * ((N - 1) * np.log(sigma).sum(-1) + _log_D_sum(t, N))


class _UDensityField:
    """As :class:`_UDensity` for the law over ``C`` or ``H``."""

    def __init__(self, N, beta, alpha, field):
        self.N, self.beta, self.alpha, self.field = N, beta, alpha, field

    def __call__(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        N = self.N
        u = np.abs(v)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            s = u**N
            ok = np.all(s > 0, axis=-1) & np.all(np.isfinite(s), axis=-1)
            s_safe = np.where(ok[:, None], s, 1.0)
            log_p = log_sv_density_field(s_safe, N, self.beta, self.field, alpha=self.alpha) + (
                N - 1
            ) * np.log(np.where(ok[:, None], u, 1.0)).sum(-1)
        return np.where(ok & np.isfinite(log_p), log_p, -np.inf)


class _ZDensityField:
    """emcee log-probability of ``Z`` over ``C`` or ``H`` in real components ``(d, d, b)``."""

    def __init__(self, d, N, beta, target, alpha, field):
        self.d, self.N, self.beta, self.alpha, self.field = d, N, beta, alpha, field
        self.b, self.target = dyson_index(field), target

    def end_to_end(self, Zm: NDArray) -> tuple[NDArray, NDArray[np.float64]]:
        """``X = U diag(sigma^N) V^*`` (storage of ``field``) and ``sigma`` (each once)."""
        U, sig, Vh = np.linalg.svd(Zm)
        # Over H the complex SVD of chi(Z) doubles every sigma; X = Z (Z^* Z)^{(N-1)/2}
        # does not depend on the choice of singular vectors, so it stays in chi's image.
        X = (U * sig[..., None, :] ** self.N) @ Vh
        return X, (sig[..., ::2] if self.field == "quaternion" else sig)

    def __call__(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        d, N, b = self.d, self.N, self.b
        Zm = from_components(z.reshape(-1, d, d, b), self.field)
        X, sig = self.end_to_end(Zm)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = N * np.log(sig)
            if self.target is None:
                energy = 0.5 * np.exp(2.0 * t).sum(-1)
            else:
                D = X - self.target
                energy = 0.5 * inner(D, D, self.field)
            # log rho_b = -1/2 sum log D_ii - b alpha sum_{i<j} log D_ij (+ const),
            # D_ii = N s_i^{2(N-1)/N}.
            log_rho = -(N - 1) / N * t.sum(-1) - b * self.alpha * _log_D_sum(t, N)
            log_p = -self.beta * energy + log_rho + power_map_log_jacobian_field(sig, N, self.field)
        return np.where(np.isfinite(log_p), log_p, -np.inf)


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
    field: str = "real",
) -> xr.DataTree:
    """emcee on the singular-value law of MATH.md section 6 (``E = |X|_F^2 / 2``).

    ``field="complex"`` or ``"quaternion"`` samples the law of MATH.md section 8
    (:func:`dlnmc.entropy_fields.log_sv_density_field`, Dyson index ``b = 2, 4``);
    ``"real"`` is the code (and the draws) it always was.

    Returns
    -------
    xarray.DataTree
        ``posterior``: ``singular_values (chain=walker, draw, sv)`` descending
        (over ``H`` each quaternionic singular value once), ``entropy`` (``S_b``),
        ``energy``; root attributes ``alpha``, ``field`` and ``reference``.
    """
    d, N = check_width(width), check_depth(depth)
    field = check_field(field)
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    rng = np.random.default_rng(seed)
    p0 = np.abs(rng.standard_normal((n_walkers, d))) ** (1.0 / N) + 0.05
    density = (
        _UDensity(N, beta, alpha) if field == "real" else _UDensityField(N, beta, alpha, field)
    )
    chain, acc = _run_emcee(density, p0, n_draws, n_burn, thin, rng)
    s = -np.sort(-(np.abs(chain) ** N), axis=-1)
    posterior = {
        "singular_values": s,
        "entropy": entropy_sv(s, N, field=field),
        "energy": 0.5 * (s * s).sum(-1),
    }
    attrs = _reference_attrs(
        "singular_values", d, N, beta, seed, alpha, field, acc, n_walkers, n_burn, thin
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
    field: str = "real",
) -> xr.DataTree:
    """emcee on ``X`` (``d^2`` dimensions) with log density ``-beta E(X) + log rho(X)``.

    ``field="complex"`` or ``"quaternion"``: ``X in M_d(F)``, ``b d^2`` real
    components, log density ``-beta |X - Y|^2/2 + log rho_b(X)`` against Lebesgue
    measure of the real inner product of MATH.md section 8; ``target`` ``Y`` in
    the storage of :mod:`dlnmc.fields` (complex ``d x d``, or the complex
    ``2d x 2d`` representation over ``H``).

    Returns
    -------
    xarray.DataTree
        ``posterior``: ``X``, ``singular_values``, ``entropy``, ``energy``, ``trace_X``.
        Over ``C``, ``H`` (the layout of ``sample_balanced(field=...)``):
        ``X (chain, draw, row, col, component)`` and ``trace_X (chain, draw,
        component)`` in real components (coordinate ``component``: ``re, i`` or
        ``re, i, j, k``), ``singular_values`` over ``F`` (each once), ``entropy``
        ``S_b``; root attribute ``field``.
    """
    d, N = check_width(width), check_depth(depth)
    field = check_field(field)
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    if field != "real":
        return _reference_end_to_end_field(
            d, N, beta, n_draws, seed, target, n_walkers, n_burn, thin, alpha, field
        )
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
    target = None if Y is None else Y.tolist()
    attrs = _end_to_end_attrs(d, N, beta, seed, alpha, field, acc, target, n_walkers, n_burn, thin)
    return build_tree(posterior, attrs=attrs)


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


def _reference_end_to_end_field(d, N, beta, n_draws, seed, target, n_walkers, n_burn, thin, alpha,
                                field) -> xr.DataTree:  # fmt: skip
    """:func:`reference_end_to_end` over ``C`` or ``H`` (arguments already validated)."""
    b = dyson_index(field)
    rng = np.random.default_rng(seed)
    n_walkers = n_walkers or max(32, 4 * b * d * d)
    Y = None
    if target is not None:
        Y = check_field_matrix(target, field, "target")
        if Y.ndim != 2 or to_components(Y, field).shape[:2] != (d, d):
            raise ValueError(f"target must be one {d} x {d} matrix over {field!r}, got {Y.shape}")
    log_prob = _ZDensityField(d, N, beta, Y, alpha, field)
    X0 = gaussian_matrix(d, field, n_walkers, rng) + (0 if Y is None else Y)
    U, sig0, Vh = np.linalg.svd(X0)
    Z0 = (U * sig0[:, None, :] ** (1.0 / N)) @ Vh  # X0 = Z0 (Z0^* Z0)^{(N-1)/2}
    z0 = to_components(Z0, field).reshape(n_walkers, -1)
    chain, acc = _run_emcee(log_prob, z0, n_draws, n_burn, thin, rng)
    Zm = from_components(chain.reshape(*chain.shape[:2], d, d, b), field)
    X, sig = log_prob.end_to_end(Zm)
    s = sig**N
    Xc = to_components(X, field)
    if Y is None:
        energy = 0.5 * (s * s).sum(-1)
    else:
        energy = 0.5 * inner(X - Y, X - Y, field)
    idx = np.arange(d)
    posterior = {
        "X": Xc,
        "singular_values": s,
        "entropy": entropy_sv(s, N, field=field),
        "energy": energy,
        "trace_X": Xc[..., idx, idx, :].sum(axis=-2),  # tr_F X, component by component
    }
    target = None if Y is None else to_components(Y, field).tolist()
    attrs = _end_to_end_attrs(d, N, beta, seed, alpha, field, acc, target, n_walkers, n_burn, thin)
    dims = {"X": ("row", "col", "component"), "trace_X": ("component",)}
    tree = build_tree(posterior, dims=dims, attrs=attrs)
    post = tree["posterior"].to_dataset().assign_coords(component=list(COMPONENTS[field]))
    tree["posterior"] = xr.DataTree(post)
    return tree
