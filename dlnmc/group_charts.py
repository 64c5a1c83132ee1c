"""A box chart of U_d and Sp_d, and the chart Monte Carlo of their volumes (MATH.md 7.1, 8).

The check of ``vol(G_d)`` must not use the derivation in ``docs/fields.md``.
It uses only (i) a chart ``theta -> g(theta)`` from a box onto ``G_d`` that is
a bijection up to measure zero and (ii) the embedding ``G_d in R^{b d^2}``:

    vol(G_d) = int_box sqrt(det J(theta)^T J(theta)) dtheta,   J = d realify(g) / d theta,

with ``J`` by central finite differences of the embedding and the integral
by randomized quasi-Monte Carlo (scrambled Sobol, independent replicates give
the standard error).

The chart. For ``v`` in the unit sphere of ``F^k`` let ``q = v_1 / |v_1|`` and
``H(v) = P_w diag(q, 1, ..., 1)`` with the quaternionic/complex Householder
reflection ``P_w = I - 2 w w^* / |w|^2``, ``w = e_1 q - v``; then
``H(v) e_1 = v`` and ``H(v) in G_k``. Recursively
``g_k(theta) = H(v(theta_sphere)) diag(1, g_{k-1}(theta_rest))`` with ``v`` in
hyperspherical coordinates on ``S^{bk-1}`` and ``g_1 = v`` (a unit element of
``F``). Given ``g``, ``v = g e_1`` and then ``diag(1, g_{k-1}) = H(v)^{-1} g``
are determined, so the chart is a bijection off a null set. Box: for each
``k``, ``bk - 2`` angles in ``[0, pi]`` and one in ``[0, 2 pi)``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaincinv, gammaln, logsumexp

from dlnmc._validation import check_depth, check_singular_values, check_width
from dlnmc.estimators import _log_mean_and_se, _with_roundoff, _z_score
from dlnmc.fields import check_field, diag_embed, dyson_index, from_components, realify
from dlnmc.groups_fields import log_group_volume_field

__all__ = [
    "ChartVolumeEstimate",
    "chart_box",
    "estimate_group_volume_field",
    "estimate_orbit_volume_field",
    "group_chart",
]


def chart_box(d: int, field: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lower and upper corners of the chart's box, each of shape ``(dim G_d,)``.

    Only ``"complex"`` and ``"quaternion"`` (``O_d`` is disconnected and has
    its own charts on the ``orbit`` branch).
    """
    field = check_field(field)
    if field == "real":
        raise ValueError("group_chart covers U_d and Sp_d only (field 'complex' or 'quaternion')")
    b, d = dyson_index(field), check_width(d, "d")
    hi = []
    for k in range(d, 0, -1):  # sphere S^{bk-1}: bk-1 angles
        hi += [np.pi] * (b * k - 2) + [2.0 * np.pi]
    hi = np.array(hi)
    return np.zeros_like(hi), hi


def _sphere(phi: NDArray[np.float64]) -> NDArray[np.float64]:
    """Hyperspherical coordinates: ``(..., n-1)`` angles -> unit vectors ``(..., n)``."""
    sin_cum = np.cumprod(np.concatenate([np.ones_like(phi[..., :1]), np.sin(phi)], -1), -1)
    cos = np.concatenate([np.cos(phi), np.ones_like(phi[..., :1])], -1)
    return sin_cum * cos


def _unit_vector(theta: NDArray[np.float64], k: int, field: str) -> NDArray:
    """Point of the unit sphere of ``F^k`` as a stored ``k x 1`` matrix."""
    b = dyson_index(field)
    x = _sphere(theta).reshape(*theta.shape[:-1], k, 1, b)
    return from_components(x, field)


def group_chart(theta: NDArray[np.float64], d: int, field: str) -> NDArray:
    """The chart ``g(theta)`` of ``U_d`` or ``Sp_d``.

    Parameters
    ----------
    theta : ndarray, shape (..., dim G_d)
        Points of :func:`chart_box` (order: sphere ``S^{bd-1}`` first).
    d : int
    field : ``"complex"`` or ``"quaternion"``

    Returns
    -------
    ndarray, complex128, shape (..., n, n)
        Stored group elements.
    """
    lo, _ = chart_box(d, field)  # validates d and field
    b = dyson_index(field)
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim < 1 or theta.shape[-1] != lo.size:
        raise ValueError(
            f"theta must have shape (..., {lo.size}) for {field} d={d}, got {theta.shape}"
        )
    batch = theta.shape[:-1]
    r = 2 if field == "quaternion" else 1  # stored size of one F-entry
    # Build from the smallest factor outwards: g_1 = unit of F, then g_2, ...
    offsets = np.cumsum([0] + [b * k - 1 for k in range(d, 0, -1)])
    g = None
    for k in range(1, d + 1):
        j = d - k  # index of the sphere S^{bk-1} in theta
        v = _unit_vector(theta[..., offsets[j] : offsets[j + 1]], k, field)  # (..., rk, r)
        if k == 1:
            g = v
            continue
        n = r * k
        # Row indices of F-entry 0 in storage (for H: rows 0 and k of chi).
        first = [0] if r == 1 else [0, k]
        v1 = v[..., first, :]  # the stored 1 x 1 entry v_1
        # |v_1|: for H, det chi(v_1) = |a|^2 + |b|^2 = |v_1|^2
        nrm = np.sqrt(np.abs(np.linalg.det(v1))) if r == 2 else np.abs(v1[..., 0, 0])
        q = v1 / nrm[..., None, None]
        e1q = np.zeros_like(v)
        e1q[..., first, :] = q
        w = e1q - v
        w2 = np.einsum("...ia,...ia->...", w.conj(), w).real / r  # |w|^2 over F
        P = np.eye(n) - 2.0 * (w @ np.swapaxes(w.conj(), -1, -2)) / w2[..., None, None]
        D = np.zeros((*batch, n, n), dtype=np.complex128)
        # diag(q, g_{k-1}) in storage: entry 0 is q, the rest is g (both r x r blocks).
        rest = [i for i in range(n) if i not in first]
        D[..., np.ix_(first, first)[0], np.ix_(first, first)[1]] = q
        D[..., np.ix_(rest, rest)[0], np.ix_(rest, rest)[1]] = g
        # H(v) diag(1, g) = P_w diag(q, 1..) diag(1, g) = P_w diag(q, g)
        g = P @ D
    return g


@dataclass(frozen=True)
class ChartVolumeEstimate:
    """Chart Monte Carlo estimate of a volume (of ``G_d`` or of an orbit ``O_X``).

    Attributes
    ----------
    log_volume : float
        Log of the estimate.
    stderr : float
        Standard error of ``log_volume``: the delta-method spread of the replicates,
        combined with the finite-difference error of the density (truncation,
        estimated at step ``2 h``, and rounding ``eps / h``) and a ``1e-12`` relative
        rounding floor.
    closed_form : float
        The closed form it is held against (``log vol(G_d)`` or ``S_b(X)``).
    z_score : float
        ``(log_volume - closed_form) / stderr``.
    n_points : int
        Points per replicate.
    n_replicates : int
    """

    log_volume: float
    stderr: float
    closed_form: float
    z_score: float
    n_points: int
    n_replicates: int


def _log_volume_density(theta: NDArray[np.float64], d: int, field: str, h: float) -> NDArray:
    """``log sqrt(det J^T J)`` at each point, ``J`` by central differences of the embedding."""
    _, dg = _chart_with_derivative(theta, d, field, h)
    J = realify(dg, field)  # (n_pts, m, b d^2): rows are partial derivatives
    # QR of J^T is better conditioned than det(J J^T) near the chart's singular set.
    return _log_abs_det_r(J)


def _log_abs_det_r(J: NDArray) -> NDArray[np.float64]:
    """``log sqrt(det J J^T)`` as ``sum log |diag R|`` of ``J^T = Q R``.

    A sum of logs, not a product: the product overflows or underflows for the
    orbits of extreme singular values (``s ~ 1e160`` or ``1e-160``).
    """
    R = np.linalg.qr(np.swapaxes(J, -1, -2), mode="r")
    with np.errstate(divide="ignore"):  # a zero pivot (chart boundary, measure zero): -inf
        return np.log(np.abs(np.diagonal(R, axis1=-2, axis2=-1))).sum(axis=-1)


def _chart_with_derivative(theta: NDArray[np.float64], d: int, field: str, h: float):
    """``g(theta)`` and ``dg/dtheta_k`` (central differences), shapes (P, n, n), (P, m, n, n)."""
    m = theta.shape[-1]
    steps = h * np.eye(m)
    pts = np.concatenate(
        [theta[:, None, :] + steps, theta[:, None, :] - steps, theta[:, None, :]], axis=1
    )
    g = group_chart(pts, d, field)
    return g[:, 2 * m], (g[:, :m] - g[:, m : 2 * m]) / (2.0 * h)


def _log_orbit_density(
    theta: NDArray[np.float64], W0: NDArray, d: int, field: str, h: float
) -> NDArray[np.float64]:
    """``log sqrt(det J^T J)`` of ``theta -> g(theta) . W0`` in ``R^{b N d^2}``.

    ``g = (g_1..g_{N-1})``, each from :func:`group_chart` on its block of
    ``theta``; the chain rule through the (bilinear) gauge action is exact,
    only the chart is differentiated numerically.
    """
    N, n = W0.shape[-3], W0.shape[-1]
    m = theta.shape[-1] // (N - 1)
    P = theta.shape[0]
    gs, dgs = zip(
        *(_chart_with_derivative(theta[:, q * m : (q + 1) * m], d, field, h) for q in range(N - 1)),
        strict=True,
    )
    eye = np.broadcast_to(np.eye(n, dtype=np.complex128), (P, n, n))
    frames = [eye, *gs, eye]  # U_0 = U_N = I
    J = np.zeros((P, (N - 1) * m, N, n, n), dtype=np.complex128)
    for q in range(1, N):  # factor q moves layers q (left) and q+1 (right), 1-based
        cols = slice((q - 1) * m, q * m)
        dg = dgs[q - 1]  # (P, m, n, n)
        left = W0[q - 1] @ np.swapaxes(frames[q - 1].conj(), -1, -2)  # W_q U_{q-1}^*
        J[:, cols, q - 1] = dg @ left[:, None]
        right = frames[q + 1] @ W0[q]  # U_{q+1} W_{q+1}
        J[:, cols, q] = right[:, None] @ np.swapaxes(dg.conj(), -1, -2)
    return _log_abs_det_r(realify(J, field, n_axes=3))  # J: (P, (N-1) m, b N d^2)


def _with_fd_error(
    stderr: float, log_volume: float, log_f_h: NDArray, log_f_2h: NDArray, h: float
) -> float:
    """``stderr`` widened by the finite-difference and rounding errors of the density.

    The replicate spread misses the systematic error of the central differences
    (a constant density has zero spread). Its ``O(h^2)`` truncation part is
    estimated Richardson-style from the same points at step ``2 h``:
    ``err(h) ~ (mean_2h - mean_h) / 3``; the rounding part of a difference quotient
    is ``eps / h``; and every log volume carries the relative floor of
    :func:`dlnmc.estimators._with_roundoff`.
    """
    n = log_f_h.size
    delta = float(logsumexp(log_f_2h) - logsumexp(log_f_h)) if n else 0.0
    fd = math.hypot(delta / 3.0, np.finfo(np.float64).eps / h)
    return _with_roundoff(math.hypot(stderr, fd), log_volume)


def _angle_powers(d: int, field: str) -> NDArray[np.float64]:
    """Power ``a`` of ``sin(phi)`` in the round measure of each polar angle (0 for azimuths)."""
    b = dyson_index(field)
    powers = []
    for k in range(d, 0, -1):
        n = b * k
        powers += [float(n - 2 - i) for i in range(n - 2)] + [0.0]
    return np.array(powers)


def _proposal(u: NDArray[np.float64], d: int, field: str, mix: float):
    """Map uniforms to angles with the defensive mixture proposal; return (theta, log q).

    Each polar angle with round-measure power ``a >= 1`` is drawn from
    ``q(phi) = mix / pi + (1 - mix) sin(phi)^a / Z_a`` (``Z_a = int_0^pi sin^a``):
    with probability ``mix`` uniformly, else ``phi = arccos(1 - 2 t)`` with
    ``t ~ Beta((a+1)/2, (a+1)/2)``. Azimuths stay uniform on ``[0, 2 pi)``.
    The estimator ``mean(density / q)`` is unbiased for any proposal; this one
    only lowers the variance of the sharply peaked high-dimensional integrand,
    and ``mix > 0`` keeps the weights bounded.
    """
    lo, hi = chart_box(d, field)
    a = _angle_powers(d, field)
    theta = lo + u * (hi - lo)
    log_q = np.broadcast_to(-np.log(hi - lo), u.shape).copy()
    polar = a > 0
    if mix < 1.0 and np.any(polar):
        ap = a[polar]
        up = u[:, polar]
        alpha = 0.5 * (ap + 1.0)
        uniform = up < mix
        w = np.where(uniform, 0.0, (up - mix) / (1.0 - mix))
        t = betaincinv(alpha, alpha, w)
        phi = np.where(uniform, np.pi * up / max(mix, 1e-300), np.arccos(1.0 - 2.0 * t))
        theta[:, polar] = phi
        log_z = 0.5 * np.log(np.pi) + gammaln(alpha) - gammaln(0.5 * ap + 1.0)
        with np.errstate(divide="ignore"):
            log_sin = ap * np.log(np.sin(phi)) - log_z
        log_q[:, polar] = np.logaddexp(np.log(mix) - np.log(np.pi), np.log1p(-mix) + log_sin)
    return theta, log_q.sum(axis=-1)


def _check_options(
    n_points: object, n_replicates: object, mix: object, step: object
) -> tuple[int, int, float, float]:
    """Validated ``(n_points, n_replicates, mix, step)`` of the chart estimators."""
    n_points = check_width(n_points, "n_points")
    n_replicates = check_width(n_replicates, "n_replicates")
    if n_replicates < 2:
        raise ValueError(f"n_replicates must be >= 2 to estimate an error, got {n_replicates}")
    if n_points & (n_points - 1):
        raise ValueError(f"n_points must be a power of 2 (Sobol balance), got {n_points}")
    for name, value in (("mix", mix), ("step", step)):
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {value!r}")
    mix, step = float(mix), float(step)
    if not 0.0 < mix <= 1.0:
        raise ValueError(f"mix must be in (0, 1], got {mix!r}")
    # An upper bound keeps the step a difference quotient (angles live in [0, 2 pi)).
    if not 0.0 < step <= 0.1:
        raise ValueError(f"step must be a finite-difference step in (0, 0.1], got {step!r}")
    return n_points, n_replicates, mix, step


def estimate_group_volume_field(
    d: int,
    field: str,
    n_points: int = 2048,
    n_replicates: int = 16,
    seed: int | None = 0,
    *,
    mix: float = 0.1,
    step: float = 1e-5,
) -> ChartVolumeEstimate:
    """Randomized quasi-Monte Carlo estimate of ``vol(G_d)`` through :func:`group_chart`.

    ``vol = E_q[sqrt(det J^T J) / q(theta)]`` over the chart's box, with scrambled
    Sobol points pushed through the proposal ``q`` (see :func:`_proposal`;
    ``mix = 1`` is plain uniform sampling of the box). Nothing of
    ``docs/fields.md`` enters: the density is measured from the embedding.

    Parameters
    ----------
    d : int
        Width.
    field : ``"complex"`` or ``"quaternion"``
    n_points : int
        Scrambled Sobol points per replicate (a power of 2).
    n_replicates : int
        Independent scramblings (>= 2); their spread gives the standard error.
    seed : int or None
    mix : float
        Weight of the uniform component of the proposal, in ``(0, 1]``.
    step : float
        Finite-difference step in the angles, in ``(0, 0.1]``.

    Returns
    -------
    ChartVolumeEstimate
    """
    lo, _ = chart_box(d, field)
    n_points, n_replicates, mix, step = _check_options(n_points, n_replicates, mix, step)
    from scipy.stats import qmc  # deferred: scipy.stats costs ~0.5 s at `import dlnmc`

    m = lo.size
    seeds = np.random.SeedSequence(seed).spawn(n_replicates)
    log_f = np.empty((n_replicates, n_points))
    for r, ss in enumerate(seeds):  # few replicates; each is vectorized over its points
        u = qmc.Sobol(m, scramble=True, seed=np.random.default_rng(ss)).random(n_points)
        theta, log_q = _proposal(u, d, field, mix)
        log_f[r] = _log_volume_density(theta, d, field, step) - log_q
        if r == 0:  # same points at step 2h, for the finite-difference error
            log_f_2h = _log_volume_density(theta, d, field, 2.0 * step) - log_q
    log_vol, stderr = _log_mean_and_se(log_f, "rqmc")
    stderr = _with_fd_error(stderr, log_vol, log_f[0], log_f_2h, step)
    closed = log_group_volume_field(d, field)
    return ChartVolumeEstimate(
        log_volume=log_vol,
        stderr=stderr,
        closed_form=closed,
        z_score=_z_score(log_vol, closed, stderr),
        n_points=n_points,
        n_replicates=n_replicates,
    )


def estimate_orbit_volume_field(
    s: ArrayLike,
    depth: int,
    field: str,
    n_points: int = 1024,
    n_replicates: int = 16,
    seed: int | None = 0,
    *,
    mix: float = 0.1,
    step: float = 1e-5,
) -> ChartVolumeEstimate:
    """Chart Monte Carlo of ``vol(O_X)`` over ``C`` or ``H`` (MATH.md 7.1 and 8).

    The orbit of a balanced ``W0`` with singular values ``s`` is parametrized
    by ``theta -> (g_1(theta_1), ..., g_{N-1}(theta_{N-1})) . W0`` with the chart
    :func:`group_chart` in every factor (``G_d`` is connected for ``U_d``,
    ``Sp_d``: one component). ``vol(O_X) = int sqrt(det J^T J)`` over the box,
    ``J`` the derivative of the embedding into ``R^{b N d^2}``; estimated as in
    :func:`estimate_group_volume_field`. Neither ``vol(G_d)`` nor the closed form is
    used; ``closed_form`` is ``S_b`` of :func:`dlnmc.entropy_fields.entropy_sv_field`.

    Parameters
    ----------
    s : array_like, shape (d,)
        Singular values of ``X`` over ``F``.
    depth : int
        ``N >= 2``.
    field : ``"complex"`` or ``"quaternion"``
    n_points, n_replicates, seed, mix, step
        As in :func:`estimate_group_volume_field`.

    Returns
    -------
    ChartVolumeEstimate
    """
    from scipy.stats import qmc  # deferred: scipy.stats is slow to import

    from dlnmc.entropy_fields import entropy_sv_field

    s = check_singular_values(s)
    if s.ndim != 1:
        raise ValueError(f"s must have shape (d,), got {s.shape}")
    N = check_depth(depth)
    if N < 2:
        raise ValueError("depth must be >= 2: for N = 1 the orbit is a point")
    d = s.size
    lo, _hi = chart_box(d, field)
    n_points, n_replicates, mix, step = _check_options(n_points, n_replicates, mix, step)
    # W_p = diag(s)^{1/N} for every p is balanced with phi(W0) = diag(s); built in log
    # space (as dlnmc.orbit.orbit_base_point) so that no SVD meets s = [1e30, 1e-30].
    n = diag_embed(s, field).shape[-1]
    W0 = np.broadcast_to(diag_embed(np.exp(np.log(s) / N), field), (N, n, n)).copy()
    m = lo.size
    seeds = np.random.SeedSequence(seed).spawn(n_replicates)
    log_f = np.empty((n_replicates, n_points))
    for r, ss in enumerate(seeds):
        u = qmc.Sobol((N - 1) * m, scramble=True, seed=np.random.default_rng(ss)).random(n_points)
        blocks = [_proposal(u[:, q * m : (q + 1) * m], d, field, mix) for q in range(N - 1)]
        theta = np.concatenate([t for t, _ in blocks], axis=-1)
        log_q = sum(lq for _, lq in blocks)
        log_f[r] = _log_orbit_density(theta, W0, d, field, step) - log_q
        if r == 0:  # same points at step 2h, for the finite-difference error
            log_f_2h = _log_orbit_density(theta, W0, d, field, 2.0 * step) - log_q
    log_vol, stderr = _log_mean_and_se(log_f, "rqmc")
    stderr = _with_fd_error(stderr, log_vol, log_f[0], log_f_2h, step)
    closed = float(entropy_sv_field(s, N, field))
    return ChartVolumeEstimate(
        log_volume=log_vol,
        stderr=stderr,
        closed_form=closed,
        z_score=_z_score(log_vol, closed, stderr),
        n_points=n_points,
        n_replicates=n_replicates,
    )
