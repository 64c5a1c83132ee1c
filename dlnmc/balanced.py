"""Sampling the balanced manifold: ``sample_balanced`` returns an ArviZ-layout DataTree.

The target is ``exp(-beta E(phi(W)))`` against the Hausdorff measure of the
balanced manifold ``M`` (docs/guide/theory.md, 'The balanced manifold' and 'The law of X on the
balanced manifold'; docs/guide/validation.md, '3. Sampling the balanced manifold itself').
By the coarea formula the end-to-end matrix ``X = phi(W)`` then has Lebesgue density
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
import multiprocessing
import os
import time
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
from dlnmc.streams import ChainStreams
from dlnmc.workers import (
    GroupRunner,
    chain_groups,
    check_picklable,
    check_workers,
    concat_chains,
    pool_alive,
    take_chains,
)

__all__ = ["balanced_singular_values", "initial_points", "sample_balanced"]

#: Draws per chain handed to the backend at once (bounds the memory of streaming).
CHUNK_DRAWS = 256

#: With the default ``n_workers=None`` the run starts in this process and moves its chains
#: to ``os.cpu_count()`` worker processes once the remaining work, timed on the
#: transitions done so far, exceeds the first number of seconds (the second while worker
#: processes from an earlier call are still running). Starting workers costs seconds:
#: each imports the calling script and the package.
AUTO_WORKERS_SECONDS = (10.0, 2.0)

#: Wall time aimed at for one round of the workers: long enough that shipping the chain
#: states is negligible, short enough for a live progress bar.
ROUND_SECONDS = 1.0


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


def _worker_groups(n_workers: int | None, scheduler: Any, n_chains: int, smp: Any) -> int | None:
    """Chain groups to start with (``None``: decide by timing, see ``AUTO_WORKERS_SECONDS``)."""
    if scheduler is not None:
        check_picklable(smp, "the sampler (its energy and moves)")
        n = n_workers or len(scheduler.scheduler_info()["workers"]) or 1
        return min(n, n_chains)
    if n_workers is None:
        try:
            check_picklable(smp, "the sampler")
        except TypeError:
            return 1  # e.g. an energy defined in a function: stay in this process
        # Inside a worker (of a pool or a Dask cluster) the cores are already in use.
        nested = multiprocessing.parent_process() is not None
        return None if (os.cpu_count() or 1) > 1 and n_chains > 1 and not nested else 1
    if n_workers > 1 and n_chains > 1:
        check_picklable(smp, "the sampler (its energy and moves)")
    return min(n_workers, n_chains)


class _Rounds:
    """The transitions of ``sample_balanced`` in rounds over groups of chains.

    Every group advances by the same transitions in a round (in this process or in
    workers); between rounds the parent joins the groups to pool the step sizes at the
    end of warm-up over all chains (``end_warmup``, exactly as in one process) and hands
    the stored draws to the backend in chunks of ``CHUNK_DRAWS``. No round crosses the
    end of warm-up or a chunk boundary.
    """

    def __init__(
        self, smp: Any, backend: Backend, n_warmup: int, n_draws: int, thin: int,
        blas_threads: int | None, n_groups: int | None, scheduler: Any,
    ) -> None:  # fmt: skip
        self.smp, self.backend = smp, backend
        self.n_warmup, self.n_draws, self.thin = n_warmup, n_draws, thin
        self.blas_threads = blas_threads
        self.auto = n_groups is None
        self.n_groups = 1 if n_groups is None else n_groups
        self.scheduler = scheduler
        self.runner: GroupRunner | None = None
        self.n_chains = 0

    def abort(self) -> None:
        if self.runner is not None:
            self.runner.abort()

    def _split(self, state: Any, streams: ChainStreams, n_groups: int):
        C = streams.n_chains
        groups = chain_groups(C, n_groups)
        if len(groups) == 1:
            return [state], [streams], [C]
        states = [take_chains(state, g, C) for g in groups]
        return states, [streams.take(g) for g in groups], [g.stop - g.start for g in groups]

    def run(self, state: Any, streams: ChainStreams, bar: Any = None) -> None:
        smp, n_warmup, thin = self.smp, self.n_warmup, self.thin
        total = n_warmup + self.n_draws * thin
        chunk = min(CHUNK_DRAWS, self.n_draws)
        self.runner = GroupRunner(smp, self.n_groups, self.scheduler)
        self.n_chains = streams.n_chains
        states, strs, sizes = self._split(state, streams, self.n_groups)
        pending: list[dict[str, Any]] = []  # stored draws not yet handed to the backend
        stored = 0
        tick = None if bar is None else bar.update
        # in this process one round can be long (the bar ticks every transition); the
        # automatic choice times short, doubling rounds first
        length = 2 if self.auto else (total if self.runner.in_process else 4)
        it = 0
        while it < total:
            if it == n_warmup:  # pool the step sizes over all chains, as in one process
                merged = concat_chains(states, sizes)
                smp.end_warmup(merged)
                states, _, _ = self._split(merged, ChainStreams.concatenate(strs), len(sizes))
            limit = n_warmup if it < n_warmup else n_warmup + min(
                self.n_draws, (stored // chunk + 1) * chunk) * thin  # fmt: skip
            stop = min(it + max(1, length), limit, total)
            tasks = [(s, r, it, stop, n_warmup, thin, self.blas_threads) for s, r in zip(
                states, strs, strict=True)]  # fmt: skip
            t0 = time.perf_counter()
            results = self.runner.run(tasks, tick=tick)
            seconds = (time.perf_counter() - t0) / (stop - it)  # per transition
            states = [r[0] for r in results]
            strs = [r[1] for r in results]
            if results[0][2] is not None:
                pending.append(concat_chains([r[2] for r in results], sizes))
                stored += pending[-1]["E"].shape[1]
                if stored % chunk == 0 or stored == self.n_draws:
                    self._flush(pending)
                    pending = []
            if bar is not None and not self.runner.in_process:
                bar.update(stop - it)
            it = stop
            length = self._next_length(length, seconds, total - it)
            if self.auto and self.runner.in_process and length < 0:
                # enough work left to pay for the workers: move the chains there
                self.auto = False
                n = min(os.cpu_count() or 1, self.n_chains)
                self.runner = GroupRunner(smp, n, self.scheduler)
                states, strs, sizes = self._split(states[0], strs[0], n)
                length = max(1, int(ROUND_SECONDS * n / max(seconds, 1e-9)))

    def _next_length(self, length: int, seconds: float, left: int) -> int:
        """The next round's transitions; ``-1`` asks to move to worker processes."""
        if self.auto:
            n = min(os.cpu_count() or 1, self.n_chains)
            if left * seconds > AUTO_WORKERS_SECONDS[pool_alive(n)]:
                return -1
            return 2 * length
        if self.runner is not None and self.runner.in_process:
            return length
        # aim at ROUND_SECONDS, growing at most fourfold per round
        return max(1, min(4 * length, int(ROUND_SECONDS / max(seconds, 1e-9))))

    def _flush(self, pending: list[dict[str, Any]]) -> None:
        if len(pending) == 1:
            rec = pending[0]
        else:
            rec = {
                "W": np.concatenate([p["W"] for p in pending], axis=1),
                "E": np.concatenate([p["E"] for p in pending], axis=1),
                "stats": {
                    k: np.concatenate([p["stats"][k] for p in pending], axis=1)
                    for k in pending[0]["stats"]
                },
            }
        self.backend.append(rec["W"], rec["E"], rec["stats"])


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
    n_workers: int | None = None,
    scheduler: Any = None,
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
        (advanced together, vectorized, in groups over ``n_workers`` processes).
    seed : int or None
        Seed (``>= 0``): chain ``c`` draws from its own stream, the ``c``-th child of
        ``numpy.random.SeedSequence(seed).spawn(n_chains)`` (:mod:`dlnmc.streams`),
        so the same seed gives identical output for any ``n_workers`` or
        ``scheduler``. ``None`` draws a fresh seed from
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
        The field ``F`` (docs/guide/fields.md). Over ``C`` and ``H`` the target is
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
        ``trajectory_length``, ``adapt_trajectory``, ``max_leapfrog``, ``target_accept``,
        ``component_moves``, ``moves`` (a list of :mod:`dlnmc.moves` objects),
        ``projection_tol``, ``projection`` (``"auto"``, ``"dense"``, ``"block"``,
        ``"jacobi"`` or a :class:`dlnmc.manifold.Projection` object; ``"auto"`` picks
        the Jacobi-frame projection above the dense size for every field),
        ``step_size_pooling``),
        except ``blas_threads`` (default 1: BLAS threads used while sampling, in this
        process and in every worker).
    n_workers : int, optional
        Worker processes over which the chains are split in contiguous groups (at most
        ``n_chains``; ``1`` runs in this process). The default uses ``os.cpu_count()``
        workers, but only once the remaining work, timed on the first transitions in
        this process, exceeds ``AUTO_WORKERS_SECONDS`` (10 s, or 2 s while workers of an
        earlier call are running): small problems stay in one process, where starting
        workers would cost more than they save, and so does a run inside a worker
        process. A sampler
        that cannot be pickled (an energy defined inside a function) then also stays
        in this process; with ``n_workers > 1`` it is an error. Which choice is made
        never changes a bit of the result. Workers are started with the
        ``forkserver`` method (``spawn`` elsewhere), so a script that calls this must
        guard its top level with ``if __name__ == "__main__":``; they are kept for
        the next call (:func:`dlnmc.workers.shutdown` stops them) and stopped on an
        error or Ctrl-C.
    scheduler : dask.distributed.Client, optional
        Run the groups of chains as tasks on this Dask cluster instead (``n_workers``
        groups, default one per worker of the cluster).

    Returns
    -------
    xarray.DataTree
        ``posterior``: ``W (chain, draw, layer, row, col)``, ``X (row, col)``,
        ``singular_values (sv)`` (descending), ``entropy`` (closed-form ``S`` of
        docs/guide/theory.md, 'The entropy formula'), ``energy`` (``E(X)``), ``trace_X``.
        ``sample_stats``: ``acceptance_rate``, ``accepted``, ``step_size``,
        ``projection_iterations``, ``projection_failures``,
        ``reverse_check_failures``, ``det_flip`` (per stored transition),
        ``diverging`` (bool: the projection or the reverse check failed, ArviZ's
        name), ``lp`` (log target density ``-beta E`` on ``M``, up to a constant),
        ``n_steps`` (leapfrog steps; 0 for RWM), ``trajectory_length`` (HMC: the
        integration time ``T`` of the transition, with ``adapt_trajectory=True`` the one
        adapted in warm-up and frozen; 0 for RWM),
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
    n_workers = check_workers(n_workers, scheduler)
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
    streams = ChainStreams.from_seed(seed, n_chains)
    smp = SAMPLERS[sampler](manifold, en, beta, **settings)
    n_groups = _worker_groups(n_workers, scheduler, n_chains, smp)
    W0 = manifold.random_point(n_chains, streams, Y)
    state = smp.init(W0, streams)

    attrs = {
        "width": d,
        "depth": N,
        "beta": float(beta),
        "seed": seed,
        "random_streams": "SeedSequence(seed).spawn(n_chains), one PCG64 per chain",
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
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_warmup + n_draws * thin, desc=f"{sampler} d={d} N={N}")
    rounds = _Rounds(smp, backend, n_warmup, n_draws, thin, blas_threads, n_groups, scheduler)
    try:
        # The matrices are small and many: threaded BLAS only adds synchronization (on
        # a loaded 2-core machine a 16x64 @ 64x1920 product went from 0.4 ms to 17 ms).
        # `with` restores the caller's BLAS threads on an exception or Ctrl-C too.
        with threadpool_limits(limits=blas_threads, user_api="blas"):
            rounds.run(state, streams, bar)
    except BaseException:
        rounds.abort()  # cancel the workers' rounds, stop local worker processes
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
