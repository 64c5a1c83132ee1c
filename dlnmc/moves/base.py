"""The protocol of an exact move on the balanced manifold."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from dlnmc.energy import Energy

if TYPE_CHECKING:  # annotations only: the manifold does not import the moves
    from dlnmc.manifold import BalancedManifold

__all__ = ["Move"]


@runtime_checkable
class Move(Protocol):
    """A Markov kernel that leaves ``exp(-beta E(phi(W)))`` on ``M`` invariant.

    ``stat_names`` are the per-chain statistics it reports (``(C,)`` arrays), stored
    in ``sample_stats`` next to the sampler's own.
    """

    name: str
    stat_names: tuple[str, ...]

    def apply(
        self,
        manifold: BalancedManifold,
        W: NDArray[np.float64],
        X: NDArray,
        E: NDArray[np.float64],
        energy: Energy,
        beta: float,
        rng: np.random.Generator,
    ) -> tuple[NDArray[np.float64], NDArray, NDArray[np.float64], dict[str, NDArray]]:
        """Move every chain; returns the new ``(W, X, E)`` and the move's statistics.

        ``W`` is in the component layout of ``manifold``, ``X = phi(W)`` in storage,
        ``E = E(X)``; the inputs are not modified.
        """
        ...

    def check(self, manifold: BalancedManifold) -> None:
        """Raise ``ValueError`` if the move does not apply to ``manifold``."""
        ...
