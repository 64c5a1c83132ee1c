"""Closed-form entropy reference table, 30 significant digits with mpmath.

    python scripts/make_reference_tables.py   # writes data/reference/entropy_closed_form.csv

S = (N-1) log c_d + 1/2 sum_{i<j} log D_ij (docs/guide/theory.md, 'Group volumes' and
'The entropy formula') with the
polynomial form D_ij = sum_{k=0}^{N-1} x_i^k x_j^{N-1-k}, x_i = s_i^{2/N},
evaluated in 60-digit arithmetic from the exact binary value of each float64
singular value, and printed to 30 significant digits. Independent of
dlnmc's log-space evaluation (no shared code).
"""

from __future__ import annotations

import csv
from pathlib import Path

import mpmath as mp
import numpy as np

mp.mp.dps = 60
OUT = Path(__file__).resolve().parents[1] / "data" / "reference" / "entropy_closed_form.csv"
WIDTHS = (1, 2, 3, 4, 5)
DEPTHS = (1, 2, 3, 4, 5, 8, 16, 50, 200)


def log_c(d: int) -> mp.mpf:
    return (
        d * mp.log(2)
        + mp.mpf(d * (d + 1)) / 4 * mp.log(mp.pi)
        + mp.mpf(d * (d - 1)) / 4 * mp.log(2)
        - mp.fsum(mp.loggamma(mp.mpf(k) / 2) for k in range(1, d + 1))
    )


def entropy_mp(s: list[float], N: int) -> mp.mpf:
    x = [mp.power(mp.mpf(v), mp.mpf(2) / N) for v in s]
    total = (N - 1) * log_c(len(s))
    for i in range(len(s)):
        for j in range(i + 1, len(s)):
            D = mp.fsum(x[i] ** k * x[j] ** (N - 1 - k) for k in range(N))
            total += mp.log(D) / 2
    return total


def singular_value_sets(d: int, rng: np.random.Generator) -> list[list[float]]:
    """Three random sets (log-uniform on [0.1, 10]), one with a collision, one extreme."""
    sets = [
        sorted(np.exp(rng.uniform(np.log(0.1), np.log(10.0), d)).tolist(), reverse=True)
        for _ in range(3)
    ]
    if d >= 2:
        c = sets[0][:]
        c[1] = c[0]
        sets.append(c)
        sets.append(np.geomspace(1e3, 1e-3, d).tolist())
    return sets


def main() -> None:
    rng = np.random.default_rng(2509_09088)
    rows = []
    for d in WIDTHS:
        for s in singular_value_sets(d, rng):
            for N in DEPTHS:
                S = entropy_mp(s, N)
                rows.append([d, N, ";".join(repr(float(v)) for v in s), mp.nstr(S, 30)])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["width", "depth", "singular_values", "S"])
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
