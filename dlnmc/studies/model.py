"""What a study is: its parts, and the cells of each part's grid.

A :class:`Study` has one or more :class:`Part` (a kind, a grid of swept
parameters, fixed settings); each point of a part's grid is a :class:`Cell`,
the unit of work of the runner. These are plain values: parsing and checking
them is :mod:`dlnmc.studies.schema`, computing a cell is the kind's.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cell", "Part", "Study", "coordinate_value", "label_value"]


def label_value(value: Any) -> str:
    """A grid value in a file or group name: arrays joined by ``x``, scalars as written."""
    if isinstance(value, list):
        return "x".join(label_value(v) for v in value)
    return str(value)


def coordinate_value(value: Any) -> Any:
    """A grid value as a result coordinate: scalars as they are, arrays as JSON text."""
    return json.dumps(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Cell:
    """One point of a part's grid.

    Attributes
    ----------
    part : str
        Name of the part the cell belongs to.
    kind : str
        Registered kind that computes the cell.
    params : dict
        Grid coordinates of the cell, e.g. ``{"width": 2, "depth": 3}``.
    index : tuple of int
        Position of the cell in the part's grid (one index per grid key).
    settings : dict
        The part's validated settings.
    seed : int
        The study seed (entropy of the cell's ``SeedSequence``).
    """

    part: str
    kind: str
    params: dict[str, Any]
    index: tuple[int, ...]
    settings: dict[str, Any]
    seed: int

    @property
    def label(self) -> str:
        """A name usable as a file or group name, e.g. ``width_2_depth_3``.

        An array-valued parameter (e.g. a start ``[1.5, 0.4]``) reads ``1.5x0.4``.
        """
        return "_".join(f"{k}_{label_value(v)}" for k, v in self.params.items())

    @property
    def key(self) -> str:
        """A stable hexadecimal digest of (part, kind, params, settings, seed)."""
        blob = json.dumps(
            [self.part, self.kind, self.params, self.settings, self.seed], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def seed_sequence(self):
        """``SeedSequence(entropy=seed, spawn_key=...)`` keyed by the cell's part and parameters.

        The spawn key is four 32-bit words of a SHA-256 of ``(part, params)``, so a
        cell's random stream depends only on the study seed and on the cell itself:
        not on scheduling, on the number of workers, nor on the other grid values.
        """
        import numpy as np

        blob = json.dumps([self.part, self.params], sort_keys=True).encode()
        words = tuple(
            int.from_bytes(hashlib.sha256(blob).digest()[4 * i : 4 * i + 4]) for i in range(4)
        )
        return np.random.SeedSequence(entropy=self.seed, spawn_key=words)


@dataclass(frozen=True)
class Part:
    """A kind with its grid and settings."""

    name: str
    kind: str
    grid: dict[str, list[Any]]
    settings: dict[str, Any]

    def cells(self, seed: int) -> list[Cell]:
        """All cells in grid order (the last grid key varies fastest)."""
        keys = list(self.grid)
        out = []
        for index in itertools.product(*(range(len(self.grid[k])) for k in keys)):
            params = {k: self.grid[k][i] for k, i in zip(keys, index, strict=True)}
            out.append(Cell(self.name, self.kind, params, index, self.settings, seed))
        return out


@dataclass(frozen=True)
class Study:
    """A validated study.

    ``text`` is the TOML source (stored in result files for provenance).
    """

    name: str
    description: str
    seed: int
    parts: tuple[Part, ...]
    output: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    source: str = ""

    def cells(self) -> list[Cell]:
        return [c for p in self.parts for c in p.cells(self.seed)]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the normalized study (not of its whitespace or comments)."""
        blob = json.dumps(
            [
                self.name,
                self.seed,
                [[p.name, p.kind, p.grid, p.settings] for p in self.parts],
                self.output,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()
