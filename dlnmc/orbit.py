"""Uniform sampling of a group orbit ``O_X = phi^{-1}(X) ∩ M``, over R, C and H.

The gauge group ``G = G_d^{N-1}`` (``G_d = O_d, U_d, Sp_d``) acts freely and
isometrically (Frobenius) on the balanced variety ``M`` and transitively on
``O_X``. The metric that the orbit map ``U -> U . W0`` pulls back to ``G`` is
therefore left-invariant, so its Riemannian volume is a multiple of Haar
measure: Haar gauges give points distributed uniformly (normalized Hausdorff
measure) on ``O_X``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_depth, check_singular_values
from dlnmc.fields import Field, resolve_field
from dlnmc.network import balanced_factorization

__all__ = ["orbit_base_point", "sample_orbit"]


def orbit_base_point(s_or_X: ArrayLike, depth: int, *, field: str | Field = "real") -> NDArray:
    """The symmetric balanced factorization ``W0`` of ``X`` (or of ``diag(s)``).

    Parameters
    ----------
    s_or_X : array_like, shape (d,) or (n, n)
        Singular values (then ``X = diag(s)``) or an invertible stored matrix over ``field``.
    depth : int
        ``N >= 1``.
    field : {"real", "complex", "quaternion"} or Field

    Returns
    -------
    ndarray, shape (N, n, n)
        Balanced, ``phi(W0) = X``, in the storage of ``field``; every point of
        ``O_X`` is ``U . W0`` for one ``U in G_d^{N-1}``.
    """
    f = resolve_field(field)
    N = check_depth(depth)
    a = np.asarray(s_or_X)
    if a.ndim == 1:
        # X = diag(s): W_p = diag(s)^{1/N} for every p, in log space so that singular
        # values from 1e-300 to 1e300 need no SVD and do not overflow.
        s = check_singular_values(a, "s")
        lam = f.diag_embed(np.exp(np.log(s) / N))
        return np.broadcast_to(lam, (N, *lam.shape)).copy()
    if a.ndim == 2:
        return balanced_factorization(f.check_matrix(a, "X"), N, field=f)
    raise ValueError(
        f"s_or_X must be singular values (shape (d,)) or a matrix (shape (n, n)), got {a.shape}"
    )


def sample_orbit(
    s_or_X: ArrayLike,
    depth: int,
    n: int,
    rng: np.random.Generator | int | None = None,
    *,
    field: str | Field = "real",
) -> NDArray:
    """``n`` independent points distributed uniformly on the orbit ``O_X``.

    Parameters
    ----------
    s_or_X : array_like, shape (d,) or (n, n)
        Singular values (then ``X = diag(s)``) or an invertible end-to-end matrix.
    depth : int
        ``N >= 1``.
    n : int
        Number of points.
    rng : numpy.random.Generator, int or None
        Source of randomness for the Haar gauges.
    field : {"real", "complex", "quaternion"} or Field

    Returns
    -------
    ndarray, shape (n, N, n_rep, n_rep)
        Balanced ``W`` with ``phi(W) = X`` in the storage of ``field``;
        ``W_p = U_p W0_p U_{p-1}^*`` with ``U ~ Haar(G_d^{N-1})`` (for ``O_d`` all
        ``2^{N-1}`` components, equally weighted).
    """
    f = resolve_field(field)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    W0 = orbit_base_point(s_or_X, depth, field=f)
    N, size = W0.shape[0], W0.shape[-1]
    if N == 1:  # trivial gauge group: the orbit is the single point W0
        return np.broadcast_to(W0, (int(n), 1, size, size)).copy()
    U = f.haar(f.width_of(W0), (int(n), N - 1), rng)
    eye = np.broadcast_to(np.eye(size, dtype=U.dtype), (int(n), 1, size, size))
    full = np.concatenate([eye, U, eye], axis=-3)  # U_0 = U_N = I
    return full[:, 1:] @ W0 @ f.ct(full[:, :-1])
