"""Means and quantiles of the singular-value law by deterministic quadrature (width <= 2).

The law is the closed form of docs/guide/theory.md, 'The law of X on the balanced manifold'
for ``E = |X|^2 / 2``,

    p(s) ∝ exp(-beta |s|^2 / 2) prod_i s_i^(b-1) D_ii^(-1/2)
           * prod_{i<j} |s_i^2 - s_j^2|^b D_ij^(-b alpha)

(:func:`dlnmc.entropy.log_sv_density`; ``b = 1, 2, 4`` for
``field = "real", "complex", "quaternion"``). It is the reference the emcee and
balanced-manifold ensembles are held against, so it must not be a Monte Carlo
number itself.

Coordinates: ``t = log s``. For ``d = 2`` the marginal density of ``t_k`` is
a 1-D integral over the other coordinate on the ordered side only (the kink
of ``|s_1^2 - s_2^2|`` at the diagonal is then an end point, where the
integrand is smooth), by composite Gauss-Legendre on panels that are uniform
next to the diagonal and where the mass is and grow geometrically in the
tails; the outer integral over ``t`` is another such rule. Below ``t = lo``
(float64 cannot represent much smaller ``s``; the smallest singular value
over ``R`` decays only like ``s^{1/N}``) the exact exponential tail
``e^{(b - 1 + 1/N) t}`` is added analytically. A quantile is the root of the
antiderivative of the marginal's interpolant inside one panel.

:func:`sv_law_moments` (means, quantiles) and :func:`sv_marginal_density`
(the normalized marginals, e.g. for histogram overlays) share these tables:
one rule, one normalizer.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from dlnmc._validation import check_depth, check_width
from dlnmc.entropy import field_log_sv_density
from dlnmc.fields import Field, resolve_field

__all__ = ["SVLaw", "sv_law_moments", "sv_marginal_density"]

_GAUSS_NODES = 16
# Uniform panels of this width over the last _UNIFORM_SPAN of log s below the
# upper limit (where the mass is), geometrically growing panels below.
_PANEL = 0.5
_UNIFORM_SPAN = 16.0
_GROWTH = 1.25


@dataclass(frozen=True)
class SVLaw:
    """Quadrature summaries of the singular values ``s_1 >= s_2 >= ...`` (descending).

    Attributes
    ----------
    mean : ndarray, shape (d,)
        ``E[s_k]``.
    quantiles : ndarray, shape (len(probs), d)
        ``quantiles[m, k]`` is the ``probs[m]`` quantile of ``s_k``.
    probs : tuple of float
    log_normalizer_check : float
        ``|Z_1 / Z_2 - 1|`` between the normalizers from the two marginals
        (``d = 2``; 0 for ``d = 1``): the two integration orders, a self-check.
    """

    mean: NDArray[np.float64]
    quantiles: NDArray[np.float64]
    probs: tuple[float, ...]
    log_normalizer_check: float


def _panels(a: float, b: float, fine_at_top: bool = True) -> NDArray[np.float64]:
    """Panel edges on ``[a, b]``: width ``_PANEL`` over ``_UNIFORM_SPAN`` at the fine end
    (``b`` if ``fine_at_top`` else ``a``), then growing by ``_GROWTH`` per panel."""
    widths, covered, h = [], 0.0, _PANEL
    while covered < b - a:
        if covered >= _UNIFORM_SPAN:
            h *= _GROWTH
        widths.append(min(h, b - a - covered))
        covered += widths[-1]
    steps = np.cumsum([0.0, *widths])
    steps[-1] = b - a
    return b - steps[::-1] if fine_at_top else a + steps


def _gauss(edges: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """Gauss-Legendre nodes and weights per panel, each of shape (n_panels, nodes)."""
    x, w = np.polynomial.legendre.leggauss(_GAUSS_NODES)
    half = 0.5 * np.diff(edges)[:, None]
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
    return mid + half * x, half * w


class _Law:
    """Unnormalized marginal densities of ``t_k = log s_k`` (shifted for stability)."""

    def __init__(self, width: int, depth: int, beta: float, field: Field, alpha: float):
        self.d, self.N, self.beta, self.field, self.alpha = width, depth, beta, field, alpha
        # In t the density decays like exp(c t) (c >= 1/N) as t -> -inf and like
        # exp(-beta e^{2t} / 2) as t -> +inf; beyond top it is below e^{-800}.
        # Below lo (float64 cannot go much lower in s = e^t) an exponential tail is added.
        self.lo = -min(60.0 * depth, 300.0)
        self.hi = 0.5 * math.log(240.0 / max(beta, 1e-300))
        self.top = self.hi + 2.0
        self.edges = _panels(self.lo, self.hi)  # outer grid, fine where the mass is
        self.inner = _panels(self.lo, self.top)
        # Uniform offsets next to the boundary t_1 = t_2 of the ordered region.
        self.near = np.arange(0.0, _UNIFORM_SPAN + _PANEL / 2, _PANEL)
        # As s_min -> 0 with the rest fixed, the density in t_min is ∝ e^{rate t_min}:
        # s^{b-1} D_ii^{-1/2} s = N^{-1/2} s^{b - (N-1)/N}; the pair factors tend to constants.
        self.rate = field.b - 1.0 + 1.0 / depth
        self.shift = 0.0
        self.shift = float(np.max(self._log_p(self._diagonal_points())))

    def _diagonal_points(self) -> NDArray[np.float64]:
        t = np.linspace(self.lo, self.hi, 400)
        if self.d == 1:
            return t[:, None]
        u = np.linspace(0.0, 20.0, 81)
        return np.stack(np.broadcast_arrays(t[:, None], t[:, None] - u), axis=-1)

    def _log_p(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """``log p`` in ``t`` coordinates (Jacobian ``prod s_i``), shape ``t.shape[:-1]``."""
        s = np.exp(t)
        return (
            field_log_sv_density(s, self.N, self.beta, self.field, self.alpha)
            + t.sum(-1)
            - self.shift
        )

    def _inner_edges(self, t: NDArray[np.float64], k: int) -> NDArray[np.float64]:
        """Per-point panel edges of the other coordinate, shape ``(len(t), P + 1)``, sorted.

        The other coordinate runs over ``[lo, t]`` (``k = 0``: it is ``t_2``) or
        ``[t, top]`` (``k = 1``: it is ``t_1``): uniform panels over the first
        ``_UNIFORM_SPAN`` next to ``t`` (the boundary of the ordered region), the
        fixed grid :attr:`inner` (fine where the mass is) beyond. Edges outside
        the range are clipped onto its ends: zero-width panels, zero weight.
        """
        T = t[:, None]
        G = self.inner[None, :]
        if k == 0:
            near = np.maximum(T - self.near, self.lo)
            far = np.where(G < T - _UNIFORM_SPAN, G, self.lo)
        else:
            near = np.minimum(T + self.near, self.top)
            far = np.where(G > T + _UNIFORM_SPAN, G, self.top)
        return np.sort(np.concatenate([near, far], axis=1), axis=1)

    def marginal(self, t: NDArray[np.float64], k: int) -> NDArray[np.float64]:
        """Unnormalized density of ``t_k`` at the points ``t`` (1-D)."""
        t = np.asarray(t, dtype=np.float64).ravel()
        if self.d == 1:
            return np.exp(self._log_p(t[:, None]))
        out = np.empty(t.size)
        x, w = np.polynomial.legendre.leggauss(_GAUSS_NODES)
        for start in range(0, t.size, 64):  # chunks bound the temporaries
            tc = t[start : start + 64]
            e = self._inner_edges(tc, k)
            half = 0.5 * np.diff(e, axis=1)[..., None]
            other = (0.5 * (e[:, 1:] + e[:, :-1]))[..., None] + half * x
            T = np.broadcast_to(tc[:, None, None], other.shape)
            pts = np.stack([T, other] if k == 0 else [other, T], axis=-1)
            with np.errstate(over="ignore", under="ignore"):
                val = (np.exp(self._log_p(pts)) * (half * w)).sum(axis=(1, 2))
                if k == 0:  # t_2 below lo: the exponential tail
                    edge = np.stack([tc, np.full_like(tc, self.lo)], axis=-1)
                    val += np.exp(self._log_p(edge)) / self.rate
            out[start : start + 64] = val
        return out


def _quantile(edges, values, cum, z, prob: float, rate: float) -> float:
    """The ``prob`` quantile of ``s_k`` from its marginal at the Gauss nodes of each panel.

    Inside the panel where the CDF crosses ``prob``, the marginal is the
    degree ``_GAUSS_NODES - 1`` Legendre interpolant of its node values (the
    polynomial the Gauss rule integrates exactly), so the CDF there is its
    antiderivative and the root costs no new density evaluations. Below
    ``edges[0]`` the CDF is the exponential tail ``cum[0] e^{rate (t - edges[0])}``.
    """
    target = prob * z
    if target <= cum[0]:
        return math.exp(edges[0] + math.log(target / cum[0]) / rate)
    j = int(np.searchsorted(cum, target, side="left")) - 1
    j = min(max(j, 0), len(edges) - 2)
    a, b = edges[j], edges[j + 1]
    x, _ = np.polynomial.legendre.leggauss(_GAUSS_NODES)
    coef = np.polynomial.legendre.legfit(x, values[j], _GAUSS_NODES - 1)
    anti = np.polynomial.legendre.Legendre(np.polynomial.legendre.legint(coef, lbnd=-1.0))
    half = 0.5 * (b - a)

    def cdf_minus_target(y: float) -> float:  # y in [-1, 1] maps to t = a + (y + 1) half
        return cum[j] + half * float(anti(y)) - target

    y = optimize.brentq(cdf_minus_target, -1.0, 1.0, xtol=1e-14, rtol=1e-14)
    return math.exp(a + (y + 1.0) * half)


class _Tables(NamedTuple):
    """The marginals of ``t_1 .. t_d`` tabulated on the outer rule (shared by every summary)."""

    law: _Law
    t: NDArray[np.float64]  # outer nodes, (panel, node)
    wt: NDArray[np.float64]  # outer weights, (panel, node)
    values: tuple[NDArray[np.float64], ...]  # unnormalized marginal of t_k at t, per k
    cum: tuple[NDArray[np.float64], ...]  # mass below lo, then below each panel's right edge
    m_lo: tuple[float, ...]  # unnormalized marginal of t_k at lo (the tail's anchor)


@functools.lru_cache(maxsize=32)
def _tables(width, depth, beta, field, alpha) -> _Tables:
    law = _Law(width, depth, beta, field, alpha)
    t, wt = _gauss(law.edges)
    values, cums, m_lo = [], [], []
    for k in range(width):
        v = law.marginal(t.ravel(), k).reshape(t.shape)  # (panel, node)
        # Left tail below lo (which float64 cannot reach in s = e^t for deep
        # networks: the smallest s of b = 1 decays only like e^{t/N}): there the
        # marginal is m(lo) e^{c (t - lo)} up to O(e^{2 lo / N}) (c = law.rate;
        # for t_1 it is far smaller still), adding m(lo)/c to the mass.
        m0 = float(law.marginal(np.array([law.lo]), k)[0])
        tail = m0 / law.rate
        values.append(v)
        cums.append(np.concatenate([[tail], tail + np.cumsum((v * wt).sum(axis=1))]))
        m_lo.append(m0)
    return _Tables(law, t, wt, tuple(values), tuple(cums), tuple(m_lo))


@functools.lru_cache(maxsize=64)
def _moments(width, depth, beta, field, probs, alpha) -> SVLaw:
    tab = _tables(width, depth, beta, field, alpha)
    law, t, wt = tab.law, tab.t, tab.wt
    rate = law.rate
    means, quants = [], []
    for values, cum in zip(tab.values, tab.cum, strict=True):
        z = cum[-1]
        tail_mean = cum[0] * rate / (rate + 1.0) * math.exp(law.lo)
        means.append(float(((values * wt * np.exp(t)).sum() + tail_mean) / z))
        quants.append([_quantile(law.edges, values, cum, z, p, rate) for p in probs])
    check = abs(tab.cum[0][-1] / tab.cum[-1][-1] - 1.0)
    mean, quantiles = np.array(means), np.array(quants).T.copy()
    # The result is cached and shared by every caller: read-only, so that no caller
    # can change the reference the next one gets.
    mean.flags.writeable = quantiles.flags.writeable = False
    return SVLaw(mean, quantiles, probs, check)


def _check_law_args(width: object, depth: object, beta: object, field: object):
    """Validated ``(d, N, beta, field)`` of the quadrature law, or ValueError/TypeError."""
    d, N = check_width(width), check_depth(depth)
    if d > 2:
        raise ValueError(f"quadrature reference needs width <= 2, got {width}")
    field = resolve_field(field)
    if isinstance(beta, bool) or not isinstance(beta, int | float | np.floating) or not beta > 0:
        raise ValueError(f"beta must be a number > 0, got {beta!r}")
    if not math.isfinite(beta):
        raise ValueError(f"beta must be finite, got {beta!r}")
    return d, N, float(beta), field


def sv_law_moments(
    width: int,
    depth: int,
    beta: float,
    field: str | Field = "real",
    quantiles: tuple[float, ...] = (0.1, 0.9),
    *,
    alpha: float = 0.5,
) -> SVLaw:
    """Means and quantiles of the ordered singular values under the closed-form law.

    Parameters
    ----------
    width : int
        ``d``, 1 or 2 (the quadrature is ``d``-dimensional).
    depth : int
        ``N >= 1``.
    beta : float
        Inverse temperature ``> 0`` (``E = |X|^2/2``, ``|X|^2 = sum s_i^2``).
    field : {"real", "complex", "quaternion"} or Field
    quantiles : tuple of float
        Probabilities in ``(0, 1)``.
    alpha : float, keyword-only
        Exponent of ``D_ij`` is ``b alpha`` (theory: ``1/2``).

    Returns
    -------
    SVLaw
        ``mean`` (d,), ``quantiles`` (len(quantiles), d), descending ``s``; read-only
        arrays (the result is cached).
        Converged to about ``1e-12`` relative (against a rule with twice the
        panels and 1.5 times the nodes, for ``N`` up to 50 and ``beta`` from 0.05
        to 50). The exponential tail below ``lo`` is exact only up to
        ``O(e^{2 lo / N})``, which that comparison cannot see: over ``R`` moving
        ``lo`` from -300 to -700 changes nothing above rounding for ``N <= 20``,
        quantiles by ``1e-11`` at ``N = 30`` and means by ``7e-9``, quantiles of
        ``s_2`` by ``3e-6`` (relative) at ``N = 50``. ``b = 1`` agrees with an
        adaptive ``scipy.integrate.dblquad`` of the real law (docs/guide/theory.md, 'The law
        of X on the balanced manifold') to ``1e-15``
        (``d = 2, N = 3, beta = 1``). Cached.
    """
    d, N, beta, field = _check_law_args(width, depth, beta, field)
    probs = tuple(float(q) for q in np.atleast_1d(quantiles))
    if not all(0.0 < q < 1.0 for q in probs):
        raise ValueError(f"quantiles must lie in (0, 1), got {quantiles!r}")
    return _moments(d, N, beta, field, probs, float(alpha))


def sv_marginal_density(
    s: ArrayLike,
    *,
    width: int,
    depth: int,
    beta: float,
    field: str | Field = "real",
    alpha: float = 0.5,
) -> NDArray[np.float64]:
    """Normalized marginal densities (per unit ``s``) of the ordered singular values.

    The same quadrature as :func:`sv_law_moments` (same rule, same normalizer):
    the density of ``t_k = log s_k`` is the inner integral over the other
    singular value, divided by ``s``. Below ``s = e^lo`` (far below anything a
    sampler produces: ``lo = -min(60 N, 300)``) it is the exponential tail the
    normalizer uses; above the upper limit of the rule (where
    ``beta s^2 / 2 > 6000``) it is 0.

    Parameters
    ----------
    s : array_like, shape (n,)
        Points ``> 0``.
    width, depth, beta, field, alpha : as for :func:`sv_law_moments`.

    Returns
    -------
    ndarray, shape (width, n)
        Row ``k`` is the probability density of ``s_{k+1}`` (``s_1 >= ... >= s_d``).
    """
    d, N, beta, field = _check_law_args(width, depth, beta, field)
    s = np.asarray(s, dtype=np.float64)
    if s.ndim != 1 or not np.all(s > 0):
        raise ValueError("s must be a 1-d array of points > 0")
    tab = _tables(d, N, beta, field, float(alpha))
    law = tab.law
    t = np.log(s)
    inside = (t >= law.lo) & (t <= law.top)
    below = t < law.lo
    out = np.zeros((d, s.size))
    for k in range(d):
        z = tab.cum[k][-1]
        # density per unit t, divided by ds/dt = s
        out[k, inside] = law.marginal(t[inside], k) / z / s[inside]
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            log_tail = np.log(tab.m_lo[k] / z) + law.rate * (t[below] - law.lo) - t[below]
            out[k, below] = np.exp(log_tail)
    return out
