"""Former home of the orbit- and group-volume estimators: now :mod:`dlnmc.volumes`.

Kept for one release so that ``from dlnmc.estimators import ...`` keeps working;
every name is the object of :mod:`dlnmc.volumes` itself (same behaviour, every
field). ``OrbitVolumeEstimate`` and ``GroupVolumeEstimate`` are the one result
type :class:`dlnmc.volumes.VolumeEstimate`.
"""

from __future__ import annotations

from dlnmc.volumes import (
    DEFAULT_N_SAMPLES,
    DEFAULT_REPLICATES,
    VolumeEstimate,
    default_n_samples,
    estimate_group_volume,
    estimate_orbit_volume,
    log_gram_orbit,
    orbit_volume_table,
)

__all__ = [
    "DEFAULT_N_SAMPLES",
    "DEFAULT_REPLICATES",
    "GroupVolumeEstimate",
    "OrbitVolumeEstimate",
    "default_n_samples",
    "estimate_group_volume",
    "estimate_orbit_volume",
    "log_gram_orbit",
    "orbit_volume_table",
]

#: The one result type (orbit and group volumes alike).
OrbitVolumeEstimate = VolumeEstimate
GroupVolumeEstimate = VolumeEstimate
