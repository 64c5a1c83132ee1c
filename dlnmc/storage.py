"""Saving and loading ensembles and study results, atomically.

Files are ``xarray.DataTree`` s written as netCDF4 through h5netcdf (``.nc``,
the default) or as zarr (``.zarr``), so ``xarray.open_datatree`` and ArviZ read
them with no arguments.

Attributes
----------
netCDF attributes can only be strings, numbers and numeric arrays. Every
attribute value that is none of these (a dict such as sampler settings, a list
of strings, a bool, ``None``) is stored as a JSON string under the name
``<name>_json``; :func:`load_tree` decodes ``*_json`` attributes back under
``<name>``. Someone reading a file with plain xarray sees the JSON text. The
same rule is applied to zarr so the two formats load identically.

Atomicity
---------
A file is written to a temporary sibling ``.<name>.<pid>.<random>.tmp``,
flushed and fsynced, then renamed over the target with ``os.replace``, and the
directory is fsynced. A writer killed at any point therefore leaves the
previous complete file (or no file), plus at worst its temporary; temporaries
of writers that are no longer running are removed by the next write to the
same path. A zarr store is a directory, which ``os.replace`` cannot swap for
an existing non-empty directory: the old store is first renamed aside and then
deleted, so a kill between the two renames leaves no file at the target (never
a partial one) and the previous store under ``.<name>.<pid>.<random>.old``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

__all__ = [
    "EnsembleWriter",
    "atomic_path",
    "decode_attrs",
    "encode_attrs",
    "load_tree",
    "save_tree",
    "sweep_stale_temporaries",
]

Format = Literal["netcdf", "zarr"]
JSON_SUFFIX = "_json"
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.(?:tmp|old)$")


# --------------------------------------------------------------------------- attributes


def _netcdf_native(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False  # netCDF has no boolean attribute type
    if isinstance(value, str | int | float | np.integer | np.floating):
        return True
    return (
        isinstance(value, np.ndarray)
        and value.ndim == 1
        and (np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating))
    )


def _to_json(value: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"attribute value of type {type(o).__name__} is not JSON-serializable")

    return json.dumps(value, default=default, sort_keys=True)


def encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes made storable in netCDF: non-native values become ``<name>_json`` strings.

    Parameters
    ----------
    attrs : mapping
        Attribute names to values.

    Returns
    -------
    dict
        Strings, numbers and 1-d numeric arrays unchanged; anything else
        (dict, list, tuple, bool, None, ...), and any value whose name already
        ends in ``_json``, JSON-encoded under ``name + "_json"``.

    Raises
    ------
    TypeError
        If a value cannot be JSON-encoded.
    ValueError
        If encoding would clash with an existing attribute name.
    """
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        # A name already ending in _json is encoded too, or load would json.loads a plain string.
        if _netcdf_native(value) and not name.endswith(JSON_SUFFIX):
            key, val = name, value
        else:
            try:
                key, val = name + JSON_SUFFIX, _to_json(value)
            except TypeError as exc:
                raise TypeError(f"attribute {name!r}: {exc}") from None
        if key in out or (key != name and key in attrs):
            raise ValueError(f"attribute {name!r} would be stored as {key!r}, which already exists")
        out[key] = val
    return out


def decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`encode_attrs`: ``<name>_json`` strings are decoded to ``<name>``."""
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        if name.endswith(JSON_SUFFIX) and isinstance(value, str) and len(name) > len(JSON_SUFFIX):
            out[name[: -len(JSON_SUFFIX)]] = json.loads(value)
        else:
            out[name] = value
    return out


def _map_attrs(tree: xr.DataTree, fn: Callable[[Mapping[str, Any]], dict]) -> xr.DataTree:
    """A copy of ``tree`` with ``fn`` applied to the attributes of every node and variable."""
    tree = tree.copy(deep=False)
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        for var in ds.variables.values():
            var.attrs = fn(var.attrs)
        ds.attrs = fn(ds.attrs)
        node.dataset = ds
    return tree


# --------------------------------------------------------------------------- atomic paths


def _format_of(path: Path, format: Format | None) -> Format:
    if format is not None:
        if format not in ("netcdf", "zarr"):
            raise ValueError(f"format must be 'netcdf' or 'zarr', got {format!r}")
        return format
    if path.suffix == ".zarr":
        return "zarr"
    if path.suffix in (".nc", ".nc4", ".h5", ".hdf5", ""):
        return "netcdf"
    raise ValueError(
        f"cannot tell the format of {str(path)!r} from its suffix {path.suffix!r}; "
        "use .nc (netCDF) or .zarr, or pass format='netcdf' or format='zarr'"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by writers that are no longer running.

    Returns the removed paths. Temporaries of live processes are kept.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for p in path.parent.iterdir():
        m = _TEMP_RE.match(p.name)
        if m and m["name"] == path.name and not _pid_alive(int(m["pid"])):
            _remove(p)
            removed.append(p)
    return removed


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def _temp_sibling(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{kind}")


def _fsync_path(p: Path) -> None:
    """fsync a file, or every file in a directory tree and the directories."""
    if p.is_dir():
        for root, _dirs, files in os.walk(p):
            for f in files:
                _fsync_path(Path(root) / f)
            _fsync_dir(Path(root))
        return
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit(tmp: Path, path: Path) -> None:
    """Move a complete, fsynced temporary into place (see the module notes)."""
    if tmp.is_dir() and path.exists():
        old = _temp_sibling(path, "old")
        os.replace(path, old)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        _remove(old)
    else:
        os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; on success fsync it and rename it into place.

    On an exception the temporary is removed and ``path`` is left untouched.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {str(path.parent)!r} does not exist")
    sweep_stale_temporaries(path)
    tmp = _temp_sibling(path)
    try:
        yield tmp
        _fsync_path(tmp)
        _commit(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


# --------------------------------------------------------------------------- save / load


def save_tree(
    tree: xr.DataTree | xr.Dataset, path: str | os.PathLike, *, format: Format | None = None
) -> Path:
    """Write an ensemble or a study result atomically.

    Parameters
    ----------
    tree : xarray.DataTree or xarray.Dataset
        What to save (a Dataset is saved as the root of a one-node tree).
    path : str or path-like
        Target file. Its directory must exist.
    format : {"netcdf", "zarr"}, optional
        Default from the suffix: ``.zarr`` is zarr, ``.nc`` (or none) netCDF4
        through the h5netcdf engine.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Non-netCDF attribute values are stored as ``<name>_json`` strings (module
    notes). The write is atomic: a reader, or a crash, sees the previous
    complete file or the new one, never a mixture.
    """
    if isinstance(tree, xr.Dataset):
        tree = xr.DataTree(tree)
    if not isinstance(tree, xr.DataTree):
        raise TypeError(f"tree must be an xarray.DataTree or Dataset, got {type(tree).__name__}")
    path = Path(path)
    fmt = _format_of(path, format)
    encoded = _map_attrs(tree, encode_attrs)
    with atomic_path(path) as tmp:
        if fmt == "netcdf":
            encoded.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=False)
        else:
            # Without consolidated metadata: it is not part of the zarr v3 spec.
            encoded.to_zarr(tmp, mode="w-", consolidated=False)
    return path


def load_tree(path: str | os.PathLike, *, format: Format | None = None) -> xr.DataTree:
    """Read a file written by :func:`save_tree` (or :class:`EnsembleWriter`) into memory.

    Parameters
    ----------
    path : str or path-like
    format : {"netcdf", "zarr"}, optional
        Default from the suffix, as in :func:`save_tree`.

    Returns
    -------
    xarray.DataTree
        Fully loaded (the file is closed on return), with ``<name>_json``
        attributes decoded back to ``<name>``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such ensemble file: {str(path)!r}")
    fmt = _format_of(path, format)
    engine = "h5netcdf" if fmt == "netcdf" else "zarr"
    kwargs = {"consolidated": False} if fmt == "zarr" else {}
    with xr.open_datatree(path, engine=engine, **kwargs) as tree:
        loaded = tree.load().copy(deep=True)
    return _map_attrs(loaded, decode_attrs)


# --------------------------------------------------------------------------- streaming

# Target size of one HDF5 chunk: large enough for fast sequential appends, small
# enough that h5py's per-dataset chunk cache (1 MiB) holds a whole chunk.
_CHUNK_BYTES = 1 << 20


class EnsembleWriter:
    """Stream an ensemble to a netCDF4 file chunk by chunk, atomically.

    Draws are appended along an unlimited ``draw`` dimension (h5netcdf), so
    peak memory is set by the chunk passed to :meth:`append`, not by the total
    number of draws. The file is written to a temporary sibling and renamed
    into place by :meth:`close`; on an exception inside the ``with`` block (or
    :meth:`abort`) the temporary is removed and any previous file at ``path``
    is left as it was. The result has the layout of
    :func:`dlnmc.ensemble.build_tree` and opens with ``xarray.open_datatree``
    and ArviZ.

    Parameters
    ----------
    path : str or path-like
        Target ``.nc`` file; its directory must exist.
    attrs : mapping, optional
        Root attributes; :func:`dlnmc.ensemble.provenance_attrs` is added
        first, and non-netCDF values are JSON-encoded (:func:`encode_attrs`).
    dims : mapping, optional
        Dimension names after ``(chain, draw)``, merged over
        :data:`dlnmc.ensemble.DEFAULT_DIMS`.
    coords : mapping, optional
        Labels (strings) of dimensions after ``(chain, draw)``, e.g.
        ``{"component": ["re", "i"]}``; other dimensions get integer coordinates.
        Boolean variables are stored as xarray stores them (``int8`` with
        ``dtype = "bool"``), so they read back as booleans.

    Examples
    --------
    >>> with EnsembleWriter("run.nc", attrs={"depth": 3}) as w:  # doctest: +SKIP
    ...     for chunk in chunks:  # each of shape (chain, k, ...)
    ...         w.append({"X": chunk.X, "singular_values": chunk.s}, {"acceptance": chunk.acc})
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        attrs: Mapping[str, Any] | None = None,
        dims: Mapping[str, tuple[str, ...]] | None = None,
        coords: Mapping[str, Any] | None = None,
    ) -> None:
        import h5netcdf

        from dlnmc.ensemble import DEFAULT_DIMS, provenance_attrs

        self.path = Path(path)
        if _format_of(self.path, None) != "netcdf":
            raise ValueError(f"EnsembleWriter writes netCDF (.nc), got {str(self.path)!r}")
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"directory {str(self.path.parent)!r} does not exist")
        self._dims = {**DEFAULT_DIMS, **(dims or {})}
        self._coords = {k: [str(v) for v in vals] for k, vals in (coords or {}).items()}
        sweep_stale_temporaries(self.path)
        self._tmp = _temp_sibling(self.path)
        self._file = h5netcdf.File(self._tmp, "w")
        self._file.attrs.update(encode_attrs(provenance_attrs(**(attrs or {}))))
        self._layout: dict[str, dict[str, tuple[tuple[int, ...], np.dtype]]] | None = None
        self._n_chains = 0
        self.n_draws = 0
        self._closed = False

    # -- context manager
    def __enter__(self) -> EnsembleWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- layout
    def _declare(self, groups: dict[str, Mapping[str, np.ndarray]]) -> None:
        import h5py

        first = next(iter(next(iter(groups.values())).values()))
        self._n_chains = first.shape[0]
        self._layout = {}
        for gname, arrays in groups.items():
            g = self._file.create_group(gname)
            sizes: dict[str, int] = {"chain": self._n_chains, "draw": 0}
            layout = {}
            for name, a in arrays.items():
                extra = tuple(self._dims.get(name, [f"{name}_dim_{i}" for i in range(a.ndim - 2)]))
                if len(extra) != a.ndim - 2:
                    raise ValueError(
                        f"{gname}.{name} must have shape (chain, draw, {', '.join(extra)}), "
                        f"got {a.shape}"
                    )
                for dim, n in zip(extra, a.shape[2:], strict=True):
                    if sizes.setdefault(dim, n) != n:
                        raise ValueError(
                            f"dimension {dim!r} has size {sizes[dim]} and {n} in group {gname!r}"
                        )
                layout[name] = (extra, a.shape[2:], a.dtype)
            g.dimensions = {k: (None if k == "draw" else v) for k, v in sizes.items()}
            # Integer coordinates on every dimension, as build_tree writes them.
            for dim, n in sizes.items():
                if dim == "draw":
                    g.create_variable("draw", ("draw",), np.int64, chunks=(1 << 16,))
                elif dim in self._coords:
                    labels = np.array(self._coords[dim], dtype=object)
                    if labels.size != n:
                        raise ValueError(f"coords[{dim!r}] has {labels.size} labels, not {n}")
                    g.create_variable(dim, (dim,), data=labels, dtype=h5py.string_dtype())
                else:
                    g.create_variable(dim, (dim,), np.int64, data=np.arange(n))
            for name, (extra, shape, dtype) in layout.items():
                stored = np.dtype(np.int8) if dtype == np.bool_ else dtype
                per_draw = max(1, int(np.prod(shape, dtype=np.int64)) * stored.itemsize)
                chunks = (1, max(1, _CHUNK_BYTES // per_draw), *shape)
                v = g.create_variable(name, ("chain", "draw", *extra), stored, chunks=chunks)
                if dtype == np.bool_:
                    v.attrs["dtype"] = "bool"  # xarray's boolean encoding
            self._layout[gname] = {k: (v[1], v[2]) for k, v in layout.items()}

    def append(
        self,
        posterior: Mapping[str, np.ndarray],
        sample_stats: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Append ``k`` draws of every chain.

        Parameters
        ----------
        posterior, sample_stats : mapping of str to ndarray
            Arrays of shape ``(chain, k, ...)`` with the same ``chain`` and
            ``k`` throughout. The first call fixes the variables, their
            trailing shapes and dtypes; later calls must match.
        """
        if self._closed:
            raise ValueError("EnsembleWriter is closed")
        groups = {
            "posterior": posterior,
            **({"sample_stats": sample_stats} if sample_stats else {}),
        }
        groups = {g: {k: np.asarray(v) for k, v in arrs.items()} for g, arrs in groups.items()}
        if not posterior:
            raise ValueError("posterior must hold at least one variable")
        ks = {a.shape[:2] for arrs in groups.values() for a in arrs.values() if a.ndim >= 2}
        if len(ks) != 1 or any(a.ndim < 2 for arrs in groups.values() for a in arrs.values()):
            raise ValueError(
                "every array must have shape (chain, k, ...) with the same chain and k, got "
                + ", ".join(f"{n}: {a.shape}" for arrs in groups.values() for n, a in arrs.items())
            )
        if self._layout is None:
            self._declare(groups)
        expected = {g: set(v) for g, v in self._layout.items()}
        if {g: set(v) for g, v in groups.items()} != expected:
            raise ValueError(f"append must provide exactly the variables {expected}")
        ((n_chains, k),) = ks
        if n_chains != self._n_chains:
            raise ValueError(f"expected {self._n_chains} chains, got {n_chains}")
        # Check and cast every array before the first resize: a rejected append
        # must not leave draws of some groups in the file.
        for gname, arrays in groups.items():
            for name, a in arrays.items():
                shape, dtype = self._layout[gname][name]
                if a.shape[2:] != shape:
                    raise ValueError(
                        f"{gname}.{name}: expected shape (chain, k, *{shape}), got {a.shape}"
                    )
                arrays[name] = a.astype(dtype, copy=False)
        start, stop = self.n_draws, self.n_draws + k
        for gname, arrays in groups.items():
            g = self._file.groups[gname]
            g.resize_dimension("draw", stop)
            g.variables["draw"][start:stop] = np.arange(start, stop)
            for name, a in arrays.items():
                if a.dtype == np.bool_:
                    a = a.astype(np.int8)
                g.variables[name][:, start:stop, ...] = a
        self.n_draws = stop

    def close(self) -> Path:
        """Finish the file and rename it into place; returns ``path``."""
        if self._closed:
            return self.path
        if self._layout is None:
            self.abort()
            raise ValueError("nothing was appended; no file written")
        try:
            self._file.close()
            _fsync_path(self._tmp)
            _commit(self._tmp, self.path)
        except BaseException:
            _remove(self._tmp)
            raise
        finally:
            self._closed = True
        return self.path

    def abort(self) -> None:
        """Discard the temporary file; any previous file at ``path`` is untouched."""
        if self._closed:
            return
        self._closed = True
        try:
            self._file.close()
        finally:
            _remove(self._tmp)
