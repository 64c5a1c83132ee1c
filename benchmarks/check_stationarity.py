"""Mixing-free exactness check of the samplers on M (d = 2, E = |X|^2 / 2, beta = 1).

Start ``C`` independent chains from i.i.d. draws of the target itself (singular
values from the closed-form law of docs/guide/theory.md, 'The law of X on the balanced
manifold', by grid inverse-CDF in
``(log s_1, log s_1 - log s_2)``, then ``W_p = Q_p diag(s^{1/N}) Q_{p-1}^T`` with
Haar ``Q``), run ``T`` transitions at a fixed step size (no adaptation) and
compare the time average of each chain with the quadrature reference. An exact
kernel keeps the target at every step, so the ``C`` chain averages are i.i.d.
with the reference mean, whatever the mixing: the z-scores use their sample
standard deviation, no autocorrelation estimate is involved. Also reported:
``P(s_k <= q)`` at the reference 10% and 90% quantiles (z against 0.1, 0.9).

Run:  python benchmarks/check_stationarity.py --sampler rwm --projection block
          --step-size 0.35 --chains 2000 --steps 150 --seed 1 [--depth 3]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlnmc.balanced import balanced_singular_values
from dlnmc.energy import QuadraticEnergy
from dlnmc.entropy import log_sv_density
from dlnmc.groups import haar_orthogonal
from dlnmc.network import balancedness_residual
from dlnmc.samplers import ConstrainedHMC, ConstrainedRWM
from dlnmc.sv_law import sv_law_moments


def sv_grid(depth: int, beta: float, span: float = 15.0):
    """Cell masses of the d = 2 law on a uniform grid in ``t = log s_1``, ``u = t - log s_2``.

    The box (``span * N`` wide: the density decays like ``e^{t / N}``) has about
    2000 cells a side; the midpoint rule's bias of the means is ``O(dh^2)``.
    """
    dh = max(0.02, 0.007 * depth)
    hi = 0.5 * math.log(240.0 / beta)
    t = np.arange(-span * depth, hi, dh) + dh / 2
    u = np.arange(0.0, span * depth, dh) + dh / 2
    T, U = np.meshgrid(t, u, indexing="ij")
    lp = log_sv_density(np.stack([np.exp(T), np.exp(T - U)], -1), depth, beta) + 2 * T - U
    p = np.exp(lp - lp.max())
    return t, u, p / p.sum(), dh


def draw_log_sv(n: int, grid, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws ``(log s_1, log s_2)``: a cell by its mass, then uniform inside it."""
    t, u, p, dh = grid
    i, j = np.divmod(rng.choice(p.size, size=n, p=p.ravel()), u.size)
    tt = t[i] + dh * (rng.random(n) - 0.5)
    uu = np.abs(u[j] + dh * (rng.random(n) - 0.5))
    return np.stack([tt, tt - uu], -1)


def balanced_points(log_s: np.ndarray, depth: int, rng: np.random.Generator) -> np.ndarray:
    """``W_p = Q_p diag(s^{1/N}) Q_{p-1}^T`` with Haar ``Q_0 .. Q_N``: uniform on the fibre.

    Built from ``log s`` directly: for large ``N`` the smallest singular value of
    ``X`` underflows long before ``s^{1/N}`` does.
    """
    n, d = log_s.shape
    lam = np.exp(log_s / depth)
    Q = haar_orthogonal(d, n * (depth + 1), rng).reshape(n, depth + 1, d, d)
    return Q[:, 1:] @ (lam[:, None, :, None] * np.swapaxes(Q[:, :-1], -1, -2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sampler", choices=["hmc", "rwm"], default="rwm")
    ap.add_argument("--projection", choices=["auto", "dense", "block"], default="block")
    ap.add_argument("--step-size", type=float, default=0.35)
    ap.add_argument("--chains", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    N, C = a.depth, a.chains
    grid = sv_grid(N, 1.0)
    W0 = balanced_points(draw_log_sv(C, grid, rng), N, rng)
    assert np.abs(balancedness_residual(W0)).max() < 1e-12
    cls = ConstrainedHMC if a.sampler == "hmc" else ConstrainedRWM
    smp = cls(2, N, QuadraticEnergy(), 1.0, step_size=a.step_size, projection=a.projection)
    state = smp.init(W0, rng)
    smp.end_warmup(state)  # fixed step size: no adaptation
    law = sv_law_moments(2, N, 1.0, quantiles=(0.1, 0.9))  # the reference, by quadrature
    Q = law.quantiles.T  # (sv, quantile)
    tot, ind = np.zeros((C, 2)), np.zeros((C, 2, 2))
    acc = fail = 0.0
    t0 = time.perf_counter()
    for _ in range(a.steps):
        state, stats = smp.step(state, rng, adapt=False)
        s = balanced_singular_values(state.W)
        tot += s
        ind += s[:, :, None] <= Q[None]
        acc += stats["accepted"].mean()
        fail += stats["projection_failures"].mean()
    avg, frac = tot / a.steps, ind / a.steps
    z_mean = (avg.mean(0) - law.mean) / (avg.std(0, ddof=1) / math.sqrt(C))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_q = (frac.mean(0) - [0.1, 0.9]) / (frac.std(0, ddof=1) / math.sqrt(C))
    print(json.dumps({**vars(a), "z_mean": z_mean.round(2).tolist(),
                      "z_quantile": z_q.round(2).ravel().tolist(),
                      "accept": round(acc / a.steps, 3), "proj_fail": round(fail / a.steps, 3),
                      "time": round(time.perf_counter() - t0, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
