"""ESS per second of the lifted sampler (dlnmc.lift), which ASSUMES the entropy formula.

Run from the repository root:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_lift.py
    python benchmarks/bench_lift.py --only 64x1000      # the headline cell alone

For every cell (width d, depth N) one run of ``sample_lifted`` with default
settings (``E = |X|^2 / 2``, beta = 1, real field, default warm-up, ``keep_W``
chosen by size), 4 chains x 1000 draws of X by default. Reports the wall time
(warm-up, frames, the lift of the kept W and the tree included), the bulk ESS
of ``s_min`` and the minimum bulk ESS over all singular values, both per
second, the maximum rank-normalized R-hat over the singular values, and how
many draws per chain kept W.

ESS and R-hat are computed on ``log_singular_values``: rank-normalized
diagnostics are invariant under the monotone map ``log``, and at N = 1000 the
smallest singular value of a real network is far below the smallest double
(``log s_min`` of order ``-N``), so the stored ``singular_values`` are clipped
there and only the logs carry the draws.

Targets (issue 12): d = 64, N = 1000, 4 chains x 1000 draws in under 60 s on 2
shared cores with max R-hat <= 1.01.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import arviz as az
from _common import blas_report

from dlnmc.lift import sample_lifted

CELLS = [(16, 64), (32, 64), (64, 64), (16, 1000), (32, 1000), (64, 1000)]


def run_cell(d: int, N: int, n_draws: int, n_chains: int, seed: int) -> dict:
    t0 = time.perf_counter()
    tree = sample_lifted(d, N, beta=1.0, n_draws=n_draws, n_chains=n_chains, seed=seed)
    wall = time.perf_counter() - t0
    ess = az.ess(tree, var_names=["log_singular_values"])["log_singular_values"].values
    rhat = az.rhat(tree, var_names=["log_singular_values"])["log_singular_values"].values
    kept = n_draws if "W" in tree.posterior else tree["lifted"].sizes["kept_draw"]
    stats = tree.sample_stats
    return {
        "d": d,
        "N": N,
        "wall": wall,
        "ess_smin": float(ess[-1]),
        "ess_min": float(ess.min()),
        "rhat": float(rhat.max()),
        "kept": kept,
        "accept": float(stats["acceptance_rate"].mean()),
        "steps": float(stats["n_steps"].mean()),
        "div": int(stats["diverging"].sum()),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--only", default=None, help="one cell, e.g. 64x1000")
    args = ap.parse_args(argv)
    cells = CELLS
    if args.only:
        d, N = (int(x) for x in args.only.lower().split("x"))
        cells = [(d, N)]
    print(blas_report())
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"lifted sampler, E = |X|^2/2, beta = 1, real, {args.chains} chains x {args.draws} draws")
    head = (
        f"{'d':>4} {'N':>5} {'wall[s]':>8} {'ESS(s_min)':>10} {'ESS/s(s_min)':>12} "
        f"{'min ESS':>8} {'min ESS/s':>9} {'max R-hat':>9} {'W kept':>6} {'accept':>6} "
        f"{'steps':>6} {'div':>4}"
    )
    print(head)
    for d, N in cells:
        r = run_cell(d, N, args.draws, args.chains, args.seed)
        print(
            f"{r['d']:>4} {r['N']:>5} {r['wall']:>8.1f} {r['ess_smin']:>10.0f} "
            f"{r['ess_smin'] / r['wall']:>12.1f} {r['ess_min']:>8.0f} "
            f"{r['ess_min'] / r['wall']:>9.1f} {r['rhat']:>9.4f} {r['kept']:>6} "
            f"{r['accept']:>6.2f} {r['steps']:>6.1f} {r['div']:>4}",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
