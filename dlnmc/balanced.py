"""Sampling the balanced manifold: ``sample_balanced`` returns an ArviZ-layout DataTree.

The target is ``exp(-beta E(phi(W)))`` against the Hausdorff measure of the
balanced manifold ``M`` (MATH.md sections 2, 6, 7.3). By the coarea formula
the end-to-end matrix ``X = phi(W)`` then has Lebesgue density
``∝ exp(-beta E(X)) rho(X)`` with ``rho = e^{S(X)} / sqrt(det A_{N,X})``: the
entropy enters the law of ``X``, which is what the ensembles test.

The pieces: a :class:`~dlnmc.manifold.BalancedManifold` (field, coordinates, dense or
block projection), a sampler from :mod:`dlnmc.samplers` on it, the exact moves of
:mod:`dlnmc.moves`, and a backend of :mod:`dlnmc.backends` that receives the stored
draws in chunks (in memory, or streamed to a netCDF file with ``out=``).
"""

from __future__ import annotations

import inspect
import json
import os
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from dlnmc._validation import check_count as _check_count
from dlnmc._validation import check_depth, check_width
from dlnmc._validation import check_real as _check_real
from dlnmc.backends import Backend, MemoryBackend, NetCDFBackend, RunInfo
from dlnmc.backends.base import balanced_singular_values as _sv_of_balanced
from dlnmc.energy import Energy, QuadraticEnergy, as_energy
from dlnmc.fields import REAL, Field, resolve_field
from dlnmc.lift import sample_lifted
from dlnmc.manifold import BalancedManifold
from dlnmc.samplers import SAMPLERS

__all__ = ["balanced_singular_values", "initial_points", "sample_balanced"]

#: Draws per chain handed to the backend at once (bounds the memory of streaming).
CHUNK_DRAWS = 256


def balanced_singular_values(W: np.ndarray, field: str | Field = REAL) -> np.ndarray:
    """Singular values of ``X = phi(W)`` for balanced stored ``W``, descending, ``(..., d)``.

    On ``M``, ``X^* X = (W_1^* W_1)^N``, so ``s_i = sigma_i(W_1)^N``. This keeps full
    relative accuracy where an SVD of the product ``X`` would not: for large ``N``
    the small singular values of ``X`` fall below ``eps * s_max`` (``s = lambda^N``).
    Values that underflow are clipped to the smallest positive double.
    """
    return _sv_of_balanced(np.asarray(W), resolve_field(field))


def _sampler_keywords(cls: type) -> set[str]:
    """Keyword-only parameters accepted by a sampler class and its bases."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None and klass is not object:
            params = inspect.signature(init).parameters.values()
            names |= {p.name for p in params if p.kind is p.KEYWORD_ONLY}
    return names


def _check_settings(sampler: str, settings: dict[str, Any]) -> None:
    """Reject unknown sampler keywords and out-of-range values before building the sampler."""
    unknown = sorted(set(settings) - _sampler_keywords(SAMPLERS[sampler]))
    if unknown:
        raise ValueError(f"sampler {sampler!r} does not accept keyword(s) {unknown}")
    if "step_size" in settings and not _check_real(settings["step_size"], "step_size") > 0:
        raise ValueError(f"step_size must be > 0, got {settings['step_size']!r}")
    if settings.get("target_accept") is not None:
        if not 0 < _check_real(settings["target_accept"], "target_accept") < 1:
            raise ValueError(f"target_accept must be in (0, 1), got {settings['target_accept']!r}")
    if (
        "projection_tol" in settings
        and not _check_real(settings["projection_tol"], "projection_tol") > 0
    ):
        raise ValueError(f"projection_tol must be > 0, got {settings['projection_tol']!r}")
    if "max_newton" in settings:
        _check_count(settings["max_newton"], "max_newton", 1)


def initial_points(
    width: int,
    depth: int,
    n_chains: int,
    rng: np.random.Generator,
    energy: Energy,
    field: str | Field = REAL,
) -> np.ndarray:
    """Over-dispersed starting points on ``M``, shape ``(n_chains, N, d, d * b)``.

    ``X0 = Y + G`` with ``G`` standard Gaussian over the field (``Y`` the target of a
    quadratic energy, else 0), factorized with a Haar-random gauge, so chains start in
    random components of ``M`` (:meth:`BalancedManifold.random_point`).
    """
    m = BalancedManifold(width, depth, field)
    return m.random_point(n_chains, rng, getattr(energy, "target", None))


def sample_balanced(
    width: int,
    depth: int,
    *,
    beta: float,
    n_draws: int,
    n_chains: int,
    seed: int | None,
    target: ArrayLike | None = None,
    sampler: str = "hmc",
    n_warmup: int | None = None,
    energy: Energy | None = None,
    progress: bool = False,
    thin: int = 1,
    field: str | Field = "real",
    out: str | os.PathLike | None = None,
    backend: Backend | None = None,
    **settings: Any,
) -> xr.DataTree:
    """Sample ``M`` with density ``exp(-beta E(phi(W)))`` against its Hausdorff measure.

    Parameters
    ----------
    width, depth : int
        ``d >= 1`` and ``N >= 1``.
    beta : float
        Inverse temperature, ``> 0``.
    n_draws, n_chains : int
        Stored draws per chain (after warm-up and thinning) and independent chains
        (advanced together, vectorized).
    seed : int or None
        Seed (``>= 0``) of ``numpy.random.default_rng``; the same seed gives
        identical output. ``None`` draws a fresh seed from
        ``numpy.random.SeedSequence().entropy`` (reduced to 63 bits) and records it in the ``seed``
        attribute, so the run can be repeated.
    target : array_like (d, d), optional
        ``Y`` in ``E = |X - Y|_F^2 / 2``; ``None`` means ``Y = 0``.
    sampler : {"hmc", "rwm", "lift"}
        :class:`~dlnmc.samplers.ConstrainedHMC` or :class:`~dlnmc.samplers.ConstrainedRWM`
        (theory-free), or ``"lift"``: :func:`dlnmc.lift.sample_lifted`, which draws ``X``
        from the closed-form law and lifts it to ``M`` with a Haar gauge. The lift
        assumes the entropy formula (``assumes_entropy_formula = 1`` in the root
        attributes): a tool for large studies, never a validation of the theory.
    n_warmup : int, optional
        Warm-up transitions (step-size adaptation), default ``max(200, n_draws // 2)``.
    energy : Energy, optional
        A custom energy (``value(X)``, ``grad(X)``) instead of the quadratic one.
    progress : bool
        Show a tqdm progress bar.
    thin : int
        Keep every ``thin``-th transition.
    field : {"real", "complex", "quaternion"} or Field
        The field ``F`` of MATH.md section 8. Over ``C`` and ``H`` the target is
        ``exp(-beta E(phi(W)))`` against the Hausdorff measure of ``M_b`` for the
        real inner product (:class:`dlnmc.manifold.BalancedManifold`); ``target`` is then in
        the storage of :mod:`dlnmc.fields` (complex ``d x d``, or ``chi`` of a
        quaternionic matrix, ``2d x 2d``), a custom ``energy`` takes stored ``X``
        and returns the gradient for the real inner product, and the posterior
        stores real components (see Returns). ``"real"`` is the default and gives
        the same draws as before ``field`` existed.
    out : path, optional
        Stream the draws to this netCDF file (:class:`dlnmc.backends.NetCDFBackend`:
        flat memory in the number of draws, atomic write); the result is then the file
        opened lazily. Its values equal those of the in-memory result bit for bit.
    backend : Backend, optional
        Where the draws go (default :class:`dlnmc.backends.MemoryBackend`, or the
        netCDF backend when ``out`` is given); its ``close()`` is returned.
    **settings
        Passed to the sampler (``step_size``, ``n_leapfrog``, ``jitter``,
        ``trajectory_length``, ``max_leapfrog``, ``target_accept``,
        ``component_moves``, ``moves`` (a list of :mod:`dlnmc.moves` objects),
        ``projection_tol``, ``projection`` (``"auto"``, ``"dense"``, ``"block"`` or a
        :class:`dlnmc.manifold.Projection` object; ``"auto"`` picks the block
        projection above the dense size for every field), ``step_size_pooling``),
        except ``blas_threads`` (default 1: BLAS threads used while sampling).

    Returns
    -------
    xarray.DataTree
        ``posterior``: ``W (chain, draw, layer, row, col)``, ``X (row, col)``,
        ``singular_values (sv)`` (descending), ``entropy`` (closed-form ``S`` of
        MATH.md section 5), ``energy`` (``E(X)``), ``trace_X``.
        ``sample_stats``: ``acceptance_rate``, ``accepted``, ``step_size``,
        ``projection_iterations``, ``projection_failures``,
        ``reverse_check_failures``, ``det_flip`` (per stored transition),
        ``diverging`` (bool: the projection or the reverse check failed, ArviZ's
        name), ``lp`` (log target density ``-beta E`` on ``M``, up to a constant),
        ``n_steps`` (leapfrog steps; 0 for RWM),
        ``constraint_residual`` (``max |F(W)|`` of the stored draw).
        Root attributes: width, depth, beta, seed, sampler, settings (JSON), field, ...

        Over ``C`` and ``H`` (``b = 2, 4``) the layout is the same except that
        matrices are stored as real components along a last dimension
        ``component`` (coordinates ``re, i`` or ``re, i, j, k``; ``q = q0 + q1 i +
        q2 j + q3 k``): ``W (chain, draw, layer, row, col, component)``,
        ``X (..., row, col, component)``, ``trace_X (..., component)``;
        ``singular_values`` holds the ``d`` singular values over ``F`` (each once for
        ``H``), ``entropy`` is ``S_b`` (:func:`dlnmc.entropy.entropy_sv` with ``field``),
        ``energy`` is ``|X - Y|^2 / 2`` in the real inner product, and
        ``constraint_residual`` is the largest real component of ``F(W)``.
    """
    d = check_width(width)
    N = check_depth(depth)
    if _check_real(beta, "beta") <= 0:
        raise ValueError(f"beta must be finite and > 0, got {beta!r}")
    if seed is None:
        # 63 bits of fresh entropy: the seed must fit a netCDF int64 attribute.
        seed = int(np.random.SeedSequence().entropy) % (1 << 63)
    seed = _check_count(seed, "seed", 0)
    n_draws = _check_count(n_draws, "n_draws", 1)
    n_chains = _check_count(n_chains, "n_chains", 1)
    thin = _check_count(thin, "thin", 1)
    n_warmup = max(200, n_draws // 2) if n_warmup is None else _check_count(n_warmup, "n_warmup", 0)
    if sampler == "lift":
        if out is not None or backend is not None:
            raise ValueError(
                "sampler='lift' returns an in-memory tree; out= and backend= are not supported"
            )
        # Draws X from the closed-form law and lifts it: it ASSUMES the entropy theorem
        # (root attribute assumes_entropy_formula = 1) and never validates it.
        return sample_lifted(
            d,
            N,
            beta=beta,
            n_draws=n_draws,
            n_chains=n_chains,
            seed=seed,
            target=target,
            field=field,
            n_warmup=n_warmup,
            energy=energy,
            thin=thin,
            progress=progress,
            **settings,
        )
    if not isinstance(sampler, str):
        raise TypeError(f"sampler must be a str, one of {sorted(SAMPLERS)}, got {sampler!r}")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    f = resolve_field(field)
    en = QuadraticEnergy(target, field=f) if energy is None else as_energy(energy, target)
    Y = getattr(en, "target", None)
    n = f.rep_size(d)
    if Y is not None and Y.shape != (n, n):
        where = "" if f.b == 1 else f" over {f.name!r}"
        raise ValueError(f"target must have shape ({n}, {n}){where}, got {Y.shape}")
    # An energy of another field would be evaluated on the wrong storage (over H the
    # inner product halves; a real energy casts complex X to its real part): refuse it.
    en_field = getattr(en, "field", None)
    if en_field is not None and en_field != f.name:
        raise ValueError(f"energy {en!r} is over field {en_field!r}, but field={f.name!r}")
    if out is not None and backend is not None:
        raise ValueError("pass either out (a netCDF path) or backend, not both")

    blas_threads = settings.pop("blas_threads", 1)
    _check_settings(sampler, settings)
    projection = settings.pop("projection", "auto")
    manifold = BalancedManifold(
        d, N, f, projection=projection, tol=settings.pop("projection_tol", 1e-12),
        max_iter=settings.pop("max_newton", 40),
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    smp = SAMPLERS[sampler](manifold, en, beta, **settings)
    W0 = manifold.random_point(n_chains, rng, Y)
    state = smp.init(W0, rng)

    attrs = {
        "width": d,
        "depth": N,
        "beta": float(beta),
        "seed": seed,
        "sampler": sampler,
        "n_warmup": n_warmup,
        "thin": thin,
        "settings": json.dumps(smp.settings()),
        "energy": repr(en) if not isinstance(en, QuadraticEnergy) else "|X - Y|_F^2 / 2",
        # over C and H: the target's real components (d, d, b) (JSON has no complex)
        "target": None
        if Y is None
        else json.dumps((np.asarray(Y) if f.b == 1 else f.to_components(Y)).tolist()),
        "field": f.name,
    }
    if backend is None:
        backend = MemoryBackend() if out is None else NetCDFBackend(out)
    backend.open(RunInfo(n_chains, n_draws, f, attrs))
    total = n_warmup + n_draws * thin
    chunk = min(CHUNK_DRAWS, n_draws)
    W_buf = np.empty((n_chains, chunk, *state.W.shape[1:]))
    E_buf = np.empty((n_chains, chunk))
    st_buf: dict[str, np.ndarray] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"{sampler} d={d} N={N}")
    k = 0  # draws in the buffer
    absent = np.zeros(n_chains)  # a statistic the sampler did not report this transition
    try:
        # The matrices are small and many: threaded BLAS only adds synchronization (on
        # a loaded 2-core machine a 16x64 @ 64x1920 product went from 0.4 ms to 17 ms).
        # `with` restores the caller's BLAS threads on an exception or Ctrl-C too.
        with threadpool_limits(limits=blas_threads, user_api="blas"):
            for it in range(total):
                warm = it < n_warmup
                if it == n_warmup:
                    smp.end_warmup(state)
                state, stats = smp.step(state, rng, adapt=warm)
                if not warm and (it - n_warmup) % thin == thin - 1:
                    W_buf[:, k], E_buf[:, k] = state.W, state.E
                    for name in smp.stat_names:
                        v = np.asarray(stats.get(name, absent))
                        if name not in st_buf:
                            st_buf[name] = np.empty((n_chains, chunk), v.dtype)
                        st_buf[name][:, k] = v
                    k += 1
                    if k == chunk or it == total - 1:
                        backend.append(
                            W_buf[:, :k].copy(), E_buf[:, :k].copy(),
                            {name: a[:, :k].copy() for name, a in st_buf.items()},
                        )  # fmt: skip
                        k = 0
                if bar is not None:
                    bar.update()
        if n_warmup == total:  # n_draws == 0 is excluded above; keep the adapted step anyway
            smp.end_warmup(state)
    except BaseException:
        backend.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    result = backend.close()
    if isinstance(backend, NetCDFBackend):
        from dlnmc.storage import decode_attrs

        tree = xr.open_datatree(result, engine="h5netcdf")
        tree.attrs = decode_attrs(tree.attrs)
        return tree
    return result
