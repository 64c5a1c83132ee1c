"""The studies shipped with dlnmc (package data ``dlnmc/studies_data/*.toml``).

The repository's ``studies/`` directory is a symbolic link to the same files,
so ``dlnmc run studies/quickstart.toml`` and ``dlnmc run quickstart`` agree,
from a source tree or an installed package.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from dlnmc.studies.errors import StudyError

__all__ = ["DEFAULT_STUDY", "find_study", "shipped_studies"]

DEFAULT_STUDY = "quickstart"


def _data_dir() -> Path:
    return Path(str(resources.files("dlnmc") / "studies_data"))


def shipped_studies() -> dict[str, tuple[Path, str]]:
    """Shipped study names mapped to (path, one-line description), sorted by name."""
    out = {}
    for path in sorted(_data_dir().glob("*.toml")):
        try:
            desc = tomllib.loads(path.read_text(encoding="utf-8")).get("description", "")
        except tomllib.TOMLDecodeError:
            desc = "(invalid TOML)"
        out[path.stem] = (path, " ".join(str(desc).split()))
    return out


def find_study(spec: str | None) -> Path:
    """Resolve a study argument: ``None`` (the default), a file path, or a shipped name.

    An existing path wins; otherwise a shipped study's name (with or without
    ``.toml``); otherwise :class:`StudyError` naming the missing file.
    """
    if spec is None:
        spec = DEFAULT_STUDY
    path = Path(spec)
    if path.exists():
        return path
    shipped = shipped_studies()
    name = path.name.removesuffix(".toml")
    if name in shipped and (path.parent == Path(".") or path.parent.name == "studies"):
        return shipped[name][0]
    import difflib

    close = difflib.get_close_matches(name, list(shipped), n=1, cutoff=0.6)
    hint = (
        f"; did you mean the shipped study {close[0]!r}?"
        if close
        else (f"; shipped studies: {', '.join(shipped)}")
    )
    raise StudyError(f"study file not found: {spec}{hint}")
