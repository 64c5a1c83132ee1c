"""Monte Carlo orbit and group volumes by chart integration (MATH.md section 7.1).

The orbit ``O_X`` is the image of ``O_d^{N-1}`` under ``U -> U . W0`` inside
``R^{N d^2}`` (Frobenius metric). Its identity component is parametrized by
``theta -> g(theta) . W0`` with ``g = (g_1, ..., g_{N-1})``, each ``g_q`` the
generalized Euler chart of ``SO(d)`` on a box (:mod:`dlnmc.charts`). Its
volume is the box integral of the ambient Gram determinant
``sqrt(det J^T J)`` of that composed map, with ``J`` from the exact derivative
of the Givens product; the ``2^{N-1}`` components of ``O_d^{N-1}`` are
isometric images of the identity component (a fixed gauge element acts
isometrically on ``R^{N d^2}``), hence the factor ``2^{N-1}``.

Nothing here uses MATH.md sections 4-5 (``c_d``, ``D_ij``); the closed form
is evaluated only afterwards, for the comparison in ``closed_form`` and
``z_score``.

Methods
-------
``"mc"``: plain Monte Carlo, uniform angles; the standard error comes from
the sample variance. ``"rqmc"``: randomized quasi-Monte Carlo, ``R``
independent scrambled Sobol' point sets (``scipy.stats.qmc.Sobol``); the
estimate is the mean of the replicate means and its standard error their
standard deviation over ``sqrt(R)``. Both report the standard error of
``log_volume`` by the delta method: ``se(log V) = se(V) / V``, which is also
the relative standard error of the volume.

What the Monte Carlo tests (and what it does not)
-------------------------------------------------
The integrand factors as ``sqrt(det K_s)`` times the Haar density of
``O_d^{N-1}`` in chart coordinates: the orbit metric pulled back to the gauge
group is left-invariant (``dlnmc.orbit``), so at every chart point it is
``K_s`` (a constant, ``s``-dependent form on the Lie algebra) composed with the
chart's Maurer-Cartan frame. Hence the relative fluctuation of the integrand,
and the relative standard error, do not depend on ``s``. The Monte Carlo
checks the chart and group-volume part (``vol(O_d)^{N-1}`` up to the constant
factor); the ``s``-dependence of ``S(X)`` enters only through ``det K_s`` and is
tested separately by the Gram-determinant identity (``prod D_ij``, MATH.md
section 5) in the geometry tests.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp
from scipy.stats import qmc

from dlnmc._validation import check_depth, check_singular_values, check_width
from dlnmc.charts import EulerChart, euler_chart
from dlnmc.entropy import entropy_sv
from dlnmc.groups import log_group_volume
from dlnmc.orbit import orbit_base_point

__all__ = [
    "DEFAULT_N_SAMPLES",
    "DEFAULT_REPLICATES",
    "GroupVolumeEstimate",
    "OrbitVolumeEstimate",
    "default_n_samples",
    "estimate_group_volume",
    "estimate_orbit_volume",
    "log_gram_orbit",
    "orbit_volume_table",
]

#: Integrand evaluations (all replicates together) for ``n_samples=None``, as
#: ``(max_angles, n)`` tiers in the number of chart angles ``K = (N-1) d(d-1)/2``.
#: Chosen so that the relative standard error of the volume is below 1% for
#: d <= 4, N <= 5 (tests/test_estimators.py checks it; d = 4, N = 5 reaches about
#: 0.5%). The integrand's variance grows geometrically with the number of gauge
#: factors, so larger problems need an explicit ``n_samples``.
DEFAULT_N_SAMPLES = ((12, 2**14), (18, 2**17), (None, 2**18))
#: Default number of independent scrambles for ``method="rqmc"``.
DEFAULT_REPLICATES = 16
#: Floats of Jacobian per chunk (about 16 MB): bounds memory and keeps chunks cache-sized.
_CHUNK_FLOATS = 2_000_000
_METHODS = ("mc", "rqmc")
#: Relative floating-point floor added to every stderr: a Gram determinant that is
#: constant on the box (d = 2) has zero sample variance but not zero rounding error.
_ROUNDOFF = 1e-12


def default_n_samples(n_angles: int) -> int:
    """Default ``n_samples`` for an integral over ``n_angles`` chart angles."""
    for max_angles, n in DEFAULT_N_SAMPLES:
        if max_angles is None or n_angles <= max_angles:
            return n
    raise AssertionError("unreachable: the last tier has no bound")


def _with_roundoff(se: float, log_volume: float) -> float:
    return math.hypot(se, _ROUNDOFF * max(1.0, abs(log_volume)))


@dataclass(frozen=True)
class GroupVolumeEstimate:
    """A Monte Carlo estimate of ``log vol(O_d)`` (Frobenius metric, natural log).

    Attributes
    ----------
    log_volume : float
        Estimate of ``log vol``.
    stderr : float
        Standard error of ``log_volume`` (= relative standard error of the volume).
    closed_form : float
        The closed form it is compared with (never used to compute the estimate).
    z_score : float
        ``(log_volume - closed_form) / stderr``. When ``stderr == 0`` (an exact
        count, ``d = 1`` or ``N = 1``) it is ``0.0`` if the two agree to 1e-12
        and ``±inf`` otherwise.
    n_samples : int
        Integrand evaluations used (0 when the volume is an exact count).
    wall_time : float
        Seconds spent computing the estimate.
    method : str
        ``"mc"``, ``"rqmc"`` or ``"exact"`` (counting measure on a finite orbit).
    width : int
        ``d``.
    n_replicates : int
        Independent scrambles (``"rqmc"``), else 1 (``"mc"``) or 0 (``"exact"``).
    """

    log_volume: float
    stderr: float
    closed_form: float
    z_score: float
    n_samples: int
    wall_time: float
    method: str
    width: int
    n_replicates: int

    @property
    def relative_stderr(self) -> float:
        """Relative standard error of the volume itself (delta method: equals ``stderr``)."""
        return self.stderr


@dataclass(frozen=True)
class OrbitVolumeEstimate(GroupVolumeEstimate):
    """A Monte Carlo estimate of ``log vol(O_X)``; ``closed_form = entropy_sv(s, depth)``.

    Attributes
    ----------
    depth : int
        ``N``.
    singular_values : tuple of float
        The ``s`` whose orbit was measured.
    """

    depth: int = 1
    singular_values: tuple[float, ...] = ()


def _z_score(log_volume: float, closed_form: float, stderr: float) -> float:
    if not math.isfinite(stderr) or stderr < 0:
        # A NaN/inf stderr would make z = NaN or 0 and look like a pass.
        raise ValueError(f"stderr must be finite and >= 0 to form a z-score, got {stderr!r}")
    diff = log_volume - closed_form
    if stderr > 0:
        return diff / stderr
    # Exact counts: agreement to rounding is z = 0, anything else is infinitely significant.
    return 0.0 if abs(diff) <= 1e-12 * max(1.0, abs(closed_form)) else math.copysign(math.inf, diff)


def _check_method(method: str) -> str:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    return method


def _check_n_samples(n_samples: object, method: str, n_replicates: int, n_angles: int) -> int:
    if n_samples is None:
        return default_n_samples(n_angles)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
        raise TypeError(f"n_samples must be an integer, got {n_samples!r}")
    n = int(n_samples)
    minimum = 2 * n_replicates if method == "rqmc" else 2
    if n < minimum:
        raise ValueError(f"n_samples must be >= {minimum} for method={method!r}, got {n}")
    if method == "rqmc":
        # Sobol' balance needs a power of 2 per replicate; refuse rather than truncate.
        n_per = n / n_replicates
        if not n_per.is_integer() or int(n_per) & (int(n_per) - 1):
            near = n_replicates * 2 ** max(1, round(math.log2(n_per)))
            raise ValueError(
                f"n_samples must be n_replicates ({n_replicates}) times a power of 2 for "
                f"method='rqmc', got {n}; use e.g. n_samples={near}"
            )
    return n


def _check_replicates(n_replicates: object, method: str) -> int:
    R = check_width(n_replicates, "n_replicates")
    if method == "rqmc" and R < 2:
        raise ValueError(
            f"n_replicates must be >= 2 for method='rqmc' (their spread is the error), got {R}"
        )
    return R


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


def log_gram_orbit(
    chart: EulerChart, theta: NDArray[np.float64], W0: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``log sqrt(det J^T J)`` of ``theta -> g(theta) . W0`` at a batch of angles.

    Parameters
    ----------
    chart : EulerChart
        Chart of ``SO(d)`` used for each of the ``N - 1`` gauge factors.
    theta : ndarray, shape (B, N-1, m)
        Angles, ``m = d(d-1)/2``.
    W0 : ndarray, shape (N, d, d)
        Base point of the orbit.

    Returns
    -------
    ndarray, shape (B,)
        Half the log Gram determinant of the ``N d^2 x (N-1) m`` Jacobian.
        ``W_p = U_p W0_p U_{p-1}^T`` so a derivative of ``U_q`` moves layer ``q``
        by ``dU_q W0_q U_{q-1}^T`` and layer ``q+1`` by ``U_{q+1} W0_{q+1} dU_q^T``.
    """
    B, n_factors, m = theta.shape
    N, d = W0.shape[0], W0.shape[-1]
    g, dg = chart.matrix_and_derivatives(theta)  # (B, N-1, d, d), (B, N-1, m, d, d)
    eye = np.broadcast_to(np.eye(d), (B, 1, d, d))
    U = np.concatenate([eye, g, eye], axis=1)  # U_0 .. U_N
    # A derivative of U_q moves layer q by L_q = dU_q W0_q U_{q-1}^T and layer q+1 by
    # R_q = U_{q+1} W0_{q+1} dU_q^T (nothing else), so J^T J is block tridiagonal:
    # diagonal blocks <L_q, L_q> + <R_q, R_q>, off-diagonal <R_q, L_{q+1}> (layer q+1).
    # Products stack the m derivatives into one (m d x d) matrix per sample, since
    # numpy's per-matrix overhead dominates at these sizes.
    L, R = [], []
    for q in range(1, N):  # loop over gauge factors; vectorized over batch and angles
        dgq = dg[:, q - 1].reshape(B, m * d, d)
        right = W0[q - 1] @ np.swapaxes(U[:, q - 1], -1, -2)  # W0_q U_{q-1}^T
        L.append((dgq @ right).reshape(B, m, d * d))
        left = U[:, q + 1] @ W0[q]  # U_{q+1} W0_{q+1}
        prod = (left @ np.swapaxes(dgq, -1, -2)).reshape(B, d, m, d)  # [a, k, b] = R_k[a, b]
        R.append(prod.transpose(0, 2, 1, 3).reshape(B, m, d * d))
    gram = np.empty((B, n_factors * m, n_factors * m))
    for q in range(n_factors):
        blk = slice(q * m, (q + 1) * m)
        gram[:, blk, blk] = L[q] @ np.swapaxes(L[q], -1, -2) + R[q] @ np.swapaxes(R[q], -1, -2)
        for q2 in range(n_factors):
            if abs(q2 - q) > 1:
                gram[:, blk, q2 * m : (q2 + 1) * m] = 0.0
        if q + 1 < n_factors:
            nxt = slice((q + 1) * m, (q + 2) * m)
            off = R[q] @ np.swapaxes(L[q + 1], -1, -2)
            gram[:, blk, nxt] = off
            gram[:, nxt, blk] = np.swapaxes(off, -1, -2)
    return _half_logdet_spd(gram)


def _half_logdet_spd(gram: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log sqrt(det G)`` for a batch of Gram matrices (Cholesky; slogdet if one is singular)."""
    try:
        chol = np.linalg.cholesky(gram)
        return np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
    except np.linalg.LinAlgError:
        # A degenerate Gram matrix happens only on the chart's null boundary set.
        sign, logdet = np.linalg.slogdet(gram)
        return np.where(sign > 0, 0.5 * logdet, -np.inf)


def _log_gram_group(chart: EulerChart, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log sqrt(det J^T J)`` of ``theta -> g(theta)`` in ``R^{d^2}``, theta (B, m)."""
    _, dg = chart.matrix_and_derivatives(theta)
    T = dg.reshape(theta.shape[0], chart.dim, -1)
    return _half_logdet_spd(T @ np.swapaxes(T, -1, -2))


def _unit_points(
    dim: int, n_samples: int, method: str, rng: np.random.Generator, n_replicates: int
) -> NDArray[np.float64]:
    """Points of ``[0, 1)^dim``, shape (R, n_per, dim): R = 1 for MC, R scrambles for RQMC."""
    if method == "mc":
        return rng.random((1, n_samples, dim))
    n_per = n_samples // n_replicates
    pts = np.empty((n_replicates, n_per, dim))
    # n_per is a power of 2 (checked by _check_n_samples): Sobol' balance holds.
    for r, child in enumerate(rng.spawn(n_replicates)):  # loop over the few replicates
        sob = qmc.Sobol(dim, scramble=True, rng=child)
        pts[r] = sob.random_base2(n_per.bit_length() - 1)
    return pts


def _chunked_log_integrand(
    f: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    u: NDArray[np.float64],
    floats_per_point: int,
) -> NDArray[np.float64]:
    """Apply ``f`` to rows of ``u`` (n, dim) in chunks that bound memory."""
    chunk = min(4096, max(256, _CHUNK_FLOATS // max(1, floats_per_point)))
    return np.concatenate([f(u[i : i + chunk]) for i in range(0, u.shape[0], chunk)])


def _log_mean_and_se(log_f: NDArray[np.float64], method: str) -> tuple[float, float]:
    """``log`` of the estimated mean of ``f`` and the delta-method s.e. of that log.

    ``log_f`` has shape (R, n_per). Computed with a common scale factor so that
    orbits with extreme singular values neither overflow nor underflow.
    """
    if method == "mc":
        flat = log_f.ravel()
        log_mean = float(logsumexp(flat) - math.log(flat.size))
        rel = np.exp(flat - log_mean)  # f / mean f
        return log_mean, float(rel.std(ddof=1) / math.sqrt(flat.size))
    rep = logsumexp(log_f, axis=1) - math.log(log_f.shape[1])  # log replicate means
    log_mean = float(logsumexp(rep) - math.log(rep.size))
    rel = np.exp(rep - log_mean)
    return log_mean, float(rel.std(ddof=1) / math.sqrt(rep.size))


def estimate_orbit_volume(
    s: ArrayLike,
    depth: int,
    n_samples: int | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    *,
    method: str = "rqmc",
    n_replicates: int = DEFAULT_REPLICATES,
) -> OrbitVolumeEstimate:
    """Monte Carlo ``log vol(O_X)`` by the chart route of MATH.md section 7.1.

    Parameters
    ----------
    s : array_like, shape (d,)
        Singular values of ``X`` (any order, > 0, finite); the orbit of
        ``X = diag(s)`` has the same volume as that of any ``U diag(s) V^T``.
    depth : int
        ``N >= 1``.
    n_samples : int
        Integrand evaluations in total. For ``"rqmc"`` it must be ``n_replicates``
        times a power of 2 (Sobol' balance); anything else raises ``ValueError``
        naming the nearest valid value (rather than truncating with warnings).
    seed : int, SeedSequence, Generator or None
        Seeds the uniform angles (``"mc"``) or the scrambles (``"rqmc"``).
    method : {"rqmc", "mc"}
    n_replicates : int
        Independent scrambles for ``"rqmc"``, at least 2 (ignored for ``"mc"``).

    Returns
    -------
    OrbitVolumeEstimate
        Natural-log volume for the Frobenius metric of ``R^{N d^2}``, its standard
        error, ``closed_form = entropy_sv(s, depth)`` and the z-score. For
        ``d = 1`` or ``N = 1`` the orbit is ``2^{N-1}`` points (resp. one point):
        the volume is a count, exact, ``stderr = 0`` and ``method = "exact"``.
    """
    t0 = time.perf_counter()
    s = check_singular_values(s)
    if s.ndim != 1:
        raise ValueError(f"s must be a 1-D vector of singular values, got shape {s.shape}")
    N = check_depth(depth)
    method = _check_method(method)
    R = _check_replicates(n_replicates, method)
    d = s.size
    sv = tuple(float(x) for x in s)
    m = d * (d - 1) // 2
    n = _check_n_samples(n_samples, method, R, (N - 1) * m)  # checked even if unused below
    rng = _check_seed(seed)
    if d == 1 or N == 1:
        # O_d^{N-1} is finite (2^{N-1} points for d = 1, one point for N = 1).
        log_vol = (N - 1) * math.log(2.0) if d == 1 else 0.0
        cf = float(entropy_sv(s, N))
        return OrbitVolumeEstimate(
            log_vol, 0.0, cf, _z_score(log_vol, cf, 0.0), 0,
            time.perf_counter() - t0, "exact", d, 0, N, sv,
        )  # fmt: skip
    chart = euler_chart(d)
    W0 = orbit_base_point(s, N)
    u = _unit_points((N - 1) * m, n, method, rng, R)
    n_rep, n_per = u.shape[:2]
    # Column j of the point set drives angle sobol_order[j] (angle k of factor q is q m + k).
    order = np.array([q * m + k for k in chart.sobol_order for q in range(N - 1)])
    upper = np.tile(chart.upper, N - 1)

    def log_f(x: NDArray[np.float64]) -> NDArray[np.float64]:
        theta = np.empty_like(x)
        theta[:, order] = x
        return log_gram_orbit(chart, (theta * upper).reshape(-1, N - 1, m), W0)

    vals = _chunked_log_integrand(log_f, u.reshape(-1, (N - 1) * m), (N - 1) * m * N * d * d)
    log_mean, se = _log_mean_and_se(vals.reshape(n_rep, n_per), method)
    # Box volume of SO(d)^{N-1} and the 2^{N-1} isometric components of O_d^{N-1}.
    log_vol = log_mean + (N - 1) * (chart.log_box_volume + math.log(2.0))
    se = _with_roundoff(se, log_vol)
    wall = time.perf_counter() - t0
    cf = float(entropy_sv(s, N))  # for the comparison only, after the estimate
    return OrbitVolumeEstimate(
        log_vol, se, cf, _z_score(log_vol, cf, se), n_rep * n_per, wall, method, d,
        n_rep if method == "rqmc" else 1, N, sv,
    )  # fmt: skip


def estimate_group_volume(
    d: int,
    n_samples: int | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    *,
    method: str = "rqmc",
    n_replicates: int = DEFAULT_REPLICATES,
) -> GroupVolumeEstimate:
    """Monte Carlo ``log vol(O_d)`` (Frobenius metric of ``R^{d x d}``) by the Euler chart.

    ``vol(O_d) = 2 vol(SO(d))``, ``vol(SO(d))`` = box volume times the mean of
    ``sqrt(det J^T J)`` of ``theta -> g(theta)``. ``closed_form = log_group_volume(d)``
    (MATH.md section 4), used only for the comparison. ``d = 1`` is the exact
    count ``2``. Parameters and conventions as in :func:`estimate_orbit_volume`.

    Returns
    -------
    GroupVolumeEstimate
    """
    t0 = time.perf_counter()
    d = check_width(d, "d")
    method = _check_method(method)
    R = _check_replicates(n_replicates, method)
    n = _check_n_samples(n_samples, method, R, d * (d - 1) // 2)  # checked even if d = 1
    rng = _check_seed(seed)
    if d == 1:
        lv, cf = math.log(2.0), log_group_volume(1)
        return GroupVolumeEstimate(
            lv, 0.0, cf, _z_score(lv, cf, 0.0), 0, time.perf_counter() - t0, "exact", 1, 0
        )
    chart = euler_chart(d)
    u = _unit_points(chart.dim, n, method, rng, R)
    n_rep, n_per = u.shape[:2]
    vals = _chunked_log_integrand(
        lambda x: _log_gram_group(chart, chart.from_unit(x[:, np.argsort(chart.sobol_order)])),
        u.reshape(-1, chart.dim),
        chart.dim * (chart.dim + 2) * d * d,
    )
    log_mean, se = _log_mean_and_se(vals.reshape(n_rep, n_per), method)
    lv = log_mean + chart.log_box_volume + math.log(2.0)
    se = _with_roundoff(se, lv)
    wall = time.perf_counter() - t0
    cf = log_group_volume(d)
    return GroupVolumeEstimate(
        lv, se, cf, _z_score(lv, cf, se), n_rep * n_per, wall, method, d,
        n_rep if method == "rqmc" else 1,
    )  # fmt: skip


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


def orbit_volume_table(
    widths: Sequence[int],
    depths: Sequence[int],
    *,
    n_samples: int | None = None,
    seed: int | None = 0,
    method: str = "rqmc",
    singular_values: Mapping[int, ArrayLike] | Callable[[int], ArrayLike] | None = None,
) -> xr.Dataset:
    """Orbit volumes over a grid of widths and depths, Monte Carlo beside the closed form.

    Parameters
    ----------
    widths, depths : sequence of int
    n_samples, method
        As in :func:`estimate_orbit_volume`.
    seed : int or None
        Root seed. Cell ``(width, depth)`` uses
        ``SeedSequence([seed, width, depth])``, so a cell's result does not depend
        on which other cells are computed or in what order. ``None`` draws a root
        seed, recorded in the attributes.
    singular_values : mapping width -> s, callable width -> s, or None
        ``None`` draws ``s_i = exp(U(-1, 1))`` from ``SeedSequence([seed, width])``.

    Returns
    -------
    xarray.Dataset
        Dims ``(width, depth)`` with ``log_volume_mc``, ``stderr``, ``closed_form``,
        ``z_score``, ``relative_stderr``, ``n_samples``, ``wall_time``, and
        ``singular_values (width, sv)`` (NaN-padded to the largest width).
    """
    widths = [check_width(w) for w in widths]
    depths = [check_depth(n) for n in depths]
    method = _check_method(method)
    if seed is None:  # fresh entropy, cut to 63 bits so the attribute fits netCDF's int64
        root = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    elif isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")
    else:
        root = int(seed)
    if root < 0:
        raise ValueError(f"seed must be non-negative, got {root}")
    shape = (len(widths), len(depths))
    out = {k: np.full(shape, np.nan) for k in ("log_volume_mc", "stderr", "closed_form",
                                                "z_score", "wall_time")}  # fmt: skip
    n_used = np.zeros(shape, dtype=np.int64)
    sv = np.full((len(widths), max(widths, default=1)), np.nan)
    for i, w in enumerate(widths):  # a handful of cells; each cell is vectorized
        s = _table_singular_values(singular_values, w, root)
        sv[i, :w] = s
        for j, n in enumerate(depths):
            est = estimate_orbit_volume(
                s, n, n_samples, np.random.SeedSequence([root, w, n]), method=method
            )
            out["log_volume_mc"][i, j] = est.log_volume
            out["stderr"][i, j] = est.stderr
            out["closed_form"][i, j] = est.closed_form
            out["z_score"][i, j] = est.z_score
            out["wall_time"][i, j] = est.wall_time
            n_used[i, j] = est.n_samples
    dims = ("width", "depth")
    ds = xr.Dataset(
        {
            "log_volume_mc": (
                dims,
                out["log_volume_mc"],
                {"long_name": "Monte Carlo log vol(O_X)"},
            ),
            "stderr": (dims, out["stderr"], {"long_name": "standard error of log_volume_mc"}),
            "closed_form": (dims, out["closed_form"], {"long_name": "S(X), MATH.md section 5"}),
            "z_score": (
                dims,
                out["z_score"],
                {"long_name": "(log_volume_mc - closed_form)/stderr"},
            ),
            "relative_stderr": (dims, out["stderr"], {"long_name": "relative s.e. of the volume"}),
            "n_samples": (dims, n_used),
            "wall_time": (dims, out["wall_time"], {"units": "s"}),
            "singular_values": (("width", "sv"), sv),
        },
        coords={"width": widths, "depth": depths},
        attrs={
            "description": "Orbit volumes vol(O_X) by chart integration (MATH.md 7.1)",
            "log": "natural",
            "metric": "Frobenius metric of R^{N d^2}; O_d carries tr(B^T B) on so(d)",
            "method": method,
            "seed": root,
            "cell_seed": "numpy.random.SeedSequence([seed, width, depth])",
            "z_score_convention": "stderr = 0 (exact count): 0 if equal to 1e-12, else +-inf",
        },
    )
    return ds
