"""Sampling studies: TOML study files, a registry of cell kinds, a resumable Dask-ready runner.

See ``docs/studies.md`` for the study-file schema.
"""

from dlnmc.studies.kinds import KINDS, Kind, register_kind
from dlnmc.studies.report import format_results, load_result, plot_result
from dlnmc.studies.runner import CellFailed, StudyInterrupted, checkpoint_dir, run_cell, run_study
from dlnmc.studies.schema import Cell, Part, Study, StudyError, load_study, parse_study
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
