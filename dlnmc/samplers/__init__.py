"""Samplers on the balanced manifold: one module per sampler, a small common protocol.

- :class:`ConstrainedHMC` (``"hmc"``): RATTLE with Newton projection and the
  reverse-projection check.
- :class:`ConstrainedRWM` (``"rwm"``): constrained random-walk Metropolis with
  the same reverse check.

Both run on a :class:`~dlnmc.manifold.BalancedManifold` (any field, dense or block
projection) and compose exact moves (:mod:`dlnmc.moves`) after every transition.
"""

from dlnmc.manifold import potential_and_grad
from dlnmc.moves import component_moves
from dlnmc.samplers.base import ChainState, DualAveraging, Sampler
from dlnmc.samplers.rattle import ConstrainedHMC
from dlnmc.samplers.rwm import ConstrainedRWM

SAMPLERS = {"hmc": ConstrainedHMC, "rwm": ConstrainedRWM}

__all__ = [
    "SAMPLERS",
    "ChainState",
    "ConstrainedHMC",
    "ConstrainedRWM",
    "DualAveraging",
    "Sampler",
    "component_moves",
    "potential_and_grad",
]
