"""The ``entropy_sweep`` kind: the entropy S(X) from Gram determinants of the orbit, by cell.

Grid ``width``, ``depth`` and the optional ``field`` (real, complex,
quaternion); settings ``n_points`` and the singular values. The estimate uses
the embedding of the orbit only; the closed form is ``dlnmc.entropy_sv``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.fields import resolve_field
from dlnmc.studies.errors import StudyError
from dlnmc.studies.kinds.common import (
    DEPTH,
    SV_SETTINGS,
    WIDTH,
    cell_dataset,
    check_sv_length,
    draw_singular_values,
    field_key,
    sv_spread,
)
from dlnmc.studies.registry import Kind, register_kind
from dlnmc.studies.values import Setting, integer

__all__ = ["MAX_CELL_FLOATS", "run_entropy_sweep"]

# A cell holds n_points tangent frames (m x K) and their Gram matrices (m x m) at
# once; above this many float64 (1 GiB) it is refused rather than left to run
# out of memory on a machine shared with other cells.
MAX_CELL_FLOATS = 2**27

def run_entropy_sweep(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> xr.Dataset:
    """``S`` from Gram determinants of orbit tangent vectors, against the closed form.

    At ``n_points`` Haar-random points ``W`` of the orbit ``O_X`` the Gram
    matrix ``G`` of the tangent vectors ``B_p W_p - W_p B_{p-1}`` (orthonormal
    ``B`` in ``so(d)^{N-1}``) gives ``S = (N-1) log c_d + 1/2 log det G``: the
    volume of ``O_X`` is that of ``O_d^{N-1}`` stretched by ``sqrt(det G)``.
    This uses the embedding only, not the ``D_ij`` of the closed form.
    ``stderr`` combines the spread over points with the float64 error bound
    ``m eps cond(G) / 2`` of the log-determinant (``m = dim G``): the check is
    exact up to rounding, so ``|z| < 4.5`` says "equal to rounding".

    ``field = "complex"`` or ``"quaternion"`` (docs/guide/fields.md): the same over
    ``F`` with ``U_d`` or ``Sp_d``, ``B`` orthonormal in ``u(d)`` or ``sp(d)`` for
    the real inner product, tangent vectors in real components (``R^{b N d^2}``),
    against ``S_b`` (``dlnmc.entropy_sv(s, N, field=...)``).
    """
    from dlnmc.entropy import entropy_sv
    from dlnmc.groups import haar, log_group_volume
    from dlnmc.network import balanced_factorization, orbit_tangent_vectors

    d, N = params["width"], params["depth"]
    F = resolve_field(params.get("field", "real"))
    rng = np.random.default_rng(ss)
    s = draw_singular_values(d, settings, rng)
    n = settings["n_points"]
    # A generic X with these singular values: U diag(s) V^* with Haar U, V in G_d.
    U, V = haar(d, 2, rng, field=F)
    X = (U * F.expand_diagonal(s)) @ F.ct(V)
    const = (N - 1) * log_group_volume(d, field=F)
    m = (N - 1) * F.group_dimension(d)
    if m == 0:
        values = np.full(n, const)
        floor = np.zeros(n)
    else:
        W = balanced_factorization(np.broadcast_to(X, (n, *X.shape)), N, rng=rng, field=F)
        T = F.realify(orbit_tangent_vectors(W, F), n_axes=3)
        lam = np.linalg.eigvalsh(T @ np.swapaxes(T, -1, -2))
        values = const + 0.5 * np.log(lam).sum(axis=-1)
        floor = 0.5 * m * np.finfo(np.float64).eps * lam[:, -1] / lam[:, 0]
    spread = values.std(ddof=1) / math.sqrt(n) if n > 1 else 0.0
    stderr = math.hypot(spread, float(floor.max()))
    return cell_dataset(
        ["S"],
        values.mean(),
        stderr,
        entropy_sv(s, N, field=F),
        {"singular_values": (("sv",), s)},
    )


def check_entropy_cell(params: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Refuse a cell whose X would be singular to working precision, or too large to hold."""
    d, N = params["width"], params["depth"]
    F = resolve_field(params.get("field", "real"))
    where, ratio = sv_spread(settings)
    # X = U diag(s) V^T is rounded at eps s_max: its computed s_min must stay well above
    # the invertibility threshold d eps s_max of dlnmc.entropy (a factor 100 of margin).
    limit = 1.0 / (100 * d * np.finfo(np.float64).eps)
    if d > 1 and ratio >= limit:
        raise StudyError(
            f"{where} spans s_max / s_min = {ratio:.3g}: X would be singular to working "
            f"precision (the ratio must stay below {limit:.3g} at width {d})"
        )
    m = (N - 1) * F.group_dimension(d)
    floats = settings["n_points"] * m * (F.b * N * d * d + m)
    if floats > MAX_CELL_FLOATS:
        raise StudyError(
            f"the Gram route needs {8 * floats / 2**30:.1f} GiB ({settings['n_points']} points x "
            f"{m} tangent vectors in R^{F.b * N * d * d}), more than the "
            f"{8 * MAX_CELL_FLOATS / 2**30:.0f} GiB a cell may use; lower n_points, width or depth"
        )


ENTROPY_SWEEP = register_kind(
    Kind(
        "entropy_sweep",
        "closed-form S against Gram determinants of the orbit tangent vectors",
        run_entropy_sweep,
        # field is OPTIONAL: studies written before it keep their cells and seeds.
        {"width": WIDTH, "depth": DEPTH, "field": field_key()},
        {
            "n_points": Setting(integer(1), 8, "Haar-random orbit points per cell"),
            **SV_SETTINGS,
        },
        check_part=check_sv_length,
        check_cell=check_entropy_cell,
    )
)
