"""The registry of study kinds: what a kind declares, and how a part of a study is checked.

A :class:`Kind` declares its grid keys (in the order of the result dimensions),
its settings, the modules it needs, and two checks that see every cell of a
part before any cell runs. Kinds live one per module under
:mod:`dlnmc.studies.kinds` and add themselves with :func:`register_kind`.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dlnmc.studies.errors import StudyError, check_keys
from dlnmc.studies.model import Part
from dlnmc.studies.values import OPTIONAL, GridKey, Setting

__all__ = ["KINDS", "Kind", "cell_label", "register_kind"]


def cell_label(params: Mapping[str, Any]) -> str:
    """``width=2 depth=3``: a cell's parameters as a study file writes them."""
    return " ".join(f"{k}={v}" for k, v in params.items())


@dataclass(frozen=True)
class Kind:
    """A registered study kind.

    Attributes
    ----------
    name, description : str
    run : callable
        ``run(params, settings, seed_sequence, progress=False) -> Dataset or
        (Dataset, DataTree)``; ``progress`` asks for a per-cell progress bar.
    grid : mapping of str to :class:`~dlnmc.studies.values.GridKey`
        The swept parameters, in the order of the result dimensions. A default of
        ``None`` makes the key required; :data:`~dlnmc.studies.values.OPTIONAL`
        leaves it out of the cells unless the study gives it.
    settings : mapping of str to :class:`~dlnmc.studies.values.Setting`
    requires : tuple of (module, hint)
        Each module must be importable (checked before anything runs), else the
        hint says how to get it.
    check_part : callable, optional
        ``check_part(part)``: constraints between grid values and settings of a part.
    check_cell : callable, optional
        ``check_cell(params, settings)``, called for every cell of the part at
        validation: raises :class:`StudyError` for a cell that would fail (or give
        no meaningful answer) if run. The message is prefixed with the part and cell.
    """

    name: str
    description: str
    run: Callable[..., Any]
    grid: Mapping[str, GridKey]
    settings: Mapping[str, Setting]
    requires: tuple[tuple[str, str], ...] = ()
    check_part: Callable[[Part], None] | None = None
    check_cell: Callable[[Mapping[str, Any], Mapping[str, Any]], None] | None = None

    def validate_grid(self, grid: Mapping[str, Any], where: str) -> dict[str, list[Any]]:
        """Checked grid values in the kind's key order (defaults filled in)."""
        check_keys(grid, tuple(self.grid), f"[{where}] (kind {self.name!r})")
        out = {}
        for key, spec in self.grid.items():
            if key not in grid:
                if spec.default is None:
                    raise StudyError(f"missing required key {key!r} in [{where}]")
                if spec.default is not OPTIONAL:
                    out[key] = list(spec.default)
                continue
            values = grid[key]
            values = values if isinstance(values, list) else [values]
            if not values:
                raise StudyError(f"{where}.{key} must not be empty")
            out[key] = [spec.check(v, f"{where}.{key}") for v in values]
            # JSON compares list-valued grid points (e.g. a start matrix) too
            seen = [json.dumps(v, sort_keys=True) for v in out[key]]
            if len(set(seen)) != len(seen):
                raise StudyError(f"{where}.{key} has repeated values {values!r}")
        return out

    def validate_settings(self, settings: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Checked settings (defaults filled in; a default of None stays absent)."""
        check_keys(settings, tuple(self.settings), f"[{where}] (kind {self.name!r})")
        out = {}
        for key, spec in self.settings.items():
            if key in settings:
                out[key] = spec.check(settings[key], f"{where}.{key}")
            elif spec.default is not None:
                out[key] = spec.default
        return out

    def validate_part(self, part: Part) -> None:
        """Everything about ``part`` that is known before a cell runs; :class:`StudyError`."""
        for module, hint in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except ImportError:
                found = False
            if not found:
                raise StudyError(
                    f"kind {self.name!r} (part {part.name!r}) needs {module!r}, which is not "
                    f"available: {hint}"
                )
        if self.check_part is not None:
            self.check_part(part)
        if self.check_cell is not None:
            for cell in part.cells(0):
                try:
                    self.check_cell(cell.params, part.settings)
                except StudyError as exc:
                    raise StudyError(
                        f"part {part.name!r}, cell {cell_label(cell.params)}: {exc}"
                    ) from None


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Add ``kind`` to :data:`KINDS` (so study files can name it); returns it."""
    KINDS[kind.name] = kind
    return kind
