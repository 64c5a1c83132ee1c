"""Peak memory of streaming an ensemble to disk with EnsembleWriter.

Each size runs in a fresh subprocess that generates draws chunk by chunk
(d = 3, N = 3: three Gaussian layers W_p with entries N(0, 1/d), X = W_3 W_2 W_1,
singular values by numpy), appends X and singular_values to a netCDF file, and
reports its peak resident set size (``resource.getrusage().ru_maxrss``). The
file is then reopened lazily with ``xarray.open_datatree`` to check its shape.

Usage::

    python benchmarks/bench_streaming.py [--sizes 1e5 1e6 1e7] [--chains 4] [--chunk 50000]

A size is the total number of draws (chains x draws per chain).

With ``--balanced`` each size instead runs ``sample_balanced`` (d = 2, N = 2, RWM, no
warm-up) once with ``out=path`` (the netCDF backend, streamed) and once in memory, and
reports both peak RSS values::

    python benchmarks/bench_streaming.py --balanced --sizes 1e4 1e5 --chains 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
import numpy as np
from dlnmc.network import end_to_end
from dlnmc.storage import EnsembleWriter

path = sys.argv[1]
n_total, n_chains, chunk = int(float(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4])
d, N = 3, 3
n_draws = n_total // n_chains
rng = np.random.default_rng(2026)
rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
with EnsembleWriter(path, attrs={"width": d, "depth": N, "sampler": "iid Gaussian layers",
                                 "note": "bench_streaming"}) as w:
    for start in range(0, n_draws, chunk):
        k = min(chunk, n_draws - start)
        W = rng.normal(scale=d ** -0.5, size=(n_chains, k, N, d, d))
        X = end_to_end(W)
        s = np.linalg.svd(X, compute_uv=False)
        w.append({"X": X, "singular_values": s})
seconds = time.perf_counter() - t0
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "rss_import_kb": rss_import, "seconds": seconds, "n_draws": n_draws}))
"""

BALANCED = """
import json, resource, sys, time
from dlnmc.balanced import sample_balanced
path, n_total, n_chains, mode = sys.argv[1], int(float(sys.argv[2])), int(sys.argv[3]), sys.argv[4]
rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
tree = sample_balanced(2, 2, beta=1.0, n_draws=n_total // n_chains, n_chains=n_chains,
                       n_warmup=0, seed=1, sampler="rwm",
                       out=path if mode == "disk" else None)
seconds = time.perf_counter() - t0
n_draws = int(tree.posterior.sizes["draw"])
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "rss_import_kb": rss_import, "seconds": seconds, "n_draws": n_draws}))
"""

CHECK = """
import json, sys, xarray as xr
with xr.open_datatree(sys.argv[1], engine="h5netcdf") as t:
    p = t["posterior"]
    print(json.dumps({"sizes": dict(p.sizes), "vars": sorted(p.data_vars)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--chunk", type=int, default=50_000, help="draws per chain per append")
    ap.add_argument("--balanced", action="store_true", help="sample_balanced, disk vs memory")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if args.balanced:
        balanced(args, env)
        return
    print(
        f"EnsembleWriter streaming, d=3, N=3, {args.chains} chains, chunk {args.chunk} draws/chain"
    )
    print(
        f"{'draws':>12} {'per chain':>10} {'data MB':>9} {'file MB':>9} "
        f"{'peak RSS MB':>12} {'after import MB':>16} {'seconds':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"stream_{int(size)}.nc"

            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    str(path),
                    str(size),
                    str(args.chains),
                    str(args.chunk),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            r = json.loads(out.stdout)
            chk = json.loads(
                subprocess.run(
                    [sys.executable, "-c", CHECK, str(path)],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                ).stdout
            )
            assert chk["sizes"]["draw"] == r["n_draws"] and chk["sizes"]["chain"] == args.chains
            total = r["n_draws"] * args.chains
            data_mb = total * 12 * 8 / 1e6  # X (9) + singular values (3), float64
            print(
                f"{total:>12.3g} {r['n_draws']:>10.3g} {data_mb:>9.0f} "
                f"{path.stat().st_size / 1e6:>9.0f} {r['rss_kb'] / 1024:>12.0f} "
                f"{r['rss_import_kb'] / 1024:>16.0f} {r['seconds']:>8.1f}"
            )
            path.unlink()


def balanced(args: argparse.Namespace, env: dict[str, str]) -> None:
    """Peak RSS of sample_balanced(2, 2, ...) streamed to disk and kept in memory."""
    print(f"sample_balanced d=2, N=2, rwm, {args.chains} chains: peak RSS (MB)")
    print(f"{'draws':>10} {'disk RSS':>9} {'memory RSS':>11} {'after import':>13} {'s':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            row = {}
            for mode in ("disk", "memory"):
                path = Path(tmp) / f"bal_{int(size)}.nc"
                out = subprocess.run(
                    [sys.executable, "-c", BALANCED, str(path), str(size), str(args.chains), mode],
                    capture_output=True, text=True, env=env, check=True,
                )  # fmt: skip
                row[mode] = json.loads(out.stdout)
                if path.exists():
                    path.unlink()
            r = row["disk"]
            print(
                f"{r['n_draws'] * args.chains:>10.3g} {r['rss_kb'] / 1024:>9.0f} "
                f"{row['memory']['rss_kb'] / 1024:>11.0f} {r['rss_import_kb'] / 1024:>13.0f} "
                f"{r['seconds']:>6.1f}"
            )


if __name__ == "__main__":
    main()
