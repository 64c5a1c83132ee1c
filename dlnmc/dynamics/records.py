"""The recorded states of Langevin paths as xarray Datasets (shared by the in-memory and
streaming outputs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dlnmc.entropy import entropy_sv
from dlnmc.fields import Field


def closed_form_entropy(s: NDArray[np.float64], N: int, field: Field) -> NDArray[np.float64]:
    """Closed-form S_b at each state (NaN where a path was dropped), for reading only."""
    out = np.full(s.shape[:-1], np.nan)
    ok = np.isfinite(s).all(-1) & (s > 0).all(-1)
    if ok.any():
        out[ok] = entropy_sv(s[ok], N, field=field)
    return out


def trajectory_datasets(
    part: dict[str, Any], field: Field, N: int, first: int, times: NDArray[np.float64]
) -> tuple[xr.Dataset, xr.Dataset]:
    """Datasets ``trajectory`` and the per-(path, time) part of ``sample_stats``."""
    B = part["singular_values"].shape[0]
    comp = () if field.is_real else ("component",)
    X = part["X"] if field.is_real else field.to_components(part["X"])
    data = {
        "X": (("path", "time", "row", "col", *comp), X),
        "singular_values": (("path", "time", "sv"), part["singular_values"]),
        "energy": (("path", "time"), part["energy"]),
        "entropy": (("path", "time"), closed_form_entropy(part["singular_values"], N, field)),
    }
    if part["W"] is not None:
        W = part["W"]
        if not field.is_real:
            W = W.reshape(*W.shape[:-1], W.shape[-2], field.b)
        data["W"] = (("path", "time", "layer", "row", "col", *comp), W)
    coords = {"path": np.arange(first, first + B), "time": times}
    traj = xr.Dataset(data, coords=coords)
    if not field.is_real:
        traj = traj.assign_coords(component=list(field.components))
    stats = {
        "refinements": (("path", "time"), part["refinements"]),
        "dropped": (("path", "time"), part["dropped"].astype(np.int8)),  # netCDF has no bool
    }
    if part["constraint_residual"] is not None:
        stats["constraint_residual"] = (("path", "time"), part["constraint_residual"])
    return traj, xr.Dataset(stats, coords=coords)


def per_step_stats(totals: dict[str, NDArray], n_steps: int, dt: float) -> xr.Dataset:
    """The per-step totals over paths as a Dataset on dimension ``step`` (time ``step dt``)."""
    step = np.arange(1, n_steps + 1)
    data = {k: (("step",), v) for k, v in totals.items()}
    return xr.Dataset(data, coords={"step": step, "step_time": ("step", step * dt)})
