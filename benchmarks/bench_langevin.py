"""Langevin throughput and the acceptance case at full size.

Usage (from the repository root)::

    python benchmarks/bench_langevin.py                 # throughput table (short runs)
    python benchmarks/bench_langevin.py --acceptance    # d=2, N=3 acceptance at s.e. <= 0.005
    python benchmarks/bench_langevin.py --acceptance --case d3 --dt 1e-3 --paths 6000 \
        --sv-paths 24000                                # d=3, N=4, beta=0.5, s=(1.5, 0.8, 0.4)
    python benchmarks/bench_langevin.py --long-time --paths 1000   # t = 20 against quadrature

Throughput: path-steps per second of the manifold route (projected
Euler-Maruyama with Newton projection) at d = 2, 4, 8 and N = 3, 8, 16, and
of the singular-value SDE, from short runs (a few seconds each). From the
rates and the spread of s_1 at t = 0.4 it reports the seconds each route
needs for s.e. 0.005 on the means of the acceptance case (d = 2, N = 3,
beta = 1, start s = (1.5, 0.4), times 0.05-0.4).

``--acceptance`` runs that case: manifold route (dt = 2.5e-4) against the SDE,
printing every z-score, the two decoys (no e^S, doubled), dropped paths, the
largest constraint residual, and the dt/2 rerun coupled to the first
``--coupled-paths`` paths (the same Brownian path, bridge-refined): its change
of every mean and quantile, the s.e. of that change, and the change over the
Monte Carlo s.e. of the dt run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from dlnmc.dynamics import langevin  # noqa: E402
from dlnmc.dynamics.compare import compare_routes, coupled_change, route_summary  # noqa: E402

ACCEPT = dict(beta=1.0, start=[1.5, 0.4], t_max=0.4, record_times=(0.0, 0.05, 0.1, 0.2, 0.4))
# The acceptance cases: (width, depth, common keyword arguments).
CASES = {
    "d2": (2, 3, ACCEPT),
    "d3": (3, 4, {**ACCEPT, "beta": 0.5, "start": [1.5, 0.8, 0.4]}),
}


def rate(d: int, N: int, route: str, n_paths: int, n_steps: int, dt: float) -> float:
    s0 = list(np.linspace(1.5, 0.5, d))
    t0 = time.process_time()  # one process: CPU time, so a second job does not count
    langevin(
        d,
        N,
        beta=1.0,
        start=s0,
        t_max=n_steps * dt,
        dt=dt,
        n_paths=n_paths,
        seed=0,
        route=route,
        record_times=[0.0, n_steps * dt],
        keep_W=False,
    )
    return n_paths * n_steps / (time.process_time() - t0)


def throughput() -> dict[tuple[int, int, str], float]:
    out = {}
    print(f"{'d':>3} {'N':>3} {'route':>16} {'path-steps/s':>14}  (per CPU second, one process)")
    for d in (2, 4, 8):
        for N in (3, 8, 16):
            paths = 256 if d * d * N <= 64 else (64 if d * d * N <= 256 else 16)
            steps = 40 if d * d * N <= 256 else 10
            r = rate(d, N, "manifold", paths, steps, 1e-4)
            out[(d, N, "manifold")] = r
            print(f"{d:>3} {N:>3} {'manifold':>16} {r:>14.0f}", flush=True)
        r = rate(d, 3, "singular_values", 4096, 200, 1e-5)
        out[(d, 3, "singular_values")] = r
        print(f"{d:>3} {'any':>3} {'singular_values':>16} {r:>14.0f}", flush=True)
    return out


def seconds_to_acceptance() -> None:
    """Seconds to s.e. 0.005 on every mean of each acceptance case, from pilot runs.

    One route's run only (the dt/2 rerun of the manifold route costs twice that again).
    """
    plan = {
        "d2": (("manifold", 2.5e-4, 400), ("singular_values", 5e-5, 2000)),
        "d3": (("manifold", 1e-3, 200), ("singular_values", 2e-4, 2000)),
    }
    for case, runs in plan.items():
        d, N, kw = CASES[case]
        for route, dt, n in runs:
            t0 = time.perf_counter()
            tree = langevin(d, N, dt=dt, n_paths=n, seed=1, route=route, keep_W=False, **kw)
            sec = time.perf_counter() - t0
            sd = route_summary(tree)["mean_se"].values[1:].max() * np.sqrt(n)
            need = int(np.ceil((sd / 0.005) ** 2))
            print(
                f"{case} {route:>16}: dt {dt:g}, sd(s) <= {sd:.3f} -> {need} paths for s.e. "
                f"0.005; {sec / n * need:.0f} s at {n * round(0.4 / dt) / sec:.0f} path-steps/s",
                flush=True,
            )


def _print_cmp(label: str, cmp, seconds: float) -> None:
    print(f"-- {label} ({seconds:.0f} s); max |z| = {cmp.attrs['max_abs_z']:.2f}")
    for k, t in enumerate(cmp["time"].values):
        if t == 0:
            continue
        m = cmp["mean"].isel(time=k).values
        se = cmp["mean_se"].isel(time=k).values
        print(
            f"t={t:.2f} mean {m[0].round(4)} vs {m[1].round(4)} se {se[0].round(4)} "
            f"z_mean {cmp['z_mean'].isel(time=k).values.round(2)} "
            f"z_q {cmp['z_quantile'].isel(time=k).values.round(2).tolist()}",
            flush=True,
        )


def acceptance(
    case: str,
    dt: float,
    n_man: int,
    n_sv: int,
    n_coupled: int,
    workers: int,
    field: str,
    sv_ratio: int = 5,
) -> None:
    d, N, kw = CASES[case]
    kw = {**kw, "field": field}
    print(
        f"== acceptance {case} ({field}): d={d} N={N} beta={kw['beta']} start={kw['start']} "
        f"dt={dt:g}, "
        f"{n_man} manifold paths, {n_sv} SDE paths at dt/{sv_ratio}; dt/2 rerun coupled "
        f"(same Brownian path, bridge-refined) on the first {n_coupled} paths"
    )
    t0 = time.perf_counter()
    sv = langevin(
        d,
        N,
        dt=dt / sv_ratio,
        n_paths=n_sv,
        seed=9,
        route="singular_values",
        n_workers=workers,
        **kw,
    )
    print(f"SDE {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    man = langevin(d, N, dt=dt, n_paths=n_man, seed=7, n_workers=workers, keep_W=False, **kw)
    _print_cmp("manifold (dt) vs SDE", compare_routes(man, sv), time.perf_counter() - t0)
    res = float(man["sample_stats"]["constraint_residual"].max())
    print(
        f"   dropped {man.attrs['n_dropped']} of {n_man}, refinements "
        f"{man.attrs['n_refinements']}, max residual {res:.2e}",
        flush=True,
    )
    mse = route_summary(man)["mean_se"].values[1:]
    print("max s.e. of the means (dt run):", round(float(mse.max()), 4))
    for power in (0.0, 2.0):
        t0 = time.perf_counter()
        decoy = langevin(
            d,
            N,
            dt=dt / 5,
            n_paths=n_sv,
            seed=11,
            route="singular_values",
            n_workers=workers,
            entropy_power=power,
            **kw,
        )
        z = np.abs(compare_routes(man, decoy)["z_mean"].values[1:])
        print(
            f"decoy e^({power:g} S): max |z_mean| = {np.nanmax(z):.1f} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    if n_coupled == 0:
        return
    t0 = time.perf_counter()
    half = langevin(
        d,
        N,
        dt=dt / 2,
        brownian_dt=dt,
        n_paths=n_coupled,
        seed=7,
        n_workers=workers,
        keep_W=False,
        **kw,
    )
    cc = coupled_change(man, half).isel(time=slice(1, None))
    print(
        f"-- coupled dt/2 rerun ({time.perf_counter() - t0:.0f} s, dropped "
        f"{half.attrs['n_dropped']} of {n_coupled}):"
    )
    for stat in cc["statistic"].values:
        c = cc.sel(statistic=stat)
        print(
            f"   {stat:>4}: change {c['change'].values.round(4).tolist()}\n"
            f"         change s.e. {c['change_se'].values.round(4).tolist()}\n"
            f"         over the dt run's s.e. {c['change_over_mc_se'].values.round(2).tolist()}"
        )
    worst = float(np.nanmax(np.abs(cc["change_over_mc_se"].sel(statistic="mean").values)))
    print(f"largest |dt/2 change of a mean| / s.e. of the dt run: {worst:.2f}")


def long_time(n_paths: int, dt: float, workers: int) -> None:
    """d = 2, N = 3, beta = 1: the manifold route's law at t = 20 against the quadrature law."""
    from dlnmc.sv_law import sv_law_moments

    t0 = time.perf_counter()
    tree = langevin(
        2,
        3,
        beta=1.0,
        start=[1.5, 0.4],
        t_max=20.0,
        dt=dt,
        n_paths=n_paths,
        seed=41,
        record_times=[0.0, 10.0, 20.0],
        n_workers=workers,
        keep_W=False,
    )
    sec = time.perf_counter() - t0
    summ = route_summary(tree).sel(time=20.0)
    print(
        f"== long time: d=2 N=3 beta=1 start (1.5, 0.4), t=20, dt={dt:g}, {n_paths} paths, "
        f"{sec:.0f} s, dropped {tree.attrs['n_dropped']}, max residual "
        f"{float(tree['sample_stats']['constraint_residual'].max()):.2e}"
    )
    for label, alpha in (("law (quadrature)", None), ("decoy law without e^S", 1.0)):
        extra = {} if alpha is None else {"alpha": alpha}
        law = sv_law_moments(2, 3, 1.0, "real", (0.1, 0.9), **extra)
        z_m = (summ["mean"].values - law.mean) / summ["mean_se"].values
        z_q = (summ["quantile"].values - law.quantiles.T) / summ["quantile_se"].values
        print(
            f"{label:>22}: mean {law.mean.round(4)} vs {summ['mean'].values.round(4)} "
            f"(se {summ['mean_se'].values.round(4)}); z_mean {z_m.round(2)}, "
            f"z_q10/q90 {z_q.round(2).tolist()}"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--acceptance", action="store_true")
    ap.add_argument("--long-time", action="store_true")
    ap.add_argument("--case", choices=sorted(CASES), default="d2")
    ap.add_argument("--dt", type=float, default=None, help="default 2.5e-4 (2e-3 long time)")
    ap.add_argument("--paths", type=int, default=14000)
    ap.add_argument("--sv-paths", type=int, default=28000)
    ap.add_argument("--coupled-paths", type=int, default=4000)
    ap.add_argument("--field", choices=("real", "complex", "quaternion"), default="real")
    ap.add_argument("--sv-dt-ratio", type=int, default=5, help="the SDE steps dt / this")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.acceptance:
        acceptance(
            args.case,
            args.dt or 2.5e-4,
            args.paths,
            args.sv_paths,
            args.coupled_paths,
            args.workers,
            args.field,
            args.sv_dt_ratio,
        )
    elif args.long_time:
        long_time(args.paths, args.dt or 2e-3, args.workers)
    else:
        throughput()
        seconds_to_acceptance()
