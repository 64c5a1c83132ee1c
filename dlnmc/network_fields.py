"""Removed at merge: the field functions now live in :mod:`dlnmc.network` (``field=``).

A re-export shim for modules not yet migrated; each name forwards to the one
implementation in :mod:`dlnmc.network`.
"""

from __future__ import annotations

from dlnmc.network import (
    balanced_dimension,
    balanced_factorization,
    balancedness_residual,
    constraint_jacobian,
    dphi,
    end_to_end,
    gauge_action,
    horizontal_basis,
    log_orbit_gram,
    orbit_tangent_basis,
    orbit_tangent_vectors,
    tangent_basis,
)

__all__ = [
    "balanced_dimension_field",
    "balanced_factorization_field",
    "balancedness_residual_field",
    "constraint_jacobian_field",
    "dphi_field",
    "gauge_action_field",
    "horizontal_basis_field",
    "log_orbit_gram_field",
    "orbit_tangent_basis_field",
    "orbit_tangent_vectors_field",
    "phi_field",
    "tangent_basis_field",
]


def phi_field(W, field):
    return end_to_end(W, field)


def balanced_dimension_field(width, depth, field):
    return balanced_dimension(width, depth, field)


def balanced_factorization_field(X, depth, field, gauge=None, rng=None):
    return balanced_factorization(X, depth, gauge=gauge, rng=rng, field=field)


def balancedness_residual_field(W, field):
    return balancedness_residual(W, field)


def gauge_action_field(U, W, field):
    return gauge_action(U, W, field)


def orbit_tangent_vectors_field(W, field):
    return orbit_tangent_vectors(W, field)


def log_orbit_gram_field(W, field):
    return log_orbit_gram(W, field)


def orbit_tangent_basis_field(W, field):
    return orbit_tangent_basis(W, field)


def constraint_jacobian_field(W, field):
    return constraint_jacobian(W, field)


def tangent_basis_field(W, field):
    return tangent_basis(W, field)


def horizontal_basis_field(W, field):
    return horizontal_basis(W, field)


def dphi_field(W, Z, field):
    return dphi(W, Z, field)
