"""Peer samplers' output in dlnmc's ensemble layout.

:func:`from_emcee` and :func:`from_mici` turn an emcee run or a mici trace
into the ``DataTree`` of :func:`dlnmc.ensemble.build_tree`, so peers are
compared with the same tools (ArviZ, :func:`dlnmc.ensemble.diagnostics`,
:mod:`dlnmc.plots`) as dlnmc's own samplers.

Flat parameter vectors are split into named variables by a *layout*: a
mapping ``name -> shape`` consumed in order, e.g. ``{"W": (N, d, d)}`` for a
mici position vector of length ``N d^2`` or ``{"singular_values": (d,)}`` for
emcee on the reduced density. Given ``depth``, the standard derived variables
are filled in where they can be computed: ``X = W_N ... W_1`` from ``W``,
``singular_values`` (descending) from ``X``, the closed-form ``entropy`` from
the singular values, ``energy = |X - Y|_F^2 / 2`` (from the singular values
when ``Y = 0``) and ``trace_X``.

Over ``C`` and ``H`` (``field=``) the layout's matrices are real components, as
in the ensembles of ``sample_balanced(field=...)``: ``X (..., d, d, b)`` and
``W (..., N, d, d, b)`` in the order ``(re, i, j, k)``
(:meth:`dlnmc.fields.Field.to_components`); singular values are those over
``F`` (each once over ``H``), the entropy is ``S_b`` and the energy uses the
real inner product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth
from dlnmc.ensemble import build_tree
from dlnmc.entropy import entropy_sv
from dlnmc.fields import Field, resolve_field
from dlnmc.network import end_to_end

__all__ = ["add_derived", "from_emcee", "from_mici"]

# mici statistic names -> ArviZ's sample_stats conventions.
_MICI_STATS = {
    "accept_stat": "acceptance_rate",
    "n_step": "n_steps",
    "diverging": "diverging",
    "step_size": "step_size",
    "tree_depth": "tree_depth",
}


def _split(flat: NDArray, layout: Mapping[str, Sequence[int]], what: str) -> dict[str, NDArray]:
    """Split ``flat (chain, draw, p)`` into variables of shape ``(chain, draw, *shape)``."""
    sizes = {k: int(np.prod(v, dtype=np.int64)) for k, v in layout.items()}
    if sum(sizes.values()) != flat.shape[-1]:
        raise ValueError(
            f"layout {dict(layout)} needs {sum(sizes.values())} parameters but {what} has "
            f"{flat.shape[-1]}"
        )
    out, start = {}, 0
    for name, shape in layout.items():
        n = sizes[name]
        out[name] = flat[..., start : start + n].reshape(*flat.shape[:2], *tuple(shape))
        start += n
    return out


def add_derived(
    posterior: Mapping[str, NDArray],
    depth: int,
    target: ArrayLike | None = None,
    *,
    field: str | Field = "real",
) -> dict[str, NDArray]:
    """Fill in the standard derived variables that are missing (module notes).

    Parameters
    ----------
    posterior : mapping of str to ndarray
        Arrays of shape ``(chain, draw, ...)``; may hold ``W``, ``X`` or
        ``singular_values``.
    depth : int
        ``N``.
    target : array_like, optional
        ``Y`` of the energy ``|X - Y|^2 / 2`` in the storage of ``field``
        (``(d, d)`` real or complex, ``(2d, 2d)`` over ``H``); ``None`` means zero.
    field : {"real", "complex", "quaternion"} or Field, keyword-only

    Returns
    -------
    dict
        ``posterior`` plus whichever of ``X``, ``singular_values`` (descending),
        ``entropy``, ``energy``, ``trace_X`` could be computed (``X`` and
        ``trace_X`` in real components over ``C``, ``H``).
    """
    F = resolve_field(field)
    N = check_depth(depth)
    post = dict(posterior)

    def stored(name: str) -> NDArray:  # a layout variable in the storage of F
        return np.asarray(post[name]) if F.is_real else F.from_components(post[name])

    X = None
    if "W" in post and "X" not in post:
        X = end_to_end(stored("W"), F)
        post["X"] = X if F.is_real else F.to_components(X)
    elif "X" in post:
        X = stored("X")
    if X is not None and "singular_values" not in post:
        post["singular_values"] = F.singular_values_unchecked(X)
    if "singular_values" in post:
        s = -np.sort(-np.abs(np.asarray(post["singular_values"], dtype=float)), axis=-1)
        post["singular_values"] = s
        if "entropy" not in post and np.all(s > 0):
            post["entropy"] = entropy_sv(s, N, field=F)
    if "energy" not in post:
        if X is not None:
            r = X if target is None else X - F.asarray(target)
            post["energy"] = 0.5 * F.sq_norm(r)
        elif target is None and "singular_values" in post:
            post["energy"] = 0.5 * (post["singular_values"] ** 2).sum(axis=-1)
    if X is not None and "trace_X" not in post:
        if F.is_real:
            post["trace_X"] = np.trace(X, axis1=-2, axis2=-1)
        else:  # tr_F X component by component (np.trace of chi(X) would mix them)
            comps = F.to_components(X)
            idx = np.arange(comps.shape[-2])
            post["trace_X"] = comps[..., idx, idx, :].sum(axis=-2)
    return post


def from_emcee(
    sampler_or_chain: Any,
    *,
    layout: Mapping[str, Sequence[int]] | None = None,
    discard: int = 0,
    thin: int = 1,
    depth: int | None = None,
    target: ArrayLike | None = None,
    attrs: Mapping[str, Any] | None = None,
    field: str | Field = "real",
) -> xr.DataTree:
    """An emcee run as a dlnmc ensemble.

    Parameters
    ----------
    sampler_or_chain : emcee.EnsembleSampler, emcee backend, or ndarray
        Anything with ``get_chain`` (and then ``get_log_prob`` for
        ``sample_stats.lp``), or an array of shape ``(n_steps, n_walkers,
        ndim)`` as ``get_chain()`` returns it (e.g. already transformed, such
        as ``np.exp(chain)`` for a run in ``log s``).
    layout : mapping name -> shape, optional
        How the ``ndim`` columns split into variables (module notes);
        default ``{"theta": (ndim,)}``.
    discard, thin : int
        Passed to ``get_chain`` (applied to an array by slicing).
    depth : int, optional
        ``N``; if given, derived variables are added (:func:`add_derived`).
    target : array_like, optional
        ``Y`` for the energy.
    attrs : mapping, optional
        Extra root attributes.
    field : {"real", "complex", "quaternion"} or Field
        The field of the sampled matrices (module notes); recorded as the root
        attribute ``field``.

    Returns
    -------
    xarray.DataTree
        Walkers become ``chain``, steps ``draw``. Walkers of an ensemble
        sampler are not independent chains, so R-hat across them is only
        indicative. The walkers' acceptance fractions are stored in the root
        attribute ``acceptance_fraction``.
    """
    F = resolve_field(field)
    lp = None
    extra: dict[str, Any] = {"sampler": "emcee", "field": F.name}
    if hasattr(sampler_or_chain, "get_chain"):
        chain = np.asarray(sampler_or_chain.get_chain(discard=discard, thin=thin))
        if hasattr(sampler_or_chain, "get_log_prob"):
            lp = np.asarray(sampler_or_chain.get_log_prob(discard=discard, thin=thin))
        acc = getattr(sampler_or_chain, "acceptance_fraction", None)
        if acc is not None:
            extra["acceptance_fraction"] = np.asarray(acc, dtype=float)
    else:
        chain = np.asarray(sampler_or_chain)[discard::thin]
    if chain.ndim != 3 or chain.shape[0] == 0:
        raise ValueError(
            f"emcee chain must have shape (n_steps, n_walkers, ndim) with n_steps > 0, "
            f"got {chain.shape}"
        )
    flat = np.swapaxes(chain, 0, 1)  # (walker, step, ndim) = (chain, draw, ...)
    post = _split(flat, layout or {"theta": (flat.shape[-1],)}, "the emcee chain")
    if depth is not None:
        post = add_derived(post, depth, target, field=F)
    stats = {"lp": np.swapaxes(lp, 0, 1)} if lp is not None else None
    extra.update({"discard": int(discard), "thin": int(thin), **(attrs or {})})
    if depth is not None:
        extra.setdefault("depth", int(depth))
    return _tree(post, stats, extra, F)


def _tree(post: dict, stats: dict | None, attrs: dict, F: Field) -> xr.DataTree:
    """The ensemble tree; over C and H the matrices carry a last dimension ``component``."""
    if F.is_real:
        return build_tree(post, stats, attrs=attrs)
    matrix_dims = {"X": ("row", "col", "component"), "W": ("layer", "row", "col", "component"),
                   "trace_X": ("component",)}  # fmt: skip
    dims = {k: v for k, v in matrix_dims.items() if k in post}
    tree = build_tree(post, stats, dims=dims, attrs=attrs)
    if dims:
        ds = tree["posterior"].to_dataset().assign_coords(component=list(F.components))
        tree["posterior"] = xr.DataTree(ds)
    return tree


def _stack_chains(value: Any, name: str) -> NDArray:
    """mici gives a list of per-chain arrays ``(n_iter, ...)``; stack to ``(chain, draw, ...)``."""
    arr = np.stack([np.asarray(v) for v in value]) if isinstance(value, list | tuple) else value
    arr = np.asarray(arr)
    if arr.ndim < 2:
        raise ValueError(f"mici trace {name!r} must have shape (chain, draw, ...), got {arr.shape}")
    return arr


def _flatten_stats(stats: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in stats.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):  # older mici nests statistics per transition
            out.update(_flatten_stats(value, name + "_"))
        else:
            out[name] = value
    return out


def from_mici(
    traces: Any,
    statistics: Mapping[str, Any] | None = None,
    *,
    layout: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
    depth: int | None = None,
    target: ArrayLike | None = None,
    attrs: Mapping[str, Any] | None = None,
    field: str | Field = "real",
) -> xr.DataTree:
    """A mici run (``sample_chains`` output, or its traces) as a dlnmc ensemble.

    Parameters
    ----------
    traces : mici ``MCMCSampleChainsOutputs`` / ``HMCSampleChainsOutputs``, or mapping
        The output of ``sampler.sample_chains`` (its ``traces`` and
        ``statistics`` are used), or a ``traces`` dict: name -> list of
        per-chain arrays ``(n_iter, ...)`` or an array ``(chain, draw, ...)``.
    statistics : mapping, optional
        mici's ``statistics`` dict when ``traces`` is a dict. Names are mapped
        to ArviZ's ``sample_stats`` conventions (``accept_stat`` ->
        ``acceptance_rate``, ``n_step`` -> ``n_steps``; others kept).
    layout : mapping trace name -> (mapping name -> shape), optional
        Traces to split into variables, e.g. ``{"pos": {"W": (N, d, d)}}``.
        Other traces are kept under their own names; ``hamiltonian`` goes to
        ``sample_stats``.
    depth : int, optional
        ``N``; if given, derived variables are added (:func:`add_derived`).
    target : array_like, optional
        ``Y`` for the energy.
    attrs : mapping, optional
        Extra root attributes.
    field : {"real", "complex", "quaternion"} or Field
        As for :func:`from_emcee`.

    Returns
    -------
    xarray.DataTree
    """
    F = resolve_field(field)
    if hasattr(traces, "traces") and hasattr(traces, "statistics"):
        traces, statistics = traces.traces, traces.statistics
    if not isinstance(traces, Mapping) or not traces:
        raise TypeError("traces must be mici's sample_chains output or a non-empty dict of traces")
    post: dict[str, NDArray] = {}
    stats: dict[str, NDArray] = {}
    for name, value in traces.items():
        arr = _stack_chains(value, name)
        if layout and name in layout:
            flat = arr.reshape(*arr.shape[:2], -1)
            post.update(_split(flat, layout[name], f"trace {name!r}"))
        elif name == "hamiltonian":
            stats["hamiltonian"] = arr
        else:
            post[name] = arr
    for name, value in _flatten_stats(statistics or {}).items():
        stats[_MICI_STATS.get(name, name)] = _stack_chains(value, name)
    if depth is not None:
        post = add_derived(post, depth, target, field=F)
    extra: dict[str, Any] = {"sampler": "mici", "field": F.name, **(attrs or {})}
    if depth is not None:
        extra.setdefault("depth", int(depth))
    return _tree(post, stats or None, extra, F)
