"""The Boltzmann entropy S(X) of Menon and Yu, and the densities it enters.

All formulas follow MATH.md sections 3, 5 and 6 (real field). The public
functions take ``field="real" | "complex" | "quaternion"`` (MATH.md section 8);
other fields are delegated to :mod:`dlnmc.entropy_fields`, imported lazily
because it builds on this module. The real path does not touch it. Everything is
evaluated in log space from ``t_i = log s_i``: with ``x_i = s_i^{2/N}``,
``t_i >= t_j`` and ``v = x_j / x_i = exp(-2 (t_i - t_j) / N)``,

    D_ij = sum_{k=0}^{N-1} x_i^k x_j^{N-1-k} = x_i^{N-1} * sum_{k=0}^{N-1} v^k,

so ``log D_ij = 2 (1 - 1/N) t_i + log G_N(v)`` with the geometric sum
``G_N(v) = 1 + v + ... + v^{N-1}`` in ``[1, N]``. ``G_N`` is a sum of positive
terms (no cancellation), tends to ``N`` at a collision, and never overflows,
so singular values from 1e-100 to 1e100 and depths up to 1e5 are safe.
"""

from __future__ import annotations

import importlib

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_singular_values, check_square
from dlnmc.groups import log_group_volume

__all__ = [
    "entropy",
    "entropy_sv",
    "log_D",
    "log_D_pairs",
    "log_rho",
    "log_rho_sv",
    "log_sv_density",
    "singular_values",
]

# Horner evaluation of G_N costs N-1 fused steps; past this depth the closed
# ratio expm1(-2 delta) / expm1(-2 delta / N) is cheaper.
_HORNER_MAX_DEPTH = 24
# expm1 is accurate to an ulp relative to its value, so the closed ratio is
# accurate for any positive gap; near a collision it is 0/0 (or underflows for
# subnormal gaps), so below this gap use its series, exact to O(gap^4).
_SMALL_GAP = 1e-8
# Rows per chunk in entropy_sv: keeps temporaries in cache on large batches.
_CHUNK_ROWS = 8192


def _other_field():
    """:mod:`dlnmc.entropy_fields`, imported on first use (it imports this module)."""
    # import_module, not "from dlnmc import": robust while dlnmc/__init__ is half-run.
    return importlib.import_module("dlnmc.entropy_fields")


def _geometric_sum(delta: NDArray[np.float64], depth: int) -> NDArray[np.float64]:
    """``G_N(exp(-2 delta / N)) = D_ij / x_max^{N-1}`` for gaps ``delta = |t_i - t_j| >= 0``.

    Returns a new array with values in ``[1, N]``.
    """
    if depth == 1:
        return np.ones_like(delta)
    if depth <= _HORNER_MAX_DEPTH:
        v = np.exp(delta * (-2.0 / depth))
        g = v + 1.0
        for _ in range(depth - 2):
            g *= v
            g += 1.0
        return g
    # G_N(v) = (1 - v^N) / (1 - v) = expm1(-2 delta) / expm1(-2 delta / N).
    small = delta < _SMALL_GAP
    safe = np.where(small, 1.0, delta)
    g = np.expm1(-2.0 * safe)
    g /= np.expm1(safe * (-2.0 / depth))
    if np.any(small):
        ds = delta[small]
        inv = 1.0 / depth
        # log G = log N - delta (1 - 1/N) + delta^2 (1 - 1/N^2) / 6 + O(delta^4)
        g[small] = depth * np.exp(-ds * (1.0 - inv) + ds * ds * (1.0 - inv * inv) / 6.0)
    return g


def _log_D_from_logs(
    t_hi: NDArray[np.float64], t_lo: NDArray[np.float64], depth: int
) -> NDArray[np.float64]:
    """``log D_ij`` from ``t_hi = max(t_i, t_j)`` and ``t_lo = min(t_i, t_j)``."""
    return 2.0 * (1.0 - 1.0 / depth) * t_hi + np.log(_geometric_sum(t_hi - t_lo, depth))


def check_invertible(s: NDArray[np.float64], name: str = "X") -> NDArray[np.float64]:
    """Return the descending singular values ``s`` of ``name``, or raise if it is singular.

    Singular to working precision means ``s_min <= d * eps * s_max``: the
    entropy is undefined there. Callers that need the full SVD pass its ``s``
    here instead of computing a second decomposition.
    """
    d = s.shape[-1]
    tiny = s[..., -1] <= d * np.finfo(np.float64).eps * s[..., 0]
    if np.any(tiny) or np.any(s[..., -1] <= 0):
        bad = tiny | (s[..., -1] <= 0)
        # Plain ints, and no batch index at all for a single matrix.
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        where = f" at batch index {idx}" if idx else ""
        raise ValueError(
            f"{name} is singular (or numerically singular){where}: "
            f"smallest singular value {float(s[..., -1][idx]):.3g}; "
            "the entropy is defined for invertible X only"
        )
    return s


def singular_values(X: ArrayLike, name: str = "X", *, field: str = "real") -> NDArray[np.float64]:
    """Singular values of an invertible ``X``, descending, shape ``(..., d)``.

    Raises ``ValueError`` if ``X`` is singular to working precision
    (:func:`check_invertible`). For ``field="complex"`` ``X`` is complex
    ``(..., d, d)``; for ``"quaternion"`` the complex ``(..., 2d, 2d)``
    representation of ``docs/fields.md`` and each singular value is returned
    once (:func:`dlnmc.fields.singular_values_field`).
    """
    if field != "real":
        from dlnmc.fields import singular_values_field

        return singular_values_field(X, field)
    X = check_square(X, name)
    return check_invertible(np.linalg.svd(X, compute_uv=False), name)


def log_D_pairs(s: ArrayLike, depth: int) -> NDArray[np.float64]:
    """``log D_ij`` for all ``i < j``.

    Parameters
    ----------
    s : array_like, shape (..., d)
        Singular values, any order, strictly positive.
    depth : int
        Network depth ``N >= 1``.

    Returns
    -------
    ndarray, shape (..., d(d-1)/2)
        Pairs in ``numpy.triu_indices(d, 1)`` order of the given ``s``.
    """
    s = check_singular_values(s)
    N = check_depth(depth)
    t = np.log(s)
    iu, ju = np.triu_indices(s.shape[-1], 1)
    ti, tj = t[..., iu], t[..., ju]
    return _log_D_from_logs(np.maximum(ti, tj), np.minimum(ti, tj), N)


def log_D(s: ArrayLike, depth: int) -> NDArray[np.float64]:
    """The full matrix ``log D_ij`` of MATH.md section 3, diagonal included.

    ``D_ij`` is the factor by which ``A_{N,X}`` multiplies entry ``(i, j)`` of
    ``U^T P V``; ``D_ii = N s_i^{2(N-1)/N}``.

    Returns
    -------
    ndarray, shape (..., d, d)
        Symmetric, in the order of the given ``s``.
    """
    s = check_singular_values(s)
    N = check_depth(depth)
    t = np.log(s)
    ti, tj = t[..., :, None], t[..., None, :]
    return _log_D_from_logs(np.maximum(ti, tj), np.minimum(ti, tj), N)


def entropy_sv(
    s: ArrayLike, depth: int, *, field: str = "real"
) -> NDArray[np.float64] | np.float64:
    """Boltzmann entropy ``S`` from singular values.

    ``S = (N-1) log c_d + 1/2 sum_{i<j} log D_ij`` (MATH.md section 5), the log
    volume of the orbit ``O_X`` in the Frobenius metric. Over ``C`` and ``H``,
    ``S_b = (N-1) log vol(G_d) + (b/2) sum_{i<j} log D_ij + ((b-1)/2) sum_i log D_ii``
    (MATH.md section 8).

    Parameters
    ----------
    s : array_like, shape (..., d)
        Singular values of ``X`` (any order), strictly positive and finite.
    depth : int
        Network depth ``N >= 1``.
    field : {"real", "complex", "quaternion"}, keyword-only
        The field ``F`` (MATH.md section 8); ``"real"`` is the code below,
        the others call :mod:`dlnmc.entropy_fields`. Anything else raises.

    Returns
    -------
    ndarray of shape (...) or numpy.float64
        ``S``, float64; a ``numpy.float64`` scalar (a ``float`` subclass) for a single vector.

    Examples
    --------
    >>> print(round(entropy_sv([2.0, 0.5], 3), 12))
    6.437819430804
    """
    if field != "real":
        return _other_field().entropy_sv_field(s, depth, field)
    s = check_singular_values(s)
    N = check_depth(depth)
    d = s.shape[-1]
    batch = s.shape[:-1]
    const = (N - 1) * log_group_volume(d)
    if d == 1 or N == 1:
        out = np.full(batch, const)
        return np.float64(out) if out.ndim == 0 else out

    flat = s.reshape(-1, d)
    out = np.empty(flat.shape[0])
    iu, ju = np.triu_indices(d, 1)
    # After a descending sort, t_i >= t_j for every pair i < j, so
    # sum_{i<j} max(t_i, t_j) = sum_i (d-1-i) t_(i).
    weights = (d - 1 - np.arange(d)) * (1.0 - 1.0 / N)
    # Each G_N is in [1, N]: a product of up to `group` of them stays below 2^900.
    group = max(1, int(900.0 / np.log2(float(N))))  # float: N may exceed int64
    n_pairs = iu.size
    n_groups = -(-n_pairs // group)
    pad = n_groups * group - n_pairs
    for start in range(0, flat.shape[0], _CHUNK_ROWS):
        t = np.log(flat[start : start + _CHUNK_ROWS])
        t = -np.sort(-t, axis=-1)
        g = _geometric_sum(t[:, iu] - t[:, ju], N)
        if pad:
            g = np.concatenate([g, np.ones((g.shape[0], pad))], axis=1)
        # One log per group of pairs instead of one per pair: the dominant cost.
        log_g = np.log(g.reshape(g.shape[0], n_groups, group).prod(axis=-1)).sum(axis=-1)
        out[start : start + _CHUNK_ROWS] = t @ weights + 0.5 * log_g
    out = (out + const).reshape(batch)
    return np.float64(out) if out.ndim == 0 else out


def entropy(X: ArrayLike, depth: int, *, field: str = "real") -> NDArray[np.float64] | np.float64:
    """Boltzmann entropy ``S(X) = log vol(O_X)`` of an invertible end-to-end matrix.

    Parameters
    ----------
    X : array_like, shape (..., d, d)
        End-to-end matrices, invertible, finite. Over ``H``: the complex
        ``(..., 2d, 2d)`` representation of ``docs/fields.md``.
    depth : int
        Network depth ``N >= 1``.
    field : {"real", "complex", "quaternion"}, keyword-only
        The field ``F`` (MATH.md section 8); ``"real"`` is the code below,
        the others call :mod:`dlnmc.entropy_fields`. Anything else raises.

    Returns
    -------
    ndarray of shape (...) or numpy.float64
        ``S(X)`` (MATH.md section 5), float64. Depends on ``X`` only through its
        singular values; see :func:`entropy_sv`, which is more accurate for
        extreme condition numbers.
    """
    if field != "real":
        return _other_field().entropy_field(X, depth, field)
    N = check_depth(depth)
    return entropy_sv(singular_values(X), N)


def log_rho_sv(s: ArrayLike, depth: int, *, field: str = "real") -> NDArray[np.float64]:
    """Log Lebesgue density of the push-forward of ``vol_M`` under ``phi`` (MATH.md section 6).

    ``log rho = (N-1) log c_d - (d/2) log N - (N-1)/N sum_i log s_i
    - 1/2 sum_{i<j} log D_ij``, i.e. ``rho = e^S / sqrt(det A_{N,X})``.
    Over ``C``, ``H`` (``field=``): ``log rho_b = (N-1) log vol(G_d)
    - 1/2 sum_i log D_ii - (b/2) sum_{i<j} log D_ij``, a density on ``R^{b d^2}``
    (each real component once, MATH.md section 8).

    Returns
    -------
    ndarray, shape (...)
    """
    if field != "real":
        return _other_field().log_rho_sv_field(s, depth, field)
    s = check_singular_values(s)
    N = check_depth(depth)
    d = s.shape[-1]
    return (
        (N - 1) * log_group_volume(d)
        - 0.5 * d * np.log(N)
        - (N - 1) / N * np.log(s).sum(axis=-1)
        - 0.5 * log_D_pairs(s, N).sum(axis=-1)
    )


def log_rho(X: ArrayLike, depth: int, *, field: str = "real") -> NDArray[np.float64]:
    """``log rho(X)``: the density of ``phi_* vol_M`` against Lebesgue measure ``dX``.

    ``field`` as in :func:`log_rho_sv` (``X`` stored as in :func:`entropy`).

    Returns
    -------
    ndarray, shape (...)
    """
    if field != "real":
        return _other_field().log_rho_field(X, depth, field)
    N = check_depth(depth)
    return log_rho_sv(singular_values(X), N)


def _energy_term(t: NDArray[np.float64], beta: float) -> NDArray[np.float64] | float:
    """``-beta sum_i s_i^2 / 2`` from ``t = log s``, never NaN.

    ``s * s`` overflows for ``s ~ 1e200`` and ``0 * inf`` is NaN; here ``beta = 0``
    contributes exactly 0 and an overflowing energy gives a correct ``-inf``.
    """
    if beta == 0:
        return 0.0
    with np.errstate(over="ignore"):
        return -beta * (0.5 * np.exp(2.0 * t)).sum(axis=-1)


def log_sv_density(
    s: ArrayLike,
    depth: int,
    beta: float = 1.0,
    *,
    alpha: float = 0.5,
    field: str = "real",
) -> NDArray[np.float64]:
    """Unnormalized log density of the singular values of ``X = phi(W)`` on the balanced manifold.

    For ``E = |X|_F^2 / 2`` (orthogonally invariant) the ordered singular values
    have density (MATH.md section 6)

        exp(-beta E) prod_i s_i^{-(N-1)/N} prod_{i<j} |s_i^2 - s_j^2| D_ij^{-alpha}

    with ``alpha = 1/2`` in theory; other ``alpha`` give the alternative family
    used to test the exponent.

    Parameters
    ----------
    s : array_like, shape (..., d)
        Singular values (any order; the density is symmetric).
    depth : int
        ``N >= 1``.
    beta : float
        Inverse temperature ``>= 0``.
    alpha : float
        Exponent of ``D_ij`` (``b alpha`` over ``C``, ``H``).
    field : {"real", "complex", "quaternion"}, keyword-only
        Over ``C``, ``H``: :func:`dlnmc.entropy_fields.log_sv_density_field`,
        ``exp(-beta E) prod_i s_i^{b-1} D_ii^{-1/2} prod_{i<j} |s_i^2 - s_j^2|^b D_ij^{-b alpha}``.

    Returns
    -------
    ndarray, shape (...)
        Up to an additive constant independent of ``s``.
    """
    if field != "real":
        return _other_field().log_sv_density_field(s, depth, beta, field, alpha=alpha)
    s = check_singular_values(s)
    N = check_depth(depth)
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be finite and >= 0, got {beta!r}")
    t = np.log(s)
    iu, ju = np.triu_indices(s.shape[-1], 1)
    hi, lo = np.maximum(t[..., iu], t[..., ju]), np.minimum(t[..., iu], t[..., ju])
    # log |s_i^2 - s_j^2| = 2 t_hi + log(-expm1(-2 (t_hi - t_lo))), exact for tiny gaps.
    with np.errstate(divide="ignore"):
        log_vdm = 2.0 * hi + np.log(-np.expm1(-2.0 * (hi - lo)))
    return (
        _energy_term(t, beta)
        - (N - 1) / N * t.sum(axis=-1)
        + (log_vdm - alpha * _log_D_from_logs(hi, lo, N)).sum(axis=-1)
    )
