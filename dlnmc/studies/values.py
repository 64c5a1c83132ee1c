"""Checks of single values in a study file: one function per kind of value.

Each ``check(value, where) -> value`` returns the normalized value or raises
:class:`~dlnmc.studies.errors.StudyError` naming ``where`` (e.g.
``part[0].settings.n_draws``). Kinds build their grids and settings from these.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dlnmc.studies.errors import StudyError, suggest, type_name

__all__ = [
    "FIELD_NAMES",
    "OPTIONAL",
    "Check",
    "GridKey",
    "Setting",
    "boolean",
    "choice",
    "integer",
    "number",
    "positive_numbers",
    "value_range",
]

Check = Callable[[Any, str], Any]

FIELD_NAMES = ("real", "complex", "quaternion")


class _Optional:
    """Grid default of an optional key: absent from the cells unless the study sets it."""

    def __repr__(self) -> str:
        return "OPTIONAL"


# Adding an OPTIONAL key to a kind keeps the cells, seeds and result
# dimensions of studies written before the key existed.
OPTIONAL = _Optional()


@dataclass(frozen=True)
class Setting:
    """A fixed parameter of every cell of a part: its check, default (None: none) and doc."""

    check: Check
    default: Any
    doc: str


@dataclass(frozen=True)
class GridKey:
    """A swept parameter: its check and default (``None``: required; :data:`OPTIONAL`)."""

    check: Check
    default: Any = None
    doc: str = ""


def integer(lo: int) -> Check:
    """An integer (not a boolean) ``>= lo``."""

    def check(v: Any, where: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise StudyError(f"{where} must be an integer, got {type_name(v)} {v!r}")
        if v < lo:
            raise StudyError(f"{where} must be an integer >= {lo}, got {v}")
        return v

    return check


def number(lo: float | None = None, hi: float | None = None, strict: bool = False) -> Check:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` if ``strict``), returned as float."""

    def check(v: Any, where: str) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise StudyError(f"{where} must be a number, got {type_name(v)} {v!r}")
        v = float(v)
        if not math.isfinite(v):
            raise StudyError(f"{where} must be finite, got {v!r}")
        if lo is not None and (v <= lo if strict else v < lo):
            raise StudyError(f"{where} must be {'>' if strict else '>='} {lo}, got {v!r}")
        if hi is not None and v > hi:
            raise StudyError(f"{where} must be <= {hi}, got {v!r}")
        return v

    return check


def choice(*choices: str) -> Check:
    """One of the strings ``choices`` (a near miss gets a suggestion)."""

    def check(v: Any, where: str) -> str:
        if not isinstance(v, str):
            raise StudyError(f"{where} must be a string, got {type_name(v)} {v!r}")
        if v not in choices:
            raise StudyError(f"{where} = {v!r} is not allowed{suggest(v, choices)}")
        return v

    return check


def boolean(v: Any, where: str) -> bool:
    """``true`` or ``false``."""
    if not isinstance(v, bool):
        raise StudyError(f"{where} must be a boolean, got {type_name(v)} {v!r}")
    return v


def positive_numbers(v: Any, where: str) -> list[float]:
    """A non-empty array of finite numbers ``> 0``."""
    if not isinstance(v, list) or not v:
        raise StudyError(f"{where} must be a non-empty array of numbers, got {type_name(v)} {v!r}")
    return [number(0.0, strict=True)(x, f"{where}[{i}]") for i, x in enumerate(v)]


def value_range(v: Any, where: str) -> list[float]:
    """``[low, high]`` with ``0 < low < high``."""
    out = positive_numbers(v, where)
    if len(out) != 2 or not out[0] < out[1]:
        raise StudyError(f"{where} must be [low, high] with 0 < low < high, got {v!r}")
    return out
