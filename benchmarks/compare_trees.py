"""Two source trees of dlnmc side by side: the real-field figures, one run, medians and ratios.

Each workload is a short program run in a fresh process against tree A and tree B
in turn (A B A B ...), so load drift hits both; the figure is the workload's own
measure (vectors/s, samples/s, ESS/s), and the ratio B/A is the median of the
per-round ratios. Only public names shared by both trees are used. Times are the
CPU time of the process (``time.process_time``; BLAS is held to one thread), so a
second job on the machine slows neither side's figure by preemption; the short
workloads take the median of a few calls in the process.

Run:  python benchmarks/compare_trees.py --a PATH_TO_PREVIOUS_MAIN --b . [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

# Each program prints one JSON line {"figure": float}; larger is better.
_PRELUDE = """
import json, time, numpy as np
from threadpoolctl import threadpool_limits
threadpool_limits(limits=1, user_api="blas")
import dlnmc
import inspect
# One process on both sides (CPU time is the measure; a newer tree may move chains to
# worker processes by default).
NEW = "n_workers" in inspect.signature(dlnmc.sample_balanced).parameters
ONE = {"n_workers": 1} if NEW else {}


def timed(call, repeats=5):
    # median CPU seconds of a few calls: a single short call is noisy
    out = []
    for _ in range(repeats):
        t0 = time.process_time()
        call()
        out.append(time.process_time() - t0)
    return sorted(out)[len(out) // 2]
"""

WORKLOADS: dict[str, tuple[str, str]] = {
    "entropy_sv d=10 N=8 (vectors/s)": (
        "vectors/s",
        """
rng = np.random.default_rng(0)
s = np.sort(np.exp(rng.standard_normal((200_000, 10))), axis=-1)[:, ::-1].copy()
dlnmc.entropy_sv(s[:10], 8)
t = timed(lambda: dlnmc.entropy_sv(s, 8))
print(json.dumps({"figure": s.shape[0] / t}))
""",
    ),
    "entropy(X) d=10 N=8 (matrices/s)": (
        "matrices/s",
        """
rng = np.random.default_rng(0)
X = rng.standard_normal((20_000, 10, 10))
dlnmc.entropy(X[:10], 8)
t = timed(lambda: dlnmc.entropy(X, 8))
print(json.dumps({"figure": X.shape[0] / t}))
""",
    ),
    "haar O(3) (samples/s)": (
        "samples/s",
        """
dlnmc.haar_orthogonal(3, 10, 0)
t = timed(lambda: dlnmc.haar_orthogonal(3, 200_000, 1))
print(json.dumps({"figure": 200_000 / t}))
""",
    ),
    "haar O(10) (samples/s)": (
        "samples/s",
        """
dlnmc.haar_orthogonal(10, 10, 0)
t = timed(lambda: dlnmc.haar_orthogonal(10, 20_000, 1))
print(json.dumps({"figure": 20_000 / t}))
""",
    ),
    "orbit volume d=3 N=4 RQMC 16384 (1/s)": (
        "calls/s",
        """
s = np.array([1.8268, 0.5907, 0.4366])
dlnmc.estimate_orbit_volume(s, 4, 1024, 0)
t = timed(lambda: dlnmc.estimate_orbit_volume(s, 4, 16384, 1), 3)
print(json.dumps({"figure": 1.0 / t}))
""",
    ),
    "balanced HMC d=2 N=3 (ESS/s of s_min)": (
        "ESS/s",
        """
import arviz as az
t0 = time.process_time()
tree = dlnmc.sample_balanced(2, 3, beta=1.0, n_draws=1000, n_chains=32, seed=1,
    n_warmup=300, **ONE
)
t = time.process_time() - t0
s = tree.posterior["singular_values"].values[..., -1]
print(json.dumps({"figure": float(az.ess(s)) / t}))
""",
    ),
    "balanced HMC d=4 N=8 (ESS/s of s_min, seed 1)": (
        "ESS/s",
        """
import arviz as az
t0 = time.process_time()
tree = dlnmc.sample_balanced(4, 8, beta=1.0, n_draws=200, n_chains=8, seed=1,
    n_warmup=150, **ONE
)
t = time.process_time() - t0
s = tree.posterior["singular_values"].values[..., -1]
print(json.dumps({"figure": float(az.ess(s)) / t}))
""",
    ),
    "balanced HMC d=4 N=8 (ESS/s of s_min, 3 seeds)": (
        "ESS/s",
        """
import arviz as az
# Three seeds: the ESS of one short run varies by tens of percent with the seed.
ess = t = 0.0
for seed in (1, 2, 3):
    t0 = time.process_time()
    tree = dlnmc.sample_balanced(
        4, 8, beta=1.0, n_draws=200, n_chains=8, seed=seed, n_warmup=150, **ONE
    )
    t += time.process_time() - t0
    ess += float(az.ess(tree.posterior["singular_values"].values[..., -1]))
print(json.dumps({"figure": ess / t}))
""",
    ),
}


def run_one(tree: Path, program: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree.resolve()))
    out = subprocess.run(
        [sys.executable, "-c", _PRELUDE + program],
        env=env,
        cwd=str(tree),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["figure"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", type=Path, required=True, help="previous main (reference)")
    ap.add_argument("--b", type=Path, required=True, help="tree under test")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default="", help="substring selecting workloads")
    args = ap.parse_args()
    print(f"A = {args.a}   B = {args.b}   rounds = {args.rounds} (A B interleaved)")
    print(f"{'workload':44s} {'median A':>11s} {'median B':>11s} {'B/A':>7s}")
    for name, (_unit, program) in WORKLOADS.items():
        if args.only and args.only not in name:
            continue
        fa, fb, ratios = [], [], []
        for _ in range(args.rounds):
            a = run_one(args.a, program)
            b = run_one(args.b, program)
            fa.append(a)
            fb.append(b)
            ratios.append(b / a)
        print(
            f"{name:44s} {statistics.median(fa):11.4g} {statistics.median(fb):11.4g} "
            f"{statistics.median(ratios):6.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
