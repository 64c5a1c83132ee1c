"""ESS per second of constrained HMC on M for d in {2, 4, 8, 16} and N in {2, ..., 64}.

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

Warm-up ends after ``--warmup`` transitions or ``--warmup-frac`` of the budget,
whichever comes first (so that deep cells fit a small budget); cells that cannot
make a single sampling transition in their budget print n/a. Each tree runs its own
default trajectory settings unless ``--n-leapfrog`` or ``--trajectory-length`` is given.

A/B mode (``--ab /path/to/other/tree``): every cell runs twice, in fresh processes,
once with the other tree's ``dlnmc`` (A) and once with this one (B), interleaved cell
by cell (the order rotates from cell to cell), so that both see the same load;
``--also '--n-leapfrog 8'`` adds a third arm C: this tree with those options.

Run:  python benchmarks/bench_ess_table.py [--budget 40] [--big-budget 600]
      [--only 8x16] [--d 2,4,8] [--N 2,4,8,16] [--workers 2] [--trajectory-length T]
      [--ab ../prev]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import arviz as az
import numpy as np

HERE = Path(__file__).resolve()


def _root_from_argv() -> str:
    """The tree whose dlnmc is imported: ``--root`` (A/B children), else this one."""
    if "--root" in sys.argv:
        return sys.argv[sys.argv.index("--root") + 1]
    return str(HERE.parents[1])


sys.path.insert(0, _root_from_argv())

from dlnmc.balanced import balanced_singular_values, initial_points  # noqa: E402
from dlnmc.energy import QuadraticEnergy  # noqa: E402
from dlnmc.samplers import ConstrainedHMC  # noqa: E402

D_GRID = (2, 4, 8, 16)
N_GRID = (2, 4, 8, 16, 32, 64)


def chains(d, N, budget, n_chains, n_warmup, seed, hmc_kwargs, t0=None, warmup_frac=1.0):
    """Run ``n_chains`` chains until ``budget`` s after ``t0``; return draws and timings."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # small matrices: threads only add overhead
    t0 = time.time() if t0 is None else t0
    energy = QuadraticEnergy()
    rng = np.random.default_rng(seed)
    hmc = ConstrainedHMC(d, N, energy, 1.0, **hmc_kwargs)
    state = hmc.init(initial_points(d, N, n_chains, rng, energy), rng)
    n_warm = 0
    for _ in range(n_warmup):
        if time.time() - t0 > warmup_frac * budget:
            break
        state, _ = hmc.step(state, rng, adapt=True)
        n_warm += 1
    hmc.end_warmup(state)
    t_warm = time.time() - t0
    draws, times, acc, steps, T = [], [], [], [], []
    while time.time() - t0 < budget:
        state, st = hmc.step(state, rng, adapt=False)
        draws.append(balanced_singular_values(state.W))
        times.append(time.time() - t0)
        acc.append(st["acceptance_rate"])
        steps.append(st.get("n_steps", np.full(n_chains, np.nan)))
        T.append(st.get("trajectory_length", np.full(n_chains, np.nan)))
    return {
        "n_warm": n_warm,
        "steps": np.asarray(steps, dtype=float).reshape(-1, n_chains),
        "T": np.asarray(T, dtype=float).reshape(-1, n_chains),
        "s": np.swapaxes(np.asarray(draws).reshape(-1, n_chains, d), 0, 1),  # (chain, draw, sv)
        "times": np.asarray(times),
        "acc": np.asarray(acc).reshape(-1, n_chains),
        "h": state.step_size,
        "warmup_s": t_warm,
    }


def max_rhat(s):
    return max(float(az.rhat(s[..., k])) for k in range(s.shape[-1]))


def run(d, N, budget, n_chains, n_warmup, check, seed, workers=1, warmup_frac=1.0, **hmc_kwargs):
    """One row of the table: ``n_chains`` chains over ``workers`` processes."""
    seeds = np.random.SeedSequence(seed).spawn(workers)
    per = np.diff(np.linspace(0, n_chains, workers + 1).round().astype(int))
    t0 = time.time()
    if workers == 1:
        parts = [chains(d, N, budget, n_chains, n_warmup, seeds[0], hmc_kwargs, t0, warmup_frac)]
    else:
        with ProcessPoolExecutor(workers) as ex:
            futs = [
                ex.submit(chains, d, N, budget, int(c), n_warmup, ss, hmc_kwargs, t0, warmup_frac)
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
    n_warm = min(p["n_warm"] for p in parts)
    if s.shape[1] < 4:  # warm-up used up the budget
        nan = float("nan")
        return {"d": d, "N": N, "draws": s.shape[1], "warmup_s": t_warm, "wall_s": wall,
                "ess_smin_per_s": nan, "ess_min_per_s": nan, "rhat": nan, "t_rhat": None,
                "acc": nan, "h": nan, "n_warm": n_warm, "T": nan, "steps": nan}  # fmt: skip
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
        "n_warm": n_warm,
        "T": float(np.nanmedian(np.concatenate([p["T"].ravel() for p in parts]))),
        "steps": float(np.nanmean(np.concatenate([p["steps"].ravel() for p in parts]))),
    }


HEADER = (
    "   d   N   draws  warm(n) warmup[s]  wall[s]  ESS/s(s_min)  min ESS/s  max R-hat  "
    "R-hat<=1.01 from[s]  accept  step      T  steps"
)


def fmt_row(r: dict, tag: str = "") -> str:
    """One printed row (n/a where no sampling transition fitted in the budget)."""
    head = f"{tag}{r['d']:4d}{r['N']:4d}"
    if r["draws"] < 1:
        return head + f"{0:8d}{r['n_warm']:9d}   n/a (no sampling transition within the budget)"
    t_rhat = "never" if r["t_rhat"] is None else f"{r['t_rhat']:.0f}"
    return (
        head + f"{r['draws']:8d}{r['n_warm']:9d}{r['warmup_s']:10.1f}{r['wall_s']:9.1f}"
        f"{r['ess_smin_per_s']:14.2f}{r['ess_min_per_s']:11.2f}{r['rhat']:11.4f}"
        f"{t_rhat:>21s}{r['acc']:8.2f}{r['h']:7.3f}{r['T']:7.2f}{r['steps']:7.1f}"
    )


def _child(args, d: int, N: int, root: str, extra: list[str] = ()) -> dict:
    """Run one cell in a fresh process with ``root``'s dlnmc; its result as a dict."""
    cmd = [sys.executable, str(HERE), "--cell", f"{d}x{N}", "--root", root]
    for name in ("budget", "big_budget", "chains", "workers", "warmup", "warmup_frac", "check"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([*cmd, *extra], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cell(args, d: int, N: int) -> dict:
    budget = args.big_budget if (d, N) == (8, 16) else args.budget
    kwargs = {}
    if args.n_leapfrog is not None:
        kwargs["n_leapfrog"] = args.n_leapfrog
    if args.trajectory_length is not None:
        kwargs["trajectory_length"] = args.trajectory_length
    return run(
        d, N, budget, args.chains, args.warmup, args.check,
        100 * d + N if args.seed is None else args.seed,
        workers=args.workers, warmup_frac=args.warmup_frac, **kwargs,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=40.0)
    ap.add_argument("--big-budget", type=float, default=600.0)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--warmup-frac", type=float, default=1.0,
                    help="warm-up ends at this fraction of the budget at the latest")  # fmt: skip
    ap.add_argument("--check", type=float, default=10.0, help="seconds between R-hat checks")
    ap.add_argument("--only", default=None, help="e.g. 8x16")
    ap.add_argument("--d", default=None, help="comma-separated widths (default 2,4,8,16)")
    ap.add_argument("--N", default=None, help="comma-separated depths (default 2,...,64)")
    ap.add_argument("--skip-big", action="store_true", help="leave out d=8, N=16")
    ap.add_argument("--n-leapfrog", type=int, default=None)
    ap.add_argument("--trajectory-length", type=float, default=None)
    ap.add_argument("--seed", type=int, default=None, help="default: 100 d + N")
    ap.add_argument("--ab", default=None, help="root of the other tree (A); this tree is B")
    ap.add_argument(
        "--also", default=None,
        help="with --ab: a third arm C, this tree with these extra options (e.g. '--n-leapfrog 8')",
    )  # fmt: skip
    ap.add_argument("--root", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cell", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cell:  # a child of the A/B mode: one cell, JSON on the last line
        d, N = (int(v) for v in args.cell.split("x"))
        r = cell(args, d, N)
        import dlnmc

        r["dlnmc"] = dlnmc.__file__
        print(json.dumps(r, default=float))
        return
    ds = D_GRID if args.d is None else tuple(int(v) for v in args.d.split(","))
    Ns = N_GRID if args.N is None else tuple(int(v) for v in args.N.split(","))
    grid = [(d, N) for d in ds for N in Ns]
    if args.only:
        grid = [tuple(int(v) for v in args.only.split("x"))]
    if args.skip_big:
        grid = [g for g in grid if g != (8, 16)]
    print("# " + " ".join(sys.argv), flush=True)
    if args.ab is None:
        print(HEADER, flush=True)
        for d, N in grid:
            print(fmt_row(cell(args, d, N)), flush=True)
        return
    here = str(HERE.parents[1])
    arms = {"A": (str(Path(args.ab).resolve()), []), "B": (here, [])}
    if args.also:
        arms["C"] = (here, shlex.split(args.also))
    for tag, (root, extra) in arms.items():
        print(f"# {tag} = {root} {' '.join(extra)}".rstrip(), flush=True)
    print("  " + HEADER, flush=True)
    rows = {tag: [] for tag in arms}
    tags = list(arms)
    for i, (d, N) in enumerate(grid):
        k = i % len(tags)  # rotate the order from cell to cell
        for tag in tags[k:] + tags[:k]:
            r = _child(args, d, N, *arms[tag])
            rows[tag].append(r)
            print(fmt_row(r, tag + " "), flush=True)
    for other in tags[1:]:
        print(f"\n# {other} / A: ESS/s of s_min, min ESS/s over singular values (n/a: none)")
        for a, b in zip(rows["A"], rows[other], strict=True):
            ratio = []
            for key in ("ess_smin_per_s", "ess_min_per_s"):
                ok = a["draws"] >= 4 and b["draws"] >= 4 and a[key] > 0
                ratio.append(f"{b[key] / a[key]:8.2f}" if ok else "     n/a")
            print(f"  {a['d']:4d}{a['N']:4d}" + "".join(ratio), flush=True)


if __name__ == "__main__":
    main()
