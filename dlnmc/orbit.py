"""Uniform sampling of a group orbit ``O_X = phi^{-1}(X) ∩ M`` (MATH.md sections 2, 7.2).

The gauge group ``G = O_d^{N-1}`` acts freely and isometrically (Frobenius) on
``M`` and transitively on ``O_X``. The metric that the orbit map
``U -> U . W0`` pulls back to ``G`` is therefore left-invariant, so its
Riemannian volume is a multiple of Haar measure: Haar gauges give points
distributed uniformly (normalized Hausdorff measure) on ``O_X``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_singular_values, check_square
from dlnmc.groups import haar_orthogonal
from dlnmc.network import balanced_factorization, gauge_action

__all__ = ["orbit_base_point", "sample_orbit"]


def _as_end_to_end(s_or_X: ArrayLike) -> NDArray[np.float64]:
    """``diag(s)`` for a 1-D vector of singular values, ``X`` itself for a matrix."""
    a = np.asarray(s_or_X, dtype=np.float64)
    if a.ndim == 1:
        return np.diag(check_singular_values(a, "s"))
    if a.ndim == 2:
        return check_square(a, "X")
    raise ValueError(
        f"s_or_X must be singular values (shape (d,)) or a matrix (shape (d, d)), got {a.shape}"
    )


def orbit_base_point(s_or_X: ArrayLike, depth: int) -> NDArray[np.float64]:
    """The symmetric balanced factorization ``W0`` of ``X`` (or of ``diag(s)``).

    Returns
    -------
    ndarray, shape (N, d, d)
        Balanced, ``phi(W0) = X``; every point of ``O_X`` is ``U . W0`` for one
        ``U in O_d^{N-1}``.
    """
    N = check_depth(depth)
    a = np.asarray(s_or_X, dtype=np.float64)
    if a.ndim == 1:
        # X = diag(s): W_p = diag(s)^{1/N} for every p, in log space so that singular
        # values from 1e-300 to 1e300 need no SVD and do not overflow.
        s = check_singular_values(a, "s")
        lam = np.exp(np.log(s) / N)
        return np.broadcast_to(np.diag(lam), (N, s.size, s.size)).copy()
    return balanced_factorization(_as_end_to_end(a), N)


def sample_orbit(
    s_or_X: ArrayLike, depth: int, n: int, rng: np.random.Generator | int | None = None
) -> NDArray[np.float64]:
    """``n`` independent points distributed uniformly on the orbit ``O_X``.

    Parameters
    ----------
    s_or_X : array_like, shape (d,) or (d, d)
        Singular values (then ``X = diag(s)``) or an invertible end-to-end matrix.
    depth : int
        ``N >= 1``.
    n : int
        Number of points.
    rng : numpy.random.Generator, int or None
        Source of randomness for the Haar gauges.

    Returns
    -------
    ndarray, shape (n, N, d, d)
        Balanced ``W`` with ``phi(W) = X``; ``W = U . W0`` with
        ``U ~ Haar(O_d^{N-1})`` (all ``2^{N-1}`` components, equally weighted).
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    W0 = orbit_base_point(s_or_X, depth)
    N, d = W0.shape[0], W0.shape[-1]
    if N == 1:  # trivial gauge group: the orbit is the single point W0
        return np.broadcast_to(W0, (int(n), 1, d, d)).copy()
    U = haar_orthogonal(d, (int(n), N - 1), rng)
    return gauge_action(U, W0)
