"""Deprecated: the field chart estimators now live in :mod:`dlnmc.volumes` and :mod:`dlnmc.charts`.

``estimate_group_volume_field`` and ``estimate_orbit_volume_field`` are thin
aliases, kept for one release, that warn and call the one driver
(:func:`dlnmc.volumes.estimate_group_volume` and
:func:`dlnmc.volumes.estimate_orbit_volume` with ``field=``, ``method="rqmc"``
and a Householder chart with the given ``mix`` and ``step``). They keep their
old arguments: ``n_points`` per replicate (a power of 2), ``n_replicates``,
``seed=0``. ``group_chart`` and ``chart_box`` are those of :mod:`dlnmc.charts`.
"""

from __future__ import annotations

import warnings

from numpy.typing import ArrayLike

from dlnmc._validation import check_width
from dlnmc.charts import DEFAULT_MIX, DEFAULT_STEP, chart_box, group_chart, householder_chart
from dlnmc.volumes import VolumeEstimate, estimate_group_volume, estimate_orbit_volume

__all__ = [
    "ChartVolumeEstimate",
    "chart_box",
    "estimate_group_volume_field",
    "estimate_orbit_volume_field",
    "group_chart",
]

#: The one result type of :mod:`dlnmc.volumes` (``n_points`` is a property of it).
ChartVolumeEstimate = VolumeEstimate


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"dlnmc.group_charts.{old} is deprecated; use dlnmc.volumes.{new}(..., field=...)",
        DeprecationWarning,
        stacklevel=3,
    )


def _check_points(n_points: object, n_replicates: object) -> tuple[int, int]:
    """The old arguments, checked as before: a power-of-2 ``n_points``, ``n_replicates >= 2``."""
    n_points = check_width(n_points, "n_points")
    n_replicates = check_width(n_replicates, "n_replicates")
    if n_replicates < 2:
        raise ValueError(f"n_replicates must be >= 2 to estimate an error, got {n_replicates}")
    if n_points & (n_points - 1):
        raise ValueError(f"n_points must be a power of 2 (Sobol balance), got {n_points}")
    return n_points, n_replicates


def estimate_group_volume_field(
    d: int,
    field: str,
    n_points: int = 2048,
    n_replicates: int = 16,
    seed: int | None = 0,
    *,
    mix: float = DEFAULT_MIX,
    step: float = DEFAULT_STEP,
) -> VolumeEstimate:
    """Deprecated alias of :func:`dlnmc.volumes.estimate_group_volume` over C or H."""
    _warn("estimate_group_volume_field", "estimate_group_volume")
    n_points, n_replicates = _check_points(n_points, n_replicates)
    chart = householder_chart(d, field, mix=mix, step=step)
    return estimate_group_volume(
        d, n_points * n_replicates, seed, field=field, method="rqmc",
        n_replicates=n_replicates, chart=chart,
    )  # fmt: skip


def estimate_orbit_volume_field(
    s: ArrayLike,
    depth: int,
    field: str,
    n_points: int = 1024,
    n_replicates: int = 16,
    seed: int | None = 0,
    *,
    mix: float = DEFAULT_MIX,
    step: float = DEFAULT_STEP,
) -> VolumeEstimate:
    """Deprecated alias of :func:`dlnmc.volumes.estimate_orbit_volume` over C or H."""
    _warn("estimate_orbit_volume_field", "estimate_orbit_volume")
    n_points, n_replicates = _check_points(n_points, n_replicates)
    width = len(s) if hasattr(s, "__len__") else 1
    chart = householder_chart(width, field, mix=mix, step=step)
    return estimate_orbit_volume(
        s, depth, n_points * n_replicates, seed, field=field, method="rqmc",
        n_replicates=n_replicates, chart=chart,
    )  # fmt: skip
