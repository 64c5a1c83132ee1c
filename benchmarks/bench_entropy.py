"""Throughput of the closed-form entropy, side by side with its peers, in one run.

Peers:
- a plain per-sample Python loop (math.expm1/math.log over the pairs of one vector),
- the same loop calling ``dlnmc.entropy_sv`` one vector at a time,
- a plain vectorized numpy evaluation of the stable expm1 formula of
  docs/guide/theory.md, 'Numerics', one log per pair.

Run: ``python benchmarks/bench_entropy.py [--batch 1000000] [--repeats 5]``.
Machines here are noisy: medians over repeats, and ratios from the same run.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import threadpoolctl

# Run from the source tree without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlnmc


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def python_loop_entropy(s_rows: np.ndarray, N: int) -> list[float]:
    """Per-sample pure-Python evaluation of the stable formula."""
    d = s_rows.shape[1]
    const = (N - 1) * dlnmc.log_group_volume(d)
    out = []
    for row in s_rows:
        t = [math.log(v) for v in row]
        total = const
        for i in range(d):
            for j in range(i + 1, d):
                hi, lo = max(t[i], t[j]), min(t[i], t[j])
                delta = hi - lo
                ratio = N if delta == 0 else math.expm1(-2 * delta) / math.expm1(-2 * delta / N)
                total += 0.5 * (2 * (1 - 1 / N) * hi + math.log(ratio))
        out.append(total)
    return out


def naive_vectorized(s: np.ndarray, N: int) -> np.ndarray:
    """One vectorized expression of the stable formula, one log per pair.

    See docs/guide/theory.md, 'Numerics'.
    """
    d = s.shape[-1]
    t = np.log(s)
    iu, ju = np.triu_indices(d, 1)
    hi, lo = np.maximum(t[:, iu], t[:, ju]), np.minimum(t[:, iu], t[:, ju])
    delta = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(delta > 0, np.expm1(-2 * delta) / np.expm1(-2 * delta / N), N)
    log_D = 2 * (1 - 1 / N) * hi + np.log(ratio)
    return (N - 1) * dlnmc.log_group_volume(d) + 0.5 * log_D.sum(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-samples", type=int, default=20_000)
    parser.add_argument("--matrix-batch", type=int, default=100_000)
    args = parser.parse_args()
    d, N = args.width, args.depth
    blas = threadpoolctl.threadpool_info()
    print(f"BLAS: {[(b['internal_api'], b.get('architecture'), b['num_threads']) for b in blas]}")

    rng = np.random.default_rng(0)
    s = np.exp(rng.normal(0.0, 1.5, (args.batch, d)))
    small = s[: args.loop_samples]

    # Correctness of the peers against dlnmc before timing them.
    ref = dlnmc.entropy_sv(small[:100], N)
    np.testing.assert_allclose(python_loop_entropy(small[:100], N), ref, rtol=1e-12)
    np.testing.assert_allclose(naive_vectorized(small[:100], N), ref, rtol=1e-12)

    t_fast = median_time(lambda: dlnmc.entropy_sv(s, N), args.repeats)
    t_naive = median_time(lambda: naive_vectorized(s, N), args.repeats)
    t_py = median_time(lambda: python_loop_entropy(small, N), max(1, args.repeats // 2))
    n_call = min(args.loop_samples, 5000)
    t_call = median_time(
        lambda: [dlnmc.entropy_sv(row, N) for row in small[:n_call]], max(1, args.repeats // 2)
    )

    rate = {
        "dlnmc.entropy_sv (batched)": args.batch / t_fast,
        "numpy, plain vectorized stable formula": args.batch / t_naive,
        "Python loop, math module": args.loop_samples / t_py,
        "Python loop over dlnmc.entropy_sv": n_call / t_call,
    }
    print(f"\nentropy_sv: d={d}, N={N}, batch={args.batch:.0e}, median of {args.repeats}")
    print(f"{'implementation':<42}{'vectors/s':>14}{'dlnmc speed-up':>16}")
    for name, r in rate.items():
        print(f"{name:<42}{r:>14.3e}{rate['dlnmc.entropy_sv (batched)'] / r:>15.1f}x")

    # entropy(X) on matrices: SVD plus the closed form.
    X = rng.normal(size=(args.matrix_batch, d, d))
    t_mat = median_time(lambda: dlnmc.entropy(X, N), args.repeats)
    n_loop = min(args.matrix_batch, 5000)
    t_mat_loop = median_time(
        lambda: [dlnmc.entropy(x, N) for x in X[:n_loop]], max(1, args.repeats // 2)
    )
    r_mat, r_loop = args.matrix_batch / t_mat, n_loop / t_mat_loop
    print(f"\nentropy(X): d={d}, N={N}, batch={args.matrix_batch:.0e}")
    print(f"{'dlnmc.entropy (batched)':<42}{r_mat:>14.3e}{1.0:>15.1f}x")
    print(f"{'Python loop over dlnmc.entropy':<42}{r_loop:>14.3e}{r_mat / r_loop:>15.1f}x")


if __name__ == "__main__":
    main()
