"""Exact moves composed after every sampler transition, one module per move.

As emcee's ``moves/``: a move is a small object with ``apply`` (see
:class:`~dlnmc.moves.base.Move`); a sampler applies its list of moves in order after
each transition. Each move is a Markov kernel that leaves the target
``exp(-beta E(phi(W)))`` on the balanced manifold invariant by itself, so any list of
them composes with HMC or RWM exactly.

- :class:`ComponentMove`: jumps between the ``2^N`` connected components over R.
- :class:`GaugeMove`: resamples the gauge ``W_p -> U_p W_p U_{p-1}^*`` with Haar ``U_p``.
"""

from dlnmc.moves.base import Move
from dlnmc.moves.component import ComponentMove, component_moves
from dlnmc.moves.gauge import GaugeMove

__all__ = ["ComponentMove", "GaugeMove", "Move", "component_moves"]
