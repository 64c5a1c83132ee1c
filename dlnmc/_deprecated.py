"""The ``*_field`` names of the two-engine package, kept one release as warning aliases.

Each alias emits a ``DeprecationWarning`` naming its replacement and calls it;
nothing else lives here. The replacements take ``field=`` as a keyword.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc.entropy import entropy, entropy_sv, log_rho, log_rho_sv, log_sv_density, singular_values
from dlnmc.fields import Field, resolve_field
from dlnmc.groups import haar, log_group_volume
from dlnmc.metric import apply_A, apply_A_inv, g_N

__all__ = [
    "apply_A_field",
    "apply_A_inv_field",
    "entropy_field",
    "entropy_sv_field",
    "g_N_field",
    "haar_field",
    "log_group_volume_field",
    "log_rho_field",
    "log_rho_sv_field",
    "log_sv_density_field",
    "singular_values_field",
    "svd_field",
]


def _deprecated(replacement: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def alias(*args: Any, **kwargs: Any) -> Any:
            warnings.warn(
                f"dlnmc.{fn.__name__} is deprecated; use {replacement}",
                DeprecationWarning,
                stacklevel=2,
            )
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
