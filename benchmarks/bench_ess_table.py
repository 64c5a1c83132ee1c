"""ESS per second of constrained HMC on M for d in {2, 4, 8} and N in {2, 4, 8, 16}.

Target: exp(-beta |X|^2 / 2) against the Hausdorff measure of the balanced
manifold, beta = 1. For every (d, N): 16 chains vectorized in one batch,
``n_warmup`` adaptive transitions, then sampling for ``--budget`` seconds (``--big-budget``
for d = 8, N = 16, counted from the start including warm-up). R-hat of every
singular value is checked every ``--check`` draws; the table reports the wall time
at which max R-hat first reached <= 1.01, bulk ESS per second of the smallest
singular value and the minimum over all singular values, acceptance and step size.

Run:  python benchmarks/bench_ess_table.py [--budget 40] [--big-budget 600]
      [--only 8x16]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import arviz as az
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlnmc.balanced import balanced_singular_values, initial_points
from dlnmc.energy import QuadraticEnergy
from dlnmc.samplers import ConstrainedHMC


def run(d, N, budget, n_chains, n_warmup, check, seed, n_leapfrog=8):
    energy = QuadraticEnergy()
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    hmc = ConstrainedHMC(d, N, energy, 1.0, n_leapfrog=n_leapfrog)
    state = hmc.init(initial_points(d, N, n_chains, rng, energy), rng)
    for _ in range(n_warmup):
        state, _ = hmc.step(state, rng, adapt=True)
    hmc.end_warmup(state)
    t_warm = time.perf_counter() - t0
    draws, acc = [], []
    t_rhat = None
    rhat = np.inf
    while True:
        state, st = hmc.step(state, rng, adapt=False)
        draws.append(balanced_singular_values(state.W))
        acc.append(st["acceptance_rate"])
        elapsed = time.perf_counter() - t0
        if len(draws) % check == 0 or elapsed > budget:
            s = np.swapaxes(np.asarray(draws), 0, 1)  # (chain, draw, sv)
            rhat = max(float(az.rhat(s[..., k])) for k in range(d))
            if t_rhat is None and rhat <= 1.01 and len(draws) >= 100:
                t_rhat = elapsed
            if elapsed > budget:
                break
    wall = time.perf_counter() - t0
    sample_time = wall - t_warm
    ess = np.array([float(az.ess(s[..., k])) for k in range(d)])
    return {
        "d": d,
        "N": N,
        "draws": s.shape[1],
        "warmup_s": t_warm,
        "wall_s": wall,
        "ess_smin_per_s": ess[-1] / sample_time,
        "ess_min_per_s": ess.min() / sample_time,
        "rhat": rhat,
        "t_rhat": t_rhat,
        "acc": float(np.mean(acc)),
        "h": float(np.mean(state.step_size)),
    }


def main() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # small matrices: threads only add overhead
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=40.0)
    ap.add_argument("--big-budget", type=float, default=600.0)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--check", type=int, default=50)
    ap.add_argument("--only", default=None, help="e.g. 8x16")
    ap.add_argument("--skip-big", action="store_true", help="leave out d=8, N=16")
    ap.add_argument("--n-leapfrog", type=int, default=8)
    args = ap.parse_args()
    grid = [(d, N) for d in (2, 4, 8) for N in (2, 4, 8, 16)]
    if args.only:
        grid = [tuple(int(v) for v in args.only.split("x"))]
    if args.skip_big:
        grid = [g for g in grid if g != (8, 16)]
    print(
        "   d   N   draws  warmup[s]  wall[s]  ESS/s(s_min)  min ESS/s  max R-hat  "
        "t(R-hat<=1.01)[s]  accept  step",
        flush=True,
    )
    for d, N in grid:
        budget = args.big_budget if (d, N) == (8, 16) else args.budget
        r = run(d, N, budget, args.chains, args.warmup, args.check, 100 * d + N, args.n_leapfrog)
        t_rhat = "never" if r["t_rhat"] is None else f"{r['t_rhat']:.0f}"
        print(
            f"{d:4d}{N:4d}{r['draws']:8d}{r['warmup_s']:11.1f}{r['wall_s']:9.1f}"
            f"{r['ess_smin_per_s']:14.1f}{r['ess_min_per_s']:11.1f}{r['rhat']:11.4f}"
            f"{t_rhat:>19s}{r['acc']:8.2f}{r['h']:7.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
