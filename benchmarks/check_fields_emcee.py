"""Theory-free HMC against the emcee singular-value reference beyond the dense projection.

``sample_balanced`` (constrained HMC, default settings; the projection is
chosen automatically, the block one at this size) against
:func:`dlnmc.reference.reference_singular_values` (emcee on the closed-form
singular-value law over the field, ``E = |X|^2 / 2``): means and 10%/90%
quantiles of every singular value, z with the combined ArviZ MCSE, R-hat of
both sides. Default b = 4, d = 4, N = 8 (512 real coordinates; the dense-only
projection of the fields refused above 400). The same statistics against the
emcee reference of a wrong law (``alpha = 1`` on ``D_ij``, the exponent of the
test family) are the decoy: they must be rejected.

Run from the repository root (appends command and numbers to
``benchmarks/results_fields_emcee.txt`` with ``--record``)::

    OMP_NUM_THREADS=1 python benchmarks/check_fields_emcee.py [--field quaternion] [--width 4]
        [--depth 8] [--draws 1000] [--chains 4] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import arviz as az
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlnmc.balanced import sample_balanced
from dlnmc.reference import reference_singular_values
from dlnmc.storage import load_tree, save_tree

PROBS = (0.1, 0.9)
TOL = 4.5


def statistics(tree):
    """Names, estimates, MCSE and R-hat of the means and quantiles of every singular value."""
    sv = tree.posterior["singular_values"]
    d = sv.sizes["sv"]
    rhat = az.rhat(tree, var_names=["singular_values"])["singular_values"].values
    names = [f"mean_s{i + 1}" for i in range(d)]
    est = [sv.mean(("chain", "draw")).values]
    se = [az.mcse(tree, var_names=["singular_values"])["singular_values"].values]
    for p in PROBS:
        names += [f"q{round(100 * p)}_s{i + 1}" for i in range(d)]
        est.append(sv.quantile(p, dim=("chain", "draw")).values)
        mc = az.mcse(tree, var_names=["singular_values"], method="quantile", prob=p)
        se.append(mc["singular_values"].values)
    return names, np.concatenate(est), np.concatenate(se), np.tile(rhat, 1 + len(PROBS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", default="quaternion")
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--emcee-draws", type=int, default=4000)
    parser.add_argument("--emcee-burn", type=int, default=1000)
    parser.add_argument("--hmc-file", default=None,
                        help="netCDF of the HMC run: written if absent, else reused")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--record", action="store_true", help="append to results_fields_emcee.txt")
    args = parser.parse_args()
    d, N, beta = args.width, args.depth, args.beta
    lines = [
        "## OMP_NUM_THREADS=1 python benchmarks/check_fields_emcee.py "
        + " ".join(sys.argv[1:])
        + f"   (2 shared cores, other sessions running; load {os.getloadavg()[0]:.2f})"
    ]
    t0 = time.perf_counter()
    if args.hmc_file and Path(args.hmc_file).exists():
        tree = load_tree(args.hmc_file)
    else:
        tree = sample_balanced(
            d, N, beta=beta, n_draws=args.draws, n_chains=args.chains, seed=args.seed,
            field=args.field, n_warmup=args.warmup,
        )  # fmt: skip
        if args.hmc_file:
            save_tree(tree, args.hmc_file)
    t_hmc = time.perf_counter() - t0
    settings = tree.attrs["settings"]
    t0 = time.perf_counter()
    ref = reference_singular_values(
        d, N, beta=beta, n_draws=args.emcee_draws, seed=args.seed + 1, field=args.field,
        n_burn=args.emcee_burn,
    )
    wrong = reference_singular_values(
        d, N, beta=beta, n_draws=args.emcee_draws, seed=args.seed + 2, field=args.field,
        alpha=1.0, n_burn=args.emcee_burn,
    )
    t_emcee = time.perf_counter() - t0
    names, est, se, rhat = statistics(tree)
    _, r_est, r_se, r_rhat = statistics(ref)
    _, w_est, w_se, _ = statistics(wrong)
    z = (est - r_est) / np.hypot(se, r_se)
    zw = (est - w_est) / np.hypot(se, w_se)
    projection = json.loads(settings).get("projection")
    lines.append(
        f"field={args.field} d={d} N={N} beta={beta}: HMC {args.chains} chains x {args.draws} "
        f"draws ({t_hmc:.0f} s, projection {projection}), emcee 32 walkers x {args.emcee_draws} "
        f"draws ({t_emcee:.0f} s for the reference and the decoy)"
    )
    lines.append(f"{'stat':<9}{'HMC':>10}{'MCSE':>9}{'emcee':>10}{'MCSE':>9}{'z':>7}"
                 f"{'R-hat':>8}{'R-hat ref':>10}{'z decoy':>9}")  # fmt: skip
    for k, name in enumerate(names):
        lines.append(
            f"{name:<9}{est[k]:>10.4f}{se[k]:>9.4f}{r_est[k]:>10.4f}{r_se[k]:>9.4f}{z[k]:>+7.2f}"
            f"{rhat[k]:>8.4f}{r_rhat[k]:>10.4f}{zw[k]:>+9.2f}"
        )
    ok = np.abs(z).max() < TOL and rhat.max() <= 1.01 and r_rhat.max() <= 1.01
    lines.append(
        f"max |z| = {np.abs(z).max():.2f} (tolerance {TOL}), max R-hat HMC {rhat.max():.4f}, "
        f"emcee {r_rhat.max():.4f}; decoy (alpha = 1) max |z| = {np.abs(zw).max():.2f}: "
        f"{'PASS' if ok and np.abs(zw).max() > TOL else 'FAIL'}"
    )
    text = "\n".join(lines)
    print(text)
    if args.record:
        path = Path(__file__).with_name("results_fields_emcee.txt")
        with path.open("a") as f:
            f.write(text + "\n\n")


if __name__ == "__main__":
    main()
