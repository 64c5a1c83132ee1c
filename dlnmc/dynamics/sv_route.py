"""The theory's side: the singular-value SDE of Langevin on ``M`` (invariant energies).

For an energy that depends on ``X`` only through its singular values, the
singular values of ``X(t) = phi(W(t))`` are themselves a reversible diffusion
(|grad_g s_i|^2 = D_ii, cross terms zero), with generator
``L f = p^{-1} sum_i d_i (p D_ii d_i f)``, ``D_ii = N s_i^{2(N-1)/N}``, and ``p``
the singular-value law over ``F`` (Dyson index ``b``):

    p(s) ∝ exp(-beta E) prod_i s_i^(b-1) D_ii^(-1/2) prod_{i<j} |s_i^2 - s_j^2|^b D_ij^(-b/2).

Layer coordinates ``lambda_i = s_i^(1/N)``. By Itô, ``d lambda_i`` has diffusion
coefficient ``(d lambda / ds)^2 2 D_ii = 2 / N`` (constant), and a reversible
diffusion with constant coefficient ``2/N`` has drift ``(1/N) d_i log q`` for its
equilibrium density ``q``: the law of ``lambda``, ``q(lambda) = p(lambda^N) prod_i
N lambda_i^(N-1)``. With ``D_ii = N lambda_i^(2(N-1))`` and ``D_ij = (lambda_i^(2N) -
lambda_j^(2N)) / (lambda_i^2 - lambda_j^2)`` this is

    log q = -beta E(lambda^N) + N (b-1) sum_i log lambda_i
            + (b/2) sum_{i<j} [log|lambda_i^(2N) - lambda_j^(2N)| + log|lambda_i^2 - lambda_j^2|]

(``b = 1``: the real case of docs/guide/theory.md, 'Dynamics'). Near a collision the pair term
pushes ``lambda_i - lambda_j`` apart like ``b / (N (lambda_i - lambda_j))`` (Dyson's
``beta = b``); near ``lambda_i = 0`` the drift is ``(b - 1) / lambda_i``: a Bessel
process of dimension ``N(b-1) + 1``, which for ``b = 1`` is reflected Brownian
motion (reflect at 0) and for ``b >= 2`` never reaches 0. ``d = 1, b = 1``: the
manifold is the lines ``w_p = ±lambda`` with arc length ``sqrt(N) lambda``, and Itô
gives the same SDE directly.

Decoys. ``entropy_power = k`` replaces the factor ``e^S`` of the law by ``e^{kS}``
(``k = 0``: the law without the entropy; ``k = 2``: doubled). In ``lambda`` the
log density gains ``(k-1) S(lambda^N)``, with ``S = (b/2) sum_{i<j} log D_ij +
((b-1)/2) sum_i log D_ii + const``.

Scheme: tamed Euler in ``lambda`` (the drift ``mu`` enters as ``mu / (1 + h |mu|)``,
bounding the overshoot of the collision repulsion), reflection at 0 by
``lambda -> |lambda|`` and re-sorting (both exact symmetries of the Euler map:
the drift is odd in ``lambda_i`` and exchangeable), weak order one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dlnmc.dynamics.noise import PathStreams
from dlnmc.energy import Energy
from dlnmc.fields import Field

__all__ = ["SCHEME", "SVRecord", "lambda_drift", "simulate_sv", "sv_energy_gradient"]

SCHEME = "tamed Euler-Maruyama in lambda = s^(1/N), reflected at 0"


def sv_energy_gradient(energy: Energy | None, field: Field, s: NDArray[np.float64]):
    """``dE/ds_i`` at ``X = diag(s)``, shape of ``s`` (``None`` means ``E = |X|^2/2``)."""
    if energy is None:
        return s
    X = field.diag_embed(s)
    G = np.asarray(energy.grad(X))
    d = s.shape[-1]
    out = np.empty_like(s)
    for i in range(d):  # d is small; <G, e_i e_i^*> in the real inner product
        e = np.zeros(d)
        e[i] = 1.0
        out[..., i] = field.inner(G, field.diag_embed(e))
    return out


def lambda_drift(
    lam: NDArray[np.float64],
    depth: int,
    beta: float,
    b: int,
    *,
    energy_grad_s: NDArray[np.float64] | None = None,
    entropy_power: float = 1.0,
) -> NDArray[np.float64]:
    """Drift ``(1/N) d_i log q_k(lambda)`` of the ``lambda`` SDE, shape of ``lam`` (..., d).

    Parameters
    ----------
    lam : (..., d), positive, any order
    depth : int
        ``N``.
    beta : float
    b : int
        Dyson index.
    energy_grad_s : (..., d), optional
        ``dE/ds`` at ``s = lambda^N``; default ``s`` (``E = |X|^2/2``).
    entropy_power : float
        ``k`` of the decoy family (1 is the theory).
    """
    N = depth
    lam = np.asarray(lam, dtype=np.float64)
    s = lam**N
    gE = s if energy_grad_s is None else energy_grad_s
    # d/d lambda E(lambda^N) = E_s * N lambda^(N-1)
    g = -beta * gE * N * lam ** (N - 1) + N * (b - 1) / lam
    d = lam.shape[-1]
    iu, ju = np.triu_indices(d, 1)
    if iu.size:
        # Pair (i, j), i < j, lambda_i >= lambda_j: with r = lambda_j / lambda_i <= 1,
        # d_i log|l_i^2N - l_j^2N| = (2N / l_i) / (1 - r^2N),
        # d_j log|l_i^2N - l_j^2N| = -(2N / l_j) r^2N / (1 - r^2N), and the same with 2N -> 2
        # for log|l_i^2 - l_j^2|: no power of lambda that could overflow for large N.
        li, lj = lam[..., iu], lam[..., ju]
        r = lj / li
        with np.errstate(divide="ignore", invalid="ignore"):
            r2n, r2 = r ** (2 * N), r**2
            a1, a2 = (2.0 * N / li) / (1.0 - r2n), (2.0 / li) / (1.0 - r2)
            b1, b2 = -(2.0 * N / lj) * r2n / (1.0 - r2n), -(2.0 / lj) * r2 / (1.0 - r2)
        k = entropy_power - 1.0
        # repulsion (b/2)(t1 + t2); the decoy adds k d log D_ij = k (t1 - t2), times b/2
        on_i = 0.5 * b * ((a1 + a2) + k * (a1 - a2))
        on_j = 0.5 * b * ((b1 + b2) + k * (b1 - b2))
        pair = np.zeros_like(g)
        for p in range(iu.size):  # d(d-1)/2 pairs, vectorized over paths
            pair[..., iu[p]] += on_i[..., p]
            pair[..., ju[p]] += on_j[..., p]
        g = g + pair
    if entropy_power != 1.0:
        g = g + (entropy_power - 1.0) * 0.5 * (b - 1) * 2.0 * (N - 1) / lam
    return g / N


@dataclass
class SVRecord:
    """Recorded singular values ``(B, T, d)`` (descending) and energies ``(B, T)``."""

    singular_values: NDArray[np.float64]
    energy: NDArray[np.float64]
    tamed: NDArray[np.int64]  # (n_steps,) number of path-steps where taming cut the drift > 10%


def simulate_sv(
    s0: NDArray[np.float64],
    depth: int,
    beta: float,
    field: Field,
    dt: float,
    record_steps: NDArray[np.int64],
    streams: PathStreams,
    *,
    energy: Energy | None = None,
    entropy_power: float = 1.0,
) -> SVRecord:
    """Integrate the ``lambda`` SDE for a batch of paths and record ``s = lambda^N``.

    Parameters
    ----------
    s0 : (B, d)
        Start singular values (> 0).
    depth, beta, field, dt : the run's parameters.
    record_steps : (T,) int, increasing (0 = the start).
    streams : PathStreams
        ``dim = d``.
    energy : Energy, optional
        An orthogonally invariant energy on stored ``X``; ``None`` is ``|X|^2/2``.
    entropy_power : float
        Decoy exponent ``k`` of ``e^{kS}`` (theory: 1).
    """
    N, b = depth, field.b
    B, d = s0.shape
    T = len(record_steps)
    n_steps = int(record_steps[-1])
    lam = np.sort(s0 ** (1.0 / N), axis=-1)[:, ::-1].copy()
    out_s = np.empty((B, T, d))
    out_E = np.empty((B, T))
    tamed = np.zeros(n_steps, np.int64)
    sig = np.sqrt(2.0 * dt / N)

    def energy_of(s):
        if energy is None:
            return 0.5 * (s**2).sum(-1)
        return np.asarray(energy.value(field.diag_embed(s)), dtype=np.float64)

    def record(k):
        s = lam**N
        out_s[:, k] = s
        out_E[:, k] = energy_of(s)

    k = 0
    if record_steps[0] == 0:
        record(0)
        k = 1
    for step in range(n_steps):
        gE = None if energy is None else sv_energy_gradient(energy, field, lam**N)
        mu = lambda_drift(lam, N, beta, b, energy_grad_s=gE, entropy_power=entropy_power)
        size = np.sqrt((mu**2).sum(-1, keepdims=True))
        scale = 1.0 / (1.0 + dt * size)
        tamed[step] = int((scale < 0.9).sum())
        lam = lam + dt * mu * scale + sig * streams.normals()
        lam = -np.sort(-np.abs(lam), axis=-1)  # reflect at 0, keep descending order
        while k < T and record_steps[k] == step + 1:
            record(k)
            k += 1
    return SVRecord(out_s, out_E, tamed)
