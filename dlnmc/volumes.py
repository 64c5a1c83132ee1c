"""Orbit and group volumes by Monte Carlo over a box chart of the group, for R, C and H.

The orbit ``O_X`` of a balanced ``W0`` with ``phi(W0) = X`` is the image of
``G_d^{N-1}`` (``G_d = O_d, U_d, Sp_d``) under the gauge action
``U -> (U_p W0_p U_{p-1}^*)_p`` inside ``F^{N d x d} = R^{b N d^2}``. Over a
box chart ``theta -> g(theta)`` of ``G_d`` (:mod:`dlnmc.charts`) in every gauge
factor, its volume is the box integral of ``sqrt(det J^T J)``, ``J`` the
derivative of the composed map into ``R^{b N d^2}``; a group whose chart
covers one of several isometric components (``O_d``: two) contributes that
count per factor. ``vol(G_d)`` is the same integral for ``theta -> g(theta)``
inside ``R^{b d^2}``.

Theory-free: the estimate uses only the chart and the embedding. The closed
forms (``S(X)`` of :func:`dlnmc.entropy.entropy_sv`, ``log vol(G_d)``) are
evaluated after the estimate, for ``closed_form`` and ``z_score`` only.

Methods
-------
``"mc"``: plain Monte Carlo; the error is the sample standard deviation.
``"rqmc"``: ``R`` independent scrambled Sobol' point sets; the error is the
spread of the replicate means. Sobol' balance needs a power of two per
replicate, so a requested ``n_samples`` is rounded *up* to
``R * 2^ceil(log2(ceil(n / R)))``; the result records both counts. Either
way ``stderr`` is the delta-method error of ``log_volume`` (= the relative
error of the volume), plus a ``1e-12`` relative rounding floor and, for a
chart with finite-difference derivatives, the truncation error (Richardson
estimate from the same points at twice the step) and rounding error
``eps / h`` of those differences.

Special cases, the same for every field: depth 1 (the orbit is the point
``W0``) and a zero-dimensional group (``O_1``: ``2^{N-1}`` points) are exact
counts, ``method = "exact"``, ``stderr = 0``, ``n_samples = 0``.

Why the Monte Carlo checks the group part only: the orbit metric pulled back
to ``G_d^{N-1}`` is left-invariant, so the integrand is a constant (depending
on ``s``) times the chart's Haar density, and its relative spread does not
depend on ``s``. The ``s``-dependence is checked by the Gram-determinant
identity in the geometry tests.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from dlnmc import groups
from dlnmc._validation import check_depth, check_singular_values, check_width
from dlnmc.charts import chart_of
from dlnmc.entropy import entropy_sv
from dlnmc.fields import Field, resolve_field
from dlnmc.orbit import orbit_base_point

__all__ = [
    "DEFAULT_N_SAMPLES",
    "DEFAULT_REPLICATES",
    "METHODS",
    "Chart",
    "GroupVolumeEstimate",
    "OrbitVolumeEstimate",
    "VolumeEstimate",
    "default_n_samples",
    "estimate_group_volume",
    "estimate_orbit_volume",
    "log_gram_group",
    "log_gram_orbit",
    "orbit_volume_table",
    "rqmc_sample_size",
    "z_score",
]

#: Integrand evaluations (all replicates together) for ``n_samples=None``, as
#: ``(max_angles, n)`` tiers in the number of chart angles ``(N-1) dim G_d``.
#: Chosen so that the relative standard error of a real orbit volume is below 1%
#: for d <= 4, N <= 5 (tests/statistical/test_estimators.py); larger problems, and C or H,
#: usually want an explicit ``n_samples``.
DEFAULT_N_SAMPLES = ((12, 2**14), (18, 2**17), (None, 2**18))
#: Default number of independent scrambles for ``method="rqmc"``.
DEFAULT_REPLICATES = 16
#: The sampling methods (``"exact"`` is reported, never requested).
METHODS = ("mc", "rqmc")
#: Floats of Jacobian per chunk (about 16 MB): bounds memory and keeps chunks cache-sized.
_CHUNK_FLOATS = 2_000_000
#: Relative floating-point floor added to every stderr: an integrand that is constant
#: on the box (SO(2), U(1)) has zero sample variance but not zero rounding error.
_ROUNDOFF = 1e-12

Seed = int | np.random.SeedSequence | np.random.Generator | None


class Chart(Protocol):
    """What the driver needs of a box chart of ``G_d`` (see :mod:`dlnmc.charts`)."""

    d: int
    field: Field
    n_components: int
    derivative_step: float | None

    @property
    def dim(self) -> int: ...

    @property
    def sobol_order(self) -> NDArray[np.int64]: ...

    def proposal(self, u: NDArray[np.float64]) -> tuple[NDArray, NDArray]: ...

    def matrix_and_derivatives(self, theta: ArrayLike) -> tuple[NDArray, NDArray]: ...

    # A chart with ``derivative_step`` set also has ``with_step(h) -> Chart``.


@dataclass(frozen=True)
class VolumeEstimate:
    """A Monte Carlo estimate of ``log vol`` of an orbit ``O_X`` or a group ``G_d``.

    Attributes
    ----------
    log_volume : float
        Estimate of the natural log of the volume (Frobenius metric of ``R^{b N d^2}``).
    stderr : float
        Standard error of ``log_volume`` (= relative standard error of the volume).
    closed_form : float
        The closed form it is compared with (``S(X)`` or ``log vol(G_d)``), never
        used to compute the estimate.
    z_score : float
        ``(log_volume - closed_form) / stderr``; for an exact count (``stderr = 0``)
        ``0.0`` if the two agree to 1e-12 and ``+-inf`` otherwise.
    n_samples : int
        Integrand evaluations actually used (0 for an exact count).
    n_requested : int or None
        The ``n_samples`` asked for (``None``: the default tier).
    wall_time : float
        Seconds spent.
    method : str
        ``"mc"``, ``"rqmc"`` or ``"exact"``.
    field : str
        ``"real"``, ``"complex"`` or ``"quaternion"``.
    width : int
        ``d``.
    depth : int or None
        ``N`` for an orbit volume, ``None`` for a group volume.
    n_replicates : int
        Independent scrambles (``"rqmc"``), 1 (``"mc"``) or 0 (``"exact"``).
    singular_values : tuple of float
        The ``s`` of an orbit (empty for a group).
    """

    log_volume: float
    stderr: float
    closed_form: float
    z_score: float
    n_samples: int
    n_requested: int | None
    wall_time: float
    method: str
    field: str
    width: int
    depth: int | None
    n_replicates: int
    singular_values: tuple[float, ...] = ()

    @property
    def relative_stderr(self) -> float:
        """Relative standard error of the volume itself (delta method: equals ``stderr``)."""
        return self.stderr

    @property
    def n_points(self) -> int:
        """Points per replicate (``n_samples`` for plain MC)."""
        return self.n_samples // max(1, self.n_replicates)


#: Names of the one result type from before the merge (orbit and group volumes alike).
OrbitVolumeEstimate = VolumeEstimate
GroupVolumeEstimate = VolumeEstimate


def default_n_samples(n_angles: int) -> int:
    """Default ``n_samples`` for an integral over ``n_angles`` chart angles."""
    for max_angles, n in DEFAULT_N_SAMPLES:
        if max_angles is None or n_angles <= max_angles:
            return n
    raise AssertionError("unreachable: the last tier has no bound")


def rqmc_sample_size(n_samples: int, n_replicates: int) -> int:
    """The RQMC sample size that runs for a request: ``R * 2^k >= n_samples``, smallest ``k``."""
    per = -(-int(n_samples) // int(n_replicates))  # ceil(n / R)
    return int(n_replicates) * (1 << max(0, per - 1).bit_length())


def z_score(log_volume: float, closed_form: float, stderr: float) -> float:
    """``(log_volume - closed_form) / stderr``; exact counts (``stderr = 0``) give 0 or +-inf.

    Raises
    ------
    ValueError
        For a NaN, infinite or negative ``stderr`` (a NaN z would look like a pass).
    """
    if not math.isfinite(stderr) or stderr < 0:
        raise ValueError(f"stderr must be finite and >= 0 to form a z-score, got {stderr!r}")
    diff = log_volume - closed_form
    if stderr > 0:
        return diff / stderr
    return 0.0 if abs(diff) <= 1e-12 * max(1.0, abs(closed_form)) else math.copysign(math.inf, diff)


def _with_roundoff(se: float, log_volume: float) -> float:
    return math.hypot(se, _ROUNDOFF * max(1.0, abs(log_volume)))


# ---- validation -----------------------------------------------------------------------


def _check_method(method: object) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return str(method)


def _check_replicates(n_replicates: object, method: str) -> int:
    R = check_width(n_replicates, "n_replicates")
    if method == "rqmc" and R < 2:
        raise ValueError(
            f"n_replicates must be >= 2 for method='rqmc' (their spread is the error), got {R}"
        )
    return R


def _check_n_samples(n_samples: object) -> int | None:
    """``None`` (default tier) or an int >= 2; any such count runs (RQMC rounds it up)."""
    if n_samples is None:
        return None
    if isinstance(n_samples, bool | np.bool_) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"n_samples must be an integer >= 2 or None, got {n_samples!r}")
    n = int(n_samples)
    if n < 2:
        raise ValueError(f"n_samples must be >= 2 (two points give an error estimate), got {n}")
    return n


def _check_seed(seed: object) -> np.random.Generator:
    """``numpy.random.default_rng(seed)``, with non-integer numbers refused (not truncated)."""
    if isinstance(seed, bool | np.bool_) or (
        isinstance(seed, numbers.Real) and not isinstance(seed, numbers.Integral)
    ):
        raise TypeError(f"seed must be an int, SeedSequence, Generator or None, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as err:
        raise type(err)(f"invalid seed {seed!r}: {err}") from err


def _check_run(
    method: object, n_replicates: object, n_samples: object, seed: object
) -> tuple[str, int, int | None, np.random.Generator]:
    """The sampling options of both drivers, checked in order: method, replicates, count, seed."""
    method = _check_method(method)
    R = _check_replicates(n_replicates, method)
    return method, R, _check_n_samples(n_samples), _check_seed(seed)


def _resolve_chart(chart: Chart | None, d: int, field: Field) -> Chart:
    if chart is None:
        return chart_of(d, field)
    if chart.d != d or chart.field is not field:
        raise ValueError(
            f"chart is for d={chart.d}, field={chart.field.name!r}; "
            f"the estimate is for d={d}, field={field.name!r}"
        )
    return chart


# ---- integrands -----------------------------------------------------------------------


def _half_logdet_spd(gram: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log sqrt(det G)`` for a batch of Gram matrices (Cholesky; slogdet if one is singular)."""
    try:
        chol = np.linalg.cholesky(gram)
        return np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    except np.linalg.LinAlgError:
        # A degenerate Gram matrix happens only on the chart's null boundary set.
        sign, logdet = np.linalg.slogdet(gram)
        return np.where(sign > 0, 0.5 * logdet, -np.inf)


def log_gram_orbit(chart: Chart, theta: NDArray[np.float64], W0: NDArray) -> NDArray[np.float64]:
    """``log sqrt(det J^T J)`` of ``theta -> g(theta) . W0`` into ``R^{b N d^2}``.

    Parameters
    ----------
    chart : Chart
        Chart of ``G_d`` used in each of the ``N - 1`` gauge factors.
    theta : ndarray, shape (B, N-1, m)
        Angles, ``m = chart.dim``.
    W0 : ndarray, shape (N, n, n)
        Base point of the orbit, in the storage of ``chart.field``.

    Returns
    -------
    ndarray, shape (B,)
        ``W_p = U_p W0_p U_{p-1}^*``, so a derivative of ``U_q`` moves layer ``q``
        by ``L = dU_q W0_q U_{q-1}^*`` and layer ``q+1`` by ``R = U_{q+1} W0_{q+1} dU_q^*``
        and nothing else: ``J^T J`` is block tridiagonal.
    """
    field = chart.field
    B, n_factors, m = theta.shape
    N, n = W0.shape[0], W0.shape[-1]
    g, dg = chart.matrix_and_derivatives(theta)  # (B, N-1, n, n), (B, N-1, m, n, n)
    eye = np.broadcast_to(np.eye(n, dtype=g.dtype), (B, 1, n, n))
    U = np.concatenate([eye, g, eye], axis=1)  # U_0 .. U_N
    # The m derivatives are stacked into one (m n x n) matrix per sample: numpy's
    # per-matrix overhead dominates at these sizes. realify is an isometry, so Gram
    # entries are plain dot products of the real coordinates.
    L, R = [], []
    for q in range(1, N):  # loop over gauge factors; vectorized over batch and angles
        dgq = dg[:, q - 1].reshape(B, m * n, n)
        right = W0[q - 1] @ field.ct(U[:, q - 1])  # W0_q U_{q-1}^*
        L.append(field.realify((dgq @ right).reshape(B, m, n, n)))
        left = U[:, q + 1] @ W0[q]  # U_{q+1} W0_{q+1}
        prod = (left @ field.ct(dgq)).reshape(B, n, m, n)  # [a, k, c] = R_k[a, c]
        R.append(field.realify(prod.transpose(0, 2, 1, 3)))
    gram = np.zeros((B, n_factors * m, n_factors * m))
    for q in range(n_factors):
        blk = slice(q * m, (q + 1) * m)
        gram[:, blk, blk] = L[q] @ np.swapaxes(L[q], -1, -2) + R[q] @ np.swapaxes(R[q], -1, -2)
        if q + 1 < n_factors:
            nxt = slice((q + 1) * m, (q + 2) * m)
            off = R[q] @ np.swapaxes(L[q + 1], -1, -2)  # both move layer q + 1
            gram[:, blk, nxt] = off
            gram[:, nxt, blk] = np.swapaxes(off, -1, -2)
    return _half_logdet_spd(gram)


def log_gram_group(chart: Chart, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log sqrt(det J^T J)`` of ``theta -> g(theta)`` into ``R^{b d^2}``, theta (B, m)."""
    _, dg = chart.matrix_and_derivatives(theta)
    T = chart.field.realify(dg)  # (B, m, b d^2)
    return _half_logdet_spd(T @ np.swapaxes(T, -1, -2))


# ---- the driver -----------------------------------------------------------------------


def _unit_points(
    dim: int, n_samples: int, method: str, rng: np.random.Generator, n_replicates: int
) -> NDArray[np.float64]:
    """Points of ``[0, 1)^dim``, shape (R, n_per, dim): R = 1 for MC, R scrambles for RQMC."""
    if method == "mc":
        return rng.random((1, n_samples, dim))
    from scipy.stats import qmc  # deferred: scipy.stats costs ~0.5 s at import

    n_per = n_samples // n_replicates  # a power of 2 (rqmc_sample_size): Sobol' balance
    pts = np.empty((n_replicates, n_per, dim))
    for r, child in enumerate(rng.spawn(n_replicates)):  # loop over the few replicates
        pts[r] = qmc.Sobol(dim, scramble=True, rng=child).random_base2(n_per.bit_length() - 1)
    return pts


def _log_mean_and_se(log_f: NDArray[np.float64], method: str) -> tuple[float, float]:
    """``log`` of the estimated mean of ``f`` and the delta-method s.e. of that log.

    ``log_f`` has shape (R, n_per); a common scale factor keeps orbits with
    extreme singular values from overflowing or underflowing.
    """
    if method == "mc":
        flat = log_f.ravel()
        log_mean = float(logsumexp(flat) - math.log(flat.size))
        return log_mean, float(np.exp(flat - log_mean).std(ddof=1) / math.sqrt(flat.size))
    rep = logsumexp(log_f, axis=1) - math.log(log_f.shape[1])  # log replicate means
    log_mean = float(logsumexp(rep) - math.log(rep.size))
    return log_mean, float(np.exp(rep - log_mean).std(ddof=1) / math.sqrt(rep.size))


def _fd_error(log_f_h: NDArray[np.float64], log_f_2h: NDArray[np.float64], h: float) -> float:
    """Error of a finite-difference chart: Richardson ``O(h^2)`` part and ``eps / h`` rounding.

    The sample spread misses this systematic error (a constant density has
    none); ``err(h) ~ (mean_2h - mean_h) / 3`` from the same points.
    """
    delta = float(logsumexp(log_f_2h) - logsumexp(log_f_h))
    return math.hypot(delta / 3.0, np.finfo(np.float64).eps / h)


@dataclass(frozen=True)
class _Integral:
    log_mean: float  # log of the mean of f / q over the points
    stderr: float
    n_used: int
    n_replicates: int


def _chart_integral(
    chart: Chart,
    n_factors: int,
    log_density: Callable[[Chart, NDArray[np.float64]], NDArray[np.float64]],
    floats_per_point: int,
    n: int,
    method: str,
    R: int,
    rng: np.random.Generator,
) -> _Integral:
    """``log int f`` over the box of ``n_factors`` copies of the chart, by MC or RQMC.

    ``log_density(chart, theta)`` maps angles ``(B, n_factors, m)`` to ``log f``.
    """
    m = chart.dim
    u = _unit_points(n_factors * m, n, method, rng, R)
    n_rep, n_per = u.shape[:2]
    # Column j of the point set drives angle order[j] (angle k of factor q is q m + k):
    # the chart's preferred angles take the best-spread leading Sobol' coordinates.
    order = np.array([q * m + k for k in chart.sobol_order for q in range(n_factors)])
    inverse = np.argsort(order)

    def log_f(x: NDArray[np.float64], c: Chart) -> NDArray[np.float64]:
        theta, log_q = c.proposal(x[:, inverse].reshape(-1, n_factors, m))
        return log_density(c, theta) - log_q.sum(axis=-1)  # log_q: (B, n_factors)

    flat = u.reshape(-1, n_factors * m)
    chunk = min(4096, max(256, _CHUNK_FLOATS // max(1, floats_per_point)))
    vals = np.concatenate([log_f(flat[i : i + chunk], chart) for i in range(0, len(flat), chunk)])
    log_mean, se = _log_mean_and_se(vals.reshape(n_rep, n_per), method)
    h = chart.derivative_step
    if h is not None:  # the first replicate (or 1/16 of plain MC) again at step 2 h
        k = n_per if method == "rqmc" else max(2, len(flat) // DEFAULT_REPLICATES)
        coarse = chart.with_step(2.0 * h)
        log_2h = np.concatenate(
            [log_f(flat[i : min(i + chunk, k)], coarse) for i in range(0, k, chunk)]
        )
        se = math.hypot(se, _fd_error(vals[:k], log_2h, h))
    return _Integral(log_mean, se, n_rep * n_per, n_rep if method == "rqmc" else 1)


def _samples_to_run(n: int | None, method: str, R: int, n_angles: int) -> int:
    n = default_n_samples(n_angles) if n is None else n
    return rqmc_sample_size(n, R) if method == "rqmc" else n


def _orbit_closed_form(s: NDArray[np.float64], N: int, field: Field) -> float:
    return float(entropy_sv(s, N, field=field.name))


def _group_closed_form(d: int, field: Field) -> float:
    # dlnmc.groups.log_group_volume is the real closed form (bit-identical to the
    # tests' reference); the field object carries the C and H ones.
    return groups.log_group_volume(d) if field.is_real else field.log_group_volume(d)


def estimate_orbit_volume(
    s: ArrayLike,
    depth: int,
    n_samples: int | None = None,
    seed: Seed = None,
    *,
    field: str | Field = "real",
    method: str = "rqmc",
    n_replicates: int = DEFAULT_REPLICATES,
    chart: Chart | None = None,
) -> VolumeEstimate:
    """Monte Carlo ``log vol(O_X)`` over a box chart of the gauge group ``G_d^{N-1}``.

    Parameters
    ----------
    s : array_like, shape (d,)
        Singular values of ``X`` over ``F`` (any order, > 0, finite); every ``X``
        with these singular values has an isometric orbit.
    depth : int
        ``N >= 1`` (``N = 1``: the orbit is a point, an exact count).
    n_samples : int or None
        Integrand evaluations, any integer >= 2. ``"rqmc"`` runs the smallest
        ``n_replicates * 2^k >= n_samples`` (:func:`rqmc_sample_size`); the result's
        ``n_samples`` is what ran, ``n_requested`` what was asked. ``None``: a
        default growing with the number of angles (:data:`DEFAULT_N_SAMPLES`).
    seed : int, SeedSequence, Generator or None
        Same seed, same bits.
    field : {"real", "complex", "quaternion"} or Field
    method : {"rqmc", "mc"}
    n_replicates : int
        Independent scrambles for ``"rqmc"`` (>= 2).
    chart : Chart, optional
        The chart of ``G_d`` (default :func:`dlnmc.charts.chart_of`), e.g. a
        Householder chart with another ``mix`` or ``step``.

    Returns
    -------
    VolumeEstimate
        ``closed_form = entropy_sv(s, depth, field=field)``, evaluated after the
        estimate and only for the comparison.
    """
    t0 = time.perf_counter()
    f = resolve_field(field)
    s = check_singular_values(s)
    if s.ndim != 1:
        raise ValueError(f"s must have shape (d,), got {s.shape}")
    N = check_depth(depth)
    method, R, requested, rng = _check_run(method, n_replicates, n_samples, seed)
    d = s.size
    chart = _resolve_chart(chart, d, f)
    sv = tuple(float(x) for x in s)
    # Components of G_d^{N-1} are isometric images of the charted one (a fixed gauge
    # element acts isometrically), hence the count per factor.
    log_components = (N - 1) * math.log(chart.n_components)
    if chart.dim == 0 or N == 1:  # a finite orbit: counting measure
        lv, cf = log_components, _orbit_closed_form(s, N, f)
        return VolumeEstimate(
            lv, 0.0, cf, z_score(lv, cf, 0.0), 0, requested, time.perf_counter() - t0,
            "exact", f.name, d, N, 0, sv,
        )  # fmt: skip
    W0 = orbit_base_point(s, N, field=f)
    n = W0.shape[-1]
    K = (N - 1) * chart.dim
    res = _chart_integral(
        chart, N - 1, lambda c, th: log_gram_orbit(c, th, W0), K * N * n * n * (2 if n > d else 1),
        _samples_to_run(requested, method, R, K), method, R, rng,
    )  # fmt: skip
    lv = res.log_mean + log_components
    se = _with_roundoff(res.stderr, lv)
    wall = time.perf_counter() - t0
    cf = _orbit_closed_form(s, N, f)  # for the comparison only, after the estimate
    return VolumeEstimate(
        lv, se, cf, z_score(lv, cf, se), res.n_used, requested, wall, method, f.name, d, N,
        res.n_replicates, sv,
    )  # fmt: skip


def estimate_group_volume(
    d: int,
    n_samples: int | None = None,
    seed: Seed = None,
    *,
    field: str | Field = "real",
    method: str = "rqmc",
    n_replicates: int = DEFAULT_REPLICATES,
    chart: Chart | None = None,
) -> VolumeEstimate:
    """Monte Carlo ``log vol(G_d)`` (metric ``Re tr(B^* B)`` of ``R^{b d^2}``) over a box chart.

    ``vol(G_d)`` = number of components times the box integral of
    ``sqrt(det J^T J)`` of ``theta -> g(theta)``. A zero-dimensional group
    (``O_1``) is the exact count. ``closed_form = log vol(G_d)``, used only for
    the comparison. Parameters and conventions as in :func:`estimate_orbit_volume`.

    Returns
    -------
    VolumeEstimate
        With ``depth = None``.
    """
    t0 = time.perf_counter()
    f = resolve_field(field)
    d = check_width(d, "d")
    method, R, requested, rng = _check_run(method, n_replicates, n_samples, seed)
    chart = _resolve_chart(chart, d, f)
    log_components = math.log(chart.n_components)
    if chart.dim == 0:
        lv, cf = log_components, _group_closed_form(d, f)
        return VolumeEstimate(
            lv, 0.0, cf, z_score(lv, cf, 0.0), 0, requested, time.perf_counter() - t0,
            "exact", f.name, d, None, 0,
        )  # fmt: skip
    m = chart.dim
    n = f.rep_size(d)
    res = _chart_integral(
        chart, 1, lambda c, th: log_gram_group(c, th[:, 0]), m * (m + 2) * n * n,
        _samples_to_run(requested, method, R, m), method, R, rng,
    )  # fmt: skip
    lv = res.log_mean + log_components
    se = _with_roundoff(res.stderr, lv)
    wall = time.perf_counter() - t0
    cf = _group_closed_form(d, f)
    return VolumeEstimate(
        lv, se, cf, z_score(lv, cf, se), res.n_used, requested, wall, method, f.name, d, None,
        res.n_replicates,
    )  # fmt: skip


# ---- the table ------------------------------------------------------------------------


def _table_singular_values(
    singular_values: Mapping[int, ArrayLike] | Callable[[int], ArrayLike] | None,
    width: int,
    root: int,
) -> NDArray[np.float64]:
    if singular_values is None:
        # Seeded per width (not per cell) so one row of the table shares its X.
        r = np.random.default_rng(np.random.SeedSequence([root, width]))
        s = np.sort(np.exp(r.uniform(-1.0, 1.0, width)))[::-1]
    elif callable(singular_values):
        s = singular_values(width)
    elif isinstance(singular_values, Mapping):
        if width not in singular_values:
            raise ValueError(f"singular_values has no entry for width {width}")
        s = singular_values[width]
    else:
        raise TypeError("singular_values must be None, a mapping width -> s, or a callable")
    s = check_singular_values(s, f"singular_values[{width}]")
    if s.shape != (width,):
        raise ValueError(f"singular_values[{width}] must have shape ({width},), got {s.shape}")
    return s


def _table_seed(seed: object) -> int:
    if seed is None:  # fresh entropy, cut to 63 bits so the attribute fits netCDF's int64
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")
    if int(seed) < 0:
        raise ValueError(f"seed must be non-negative, got {int(seed)}")
    return int(seed)


def orbit_volume_table(
    widths: Sequence[int],
    depths: Sequence[int],
    *,
    n_samples: int | None = None,
    seed: int | None = 0,
    method: str = "rqmc",
    field: str | Field = "real",
    singular_values: Mapping[int, ArrayLike] | Callable[[int], ArrayLike] | None = None,
) -> xr.Dataset:
    """Orbit volumes over a grid of widths and depths, Monte Carlo beside the closed form.

    Parameters
    ----------
    widths, depths : sequence of int
    n_samples, method, field
        As in :func:`estimate_orbit_volume`.
    seed : int or None
        Root seed. Cell ``(width, depth)`` uses ``SeedSequence([seed, width, depth])``,
        so a cell does not depend on which other cells are computed. ``None`` draws
        a root seed, recorded in the attributes.
    singular_values : mapping width -> s, callable width -> s, or None
        ``None`` draws ``s_i = exp(U(-1, 1))`` from ``SeedSequence([seed, width])``.

    Returns
    -------
    xarray.Dataset
        Dims ``(width, depth)`` with ``log_volume_mc``, ``stderr``, ``closed_form``,
        ``z_score``, ``relative_stderr``, ``n_samples`` (what ran), ``wall_time``, and
        ``singular_values (width, sv)`` (NaN-padded to the largest width).
    """
    f = resolve_field(field)
    widths = [check_width(w) for w in widths]
    depths = [check_depth(n) for n in depths]
    method = _check_method(method)
    _check_n_samples(n_samples)
    root = _table_seed(seed)
    shape = (len(widths), len(depths))
    keys = ("log_volume_mc", "stderr", "closed_form", "z_score", "wall_time")
    out = {k: np.full(shape, np.nan) for k in keys}
    n_used = np.zeros(shape, dtype=np.int64)
    sv = np.full((len(widths), max(widths, default=1)), np.nan)
    for i, w in enumerate(widths):  # a handful of cells; each cell is vectorized
        s = _table_singular_values(singular_values, w, root)
        sv[i, :w] = s
        for j, n in enumerate(depths):
            est = estimate_orbit_volume(
                s, n, n_samples, np.random.SeedSequence([root, w, n]), field=f, method=method
            )
            for k, v in zip(keys, (est.log_volume, est.stderr, est.closed_form,
                                   est.z_score, est.wall_time), strict=True):  # fmt: skip
                out[k][i, j] = v
            n_used[i, j] = est.n_samples
    dims = ("width", "depth")
    ds = xr.Dataset(
        {
            "log_volume_mc": (
                dims, out["log_volume_mc"], {"long_name": "Monte Carlo log vol(O_X)"}
            ),
            "stderr": (dims, out["stderr"], {"long_name": "standard error of log_volume_mc"}),
            "closed_form": (dims, out["closed_form"], {"long_name": "S(X), entropy formula"}),
            "z_score": (dims, out["z_score"], {"long_name": "(log_volume_mc - closed_form)/s.e."}),
            "relative_stderr": (dims, out["stderr"], {"long_name": "relative s.e. of the volume"}),
            "n_samples": (dims, n_used, {"long_name": "integrand evaluations that ran"}),
            "wall_time": (dims, out["wall_time"], {"units": "s"}),
            "singular_values": (("width", "sv"), sv),
        },
        coords={"width": widths, "depth": depths},
        attrs={
            "description": "Orbit volumes vol(O_X) by chart integration over the gauge group",
            "log": "natural",
            "metric": f"Frobenius metric of {f.name} matrices (R^(b N d^2)); "
            "G_d carries Re tr(B^* B)",
            "field": f.name,
            "method": method,
            "n_samples_requested": -1 if n_samples is None else int(n_samples),
            "seed": root,
            "cell_seed": "numpy.random.SeedSequence([seed, width, depth])",
            "z_score_convention": "stderr = 0 (exact count): 0 if equal to 1e-12, else +-inf",
        },
    )
    return ds
