"""Block projection of the balanced constraint: ESS per second against a baseline revision.

Runs ``sample_balanced`` (beta = 1, Y = 0, 16 chains) with the current tree and
with a baseline git revision (default: the commit before the block projection
used the Newton matrix), interleaved round by round in child processes so load
changes on a shared machine hit both; reports per run the wall time, the bulk
ESS of the smallest singular value and its ESS per second, acceptance, the
projection-failure and reverse-check-failure rates, and the medians.

Run:  python benchmarks/bench_block_projection.py [--baseline REV] [--repeats 3]
          [--case hmc:2x3:block --case hmc:4x8:auto ...]
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import arviz as az
from dlnmc.balanced import sample_balanced
smp, d, N, proj, n_draws, seed = sys.argv[1:7]
t0 = time.perf_counter()
tr = sample_balanced(int(d), int(N), beta=1.0, n_draws=int(n_draws), n_chains=16,
                     seed=int(seed), n_warmup=300, sampler=smp, projection=proj,
                     thin=2 if smp == "rwm" else 1)
el = time.perf_counter() - t0
ess = az.ess(tr, var_names=["singular_values"])["singular_values"].values
ss = tr.sample_stats
print(json.dumps({"time": el, "ess_min_sv": float(ess[-1]), "ess_per_s": float(ess[-1] / el),
                  "accept": float(ss["acceptance_rate"].mean()),
                  "proj_fail": float(ss["projection_failures"].mean()),
                  "rev_fail": float(ss["reverse_check_failures"].mean()),
                  "projection": json.loads(tr.attrs["settings"])["projection"]}))
"""


def export(rev: str, dest: Path) -> Path:
    """Write the tree of ``rev`` to ``dest`` (git archive), return it."""
    with tempfile.TemporaryFile() as tmp:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev], stdout=tmp, check=True)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(dest, filter="data")
    return dest


def run(tree: Path, case: str, n_draws: int, seed: int) -> dict:
    smp, size, proj = case.split(":")
    d, N = size.split("x")
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, smp, d, N, proj, str(n_draws), str(seed)],
        env=env, capture_output=True, text=True, check=True, cwd=tree,
    )  # fmt: skip
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="ae10434~1")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-draws", type=int, default=400)
    ap.add_argument("--case", action="append", help="sampler:dxN:projection")
    args = ap.parse_args()
    cases = args.case or ["hmc:2x3:block", "rwm:2x3:block", "hmc:4x8:auto"]
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"baseline": export(args.baseline, Path(tmp) / "base"), "current": ROOT}
        print(f"baseline {args.baseline}; {time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
        for case in cases:
            res: dict[str, list[dict]] = {k: [] for k in trees}
            for r in range(args.repeats):
                for name, tree in trees.items():
                    x = run(tree, case, args.n_draws, 1000 + r)
                    res[name].append(x)
                    print(f"{case:14s} {name:8s} rep {r}: " + json.dumps(x), flush=True)
            med = {k: {f: statistics.median(x[f] for x in v) for f in v[0] if f != "projection"}
                   for k, v in res.items()}  # fmt: skip
            b, c = med["baseline"], med["current"]
            print(f"{case}: median ESS/s (s_min) baseline {b['ess_per_s']:.2f}, current "
                  f"{c['ess_per_s']:.2f} (x{c['ess_per_s'] / b['ess_per_s']:.1f}); projection "
                  f"failures {b['proj_fail']:.3f} -> {c['proj_fail']:.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
