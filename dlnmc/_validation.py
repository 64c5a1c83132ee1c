"""Input checks shared by the public functions.

Every check raises a ``ValueError`` (or ``TypeError`` for a wrong kind of
object) whose message names the argument and what is wrong with it, so a
researcher sees the problem rather than a NaN three calls later.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "check_count",
    "check_depth",
    "check_finite",
    "check_layers",
    "check_positive",
    "check_real",
    "check_singular_values",
    "check_square",
    "check_width",
]


def check_depth(depth: object, name: str = "depth") -> int:
    """Return ``depth`` as a Python int, or raise if it is not an integer >= 1."""
    if isinstance(depth, bool | np.bool_):
        raise TypeError(f"{name} must be an integer >= 1, got the boolean {depth!r}")
    if not isinstance(depth, numbers.Integral):
        # Accept 3.0 from a TOML file or a float grid, but never 2.5.
        if isinstance(depth, numbers.Real) and float(depth).is_integer():
            depth = int(depth)
        else:
            raise TypeError(f"{name} must be an integer >= 1, got {depth!r}")
    depth = int(depth)
    if depth < 1:
        raise ValueError(f"{name} must be >= 1, got {depth}")
    return depth


def check_width(width: object, name: str = "width") -> int:
    """Return ``width`` as a Python int, or raise if it is not an integer >= 1."""
    return check_depth(width, name)


def check_count(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as a Python int, or raise if it is not an integer >= ``minimum``.

    Unlike :func:`check_depth` a float such as ``3.0`` is refused (counts come from code,
    not from a TOML grid).
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value: object, name: str) -> float:
    """Return a real, non-bool, finite scalar (numpy scalars included) as a float, or raise."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, complex | np.complexfloating) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def check_positive(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Return a finite real ``value > 0`` (``>= 0`` with ``allow_zero``) as a float, or raise.

    A bool, a complex number or a non-number is a ``TypeError``.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(
            f"{name} must be finite and {'>=' if allow_zero else '>'} 0, got {value!r}"
        )
    return v


def check_finite(a: NDArray, name: str) -> None:
    """Raise if ``a`` holds a NaN or an infinity."""
    if not np.all(np.isfinite(a)):
        bad = "NaN" if np.any(np.isnan(a)) else "inf"
        raise ValueError(f"{name} contains {bad}; every entry must be finite")


def check_square(X: ArrayLike, name: str = "X") -> NDArray[np.float64]:
    """Return ``X`` as float64 of shape ``(..., d, d)`` with ``d >= 1``, or raise."""
    X = np.asarray(X)
    if np.iscomplexobj(X):
        raise TypeError(f"{name} must be real; complex input is not supported by this function")
    X = X.astype(np.float64, copy=False)
    if X.ndim < 2:
        raise ValueError(f"{name} must have shape (..., d, d), got shape {X.shape}")
    if X.shape[-1] != X.shape[-2]:
        raise ValueError(f"{name} must be square in its last two axes, got shape {X.shape}")
    if X.shape[-1] < 1:
        raise ValueError(f"{name} must have width d >= 1, got shape {X.shape}")
    check_finite(X, name)
    return X


def check_layers(W: ArrayLike, name: str = "W") -> NDArray[np.float64]:
    """Return ``W`` as float64 of shape ``(..., N, d, d)``, or raise."""
    W = np.asarray(W)
    if W.ndim < 3:
        raise ValueError(
            f"{name} must have shape (..., N, d, d) with W[..., 0, :, :] = W_1, got shape {W.shape}"
        )
    if W.shape[-3] < 1:
        raise ValueError(f"{name} must have depth N >= 1 layers, got shape {W.shape}")
    return check_square(W, name)


def check_singular_values(s: ArrayLike, name: str = "s") -> NDArray[np.float64]:
    """Return ``s`` as float64 of shape ``(..., d)`` with every entry finite and > 0."""
    s = np.asarray(s)
    if np.iscomplexobj(s):  # a cast to float64 would silently drop the imaginary part
        raise TypeError(f"{name} must be real singular values; got a complex array")
    s = s.astype(np.float64, copy=False)
    if s.ndim < 1:
        raise ValueError(f"{name} must have shape (..., d), got a scalar")
    if s.shape[-1] < 1:
        raise ValueError(f"{name} must have width d >= 1, got shape {s.shape}")
    check_finite(s, name)
    if np.any(s <= 0):
        raise ValueError(
            f"{name} must be strictly positive (X invertible); smallest entry is {s.min()!r}"
        )
    return s
