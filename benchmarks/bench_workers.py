"""Wall time of ``sample_balanced`` in one process against chains over 2 worker processes.

Runs are interleaved (1, 2, 1, 2, ...) and the medians compared; the worker pool is
started by an untimed call first and kept between calls, as it is between the calls of
a script or a study, so its start-up (reported separately) is not in the medians. The
draws are checked to be bit-identical. The machine may be loaded: compare ratios.

    PYTHONPATH=. python benchmarks/bench_workers.py [--repeats 3] [--case 0 --case 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from benchmarks._common import blas_report
from dlnmc import sample_balanced

CASES = [
    ("d=4 N=8 n_draws=200 chains=8", (4, 8), dict(beta=1.0, n_draws=200, n_chains=8, seed=1)),
    (
        "d=8 N=16 n_draws=100 n_warmup=100 chains=8",
        (8, 16),
        dict(beta=1.0, n_draws=100, n_chains=8, n_warmup=100, seed=1),
    ),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--case", type=int, action="append", help="indices into CASES (default all)")
    args = ap.parse_args()
    print(blas_report())
    print(f"os.cpu_count() = {os.cpu_count()}, load average {os.getloadavg()}")
    t0 = time.perf_counter()
    sample_balanced(2, 2, beta=1.0, n_draws=2, n_chains=2, n_warmup=1, seed=0, n_workers=2)
    print(f"start-up of a 2-worker pool (first call, tiny run): {time.perf_counter() - t0:.2f} s")
    print(f"{'case':46s} {'1 worker s':>11s} {'2 workers s':>12s} {'ratio':>6s}  identical")
    for name, (d, N), kw in [CASES[i] for i in (args.case or range(len(CASES)))]:
        times: dict[int, list[float]] = {1: [], 2: []}
        W: dict[int, np.ndarray] = {}
        for _ in range(args.repeats):
            for nw in (1, 2):
                t = time.perf_counter()
                tree = sample_balanced(d, N, n_workers=nw, **kw)
                times[nw].append(time.perf_counter() - t)
                print(f"    {name}: n_workers={nw} {times[nw][-1]:.2f} s", flush=True)
                W[nw] = tree.posterior.W.values
        m1, m2 = statistics.median(times[1]), statistics.median(times[2])
        same = np.array_equal(W[1], W[2])
        print(f"{name:46s} {m1:11.2f} {m2:12.2f} {m1 / m2:5.2f}x  {same}")
        print(f"    runs 1 worker: {[round(x, 2) for x in times[1]]}")
        print(f"    runs 2 workers: {[round(x, 2) for x in times[2]]}")


if __name__ == "__main__":
    main()
