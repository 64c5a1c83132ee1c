"""Box-domain charts of the groups ``G_d = O_d, U_d, Sp_d`` (one per field).

A chart maps a box ``prod_k [0, upper_k)`` onto the group (one-to-one off a
null set), so integrating a volume element over the box integrates over the
group once. Every chart here offers the same small interface, which is all
that :mod:`dlnmc.volumes` uses: ``d``, ``field``, ``dim``, ``upper``,
``log_box_volume``, ``sobol_order``, ``n_components`` (how many isometric
copies of the chart's image make up ``G_d``), ``derivative_step`` (``None``
for exact derivatives), ``proposal(u)`` (unit cube -> box, with the density
of the points it makes) and ``matrix_and_derivatives(theta)``.

Real field: :class:`EulerChart`, generalized Euler angles of ``SO(d)``, built
recursively (Hoffman, Raffenetti and Ruedenberg 1972):
``SO(n) = S_n(phi) . (1 + SO(n-1))`` where ``S_n(phi)`` moves ``e_1`` to the
point of ``S^{n-1}`` with hyperspherical angles ``phi``. Unrolled,
``g(theta) = R_1(theta_1) ... R_m(theta_m)``, ``m = d(d-1)/2``, each ``R_k`` a
Givens rotation in the plane ``(i_k, i_k + 1)``; its derivative is exact
(``R_k' = R_k A_k``). ``O_d`` has two components, both isometric to ``SO(d)``.

Complex and quaternionic fields: :class:`HouseholderChart` of the connected
groups ``U_d``, ``Sp_d``. For ``v`` in the unit sphere of ``F^k`` let
``q = v_1 / |v_1|`` and ``H(v) = P_w diag(q, 1, ..., 1)`` with the reflection
``P_w = I - 2 w w^* / |w|^2``, ``w = e_1 q - v``; then ``H(v) e_1 = v`` and
``H(v)`` lies in ``G_k``. Recursively ``g_k = H(v(phi)) diag(1, g_{k-1})``
with ``v`` in hyperspherical coordinates on ``S^{bk-1}`` and ``g_1 = v``.
Given ``g``, ``v = g e_1`` and then ``g_{k-1}`` are determined, so the chart
is one-to-one off a null set. Box: for each ``k``, ``bk - 2`` angles in
``[0, pi]`` and one in ``[0, 2 pi)``. Derivatives by central differences.

Nothing here uses a group volume.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaincinv, gammaln

from dlnmc._validation import check_width
from dlnmc.fields import REAL, Field, resolve_field

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_STEP",
    "EulerChart",
    "HouseholderChart",
    "chart_box",
    "chart_of",
    "euler_chart",
    "group_chart",
    "householder_chart",
]

#: Weight of the uniform part of the Householder chart's proposal (see ``proposal``).
DEFAULT_MIX = 0.1
#: Central-difference step (in radians) of the Householder chart's derivatives.
DEFAULT_STEP = 1e-5


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

    #: The field whose group this charts (``O_d`` is real).
    field = REAL
    #: ``O_d = SO(d) + R SO(d)`` for a reflection ``R``: two isometric copies of the chart's image.
    n_components = 2
    #: Derivatives are exact (no finite-difference error to account for).
    derivative_step = None

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

    def proposal(self, u: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Uniform points of the box from the unit cube, and their log density.

        Returns
        -------
        theta : ndarray, shape (..., m)
        log_q : ndarray, shape (...)
            Log density of ``theta`` on the box: ``-log_box_volume`` everywhere.
        """
        return u * self.upper, np.full(u.shape[:-1], -self.log_box_volume)

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


# --------------------------------------------------------------------------------------
# U_d and Sp_d: the Householder chart.
# --------------------------------------------------------------------------------------


def _sphere(phi: NDArray[np.float64]) -> NDArray[np.float64]:
    """Hyperspherical coordinates: ``(..., n-1)`` angles -> unit vectors ``(..., n)``."""
    sin_cum = np.cumprod(np.concatenate([np.ones_like(phi[..., :1]), np.sin(phi)], -1), -1)
    cos = np.concatenate([np.cos(phi), np.ones_like(phi[..., :1])], -1)
    return sin_cum * cos


def _check_real_in(value: object, name: str, lo: float, hi: float, lo_open: bool = True) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not ((lo < v) if lo_open else (lo <= v)) or not v <= hi:
        raise ValueError(f"{name} must be in {'(' if lo_open else '['}{lo}, {hi}], got {value!r}")
    return v


@dataclass(frozen=True, eq=False)
class HouseholderChart:
    """The Householder chart of ``U_d`` (complex) or ``Sp_d`` (quaternion), see module notes.

    Attributes
    ----------
    d : int
    field : Field
        ``COMPLEX`` or ``QUATERNION``.
    upper : ndarray, shape (m,)
        Box ``prod_k [0, upper[k])``, ``m = dim G_d``; order: sphere ``S^{bd-1}`` first.
    mix : float
        Weight of the uniform component of :meth:`proposal`, in ``(0, 1]``.
    derivative_step : float
        Central-difference step of :meth:`matrix_and_derivatives`, in ``(0, 0.1]``.
    """

    d: int
    field: Field
    upper: NDArray[np.float64]
    mix: float
    derivative_step: float

    #: ``U_d`` and ``Sp_d`` are connected.
    n_components = 1

    @property
    def dim(self) -> int:
        """Number of angles, ``dim G_d``."""
        return int(self.upper.size)

    @property
    def log_box_volume(self) -> float:
        """``log prod_k upper[k]``."""
        return float(np.log(self.upper).sum())

    @property
    def sobol_order(self) -> NDArray[np.int64]:
        """Angles in the order they take quasi-random coordinates (chart order)."""
        return np.arange(self.dim, dtype=np.int64)

    def with_step(self, step: float) -> HouseholderChart:
        """The same chart with another finite-difference step."""
        return replace(self, derivative_step=step)

    def _sin_powers(self) -> NDArray[np.float64]:
        """Power of ``sin(phi)`` in the round measure of each polar angle (0 for azimuths)."""
        powers: list[float] = []
        for k in range(self.d, 0, -1):
            n = self.field.b * k
            powers += [float(n - 2 - i) for i in range(n - 2)] + [0.0]
        return np.array(powers)

    def proposal(self, u: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Angles from unit-cube points by a defensive mixture, and their log density.

        Each polar angle with round-measure power ``a >= 1`` is drawn from
        ``q(phi) = mix / pi + (1 - mix) sin(phi)^a / Z_a``: with probability
        ``mix`` uniformly, else ``phi = arccos(1 - 2 t)``, ``t ~ Beta((a+1)/2,
        (a+1)/2)``. Azimuths stay uniform. Any proposal keeps ``mean(f / q)``
        unbiased; this one flattens the sharply peaked high-dimensional
        integrand, and ``mix > 0`` keeps the weights bounded.

        Returns
        -------
        theta : ndarray, shape (..., m)
        log_q : ndarray, shape (...)
            Log density of ``theta`` on the box (product over the angles).
        """
        a = self._sin_powers()
        theta = u * self.upper
        log_q = np.broadcast_to(-np.log(self.upper), u.shape).copy()
        polar = a > 0
        if self.mix < 1.0 and np.any(polar):
            ap, up, mix = a[polar], u[..., polar], self.mix
            alpha = 0.5 * (ap + 1.0)
            uniform = up < mix
            t = betaincinv(alpha, alpha, np.where(uniform, 0.0, (up - mix) / (1.0 - mix)))
            phi = np.where(uniform, np.pi * up / mix, np.arccos(1.0 - 2.0 * t))
            theta[..., polar] = phi
            log_z = 0.5 * np.log(np.pi) + gammaln(alpha) - gammaln(0.5 * ap + 1.0)
            with np.errstate(divide="ignore"):
                log_sin = ap * np.log(np.sin(phi)) - log_z
            log_q[..., polar] = np.logaddexp(np.log(mix) - np.log(np.pi), np.log1p(-mix) + log_sin)
        return theta, log_q.sum(axis=-1)

    def matrix(self, theta: ArrayLike) -> NDArray:
        """``g(theta)`` in storage, complex128, shape ``(..., n, n)``."""
        field, d = self.field, self.d
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim < 1 or theta.shape[-1] != self.dim:
            raise ValueError(
                f"theta must have shape (..., {self.dim}) for {field.name} d={d}, "
                f"got {theta.shape}"
            )
        batch, b = theta.shape[:-1], field.b
        r = field.rep_size(1)  # stored size of one entry of F
        # Build from the smallest factor outwards: g_1 = unit of F, then g_2, ...
        offsets = np.cumsum([0] + [b * k - 1 for k in range(d, 0, -1)])
        g = None
        for k in range(1, d + 1):  # loop over the d nested spheres, vectorized over theta
            j = d - k  # index of the sphere S^{bk-1} in theta
            x = _sphere(theta[..., offsets[j] : offsets[j + 1]]).reshape(*batch, k, 1, b)
            v = field.from_components(x)  # (..., r k, r)
            if k == 1:
                g = v
                continue
            n = r * k
            first = [0] if r == 1 else [0, k]  # stored rows/cols of entry 0
            v1 = v[..., first, :]
            # |v_1|: for H the determinant of the 2 x 2 block is |v_1|^2
            nrm = np.sqrt(np.abs(np.linalg.det(v1))) if r == 2 else np.abs(v1[..., 0, 0])
            q = v1 / nrm[..., None, None]
            w = -v
            w[..., first, :] += q
            w2 = np.einsum("...ia,...ia->...", w.conj(), w).real / r  # |w|^2 over F
            P = np.eye(n) - 2.0 * (w @ field.ct(w)) / w2[..., None, None]
            D = np.zeros((*batch, n, n), dtype=np.complex128)
            rest = [i for i in range(n) if i not in first]
            D[..., np.ix_(first, first)[0], np.ix_(first, first)[1]] = q
            D[..., np.ix_(rest, rest)[0], np.ix_(rest, rest)[1]] = g
            g = P @ D  # H(v) diag(1, g) = P_w diag(q, g)
        return g

    def matrix_and_derivatives(self, theta: ArrayLike) -> tuple[NDArray, NDArray]:
        """``g(theta)`` and ``dg/dtheta_k`` by central differences (step ``derivative_step``).

        Returns
        -------
        g : ndarray, shape (..., n, n)
        dg : ndarray, shape (..., m, n, n)
        """
        theta = np.asarray(theta, dtype=np.float64)
        m, h = self.dim, self.derivative_step
        steps = h * np.eye(m)
        t = theta[..., None, :]
        g = self.matrix(np.concatenate([t + steps, t - steps, t], axis=-2))
        return g[..., 2 * m, :, :], (g[..., :m, :, :] - g[..., m : 2 * m, :, :]) / (2.0 * h)


def householder_chart(
    d: int, field: str | Field, *, mix: float = DEFAULT_MIX, step: float = DEFAULT_STEP
) -> HouseholderChart:
    """The Householder chart of ``U_d`` or ``Sp_d`` (``field`` complex or quaternion).

    Raises
    ------
    ValueError
        For the real field (use :func:`euler_chart`), a bad ``d``, ``mix`` outside
        ``(0, 1]`` or ``step`` outside ``(0, 0.1]`` (an upper bound keeps it a
        difference quotient: the angles live in ``[0, 2 pi)``).
    """
    f = resolve_field(field)
    if f.is_real:
        raise ValueError("the Householder chart covers U_d and Sp_d only (complex, quaternion)")
    d = check_width(d, "d")
    mix = _check_real_in(mix, "mix", 0.0, 1.0)
    step = _check_real_in(step, "step", 0.0, 0.1)
    hi: list[float] = []
    for k in range(d, 0, -1):  # sphere S^{bk-1}: bk - 1 angles
        hi += [np.pi] * (f.b * k - 2) + [2.0 * np.pi]
    upper = np.array(hi)
    upper.setflags(write=False)
    return HouseholderChart(d=d, field=f, upper=upper, mix=mix, derivative_step=step)


def chart_of(
    d: int, field: str | Field = "real", *, mix: float = DEFAULT_MIX, step: float = DEFAULT_STEP
) -> EulerChart | HouseholderChart:
    """The box chart of ``G_d`` used for ``field``: Euler angles (R), Householder (C, H).

    ``mix`` and ``step`` configure the Householder chart (the Euler chart has
    uniform points and exact derivatives).
    """
    f = resolve_field(field)
    # The real group is disconnected and has an exact-derivative chart; the others not.
    if f.is_real:
        return euler_chart(d)
    return householder_chart(d, f, mix=mix, step=step)


def chart_box(d: int, field: str | Field) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lower and upper corners of the Householder chart's box, each of shape ``(dim G_d,)``."""
    upper = householder_chart(d, field).upper
    return np.zeros_like(upper), upper.copy()


def group_chart(theta: ArrayLike, d: int, field: str | Field) -> NDArray:
    """``g(theta)`` of the Householder chart of ``U_d`` or ``Sp_d`` (stored, complex128)."""
    return householder_chart(d, field).matrix(theta)
