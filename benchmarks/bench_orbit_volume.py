"""Chart-route orbit volumes: time to 1% relative standard error, RQMC vs plain MC, grid.

Run from the repository root:

    /work/venv/bin/python benchmarks/bench_orbit_volume.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        /work/venv/bin/python benchmarks/bench_orbit_volume.py

Prints three tables, all measured side by side in one run:

1. Time to 1% relative standard error of vol(O_X) at d = 3, N = 4 (target <= 10 s on
   2 cores): the smallest power-of-2 sample size whose reported standard error is
   <= 1%, and the median wall time of that call; RQMC and plain MC.
2. Variance reduction of RQMC over plain MC at equal samples (target >= 10x): the
   ratio of squared standard errors, median over seeds.
3. The acceptance grid d in {1..4}, N in {2, 3, 5} at default settings (the
   ``orbit_volume_table`` Dataset): estimate, closed form, s.e., z, time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import blas_report, median_time

from dlnmc.estimators import estimate_orbit_volume, orbit_volume_table


def _s(d: int) -> np.ndarray:
    return np.sort(np.exp(np.random.default_rng(d).uniform(-1.0, 1.0, d)))[::-1]


def time_to_one_percent(d: int, N: int, repeats: int) -> None:
    s = _s(d)
    print(f"1. time to 1% relative s.e., d={d}, N={N}, s={np.round(s, 4).tolist()}")
    print(f"{'method':7} {'n_samples':>10} {'rel s.e.':>10} {'z':>7} {'median s':>9}")
    for method in ("rqmc", "mc"):
        for k in range(6, 24):
            n = 2**k
            # The smallest n at which seeds 0..2 all report <= 1% (not one lucky seed).
            ests = [estimate_orbit_volume(s, N, n, seed=j, method=method) for j in range(3)]
            if max(e.stderr for e in ests) <= 0.01:
                t = median_time(
                    lambda n=n, method=method: estimate_orbit_volume(
                        s, N, n, seed=0, method=method
                    ),
                    repeats,
                )
                e = ests[0]
                print(f"{method:7} {n:10d} {e.stderr:10.2e} {e.z_score:7.2f} {t:9.3f}")
                break
    e = estimate_orbit_volume(s, N, seed=0)
    print(f"default call (n_samples={e.n_samples}): rel s.e. {e.stderr:.2e}, {e.wall_time:.3f} s\n")


def variance_reduction(cases: list[tuple[int, int]], n: int, seeds: int) -> None:
    print(f"2. RQMC vs plain MC at equal samples (n = {n}, median over {seeds} seeds)")
    print(f"{'d':>2} {'N':>2} {'s.e. MC':>10} {'s.e. RQMC':>10} {'var ratio':>10}")
    for d, N in cases:
        s = _s(d)
        se = {
            m: statistics.median(
                estimate_orbit_volume(s, N, n, seed=k, method=m).stderr for k in range(seeds)
            )
            for m in ("mc", "rqmc")
        }
        ratio = (se["mc"] / se["rqmc"]) ** 2
        print(f"{d:2d} {N:2d} {se['mc']:10.2e} {se['rqmc']:10.2e} {ratio:9.1f}x")
    print()


def grid() -> None:
    ds = orbit_volume_table([1, 2, 3, 4], [2, 3, 5], seed=0)
    print("3. default settings (RQMC), orbit_volume_table([1,2,3,4], [2,3,5], seed=0)")
    print(f"{'d':>2} {'N':>2} {'n':>7} {'log vol MC':>12} {'closed form':>12} {'rel s.e.':>9} "
          f"{'z':>6} {'time s':>7}")  # fmt: skip
    for w in ds.width.values:
        for n in ds.depth.values:
            c = ds.sel(width=w, depth=n)
            print(
                f"{w:2d} {n:2d} {int(c.n_samples):7d} {float(c.log_volume_mc):12.6f} "
                f"{float(c.closed_form):12.6f} {float(c.stderr):9.2e} {float(c.z_score):6.2f} "
                f"{float(c.wall_time):7.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args()
    print(blas_report() + "\n")
    time_to_one_percent(3, 4, args.repeats)
    variance_reduction([(3, 2), (3, 3), (3, 4), (3, 5), (4, 3), (4, 5)], 2**14, args.seeds)
    if not args.skip_grid:
        grid()


if __name__ == "__main__":
    main()
