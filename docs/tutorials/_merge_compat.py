"""MERGE: delete this file (and the hidden cells importing it) once the one-engine API is in.

Before the one-engine restructuring, ``log_group_volume``, ``estimate_orbit_volume`` and
``estimate_group_volume`` had no ``field=`` keyword (their complex and quaternionic
versions had ``*_field`` names). The tutorials are written for the contract
``f(..., field="real")``; this module supplies it on older trees and does nothing once the
functions take ``field=`` themselves.
"""

import inspect

import dlnmc


def _takes_field(f):
    return "field" in inspect.signature(f).parameters


if not _takes_field(dlnmc.log_group_volume):
    _log_group_volume = dlnmc.log_group_volume

    def log_group_volume(d, *, field="real"):
        if field == "real":
            return _log_group_volume(d)
        return dlnmc.log_group_volume_field(d, field)

    dlnmc.log_group_volume = log_group_volume

if not _takes_field(dlnmc.estimate_orbit_volume):
    _estimate_orbit_volume = dlnmc.estimate_orbit_volume

    def estimate_orbit_volume(s, depth, n_samples=None, seed=None, *, field="real", **kw):
        if field == "real":
            return _estimate_orbit_volume(s, depth, n_samples, seed, **kw)
        n_replicates = 16
        return dlnmc.estimate_orbit_volume_field(
            s, depth, field, n_points=max(n_samples // n_replicates, 2),
            n_replicates=n_replicates, seed=seed,
        )

    dlnmc.estimate_orbit_volume = estimate_orbit_volume

if not _takes_field(dlnmc.estimate_group_volume):
    _estimate_group_volume = dlnmc.estimate_group_volume

    def estimate_group_volume(d, n_samples=None, seed=None, *, field="real", **kw):
        if field == "real":
            return _estimate_group_volume(d, n_samples, seed, **kw)
        n_replicates = 16
        return dlnmc.estimate_group_volume_field(
            d, field, n_points=max(n_samples // n_replicates, 2),
            n_replicates=n_replicates, seed=seed,
        )

    dlnmc.estimate_group_volume = estimate_group_volume
