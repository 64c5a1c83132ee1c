"""Jacobi-frame Gram solve and tangent projection against the block-LU path of the constraint.

For each width d and depth N, on balanced points ``W_p = Q_p L Q_{p-1}^T`` (Haar frames,
real field, a few chains), times side by side in one run (median of a few calls):

- ``frames``: :func:`dlnmc.frames.balanced_frames` plus the Thomas factorization;
- ``solve``: one Gram solve ``K x = r`` (Jacobi: Thomas sweeps, and the sine transform,
  the default) against
  ``BalancedConstraint(mode="block").factor(W).solve`` (``factor`` timed separately);
- ``tangent``: one tangent projection with a prepared operator (Jacobi, in the frame)
  against ``project_tangent`` with the block factor;
- ``posproj``: one position projection of ``W + h P`` (``P`` a unit-scale tangent vector,
  ``h = 0.1``): :func:`dlnmc.frames.project_position_jacobi` (Newton-Krylov preconditioned
  by the Jacobi solve at ``W``, operator prepared) against the block ``project_position``
  (Newton / chord on ``J(W) J(W0)^T`` by block LU, Gram factor prepared);
- ``phi+grad``: one evaluation of ``phi(W)`` and the gradient of ``E(phi(W))``
  (``potential_and_grad``), the natural floor of a leapfrog step;

and reports the ratios block / Jacobi and Jacobi / (phi + grad), where ``step`` is the
Jacobi cost of what a constrained leapfrog step needs besides the gradient: frames at the
new point, one tangent projection and one position projection. Both Gram solves are
checked against each other on every cell. Short runs only (a shared machine).

Second part (``--leapfrog D N``, default 16 16): the cost of one leapfrog step of
:class:`dlnmc.samplers.ConstrainedHMC` (RATTLE with the reverse check: three tangent
projections, two position projections, the frames at the new point, one ``phi`` and
gradient) with ``projection="jacobi"``, divided by the cost of one
``manifold.potential_and_grad``, timed interleaved (``paired_times``: one round times both
back to back, the ratio is the median over rounds; CPU time of the process, so that
preemption on a loaded machine does not inflate the long call). The state and the step
size come from a short warm-up with step-size adaptation (the step the sampler uses), and
the same leapfrog with ``projection="block"`` is timed for a few rounds as the reference.

Run:  python benchmarks/bench_jacobi.py [--chains 4] [--repeats 5] [--widths 4 8 16]
          [--depths 8 16 64] [--leapfrog 16 16] [--lf-chains 4 8] [--no-table]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the source tree first
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import blas_report, median_time, paired_times

from dlnmc.constraint import BalancedConstraint
from dlnmc.energy import QuadraticEnergy
from dlnmc.fields import REAL
from dlnmc.frames import jacobi_gram, project_position_jacobi, tangent_projection
from dlnmc.manifold import BalancedManifold
from dlnmc.samplers import ConstrainedHMC
from dlnmc.samplers.base import potential_and_grad


def balanced_point(d: int, N: int, C: int, rng: np.random.Generator) -> np.ndarray:
    Q = REAL.haar(d, (C, N + 1), rng)
    lam = np.sort(rng.uniform(0.7, 1.3, (C, d)), axis=-1)[:, ::-1]
    return Q[:, 1:] @ (lam[:, None, :, None] * np.swapaxes(Q[:, :-1], -1, -2))


def cell(d: int, N: int, C: int, repeats: int, rng: np.random.Generator) -> dict[str, float]:
    W = balanced_point(d, N, C, rng)
    con = BalancedConstraint(d, N, mode="block")
    r = rng.standard_normal((C, N - 1, con.m))
    V = rng.standard_normal(W.shape)
    R = con.from_coords(r)
    energy = QuadraticEnergy(np.eye(d))
    out: dict[str, float] = {}
    out["phi_grad"] = median_time(lambda: potential_and_grad(W, energy, 1.0), repeats)
    out["jac_frames"] = median_time(lambda: jacobi_gram(W, REAL), repeats)
    gram = jacobi_gram(W, REAL)  # sine-transform solve (the default)
    thomas = jacobi_gram(W, REAL, method="thomas")
    out["jac_solve"] = median_time(lambda: thomas.solve(R), repeats)
    out["jac_tangent"] = median_time(lambda: tangent_projection(W, V, REAL, gram=gram), repeats)
    out["blk_factor"] = median_time(lambda: con.factor(W), max(1, repeats // 2))
    fac = con.factor(W)
    out["blk_solve"] = median_time(lambda: fac.solve(r), repeats)
    out["blk_tangent"] = median_time(lambda: con.project_tangent(W, V, fac), repeats)
    out["jac_solve_sine"] = median_time(lambda: gram.solve(R), repeats)
    P = tangent_projection(W, V, REAL, gram=gram)
    Wt = W + 0.1 * P * np.sqrt(N / np.sum(P**2, axis=(-3, -2, -1), keepdims=True))
    out["jac_pos"] = median_time(lambda: project_position_jacobi(W, Wt, gram0=gram), repeats)
    out["blk_pos"] = median_time(lambda: con.project_position(W, Wt, fac), max(1, repeats // 3))
    a = project_position_jacobi(W, Wt, gram0=gram)
    b = con.project_position(W, Wt, fac)
    assert a.converged.all() and b.converged.all()
    out["pos_agree"] = float(np.abs(a.W - b.W).max())
    x_j = con.to_coords(gram.solve(R))
    x_b = fac.solve(r)
    out["agree"] = float(np.abs(x_j - x_b).max() / np.abs(x_b).max())
    return out


def leapfrog_ratio(d: int, N: int, C: int, repeats: int, seed: int) -> dict[str, float]:
    """Per-leapfrog cost of ConstrainedHMC (jacobi, block) over one phi + gradient."""
    rng = np.random.default_rng(seed)
    man = BalancedManifold(d, N, projection="jacobi")
    energy = QuadraticEnergy(np.zeros((d, d)))
    smp = ConstrainedHMC(man, energy, 1.0)
    state = smp.init(man.random_point(C, rng), rng)
    for _ in range(15):  # adapt the step size a little: the step of a real run
        state, _ = smp.step(state, rng, True)
    smp.end_warmup(state)
    W, g, fac, h = state.W, state.grad, state.factor, state.step_size
    P = man.project_tangent(W, rng.standard_normal(W.shape), fac)
    alive = np.ones(C, bool)

    def jac_step():
        return smp.leapfrog(W, P, g, fac, h, alive)

    def phi_grad():
        return man.potential(W, energy, 1.0)

    out = smp.leapfrog(W, P, g, fac, h, alive)
    # CPU time: on an oversubscribed machine a long call is preempted far more often
    # than a short one, which would inflate the ratio by the load.
    t_phi, t_jac, ratio = paired_times(phi_grad, jac_step, repeats, time.process_time)
    res: dict[str, float] = {
        "h": float(np.median(h)), "ok": float(out[6].mean()), "iters": float(out[7].mean()),
        "phi": t_phi, "jac": t_jac, "ratio": ratio,
    }  # fmt: skip
    bman = BalancedManifold(d, N, projection="block")
    bsmp = ConstrainedHMC(bman, energy, 1.0)
    bfac = bman.factor(W)

    def blk_step():
        return bsmp.leapfrog(W, P, g, bfac, h, alive)

    _, t_blk, ratio_b = paired_times(phi_grad, blk_step, max(1, repeats // 10), time.process_time)
    res.update(blk=t_blk, blk_ratio=ratio_b)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--widths", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--depths", type=int, nargs="+", default=[8, 16, 64])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--leapfrog", type=int, nargs=2, default=[16, 16], metavar=("D", "N"))
    ap.add_argument("--lf-chains", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--lf-repeats", type=int, default=30)
    ap.add_argument("--no-table", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(blas_report())
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, chains={args.chains}")
    d, N = args.leapfrog
    print(f"\nleapfrog of ConstrainedHMC at d={d}, N={N} / one phi + gradient (interleaved)")
    for C in args.lf_chains:
        r = leapfrog_ratio(d, N, C, args.lf_repeats, args.seed)
        print(
            f"chains={C}: h={r['h']:.4f} ok={r['ok']:.2f} newton_iters={r['iters']:.1f} | "
            f"phi+grad {1e3 * r['phi']:.3f} ms | jacobi leapfrog {1e3 * r['jac']:.2f} ms "
            f"= {r['ratio']:.1f} x phi+grad | block leapfrog {1e3 * r['blk']:.1f} ms "
            f"= {r['blk_ratio']:.0f} x phi+grad",
            flush=True,
        )
    if args.no_table:
        return
    print("times in ms for all chains; x = block / Jacobi; /phi = Jacobi / (phi + grad)")
    head = (
        f"{'d':>3} {'N':>4} | {'phi+grad':>8} | {'frames':>7} {'blkfact':>8} {'x':>5} | "
        f"{'jthom':>7} {'jsine':>7} {'bsolve':>7} {'x':>5} | {'jtang':>7} {'btang':>7} "
        f"{'x':>5} | {'jpos':>7} {'bpos':>8} {'x':>5} | {'step/phi':>8} | {'agree':>7}"
    )
    print(head)
    print("-" * len(head))
    for d in args.widths:
        for N in args.depths:
            t = cell(d, N, args.chains, args.repeats, rng)
            ms = {k: 1e3 * v for k, v in t.items()}
            step = t["jac_frames"] + t["jac_tangent"] + t["jac_pos"]
            print(
                f"{d:>3} {N:>4} | {ms['phi_grad']:8.3f} | {ms['jac_frames']:7.2f} "
                f"{ms['blk_factor']:8.1f} {t['blk_factor'] / t['jac_frames']:5.0f} | "
                f"{ms['jac_solve']:7.3f} {ms['jac_solve_sine']:7.3f} {ms['blk_solve']:7.2f} "
                f"{t['blk_solve'] / t['jac_solve_sine']:5.1f} | "
                f"{ms['jac_tangent']:7.3f} {ms['blk_tangent']:7.2f} "
                f"{t['blk_tangent'] / t['jac_tangent']:5.1f} | "
                f"{ms['jac_pos']:7.2f} {ms['blk_pos']:8.1f} {t['blk_pos'] / t['jac_pos']:5.1f} | "
                f"{step / t['phi_grad']:8.1f} | {max(t['agree'], t['pos_agree']):7.1e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
