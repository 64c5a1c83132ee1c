"""Constrained random-walk Metropolis on the balanced manifold.

Zappa, Holmes-Cerfon and Goodman (2018): from ``W`` draw a tangent step
``V ~ N(0, h^2 I)`` on ``T_W M``, project ``W + V`` back onto ``M`` along the
normal space at ``W`` (Newton/chord iteration, decided per chain), compute the reverse tangent step
``V' = proj_{T_W'}(W - W')`` and accept with

    min(1, exp(-beta (E(W') - E(W)) - (|V'|^2 - |V|^2) / (2 h^2)))

provided the reverse projection of ``W' + V'`` along the normal space at ``W'``
returns to ``W`` (otherwise reject: without this check the chain is biased).
The target is ``exp(-beta E(phi(W)))`` against the Hausdorff measure of ``M``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlnmc.manifold import BalancedManifold
from dlnmc.samplers.base import ChainState
from dlnmc.samplers.rattle import _ManifoldSampler

__all__ = ["ConstrainedRWM"]


class ConstrainedRWM(_ManifoldSampler):
    """Random-walk Metropolis on ``M`` with the reverse-projection check.

    Parameters
    ----------
    manifold : BalancedManifold
        (or ``width, depth`` as two positional integers)
    energy : Energy
    beta : float
    step_size : float
        Initial proposal scale ``h`` (adapted per chain in warm-up, then frozen at the
        median over chains, or per chain with ``step_size_pooling="per-chain"``).
    """

    name = "rwm"
    target_accept = 0.3

    def __init__(
        self,
        manifold: BalancedManifold | int,
        *args: Any,
        step_size: float = 0.2,
        **kwargs: Any,
    ) -> None:
        super().__init__(manifold, *args, step_size=step_size, **kwargs)

    def refresh(self, W, step_size, adapt=None) -> ChainState:
        # RWM needs no gradient: X and E only.
        X = self.end_to_end(W)
        E = np.asarray(self.energy.value(X), dtype=np.float64)
        return ChainState(W, X, E, None, self.manifold.factor(W), step_size, adapt)

    def step(
        self, state: ChainState, rng: np.random.Generator, adapt: bool
    ) -> tuple[ChainState, dict[str, NDArray]]:
        c = self.manifold
        W, fac = state.W, state.factor
        C = W.shape[0]
        h = state.step_size
        hb = h[:, None, None, None]
        V = c.project_tangent(W, hb * rng.standard_normal(W.shape), fac)
        fwd = c.project_position(W, W + V, fac)
        alive = fwd.converged.copy()
        W1 = fwd.W
        fac1 = c.factor(W1)
        V1 = c.project_tangent(W1, W - W1, fac1)
        rev = c.project_position(W1, W1 + V1, fac1, active=alive)
        ok = rev.converged & self._returned(rev.W, W)
        rev_fail = alive & ~ok
        alive &= ok
        X1 = self.end_to_end(W1)
        E1 = np.asarray(self.energy.value(X1), dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            log_accept = -self.beta * (E1 - state.E) - (
                np.einsum("cpij,cpij->c", V1, V1) - np.einsum("cpij,cpij->c", V, V)
            ) / (2.0 * h * h)
        proposal = ChainState(W1, X1, E1, None, fac1, state.step_size, state.adapt)
        stats = {
            "step_size": h,
            "projection_iterations": fwd.iterations,
            "projection_failures": ~fwd.converged,
            "reverse_check_failures": rev_fail,
            "n_steps": np.zeros(C, np.int_),  # no leapfrog steps
            "trajectory_length": np.zeros(C),  # no integration time
        }
        return self._finish(state, proposal, log_accept, alive, rng, adapt, stats)
