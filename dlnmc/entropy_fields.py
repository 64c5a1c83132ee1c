"""Shim, removed at merge: the entropy over every field now lives in :mod:`dlnmc.entropy`.

Re-exports the deprecated ``*_field`` aliases (they warn) for modules that
still import this file.
"""

from dlnmc._deprecated import (
    entropy_field,
    entropy_sv_field,
    log_group_volume_field,
    log_rho_field,
    log_rho_sv_field,
    log_sv_density_field,
)

__all__ = [
    "entropy_field",
    "entropy_sv_field",
    "log_group_volume_field",
    "log_rho_field",
    "log_rho_sv_field",
    "log_sv_density_field",
]
