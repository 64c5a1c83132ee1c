"""The study kinds, one module each; importing this package registers them all.

Registered kinds
----------------
entropy_sweep (:mod:`.entropy_sweep`)
    ``S`` from the Gram determinant of the orbit tangent vectors at Haar-random
    points of the orbit, against the closed form; grid key ``field`` (real,
    complex, quaternion) for ``S_b`` of docs/guide/fields.md.
orbit_volume (:mod:`.orbit_volume`)
    Monte Carlo orbit volume by the chart route (``dlnmc.estimate_orbit_volume``).
balanced (:mod:`.balanced`)
    Sampling of the balanced manifold (``dlnmc.sample_balanced``); means (and
    optionally 10%/90% quantiles) of the singular values against the
    closed-form law of docs/guide/theory.md, 'The law of X on the balanced manifold',
    over C and H (docs/guide/fields.md) with the optional grid key ``field``
    (``dlnmc.sv_law.sv_law_moments``).
langevin (:mod:`.langevin`)
    Langevin dynamics on the balanced manifold (theory-free) against the
    singular-value SDE of the theory: means and 10%/90% quantiles of each
    singular value at recorded times (``dlnmc.langevin``).
mici_comparison (:mod:`.mici_comparison`)
    The same singular-value check with mici's constrained HMC as the sampler
    (needs the ``bench`` extra).

A new kind is a new module here that calls
:func:`~dlnmc.studies.registry.register_kind`, plus one import line below.
"""

from dlnmc.studies.kinds.balanced import compare_with_law, run_balanced, sv_law_means
from dlnmc.studies.kinds.common import cell_dataset
from dlnmc.studies.kinds.entropy_sweep import run_entropy_sweep
from dlnmc.studies.kinds.langevin import run_langevin
from dlnmc.studies.kinds.mici_comparison import run_mici
from dlnmc.studies.kinds.orbit_volume import run_orbit_volume
from dlnmc.studies.registry import KINDS, Kind, register_kind

__all__ = [
    "KINDS",
    "Kind",
    "cell_dataset",
    "compare_with_law",
    "register_kind",
    "run_balanced",
    "run_entropy_sweep",
    "run_langevin",
    "run_mici",
    "run_orbit_volume",
    "sv_law_means",
]
