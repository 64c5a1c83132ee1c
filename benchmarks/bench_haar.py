"""Haar sampling throughput of dlnmc against scipy.stats.ortho_group / special_ortho_group.

Run from the repository root:

    /work/venv/bin/python benchmarks/bench_haar.py
    # the faster BLAS kernel, as the env README describes (this command only):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        /work/venv/bin/python benchmarks/bench_haar.py

Prints samples per second (median over repeats, both measured side by side in
one run, interleaved) and the ratio dlnmc / scipy. Target: ratio >= 1 at
d = 3, 10, 50. A second table locates the Gram-Schmidt / QR crossover that sets
``dlnmc.groups.GRAM_SCHMIDT_MAX_WIDTH``.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import blas_report, paired_times

from dlnmc.groups import (
    haar_gram_schmidt,
    haar_orthogonal,
    haar_qr_real,
    haar_special_orthogonal,
)

# Batch sizes so that one call takes roughly 0.05-0.3 s.
BATCH = {3: 200_000, 10: 20_000, 50: 1_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    print(blas_report())
    print(f"samples per second (medians), ratio = median of {args.repeats} interleaved rounds\n")
    print(f"{'group':6} {'d':>3} {'batch':>8} {'dlnmc':>12} {'scipy':>12} {'ratio':>7}")
    for d, n in BATCH.items():
        rng = np.random.default_rng(0)
        pairs = [
            ("O(d)", haar_orthogonal, stats.ortho_group),
            ("SO(d)", haar_special_orthogonal, stats.special_ortho_group),
        ]
        for name, ours, ref in pairs:
            t_ours, t_ref, ratio = paired_times(
                partial(ours, d, n, rng),
                partial(ref.rvs, d, size=n, random_state=rng),
                args.repeats,
            )
            print(f"{name:6} {d:3d} {n:8d} {n / t_ours:12.3e} {n / t_ref:12.3e} {ratio:6.2f}x")
    print("\nGram-Schmidt vs LAPACK QR inside dlnmc (samples per second)")
    print(f"{'d':>3} {'batch':>8} {'CGS2':>12} {'QR':>12} {'CGS2/QR':>8}")
    for d in (8, 16, 24, 32, 50):
        n = max(500, 2_000_000 // d**2)
        rng = np.random.default_rng(1)
        t_gs, t_qr, ratio = paired_times(
            partial(haar_gram_schmidt, d, n, rng), partial(haar_qr_real, d, n, rng), args.repeats
        )
        print(f"{d:3d} {n:8d} {n / t_gs:12.3e} {n / t_qr:12.3e} {ratio:7.2f}x")


if __name__ == "__main__":
    main()
