"""The entropy formula and its densities for real, complex and quaternionic networks (MATH.md 8).

With Dyson index ``b = 1, 2, 4`` and ``D_ij`` of MATH.md section 3
(:func:`dlnmc.entropy.log_D`, diagonal included):

    S_b(X)   = (N-1) log vol(G_d) + (b/2) sum_{i<j} log D_ij + ((b-1)/2) sum_i log D_ii
    rho_b(X) = vol(G_d)^(N-1) prod_i D_ii^(-1/2) prod_{i<j} D_ij^(-b/2)
    singular values: exp(-beta E) prod_i s_i^(b-1) D_ii^(-1/2)
                     * prod_{i<j} |s_i^2 - s_j^2|^b D_ij^(-b alpha)

(``alpha = 1/2`` in theory). ``vol(G_d)`` is :func:`log_group_volume_field`
(derivation in ``docs/fields.md``). ``b = 1`` reproduces :mod:`dlnmc.entropy`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_singular_values
from dlnmc.entropy import _energy_term, entropy_sv, log_D
from dlnmc.fields import check_field, dyson_index, singular_values_field
from dlnmc.groups_fields import log_group_volume_field

__all__ = [
    "entropy_field",
    "entropy_sv_field",
    "log_group_volume_field",
    "log_rho_field",
    "log_rho_sv_field",
    "log_sv_density_field",
]


def _split_log_D(s: NDArray[np.float64], N: int) -> tuple[NDArray, NDArray]:
    """``(sum_{i<j} log D_ij, sum_i log D_ii)``, each of shape (...)."""
    LD = log_D(s, N)
    diag = np.diagonal(LD, axis1=-2, axis2=-1).sum(axis=-1)
    off = 0.5 * (LD.sum(axis=(-2, -1)) - diag)
    return off, diag


def entropy_sv_field(
    s: ArrayLike, depth: int, field: str = "real"
) -> NDArray[np.float64] | np.float64:
    """``S_b`` from singular values: the log volume of the orbit ``O_X`` over ``F``.

    Parameters
    ----------
    s : array_like, shape (..., d)
        Singular values of ``X`` over ``F`` (for ``H`` each once), any order.
    depth : int
        ``N >= 1``.
    field : ``"real"``, ``"complex"`` or ``"quaternion"``

    Returns
    -------
    ndarray of shape (...) or numpy.float64
        ``(N-1) log vol(G_d) + (b/2) sum_{i<j} log D_ij + ((b-1)/2) sum_i log D_ii``.
        ``"real"`` delegates to :func:`dlnmc.entropy_sv`.
    """
    field = check_field(field)
    if field == "real":
        return entropy_sv(s, depth)
    s = check_singular_values(s)
    N = check_depth(depth)
    b = dyson_index(field)
    off, diag = _split_log_D(s, N)
    out = (N - 1) * log_group_volume_field(s.shape[-1], field) + 0.5 * b * off
    out = out + 0.5 * (b - 1) * diag
    return np.float64(out) if np.ndim(out) == 0 else out


def entropy_field(
    X: ArrayLike, depth: int, field: str = "real"
) -> NDArray[np.float64] | np.float64:
    """``S_b(X)`` for stored matrices ``X`` over ``F`` (shape ``(..., n, n)``)."""
    return entropy_sv_field(singular_values_field(X, field), depth, field)


def log_rho_sv_field(s: ArrayLike, depth: int, field: str = "real") -> NDArray[np.float64]:
    """Log Lebesgue density (on ``R^{b d^2}``) of ``phi_* vol_{M_b}``: ``log rho_b``.

    ``rho_b = e^{S_b} / sqrt(det A_{N,X})`` with ``det A`` taken as a real-linear
    map of ``M_d(F)``: ``prod_i D_ii^b prod_{i != j} D_ij^b``.

    Returns
    -------
    ndarray, shape (...)
    """
    field = check_field(field)
    s = check_singular_values(s)
    N = check_depth(depth)
    b = dyson_index(field)
    off, diag = _split_log_D(s, N)
    return (N - 1) * log_group_volume_field(s.shape[-1], field) - 0.5 * diag - 0.5 * b * off


def log_rho_field(X: ArrayLike, depth: int, field: str = "real") -> NDArray[np.float64]:
    """``log rho_b(X)`` for stored matrices ``X``."""
    return log_rho_sv_field(singular_values_field(X, field), depth, field)


def log_sv_density_field(
    s: ArrayLike,
    depth: int,
    beta: float = 1.0,
    field: str = "real",
    *,
    alpha: float = 0.5,
) -> NDArray[np.float64]:
    """Unnormalized log density of the singular values of ``phi(W)`` on ``M_b``, ``E = |X|^2/2``.

    ``-beta sum s_i^2 / 2 + sum_i [(b-1) log s_i - log D_ii / 2]
    + sum_{i<j} [b log|s_i^2 - s_j^2| - b alpha log D_ij]``.
    ``alpha = 1/2`` is the theory (``rho_b`` times the Jacobian
    ``prod_i s_i^{b-1} prod_{i<j} |s_i^2 - s_j^2|^b`` of the SVD over ``F``);
    other values give the alternative family used to test the exponent. For
    ``field="real"`` this equals :func:`dlnmc.log_sv_density` up to a constant.

    Returns
    -------
    ndarray, shape (...)
    """
    field = check_field(field)
    s = check_singular_values(s)
    N = check_depth(depth)
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be finite and >= 0, got {beta!r}")
    b = dyson_index(field)
    t = np.log(s)
    LD = log_D(s, N)
    iu, ju = np.triu_indices(s.shape[-1], 1)
    hi, lo = np.maximum(t[..., iu], t[..., ju]), np.minimum(t[..., iu], t[..., ju])
    # log |s_i^2 - s_j^2| = 2 t_hi + log(-expm1(-2 (t_hi - t_lo))), exact for tiny gaps.
    with np.errstate(divide="ignore"):
        log_vdm = 2.0 * hi + np.log(-np.expm1(-2.0 * (hi - lo)))
    diag = np.diagonal(LD, axis1=-2, axis2=-1)
    return (
        _energy_term(t, beta)
        + ((b - 1) * t - 0.5 * diag).sum(axis=-1)
        + (b * log_vdm - b * alpha * LD[..., iu, ju]).sum(axis=-1)
    )
