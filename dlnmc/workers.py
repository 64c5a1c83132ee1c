"""Running groups of chains in worker processes, with results that do not depend on them.

A run of :func:`dlnmc.sample_balanced` is cut into *rounds*: every worker advances its
contiguous group of chains by the same transitions (:func:`run_transitions`) and sends
the chain states, the per-chain random streams (:class:`dlnmc.streams.ChainStreams`) and
the stored draws back. The parent joins the groups (:func:`concat_chains`), does what
needs all chains at once (pooling the step sizes at the end of warm-up, exactly as in one
process), feeds the backend, and splits the states again (:func:`take_chains`).

Every vectorized operation of the samplers acts on each chain separately, and chain
``c`` draws from its own stream only, so a chain's trajectory depends on ``(seed, c)``
and not on the grouping: the draws are bit-identical for any number of workers, in one
process, in a process pool or on a Dask cluster.

Workers are processes of a ``concurrent.futures.ProcessPoolExecutor`` started with the
``forkserver`` method (``spawn`` where it does not exist), kept between calls and shut
down at exit, on an error or on Ctrl-C; or the workers of a ``dask.distributed.Client``.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import copy
import dataclasses
import multiprocessing
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from dlnmc.streams import ChainStreams

__all__ = [
    "chain_groups",
    "check_workers",
    "concat_chains",
    "run_transitions",
    "shutdown",
    "take_chains",
]


# ---------------------------------------------------------------------------------------
# Validation and grouping
# ---------------------------------------------------------------------------------------


def check_workers(n_workers: object, scheduler: object) -> int | None:
    """Validate ``n_workers`` and ``scheduler``; return ``n_workers`` as an int or None.

    Raises ``TypeError``/``ValueError`` naming the problem; nothing is started.
    """
    if n_workers is not None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int | np.integer):
            raise TypeError(f"n_workers must be None or an integer >= 1, got {n_workers!r}")
        if n_workers < 1:
            raise ValueError(f"n_workers must be >= 1, got {n_workers}")
        n_workers = int(n_workers)
    if scheduler is not None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask is an optional dependency
            raise TypeError(
                "scheduler= needs dask.distributed (pip install 'dlnmc[dask]')"
            ) from exc
        if not isinstance(scheduler, Client):
            raise TypeError(
                f"scheduler must be a dask.distributed.Client or None, got {scheduler!r}"
            )
        if scheduler.status != "running":
            raise ValueError(f"scheduler {scheduler!r} is not running (status {scheduler.status})")
    return n_workers


def chain_groups(n_chains: int, n_groups: int) -> list[slice]:
    """``n_groups`` contiguous groups of chains whose sizes differ by at most one."""
    n_groups = max(1, min(n_groups, n_chains))
    q, r = divmod(n_chains, n_groups)
    sizes = [q + (g < r) for g in range(n_groups)]
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return [slice(a, a + n) for a, n in zip(starts, sizes, strict=False)]


def check_picklable(obj: object, what: str) -> None:
    """Raise ``TypeError`` if ``obj`` cannot be sent to another process."""
    try:
        pickle.dumps(obj)
    except Exception as exc:
        raise TypeError(
            f"{what} cannot be sent to worker processes ({exc}); define it at module "
            "level, or run in one process with n_workers=1"
        ) from exc


# ---------------------------------------------------------------------------------------
# Splitting and joining chain states
# ---------------------------------------------------------------------------------------


def _per_chain(x: np.ndarray, n: int) -> bool:
    return x.ndim >= 1 and x.shape[0] == n


def take_chains(obj: Any, chains: slice, n_chains: int) -> Any:
    """The part of ``obj`` that belongs to a group of chains.

    Arrays whose leading axis has length ``n_chains`` are sliced; dataclasses, plain
    objects (an adaptation state), dicts, lists and tuples are taken apart field by
    field; anything else (scalars, strings) is shared by all chains and kept.
    """
    if isinstance(obj, ChainStreams):
        return obj.take(chains)
    if isinstance(obj, np.ndarray):
        return obj[chains].copy() if _per_chain(obj, n_chains) else obj
    if isinstance(obj, dict):
        return {k: take_chains(v, chains, n_chains) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(take_chains(v, chains, n_chains) for v in obj)
    if dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        if isinstance(obj, type) or callable(obj):
            return obj
        new = copy.copy(obj)
        for k, v in vars(obj).items():
            object.__setattr__(new, k, take_chains(v, chains, n_chains))
        return new
    return obj


def concat_chains(objs: Sequence[Any], sizes: Sequence[int]) -> Any:
    """Join the parts of groups of chains (the inverse of :func:`take_chains`).

    Per-chain arrays are concatenated along the chain axis; shared values must agree
    across the groups (they do: every group ran the same transitions).
    """
    first = objs[0]
    if len(objs) == 1:
        return first
    if isinstance(first, ChainStreams):
        return ChainStreams.concatenate(objs)
    if isinstance(first, np.ndarray):
        if all(_per_chain(o, n) for o, n in zip(objs, sizes, strict=True)):
            return np.concatenate(objs, axis=0)
        if any(not np.array_equal(first, o, equal_nan=True) for o in objs[1:]):
            raise ValueError("chain groups disagree on a shared array of the sampler state")
        return first
    if isinstance(first, dict):
        return {k: concat_chains([o[k] for o in objs], sizes) for k in first}
    if isinstance(first, list | tuple):
        return type(first)(concat_chains([o[i] for o in objs], sizes) for i in range(len(first)))
    if (dataclasses.is_dataclass(first) or hasattr(first, "__dict__")) and not callable(first):
        new = copy.copy(first)
        for k in vars(first):
            object.__setattr__(new, k, concat_chains([vars(o)[k] for o in objs], sizes))
        return new
    if any(o != first for o in objs[1:]):
        raise ValueError(f"chain groups disagree on a shared value of the sampler state: {objs}")
    return first


# ---------------------------------------------------------------------------------------
# The work of one group in one round
# ---------------------------------------------------------------------------------------


def run_transitions(
    sampler: Any,
    state: Any,
    streams: ChainStreams,
    start: int,
    stop: int,
    n_warmup: int,
    thin: int,
    blas_threads: int | None = 1,
    tick: Callable[[], None] | None = None,
) -> tuple[Any, ChainStreams, dict[str, Any] | None]:
    """Transitions ``start`` to ``stop - 1`` of a group of chains.

    Transition ``t`` adapts while ``t < n_warmup``; after warm-up every ``thin``-th is
    stored. The range must not contain the end of warm-up (the parent pools the step
    sizes there, over all chains).

    Returns
    -------
    state, streams
        The group's state and streams after ``stop - 1``.
    record : dict or None
        The stored draws of the round, ``W (C, k, ...)``, ``E (C, k)`` and
        ``stats {name: (C, k)}``, or None when nothing was stored.
    """
    if start < n_warmup < stop:
        raise ValueError("a round must not contain the end of warm-up")
    C = streams.n_chains
    absent = np.zeros(C)  # a statistic the sampler did not report this transition
    Ws: list[np.ndarray] = []
    Es: list[np.ndarray] = []
    stats_k: dict[str, list[np.ndarray]] = {name: [] for name in sampler.stat_names}
    # The matrices are small and many: threaded BLAS only adds synchronization.
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        for it in range(start, stop):
            warm = it < n_warmup
            state, stats = sampler.step(make_contiguous(state), streams, adapt=warm)
            if not warm and (it - n_warmup) % thin == thin - 1:
                Ws.append(state.W)
                Es.append(np.asarray(state.E))
                for name in sampler.stat_names:
                    stats_k[name].append(np.asarray(stats.get(name, absent)))
            if tick is not None:
                tick()
    if not Ws:
        return state, streams, None
    record = {
        "W": np.stack(Ws, axis=1),
        "E": np.stack(Es, axis=1),
        "stats": {name: np.stack(v, axis=1) for name, v in stats_k.items()},
    }
    return state, streams, record


def make_contiguous(obj: Any) -> Any:
    """Make every array of a chain state C-contiguous, in place; returns ``obj``.

    Pickling, slicing and joining store arrays C-contiguous, while a transition may
    leave one strided (a transposed Gram operator): a BLAS call on the two layouts can
    round differently. Starting every transition from C-contiguous arrays makes the
    result independent of where the state has travelled.
    """
    if isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = _contiguous(v)
    elif (dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__")) and not callable(obj):
        for k, v in vars(obj).items():
            new = _contiguous(v)
            if new is not v:
                object.__setattr__(obj, k, new)
    return obj


def _contiguous(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v if v.ndim == 0 or v.flags.c_contiguous else np.ascontiguousarray(v)
    if isinstance(v, dict) or (
        (dataclasses.is_dataclass(v) or hasattr(v, "__dict__")) and not callable(v)
    ):
        return make_contiguous(v)
    return v


def _run_task(sampler: Any, *args: Any) -> tuple[Any, ChainStreams, dict[str, Any] | None]:
    """:func:`run_transitions` in a worker (the sampler arrives pickled once per pool)."""
    if isinstance(sampler, bytes):
        sampler = pickle.loads(sampler)
    return run_transitions(sampler, *args)


# ---------------------------------------------------------------------------------------
# Where the groups run
# ---------------------------------------------------------------------------------------

# Run in every new worker process before anything is unpickled: one BLAS thread unless
# the environment says otherwise, and Ctrl-C is the parent's business (it terminates the
# workers instead of each printing a traceback).
_BOOTSTRAP = """
import os, signal
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
signal.signal(signal.SIGINT, signal.SIG_IGN)
"""


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


_POOLS: dict[int, cf.ProcessPoolExecutor] = {}


def _process_pool(n: int) -> cf.ProcessPoolExecutor:
    """A pool of ``n`` worker processes, reused between calls (started once)."""
    pool = _POOLS.get(n)
    if pool is None:
        pool = cf.ProcessPoolExecutor(
            max_workers=n, mp_context=_context(), initializer=exec, initargs=(_BOOTSTRAP, {})
        )
        _POOLS[n] = pool
    return pool


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel queued work and end its processes."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public API before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)


def pool_alive(n: int) -> bool:
    """Whether a pool of ``n`` workers from an earlier call is running."""
    return n in _POOLS


def shutdown() -> None:
    """Shut down the worker processes kept between calls of ``sample_balanced``."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)


class GroupRunner:
    """Runs one round for every group of chains: in this process, a pool, or Dask.

    Parameters
    ----------
    sampler : object
        The sampler (sent to each worker once per call).
    n_groups : int
        Number of chain groups; 1 runs in this process.
    scheduler : dask.distributed.Client, optional
        Run the groups as tasks of this client instead of local processes.
    """

    def __init__(self, sampler: Any, n_groups: int, scheduler: Any = None) -> None:
        self.sampler = sampler
        self.n_groups = n_groups
        self.scheduler = scheduler
        self._pool: cf.ProcessPoolExecutor | None = None
        self._blob: Any = None
        self._futures: list[Any] = []
        if scheduler is not None:
            self._blob = scheduler.scatter(pickle.dumps(sampler), broadcast=True)
        elif n_groups > 1:
            self._pool = _process_pool(n_groups)
            self._blob = pickle.dumps(sampler)

    @property
    def in_process(self) -> bool:
        """Whether the groups run in this process."""
        return self._blob is None

    def run(self, tasks: Sequence[tuple[Any, ...]], tick: Callable[[], None] | None = None):
        """``run_transitions(sampler, *task)`` for every task; results in task order."""
        if self.in_process:
            return [run_transitions(self.sampler, *t, tick=tick) for t in tasks]
        if self.scheduler is not None:
            self._futures = [
                self.scheduler.submit(_run_task, self._blob, *t, pure=False) for t in tasks
            ]
            out = self.scheduler.gather(self._futures)
        else:
            assert self._pool is not None
            self._futures = [self._pool.submit(_run_task, self._blob, *t) for t in tasks]
            out = [f.result() for f in self._futures]
        self._futures = []
        return out

    def abort(self) -> None:
        """Cancel outstanding work and stop local workers (after an error or Ctrl-C)."""
        if self.scheduler is not None:
            if self._futures:
                self.scheduler.cancel(self._futures)
        elif self._pool is not None:
            for n, pool in list(_POOLS.items()):
                if pool is self._pool:
                    del _POOLS[n]
            _terminate(self._pool)
        self._futures = []
