"""ESS per second of constrained HMC on M for d in {2, 4, 8} and N in {2, 4, 8, 16}.

Target: exp(-beta |X|^2 / 2) against the Hausdorff measure of the balanced
manifold, beta = 1. For every (d, N): ``--chains`` chains, split over ``--workers``
processes (each vectorizes its chains in one batch, single-threaded BLAS),
``--warmup`` adaptive transitions, then sampling until ``--budget`` seconds
(``--big-budget`` for d = 8, N = 16) counted from the start including warm-up.
Afterwards R-hat (rank-normalized, split) of every singular value is evaluated
on the draws made up to every ``--check`` seconds; the table reports max R-hat
at the end of the budget, the first checkpoint from which max R-hat stayed
<= 1.01, bulk ESS per second of the smallest singular value and the minimum over
all singular values, acceptance and step size (median over chains).

Run:  python benchmarks/bench_ess_table.py [--budget 40] [--big-budget 600]
      [--only 8x16] [--workers 2] [--trajectory-length T]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import arviz as az
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlnmc.balanced import balanced_singular_values, initial_points
from dlnmc.energy import QuadraticEnergy
from dlnmc.samplers import ConstrainedHMC


def chains(d, N, budget, n_chains, n_warmup, seed, hmc_kwargs, t0=None):
    """Run ``n_chains`` chains until ``budget`` s after ``t0``; return draws and timings."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # small matrices: threads only add overhead
    t0 = time.time() if t0 is None else t0
    energy = QuadraticEnergy()
    rng = np.random.default_rng(seed)
    hmc = ConstrainedHMC(d, N, energy, 1.0, **hmc_kwargs)
    state = hmc.init(initial_points(d, N, n_chains, rng, energy), rng)
    for _ in range(n_warmup):
        state, _ = hmc.step(state, rng, adapt=True)
    hmc.end_warmup(state)
    t_warm = time.time() - t0
    draws, times, acc = [], [], []
    while time.time() - t0 < budget:
        state, st = hmc.step(state, rng, adapt=False)
        draws.append(balanced_singular_values(state.W))
        times.append(time.time() - t0)
        acc.append(st["acceptance_rate"])
    return {
        "s": np.swapaxes(np.asarray(draws).reshape(-1, n_chains, d), 0, 1),  # (chain, draw, sv)
        "times": np.asarray(times),
        "acc": np.asarray(acc).reshape(-1, n_chains),
        "h": state.step_size,
        "warmup_s": t_warm,
    }


def max_rhat(s):
    return max(float(az.rhat(s[..., k])) for k in range(s.shape[-1]))


def run(d, N, budget, n_chains, n_warmup, check, seed, workers=1, **hmc_kwargs):
    """One row of the table: ``n_chains`` chains over ``workers`` processes."""
    seeds = np.random.SeedSequence(seed).spawn(workers)
    per = np.diff(np.linspace(0, n_chains, workers + 1).round().astype(int))
    t0 = time.time()
    if workers == 1:
        parts = [chains(d, N, budget, n_chains, n_warmup, seeds[0], hmc_kwargs, t0)]
    else:
        with ProcessPoolExecutor(workers) as ex:
            futs = [
                ex.submit(chains, d, N, budget, int(c), n_warmup, ss, hmc_kwargs, t0)
                for c, ss in zip(per, seeds, strict=True)
            ]
            parts = [f.result() for f in futs]
    wall = time.time() - t0

    def upto(t):  # draws made by time t, truncated to a common length
        n = min(int(np.searchsorted(p["times"], t, side="right")) for p in parts)
        return np.concatenate([p["s"][:, :n] for p in parts], axis=0)

    grid = np.arange(check, budget + check, check)
    rh = np.array([max_rhat(upto(t)) if upto(t).shape[1] >= 100 else np.inf for t in grid])
    ok = rh <= 1.01
    stay = next((grid[i] for i in range(len(grid)) if ok[i:].all()), None)
    s = upto(np.inf)
    t_warm = max(p["warmup_s"] for p in parts)
    if s.shape[1] < 4:  # warm-up used up the budget
        nan = float("nan")
        return {"d": d, "N": N, "draws": s.shape[1], "warmup_s": t_warm, "wall_s": wall,
                "ess_smin_per_s": nan, "ess_min_per_s": nan, "rhat": nan, "t_rhat": None,
                "acc": nan, "h": nan}  # fmt: skip
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
        "rhat": max_rhat(s),
        "t_rhat": stay,
        "acc": float(np.mean(np.concatenate([p["acc"].ravel() for p in parts]))),
        "h": float(np.median(np.concatenate([p["h"] for p in parts]))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=40.0)
    ap.add_argument("--big-budget", type=float, default=600.0)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--check", type=float, default=10.0, help="seconds between R-hat checks")
    ap.add_argument("--only", default=None, help="e.g. 8x16")
    ap.add_argument("--skip-big", action="store_true", help="leave out d=8, N=16")
    ap.add_argument("--n-leapfrog", type=int, default=8)
    ap.add_argument("--trajectory-length", type=float, default=None)
    ap.add_argument("--seed", type=int, default=None, help="default: 100 d + N")
    args = ap.parse_args()
    grid = [(d, N) for d in (2, 4, 8) for N in (2, 4, 8, 16)]
    if args.only:
        grid = [tuple(int(v) for v in args.only.split("x"))]
    if args.skip_big:
        grid = [g for g in grid if g != (8, 16)]
    print(
        "   d   N   draws  warmup[s]  wall[s]  ESS/s(s_min)  min ESS/s  max R-hat  "
        "R-hat<=1.01 from[s]  accept  step",
        flush=True,
    )
    for d, N in grid:
        budget = args.big_budget if (d, N) == (8, 16) else args.budget
        r = run(
            d,
            N,
            budget,
            args.chains,
            args.warmup,
            args.check,
            100 * d + N if args.seed is None else args.seed,
            workers=args.workers,
            n_leapfrog=args.n_leapfrog,
            trajectory_length=args.trajectory_length,
        )
        t_rhat = "never" if r["t_rhat"] is None else f"{r['t_rhat']:.0f}"
        print(
            f"{d:4d}{N:4d}{r['draws']:8d}{r['warmup_s']:11.1f}{r['wall_s']:9.1f}"
            f"{r['ess_smin_per_s']:14.1f}{r['ess_min_per_s']:11.1f}{r['rhat']:11.4f}"
            f"{t_rhat:>21s}{r['acc']:8.2f}{r['h']:7.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
