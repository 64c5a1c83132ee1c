"""The backend protocol and the one map from raw draws to the ensemble's variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from dlnmc.constraint import unpack
from dlnmc.entropy import entropy_sv
from dlnmc.fields import Field
from dlnmc.network import product, residual

__all__ = ["Backend", "RunInfo", "balanced_singular_values", "ensemble_arrays"]


@dataclass
class RunInfo:
    """What a backend is told before the first draw."""

    n_chains: int
    n_draws: int
    field: Field
    attrs: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """Receives stored draws in chunks; ``close`` returns the result."""

    def open(self, info: RunInfo) -> None: ...

    def append(
        self, W: NDArray[np.float64], E: NDArray[np.float64], stats: dict[str, NDArray]
    ) -> None:
        """``k`` draws per chain: ``W (chain, k, N, d, d*b)``, ``E (chain, k)``, stats
        ``(chain, k)``."""
        ...

    def close(self) -> Any: ...

    def abort(self) -> None: ...


def balanced_singular_values(W: NDArray, field: Field) -> NDArray[np.float64]:
    """Singular values over ``F`` of ``X = phi(W)`` for balanced stored ``W``, descending.

    On ``M_b``, ``X^* X = (W_1^* W_1)^N``, so ``s_i = sigma_i(W_1)^N`` (each once for H).
    This keeps full relative accuracy where an SVD of the product ``X`` would not: for
    large ``N`` the small singular values of ``X`` fall below ``eps * s_max``. Values
    that underflow are clipped to the smallest positive double.

    Returns
    -------
    ndarray, shape (..., d)
    """
    N = W.shape[-3]
    lam = field.singular_values_unchecked(W[..., 0, :, :])
    with np.errstate(under="ignore"):
        s = np.exp(N * np.log(lam))
    return np.maximum(s, np.finfo(np.float64).tiny)


def ensemble_arrays(
    Wc: NDArray[np.float64],
    E: NDArray[np.float64],
    stats: dict[str, NDArray],
    field: Field,
) -> tuple[dict[str, NDArray], dict[str, NDArray], dict[str, tuple[str, ...]]]:
    """Posterior and sample_stats variables of a chunk of draws, and their dimensions.

    Parameters
    ----------
    Wc : (chain, k, N, d, d * b) draws in the component layout.
    E : (chain, k) energies; stats : per-transition statistics (chain, k).

    Returns
    -------
    posterior : ``W``, ``X``, ``singular_values``, ``entropy``, ``energy``, ``trace_X``.
        Over R the matrices are plain ``(d, d)``; over C and H real components along a
        last ``component`` dimension.
    sample_stats : ``stats`` plus ``constraint_residual`` (largest real component of
        ``F(W)`` of the stored draw).
    dims : dimension names after ``(chain, draw)`` for the component variables.
    """
    N, d, b = Wc.shape[-3], Wc.shape[-2], field.b
    W = Wc if b == 1 else unpack(Wc, field)
    X = product(W)
    s = balanced_singular_values(W, field)
    if b == 1:
        posterior = {"W": Wc, "X": X, "trace_X": np.trace(X, axis1=-2, axis2=-1)}
        dims: dict[str, tuple[str, ...]] = {}
    else:
        Xc = field.to_components(X)
        idx = np.arange(d)
        posterior = {
            "W": Wc.reshape(*Wc.shape[:-1], d, b),
            "X": Xc,
            "trace_X": Xc[..., idx, idx, :].sum(axis=-2),  # tr_F X, component by component
        }
        dims = {
            "W": ("layer", "row", "col", "component"),
            "X": ("row", "col", "component"),
            "trace_X": ("component",),
        }
    posterior["singular_values"] = s
    S = entropy_sv(s, N, field=field.name) if d * N > 0 else np.zeros(s.shape[:2])
    posterior["entropy"] = S
    posterior["energy"] = E
    posterior = {k: posterior[k] for k in ("W", "X", "singular_values", "entropy", "energy",
                                           "trace_X")}  # fmt: skip
    stats = dict(stats)
    if N > 1:
        res = residual(W, field)
        if b == 1:
            stats["constraint_residual"] = np.abs(res).max(axis=(-3, -2, -1))
        else:
            comps = field.to_components(res)
            stats["constraint_residual"] = np.abs(comps).max(axis=(-4, -3, -2, -1))
    else:
        stats["constraint_residual"] = np.zeros(Wc.shape[:2])
    return posterior, stats, dims
