"""``dlnmc.langevin``: Langevin trajectories of the DLN as an ``xarray.DataTree``.

Validation of every argument happens before any work. Paths are simulated
in batches (vectorized), optionally split over worker processes; every path
has its own random streams (:mod:`dlnmc.dynamics.noise`), so the output is
bit-identical for any ``batch_size`` and ``n_workers``, and on a
``dask.distributed`` cluster (``scheduler``). With ``out`` the
batches are streamed to a netCDF file (memory set by one batch) that is
renamed into place only when complete.

There is no ``route="observables"`` (the Riemannian Langevin equation on ``X``
for a general target): its drift needs the divergence of ``rho_beta A_{N,X}``
in ``X`` coordinates, and a drift is only shipped here after a generator
identity has checked it against an independent density; for general ``X``
that check (a ``d^2``-dimensional one) has not been done.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_count as _count
from dlnmc._validation import check_depth, check_width
from dlnmc._validation import check_positive as _positive
from dlnmc.dynamics import manifold_route, sv_route
from dlnmc.dynamics.geometry import ManifoldAdapter
from dlnmc.dynamics.noise import PathStreams
from dlnmc.dynamics.records import per_step_stats, trajectory_datasets
from dlnmc.energy import Energy, QuadraticEnergy, as_energy
from dlnmc.ensemble import provenance_attrs
from dlnmc.fields import Field, resolve_field

__all__ = ["ROUTES", "langevin"]

ROUTES = ("manifold", "singular_values")
# States larger than this (real numbers per path and time) are not kept unless asked.
_KEEP_W_MAX = 256
_BATCH = 2048


def record_steps_of(t_max: float, dt: float, record_times: ArrayLike | None) -> NDArray[np.int64]:
    """Step indices of the recorded times (each a multiple of ``dt`` up to ``1e-9``)."""
    n_steps = round(t_max / dt)
    if n_steps < 1 or abs(n_steps * dt - t_max) > 1e-9 * max(t_max, 1.0):
        raise ValueError(f"t_max = {t_max!r} must be a positive multiple of dt = {dt!r}")
    if record_times is None:
        steps = np.unique(np.round(np.linspace(0, n_steps, min(n_steps, 100) + 1)).astype(np.int64))
        return steps
    t = np.asarray(record_times, dtype=np.float64).ravel()
    if (
        t.size == 0
        or not np.all(np.isfinite(t))
        or np.any(t < 0)
        or np.any(t > t_max * (1 + 1e-12))
    ):
        raise ValueError(f"record_times must be finite values in [0, t_max = {t_max}], got {t!r}")
    steps = np.round(t / dt).astype(np.int64)
    if np.any(np.abs(steps * dt - t) > 1e-9 * np.maximum(t, 1.0)):
        raise ValueError(f"record_times must be multiples of dt = {dt}, got {t.tolist()}")
    if np.any(np.diff(steps) <= 0):
        raise ValueError("record_times must be strictly increasing")
    return steps


def _halvings(dt: float, brownian_dt: float | None, n_steps: int) -> int:
    """``k`` with ``brownian_dt = dt 2^k`` (checked), and ``n_steps`` a multiple of ``2^k``."""
    if brownian_dt is None:
        return 0
    coarse = _positive(brownian_dt, "brownian_dt")
    ratio = coarse / dt
    k = round(np.log2(ratio)) if ratio >= 1 else -1
    if k < 0 or abs(2.0**k - ratio) > 1e-9 * ratio:
        raise ValueError(
            f"brownian_dt = {brownian_dt!r} must be dt = {dt!r} times a power of two (1, 2, 4, ...)"
        )
    if n_steps % 2**k:
        raise ValueError(f"t_max must be a multiple of brownian_dt = {brownian_dt!r}")
    return k


def _energy(field: Field, energy: object | None, target: ArrayLike | None) -> Energy:
    if energy is None:
        return QuadraticEnergy(target, field=field)
    return as_energy(energy, target)


def _start_X_or_W(start: ArrayLike, d: int, N: int, field: Field) -> tuple[str, NDArray]:
    """Classify ``start``: ``("s", (d,))`` singular values, ``("X", (n, n))`` or ``("W", ...)``."""
    a = np.asarray(start)
    n = field.rep_size(d)
    if a.shape == (d,):
        s = np.asarray(a, dtype=np.float64)
        if not np.all(np.isfinite(s)) or not np.all(s > 0):
            raise ValueError(f"start singular values must be finite and > 0, got {s!r}")
        return "s", np.sort(s)[::-1].copy()
    if a.shape == (n, n):
        X = field.check_matrix(a, "start")
        s = field.singular_values(X)  # raises on a singular X
        return "X", X
    if a.shape == (N, n, n):
        W = field.check_matrix(a, "start", n_axes=3) if N > 1 else field.check_matrix(a[0])[None]
        geo = ManifoldAdapter(d, N, field)
        Wc = geo.to_state(W[None])
        res = float(geo.residual_norm(Wc)[0])
        if not res < 1e-8:
            raise ValueError(f"start W is not on the balanced manifold: residual {res:.3g}")
        field.singular_values(geo.phi(Wc)[0])  # raises if phi(W) is singular (not on M)
        return "W", W
    raise ValueError(
        f"start must be singular values ({d},), an X ({n}, {n}) or a W on M ({N}, {n}, {n}); "
        f"got shape {a.shape}"
    )


def _run_batch(job: dict[str, Any]) -> dict[str, Any]:
    """Simulate one batch of paths (module level: runs in worker processes too)."""
    field = resolve_field(job["field"])
    d, N = job["width"], job["depth"]
    paths = np.arange(job["first"], job["stop"])
    B = paths.size
    kind, start = job["start_kind"], job["start"]
    steps = job["record_steps"]
    if job["route"] == "manifold":
        geo = ManifoldAdapter(d, N, field, tol=job["projection_tol"])
        streams = PathStreams(
            job["seed"], paths, int(np.prod(geo.state_shape)), job["block"], job["halvings"]
        )
        if kind == "W":
            W0 = np.broadcast_to(geo.to_state(start[None]), (B, *geo.state_shape)).copy()
        else:
            X = field.diag_embed(start) if kind == "s" else start
            gauges = np.stack([field.haar(d, N - 1, g) for g in streams.start_generators()])
            W0 = geo.lift(np.broadcast_to(X, (B, *X.shape)), gauges)
        rec = manifold_route.simulate_manifold(
            geo,
            W0,
            job["energy"],
            job["beta"],
            job["dt"],
            steps,
            streams,
            keep_W=job["keep_W"],
            max_refine=job["max_refine"],
        )
        return {
            "W": rec.W,
            "X": rec.X,
            "singular_values": rec.singular_values,
            "energy": rec.energy,
            "constraint_residual": rec.residual,
            "refinements": rec.refinements,
            "dropped": rec.dropped,
            "refinements_per_step": rec.refinements_per_step,
            "dropped_per_step": rec.dropped_per_step,
        }
    streams = PathStreams(job["seed"], paths, d, job["block"], job["halvings"])
    if kind == "s":
        s0 = start
    elif kind == "X":
        s0 = field.singular_values(start)
    else:
        geo = ManifoldAdapter(d, N, field)
        s0 = geo.singular_values(geo.to_state(start[None]))[0]
    energy = job["energy"]
    inv = energy if job["custom_energy"] else None
    rec = sv_route.simulate_sv(
        np.broadcast_to(s0, (B, d)).copy(),
        N,
        job["beta"],
        field,
        job["dt"],
        steps,
        streams,
        energy=inv,
        entropy_power=job["entropy_power"],
    )
    s = rec.singular_values
    return {
        "W": None,
        "X": field.diag_embed(s),
        "singular_values": s,
        "energy": rec.energy,
        "constraint_residual": None,
        "refinements": np.zeros(s.shape[:2], np.int64),
        "dropped": np.zeros(s.shape[:2], bool),
        "refinements_per_step": np.zeros(int(steps[-1]), np.int64),
        "dropped_per_step": np.zeros(int(steps[-1]), np.int64),
        "tamed_per_step": rec.tamed,
    }


def langevin(
    width: int,
    depth: int,
    *,
    beta: float,
    start: ArrayLike,
    t_max: float,
    dt: float,
    n_paths: int,
    seed: int,
    route: str = "manifold",
    target: ArrayLike | None = None,
    energy: Energy | None = None,
    field: str | Field = "real",
    record_times: Sequence[float] | None = None,
    out: str | Path | None = None,
    keep_W: bool | None = None,
    batch_size: int | None = None,
    n_workers: int | None = None,
    scheduler: Any = None,
    projection_tol: float = 1e-12,
    max_refine: int = 8,
    entropy_power: float = 1.0,
    brownian_dt: float | None = None,
) -> xr.DataTree:
    """Simulate overdamped Langevin dynamics of the DLN and record trajectories.

    The dynamics is ``dW = -beta grad_M E(phi(W)) dt + sqrt(2) dB_M`` on the
    balanced manifold ``M`` (equilibrium ``exp(-beta E) dvol_M``, the law of
    :func:`dlnmc.sample_balanced`), observed through ``X = phi(W)``.

    Parameters
    ----------
    width, depth : int
        ``d >= 1``, ``N >= 1``.
    beta : float
        Inverse temperature ``> 0``.
    start : array_like
        Singular values ``(d,)`` (``X = diag(s)``), an ``X`` in storage ``(n, n)``
        (lifted to ``M`` with an independent Haar gauge per path), or a ``W`` on
        ``M`` ``(N, n, n)`` (every path starts there).
    t_max, dt : float
        Final time and step (``t_max`` a multiple of ``dt``).
    n_paths : int
        Independent paths.
    seed : int
        ``>= 0``; path ``i`` uses streams derived from ``(seed, i)`` only.
    route : {"manifold", "singular_values"}
        ``"manifold"``: projected Euler-Maruyama on ``M`` (theory-free).
        ``"singular_values"``: the singular-value SDE of the theory
        (:mod:`dlnmc.dynamics.sv_route`; orthogonally invariant energies only).
    target, energy :
        ``E = |X - Y|^2 / 2`` with ``Y = target`` (default 0), or a custom energy
        (``value``, ``grad`` on stored ``X``; the singular-value route needs
        ``energy.orthogonally_invariant``).
    field : {"real", "complex", "quaternion"} or Field
    record_times : sequence of float, optional
        Multiples of ``dt`` in ``[0, t_max]``; default about 100 equally spaced.
    out : path, optional
        Stream the tree to this netCDF file (flat memory; returned lazily opened).
    keep_W : bool, optional
        Store ``W`` (manifold route); default when ``b N d^2 <= 256``.
    batch_size : int, optional
        Paths advanced together; default ``min(2048, ceil(n_paths / n_workers))``.
    n_workers : int, optional
        Worker processes (batches are independent; results do not depend on it).
    scheduler : distributed.Client or str, optional
        Run the batches as tasks of a ``dask.distributed`` cluster: a connected
        ``Client`` or a scheduler address (connected before any work). At most
        twice as many batches as the cluster has worker threads are in flight,
        so a streamed run keeps flat memory. Not together with ``n_workers``.
    projection_tol : float
        Newton tolerance of the projection (largest constraint coordinate).
    max_refine : int
        Brownian-bridge refinement levels before a path counts as dropped.
    entropy_power : float
        Singular-value route only: the decoy law ``e^{kS}`` (theory ``k = 1``).
    brownian_dt : float, optional
        The step on which the Brownian path is drawn, ``dt * 2^k`` (default
        ``dt``). With ``k > 0`` the run follows the Brownian path of the run at
        step ``brownian_dt`` with the same seed, refined by the Brownian bridge
        (:mod:`dlnmc.dynamics.noise`), so path ``i`` of both runs sees the same
        noise and their difference, path by path, is a coupled estimate of the
        discretization bias (:func:`dlnmc.dynamics.compare.coupled_change`).
        ``t_max`` must be a multiple of ``brownian_dt``.

    Returns
    -------
    xarray.DataTree
        ``trajectory`` (dims ``path``, ``time``): ``X (row, col[, component])``,
        ``singular_values (sv)`` descending, ``energy``, ``entropy`` (closed-form
        ``S``, for reading only), ``W (layer, row, col[, component])`` when kept.
        ``sample_stats``: ``refinements``, ``dropped``, ``constraint_residual``
        (path, time); ``refinements_per_step``, ``dropped_per_step`` (step).
        Root attributes: width, depth, field, beta, seed, route, scheme, dt,
        t_max, n_paths, n_dropped, energy, target, start and provenance. The
        singular-value route stores ``X = diag(s)`` (it evolves no frames).
    """
    d = check_width(width)
    N = check_depth(depth)
    fld = resolve_field(field)
    beta = _positive(beta, "beta")
    t_max = _positive(t_max, "t_max")
    dt = _positive(dt, "dt")
    n_paths = _count(n_paths, "n_paths", 1)
    seed = _count(seed, "seed", 0)
    if batch_size is not None:
        batch_size = _count(batch_size, "batch_size", 1)
    max_refine = _count(max_refine, "max_refine", 0)
    projection_tol = _positive(projection_tol, "projection_tol")
    entropy_power = float(entropy_power)
    if n_workers is not None:
        n_workers = _count(n_workers, "n_workers", 1)
    if scheduler is not None and n_workers is not None:
        raise ValueError("give n_workers (local processes) or scheduler (dask), not both")
    if not isinstance(route, str) or route not in ROUTES:
        raise ValueError(
            f"route must be one of {list(ROUTES)}, got {route!r} (there is no observables "
            "route yet: its drift has not been verified)"
        )
    if route == "manifold" and entropy_power != 1.0:
        raise ValueError("entropy_power is a decoy of the singular-value route only")
    en = _energy(fld, energy, target)
    custom = energy is not None
    if route == "singular_values" and not getattr(en, "orthogonally_invariant", False):
        raise ValueError(
            "route='singular_values' needs an orthogonally invariant energy "
            "(target=None, or energy.orthogonally_invariant = True)"
        )
    steps = record_steps_of(t_max, dt, record_times)
    halvings = _halvings(dt, brownian_dt, int(steps[-1]))
    kind, start_arr = _start_X_or_W(start, d, N, fld)
    if keep_W is None:
        keep_W = fld.b * N * d * d <= _KEEP_W_MAX
    if out is not None:
        out = Path(out)
        if out.suffix != ".nc":
            raise ValueError(f"out must be a .nc file, got {str(out)!r}")
        if not out.parent.is_dir():
            raise FileNotFoundError(f"directory {str(out.parent)!r} does not exist")
    times = steps * dt
    if record_times is not None:
        # the requested times themselves (multiples of dt up to 1e-9): steps * dt can miss
        # them by an ulp when dt is itself a quotient (2e-4 / 100), and then a selection
        # by time would not find them
        times = np.asarray(record_times, dtype=np.float64).ravel()
    base = {
        "route": route,
        "width": d,
        "depth": N,
        "field": fld.name,
        "beta": beta,
        "energy": en,
        "custom_energy": custom,
        "start_kind": kind,
        "start": start_arr,
        "dt": dt,
        "record_steps": steps,
        "seed": seed,
        "keep_W": bool(keep_W) and route == "manifold",
        "projection_tol": projection_tol,
        "max_refine": max_refine,
        "entropy_power": entropy_power,
        "block": 256,
        "halvings": halvings,
    }
    # connect last: every argument is checked before a cluster is touched
    client = _dask_client(scheduler) if scheduler is not None else None
    if batch_size is None:
        split = n_workers or (_dask_threads(client) if client is not None else 1)
        batch_size = min(_BATCH, -(-n_paths // split))
    jobs = [
        {**base, "first": a, "stop": min(a + batch_size, n_paths)}
        for a in range(0, n_paths, batch_size)
    ]
    attrs = {
        "kind": "langevin",
        "route": route,
        "scheme": manifold_route.SCHEME if route == "manifold" else sv_route.SCHEME,
        "width": d,
        "depth": N,
        "field": fld.name,
        "beta": beta,
        "seed": seed,
        "dt": dt,
        "brownian_dt": dt * 2**halvings,
        "t_max": t_max,
        "n_paths": n_paths,
        "n_steps": int(steps[-1]),
        "projection_tol": projection_tol if route == "manifold" else None,
        "max_refine": max_refine if route == "manifold" else None,
        "entropy_power": entropy_power,
        "assumes_entropy_formula": 1 if route == "singular_values" else 0,
        "energy": "|X - Y|^2 / 2" if not custom else repr(en),
        "target": None
        if target is None
        else json.dumps(np.asarray(fld.to_components(np.asarray(target))).tolist()),
        "start_kind": kind,
        "start": json.dumps(
            np.asarray(fld.to_components(start_arr) if kind != "s" else start_arr).tolist()
        ),
    }
    if client is None:
        results = _execute(jobs, n_workers)
    else:
        results = _execute_dask(jobs, client, close=client is not scheduler)
    if out is not None:
        from dlnmc.dynamics.writer import stream_tree

        return stream_tree(out, results, jobs, fld, N, times, attrs)
    return assemble_tree(results, jobs, fld, N, times, attrs)


def _execute(jobs: list[dict[str, Any]], n_workers: int | None):
    """Yield batch results in path order (lazily, so a writer can stream them)."""
    if n_workers is None or n_workers == 1 or len(jobs) == 1:
        return (_run_batch(j) for j in jobs)

    def gen():
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            yield from pool.map(_run_batch, jobs)

    return gen()


def _dask_client(scheduler: Any):
    """A connected ``distributed.Client`` from a Client or an address (before any work)."""
    if hasattr(scheduler, "submit") and hasattr(scheduler, "gather"):
        return scheduler
    if not isinstance(scheduler, str):
        raise TypeError(
            f"scheduler must be a distributed.Client or an address string, got {scheduler!r}"
        )
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("scheduler= needs dask.distributed: pip install 'dlnmc[dask]'") from None
    try:
        return Client(scheduler)
    except (OSError, TimeoutError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(
            f"cannot connect to the dask scheduler at {scheduler!r}: {reason}"
        ) from None


def _dask_threads(client: Any) -> int:
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def _execute_dask(jobs: list[dict[str, Any]], client: Any, close: bool):
    """Yield batch results in path order from tasks on a dask cluster (bounded in flight)."""
    from collections import deque

    window = 2 * _dask_threads(client)

    def gen():
        pending: deque = deque()
        todo = iter(jobs)
        try:
            for job in todo:
                pending.append(client.submit(_run_batch, job, pure=False))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            client.cancel(list(pending))
            if close:  # a client connected here from an address
                client.close()

    return gen()


def assemble_tree(results, jobs, field: Field, N: int, times, attrs) -> xr.DataTree:
    """Concatenate batch results into the output ``DataTree`` (in memory)."""
    trajs, stats = [], []
    totals: dict[str, NDArray] = {}
    for job, part in zip(jobs, results, strict=True):
        t, s = trajectory_datasets(part, field, N, job["first"], times)
        trajs.append(t)
        stats.append(s)
        for name in ("refinements_per_step", "dropped_per_step", "tamed_per_step"):
            if name in part:
                totals[name] = totals.get(name, 0) + part[name]
    traj = xr.concat(trajs, dim="path") if len(trajs) > 1 else trajs[0]
    st = xr.concat(stats, dim="path") if len(stats) > 1 else stats[0]
    n_steps = int(jobs[0]["record_steps"][-1])
    st = xr.merge([st, per_step_stats(totals, n_steps, jobs[0]["dt"])])
    root = provenance_attrs(**{k: v for k, v in attrs.items() if v is not None})
    root["n_dropped"] = int(st["dropped"].isel(time=-1).sum())
    root["n_refinements"] = int(st["refinements_per_step"].sum())
    return xr.DataTree(
        dataset=xr.Dataset(attrs=root),
        children={"trajectory": xr.DataTree(traj), "sample_stats": xr.DataTree(st)},
    )
