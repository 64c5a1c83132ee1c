"""Constrained HMC and RWM on the balanced manifold over C and H (MATH.md section 8).

The samplers of :mod:`dlnmc.samplers.rattle` and :mod:`dlnmc.samplers.rwm`,
unchanged, on the component layout of :mod:`dlnmc.constraint_fields`: the state
``W`` has shape ``(C, N, d, d * b)`` (real components of every entry), which is
an isometry onto ``R^{b N d^2}`` with the real inner product of MATH.md
section 8. Hence, with no other change:

- momenta ``proj_T(standard normal)`` are standard Gaussian on ``T_W M_b`` in
  the real inner product and the kinetic energy is ``|P|^2 / 2`` in it (for
  ``H`` the factor 2 of ``Re tr(chi^* chi)`` never appears: components are
  stored once);
- RATTLE with the reverse check is reversible and volume preserving for the
  Hausdorff measure of ``M_b`` induced by that inner product, so the target is
  ``exp(-beta E(phi(W)))`` against it (no Gram-determinant factor);
- the gradient of ``beta E(phi(W))`` for the real inner product is
  ``beta L_p^* grad E(X) R_p^*`` (``L_p = W_N..W_{p+1}``, ``R_p = W_{p-1}..W_1``),
  computed in the storage of the field and read back as components.

Components: over ``C`` and ``H`` the manifold ``M_b`` (``X`` invertible) is
connected (``GL_d(F)`` and ``G_d = U_d, Sp_d`` are connected, and ``M_b`` is a
bundle over ``GL_d(F)`` with fibre ``G_d^{N-1}``), so there are no component
moves; ``component_moves=True`` is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlnmc.constraint_fields import FieldBalancedConstraint, pack, unpack
from dlnmc.energy import Energy
from dlnmc.fields import check_field, conj_transpose
from dlnmc.samplers.rattle import ConstrainedHMC
from dlnmc.samplers.rwm import ConstrainedRWM

__all__ = ["FIELD_SAMPLERS", "FieldHMC", "FieldRWM", "potential_and_grad_field"]


def potential_and_grad_field(
    Wc: NDArray[np.float64], energy: Energy, beta: float, field: str
) -> tuple[NDArray, NDArray[np.float64], NDArray[np.float64]]:
    """``X = phi(W)`` (storage), ``E(X)`` and the gradient of ``beta E(phi(W))`` (components).

    Parameters
    ----------
    Wc : (C, N, d, d * b) component layout.
    energy : an energy over ``field`` (see :mod:`dlnmc.energy_fields`).

    Returns
    -------
    X : (C, n, n) in the storage of ``field``; E : (C,);
    grad : (C, N, d, d * b), the gradient for the real inner product, component layout.
    """
    W = unpack(Wc, field)
    N, n = W.shape[-3], W.shape[-1]
    eye = np.broadcast_to(np.eye(n, dtype=W.dtype), (*W.shape[:-3], n, n))
    right = np.empty_like(W)  # right[p] = product of W[:p]
    left = np.empty_like(W)  # left[p] = product of W[p+1:]
    right[..., 0, :, :] = eye
    for p in range(1, N):
        right[..., p, :, :] = W[..., p - 1, :, :] @ right[..., p - 1, :, :]
    X = W[..., N - 1, :, :] @ right[..., N - 1, :, :]
    left[..., N - 1, :, :] = eye
    for p in range(N - 2, -1, -1):
        left[..., p, :, :] = left[..., p + 1, :, :] @ W[..., p + 1, :, :]
    G = energy.grad(X)
    grad = conj_transpose(left) @ G[..., None, :, :] @ conj_transpose(right)
    return X, np.asarray(energy.value(X), dtype=np.float64), beta * pack(grad, field)


class _FieldSampler:
    """Mixin: a sampler of :mod:`dlnmc.samplers` over ``field`` on the component layout."""

    def __init__(
        self,
        width: int,
        depth: int,
        energy: Energy,
        beta: float,
        *,
        field: str,
        component_moves: bool = False,
        projection: str = "auto",
        **kwargs: Any,
    ) -> None:
        self.field = check_field(field)
        if component_moves:
            raise ValueError(
                f"component_moves=True: over field {field!r} the balanced manifold is "
                "connected (U_d, Sp_d and GL_d(F) are connected), there are no component moves"
            )
        if projection not in ("auto", "dense"):
            raise ValueError(
                f"projection must be 'auto' or 'dense' over field {field!r} (the field "
                f"constraint is dense only), got {projection!r}"
            )
        super().__init__(  # type: ignore[call-arg]
            width, depth, energy, beta, component_moves=False, projection=projection, **kwargs
        )

    def _make_constraint(self, width: int, depth: int, **kwargs: Any) -> FieldBalancedConstraint:
        kwargs.pop("mode", None)
        return FieldBalancedConstraint(width, depth, self.field, **kwargs)

    def potential(self, W: NDArray[np.float64]):
        return potential_and_grad_field(W, self.energy, self.beta, self.field)

    def end_to_end(self, W: NDArray[np.float64]) -> NDArray:
        S = unpack(W, self.field)
        X = S[:, 0]
        for p in range(1, S.shape[1]):
            X = S[:, p] @ X
        return X

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "field": self.field}  # type: ignore[misc]


class FieldHMC(_FieldSampler, ConstrainedHMC):
    """:class:`~dlnmc.samplers.ConstrainedHMC` over ``field`` (state: component layout)."""


class FieldRWM(_FieldSampler, ConstrainedRWM):
    """:class:`~dlnmc.samplers.ConstrainedRWM` over ``field`` (state: component layout)."""


FIELD_SAMPLERS = {"hmc": FieldHMC, "rwm": FieldRWM}
