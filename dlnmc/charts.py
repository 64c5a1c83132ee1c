"""A box-domain chart of SO(d): generalized Euler angles as a product of Givens rotations.

The chart is built recursively (Hoffman, Raffenetti and Ruedenberg 1972):
``SO(n) = S_n(phi) . (1 ⊕ SO(n-1))`` where ``S_n(phi)`` moves ``e_1`` to the
point of the sphere ``S^{n-1}`` with hyperspherical angles ``phi``. Unrolled,
``g(theta) = R_1(theta_1) R_2(theta_2) ... R_m(theta_m)``, ``m = d(d-1)/2``,
each ``R_k`` a Givens rotation in the coordinate plane ``(i_k, i_k + 1)``.
On the box ``[0, pi]^{...} x [0, 2 pi)^{...}`` the map is onto and one-to-one
off a null set, so integrating a volume element over the box integrates over
SO(d) exactly once. Nothing here uses group volumes: the derivative of the
Givens product is exact (``R_k' = R_k A_k`` with ``A_k`` the plane generator).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_width

__all__ = ["EulerChart", "euler_chart"]


@dataclass(frozen=True)
class EulerChart:
    """Generalized Euler angles of ``SO(d)``.

    Attributes
    ----------
    d : int
        Matrix size.
    planes : ndarray of int, shape (m,)
        ``planes[k] = i`` means factor ``k`` rotates coordinates ``(i, i + 1)``.
    upper : ndarray, shape (m,)
        The box is ``prod_k [0, upper[k])``; ``upper[k]`` is ``pi`` or ``2 pi``.
    """

    d: int
    planes: NDArray[np.int64]
    upper: NDArray[np.float64]

    @property
    def dim(self) -> int:
        """Number of angles, ``d(d-1)/2``."""
        return int(self.planes.size)

    @property
    def sobol_order(self) -> NDArray[np.int64]:
        """Angles in the order they should take quasi-random coordinates.

        Sobol' points are most evenly spread in their leading coordinates, so the
        polar angles (range ``pi``; the ones acting first on each ``e_L``, level by
        level) come first and the azimuths (range ``2 pi``) last.
        """
        key = [(self.upper[k] > np.pi, k) for k in range(self.dim)]
        return np.array(sorted(range(self.dim), key=lambda k: key[k]), dtype=np.int64)

    @property
    def log_box_volume(self) -> float:
        """``log prod_k upper[k]``: the log Lebesgue volume of the angle box."""
        return float(np.log(self.upper).sum())

    def from_unit(self, u: ArrayLike) -> NDArray[np.float64]:
        """Map points of the unit cube ``[0, 1)^m`` (shape (..., m)) affinely onto the box."""
        return np.asarray(u, dtype=np.float64) * self.upper

    def matrix(self, theta: ArrayLike) -> NDArray[np.float64]:
        """``g(theta)``, shape (..., d, d), for angles of shape (..., m)."""
        return self.matrix_and_derivatives(theta)[0]

    def matrix_and_derivatives(
        self, theta: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``g(theta)`` and its partial derivatives.

        Parameters
        ----------
        theta : array_like, shape (..., m)

        Returns
        -------
        g : ndarray, shape (..., d, d)
        dg : ndarray, shape (..., m, d, d)
            ``dg[..., k, :, :] = d g / d theta_k = P_k A_k S_{k+1}`` with
            ``P_k = R_1..R_k``, ``S_{k+1} = R_{k+1}..R_m`` and ``A_k`` the
            generator of plane ``k`` (exact, no finite differences).
        """
        theta = np.asarray(theta, dtype=np.float64)
        d, m = self.d, self.dim
        if theta.shape[-1:] != (m,):
            raise ValueError(f"theta must have shape (..., {m}) for SO({d}), got {theta.shape}")
        batch = theta.shape[:-1]
        flat = theta.reshape(-1, m).T  # (m, B): batch last, so row slices are contiguous
        B = flat.shape[1]
        c, s = np.cos(flat), np.sin(flat)
        # Suffixes S_k = R_k..R_m, right to left; R_k @ M mixes rows i, i+1 of M.
        suffix = np.empty((m + 1, d, d, B))
        suffix[m] = np.eye(d)[:, :, None]
        for k in range(m - 1, -1, -1):  # loop over the m angles, vectorized over the batch
            i = self.planes[k]
            M, out = suffix[k + 1], suffix[k]
            out[:] = M
            out[i] = c[k] * M[i] - s[k] * M[i + 1]
            out[i + 1] = s[k] * M[i] + c[k] * M[i + 1]
        # Prefixes P_k = R_1..R_k, left to right; P @ R_k mixes columns i, i+1.
        dg = np.empty((m, d, d, B))
        P = np.zeros((d, d, B))  # P[:, j] is column j; stored transposed: P[j] = column j
        P[:] = np.eye(d)[:, :, None]
        for k in range(m):
            i = self.planes[k]
            Pi, Pj = P[i].copy(), P[i + 1]
            P[i] = c[k] * Pi + s[k] * Pj
            P[i + 1] = -s[k] * Pi + c[k] * Pj
            # A_k S_{k+1} has two nonzero rows (-row i+1 at i, row i at i+1), so
            # P_k A_k S_{k+1} = col_{i+1}(P_k) row_i(S) - col_i(P_k) row_{i+1}(S).
            S = suffix[k + 1]
            np.multiply(P[i + 1][:, None], S[i][None], out=dg[k])
            dg[k] -= P[i][:, None] * S[i + 1][None]
        g = np.moveaxis(suffix[0], -1, 0).reshape(*batch, d, d)
        dg = np.moveaxis(dg, -1, 0).reshape(*batch, m, d, d)
        return np.ascontiguousarray(g), np.ascontiguousarray(dg)


@cache
def euler_chart(d: int) -> EulerChart:
    """The generalized Euler chart of ``SO(d)``.

    Level ``L = 0..d-2`` contributes the hyperspherical angles of a unit vector
    in coordinates ``L..d-1``: planes ``(d-2, d-1), (d-3, d-2), ..., (L, L+1)``
    in product order, so that the last factor acts first on ``e_L``. The angle
    of plane ``(d-2, d-1)`` (the azimuth) ranges over ``[0, 2 pi)``, the
    others over ``[0, pi]``.

    Returns
    -------
    EulerChart
    """
    d = check_width(d, "d")
    planes: list[int] = []
    upper: list[float] = []
    for level in range(d - 1):
        for i in range(d - 2, level - 1, -1):
            planes.append(i)
            upper.append(2 * np.pi if i == d - 2 else np.pi)
    p = np.array(planes, dtype=np.int64)
    u = np.array(upper, dtype=np.float64)
    p.setflags(write=False)
    u.setflags(write=False)
    return EulerChart(d=d, planes=p, upper=u)
