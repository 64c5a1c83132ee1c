"""Energies of the end-to-end matrix over F = R, C, H (MATH.md section 8).

Same protocol as :mod:`dlnmc.energy` (``value(X)``, ``grad(X)``, batched), with
``X`` in the storage of :mod:`dlnmc.fields` (complex ``d x d`` for ``C``, the
complex ``2d x 2d`` representation ``chi`` for ``H``) and ``grad`` the
gradient for the **real** inner product of MATH.md section 8: ``dE = <grad, dX>``
with ``<V, W> = Re tr(V^* W)`` (for ``H``: ``Re tr(chi(V)^* chi(W)) / 2``, the
sum of products of the four real components). For ``H`` the gradient must be
in ``image(chi)`` (it is for any function of the components).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dlnmc.fields import check_field, check_field_matrix, inner

__all__ = ["FieldQuadraticEnergy"]


class FieldQuadraticEnergy:
    """``E(X) = |X - Y|^2 / 2`` over ``F``, the norm of the real inner product.

    Parameters
    ----------
    field : {"real", "complex", "quaternion"}
    target : array_like, shape (n, n), optional
        ``Y`` in the storage of ``field``; ``None`` means ``Y = 0`` (then ``E``
        depends on the singular values only and the law of MATH.md section 8 applies).

    Notes
    -----
    ``grad(X) = X - Y``: for ``H``, ``E = Re tr(chi(D)^* chi(D)) / 4`` so
    ``dE = Re tr(chi(D)^* chi(dX)) / 2 = <D, dX>_H``.
    """

    def __init__(self, field: str, target: ArrayLike | None = None) -> None:
        self.field = check_field(field)
        if target is None:
            self.target = None
        else:
            Y = check_field_matrix(target, self.field, "target")
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
                f"X has size {X.shape[-1]} but the target has size {self.target.shape[-1]}"
            )
        return X - self.target

    def value(self, X: NDArray) -> NDArray[np.float64]:
        """``|X - Y|^2 / 2`` in the real inner product, shape ``(...)``."""
        D = self._diff(np.asarray(X))
        return 0.5 * inner(D, D, self.field)

    def grad(self, X: NDArray) -> NDArray:
        """``X - Y`` (gradient for the real inner product), shape of ``X``."""
        return self._diff(np.asarray(X))

    def __repr__(self) -> str:
        y = "None" if self.target is None else "Y"
        return f"FieldQuadraticEnergy({self.field!r}, target={y})"
