"""Energies ``E(X)`` of the end-to-end matrix, behind a small protocol.

An energy is any object with ``value(X)`` and ``grad(X)``, both batched over
leading axes: ``X`` of shape ``(..., d, d)`` gives ``value`` of shape ``(...)``
and ``grad`` (the Frobenius gradient ``dE/dX``) of shape ``(..., d, d)``.
Samplers on the balanced manifold only ever see ``E`` through ``X = phi(W)``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_square

__all__ = ["Energy", "QuadraticEnergy", "as_energy"]


@runtime_checkable
class Energy(Protocol):
    """What a sampler needs from an energy ``E(X)``."""

    def value(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """``E(X)``, shape ``(...)`` for ``X`` of shape ``(..., d, d)``."""
        ...

    def grad(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """``dE/dX`` (Frobenius gradient), shape ``(..., d, d)``."""
        ...


class QuadraticEnergy:
    """``E(X) = |X - Y|_F^2 / 2`` for a target ``Y`` (zero when ``target=None``).

    Parameters
    ----------
    target : array_like, shape (d, d), optional
        The target ``Y``; ``None`` means ``Y = 0``, for which ``E`` is
        orthogonally invariant (it depends on ``X`` only through its singular
        values) and the singular-value law of MATH.md section 6 applies.
    """

    def __init__(self, target: ArrayLike | None = None) -> None:
        if target is None:
            self.target = None
        else:
            Y = check_square(target, "target")
            if Y.ndim != 2:
                raise ValueError(f"target must have shape (d, d), got {Y.shape}")
            self.target = Y

    @property
    def orthogonally_invariant(self) -> bool:
        """True when ``E(U X V^T) = E(X)`` for orthogonal ``U, V`` (``Y = 0``)."""
        return self.target is None

    def _diff(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.target is None:
            return X
        if X.shape[-1] != self.target.shape[-1]:
            raise ValueError(
                f"X has width {X.shape[-1]} but the target has width {self.target.shape[-1]}"
            )
        return X - self.target

    def value(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """``|X - Y|_F^2 / 2``, shape ``(...)``."""
        D = self._diff(np.asarray(X, dtype=np.float64))
        return 0.5 * np.einsum("...ij,...ij->...", D, D)

    def grad(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """``X - Y``, shape ``(..., d, d)``."""
        return self._diff(np.asarray(X, dtype=np.float64))

    def __repr__(self) -> str:
        return "QuadraticEnergy(target=None)" if self.target is None else "QuadraticEnergy(Y)"


def as_energy(energy: object | None, target: ArrayLike | None = None) -> Energy:
    """``energy`` if given (checked against the protocol), else ``QuadraticEnergy(target)``."""
    if energy is None:
        return QuadraticEnergy(target)
    if target is not None:
        raise ValueError(
            "pass either target or energy, not both (target defines a QuadraticEnergy)"
        )
    if not (callable(getattr(energy, "value", None)) and callable(getattr(energy, "grad", None))):
        raise TypeError(
            f"energy must have methods value(X) and grad(X); got {type(energy).__name__}"
        )
    return energy  # type: ignore[return-value]
