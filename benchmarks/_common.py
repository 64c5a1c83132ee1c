"""Shared helpers for the benchmarks: BLAS report and median timing."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def blas_report() -> str:
    """Which BLAS kernel numpy runs (threadpoolctl) and the OPENBLAS_* overrides in force."""
    env = {k: v for k, v in os.environ.items() if k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # threadpoolctl is in the [bench] extra
        return f"BLAS: threadpoolctl not installed; env {env or 'no OPENBLAS_* overrides'}"
    import numpy  # noqa: F401  (loads the BLAS so threadpoolctl can see it)

    libs = [
        f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
        f"threads={i.get('num_threads')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return f"BLAS: {'; '.join(libs) or 'none found'}; env {env or 'no OPENBLAS_* overrides'}"


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def paired_times(
    fa: Callable[[], object],
    fb: Callable[[], object],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float, float]:
    """Interleaved timing of two callables on a shared, noisy machine.

    ``clock`` is wall time by default; ``time.process_time`` (CPU time of this process)
    removes the time a long call spends preempted on an oversubscribed machine.

    Returns
    -------
    (median time of fa, median time of fb, median of the per-round ratios tb / ta)
        Each round times ``fa`` then ``fb`` back to back, so load changes between
        rounds hit both; the median ratio is the robust speed-up.
    """
    fa()
    fb()
    ta, tb = [], []
    for _ in range(repeats):
        t0 = clock()
        fa()
        t1 = clock()
        fb()
        t2 = clock()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    ratios = [b / a for a, b in zip(ta, tb, strict=True)]
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)
