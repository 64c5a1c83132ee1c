"""The Boltzmann entropy S(X) of Menon and Yu, and the densities it enters, over R, C and H.

One module for every field ``F`` (Dyson index ``b = 1, 2, 4``; docs/guide/theory.md,
'The metric on observables', 'The entropy formula' and 'The law of X on the balanced
manifold', and docs/guide/fields.md). With ``D_ij`` the factors of the metric operator (diagonal
included, :func:`log_D`):

    S_b(X)   = (N-1) log vol(G_d) + (b/2) sum_{i<j} log D_ij + ((b-1)/2) sum_i log D_ii
    rho_b(X) = vol(G_d)^(N-1) prod_i D_ii^(-1/2) prod_{i<j} D_ij^(-b/2)
    singular values: exp(-beta E) prod_i s_i^(b-1) D_ii^(-1/2)
                     * prod_{i<j} |s_i^2 - s_j^2|^b D_ij^(-b alpha)

(``alpha = 1/2`` in theory); ``b = 1`` is the real theory and its code path is
bit for bit the one the real package always had. The public functions take
``field="real" | "complex" | "quaternion"`` (or a :class:`dlnmc.fields.Field`),
resolve it once and hand the :class:`~dlnmc.fields.Field` down.

Everything is evaluated in log space from ``t_i = log s_i``: with
``x_i = s_i^{2/N}``, ``t_i >= t_j`` and ``v = x_j / x_i = exp(-2 (t_i - t_j) / N)``,

    D_ij = sum_{k=0}^{N-1} x_i^k x_j^{N-1-k} = x_i^{N-1} * sum_{k=0}^{N-1} v^k,

so ``log D_ij = 2 (1 - 1/N) t_i + log G_N(v)`` with the geometric sum
``G_N(v) = 1 + v + ... + v^{N-1}`` in ``[1, N]``. ``G_N`` is a sum of positive
terms (no cancellation), tends to ``N`` at a collision, and never overflows,
so singular values from 1e-100 to 1e100 and depths up to 1e5 are safe.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_singular_values
from dlnmc.fields import Field, resolve_field

__all__ = [
    "check_invertible",
    "energy_from_logs",
    "entropy",
    "entropy_sv",
    "field_entropy_sv",
    "field_log_rho_sv",
    "field_log_sv_density",
    "field_singular_values",
    "log_D",
    "log_D_from_logs",
    "log_D_pair_sum_from_logs",
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


def log_D_from_logs(
    t_hi: NDArray[np.float64], t_lo: NDArray[np.float64], depth: int
) -> NDArray[np.float64]:
    """``log D_ij`` from ``t_hi = max(t_i, t_j)`` and ``t_lo = min(t_i, t_j)`` (``t = log s``).

    No validation (callers have checked ``depth``); broadcasts ``t_hi`` against ``t_lo``.
    """
    return 2.0 * (1.0 - 1.0 / depth) * t_hi + np.log(_geometric_sum(t_hi - t_lo, depth))


def _pairs_from_logs(t: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """``(max(t_i, t_j), min(t_i, t_j))`` for the pairs ``i < j`` in ``triu_indices`` order."""
    iu, ju = np.triu_indices(t.shape[-1], 1)
    ti, tj = t[..., iu], t[..., ju]
    return np.maximum(ti, tj), np.minimum(ti, tj)


def log_D_pair_sum_from_logs(t: NDArray[np.float64], depth: int) -> NDArray[np.float64]:
    """``sum_{i<j} log D_ij`` from ``t = log s`` (any order), shape ``(...)``.

    For callers that hold ``log s`` rather than ``s`` (``s = sigma^N`` can
    overflow where ``N log sigma`` does not). No validation.
    """
    return log_D_from_logs(*_pairs_from_logs(t), depth).sum(axis=-1)


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


def field_singular_values(X: ArrayLike, field: Field, name: str = "X") -> NDArray[np.float64]:
    """:func:`singular_values` for a resolved :class:`~dlnmc.fields.Field` (internal callers)."""
    X = field.check_matrix(X, name)
    return check_invertible(field.singular_values_unchecked(X), name)


def singular_values(
    X: ArrayLike, name: str = "X", *, field: str | Field = "real"
) -> NDArray[np.float64]:
    """Singular values of an invertible ``X`` over ``F``, descending, shape ``(..., d)``.

    ``X`` is stored as in :mod:`dlnmc.fields`: real or complex ``(..., d, d)``,
    or for ``"quaternion"`` the complex ``(..., 2d, 2d)`` representation, whose
    doubled singular values are returned once. Raises ``ValueError`` if ``X``
    is singular to working precision (:func:`check_invertible`).
    """
    return field_singular_values(X, resolve_field(field), name)


def _log_D_pairs(s: NDArray[np.float64], N: int) -> NDArray[np.float64]:
    return log_D_from_logs(*_pairs_from_logs(np.log(s)), N)


def log_D_pairs(s: ArrayLike, depth: int) -> NDArray[np.float64]:
    """``log D_ij`` for all ``i < j`` (the same for every field).

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
    return _log_D_pairs(check_singular_values(s), check_depth(depth))


def log_D(s: ArrayLike, depth: int) -> NDArray[np.float64]:
    """The full matrix ``log D_ij``, diagonal included.

    See docs/guide/theory.md, 'The metric on observables'.

    ``D_ij`` is the factor by which ``A_{N,X}`` multiplies entry ``(i, j)`` of
    ``U^* P V`` (over every field); ``D_ii = N s_i^{2(N-1)/N}``.

    Returns
    -------
    ndarray, shape (..., d, d)
        Symmetric, in the order of the given ``s``.
    """
    s = check_singular_values(s)
    N = check_depth(depth)
    t = np.log(s)
    ti, tj = t[..., :, None], t[..., None, :]
    return log_D_from_logs(np.maximum(ti, tj), np.minimum(ti, tj), N)


def _scalar_or_array(out: NDArray[np.float64]) -> NDArray[np.float64] | np.float64:
    return np.float64(out) if out.ndim == 0 else out


def _log_D_diag_sum(t: NDArray[np.float64], N: int) -> NDArray[np.float64]:
    """``sum_i log D_ii = d log N + 2 (1 - 1/N) sum_i t_i`` from ``t = log s``."""
    return t.shape[-1] * np.log(N) + 2.0 * (1.0 - 1.0 / N) * t.sum(axis=-1)


def field_entropy_sv(
    s: NDArray[np.float64], N: int, field: Field
) -> NDArray[np.float64] | np.float64:
    """``S_b`` from validated singular values ``s (..., d)`` and depth ``N`` (internal callers)."""
    d = s.shape[-1]
    batch = s.shape[:-1]
    const = (N - 1) * field.log_group_volume(d)
    if N == 1 or (d == 1 and field.b == 1):
        return _scalar_or_array(np.full(batch, const))

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
        half_pairs = t @ weights + 0.5 * log_g  # 1/2 sum_{i<j} log D_ij
        if field.b > 1:  # S_b = b (1/2 pairs) + ((b-1)/2) sum_i log D_ii; b = 1 has no diagonal
            half_pairs = field.b * half_pairs + 0.5 * (field.b - 1) * _log_D_diag_sum(t, N)
        out[start : start + _CHUNK_ROWS] = half_pairs
    return _scalar_or_array((out + const).reshape(batch))


def entropy_sv(
    s: ArrayLike, depth: int, *, field: str | Field = "real"
) -> NDArray[np.float64] | np.float64:
    """Boltzmann entropy ``S_b`` from singular values: the log volume of the orbit ``O_X``.

    ``S_b = (N-1) log vol(G_d) + (b/2) sum_{i<j} log D_ij + ((b-1)/2) sum_i log D_ii``
    (docs/guide/theory.md, 'The entropy formula', and docs/guide/fields.md);
    over ``R`` the diagonal term vanishes and ``vol(O_d) = c_d``.

    Parameters
    ----------
    s : array_like, shape (..., d)
        Singular values of ``X`` over ``F`` (any order; over ``H`` each once),
        strictly positive and finite.
    depth : int
        Network depth ``N >= 1``.
    field : {"real", "complex", "quaternion"} or Field, keyword-only
        The field ``F``; anything else raises.

    Returns
    -------
    ndarray of shape (...) or numpy.float64
        ``S``, float64; a ``numpy.float64`` scalar (a ``float`` subclass) for a single vector.

    Examples
    --------
    >>> print(round(entropy_sv([2.0, 0.5], 3), 12))
    6.437819430804
    """
    F = resolve_field(field)
    return field_entropy_sv(check_singular_values(s), check_depth(depth), F)


def entropy(
    X: ArrayLike, depth: int, *, field: str | Field = "real"
) -> NDArray[np.float64] | np.float64:
    """Boltzmann entropy ``S(X) = log vol(O_X)`` of an invertible end-to-end matrix.

    Parameters
    ----------
    X : array_like, shape (..., n, n)
        End-to-end matrices in the storage of ``field`` (:mod:`dlnmc.fields`;
        over ``H`` the complex ``2d x 2d`` representation), invertible, finite.
    depth : int
        Network depth ``N >= 1``.
    field : {"real", "complex", "quaternion"} or Field, keyword-only

    Returns
    -------
    ndarray of shape (...) or numpy.float64
        ``S(X)``, float64. Depends on ``X`` only through its singular values;
        see :func:`entropy_sv`, which is more accurate for extreme condition numbers.
    """
    F = resolve_field(field)
    N = check_depth(depth)
    return field_entropy_sv(field_singular_values(X, F), N, F)


def field_log_rho_sv(s: NDArray[np.float64], N: int, field: Field) -> NDArray[np.float64]:
    """``log rho_b`` from validated singular values (internal callers)."""
    d = s.shape[-1]
    return (
        (N - 1) * field.log_group_volume(d)
        - 0.5 * d * np.log(N)
        - (N - 1) / N * np.log(s).sum(axis=-1)
        - 0.5 * field.b * _log_D_pairs(s, N).sum(axis=-1)
    )


def log_rho_sv(s: ArrayLike, depth: int, *, field: str | Field = "real") -> NDArray[np.float64]:
    """Log Lebesgue density of the push-forward of ``vol_M`` under ``phi``.

    See docs/guide/theory.md, 'The law of X on the balanced manifold'.

    ``log rho_b = (N-1) log vol(G_d) - 1/2 sum_i log D_ii - (b/2) sum_{i<j} log D_ij``,
    i.e. ``rho_b = e^{S_b} / sqrt(det A_{N,X})`` with ``det A`` of ``A`` as a
    real-linear map; with ``D_ii = N s_i^{2(N-1)/N}`` the diagonal sum is
    ``(d/2) log N + (N-1)/N sum_i log s_i``. A density on ``R^{b d^2}`` (each
    real component once).

    Returns
    -------
    ndarray, shape (...)
    """
    F = resolve_field(field)
    return field_log_rho_sv(check_singular_values(s), check_depth(depth), F)


def log_rho(X: ArrayLike, depth: int, *, field: str | Field = "real") -> NDArray[np.float64]:
    """``log rho(X)``: the density of ``phi_* vol_M`` against Lebesgue measure ``dX``.

    ``field`` as in :func:`log_rho_sv` (``X`` stored as in :func:`entropy`).

    Returns
    -------
    ndarray, shape (...)
    """
    F = resolve_field(field)
    N = check_depth(depth)
    return field_log_rho_sv(field_singular_values(X, F), N, F)


def energy_from_logs(t: NDArray[np.float64], beta: float) -> NDArray[np.float64] | float:
    """``-beta sum_i s_i^2 / 2`` from ``t = log s``, never NaN.

    ``s * s`` overflows for ``s ~ 1e200`` and ``0 * inf`` is NaN; here ``beta = 0``
    contributes exactly 0 and an overflowing energy gives a correct ``-inf``.
    """
    if beta == 0:
        return 0.0
    with np.errstate(over="ignore"):
        return -beta * (0.5 * np.exp(2.0 * t)).sum(axis=-1)


def field_log_sv_density(
    s: NDArray[np.float64], N: int, beta: float, field: Field, alpha: float = 0.5
) -> NDArray[np.float64]:
    """:func:`log_sv_density` for validated arguments (internal callers)."""
    t = np.log(s)
    hi, lo = _pairs_from_logs(t)
    # log |s_i^2 - s_j^2| = 2 t_hi + log(-expm1(-2 (t_hi - t_lo))), exact for tiny gaps.
    with np.errstate(divide="ignore"):
        log_vdm = 2.0 * hi + np.log(-np.expm1(-2.0 * (hi - lo)))
    # s_i^{b-1} D_ii^{-1/2} = N^{-1/2} s_i^{b - 1 - (N-1)/N}; the constant is dropped.
    out = energy_from_logs(t, beta) - (N - 1) / N * t.sum(axis=-1)
    pairs = (log_vdm - alpha * log_D_from_logs(hi, lo, N)).sum(axis=-1)
    if field.b == 1:
        return out + pairs
    return out + (field.b - 1) * t.sum(axis=-1) + field.b * pairs


def log_sv_density(
    s: ArrayLike,
    depth: int,
    beta: float = 1.0,
    *,
    alpha: float = 0.5,
    field: str | Field = "real",
) -> NDArray[np.float64]:
    """Unnormalized log density of the singular values of ``X = phi(W)`` on the balanced manifold.

    For ``E = |X|^2 / 2`` (invariant under ``G_d`` on both sides) the ordered
    singular values have density (docs/guide/theory.md, 'The law of X on the balanced manifold')::

        exp(-beta E) prod_i s_i^{b-1} D_ii^{-1/2} prod_{i<j} |s_i^2 - s_j^2|^b D_ij^{-b alpha}

    with ``alpha = 1/2`` in theory; other ``alpha`` give the alternative family
    used to test the exponent. ``D_ii^{-1/2}`` enters as
    ``s_i^{-(N-1)/N}`` (its constant ``N^{-1/2}`` is dropped).

    Parameters
    ----------
    s : array_like, shape (..., d)
        Singular values (any order; the density is symmetric).
    depth : int
        ``N >= 1``.
    beta : float
        Inverse temperature ``>= 0``.
    alpha : float
        ``D_ij`` enters with the exponent ``b alpha``.
    field : {"real", "complex", "quaternion"} or Field, keyword-only

    Returns
    -------
    ndarray, shape (...)
        Up to an additive constant independent of ``s``.
    """
    F = resolve_field(field)
    s = check_singular_values(s)
    N = check_depth(depth)
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be finite and >= 0, got {beta!r}")
    return field_log_sv_density(s, N, beta, F, alpha)
