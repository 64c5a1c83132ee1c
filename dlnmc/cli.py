"""The ``dlnmc`` command: run, list and report sampling studies.

    dlnmc run [STUDY] [-o OUT] [--resume] [--scheduler ADDRESS | --workers K]
    dlnmc list
    dlnmc report RESULT
    dlnmc --version

Exit status: 0 on success, 2 on bad input (one line on stderr naming the
problem, nothing written), 1 when a cell raises and 130 when interrupted
(in both cases the finished cells are kept; rerun with --resume).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_CELL_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _err(msg: str) -> None:
    print(f"dlnmc: error: {msg}", file=sys.stderr)


def _cmd_run(args: argparse.Namespace) -> int:
    from dlnmc.studies import (
        CellFailed,
        StudyInterrupted,
        format_results,
        load_study,
        plot_result,
        run_study,
    )
    from dlnmc.studies.shipped import find_study

    if args.workers is not None and args.workers < 1:
        _err(f"--workers must be >= 1, got {args.workers}")
        return EXIT_BAD_INPUT
    if args.workers is not None and args.scheduler is not None:
        _err("give --scheduler or --workers, not both")
        return EXIT_BAD_INPUT
    study_path = find_study(args.study)
    study = load_study(study_path)
    shown = args.study or study.name  # as the user typed it: a shipped name or a path
    out = Path(args.output) if args.output else Path(f"{study.name}.nc")
    if out.suffix != ".nc":
        _err(f"output file must end in .nc (netCDF), got {out}")
        return EXIT_BAD_INPUT
    n_cells = len(study.cells())
    print(f"dlnmc run: study {study.name!r} ({shown}), {n_cells} cells -> {out}")
    t0 = time.perf_counter()
    try:
        tree = run_study(
            study,
            out,
            resume=args.resume,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=False if args.no_progress else None,
            log=print,
        )
    except StudyInterrupted as exc:
        _err(f"{exc}; resume with: dlnmc run {shown} -o {out} --resume")
        return EXIT_INTERRUPTED
    except CellFailed as exc:
        _err(f"{exc}; after a fix, rerun with: dlnmc run {shown} -o {out} --resume")
        return EXIT_CELL_FAILED
    wall = time.perf_counter() - t0
    print()
    print(format_results(tree))
    if study.output.get("plots", True) and not args.no_plots:
        for p in plot_result(tree, out):
            print(f"plot: {p}")
    print(f"wall time: {wall:.1f} s")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from dlnmc.studies.shipped import DEFAULT_STUDY, shipped_studies

    studies = shipped_studies()
    width = max((len(n) for n in studies), default=0)
    for name, (_, desc) in studies.items():
        mark = " (default)" if name == DEFAULT_STUDY else ""
        print(f"{name.ljust(width)}  {desc}{mark}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from dlnmc.studies import format_results, load_result, plot_result

    path = Path(args.result)
    if not path.is_file():
        _err(f"result file not found: {path}")
        return EXIT_BAD_INPUT
    try:
        tree = load_result(path)
    except (OSError, ValueError) as exc:
        _err(f"cannot read result file {path}: {exc}")
        return EXIT_BAD_INPUT
    if "results" not in tree.children:
        _err(f"{path} is not a dlnmc study result (no 'results' group)")
        return EXIT_BAD_INPUT
    print(f"{tree.attrs.get('study_name', path.stem)}: {tree.attrs.get('study_description', '')}")
    print(
        f"dlnmc {tree.attrs.get('dlnmc_version')}, seed {tree.attrs.get('seed')}, "
        f"created {tree.attrs.get('created')}"
    )
    print(format_results(tree))
    if not args.no_plots:
        for p in plot_result(tree, path):
            print(f"plot: {p}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    import dlnmc

    parser = argparse.ArgumentParser(
        prog="dlnmc",
        description="Monte Carlo studies of the Deep Linear Network entropy formula.",
    )
    parser.add_argument("--version", action="version", version=f"dlnmc {dlnmc.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a study (default: the quickstart study)")
    run.add_argument(
        "study",
        nargs="?",
        default=None,
        help="study file, or the name of a shipped study (see `dlnmc list`); default quickstart",
    )
    run.add_argument("-o", "--output", help="result file (.nc); default NAME.nc")
    run.add_argument("--resume", action="store_true", help="skip cells finished by an earlier run")
    run.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler address")
    run.add_argument(
        "--workers", type=int, metavar="K", help="start a local Dask cluster of K workers"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--no-plots", action="store_true", help="do not write PNGs")
    run.set_defaults(func=_cmd_run)
    lst = sub.add_parser("list", help="list the shipped studies")
    lst.set_defaults(func=_cmd_list)
    rep = sub.add_parser("report", help="print the table and write plots of a result file")
    rep.add_argument("result", help="result file written by `dlnmc run`")
    rep.add_argument("--no-plots", action="store_true", help="do not write PNGs")
    rep.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dlnmc`` command; returns the exit status."""
    from dlnmc.studies import StudyError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StudyError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `dlnmc report r.nc | head`: not an error
        sys.stdout = open(os.devnull, "w")  # silence the flush at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
