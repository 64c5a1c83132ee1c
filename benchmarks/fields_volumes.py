"""Chart Monte Carlo of vol(U_d), vol(Sp_d) and of orbit volumes over C and H (docs/fields.md).

Run from the repository root:  python benchmarks/fields_volumes.py [--points 4096]
Prints one line per case: MC log volume, standard error, closed form, z-score, and
the samples that ran. Uses the one driver of dlnmc.volumes (``field=``, RQMC with
``--replicates`` scrambles of ``--points`` points each). Not a test: larger samples
than the test suite, for the README table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# Run from the source tree without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlnmc.volumes import estimate_group_volume, estimate_orbit_volume


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=4096, help="Sobol points per replicate")
    parser.add_argument("--replicates", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    print(
        f"{'case':34s} {'log vol MC':>12s} {'stderr':>9s} {'closed':>12s} {'z':>6s} "
        f"{'n':>8s} {'sec':>5s}"
    )
    n, R = args.points * args.replicates, args.replicates
    cases = [("group", f, d, None, None) for f in ("complex", "quaternion") for d in (1, 2, 3)]
    cases = [c for c in cases if c[1:3] != ("complex", 1)]  # U_1: zero-variance integrand
    for f in ("complex", "quaternion"):
        for s in ((2.0, 0.5), (2.0, 1.0, 0.4)):
            for N in (2, 3):
                cases.append(("orbit", f, len(s), s, N))
    for kind, f, d, s, N in cases:
        t0 = time.perf_counter()
        if kind == "group":
            est = estimate_group_volume(d, n, args.seed, field=f, n_replicates=R)
            name = f"vol({'U' if f == 'complex' else 'Sp'}_{d})"
        else:
            est = estimate_orbit_volume(s, N, n, args.seed, field=f, n_replicates=R)
            name = f"orbit {f} s={s} N={N}"
        dt = time.perf_counter() - t0
        print(
            f"{name:34s} {est.log_volume:12.6f} {est.stderr:9.2e} {est.closed_form:12.6f} "
            f"{est.z_score:+6.2f} {est.n_samples:8d} {dt:5.1f}"
        )


if __name__ == "__main__":
    main()
