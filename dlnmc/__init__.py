"""dlnmc: Monte Carlo statistical mechanics of the Deep Linear Network.

The Boltzmann entropy ``S(X)`` of Menon and Yu (arXiv:2509.09088), the
geometry of the balanced manifold, samplers on group orbits and on the
balanced manifold, and Monte Carlo estimates held against the closed form.
Conventions are those of MATH.md (shipped as ``docs/MATH.md``).
"""

from importlib.metadata import PackageNotFoundError, version

from dlnmc.balanced import sample_balanced
from dlnmc.constraint import BalancedConstraint
from dlnmc.energy import Energy, QuadraticEnergy
from dlnmc.entropy import (
    entropy,
    entropy_sv,
    log_D,
    log_D_pairs,
    log_rho,
    log_rho_sv,
    log_sv_density,
    singular_values,
)
from dlnmc.exponent import ExponentEstimate, estimate_exponent
from dlnmc.groups import haar_orthogonal, haar_special_orthogonal, log_group_volume, so_basis
from dlnmc.metric import apply_A, apply_A_inv, g_N, log_det_A
from dlnmc.network import (
    balanced_dimension,
    balanced_factorization,
    balancedness_residual,
    constraint_jacobian,
    end_to_end,
    gauge_action,
    horizontal_basis,
    orbit_tangent_basis,
    orbit_tangent_vectors,
    phi,
    tangent_basis,
)
from dlnmc.reference import reference_end_to_end, reference_singular_values
from dlnmc.samplers import ConstrainedHMC, ConstrainedRWM

try:
    __version__ = version("dlnmc")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

__all__ = [
    "BalancedConstraint",
    "ConstrainedHMC",
    "ConstrainedRWM",
    "Energy",
    "ExponentEstimate",
    "QuadraticEnergy",
    "__version__",
    "apply_A",
    "apply_A_inv",
    "balanced_dimension",
    "balanced_factorization",
    "balancedness_residual",
    "constraint_jacobian",
    "end_to_end",
    "entropy",
    "entropy_sv",
    "estimate_exponent",
    "g_N",
    "gauge_action",
    "haar_orthogonal",
    "haar_special_orthogonal",
    "horizontal_basis",
    "log_D",
    "log_D_pairs",
    "log_det_A",
    "log_group_volume",
    "log_rho",
    "log_rho_sv",
    "log_sv_density",
    "orbit_tangent_basis",
    "orbit_tangent_vectors",
    "phi",
    "reference_end_to_end",
    "reference_singular_values",
    "sample_balanced",
    "singular_values",
    "so_basis",
    "tangent_basis",
]
