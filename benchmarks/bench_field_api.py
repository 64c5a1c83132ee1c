"""The ``field=`` keyword costs nothing on the real path: old vs new entropy_sv side by side.

"Old" is ``dlnmc/entropy.py`` at commit 02721a7 (before the keyword), loaded
from git; "new" is the working tree's ``dlnmc.entropy_sv(s, N)`` (default
``field="real"``) and ``dlnmc.entropy_sv(s, N, field="real")``. Interleaved
rounds, medians and the median per-round ratio (``_common.paired_times``).

Run from the repository root:
``python benchmarks/bench_field_api.py [--batch 1000000] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import blas_report, paired_times

import dlnmc

OLD_COMMIT = "02721a7"


def old_entropy_module():
    root = pathlib.Path(__file__).resolve().parents[1]
    src = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:dlnmc/entropy.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader("old", loader=None))
    exec(compile(src, "old_entropy.py", "exec"), mod.__dict__)
    return mod


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    d, N = args.width, args.depth
    print(blas_report())
    old = old_entropy_module()
    s = np.exp(np.random.default_rng(0).normal(0.0, 1.5, (args.batch, d)))
    assert np.array_equal(old.entropy_sv(s[:1000], N), dlnmc.entropy_sv(s[:1000], N))

    print(f"entropy_sv, d={d}, N={N}; medians of {args.repeats} interleaved rounds")
    print(f"{'case':<48}{'old s':>10}{'new s':>10}{'new/old':>10}")
    t_old, t_new, ratio = paired_times(
        lambda: old.entropy_sv(s, N), lambda: dlnmc.entropy_sv(s, N), args.repeats
    )
    print(
        f"{f'batch {args.batch:.0e}, default field':<48}{t_old:>10.4f}{t_new:>10.4f}{ratio:>10.3f}"
    )
    t_old, t_new, ratio = paired_times(
        lambda: old.entropy_sv(s, N),
        lambda: dlnmc.entropy_sv(s, N, field="real"),
        args.repeats,
    )
    print(f"{f'batch {args.batch:.0e}, field=real':<48}{t_old:>10.4f}{t_new:>10.4f}{ratio:>10.3f}")
    rows = s[: args.calls]
    t_old, t_new, ratio = paired_times(
        lambda: [old.entropy_sv(r, N) for r in rows],
        lambda: [dlnmc.entropy_sv(r, N, field="real") for r in rows],
        args.repeats,
    )
    label = f"{args.calls} single-vector calls, field=real"
    print(f"{label:<48}{t_old:>10.4f}{t_new:>10.4f}{ratio:>10.3f}")


if __name__ == "__main__":
    main()
