"""Shim, removed at merge: the group code now lives in :mod:`dlnmc.groups` (``field=``).

Re-exports the deprecated ``*_field`` aliases (they warn) and the single-field
samplers for modules that still import this file.
"""

from dlnmc._deprecated import haar_field, log_group_volume_field
from dlnmc.groups import haar_symplectic, haar_unitary

__all__ = ["haar_field", "haar_symplectic", "haar_unitary", "log_group_volume_field"]
