"""Theory-free Langevin dynamics on the balanced manifold: projected Euler-Maruyama.

Overdamped Langevin on ``M`` for its Hausdorff measure, ``dW = -beta grad_M
E(phi(W)) dt + sqrt(2) dB_M``, discretized as in Ciccotti, Lelievre and
Vanden-Eijnden (2008):

    W' = W - h beta grad E(phi(W)) + sqrt(2) dB + J(W)^* Lambda,     F(W') = 0,

with ``grad`` the *ambient* gradient, ``dB ~ N(0, h I)`` an *ambient*
Brownian increment, and ``Lambda`` found by Newton so that ``W'`` lies on
``M``; the correction runs along the normal space at the current point ``W``.
Nothing else is added: the projection of the ambient noise creates the
mean-curvature drift of ``M`` by itself. No entropy, no metric ``g_N`` and no
singular-value law enters, which is what makes this route a test of the theory.

Failed projections. If Newton fails for a path (the step left the basin of
the projection, typically near the singular stratum), the step is *refined*,
not redrawn: it is split in two halves whose increments are drawn from the
Brownian bridge with the same total increment (midpoint ``dB/2 + sqrt(h/4)
zeta``), recursively up to ``max_refine`` levels. Redrawing would condition
the noise on success and bias the path law. A path whose step still fails at
the finest level has reached the singular stratum: it is dropped (frozen,
recorded as NaN afterwards) and counted.

Zero temperature. :func:`gradient_flow` integrates ``dW/dt = -grad_M E`` with
classical RK4 on the tangent-projected field plus a projection back onto ``M``
after each step, for comparison with ``dX/dt = -A_{N,X}(grad E(X))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dlnmc.dynamics.geometry import ManifoldAdapter
from dlnmc.dynamics.noise import PathStreams
from dlnmc.energy import Energy

__all__ = ["ManifoldRecord", "gradient_flow", "simulate_manifold"]

SCHEME = "projected Euler-Maruyama (normal at the current point), Brownian-bridge refinement"


@dataclass
class ManifoldRecord:
    """Recorded states of a batch of paths (``B`` paths, ``T`` recorded times).

    Attributes
    ----------
    W : (B, T, N, d, d b) or None
        States (state layout), NaN after a path is dropped.
    X : (B, T, n, n)
        End-to-end matrices in storage.
    singular_values : (B, T, d)
    energy, residual : (B, T)
    refinements : (B, T) int
        Bridge refinements in the steps up to each recorded time (since the previous one).
    dropped : (B, T) bool
        Path dropped at or before the recorded time.
    refinements_per_step, dropped_per_step : (n_steps,) int
        Totals over the batch for every step.
    """

    W: NDArray | None
    X: NDArray
    singular_values: NDArray[np.float64]
    energy: NDArray[np.float64]
    residual: NDArray[np.float64]
    refinements: NDArray[np.int64]
    dropped: NDArray[np.bool_]
    refinements_per_step: NDArray[np.int64]
    dropped_per_step: NDArray[np.int64]


def _euler_projected(
    geo: ManifoldAdapter,
    W: NDArray[np.float64],
    h: float,
    dB: NDArray[np.float64],
    energy: Energy,
    beta: float,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """One projected Euler-Maruyama step of size ``h`` with ambient increments ``dB``."""
    _, g = geo.energy_gradient(W, energy)
    Wt = W - (h * beta) * g + np.sqrt(2.0) * dB
    Wn, ok = geo.project(W, Wt, geo.factor(W))
    ok &= np.isfinite(Wn).all(axis=(-3, -2, -1))
    return Wn, ok


def _refine(
    geo: ManifoldAdapter,
    W: NDArray[np.float64],
    h: float,
    dB: NDArray[np.float64],
    energy: Energy,
    beta: float,
    draw,
    level: int,
    max_refine: int,
) -> tuple[NDArray[np.float64] | None, int]:
    """Cover the step ``(h, dB)`` of one path by two bridge halves; ``None`` if it fails.

    Returns the end state (shape ``(1, ...)``) and the number of refinements used.
    """
    if level > max_refine:
        return None, 0
    half = 0.5 * h
    dB1 = 0.5 * dB + np.sqrt(0.5 * half) * draw().reshape(dB.shape)  # bridge midpoint
    dB2 = dB - dB1
    count = 1
    for inc in (dB1, dB2):
        Wn, ok = _euler_projected(geo, W, half, inc, energy, beta)
        if not ok[0]:
            Wn, more = _refine(geo, W, half, inc, energy, beta, draw, level + 1, max_refine)
            count += more
            if Wn is None:
                return None, count
        W = Wn
    return W, count


def simulate_manifold(
    geo: ManifoldAdapter,
    W0: NDArray[np.float64],
    energy: Energy,
    beta: float,
    dt: float,
    record_steps: NDArray[np.int64],
    streams: PathStreams,
    *,
    keep_W: bool = True,
    max_refine: int = 8,
) -> ManifoldRecord:
    """Run projected Euler-Maruyama for a batch of paths and record them.

    Parameters
    ----------
    geo : ManifoldAdapter
    W0 : (B, N, d, d b)
        Start on ``M`` (state layout).
    energy : Energy
        ``E(X)`` on stored ``X``.
    beta, dt : float
    record_steps : (T,) int, increasing
        Step indices to record (0 is the start); the run has ``record_steps[-1]`` steps.
    streams : PathStreams
        Per-path generators (``dim = N d^2 b``).
    keep_W : bool
        Store the states.
    max_refine : int
        Bridge levels before a path is dropped.
    """
    B = W0.shape[0]
    T = len(record_steps)
    n_steps = int(record_steps[-1])
    n = geo.field.rep_size(geo.d)
    W = W0.copy()
    alive = np.ones(B, bool)
    out_W = np.full((B, T, *W0.shape[1:]), np.nan) if keep_W else None
    out_X = np.full((B, T, n, n), np.nan, dtype=geo.field.dtype)
    out_s = np.full((B, T, geo.d), np.nan)
    out_E = np.full((B, T), np.nan)
    out_r = np.full((B, T), np.nan)
    out_ref = np.zeros((B, T), np.int64)
    out_drop = np.zeros((B, T), bool)
    ref_step = np.zeros(n_steps, np.int64)
    drop_step = np.zeros(n_steps, np.int64)
    ref_acc = np.zeros(B, np.int64)
    sqrt_h = np.sqrt(dt)

    def record(k: int) -> None:
        idx = np.flatnonzero(alive)
        Wa = W[idx]
        if keep_W:
            out_W[idx, k] = Wa
        out_X[idx, k] = geo.phi(Wa)
        out_s[idx, k] = geo.singular_values(Wa)
        out_E[idx, k] = energy.value(out_X[idx, k])
        out_r[idx, k] = geo.residual_norm(Wa)
        out_ref[:, k] = ref_acc
        out_drop[:, k] = ~alive
        ref_acc[:] = 0

    k = 0
    if record_steps[0] == 0:
        record(0)
        k = 1
    for step in range(n_steps):
        dB = sqrt_h * streams.normals().reshape(W.shape)
        Wn, ok = _euler_projected(geo, W, dt, dB, energy, beta)
        for j in np.flatnonzero(~ok & alive):  # rare: refine the failed steps path by path
            Wj, used = _refine(
                geo,
                W[j : j + 1],
                dt,
                dB[j : j + 1],
                energy,
                beta,
                lambda j=j: streams.bridge_normals(j),
                1,
                max_refine,
            )
            ref_step[step] += used
            ref_acc[j] += used
            if Wj is None:
                alive[j] = False
                drop_step[step] += 1
            else:
                Wn[j] = Wj[0]
        W = np.where(alive[:, None, None, None], Wn, W)
        while k < T and record_steps[k] == step + 1:
            record(k)
            k += 1
    return ManifoldRecord(out_W, out_X, out_s, out_E, out_r, out_ref, out_drop, ref_step, drop_step)


def gradient_flow(
    geo: ManifoldAdapter,
    W0: NDArray[np.float64],
    energy: Energy,
    t_max: float,
    n_steps: int,
) -> NDArray[np.float64]:
    """Zero-temperature flow ``dW/dt = -grad_M E(phi(W))`` on ``M`` by projected RK4.

    Each stage evaluates the tangent projection of the ambient gradient at the
    stage point (projected back onto ``M`` along its normal first); after each
    step the result is projected onto ``M`` along the normal at the step's start.

    Returns
    -------
    ndarray
        ``W(t_max)``, state layout, shape of ``W0``.
    """
    h = t_max / n_steps

    def field(W):
        _, g = geo.energy_gradient(W, energy)
        return -geo.project_tangent(W, g, geo.factor(W))

    def on_M(W0_, Wt):
        Wn, ok = geo.project(W0_, Wt, geo.factor(W0_))
        if not ok.all():
            raise RuntimeError("projection onto M failed along the gradient flow")
        return Wn

    W = W0.copy()
    for _ in range(n_steps):
        k1 = field(W)
        k2 = field(on_M(W, W + 0.5 * h * k1))
        k3 = field(on_M(W, W + 0.5 * h * k2))
        k4 = field(on_M(W, W + h * k3))
        W = on_M(W, W + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4))
    return W
