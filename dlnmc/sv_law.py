"""Means and quantiles of the singular-value law by deterministic quadrature (width <= 2).

The law is the closed form of MATH.md sections 6 and 8 for ``E = |X|^2 / 2``,

    p(s) ∝ exp(-beta |s|^2 / 2) prod_i s_i^(b-1) D_ii^(-1/2)
           * prod_{i<j} |s_i^2 - s_j^2|^b D_ij^(-b alpha)

(:func:`dlnmc.entropy_fields.log_sv_density_field`; ``b = 1, 2, 4`` for
``field = "real", "complex", "quaternion"``). It is the reference the emcee and
balanced-manifold ensembles are held against, so it must not be a Monte Carlo
number itself.

Coordinates: ``t = log s``. For ``d = 2`` the ordered pair is
``s_1 = e^t``, ``s_2 = e^(t - g)``, ``g > 0`` (the kink of ``|s_1^2 - s_2^2|``
at the diagonal becomes the boundary ``g = 0``); the marginal of ``t_k`` is a
1-D integral over ``g`` on a fixed composite Gauss-Legendre grid, and the
outer integral over ``t`` uses the same kind of grid. A quantile is found by
a root search on the exact (to quadrature accuracy) CDF inside one panel.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from dlnmc._validation import check_depth, check_width
from dlnmc.entropy_fields import log_sv_density_field
from dlnmc.fields import check_field

__all__ = ["SVLaw", "sv_law_moments"]

_GAUSS_NODES = 16
# Uniform panels of this width over the last _UNIFORM_SPAN of log s below the
# upper limit (where the mass is), geometrically growing panels below.
_PANEL = 0.5
_UNIFORM_SPAN = 16.0
_GROWTH = 1.25


@dataclass(frozen=True)
class SVLaw:
    """Quadrature summaries of the ordered singular values ``s_1 >= ... >= s_d``.

    Attributes
    ----------
    mean : ndarray, shape (d,)
        ``E[s_k]``.
    quantiles : ndarray, shape (len(probs), d)
        ``quantiles[m, k]`` is the ``probs[m]`` quantile of ``s_k``.
    probs : tuple of float
    log_normalizer_check : float
        ``|Z_1 / Z_2 - 1|`` between the normalizers from the two marginals
        (``d = 2``; 0 for ``d = 1``): a self-check of the quadrature.
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

    def __init__(self, width, depth, beta, field, alpha):
        self.d, self.N, self.beta, self.field, self.alpha = width, depth, beta, field, alpha
        # In t the density decays like exp(c t) (c >= 1/N) as t -> -inf and like
        # exp(-beta e^{2t} / 2) as t -> +inf: these limits lose less than e^{-60}.
        self.lo = -min(60.0 * depth, 300.0)
        self.hi = 0.5 * math.log(240.0 / max(beta, 1e-300))
        g_edges = _panels(0.0, self.hi - self.lo, fine_at_top=False)
        g, wg = _gauss(g_edges)
        self.g, self.wg = g.ravel(), wg.ravel()
        self.shift = 0.0
        self.shift = float(np.max(self._log_joint_max(np.linspace(self.lo, self.hi, 400))))

    def _log_p(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """``log p`` in ``t`` coordinates (Jacobian ``prod s_i``), shape ``t.shape[:-1]``."""
        s = np.exp(t)
        return (
            log_sv_density_field(s, self.N, self.beta, self.field, alpha=self.alpha)
            + t.sum(-1)
            - self.shift
        )

    def _pairs(self, t: NDArray[np.float64], k: int) -> tuple[NDArray, NDArray]:
        """Points ``(t_1, t_2)`` with ``t_k = t`` and the other one ``g`` away, and a mask.

        Points with ``t_1 > hi + 2`` (density below ``e^{-800}``, and ``e^{t_1}``
        may overflow) are clipped and masked out.
        """
        T = np.broadcast_to(t[:, None], (t.size, self.g.size))
        if k == 0:
            return np.stack([T, T - self.g], axis=-1), np.ones(T.shape, dtype=bool)
        top = T + self.g
        keep = top <= self.hi + 2.0
        return np.stack([np.where(keep, top, self.hi), T], axis=-1), keep

    def _log_joint_max(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.d == 1:
            return self._log_p(t[:, None])
        return self._log_p(self._pairs(t, 0)[0]).max(axis=-1)

    def marginal(self, t: NDArray[np.float64], k: int) -> NDArray[np.float64]:
        """Unnormalized density of ``t_k`` at the points ``t`` (1-D)."""
        t = np.asarray(t, dtype=np.float64).ravel()
        if self.d == 1:
            return np.exp(self._log_p(t[:, None]))
        pts, keep = self._pairs(t, k)
        with np.errstate(over="ignore", under="ignore"):
            return np.where(keep, np.exp(self._log_p(pts)), 0.0) @ self.wg


def _quantile(edges, values, cum, z, prob: float) -> float:
    """The ``prob`` quantile of ``s_k`` from its marginal at the Gauss nodes of each panel.

    Inside the panel where the CDF crosses ``prob``, the marginal is the
    degree ``_GAUSS_NODES - 1`` Legendre interpolant of its node values (the
    polynomial the Gauss rule integrates exactly), so the CDF there is its
    antiderivative and the root costs no new density evaluations.
    """
    target = prob * z
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


@functools.lru_cache(maxsize=64)
def _moments(width, depth, beta, field, probs, alpha) -> SVLaw:
    law = _Law(width, depth, beta, field, alpha)
    edges = _panels(law.lo, law.hi)
    t, wt = _gauss(edges)
    means, quants, z_all = [], [], []
    for k in range(width):
        values = law.marginal(t.ravel(), k).reshape(t.shape)  # (panel, node)
        m = values * wt
        panel = m.sum(axis=1)
        cum = np.concatenate([[0.0], np.cumsum(panel)])
        z = cum[-1]
        z_all.append(z)
        means.append(float((m * np.exp(t)).sum() / z))
        quants.append([_quantile(edges, values, cum, z, p) for p in probs])
    check = abs(z_all[0] / z_all[-1] - 1.0)
    return SVLaw(np.array(means), np.array(quants).T.copy(), probs, check)


def sv_law_moments(
    width: int,
    depth: int,
    beta: float,
    field: str = "real",
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
    field : {"real", "complex", "quaternion"}
    quantiles : tuple of float
        Probabilities in ``(0, 1)``.
    alpha : float, keyword-only
        Exponent of ``D_ij`` is ``b alpha`` (theory: ``1/2``).

    Returns
    -------
    SVLaw
        ``mean`` (d,), ``quantiles`` (len(quantiles), d), descending ``s``.
        Accurate to about ``1e-9`` relative (``b = 1`` agrees with
        :func:`dlnmc.studies.kinds.sv_law_means`; tested). Cached.
    """
    d, N = check_width(width), check_depth(depth)
    if d > 2:
        raise ValueError(f"quadrature reference needs width <= 2, got {width}")
    field = check_field(field)
    if isinstance(beta, bool) or not isinstance(beta, int | float) or not beta > 0:
        raise ValueError(f"beta must be a number > 0, got {beta!r}")
    if not math.isfinite(beta):
        raise ValueError(f"beta must be finite, got {beta!r}")
    probs = tuple(float(q) for q in np.atleast_1d(quantiles))
    if not all(0.0 < q < 1.0 for q in probs):
        raise ValueError(f"quantiles must lie in (0, 1), got {quantiles!r}")
    return _moments(d, N, float(beta), field, probs, float(alpha))
