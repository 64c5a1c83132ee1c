"""Balanced-manifold sampling over C and H: the pieces behind ``sample_balanced(field=...)``.

MATH.md section 8. The sampler state is the component layout of
:mod:`dlnmc.constraint_fields` (real components of every entry, an isometry for
the real inner product), the samplers are :mod:`dlnmc.samplers.fields`, and the
ensemble stores real components along a last ``component`` dimension so that
it can be written to netCDF (which has no complex type) and read back exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dlnmc.constraint_fields import pack, unpack
from dlnmc.energy import Energy, as_energy
from dlnmc.energy_fields import FieldQuadraticEnergy
from dlnmc.ensemble import build_tree
from dlnmc.entropy_fields import entropy_sv_field
from dlnmc.fields import (
    COMPONENT_LABELS,
    check_field,
    conj_transpose,
    dyson_index,
    gaussian_matrix,
    rep_size,
    to_components,
)
from dlnmc.network_fields import balanced_factorization_field
from dlnmc.samplers.fields import FIELD_SAMPLERS

__all__ = [
    "COMPONENT_LABELS",
    "FIELD_SAMPLERS",
    "FieldQuadraticEnergy",
    "balanced_singular_values_field",
    "field_energy",
    "field_tree",
    "initial_points_field",
    "pack",
    "rep_size",
    "unpack",
]


def field_energy(energy: object | None, target: ArrayLike | None, field: str) -> Energy:
    """``energy`` (checked against the protocol), else ``|X - Y|^2 / 2`` over ``field``."""
    if energy is None:
        return FieldQuadraticEnergy(field, target)
    return as_energy(energy, target)


def initial_points_field(
    width: int,
    depth: int,
    n_chains: int,
    rng: np.random.Generator,
    energy: Energy,
    field: str,
) -> NDArray[np.float64]:
    """Over-dispersed starting points on ``M_b`` in the component layout ``(C, N, d, d b)``.

    ``X0 = Y + G`` with ``G`` standard Gaussian over ``F`` (Ginibre), factorized
    with a Haar-random gauge in ``U_d`` or ``Sp_d``.
    """
    X0 = gaussian_matrix(width, field, n_chains, rng)
    Y = getattr(energy, "target", None)
    if Y is not None:
        X0 = X0 + Y
    return pack(balanced_factorization_field(X0, depth, field, rng=rng), field)


def balanced_singular_values_field(W: NDArray, field: str) -> NDArray[np.float64]:
    """Singular values over ``F`` of ``X = phi(W)`` for balanced ``W``, descending ``(..., d)``.

    As for ``b = 1``: ``X^* X = (W_1^* W_1)^N`` on ``M_b``, so ``s_i = sigma_i(W_1)^N``
    (each singular value once for ``H``), with full relative accuracy.
    """
    N = W.shape[-3]
    lam = np.linalg.svd(W[..., 0, :, :], compute_uv=False)
    if check_field(field) == "quaternion":
        lam = lam[..., ::2]  # chi doubles every singular value
    with np.errstate(under="ignore"):
        s = np.exp(N * np.log(lam))
    return np.maximum(s, np.finfo(np.float64).tiny)


def field_tree(
    Wc: NDArray[np.float64],
    energy: NDArray[np.float64],
    sample_stats: dict[str, NDArray],
    attrs: dict[str, Any],
    field: str,
) -> xr.DataTree:
    """The ensemble of ``sample_balanced(field=...)`` from draws in the component layout.

    Parameters
    ----------
    Wc : (chain, draw, N, d, d b) draws; energy : (chain, draw) ``E(X)``.
    sample_stats : per-transition statistics ``(chain, draw)``; ``constraint_residual``
        (largest real component of ``F(W)``) is added.

    Returns
    -------
    xarray.DataTree
        Posterior ``W (..., layer, row, col, component)``, ``X (..., row, col,
        component)``, ``singular_values (..., sv)``, ``entropy`` (``S_b``),
        ``energy``, ``trace_X (..., component)``; coordinate ``component``.
    """
    b = dyson_index(field)
    N, d = Wc.shape[-3], Wc.shape[-2]
    W = unpack(Wc, field)
    X = W[..., 0, :, :]
    for p in range(1, N):
        X = W[..., p, :, :] @ X
    s = balanced_singular_values_field(W, field)
    Xc = to_components(X, field)
    idx = np.arange(d)
    posterior = {
        "W": Wc.reshape(*Wc.shape[:-1], d, b),
        "X": Xc,
        "singular_values": s,
        "entropy": entropy_sv_field(s, N, field),
        "energy": energy,
        "trace_X": Xc[..., idx, idx, :].sum(axis=-2),  # tr_F X, component by component
    }
    if N > 1:
        Wh = conj_transpose(W)
        res = Wh[..., 1:, :, :] @ W[..., 1:, :, :] - W[..., :-1, :, :] @ Wh[..., :-1, :, :]
        comps = to_components(res, field)  # (chain, draw, N-1, d, d, b)
        sample_stats["constraint_residual"] = np.abs(comps).max(axis=(-4, -3, -2, -1))
    else:
        sample_stats["constraint_residual"] = np.zeros(Wc.shape[:2])
    dims = {
        "W": ("layer", "row", "col", "component"),
        "X": ("row", "col", "component"),
        "trace_X": ("component",),
    }
    tree = build_tree(posterior, sample_stats, dims=dims, attrs=attrs)
    post = tree["posterior"].to_dataset().assign_coords(component=list(COMPONENT_LABELS[field]))
    tree["posterior"] = xr.DataTree(post)
    return tree
