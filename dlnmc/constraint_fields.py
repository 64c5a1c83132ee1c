"""Removed at merge: :class:`dlnmc.constraint.BalancedConstraint` takes ``field=``."""

from __future__ import annotations

from dlnmc.constraint import BalancedConstraint, pack, unpack
from dlnmc.fields import Field

__all__ = ["FieldBalancedConstraint", "pack", "unpack"]


class FieldBalancedConstraint(BalancedConstraint):
    """Deprecated spelling ``FieldBalancedConstraint(width, depth, field)``."""

    def __init__(
        self,
        width: int,
        depth: int,
        field: str | Field,
        *,
        tol: float = 1e-12,
        max_iter: int = 40,
        mode: str = "auto",
    ) -> None:
        super().__init__(width, depth, tol=tol, max_iter=max_iter, mode=mode, field=field)
