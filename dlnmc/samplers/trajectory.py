"""Per-chain adaptation of the HMC integration time on ``M`` (ChEES, adapted to the quotient).

ChEES (Hoffman, Radul and Sountsov 2021) chooses the trajectory length ``T`` that
maximizes the expected change of the squared distance from the centre of the target,
``E[(|z' - c|^2 - |z - c|^2)^2] / 4``, over trajectories of jittered length
``t = u T`` (``u`` uniform), by stochastic gradient ascent on ``log T``.
Here every chain runs its own copy: its own centre ``c`` (a running mean of its own
states), its own gradient normalizer and its own iterate, all arrays of shape
``(C,)``. Nothing couples the chains during warm-up, so a chain's adaptation does not
depend on which other chains share its batch or process; the pooling (median over
chains) happens once, in :meth:`ConstrainedHMC.end_warmup
<dlnmc.samplers.ConstrainedHMC.end_warmup>`.

**The statistic.** ``z = sqrt(N) lambda(W)``, with ``lambda`` the ``d`` singular values (over ``F``,
descending) that all layers of a balanced point share. Why not the alternatives:

- ``W`` itself: most of ``T_W M`` is the gauge fibre, which the exact gauge and
  component moves randomize anyway and which leaves ``X`` alone; its running mean is
  smeared by those moves, and ``|W - c|^2`` would tune ``T`` for moving the gauge.
- ``X = phi(W)`` or ``s = lambda^N``: ``|X - c|^2`` is dominated by the largest
  singular value. The slow direction of the sampler is the other end: the small
  singular values, moved coherently in all ``N`` layers. ``s_min = lambda_min^N`` is
  flattened towards 0 by the power ``N``, so it barely enters ``|X - c|^2``.
- ``z``: invariant under the gauge and component moves (so a per-chain running
  centre is meaningful), and distances in ``z`` are the distances HMC travels in the
  quotient ``M / gauge``: moving ``lambda_i`` by ``delta`` moves every layer by
  ``delta``, i.e. ``W`` by ``sqrt(N) delta`` in the Frobenius norm. ``T`` is measured
  in the same units as the dynamics, and the small singular values, whose ``lambda``
  range over ``O(1)``, dominate the criterion.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dlnmc.manifold import BalancedManifold

__all__ = ["TrajectoryAdaptation", "quotient_coordinates", "quotient_velocity"]

# Relative size of the finite-difference step for the velocity of z.
_FD_STEP = 1e-7


def quotient_coordinates(manifold: BalancedManifold, W: NDArray[np.float64]) -> NDArray[np.float64]:
    """``z = sqrt(N) lambda(W_1)``: the layer singular values in the metric of ``W``.

    Parameters
    ----------
    manifold : BalancedManifold
    W : ndarray, shape (C, N, d, d * b)
        Points of ``M`` in the component layout.

    Returns
    -------
    ndarray, shape (C, d)
        Descending; on ``M`` every layer has the same singular values, so layer 1 is used.
    """
    W1 = manifold.unpack(W[:, :1])[:, 0]
    lam = manifold.field.singular_values_unchecked(W1)
    return np.sqrt(manifold.depth) * lam


def quotient_velocity(
    manifold: BalancedManifold, W: NDArray[np.float64], P: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Time derivative of :func:`quotient_coordinates` along the tangent velocity ``P``.

    A one-sided difference along ``P`` in layer 1 (field-agnostic: over ``H`` the doubled
    singular values of ``chi`` stay paired). Tangency of ``P`` makes every layer give the
    same first-order change.

    Returns
    -------
    ndarray, shape (C, d)
    """
    scale = 1.0 + np.abs(W[:, 0]).max(axis=(-2, -1))
    size = np.abs(P[:, 0]).max(axis=(-2, -1))
    eps = _FD_STEP * scale / np.where(size > 0, size, 1.0)
    e4 = eps[:, None, None, None]
    z0 = quotient_coordinates(manifold, W[:, :1])
    z1 = quotient_coordinates(manifold, W[:, :1] + e4 * P[:, :1])
    return (z1 - z0) / eps[:, None]


class TrajectoryAdaptation:
    """Per-chain ChEES ascent on ``log T`` (RMSProp steps, iterate averaging).

    All state has a leading chain axis and is updated from each chain's own transitions.

    Parameters
    ----------
    trajectory_length : ndarray, shape (C,)
        Initial ``T`` of every chain.
    learning_rate : float
        RMSProp rate on ``log T``.
    sq_rate : float
        Rate of the running mean of the squared gradient (the normalizer).
    max_log_update : float
        Cap on one change of ``log T`` (about ``log 2 / 2``).

    Notes
    -----
    One update per transition, for every chain ``c`` (``u`` its jitter, ``alpha`` its
    acceptance probability, ``z0`` its start, ``z1`` its proposal, ``v1`` the velocity
    of ``z`` at the proposal, ``m`` its running centre)::

        g = alpha u (|z1 - m|^2 - |z0 - m|^2) <z1 - m, v1>
        log T += clip(learning_rate g / sqrt(mean g^2), +-max_log_update)

    the derivative of the criterion with respect to ``T`` (the end of the trajectory
    moves at ``u v1`` when ``T`` grows), weighted by the acceptance probability. The
    centre ``m`` is the mean of the chain's own states with weight ``2 / (t + 2)`` on the
    newest, so it forgets the start of warm-up. The frozen value (:meth:`final`) is the
    average of ``log T`` with weight ``t^(-1/2)`` on the newest iterate.
    """

    def __init__(
        self,
        trajectory_length: NDArray[np.float64],
        learning_rate: float = 0.05,
        sq_rate: float = 0.05,
        max_log_update: float = 0.35,
    ) -> None:
        T = np.asarray(trajectory_length, dtype=np.float64)
        self.log_T = np.log(T)
        self.log_T_bar = np.log(T)
        self.sq_grad = np.zeros_like(T)
        self.centre: NDArray[np.float64] | None = None
        self.learning_rate = float(learning_rate)
        self.sq_rate = float(sq_rate)
        self.max_log_update = float(max_log_update)
        self.t = 0

    @property
    def trajectory_length(self) -> NDArray[np.float64]:
        """Current ``T`` per chain, shape ``(C,)``."""
        return np.exp(self.log_T)

    def update(
        self,
        z0: NDArray[np.float64],
        z1: NDArray[np.float64],
        v1: NDArray[np.float64],
        jitter: NDArray[np.float64],
        accept_prob: NDArray[np.float64],
        max_length: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Feed one transition of every chain; return the next ``T``, shape ``(C,)``.

        ``z0, z1, v1`` are ``(C, d)``; ``jitter`` (``u = t / T``), ``accept_prob`` and
        ``max_length`` (the cap on ``T``) are ``(C,)``.
        """
        self.t += 1
        t = self.t
        if self.centre is None:
            self.centre = z0.copy()
        w = 2.0 / (t + 2.0)
        self.centre = (1.0 - w) * self.centre + w * z0
        a = z0 - self.centre
        b = z1 - self.centre
        with np.errstate(invalid="ignore", over="ignore"):
            delta = np.sum(b * b, axis=-1) - np.sum(a * a, axis=-1)
            g = accept_prob * jitter * delta * np.sum(b * v1, axis=-1)
        # A failed or (nearly) rejected trajectory says nothing about its length.
        g = np.where(np.isfinite(g) & (accept_prob > 1e-4), g, 0.0)
        self.sq_grad = (1.0 - self.sq_rate) * self.sq_grad + self.sq_rate * g * g
        sq = self.sq_grad / (1.0 - (1.0 - self.sq_rate) ** t)
        step = self.learning_rate * g / np.sqrt(sq + 1e-300)
        step = np.clip(step, -self.max_log_update, self.max_log_update)
        self.log_T = self.log_T + step
        self.log_T = np.minimum(self.log_T, np.log(max_length))
        eta = t**-0.5
        self.log_T_bar = eta * self.log_T + (1.0 - eta) * self.log_T_bar
        return np.exp(self.log_T)

    def final(self) -> NDArray[np.float64]:
        """The averaged ``T`` per chain after warm-up, shape ``(C,)``."""
        return np.exp(self.log_T_bar)
