"""emcee references over C and H against quadrature of the singular-value law.

See docs/guide/fields.md.

For each field, d = 2, N = 3, beta = 1: the quadrature law (dlnmc.sv_law), the
emcee reference on singular values and the emcee reference on X in M_d(F), with
means and 10%/90% quantiles of s_1, s_2, their ArviZ MCSE and z-scores; then
the largest |z| of each ensemble against two wrong laws (b = 1; beta = 2, i.e.
the energy with the factor 2 of the complex representation of H).

Run from the repository root:
``python benchmarks/fields_reference.py [--draws 4000] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import arviz as az
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlnmc.reference import reference_end_to_end, reference_singular_values
from dlnmc.sv_law import sv_law_moments

PROBS = (0.1, 0.9)


def rows(tree, law):
    x = tree.posterior["singular_values"]
    mc = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
    out = [("mean", x.mean(("chain", "draw")).values, mc, law.mean)]
    for m, q in enumerate(PROBS):
        se = az.mcse(tree, var_names=["singular_values"], method="quantile", prob=q)
        est = x.quantile(q, dim=("chain", "draw")).values
        out.append((f"q{int(q * 100)}", est, se["singular_values"].values, law.quantiles[m]))
    return out


def max_abs_z(tree, law):
    return max(np.abs((e - c) / s).max() for _, e, s, c in rows(tree, law))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    d, N, beta = 2, 3, 1.0
    print(f"d={d}, N={N}, beta={beta}, {args.draws} draws x 32+ walkers, seed {args.seed}")
    print(f"{'field':<11}{'reference':<16}{'stat':<6}{'k':>2}{'emcee':>10}{'MCSE':>9}"
          f"{'quadrature':>12}{'z':>7}")  # fmt: skip
    for field in ("complex", "quaternion"):
        law = sv_law_moments(d, N, beta, field, PROBS)
        wrong_b = sv_law_moments(d, N, beta, "real", PROBS)
        wrong_e = sv_law_moments(d, N, 2 * beta, field, PROBS)
        for name, make in (
            ("singular_values", reference_singular_values),
            ("end_to_end", reference_end_to_end),
        ):
            t0 = time.perf_counter()
            tree = make(d, N, beta=beta, n_draws=args.draws, seed=args.seed, field=field)
            wall = time.perf_counter() - t0
            for stat, est, se, cf in rows(tree, law):
                for k in range(d):
                    z = (est[k] - cf[k]) / se[k]
                    print(f"{field:<11}{name:<16}{stat:<6}{k + 1:>2}{est[k]:>10.4f}{se[k]:>9.4f}"
                          f"{cf[k]:>12.6f}{z:>7.2f}")  # fmt: skip
            print(
                f"{'':<11}{name:<16}wall {wall:.1f} s; max |z| vs b=1 law "
                f"{max_abs_z(tree, wrong_b):.1f}, vs beta=2 law {max_abs_z(tree, wrong_e):.1f}"
            )


if __name__ == "__main__":
    main()
