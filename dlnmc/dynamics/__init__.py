"""Dynamics of the DLN: Langevin on the balanced manifold and the equations of the theory.

Modules (one concept each):

- :mod:`~dlnmc.dynamics.geometry`: the single adapter to the constraint machinery of ``M``.
- :mod:`~dlnmc.dynamics.noise`: per-path random streams (bit-identical for any split).
- :mod:`~dlnmc.dynamics.manifold_route`: projected Euler-Maruyama on ``M`` (theory-free)
  and the zero-temperature gradient flow.
- :mod:`~dlnmc.dynamics.sv_route`: the singular-value SDE (theory; invariant energies).
- :mod:`~dlnmc.dynamics.api`: :func:`langevin`, the public entry point.
- :mod:`~dlnmc.dynamics.writer`: streaming a run to netCDF with flat memory.
- :mod:`~dlnmc.dynamics.compare`: time-resolved comparison of two routes, relaxation
  times, the ``dt/2`` bias check and the plot.
- :mod:`~dlnmc.dynamics.study`: the ``langevin`` study kind (settings, one cell).
"""

from dlnmc.dynamics.api import ROUTES, langevin

__all__ = ["ROUTES", "langevin"]
