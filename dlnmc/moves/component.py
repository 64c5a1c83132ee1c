"""Exact moves between the ``2^N`` connected components of ``M``.

``M`` splits by the signs of ``det W_p``; no continuous move (HMC, RWM) crosses
between components. Two isometries of ``R^{N d^2}`` that map ``M`` to itself
fix this:

- a gauge reflection ``U_p = R`` (``R = diag(-1, 1, ..., 1)``, ``p = 1..N-1``):
  ``W_p -> R W_p``, ``W_{p+1} -> W_{p+1} R``. It preserves ``X`` and the Hausdorff
  measure, flips the signs of ``det W_p`` and ``det W_{p+1}``, so it is always
  accepted;
- the end reflection ``W_1 -> W_1 R``: still balanced (``W_1 W_1^T`` is
  unchanged), an isometry, and ``X -> X R`` flips the sign of ``det X``. Its
  Metropolis ratio is ``exp(-beta (E(X R) - E(X)))`` (1 when ``E`` is
  orthogonally invariant).

Each is an involution chosen independently of the state, so accepting it with
the Metropolis ratio keeps the target invariant. Together they generate all
``2^N`` sign patterns: after every transition each gauge reflection is applied
with probability 1/2 and the end reflection is proposed, so every chain visits
every component (with the target's weights: for ``E = |X - Y|^2 / 2`` the two
signs of ``det X`` are weighted by the energy, the ``2^{N-1}`` gauge components
within a sign equally).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from dlnmc.energy import Energy

if TYPE_CHECKING:
    from dlnmc.manifold import BalancedManifold

__all__ = ["ComponentMove", "component_moves"]


def component_moves(
    W: NDArray[np.float64],
    X: NDArray[np.float64],
    E: NDArray[np.float64],
    energy: Energy,
    beta: float,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Apply random gauge reflections and a Metropolis end reflection to every chain.

    Parameters
    ----------
    W : (C, N, d, d) points on M; X : (C, d, d) = phi(W); E : (C,) = E(X).

    Returns
    -------
    W, X, E : the new state (new arrays); flipped : (C,) whether ``det X`` changed sign.
    """
    W = W.copy()
    C, N = W.shape[0], W.shape[1]
    if N > 1:
        # Gauge reflection at p (0-based, between layers p and p+1): negate row 0
        # of W[p] and column 0 of W[p+1].
        flip = rng.random((C, N - 1)) < 0.5
        sign = np.where(flip, -1.0, 1.0)
        W[:, :-1, 0, :] *= sign[:, :, None]
        W[:, 1:, :, 0] *= sign[:, :, None]
    Xr = X.copy()
    Xr[:, :, 0] *= -1.0  # X R
    Er = energy.value(Xr)
    log_u = np.log(rng.random(C))
    with np.errstate(over="ignore", invalid="ignore"):
        accept = log_u < -beta * (Er - E)
    W[:, 0, :, 0] = np.where(accept[:, None], -W[:, 0, :, 0], W[:, 0, :, 0])
    X = np.where(accept[:, None, None], Xr, X)
    E = np.where(accept, Er, E)
    return W, X, E, accept


class ComponentMove:
    """The component moves above as a composable move (over R only).

    Over C and H the balanced manifold is connected (``U_d``, ``Sp_d`` and
    ``GL_d(F)`` are connected), so there is nothing to move between: :meth:`check`
    refuses such a manifold.
    """

    name = "component"
    stat_names = ("det_flip",)

    def check(self, manifold: BalancedManifold) -> None:
        """Raise unless ``manifold`` has several connected components."""
        if manifold.n_components == 1:
            raise ValueError(
                f"component_moves=True: over field {manifold.field.name!r} the balanced "
                "manifold is connected (U_d, Sp_d and GL_d(F) are connected), there are no "
                "component moves"
            )

    def apply(
        self,
        manifold: BalancedManifold,
        W: NDArray[np.float64],
        X: NDArray[np.float64],
        E: NDArray[np.float64],
        energy: Energy,
        beta: float,
        rng: np.random.Generator,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], dict[str, NDArray]]:
        W, X, E, flipped = component_moves(W, X, E, energy, beta, rng)
        return W, X, E, {"det_flip": flipped}

    def __repr__(self) -> str:
        return "ComponentMove()"
