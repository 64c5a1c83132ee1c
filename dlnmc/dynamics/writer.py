"""Streaming a Langevin run to netCDF, one batch of paths at a time (flat memory).

The file has the layout of :func:`dlnmc.dynamics.api.assemble_tree` (groups
``trajectory`` and ``sample_stats``, an unlimited ``path`` dimension), is
written to a temporary sibling and renamed into place only when every batch
is in (:func:`dlnmc.storage.atomic_path`), so an interrupted run leaves no
half-written file. The returned tree is opened lazily from the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.dynamics.records import per_step_stats, trajectory_datasets
from dlnmc.ensemble import provenance_attrs
from dlnmc.fields import Field
from dlnmc.storage import atomic_path, encode_attrs, load_tree

__all__ = ["stream_tree"]


def _write_group(g, ds: xr.Dataset, first: bool, start: int) -> None:
    """Append the paths of ``ds`` to the h5netcdf group ``g`` (declaring it on first use)."""
    B = ds.sizes["path"]
    if first:
        dims = {k: (None if k == "path" else v) for k, v in ds.sizes.items()}
        g.dimensions = dims
        for dim in ds.sizes:
            if dim == "path":
                g.create_variable("path", ("path",), np.int64, chunks=(4096,))
            elif dim in ds.coords:
                c = ds.coords[dim].values
                g.create_variable(dim, (dim,), c.dtype if c.dtype.kind != "U" else str, data=c)
            else:
                g.create_variable(dim, (dim,), np.int64, data=np.arange(ds.sizes[dim]))
        for name, var in ds.data_vars.items():
            chunks = tuple(
                1 if d == "path" else n for d, n in zip(var.dims, var.shape, strict=True)
            )
            g.create_variable(name, var.dims, var.dtype, chunks=chunks)
    g.resize_dimension("path", start + B)
    g.variables["path"][start : start + B] = ds["path"].values
    for name, var in ds.data_vars.items():
        g.variables[name][start : start + B, ...] = var.values


def stream_tree(
    out: Path,
    results,
    jobs: list[dict[str, Any]],
    field: Field,
    N: int,
    times: np.ndarray,
    attrs: dict[str, Any],
) -> xr.DataTree:
    """Write batch results as they arrive; return the finished file opened lazily."""
    import h5netcdf


    totals: dict[str, np.ndarray] = {}
    n_dropped = 0
    with atomic_path(out) as tmp:
        with h5netcdf.File(tmp, "w") as f:
            gt = f.create_group("trajectory")
            gs = f.create_group("sample_stats")
            start = 0
            for k, (job, part) in enumerate(zip(jobs, results, strict=True)):
                traj, st = trajectory_datasets(part, field, N, job["first"], times)
                _write_group(gt, traj, k == 0, start)
                _write_group(gs, st, k == 0, start)
                start += traj.sizes["path"]
                n_dropped += int(st["dropped"].isel(time=-1).sum())
                for name in ("refinements_per_step", "dropped_per_step", "tamed_per_step"):
                    if name in part:
                        totals[name] = totals.get(name, 0) + part[name]
                del traj, st, part
            n_steps = int(jobs[0]["record_steps"][-1])
            steps = per_step_stats(totals, n_steps, jobs[0]["dt"])
            gs.dimensions["step"] = n_steps
            gs.create_variable("step", ("step",), np.int64, data=steps["step"].values)
            for name in (*totals, "step_time"):
                v = steps[name].values
                gs.create_variable(name, ("step",), v.dtype, data=v)
            root = provenance_attrs(**{k: v for k, v in attrs.items() if v is not None})
            root["n_dropped"] = n_dropped
            root["n_refinements"] = int(totals.get("refinements_per_step", np.zeros(1)).sum())
            f.attrs.update(encode_attrs(root))
    return load_tree(out)
