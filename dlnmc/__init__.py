"""dlnmc: Monte Carlo statistical mechanics of the Deep Linear Network.

The Boltzmann entropy ``S(X)`` of Menon and Yu (arXiv:2509.09088), the
geometry of the balanced manifold, samplers on group orbits and on the
balanced manifold, and Monte Carlo estimates held against the closed form.
Conventions are those of MATH.md (shipped as ``docs/MATH.md``).
"""

from importlib.metadata import PackageNotFoundError, version

from dlnmc.charts import EulerChart, euler_chart
from dlnmc.ensemble import DEFAULT_DIMS, build_tree, diagnostics, provenance_attrs
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
from dlnmc.estimators import (
    GroupVolumeEstimate,
    OrbitVolumeEstimate,
    estimate_group_volume,
    estimate_orbit_volume,
    orbit_volume_table,
)
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
from dlnmc.orbit import orbit_base_point, sample_orbit
from dlnmc.storage import EnsembleWriter, load_tree, save_tree

try:
    __version__ = version("dlnmc")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

__all__ = [
    "DEFAULT_DIMS",
    "EnsembleWriter",
    "EulerChart",
    "GroupVolumeEstimate",
    "OrbitVolumeEstimate",
    "__version__",
    "apply_A",
    "apply_A_inv",
    "balanced_dimension",
    "balanced_factorization",
    "balancedness_residual",
    "build_tree",
    "constraint_jacobian",
    "diagnostics",
    "end_to_end",
    "entropy",
    "entropy_sv",
    "estimate_group_volume",
    "estimate_orbit_volume",
    "euler_chart",
    "g_N",
    "gauge_action",
    "haar_orthogonal",
    "haar_special_orthogonal",
    "horizontal_basis",
    "load_tree",
    "log_D",
    "log_D_pairs",
    "log_det_A",
    "log_group_volume",
    "log_rho",
    "log_rho_sv",
    "log_sv_density",
    "orbit_base_point",
    "orbit_tangent_basis",
    "orbit_tangent_vectors",
    "orbit_volume_table",
    "phi",
    "provenance_attrs",
    "sample_orbit",
    "save_tree",
    "singular_values",
    "so_basis",
    "tangent_basis",
]
