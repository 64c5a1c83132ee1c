"""The ``*_field`` names of the two-engine package, kept one release as warning aliases.

Each alias emits a ``DeprecationWarning`` naming its replacement and calls it;
nothing else lives here. The replacements take ``field=`` as a keyword. The
classes (``FieldBalancedConstraint``, ...) are subclasses of the one class that
warn when constructed; the chart estimators keep their old arguments
(``n_points`` per replicate, a power of 2, and ``n_replicates``).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_width
from dlnmc.charts import DEFAULT_MIX, DEFAULT_STEP, householder_chart
from dlnmc.constraint import BalancedConstraint
from dlnmc.energy import QuadraticEnergy
from dlnmc.entropy import entropy, entropy_sv, log_rho, log_rho_sv, log_sv_density, singular_values
from dlnmc.fields import Field, resolve_field
from dlnmc.groups import haar, log_group_volume
from dlnmc.metric import apply_A, apply_A_inv, g_N
from dlnmc.samplers.rattle import ConstrainedHMC
from dlnmc.samplers.rwm import ConstrainedRWM
from dlnmc.volumes import VolumeEstimate, estimate_group_volume, estimate_orbit_volume

__all__ = [
    "FieldBalancedConstraint",
    "FieldHMC",
    "FieldQuadraticEnergy",
    "FieldRWM",
    "apply_A_field",
    "apply_A_inv_field",
    "entropy_field",
    "entropy_sv_field",
    "estimate_group_volume_field",
    "estimate_orbit_volume_field",
    "g_N_field",
    "haar_field",
    "log_group_volume_field",
    "log_rho_field",
    "log_rho_sv_field",
    "log_sv_density_field",
    "singular_values_field",
    "svd_field",
]


def _warn(old: str, replacement: str) -> None:
    # stacklevel 3: the caller of the alias, not the alias itself.
    warnings.warn(
        f"dlnmc.{old} is deprecated; use {replacement}", DeprecationWarning, stacklevel=3
    )


def _deprecated(replacement: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def alias(*args: Any, **kwargs: Any) -> Any:
            _warn(fn.__name__, replacement)
            return fn(*args, **kwargs)

        alias.__doc__ = f"Deprecated alias: use :func:`{replacement}`."
        return alias

    return wrap


@_deprecated("dlnmc.entropy(X, depth, field=...)")
def entropy_field(X: ArrayLike, depth: int, field: str | Field = "real"):
    return entropy(X, depth, field=field)


@_deprecated("dlnmc.entropy_sv(s, depth, field=...)")
def entropy_sv_field(s: ArrayLike, depth: int, field: str | Field = "real"):
    return entropy_sv(s, depth, field=field)


@_deprecated("dlnmc.log_rho(X, depth, field=...)")
def log_rho_field(X: ArrayLike, depth: int, field: str | Field = "real") -> NDArray[np.float64]:
    return log_rho(X, depth, field=field)


@_deprecated("dlnmc.log_rho_sv(s, depth, field=...)")
def log_rho_sv_field(s: ArrayLike, depth: int, field: str | Field = "real") -> NDArray[np.float64]:
    return log_rho_sv(s, depth, field=field)


@_deprecated("dlnmc.log_sv_density(s, depth, beta, alpha=..., field=...)")
def log_sv_density_field(
    s: ArrayLike, depth: int, beta: float = 1.0, field: str | Field = "real", *, alpha: float = 0.5
) -> NDArray[np.float64]:
    return log_sv_density(s, depth, beta, alpha=alpha, field=field)


@_deprecated("dlnmc.log_group_volume(d, field=...)")
def log_group_volume_field(d: int, field: str | Field = "real") -> float:
    return log_group_volume(d, field=field)


@_deprecated("dlnmc.haar(d, size, rng, field=...)")
def haar_field(d: int, field: str | Field, size=(), rng=None) -> NDArray:
    return haar(d, size, rng, field=field)


@_deprecated("dlnmc.singular_values(X, field=...)")
def singular_values_field(X: ArrayLike, field: str | Field) -> NDArray[np.float64]:
    return singular_values(X, field=field)


@_deprecated("dlnmc.fields.resolve_field(field).svd(X)")
def svd_field(X: ArrayLike, field: str | Field):
    return resolve_field(field).svd(X)


@_deprecated("dlnmc.apply_A(X, P, depth, field=...)")
def apply_A_field(X: ArrayLike, P: ArrayLike, depth: int, field: str | Field) -> NDArray:
    return apply_A(X, P, depth, field=field)


@_deprecated("dlnmc.apply_A_inv(X, Z, depth, field=...)")
def apply_A_inv_field(X: ArrayLike, Z: ArrayLike, depth: int, field: str | Field) -> NDArray:
    return apply_A_inv(X, Z, depth, field=field)


@_deprecated("dlnmc.g_N(X, Z1, Z2, depth=..., field=...)")
def g_N_field(X, Z1, Z2=None, *, depth: int, field: str | Field) -> NDArray[np.float64]:
    return g_N(X, Z1, Z2, depth=depth, field=field)


def _chart_run(
    width: int, field: str, n_points: object, n_replicates: object, mix: float, step: float
) -> tuple[int, dict[str, Any]]:
    """``n_samples`` and keywords of the one driver for the old chart arguments.

    The old arguments are checked as before: a power-of-2 ``n_points``, ``n_replicates >= 2``.
    """
    n_points = check_width(n_points, "n_points")
    n_replicates = check_width(n_replicates, "n_replicates")
    if n_replicates < 2:
        raise ValueError(f"n_replicates must be >= 2 to estimate an error, got {n_replicates}")
    if n_points & (n_points - 1):
        raise ValueError(f"n_points must be a power of 2 (Sobol balance), got {n_points}")
    chart = householder_chart(width, field, mix=mix, step=step)
    kw = {"field": field, "method": "rqmc", "n_replicates": n_replicates, "chart": chart}
    return n_points * n_replicates, kw


@_deprecated("dlnmc.volumes.estimate_group_volume(d, n_samples, seed, field=..., method='rqmc')")
def estimate_group_volume_field(
    d: int,
    field: str,
    n_points: int = 2048,
    n_replicates: int = 16,
    seed: int | None = 0,
    *,
    mix: float = DEFAULT_MIX,
    step: float = DEFAULT_STEP,
) -> VolumeEstimate:
    n, kw = _chart_run(d, field, n_points, n_replicates, mix, step)
    return estimate_group_volume(d, n, seed, **kw)


@_deprecated(
    "dlnmc.volumes.estimate_orbit_volume(s, depth, n_samples, seed, field=..., method='rqmc')"
)
def estimate_orbit_volume_field(
    s: ArrayLike,
    depth: int,
    field: str,
    n_points: int = 1024,
    n_replicates: int = 16,
    seed: int | None = 0,
    *,
    mix: float = DEFAULT_MIX,
    step: float = DEFAULT_STEP,
) -> VolumeEstimate:
    width = len(s) if hasattr(s, "__len__") else 1
    n, kw = _chart_run(width, field, n_points, n_replicates, mix, step)
    return estimate_orbit_volume(s, depth, n, seed, **kw)


class FieldBalancedConstraint(BalancedConstraint):
    """Deprecated: use ``dlnmc.BalancedConstraint(width, depth, field=...)``."""

    def __init__(
        self,
        width: int,
        depth: int,
        field: str | Field,
        *,
        tol: float = 1e-12,
        max_iter: int = 40,
        mode: str = "auto",
    ) -> None:
        _warn("FieldBalancedConstraint", "dlnmc.BalancedConstraint(width, depth, field=...)")
        super().__init__(width, depth, tol=tol, max_iter=max_iter, mode=mode, field=field)


class FieldQuadraticEnergy(QuadraticEnergy):
    """Deprecated: use ``dlnmc.QuadraticEnergy(target, field=...)``."""

    def __init__(self, field: str | Field, target: ArrayLike | None = None) -> None:
        _warn("FieldQuadraticEnergy", "dlnmc.QuadraticEnergy(target, field=...)")
        super().__init__(target, field=field)


class FieldHMC(ConstrainedHMC):
    """Deprecated: use :class:`dlnmc.ConstrainedHMC` (it takes every field)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _warn("FieldHMC", "dlnmc.ConstrainedHMC")
        super().__init__(*args, **kwargs)


class FieldRWM(ConstrainedRWM):
    """Deprecated: use :class:`dlnmc.ConstrainedRWM` (it takes every field)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _warn("FieldRWM", "dlnmc.ConstrainedRWM")
        super().__init__(*args, **kwargs)
