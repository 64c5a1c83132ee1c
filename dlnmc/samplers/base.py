"""The small protocol shared by samplers on the balanced manifold.

A sampler is an object with

- ``manifold``: the :class:`~dlnmc.manifold.BalancedManifold` it moves on (coordinates,
  projections, potential gradient);
- ``init(W, rng) -> state``: a :class:`ChainState` for ``C`` chains at points
  ``W`` of shape ``(C, N, d, d * b)`` on ``M`` (component layout);
- ``step(state, rng, adapt) -> (state, stats)``: one Markov transition of every
  chain (vectorized over the chain axis), with per-chain statistics of shape
  ``(C,)`` named in ``stat_names``; ``adapt=True`` during warm-up only;
- ``end_warmup(state)``: freeze the adapted step size.

In the spirit of emcee: one module per sampler, this common protocol, and exact
moves (:mod:`dlnmc.moves`) composed after every transition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from dlnmc.constraint import GramFactor
from dlnmc.manifold import BalancedManifold, potential_and_grad

__all__ = ["ChainState", "DualAveraging", "Sampler", "potential_and_grad"]


@dataclass
class ChainState:
    """State of ``C`` chains on ``M``.

    Attributes
    ----------
    W : (C, N, d, d * b) points on M (component layout); X : (C, n, n) = phi(W) in
    storage; E : (C,) energy E(X); grad : gradient of beta E(phi(W)), layout of W;
    factor : Gram factor at W;
    step_size : (C,) current step sizes; adapt : dual-averaging state.
    """

    W: NDArray[np.float64]
    X: NDArray[np.float64]
    E: NDArray[np.float64]
    grad: NDArray[np.float64]
    factor: GramFactor
    step_size: NDArray[np.float64]
    adapt: DualAveraging | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def select(self, mask: NDArray[np.bool_], other: ChainState) -> ChainState:
        """Per chain: this state where ``mask``, else ``other`` (the factor selects itself)."""
        m4 = mask[:, None, None, None]
        return ChainState(
            W=np.where(m4, self.W, other.W),
            X=np.where(mask[:, None, None], self.X, other.X),
            E=np.where(mask, self.E, other.E),
            grad=None if self.grad is None else np.where(m4, self.grad, other.grad),
            factor=self.factor.select(mask, other.factor),
            step_size=self.step_size,
            adapt=self.adapt,
            extra=self.extra,
        )


class DualAveraging:
    """Per-chain dual averaging of ``log step_size`` (Hoffman and Gelman 2014, alg. 5).

    Drives the mean acceptance probability to ``target``; after warm-up the
    averaged iterate ``exp(log_bar)`` is frozen.
    """

    def __init__(
        self,
        step_size: NDArray[np.float64],
        target: float,
        gamma: float = 0.05,
        t0: float = 10.0,
        kappa: float = 0.75,
    ) -> None:
        self.mu = np.log(10.0 * step_size)
        self.target = target
        self.gamma, self.t0, self.kappa = gamma, t0, kappa
        self.t = 0
        self.h_bar = np.zeros_like(step_size)
        self.log_step = np.log(step_size)
        self.log_bar = np.log(step_size)

    def update(self, accept_prob: NDArray[np.float64]) -> NDArray[np.float64]:
        """Feed one transition's acceptance probabilities; return the next step sizes."""
        self.t += 1
        t = self.t
        w = 1.0 / (t + self.t0)
        self.h_bar = (1.0 - w) * self.h_bar + w * (self.target - accept_prob)
        self.log_step = self.mu - np.sqrt(t) / self.gamma * self.h_bar
        eta = t ** (-self.kappa)
        self.log_bar = eta * self.log_step + (1.0 - eta) * self.log_bar
        return np.exp(self.log_step)

    def final(self) -> NDArray[np.float64]:
        """The frozen step sizes after warm-up."""
        return np.exp(self.log_bar)


class Sampler(Protocol):
    """Protocol of a vectorized sampler on the balanced manifold."""

    name: str
    stat_names: tuple[str, ...]
    manifold: BalancedManifold

    def init(self, W: NDArray[np.float64], rng: np.random.Generator) -> ChainState: ...

    def step(
        self, state: ChainState, rng: np.random.Generator, adapt: bool
    ) -> tuple[ChainState, dict[str, NDArray]]: ...

    def end_warmup(self, state: ChainState) -> None: ...

    def settings(self) -> dict[str, Any]: ...
