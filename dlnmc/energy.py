"""Energies ``E(X)`` of the end-to-end matrix, behind a small protocol, over R, C, H.

An energy is any object with ``value(X)`` and ``grad(X)``, both batched over
leading axes: ``X`` of shape ``(..., n, n)`` (the storage of :mod:`dlnmc.fields`)
gives ``value`` of shape ``(...)`` and ``grad`` of the shape of ``X``: the gradient
for the real inner product of the field, ``dE = <grad, dX>`` with
``<V, W> = Re tr(V^* W)`` (for H: ``Re tr(chi(V)^* chi(W)) / 2``, the sum of products
of the four real components; the gradient must then lie in ``image(chi)``, as it does
for any function of the components). Over R this is the Frobenius gradient ``dE/dX``.
Samplers on the balanced manifold only ever see ``E`` through ``X = phi(W)``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc._validation import check_square
from dlnmc.fields import REAL, Field, resolve_field

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
    """``E(X) = |X - Y|^2 / 2`` (norm of the real inner product) for a target ``Y``.

    Parameters
    ----------
    target : array_like, shape (n, n), optional
        The target ``Y`` in the storage of ``field``; ``None`` means ``Y = 0``, for
        which ``E`` is invariant under ``X -> U X V^*`` with ``U, V`` in ``G_d`` (it
        depends on ``X`` only through its singular values) and the singular-value law
        of docs/guide/theory.md, 'The law of X on the balanced manifold' applies.
    field : str or Field
        ``"real"`` (default), ``"complex"``, ``"quaternion"``.

    Notes
    -----
    ``grad(X) = X - Y``: for H, ``E = Re tr(chi(D)^* chi(D)) / 4`` so
    ``dE = Re tr(chi(D)^* chi(dX)) / 2 = <D, dX>_H``.
    """

    def __init__(self, target: ArrayLike | None = None, *, field: str | Field = REAL) -> None:
        self._field = resolve_field(field)
        self.field = self._field.name
        if target is None:
            self.target = None
        else:
            if self._field.b == 1:
                Y = check_square(target, "target")
            else:
                Y = self._field.check_matrix(target, "target")
            if Y.ndim != 2:
                raise ValueError(f"target must have shape (n, n), got {Y.shape}")
            self.target = Y

    @property
    def orthogonally_invariant(self) -> bool:
        """True when ``E(U X V^*) = E(X)`` for ``U, V`` in ``G_d`` (``Y = 0``)."""
        return self.target is None

    def _diff(self, X: NDArray) -> NDArray:
        if self.target is None:
            return X
        if X.shape[-1] != self.target.shape[-1]:
            raise ValueError(
                f"X has width {X.shape[-1]} but the target has width {self.target.shape[-1]}"
            )
        return X - self.target

    def value(self, X: NDArray) -> NDArray[np.float64]:
        """``|X - Y|^2 / 2`` in the real inner product, shape ``(...)``."""
        D = self._diff(self._field.asarray(X) if self._field.b != 1 else np.asarray(X, np.float64))
        if self._field.b == 1:  # the einsum the real sampler always used (same bits)
            return 0.5 * np.einsum("...ij,...ij->...", D, D)
        return 0.5 * self._field.sq_norm(D)

    def grad(self, X: NDArray) -> NDArray:
        """``X - Y`` (gradient for the real inner product), shape of ``X``."""
        X = np.asarray(X, np.float64) if self._field.b == 1 else self._field.asarray(X)
        return self._diff(X)

    def __repr__(self) -> str:
        y = "None" if self.target is None else "Y"
        if self._field.b == 1:
            return f"QuadraticEnergy(target={y})"
        return f"QuadraticEnergy(target={y}, field={self.field!r})"


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
