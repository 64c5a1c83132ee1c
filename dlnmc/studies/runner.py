"""Running a study: cells in-process or as Dask tasks, atomic checkpoints, one result file.

Each cell is computed by :func:`run_cell` from the cell alone (its kind,
parameters, settings and a ``SeedSequence`` keyed by the cell), so results are
bit-identical whatever the scheduler and the number of workers. Finished
cells are written one file each to the checkpoint directory ``OUT.cells/``
(temporary file, then ``os.replace``); ``resume=True`` skips them. The result
file is written the same way and the checkpoint directory is removed after.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

# Importing the kinds package registers every kind (also in a Dask worker that only
# unpickles a Cell and calls run_cell).
import dlnmc.studies.kinds  # noqa: F401
from dlnmc.provenance import provenance_attrs
from dlnmc.studies.errors import StudyError
from dlnmc.studies.model import Cell, Part, Study, coordinate_value
from dlnmc.studies.registry import KINDS

__all__ = [
    "CellFailed",
    "StudyInterrupted",
    "assemble_part",
    "checkpoint_dir",
    "provenance",
    "read_tree",
    "run_cell",
    "run_study",
    "write_tree_atomic",
]

_ENGINE = "h5netcdf"


class CellFailed(RuntimeError):
    """A cell raised; every cell finished before it is on disk in ``checkpoints``."""

    def __init__(self, cell: Cell, exc: BaseException, n_done: int, checkpoints: Path):
        self.cell, self.exc, self.n_done, self.checkpoints = cell, exc, n_done, checkpoints
        super().__init__(
            f"cell {cell.part} {cell.label} failed: {type(exc).__name__}: {exc} "
            f"({n_done} finished cells kept in {checkpoints})"
        )


class StudyInterrupted(RuntimeError):
    """Raised on KeyboardInterrupt; every finished cell is on disk in ``checkpoints``."""

    def __init__(self, n_done: int, n_total: int, checkpoints: Path):
        self.n_done, self.n_total, self.checkpoints = n_done, n_total, checkpoints
        super().__init__(f"interrupted: {n_done} of {n_total} cells saved in {checkpoints}")


def checkpoint_dir(out: str | Path) -> Path:
    """The sidecar directory holding finished cells of the run writing ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".cells")


def write_tree_atomic(tree: xr.DataTree, path: str | Path) -> None:
    """Write ``tree`` as netCDF (h5netcdf) to a temporary file, then rename it to ``path``.

    A reader (or a crash) sees either the previous file or the complete new one.
    """
    try:  # the storage module's writer (issue 5), when present, does the same and more
        from dlnmc.storage import save_tree
    except ImportError:
        save_tree = None
    path = Path(path)
    if save_tree is not None:
        save_tree(tree, path)
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tree.to_netcdf(tmp, engine=_ENGINE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_tree(path: str | Path) -> xr.DataTree:
    """Read a file written by :func:`write_tree_atomic` fully into memory (file closed)."""
    try:
        from dlnmc.storage import load_tree
    except ImportError:
        load_tree = None
    if load_tree is not None:
        return load_tree(path)
    with xr.open_datatree(path, engine=_ENGINE) as tree:
        return tree.load()


def run_cell(cell: Cell, progress: bool = False) -> tuple[xr.Dataset, xr.DataTree | None]:
    """Compute one cell: its result Dataset and (for sampling kinds) its ensemble."""
    kind = KINDS[cell.kind]
    out = kind.run(cell.params, cell.settings, cell.seed_sequence(), progress=progress)
    ds, tree = out if isinstance(out, tuple) else (out, None)
    return ds, tree


def provenance(study: Study) -> dict[str, Any]:
    """Root attributes of a study result: :func:`dlnmc.provenance.provenance_attrs` and the study.

    The study's name, description, TOML text, fingerprint and seed, the parts'
    kinds (JSON) and how each cell's seed is derived.
    """
    return provenance_attrs(
        study_name=study.name,
        study_description=study.description,
        study_toml=study.text,
        study_fingerprint=study.fingerprint,
        seed=study.seed,
        parts=json.dumps({p.name: p.kind for p in study.parts}),
        seeding=(
            "each cell: numpy.random.SeedSequence(entropy=seed, spawn_key=4 words of "
            "SHA-256 of JSON [part, params])"
        ),
    )


def _fill_value(dtype: np.dtype) -> Any:
    return np.nan if np.issubdtype(dtype, np.floating) else -1


def assemble_part(part: Part, results: list[xr.Dataset]) -> xr.Dataset:
    """Stack per-cell Datasets (grid order) into one Dataset with one dim per grid key.

    Extra dimensions (``statistic``, ``sv``) are unions over cells, in order of
    first appearance; entries a cell lacks (e.g. ``mean_s3`` at width 2) are NaN.
    """
    keys = list(part.grid)  # the kind's order of grid keys
    shape = tuple(len(part.grid[k]) for k in keys)
    cells = part.cells(0)
    labels: dict[str, list[Any]] = {}
    for ds in results:
        for dim in ds.dims:
            seen = labels.setdefault(dim, [])
            values = ds[dim].values.tolist() if dim in ds.coords else list(range(ds.sizes[dim]))
            seen.extend(v for v in values if v not in seen)
    data = {}
    for name in results[0].data_vars:
        var0 = results[0][name]
        dims = var0.dims
        dtype = np.result_type(*(r[name].dtype for r in results))
        if not np.issubdtype(dtype, np.floating) and any(
            r[name].sizes != var0.sizes for r in results
        ):
            dtype = np.float64
        arr = np.full(shape + tuple(len(labels[d]) for d in dims), _fill_value(dtype), dtype=dtype)
        for cell, ds in zip(cells, results, strict=True):
            var = ds[name]
            idx = tuple(
                [
                    labels[d].index(v)
                    for v in (ds[d].values.tolist() if d in ds.coords else range(ds.sizes[d]))
                ]
                for d in dims
            )
            arr[cell.index + np.ix_(*idx)] = var.values
        data[name] = ((*keys, *dims), arr)
    coords: dict[str, Any] = {k: [coordinate_value(v) for v in part.grid[k]] for k in keys}
    for dim in labels:
        if any(dim in r.coords for r in results):
            coords[dim] = labels[dim]
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(_cell_attrs(cells, results))
    ds.attrs.update(
        kind=part.kind,
        kind_description=KINDS[part.kind].description,
        settings=json.dumps(part.settings, sort_keys=True),
    )
    return ds


def _cell_attrs(cells: list[Cell], results: list[xr.Dataset]) -> dict[str, Any]:
    """The cells' attributes: a value every cell has as it is, else ``{cell label: value}``.

    A cell without the attribute maps to None (e.g. ``assumes_entropy_formula`` in a
    part whose cells use different references).
    """
    out: dict[str, Any] = {}
    names = list(dict.fromkeys(k for r in results for k in r.attrs))
    for name in names:
        # plain Python values: a cell read back from its checkpoint has numpy scalars
        values = [None if name not in r.attrs else np.asarray(r.attrs[name]).tolist()
                  for r in results]  # fmt: skip
        if values[0] is not None and all(v == values[0] for v in values):
            out[name] = values[0]
        else:
            out[name] = {c.label: v for c, v in zip(cells, values, strict=True)}
    return out


def _select_vars(tree: xr.DataTree, names: list[str]) -> xr.DataTree:
    """Keep only the variables ``names`` in every group (empty groups are dropped)."""
    children = {}
    for name, node in tree.children.items():
        ds = node.to_dataset(inherit=False)
        ds = ds[[v for v in ds.data_vars if v in names]]
        if ds.data_vars:
            children[name] = xr.DataTree(ds)
    return xr.DataTree(dataset=tree.to_dataset(inherit=False), children=children)


def _cell_path(ckdir: Path, cell: Cell) -> Path:
    return ckdir / f"{cell.part}-{cell.label}-{cell.key[:12]}.nc"


def _prepare_checkpoints(study: Study, ckdir: Path, resume: bool) -> None:
    """Create or check the checkpoint directory; refuse one that belongs to another study."""
    meta = ckdir / "study.json"
    if ckdir.exists():
        try:
            found = json.loads(meta.read_text())
        except (OSError, ValueError):
            raise StudyError(
                f"{ckdir} exists but is not a dlnmc checkpoint directory; remove it or choose "
                "another -o"
            ) from None
        if found.get("fingerprint") != study.fingerprint:
            raise StudyError(
                f"checkpoint directory {ckdir} belongs to a different study "
                f"({found.get('name')!r} from {found.get('source')}); remove it or choose "
                "another -o"
            )
        if not resume:  # same study, fresh start requested: drop old cells
            for f in ckdir.glob("*.nc"):
                f.unlink()
        return
    ckdir.mkdir(parents=True)
    tmp = ckdir / ".study.json.tmp"
    tmp.write_text(
        json.dumps({"fingerprint": study.fingerprint, "name": study.name, "source": study.source})
    )
    os.replace(tmp, meta)


def _make_client(scheduler: str | None, workers: int | None):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise StudyError(
            "--scheduler/--workers need dask.distributed: pip install 'dlnmc[dask]'"
        ) from None
    if scheduler is not None:
        try:
            return Client(scheduler), None
        except (OSError, TimeoutError) as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise StudyError(
                f"cannot connect to the dask scheduler at {scheduler!r}: {reason}"
            ) from None
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    return Client(cluster), cluster


def _close_client(client: Any, cluster: Any) -> None:
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def _iter_dask(
    client: Any, cells: list[Cell], done: dict, ckdir: Path
) -> Iterable[tuple[Cell, tuple]]:
    from distributed import as_completed

    futures = {}
    for cell in cells:
        fut = client.submit(run_cell, cell, pure=False, key=f"dlnmc-cell-{cell.key[:24]}")
        futures[fut.key] = (fut, cell)
    try:
        for fut in as_completed([f for f, _ in futures.values()]):
            cell = futures[fut.key][1]
            try:
                result = fut.result()
            except Exception as exc:
                raise CellFailed(cell, exc, len(done), ckdir) from exc
            yield cell, result
    finally:
        client.cancel([f for f, _ in futures.values()])


def run_study(
    study: Study,
    out: str | Path,
    *,
    resume: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    client: Any = None,
    log: Callable[[str], None] | None = None,
) -> xr.DataTree:
    """Run every cell of ``study`` and write the result DataTree atomically to ``out``.

    Parameters
    ----------
    study : Study
    out : path
        Result file (netCDF). Finished cells go to ``checkpoint_dir(out)``.
    resume : bool
        Reuse finished cells of the same study found in the checkpoint directory.
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler.
    workers : int, optional
        Start a ``LocalCluster`` with this many single-threaded worker processes.
    progress : bool or None
        tqdm bars (None: only when stderr is a terminal).
    client : distributed.Client, optional
        Use this client (takes precedence over ``scheduler``/``workers``).

    Returns
    -------
    xarray.DataTree
        Root attributes with provenance; ``results/<part>`` Datasets with one
        dimension per grid key; ``ensembles/<part>/<cell>`` when the study asks.

    Raises
    ------
    StudyError
        Bad output path, or a checkpoint directory of another study.
    StudyInterrupted
        On KeyboardInterrupt (all finished cells are on disk).
    """
    from tqdm.auto import tqdm

    out = Path(out)
    if not out.parent.is_dir():
        raise StudyError(f"output directory does not exist: {out.parent}")
    if out.is_dir():
        raise StudyError(f"output path is a directory: {out}")
    ckdir = checkpoint_dir(out)
    cells = study.cells()
    keep_ensembles = study.output.get("ensembles", False)
    own_client = own_cluster = None
    if client is None and (scheduler is not None or workers is not None):
        # Connect first: an unreachable scheduler must leave nothing on disk.
        own_client, own_cluster = _make_client(scheduler, workers)
        client = own_client
    done: dict[str, tuple[xr.Dataset, xr.DataTree | None]] = {}
    try:
        _prepare_checkpoints(study, ckdir, resume)
        if resume:
            for cell in cells:
                path = _cell_path(ckdir, cell)
                if path.exists():
                    tree = read_tree(path)
                    ens = tree["ensemble"] if "ensemble" in tree.children else None
                    done[cell.key] = (tree.to_dataset(inherit=False), ens)
    except BaseException:
        _close_client(own_client, own_cluster)
        raise
    pending = [c for c in cells if c.key not in done]
    if log and done:
        log(f"resuming: {len(done)} of {len(cells)} cells already done in {ckdir}")

    keep_vars = study.output.get("ensemble_vars")

    def save(cell: Cell, result: tuple[xr.Dataset, xr.DataTree | None]) -> None:
        ds, ens = result
        ens = ens if keep_ensembles else None
        if ens is not None and keep_vars is not None:
            ens = _select_vars(ens, keep_vars)
        children = {"ensemble": ens} if ens is not None else {}
        write_tree_atomic(xr.DataTree(dataset=ds, children=children), _cell_path(ckdir, cell))
        done[cell.key] = (ds, ens)

    bar = tqdm(
        total=len(cells),
        initial=len(done),
        desc=study.name,
        unit="cell",
        disable=progress is False if progress is not None else None,
        leave=False,
    )
    try:
        t0 = time.perf_counter()
        if client is None:
            for cell in pending:
                bar.set_postfix_str(f"{cell.part} {cell.label}", refresh=True)
                try:
                    result = run_cell(cell, progress=not bar.disable)
                except Exception as exc:
                    raise CellFailed(cell, exc, len(done), ckdir) from exc
                save(cell, result)
                bar.update()
        else:
            for cell, result in _iter_dask(client, pending, done, ckdir):
                bar.set_postfix_str(f"{cell.part} {cell.label}", refresh=False)
                save(cell, result)
                bar.update()
        elapsed = time.perf_counter() - t0
    except KeyboardInterrupt:
        bar.close()
        raise StudyInterrupted(len(done), len(cells), ckdir) from None
    finally:
        bar.close()
        _close_client(own_client, own_cluster)

    children: dict[str, xr.DataTree] = {}
    results = {}
    ensembles: dict[str, xr.DataTree] = {}
    for part in study.parts:
        part_cells = part.cells(study.seed)
        results[part.name] = xr.DataTree(assemble_part(part, [done[c.key][0] for c in part_cells]))
        ens = {c.label: done[c.key][1] for c in part_cells if done[c.key][1] is not None}
        if ens:
            ensembles[part.name] = xr.DataTree(children=ens)
    children["results"] = xr.DataTree(children=results)
    if ensembles:
        children["ensembles"] = xr.DataTree(children=ensembles)
    tree = xr.DataTree(dataset=xr.Dataset(attrs=provenance(study)), children=children)
    write_tree_atomic(tree, out)
    shutil.rmtree(ckdir, ignore_errors=True)
    if log:
        log(f"{len(pending)} cells computed in {elapsed:.1f} s; wrote {out}")
    return tree
