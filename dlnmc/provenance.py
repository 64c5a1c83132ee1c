"""Provenance: the root attributes that make a result file enough to reproduce it.

One function, :func:`provenance_attrs`, shared by ensembles (sampler output) and
study results, so both record the same package versions in the same keys.
"""

from __future__ import annotations

import datetime as _dt
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["PROVENANCE_PACKAGES", "__version__", "provenance_attrs"]

try:
    __version__ = version("dlnmc")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"

# Distributions whose versions a result file records (their import names equal
# their distribution names). dask and distributed matter for studies run on a
# cluster; an ensemble records them too, so every file has the same keys.
PROVENANCE_PACKAGES = (
    "numpy",
    "scipy",
    "xarray",
    "arviz",
    "h5netcdf",
    "emcee",
    "dask",
    "distributed",
)


def _dist_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def provenance_attrs(**extra: Any) -> dict[str, Any]:
    """Root attributes recording the software that wrote a file, and when.

    Parameters
    ----------
    **extra
        Anything else to record, e.g. ``study=<TOML text>``, ``seed=1``,
        ``sampler="rattle_hmc"``, ``sampler_settings={...}``. Values that
        netCDF cannot hold as attributes (dicts, lists, bools, None) are fine
        here: :func:`dlnmc.storage.save_tree` stores them as JSON strings
        under ``<name>_json`` and :func:`dlnmc.storage.load_tree` decodes them.

    Returns
    -------
    dict
        ``dlnmc_version``, ``python_version``, ``platform``, ``<pkg>_version``
        for every package of :data:`PROVENANCE_PACKAGES` (``"not installed"``
        when absent), ``created`` (UTC, ISO 8601, seconds), then ``extra``
        (which wins on a clash).
    """
    attrs: dict[str, Any] = {
        "dlnmc_version": __version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
    }
    attrs.update({f"{p}_version": _dist_version(p) for p in PROVENANCE_PACKAGES})
    attrs["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    attrs.update(extra)
    return attrs
