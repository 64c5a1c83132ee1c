"""The ``dlnmc`` command (a first version: studies arrive with the studies module)."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _demo() -> int:
    """Print S(X) beside an independent Gram-determinant computation."""
    import dlnmc

    rng = np.random.default_rng(2509_09088)
    print(f"dlnmc {dlnmc.__version__}: closed-form entropy S(X) vs. Gram determinant of the orbit")
    print(f"{'d':>2} {'N':>2} {'S closed form':>20} {'S from Gram det':>20} {'rel. diff':>10}")
    for d, N in [(2, 3), (3, 4), (4, 5), (5, 6)]:
        X = rng.standard_normal((d, d))
        W = dlnmc.balanced_factorization(X, N, rng=rng)
        T = dlnmc.orbit_tangent_vectors(W).reshape(-1, N * d * d)
        gram = 0.5 * np.linalg.slogdet(T @ T.T)[1]
        s_gram = (N - 1) * dlnmc.log_group_volume(d) + gram
        s = dlnmc.entropy(X, N)
        print(f"{d:>2} {N:>2} {s:>20.14f} {s_gram:>20.14f} {abs(s - s_gram) / abs(s):>10.1e}")
    return 0


def main(argv: list[str] | None = None) -> int:
    import dlnmc

    parser = argparse.ArgumentParser(prog="dlnmc", description=__doc__)
    parser.add_argument("--version", action="version", version=f"dlnmc {dlnmc.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the default demonstration")
    args = parser.parse_args(argv)
    if args.command == "run":
        return _demo()
    return 2


if __name__ == "__main__":
    sys.exit(main())
