"""Long runs of balanced-manifold HMC over C and H against the singular-value law (docs/fields.md).

Run from the repository root:  python benchmarks/balanced_fields.py [--chains 32 --draws 3000]
Prints, per field and seed, the z-scores of the means and the 10%/90% quantiles
of both singular values (d = 2, N = 3, beta = 1, Y = 0) with ArviZ MCSE.
Not a test: larger samples than tests/statistical/test_balanced_fields.py, for the README.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import arviz as az
import numpy as np

# Run from the source tree without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlnmc.balanced import sample_balanced
from dlnmc.sv_law import sv_law_moments

PROBS = (0.1, 0.9)


def z_scores(tree, law) -> np.ndarray:
    s = tree.posterior["singular_values"]
    mcse = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
    z = [(s.mean(("chain", "draw")).values - law.mean) / mcse]
    for k, p in enumerate(PROBS):
        q = s.quantile(p, dim=("chain", "draw")).values
        se = az.mcse(tree, var_names=["singular_values"], method="quantile", prob=p)
        z.append((q - law.quantiles[k]) / se["singular_values"].values)
    return np.concatenate(z)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=32)
    parser.add_argument("--draws", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[99])
    args = parser.parse_args()
    names = [f"{st}_s{i}" for st in ("mean", "q10", "q90") for i in (1, 2)]
    print(f"{'field':10s} {'seed':>5s} " + " ".join(f"{n:>8s}" for n in names) + "    sec")
    for field in ("complex", "quaternion"):
        law = sv_law_moments(2, 3, 1.0, field, PROBS)
        for seed in args.seeds:
            t0 = time.perf_counter()
            tree = sample_balanced(
                2, 3, beta=1.0, n_draws=args.draws, n_chains=args.chains,
                n_warmup=args.warmup, seed=seed, field=field,
            )  # fmt: skip
            z = z_scores(tree, law)
            dt = time.perf_counter() - t0
            print(f"{field:10s} {seed:5d} " + " ".join(f"{v:+8.2f}" for v in z) + f"  {dt:5.0f}")


if __name__ == "__main__":
    main()
