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

``--ab REV`` instead times the real-field estimators of the current tree against
the tree of git revision ``REV`` (e.g. ``main``) in one run: child processes,
alternated round by round so load changes on a shared machine hit both; prints
per case the median times, the speed ratio baseline / current (> 1: current
faster) and the difference of the two estimates at the same seed.
``--quick`` uses fewer rounds (3 of 3 calls instead of 5 of 5).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import blas_report, median_time

from dlnmc.volumes import estimate_orbit_volume, orbit_volume_table

ROOT = Path(__file__).resolve().parents[1]

# The estimators live in dlnmc.volumes; older trees have them in dlnmc.estimators.
AB_CHILD = r"""
import json, statistics, sys, time
import numpy as np
try:
    from dlnmc.volumes import estimate_group_volume, estimate_orbit_volume
except ImportError:
    from dlnmc.estimators import estimate_group_volume, estimate_orbit_volume
kind, d, N, n, method, repeats = sys.argv[1:7]
d, N, n, repeats = int(d), int(N), int(n), int(repeats)
s = np.sort(np.exp(np.random.default_rng(d).uniform(-1.0, 1.0, d)))[::-1]
if kind == "orbit":
    call = lambda: estimate_orbit_volume(s, N, n, 0, method=method)
else:
    call = lambda: estimate_group_volume(d, n, 0, method=method)
est = call()  # warm-up, and the estimate to compare
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    call()
    times.append(time.perf_counter() - t0)
print(json.dumps({"time": statistics.median(times), "log_volume": est.log_volume,
                  "stderr": est.stderr}))
"""


def _export(rev: str, dest: Path) -> Path:
    """Write the tree of ``rev`` to ``dest`` (git archive) and return it."""
    with tempfile.TemporaryFile() as tmp:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev], stdout=tmp, check=True)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(dest, filter="data")
    return dest


def _child(tree: Path, case: tuple, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", AB_CHILD, *map(str, case), str(repeats)],
        env=env, capture_output=True, text=True, check=True, cwd=tree,
    )  # fmt: skip
    return json.loads(out.stdout)


def ab(rev: str, quick: bool) -> None:
    """Current tree against ``rev``, alternated round by round (see the module notes)."""
    rounds, repeats = (3, 3) if quick else (5, 5)
    cases = [
        ("orbit", 3, 4, 2**14, "rqmc"),
        ("orbit", 3, 2, 2**14, "mc"),
        ("orbit", 4, 5, 2**12, "rqmc"),
        ("group", 4, 1, 2**14, "rqmc"),
    ]
    print(f"A/B: current tree vs {rev} ({rounds} alternated rounds, median of {repeats} calls)")
    print(f"{'case':28} {'base s':>8} {'current s':>9} {'base/cur':>8} {'d log vol':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"base": _export(rev, Path(tmp) / "base"), "current": ROOT}
        ratios = []
        for case in cases:
            res: dict[str, list[dict]] = {k: [] for k in trees}
            for _ in range(rounds):  # alternate: load changes hit both trees
                for name, tree in trees.items():
                    res[name].append(_child(tree, case, repeats))
            tb = statistics.median(x["time"] for x in res["base"])
            tc = statistics.median(x["time"] for x in res["current"])
            dlv = res["current"][0]["log_volume"] - res["base"][0]["log_volume"]
            ratios.append(tb / tc)
            label = f"{case[0]} d={case[1]} N={case[2]} n={case[3]} {case[4]}"
            print(f"{label:28} {tb:8.3f} {tc:9.3f} {tb / tc:8.2f} {dlv:10.1e}", flush=True)
        print(f"geometric mean speed ratio base/current: {statistics.geometric_mean(ratios):.2f}")


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
    parser.add_argument("--ab", metavar="REV", help="time against git revision REV instead")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    if args.ab:
        ab(args.ab, args.quick)
        return
    print(blas_report() + "\n")
    time_to_one_percent(3, 4, args.repeats)
    variance_reduction([(3, 2), (3, 3), (3, 4), (3, 5), (4, 3), (4, 5)], 2**14, args.seeds)
    if not args.skip_grid:
        grid()


if __name__ == "__main__":
    main()
