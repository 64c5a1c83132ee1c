"""Removed at merge: :class:`~dlnmc.samplers.ConstrainedHMC` and
:class:`~dlnmc.samplers.ConstrainedRWM` take ``field=`` (or a
:class:`~dlnmc.manifold.BalancedManifold`) directly."""

from dlnmc.manifold import potential_and_grad as potential_and_grad_field
from dlnmc.samplers.rattle import ConstrainedHMC as FieldHMC
from dlnmc.samplers.rwm import ConstrainedRWM as FieldRWM

FIELD_SAMPLERS = {"hmc": FieldHMC, "rwm": FieldRWM}

__all__ = ["FIELD_SAMPLERS", "FieldHMC", "FieldRWM", "potential_and_grad_field"]
