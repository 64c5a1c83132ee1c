"""Estimating the exponent of ``D_ij`` in the singular-value law from an ensemble.

docs/guide/theory.md, 'The law of X on the balanced manifold':
over ``F = R, C, H`` (Dyson index ``b = 1, 2, 4``) the
law of ``X`` on the balanced manifold carries ``e^{S_b}`` through
``rho_b(X) ∝ prod_i D_ii^{-1/2} prod_{i<j} D_ij^{-b/2}``. Embed it in the
one-parameter family

    p_alpha ∝ exp(-beta E) prod_i s_i^{b-1} D_ii^{-1/2} prod_{i<j} |s_i^2 - s_j^2|^b D_ij^{-b alpha}

(for singular values; the same with Lebesgue ``dX`` for a general target). It
is an exponential family with sufficient statistic ``b T``, ``T = sum_{i<j} log D_ij``,
so the maximum-likelihood ``alpha-hat`` solves ``E_alpha[T] = mean(T)``; theory
says ``alpha = 1/2`` in every field. ``E_alpha[T]`` is computed

- by quadrature (``d = 2``, ``E = |X|^2/2``): a Gauss-Legendre grid in
  ``u = s^{1/N}``, where the density is smooth, or
- by self-normalized importance weights ``exp(-(alpha - alpha_0) T)`` on a
  reference sample drawn at ``alpha_0`` (emcee, :mod:`dlnmc.reference`).

Standard error by the delta method: ``dE_alpha[T]/dalpha = -b Var_alpha(T)``, so
``se(alpha-hat) = se(mean T) / (b Var_alpha(T))`` with ``se(mean T)`` the ArviZ MCSE
of the ensemble (autocorrelation accounted for), combined with the reference's
own Monte Carlo error when importance sampling is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from dlnmc._validation import check_depth, check_singular_values
from dlnmc.entropy import log_D_pairs
from dlnmc.fields import REAL, Field, resolve_field

__all__ = ["ExponentEstimate", "estimate_exponent", "sufficient_statistic"]

THEORY_ALPHA = 0.5


@dataclass(frozen=True)
class ExponentEstimate:
    """Maximum-likelihood exponent of ``D_ij`` with its standard error.

    Attributes
    ----------
    alpha : float
        ``alpha-hat``.
    stderr : float
        Standard error (autocorrelation-aware).
    theory : float
        The value tested against (1/2).
    z_score : float
        ``(alpha - theory) / stderr``.
    mean_T, mcse_T : float
        Ensemble mean of ``T = sum log D_ij`` and its MCSE.
    var_T : float
        ``Var_alpha-hat(T)`` (Fisher information per draw).
    ess : float
        Effective sample size of ``T`` in the ensemble.
    method : str
        ``"quadrature"`` or ``"importance"``.
    field : str
        The field whose law was fitted (``"real"``, ``"complex"``, ``"quaternion"``).
    """

    alpha: float
    stderr: float
    theory: float
    z_score: float
    mean_T: float
    mcse_T: float
    var_T: float
    ess: float
    method: str
    field: str = "real"

    def z_against(self, alpha: float) -> float:
        """z-score of ``alpha-hat`` against another exponent."""
        return (self.alpha - alpha) / self.stderr


def sufficient_statistic(s: ArrayLike, depth: int) -> NDArray[np.float64]:
    """``T = sum_{i<j} log D_ij`` for singular values ``s (..., d)``; shape ``(...)``."""
    return log_D_pairs(check_singular_values(s), check_depth(depth)).sum(axis=-1)


def _sv_array(data) -> tuple[NDArray[np.float64], dict]:
    if isinstance(data, xr.DataTree):
        return np.asarray(data.posterior["singular_values"].values), dict(data.attrs)
    s = np.asarray(data, dtype=np.float64)
    if s.ndim == 2:
        s = s[None]
    if s.ndim != 3:
        raise ValueError(f"singular values must have shape (chain, draw, d), got {s.shape}")
    return s, {}


class _Quadrature:
    """``E_alpha[T]``, ``Var_alpha(T)`` for ``d = 2``, ``E = |X|^2/2`` (grid in ``s^{1/N}``)."""

    def __init__(self, depth: int, beta: float, n_nodes: int = 240, *, field: Field = REAL):
        N, b = depth, field.b
        self.b = b
        s_max = np.sqrt(2.0 * 60.0 / beta)  # exp(-beta s^2/2) < e^-60 beyond
        x, w = np.polynomial.legendre.leggauss(n_nodes)
        u = 0.5 * (x + 1.0) * s_max ** (1.0 / N)
        w = 0.5 * w * s_max ** (1.0 / N)
        U1, U2 = np.meshgrid(u, u, indexing="ij")
        W = np.outer(w, w)
        s1, s2 = U1**N, U2**N
        s = np.stack([s1, s2], -1)
        with np.errstate(divide="ignore"):
            # alpha-free part of the density in u (ds = N u^{N-1} du cancels the
            # s^{-(N-1)/N} of D_ii^{-1/2}); over C, H also s^{b-1} and the power b.
            log_f = -0.5 * beta * (s1**2 + s2**2) + b * np.log(np.abs(s1**2 - s2**2))
            if b > 1:
                log_f = log_f + (b - 1) * np.log(s1 * s2)
        self.T = sufficient_statistic(s, N).ravel()
        self.log_w = (log_f + np.log(W)).ravel()

    def moments(self, alpha: float) -> tuple[float, float]:
        lw = self.log_w - self.b * alpha * self.T
        p = np.exp(lw - lw.max())
        p /= p.sum()
        m = float(p @ self.T)
        return m, float(p @ (self.T - m) ** 2)


class _Importance:
    """``E_alpha[T]`` by self-normalized weights on a reference sample at ``alpha_0``."""

    def __init__(self, T_ref: NDArray[np.float64], alpha0: float, mcse_ref: float, b: int = 1):
        self.T = T_ref.ravel()
        self.alpha0 = alpha0
        self.mcse_ref = mcse_ref
        self.b = b

    def weights(self, alpha: float) -> NDArray[np.float64]:
        lw = -self.b * (alpha - self.alpha0) * self.T
        p = np.exp(lw - lw.max())
        return p / p.sum()

    def moments(self, alpha: float) -> tuple[float, float]:
        p = self.weights(alpha)
        m = float(p @ self.T)
        return m, float(p @ (self.T - m) ** 2)

    def error(self, alpha: float) -> float:
        """MC error of ``E_alpha[T]``: reference MCSE inflated by the weights' Kish ESS."""
        p = self.weights(alpha)
        return self.mcse_ref * np.sqrt(self.T.size * float(p @ p))


def estimate_exponent(
    ensemble: xr.DataTree | ArrayLike,
    depth: int | None = None,
    *,
    beta: float | None = None,
    reference: xr.DataTree | ArrayLike | None = None,
    reference_alpha: float | None = None,
    theory: float = THEORY_ALPHA,
    bracket: tuple[float, float] = (-2.0, 3.0),
    field: str | Field | None = None,
) -> ExponentEstimate:
    """Maximum-likelihood exponent ``alpha`` of ``D_ij`` from an ensemble of singular values.

    Parameters
    ----------
    ensemble : DataTree or array_like (chain, draw, d)
        From :func:`dlnmc.sample_balanced` (or any sampler); ``depth`` and
        ``beta`` are read from its attributes when not given.
    depth : int, optional
    beta : float, optional
        Needed for quadrature.
    reference : DataTree or array_like (chain, draw, d), optional
        Singular values drawn from ``p_{alpha_0}`` (e.g. by
        :func:`dlnmc.reference.reference_end_to_end`, needed for a non-zero
        target). Without it, ``d = 2`` and ``E = |X|^2/2`` are assumed and
        ``E_alpha[T]`` is computed by quadrature.
    reference_alpha : float, optional
        ``alpha_0`` of the reference (default: its ``alpha`` attribute, else 1/2).
    theory : float
        Exponent the z-score refers to (1/2).
    bracket : (float, float)
        Search interval; ``alpha-hat`` is clipped to it.
    field : {"real", "complex", "quaternion"}, Field or None
        The field of the ensemble, whose law (``b``) is fitted. ``None``: the
        ensemble's ``field`` attribute, else ``"real"``. A value that contradicts
        the ensemble's (or the reference's) ``field`` attribute raises.

    Returns
    -------
    ExponentEstimate
    """
    s, attrs = _sv_array(ensemble)
    F = _resolve_ensemble_field(field, attrs, "ensemble")
    N = check_depth(depth if depth is not None else attrs.get("depth"))
    T = sufficient_statistic(s, N)  # (chain, draw)
    mean_T = float(T.mean())
    mcse_T = float(az.mcse(T))
    ess = float(az.ess(T))
    if reference is None:
        if s.shape[-1] != 2:
            raise ValueError("quadrature needs d = 2; pass a reference sample for other widths")
        if attrs.get("target") is not None:
            raise ValueError("quadrature assumes target Y = 0; pass a reference sample")
        b = beta if beta is not None else attrs.get("beta")
        if b is None:
            raise ValueError("beta is required for quadrature (not found in the ensemble)")
        model = _Quadrature(N, float(b), field=F)
        method = "quadrature"
    else:
        s_ref, ref_attrs = _sv_array(reference)
        _resolve_ensemble_field(F, ref_attrs, "reference")
        a0 = reference_alpha if reference_alpha is not None else ref_attrs.get("alpha", 0.5)
        T_ref = sufficient_statistic(s_ref, N)
        model = _Importance(T_ref, float(a0), float(az.mcse(T_ref)), F.b)
        method = "importance"

    def g(a: float) -> float:
        return model.moments(a)[0] - mean_T

    lo, hi = bracket
    if g(lo) < 0:  # E_alpha[T] decreases in alpha
        alpha = lo
    elif g(hi) > 0:
        alpha = hi
    else:
        alpha = float(brentq(g, lo, hi, xtol=1e-10))
    var_T = model.moments(alpha)[1]
    err = mcse_T if method == "quadrature" else float(np.hypot(mcse_T, model.error(alpha)))
    stderr = err / (F.b * var_T)
    return ExponentEstimate(
        alpha=alpha,
        stderr=stderr,
        theory=theory,
        z_score=(alpha - theory) / stderr,
        mean_T=mean_T,
        mcse_T=mcse_T,
        var_T=var_T,
        ess=ess,
        method=method,
        field=F.name,
    )


def _resolve_ensemble_field(field, attrs: dict, what: str) -> Field:
    """The field to fit: ``field`` if given, else the ``field`` attribute, else ``"real"``."""
    recorded = attrs.get("field")
    if field is None:
        return resolve_field(recorded if recorded is not None else "real")
    F = resolve_field(field)
    if recorded is not None and resolve_field(recorded) is not F:
        raise ValueError(f"field={F.name!r} contradicts the {what}'s field attribute {recorded!r}")
    return F
