"""Where the draws of ``sample_balanced`` go, one module per backend (as emcee's ``backends/``).

A backend receives the draws chunk by chunk (:class:`~dlnmc.backends.base.Backend`):

- :class:`MemoryBackend` keeps them and returns the ensemble as an ``xarray.DataTree``;
- :class:`NetCDFBackend` streams them to a netCDF file through the atomic
  :class:`~dlnmc.storage.EnsembleWriter`, so memory stays flat in the number of draws.

Both turn a chunk into the ensemble's variables with one function
(:func:`~dlnmc.backends.base.ensemble_arrays`), so a file and the in-memory result of
the same run hold the same bits.
"""

from dlnmc.backends.base import Backend, RunInfo, ensemble_arrays
from dlnmc.backends.memory import MemoryBackend
from dlnmc.backends.netcdf import NetCDFBackend

__all__ = ["Backend", "MemoryBackend", "NetCDFBackend", "RunInfo", "ensemble_arrays"]
