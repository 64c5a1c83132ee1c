"""dlnmc's constrained HMC against mici on the identical target, side by side.

Target: the balanced manifold M for d = 2, N = 3 with density exp(-beta E(phi(W)))
against its Hausdorff measure, beta = 1, E = |X|_F^2 / 2 (Y = 0). Both samplers
run in this one process, one after the other, repeated; the figure of merit is
effective samples per second (ArviZ bulk ESS) of the smallest singular value of
X, whose law has the heavy s^{-(N-1)/N} region.

- dlnmc: ``sample_balanced(..., sampler="hmc")``, chains vectorized in one batch.
- mici 0.4: ``DenseConstrainedEuclideanMetricSystem`` (``dens_wrt_hausdorff=True``,
  analytic gradient and constraint Jacobian) with ``DynamicMultinomialHMC`` and
  ``ConstrainedLeapfrogIntegrator`` (Newton projection, reverse check), step size
  by mici's dual averaging, chains run sequentially (``n_process=1``).

Run:  python benchmarks/bench_balanced.py [--repeats 3] [--mici-draws 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import arviz as az
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlnmc.balanced import initial_points, sample_balanced
from dlnmc.energy import QuadraticEnergy
from dlnmc.network import constraint_jacobian, end_to_end

D, N, BETA = 2, 3, 1.0
QUAD = (1.22797, 0.15097)


def run_dlnmc(seed: int, n_draws: int, n_chains: int) -> dict:
    t0 = time.perf_counter()
    tree = sample_balanced(
        D, N, beta=BETA, n_draws=n_draws, n_chains=n_chains, seed=seed, n_warmup=300
    )
    wall = time.perf_counter() - t0
    s = tree.posterior["singular_values"].values
    return _report("dlnmc", s, wall)


def run_mici(seed: int, n_draws: int, n_chains: int) -> dict:
    import mici

    iu, ju = np.triu_indices(D)

    def neg_log_dens(q):
        X = end_to_end(q.reshape(N, D, D))
        return 0.5 * BETA * float((X * X).sum())

    def grad_neg_log_dens(q):
        W = q.reshape(N, D, D)
        X = end_to_end(W)
        g = np.empty_like(W)
        for p in range(N):
            left = np.eye(D)
            for k in range(N - 1, p, -1):
                left = left @ W[k]
            right = np.eye(D)
            for k in range(p):
                right = W[k] @ right
            g[p] = left.T @ X @ right.T
        return BETA * g.ravel()

    def constr(q):
        W = q.reshape(N, D, D)
        F = np.swapaxes(W[1:], -1, -2) @ W[1:] - W[:-1] @ np.swapaxes(W[:-1], -1, -2)
        return F[:, iu, ju].ravel()

    def jacob_constr(q):
        return constraint_jacobian(q.reshape(N, D, D))

    system = mici.systems.DenseConstrainedEuclideanMetricSystem(
        neg_log_dens=neg_log_dens,
        grad_neg_log_dens=grad_neg_log_dens,
        constr=constr,
        jacob_constr=jacob_constr,
        dens_wrt_hausdorff=True,
    )
    integrator = mici.integrators.ConstrainedLeapfrogIntegrator(system)
    rng = np.random.default_rng(seed)
    sampler = mici.samplers.DynamicMultinomialHMC(system, integrator, rng)
    energy = QuadraticEnergy()
    W0 = initial_points(D, N, n_chains, rng, energy)
    init = [w.ravel() for w in W0]

    def trace(state):
        s = np.linalg.svd(end_to_end(state.pos.reshape(N, D, D)), compute_uv=False)
        return {"s_max": s[0], "s_min": s[-1]}

    t0 = time.perf_counter()
    out = sampler.sample_chains(
        n_warm_up_iter=max(100, n_draws // 2),
        n_main_iter=n_draws,
        init_states=init,
        trace_funcs=[trace],
        n_process=1,
        display_progress=False,
    )
    wall = time.perf_counter() - t0
    s = np.stack([np.asarray(out.traces["s_max"]), np.asarray(out.traces["s_min"])], -1)
    return _report("mici", s, wall)


def _report(name: str, s: np.ndarray, wall: float) -> dict:
    ess = az.ess(s[..., -1])
    mean = s.mean(axis=(0, 1))
    mcse = np.array([az.mcse(s[..., k]) for k in range(s.shape[-1])])
    z = (mean - np.array(QUAD)) / mcse
    return {
        "name": name,
        "wall": wall,
        "ess_min": float(ess),
        "ess_per_s": float(ess) / wall,
        "mean": mean,
        "z": z,
        "draws": s.shape[0] * s.shape[1],
    }


def main() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # small matrices: threads only add overhead
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dlnmc-draws", type=int, default=2000)
    ap.add_argument("--dlnmc-chains", type=int, default=64)
    ap.add_argument("--mici-draws", type=int, default=300)
    ap.add_argument("--mici-chains", type=int, default=4)
    args = ap.parse_args()
    rows = []
    for r in range(args.repeats):
        for run in (run_dlnmc, run_mici):
            n_draws = args.dlnmc_draws if run is run_dlnmc else args.mici_draws
            n_chains = args.dlnmc_chains if run is run_dlnmc else args.mici_chains
            res = run(1000 + r, n_draws, n_chains)
            rows.append(res)
            print(
                f"{res['name']:6s} repeat {r}: {res['draws']:7d} draws in {res['wall']:7.1f} s, "
                f"ESS(s_min) {res['ess_min']:8.0f}, ESS/s {res['ess_per_s']:9.1f}, "
                f"E[s] {np.round(res['mean'], 4)} (z vs quadrature {np.round(res['z'], 2)})",
                flush=True,
            )
    med = {
        n: float(np.median([x["ess_per_s"] for x in rows if x["name"] == n]))
        for n in ("dlnmc", "mici")
    }
    print(
        f"\nmedian ESS/s of s_min: dlnmc {med['dlnmc']:.1f}, mici {med['mici']:.2f}, "
        f"ratio {med['dlnmc'] / med['mici']:.0f}x"
    )


if __name__ == "__main__":
    main()
