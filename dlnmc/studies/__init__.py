"""Sampling studies: TOML study files, a registry of cell kinds, a resumable Dask-ready runner.

Modules, each depending only on those above it:

- :mod:`~dlnmc.studies.errors`: :class:`StudyError` and the wording of its messages;
- :mod:`~dlnmc.studies.values`: checks of single values (integers, choices, ranges);
- :mod:`~dlnmc.studies.model`: :class:`Study`, :class:`Part`, :class:`Cell`;
- :mod:`~dlnmc.studies.registry`: :class:`Kind` and :data:`KINDS`;
- :mod:`~dlnmc.studies.kinds`: one module per kind, each registering itself;
- :mod:`~dlnmc.studies.schema`: TOML text to a validated :class:`Study`;
- :mod:`~dlnmc.studies.runner`, :mod:`~dlnmc.studies.report`,
  :mod:`~dlnmc.studies.shipped`: running, reporting, the shipped study files.

See ``docs/studies.md`` for the study-file schema.
"""

from dlnmc.studies.errors import StudyError
from dlnmc.studies.model import Cell, Part, Study
from dlnmc.studies.registry import KINDS, Kind, register_kind
from dlnmc.studies.report import format_results, load_result, plot_result
from dlnmc.studies.runner import CellFailed, StudyInterrupted, checkpoint_dir, run_cell, run_study
from dlnmc.studies.schema import load_study, parse_study
from dlnmc.studies.shipped import find_study, shipped_studies

__all__ = [
    "KINDS",
    "Cell",
    "CellFailed",
    "Kind",
    "Part",
    "Study",
    "StudyError",
    "StudyInterrupted",
    "checkpoint_dir",
    "find_study",
    "format_results",
    "load_result",
    "load_study",
    "parse_study",
    "plot_result",
    "register_kind",
    "run_cell",
    "run_study",
    "shipped_studies",
]
