"""Removed at merge: the quadratic energy over every field is
:class:`dlnmc.energy.QuadraticEnergy` (``field=``)."""

from dlnmc.energy import FieldQuadraticEnergy

__all__ = ["FieldQuadraticEnergy"]
