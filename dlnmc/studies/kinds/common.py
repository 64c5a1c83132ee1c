"""What the study kinds share: the standard grid keys, the singular-value settings, the cell result.

A kind turns one grid cell (its parameters, the part's settings and a
``numpy.random.SeedSequence`` keyed by the cell) into an ``xarray.Dataset``
with variables ``estimate``, ``stderr``, ``closed_form`` and ``z_score`` over a
``statistic`` dimension (:func:`cell_dataset`), plus any extra variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.studies.errors import StudyError
from dlnmc.studies.model import Part
from dlnmc.studies.values import (
    FIELD_NAMES,
    OPTIONAL,
    GridKey,
    Setting,
    choice,
    integer,
    number,
    positive_numbers,
    value_range,
)

__all__ = [
    "BETA",
    "DEPTH",
    "SV_SETTINGS",
    "TARGET",
    "WIDTH",
    "cell_dataset",
    "check_sv_length",
    "draw_singular_values",
    "field_key",
    "int_seed",
    "sv_spread",
]

WIDTH = GridKey(integer(1), None, "d, the width")
DEPTH = GridKey(integer(1), None, "N, the depth")
BETA = GridKey(number(0.0), [1.0], "inverse temperature")
TARGET = GridKey(number(), [0.0], "Y = target * identity in E = |X - Y|^2 / 2")


def field_key(allowed: tuple[str, ...] = FIELD_NAMES, default: Any = OPTIONAL) -> GridKey:
    """The ``field`` grid key; ``OPTIONAL`` by default so older studies keep their cells."""
    return GridKey(choice(*allowed), default, "the field R, C or H of the entries")


SV_SETTINGS = {
    "singular_values": Setting(
        positive_numbers, None, "fixed singular values (length = width); default: random per cell"
    ),
    "sv_range": Setting(value_range, [0.25, 4.0], "log-uniform range of random singular values"),
}


def check_sv_length(part: Part) -> None:
    """Given ``singular_values`` need a single width equal to their number."""
    sv = part.settings.get("singular_values")
    if sv is not None and any(w != len(sv) for w in part.grid.get("width", [])):
        raise StudyError(
            f"part {part.name!r}: settings.singular_values has {len(sv)} values but the grid "
            f"has width {part.grid['width']}; give one width equal to its length"
        )


def cell_dataset(
    statistic: list[str],
    estimate: Any,
    stderr: Any,
    closed_form: Any,
    extra: Mapping[str, tuple[tuple[str, ...], Any]] | None = None,
    z_score: Any = None,
) -> xr.Dataset:
    """The standard result of one cell: estimate, stderr, closed form and z side by side.

    ``z_score = (estimate - closed_form) / stderr`` unless given (an estimator's
    own z, e.g. for exact counts with ``stderr = 0``).
    """
    est = np.asarray(estimate, dtype=np.float64).reshape(len(statistic))
    se = np.asarray(stderr, dtype=np.float64).reshape(len(statistic))
    cf = np.asarray(closed_form, dtype=np.float64).reshape(len(statistic))
    with np.errstate(divide="ignore", invalid="ignore"):
        # exact agreement (e.g. depth 1, where both sides are (N-1) log c_d) is z = 0
        z = np.where(est == cf, 0.0, (est - cf) / se)
    if z_score is not None:
        z = np.asarray(z_score, dtype=np.float64).reshape(len(statistic))
    data = {
        "estimate": (("statistic",), est),
        "stderr": (("statistic",), se),
        "closed_form": (("statistic",), cf),
        "z_score": (("statistic",), z),
    }
    for name, (dims, value) in (extra or {}).items():
        data[name] = (dims, np.asarray(value))
    return xr.Dataset(data, coords={"statistic": list(statistic)})


def int_seed(ss: np.random.SeedSequence) -> int:
    """A 64-bit integer seed for library functions that take ``seed: int``."""
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def draw_singular_values(
    width: int, settings: Mapping[str, Any], rng: np.random.Generator
) -> np.ndarray:
    """Given singular values, or log-uniform draws on ``sv_range`` (descending)."""
    if "singular_values" in settings:
        return np.sort(np.asarray(settings["singular_values"], dtype=np.float64))[::-1]
    lo, hi = settings["sv_range"]
    return np.sort(np.exp(rng.uniform(np.log(lo), np.log(hi), size=width)))[::-1]


def sv_spread(settings: Mapping[str, Any]) -> tuple[str, float]:
    """The setting that fixes the singular values and the largest ratio ``s_max / s_min``."""
    if "singular_values" in settings:
        sv = settings["singular_values"]
        return "settings.singular_values", max(sv) / min(sv)
    lo, hi = settings["sv_range"]
    return "settings.sv_range", hi / lo
