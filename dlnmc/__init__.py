"""dlnmc: Monte Carlo statistical mechanics of the Deep Linear Network.

The Boltzmann entropy ``S(X)`` of Menon and Yu (arXiv:2509.09088), the
geometry of the balanced manifold, samplers on group orbits and on the
balanced manifold, and Monte Carlo estimates held against the closed form.
Conventions are those of MATH.md (shipped as ``docs/MATH.md``).

One engine serves the real, complex and quaternionic networks: every public
capability takes ``field="real" | "complex" | "quaternion"`` (or a
:class:`~dlnmc.fields.Field`, e.g. ``dlnmc.COMPLEX``), resolved once and handed
down. The ``*_field`` names of earlier releases remain as aliases that emit a
``DeprecationWarning``.
"""

# Deprecated *_field names of the two-engine package (warn, then call the field= API).
from dlnmc._deprecated import (
    FieldBalancedConstraint,
    FieldHMC,
    FieldQuadraticEnergy,
    FieldRWM,
    entropy_field,
    entropy_sv_field,
    estimate_group_volume_field,
    estimate_orbit_volume_field,
    haar_field,
    log_group_volume_field,
    log_rho_field,
    log_rho_sv_field,
    log_sv_density_field,
    singular_values_field,
    svd_field,
)
from dlnmc.balanced import sample_balanced
from dlnmc.charts import EulerChart, euler_chart
from dlnmc.constraint import BalancedConstraint
from dlnmc.dynamics import langevin
from dlnmc.energy import Energy, QuadraticEnergy
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
from dlnmc.exponent import ExponentEstimate, estimate_exponent
from dlnmc.fields import COMPLEX, QUATERNION, REAL, Field, dyson_index, resolve_field
from dlnmc.groups import (
    haar,
    haar_orthogonal,
    haar_special_orthogonal,
    haar_symplectic,
    haar_unitary,
    lie_algebra_basis,
    log_group_volume,
    so_basis,
)
from dlnmc.manifold import BalancedManifold
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
from dlnmc.peers import from_emcee, from_mici
from dlnmc.plots import (
    plot_orbit_volumes,
    plot_result,
    plot_sv_histograms,
    plot_trace_rank,
    plot_z_scores,
)
from dlnmc.projections import JacobiProjection
from dlnmc.provenance import __version__
from dlnmc.reference import reference_end_to_end, reference_singular_values
from dlnmc.samplers import ConstrainedHMC, ConstrainedRWM
from dlnmc.storage import EnsembleWriter, load_tree, save_tree
from dlnmc.studies import StudyError, load_study, run_study
from dlnmc.sv_law import SVLaw, sv_law_moments, sv_marginal_density
from dlnmc.volumes import (
    GroupVolumeEstimate,
    OrbitVolumeEstimate,
    estimate_group_volume,
    estimate_orbit_volume,
    orbit_volume_table,
)

__all__ = [
    "COMPLEX",
    "DEFAULT_DIMS",
    "QUATERNION",
    "REAL",
    "BalancedConstraint",
    "BalancedManifold",
    "ConstrainedHMC",
    "ConstrainedRWM",
    "Energy",
    "EnsembleWriter",
    "EulerChart",
    "ExponentEstimate",
    "Field",
    "FieldBalancedConstraint",
    "FieldHMC",
    "FieldQuadraticEnergy",
    "FieldRWM",
    "GroupVolumeEstimate",
    "JacobiProjection",
    "OrbitVolumeEstimate",
    "QuadraticEnergy",
    "SVLaw",
    "StudyError",
    "__version__",
    "apply_A",
    "apply_A_inv",
    "balanced_dimension",
    "balanced_factorization",
    "balancedness_residual",
    "build_tree",
    "constraint_jacobian",
    "diagnostics",
    "dyson_index",
    "end_to_end",
    "entropy",
    "entropy_field",
    "entropy_sv",
    "entropy_sv_field",
    "estimate_exponent",
    "estimate_group_volume",
    "estimate_group_volume_field",
    "estimate_orbit_volume",
    "estimate_orbit_volume_field",
    "euler_chart",
    "from_emcee",
    "from_mici",
    "g_N",
    "gauge_action",
    "haar",
    "haar_field",
    "haar_orthogonal",
    "haar_special_orthogonal",
    "haar_symplectic",
    "haar_unitary",
    "horizontal_basis",
    "langevin",
    "lie_algebra_basis",
    "load_study",
    "load_tree",
    "log_D",
    "log_D_pairs",
    "log_det_A",
    "log_group_volume",
    "log_group_volume_field",
    "log_rho",
    "log_rho_field",
    "log_rho_sv",
    "log_rho_sv_field",
    "log_sv_density",
    "log_sv_density_field",
    "orbit_base_point",
    "orbit_tangent_basis",
    "orbit_tangent_vectors",
    "orbit_volume_table",
    "phi",
    "plot_orbit_volumes",
    "plot_result",
    "plot_sv_histograms",
    "plot_trace_rank",
    "plot_z_scores",
    "provenance_attrs",
    "reference_end_to_end",
    "reference_singular_values",
    "resolve_field",
    "run_study",
    "sample_balanced",
    "sample_orbit",
    "save_tree",
    "singular_values",
    "singular_values_field",
    "so_basis",
    "sv_law_moments",
    "sv_marginal_density",
    "svd_field",
    "tangent_basis",
]
