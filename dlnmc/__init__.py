"""dlnmc: Monte Carlo statistical mechanics of the Deep Linear Network.

The Boltzmann entropy ``S(X)`` of Menon and Yu (arXiv:2509.09088), the
geometry of the balanced manifold, samplers on group orbits and on the
balanced manifold, and Monte Carlo estimates held against the closed form.
Conventions are those of the theory guide (``docs/guide/theory.md``).

One engine serves the real, complex and quaternionic networks: every public
capability takes ``field="real" | "complex" | "quaternion"`` (or a
:class:`~dlnmc.fields.Field`, e.g. ``dlnmc.COMPLEX``), resolved once and handed
down. The ``*_field`` names of earlier releases remain as aliases that emit a
``DeprecationWarning``.

Names are imported on first use (PEP 562), so ``import dlnmc`` and worker processes
that need one sampler do not pay for xarray, ArviZ and the plots until they are used.
"""

from __future__ import annotations

import importlib
from typing import Any

# Eager: the function ``entropy`` shares its name with the module ``dlnmc.entropy``; bound
# here first, it cannot be shadowed by a later import of the submodule.
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
from dlnmc.provenance import (
    __version__,
)

#: Public name -> the module that defines it (imported when the name is first used).
_EXPORTS: dict[str, str] = {
    "FieldBalancedConstraint": "dlnmc._deprecated",
    "FieldHMC": "dlnmc._deprecated",
    "FieldQuadraticEnergy": "dlnmc._deprecated",
    "FieldRWM": "dlnmc._deprecated",
    "entropy_field": "dlnmc._deprecated",
    "entropy_sv_field": "dlnmc._deprecated",
    "estimate_group_volume_field": "dlnmc._deprecated",
    "estimate_orbit_volume_field": "dlnmc._deprecated",
    "haar_field": "dlnmc._deprecated",
    "log_group_volume_field": "dlnmc._deprecated",
    "log_rho_field": "dlnmc._deprecated",
    "log_rho_sv_field": "dlnmc._deprecated",
    "log_sv_density_field": "dlnmc._deprecated",
    "singular_values_field": "dlnmc._deprecated",
    "svd_field": "dlnmc._deprecated",
    "sample_balanced": "dlnmc.balanced",
    "EulerChart": "dlnmc.charts",
    "euler_chart": "dlnmc.charts",
    "BalancedConstraint": "dlnmc.constraint",
    "langevin": "dlnmc.dynamics",
    "Energy": "dlnmc.energy",
    "QuadraticEnergy": "dlnmc.energy",
    "DEFAULT_DIMS": "dlnmc.ensemble",
    "build_tree": "dlnmc.ensemble",
    "diagnostics": "dlnmc.ensemble",
    "provenance_attrs": "dlnmc.ensemble",
    "ExponentEstimate": "dlnmc.exponent",
    "estimate_exponent": "dlnmc.exponent",
    "COMPLEX": "dlnmc.fields",
    "Field": "dlnmc.fields",
    "QUATERNION": "dlnmc.fields",
    "REAL": "dlnmc.fields",
    "dyson_index": "dlnmc.fields",
    "resolve_field": "dlnmc.fields",
    "haar": "dlnmc.groups",
    "haar_orthogonal": "dlnmc.groups",
    "haar_special_orthogonal": "dlnmc.groups",
    "haar_symplectic": "dlnmc.groups",
    "haar_unitary": "dlnmc.groups",
    "lie_algebra_basis": "dlnmc.groups",
    "log_group_volume": "dlnmc.groups",
    "so_basis": "dlnmc.groups",
    "BalancedManifold": "dlnmc.manifold",
    "apply_A": "dlnmc.metric",
    "apply_A_inv": "dlnmc.metric",
    "g_N": "dlnmc.metric",
    "log_det_A": "dlnmc.metric",
    "balanced_dimension": "dlnmc.network",
    "balanced_factorization": "dlnmc.network",
    "balancedness_residual": "dlnmc.network",
    "constraint_jacobian": "dlnmc.network",
    "end_to_end": "dlnmc.network",
    "gauge_action": "dlnmc.network",
    "horizontal_basis": "dlnmc.network",
    "orbit_tangent_basis": "dlnmc.network",
    "orbit_tangent_vectors": "dlnmc.network",
    "phi": "dlnmc.network",
    "tangent_basis": "dlnmc.network",
    "orbit_base_point": "dlnmc.orbit",
    "sample_orbit": "dlnmc.orbit",
    "from_emcee": "dlnmc.peers",
    "from_mici": "dlnmc.peers",
    "plot_orbit_volumes": "dlnmc.plots",
    "plot_result": "dlnmc.plots",
    "plot_sv_histograms": "dlnmc.plots",
    "plot_trace_rank": "dlnmc.plots",
    "plot_z_scores": "dlnmc.plots",
    "JacobiProjection": "dlnmc.projections",
    "reference_end_to_end": "dlnmc.reference",
    "reference_singular_values": "dlnmc.reference",
    "ConstrainedHMC": "dlnmc.samplers",
    "ConstrainedRWM": "dlnmc.samplers",
    "EnsembleWriter": "dlnmc.storage",
    "load_tree": "dlnmc.storage",
    "save_tree": "dlnmc.storage",
    "StudyError": "dlnmc.studies",
    "load_study": "dlnmc.studies",
    "run_study": "dlnmc.studies",
    "SVLaw": "dlnmc.sv_law",
    "sv_law_moments": "dlnmc.sv_law",
    "sv_marginal_density": "dlnmc.sv_law",
    "GroupVolumeEstimate": "dlnmc.volumes",
    "OrbitVolumeEstimate": "dlnmc.volumes",
    "estimate_group_volume": "dlnmc.volumes",
    "estimate_orbit_volume": "dlnmc.volumes",
    "orbit_volume_table": "dlnmc.volumes",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dlnmc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
