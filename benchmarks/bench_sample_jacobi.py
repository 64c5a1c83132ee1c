"""Wall time and max R-hat of ``sample_balanced`` with projection="block" against "auto".

Default settings otherwise. Each size runs "block" (the projection ``"auto"`` chose before
the Jacobi strategy) and then "auto" (now the Jacobi frame above the dense size) with the
same seed; R-hat is the largest over the singular values (ArviZ rank-normalized).

Run:  python benchmarks/bench_sample_jacobi.py [--sizes 8x16 16x16 4x64] [--chains 8]
          [--draws 100] [--warmup 100] [--projections block auto]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the source tree first

import arviz as az

from dlnmc.balanced import sample_balanced


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["8x16"])
    ap.add_argument("--chains", type=int, default=8)
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--projections", nargs="+", default=["block", "auto"])
    args = ap.parse_args()
    for size in args.sizes:
        d, N = (int(x) for x in size.split("x"))
        for proj in args.projections:
            t0 = time.perf_counter()
            tree = sample_balanced(
                d, N, beta=1.0, n_draws=args.draws, n_chains=args.chains,
                n_warmup=args.warmup, seed=args.seed, projection=proj,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            rhat = float(az.rhat(tree, var_names=["singular_values"])["singular_values"].max())
            st = tree.sample_stats
            print(
                f"d={d} N={N} chains={args.chains} draws={args.draws} warmup={args.warmup} "
                f"projection={proj}: wall {wall:.1f} s, max R-hat(sv) {rhat:.3f}, "
                f"accept {float(st['acceptance_rate'].mean()):.2f}, "
                f"diverging {float(st['diverging'].mean()):.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
