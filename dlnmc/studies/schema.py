"""Study files: TOML text -> a validated :class:`Study`.

A study names one or more *parts*; each part has a *kind* (a registered cell
function, see :mod:`dlnmc.studies.registry` and :mod:`dlnmc.studies.kinds`), a
*grid* (the Cartesian product of swept parameters) and *settings* (fixed
parameters of every cell). The schema
is documented in ``docs/studies.md``. Every error is a :class:`StudyError`
whose one-line message names the bad key or value and, for misspelt names,
suggests the right one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Importing the kinds package registers every kind in KINDS; no kind imports this module.
import dlnmc.studies.kinds  # noqa: F401
from dlnmc.studies.errors import StudyError, check_keys, suggest, type_name
from dlnmc.studies.model import Cell, Part, Study
from dlnmc.studies.registry import KINDS

__all__ = ["Cell", "Part", "Study", "StudyError", "load_study", "parse_study"]

TOP_KEYS = ("name", "description", "seed", "output", "part", "kind", "grid", "settings")
OUTPUT_KEYS = {"ensembles": bool, "plots": bool, "ensemble_vars": list}
PART_KEYS = ("name", "kind", "grid", "settings")


def _require(table: Mapping[str, Any], key: str, typ: type, where: str) -> Any:
    if key not in table:
        raise StudyError(f"missing required key {key!r} in {where}")
    value = table[key]
    if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise StudyError(f"{where}.{key} must be an integer, got {type_name(value)} {value!r}")
    if not isinstance(value, typ):
        raise StudyError(
            f"{where}.{key} must be a {type_name(typ())}, got {type_name(value)} {value!r}"
        )
    return value


def parse_study(text: str, source: str = "<string>") -> Study:
    """Parse and validate the TOML text of a study.

    Raises
    ------
    StudyError
        On a TOML syntax error, an unknown or missing key, a value of the wrong
        type or out of range, or an unknown kind; the message names the problem.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{source}: not valid TOML: {exc}") from None
    check_keys(raw, TOP_KEYS, "the study file")
    name = _require(raw, "name", str, "study")
    description = _require(raw, "description", str, "study")
    seed = _require(raw, "seed", int, "study")
    if seed < 0:
        raise StudyError(f"study.seed must be >= 0, got {seed}")
    output = raw.get("output", {})
    if not isinstance(output, dict):
        raise StudyError(f"output must be a table, got {type_name(output)}")
    check_keys(output, tuple(OUTPUT_KEYS), "[output]")
    for key, value in output.items():
        if key == "ensemble_vars":
            if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
                raise StudyError(
                    "output.ensemble_vars must be a non-empty array of variable names, "
                    f"got {value!r}"
                )
        elif not isinstance(value, bool):
            raise StudyError(f"output.{key} must be a boolean, got {type_name(value)} {value!r}")
    output = {"ensembles": False, "plots": True, **output}

    single = {k: raw[k] for k in ("kind", "grid", "settings") if k in raw}
    if single and "part" in raw:
        raise StudyError("give either top-level kind/grid/settings or [[part]] tables, not both")
    if single:
        raw_parts = [single]
    elif "part" in raw:
        raw_parts = raw["part"]
        if not isinstance(raw_parts, list) or not raw_parts:
            raise StudyError("part must be a non-empty array of tables ([[part]])")
    else:
        raise StudyError("missing required key 'kind' (or [[part]] tables) in the study file")

    parts = []
    for i, rp in enumerate(raw_parts):
        where = f"part[{i}]" if not single else "study"
        if not isinstance(rp, dict):
            raise StudyError(f"{where} must be a table, got {type_name(rp)}")
        check_keys(rp, PART_KEYS, f"[[part]] {i}" if not single else "the study file")
        kind_name = _require(rp, "kind", str, where)
        if kind_name not in KINDS:
            raise StudyError(
                f"unknown kind {kind_name!r} in {where}{suggest(kind_name, tuple(KINDS))}"
            )
        kind = KINDS[kind_name]
        part_name = rp.get("name", kind_name)
        if not isinstance(part_name, str) or not part_name.isidentifier():
            raise StudyError(f"{where}.name must be an identifier-like string, got {part_name!r}")
        grid = rp.get("grid", {})
        settings = rp.get("settings", {})
        for key, value in (("grid", grid), ("settings", settings)):
            if not isinstance(value, dict):
                raise StudyError(f"{where}.{key} must be a table, got {type_name(value)}")
        parts.append(
            Part(
                part_name,
                kind_name,
                kind.validate_grid(grid, f"{where}.grid"),
                kind.validate_settings(settings, f"{where}.settings"),
            )
        )
    names = [p.name for p in parts]
    for n in names:
        if names.count(n) > 1:
            raise StudyError(f"two parts are named {n!r}; give each [[part]] a distinct name")
    for p in parts:
        KINDS[p.kind].validate_part(p)
    return Study(name, description, seed, tuple(parts), output, text, source)


def load_study(path: str | Path) -> Study:
    """Read and validate a study file; :class:`StudyError` if missing or invalid."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyError(f"study file not found: {path}") from None
    except IsADirectoryError:
        raise StudyError(f"study file is a directory: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyError(f"cannot read study file {path}: {exc}") from None
    return parse_study(text, str(path))
