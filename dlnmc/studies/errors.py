"""The one error of the studies package and the helpers that word its messages.

Every problem with a study file or option is a :class:`StudyError` with a
one-line message naming the bad key or value; the ``dlnmc`` command prints it
and exits with status 2 before anything is written.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["StudyError", "check_keys", "suggest", "type_name"]


class StudyError(ValueError):
    """A study file or study option is invalid (the CLI exits with status 2).

    The message is kept on one line: a wrapped library message (which may hold
    line breaks) still prints as the single line the CLI promises.
    """

    def __init__(self, message: object) -> None:
        super().__init__(" ".join(str(message).split()))


def suggest(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for a near miss, else the list of valid choices."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of {', '.join(repr(c) for c in choices)}"


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise :class:`StudyError` naming the first key of ``table`` not in ``allowed``."""
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            raise StudyError(f"unknown key {key!r} in {where}{suggest(key, allowed)}")


def type_name(value: object) -> str:
    """The TOML word for the type of ``value`` (``integer``, ``array``, ...)."""
    return {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)
