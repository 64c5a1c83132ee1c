"""Constrained Hamiltonian Monte Carlo on the balanced manifold (RATTLE).

Target: ``exp(-beta E(phi(W)))`` against the Hausdorff measure of ``M``
(docs/guide/theory.md, 'The law of X on the balanced manifold'; docs/guide/validation.md,
'3. Sampling the balanced manifold itself'). One leapfrog step from ``(W, P)`` (``P`` tangent):

1. half kick ``P <- proj_{T_W}(P - h/2 grad U(W))``;
2. drift ``W' = W + h P + J(W)^T Lambda`` with ``Lambda`` from a Newton/chord
   projection onto ``M`` (matrix ``J(W') J(W)^T``, refreshed per chain);
3. ``V' = proj_{T_W'}((W' - W) / h)``, and the reverse check: projecting
   ``W' - h V'`` along the normal space at ``W'`` must return to ``W``
   (Zappa, Holmes-Cerfon, Goodman 2018; Lelievre, Rousset, Stoltz 2019);
4. half kick ``P' = proj_{T_W'}(V' - h/2 grad U(W'))``.

With the reverse check the map is reversible and volume preserving on ``T M``,
so Metropolis on ``H = beta E + |P|^2 / 2`` leaves the target invariant; no
Gram-determinant factor is added. A failed projection or reverse check rejects
the whole trajectory (and is counted). All chains advance together; the step
size is adapted per chain by dual averaging during warm-up and then frozen, by
default at the median over chains (``step_size_pooling``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlnmc.manifold import BalancedManifold
from dlnmc.moves import ComponentMove, Move
from dlnmc.samplers.base import ChainState, DualAveraging
from dlnmc.samplers.trajectory import TrajectoryAdaptation, quotient_coordinates, quotient_velocity

__all__ = ["ConstrainedHMC"]


class _ManifoldSampler:
    """Shared state handling: refresh of derived quantities, warm-up, composed moves.

    Constructed on a :class:`~dlnmc.manifold.BalancedManifold`,
    ``Sampler(manifold, energy, beta, **settings)``; the older spelling
    ``Sampler(width, depth, energy, beta, field=..., projection=..., projection_tol=...,
    max_newton=...)`` builds the manifold from those settings.
    """

    name = "base"
    target_accept = 0.8
    # Per-transition statistics stored in sample_stats, the same for every sampler
    # so that ensembles from HMC and RWM compare column by column. ``diverging``,
    # ``lp`` and ``n_steps`` carry ArviZ's names and meanings.
    stat_names = (
        "acceptance_rate",
        "accepted",
        "step_size",
        "projection_iterations",
        "projection_failures",
        "reverse_check_failures",
        "det_flip",
        "diverging",
        "lp",
        "n_steps",
        "trajectory_length",
    )

    def __init__(
        self,
        manifold: BalancedManifold | int,
        *args: Any,
        step_size: float,
        component_moves: bool | None = None,
        moves: list[Move] | tuple[Move, ...] | None = None,
        projection_tol: float = 1e-12,
        max_newton: int = 40,
        reverse_tol: float = 1e-8,
        target_accept: float | None = None,
        projection: str = "auto",
        step_size_pooling: str = "median",
        field: str = "real",
    ) -> None:
        if isinstance(manifold, BalancedManifold):
            energy, beta = args
        else:
            depth, energy, beta = args
            manifold = BalancedManifold(
                manifold, depth, field, projection=projection, tol=projection_tol,
                max_iter=max_newton,
            )  # fmt: skip
        self.manifold = manifold
        self.constraint = manifold.projection  # the projection strategy
        self.field = manifold.field.name
        self.energy = energy
        self.beta = float(beta)
        self.initial_step_size = float(step_size)
        self.reverse_tol = float(reverse_tol)
        if moves is None:
            # Default: component moves wherever M has several components (over R). The
            # exact gauge move is not added: HMC and RWM commute with the gauge action (an
            # isometry of M that keeps the target and the momentum law), so the law of
            # the chain of X is the same with or without it; it only re-draws the gauge.
            if component_moves is None:
                component_moves = manifold.n_components > 1
            moves = [ComponentMove()] if component_moves else []
            if component_moves:
                moves[0].check(manifold)
        else:
            moves = list(moves)
            for mv in moves:
                if not isinstance(mv, Move):
                    raise TypeError(f"moves must be Move objects (see dlnmc.moves), got {mv!r}")
                mv.check(manifold)
        self.moves = moves
        self.component_moves = any(isinstance(mv, ComponentMove) for mv in moves)
        if step_size_pooling not in ("median", "per-chain"):
            raise ValueError(
                f"step_size_pooling must be 'median' or 'per-chain', got {step_size_pooling!r}"
            )
        self.step_size_pooling = step_size_pooling
        if target_accept is not None:
            self.target_accept = float(target_accept)

    def potential(self, W: NDArray[np.float64]):
        """``X``, ``E(X)`` and the gradient of ``beta E(phi(W))`` (component layout)."""
        return self.manifold.potential(W, self.energy, self.beta)

    def end_to_end(self, W: NDArray[np.float64]) -> NDArray:
        """``X = phi(W)`` without the gradient."""
        return self.manifold.phi(W)

    def refresh(self, W: NDArray[np.float64], step_size, adapt=None) -> ChainState:
        X, E, grad = self.potential(W)
        return ChainState(W, X, E, grad, self.manifold.factor(W), step_size, adapt)

    def init(self, W: NDArray[np.float64], rng: np.random.Generator) -> ChainState:
        W = np.array(W, dtype=np.float64)
        h = np.full(W.shape[0], self.initial_step_size)
        return self.refresh(W, h, DualAveraging(h, self.target_accept))

    def end_warmup(self, state: ChainState) -> None:
        """Freeze the adapted settings: by default every chain gets the median step size.

        Per-chain dual averaging lets a chain that spent warm-up near the singular
        stratum of ``M`` (small singular values, many failed projections) freeze a
        tiny step size, e.g. 0.001 against a median of 0.04 at d = 4, N = 8; that
        chain then barely moves and dominates R-hat. One common step size also makes
        all chains run the same Markov kernel. The same as
        ``apply_warmup(state, pool_warmup(warmup_values(state)))``.
        """
        values = self.warmup_values(state)
        if values:
            self.apply_warmup(state, self.pool_warmup(values))

    def warmup_values(self, state: ChainState) -> dict[str, NDArray[np.float64]]:
        """Per-chain results of warm-up, each of shape ``(C,)`` (empty after warm-up)."""
        return {} if state.adapt is None else {"step_size": state.adapt.final()}

    def pool_warmup(self, values: dict[str, NDArray[np.float64]]) -> dict[str, NDArray]:
        """The frozen per-chain values, shape ``(C,)``, from :meth:`warmup_values` of all chains."""
        h = values["step_size"]
        if self.step_size_pooling == "median":
            h = np.full_like(h, np.median(h))
        return {"step_size": h}

    def apply_warmup(self, state: ChainState, pooled: dict[str, NDArray]) -> None:
        """Set the frozen values on ``state`` (the chains' slice of :meth:`pool_warmup`)."""
        state.step_size = np.array(pooled["step_size"], dtype=np.float64)
        state.adapt = None

    def _returned(self, Wr: NDArray[np.float64], W0: NDArray[np.float64]) -> NDArray[np.bool_]:
        scale = 1.0 + np.abs(W0).max(axis=(-3, -2, -1))
        return np.abs(Wr - W0).max(axis=(-3, -2, -1)) < self.reverse_tol * scale

    def _finish(
        self,
        state: ChainState,
        proposal: ChainState,
        log_accept: NDArray[np.float64],
        alive: NDArray[np.bool_],
        rng: np.random.Generator,
        adapt: bool,
        stats: dict[str, NDArray],
    ) -> tuple[ChainState, dict[str, NDArray]]:
        log_accept = np.where(alive & np.isfinite(log_accept), log_accept, -np.inf)
        accept_prob = np.exp(np.minimum(log_accept, 0.0))
        accepted = np.log(rng.random(log_accept.shape)) < log_accept
        new = proposal.select(accepted, state)
        stats.update(acceptance_rate=accept_prob, accepted=accepted, step_size=stats["step_size"])
        # ArviZ: a divergent transition is one whose projection or reverse check failed.
        stats["diverging"] = stats["projection_failures"] | stats["reverse_check_failures"]
        if adapt and state.adapt is not None:
            new.step_size = state.adapt.update(accept_prob)
        if self.moves:
            W, X, E = new.W, new.X, new.E
            for mv in self.moves:
                W, X, E, mv_stats = mv.apply(self.manifold, W, X, E, self.energy, self.beta, rng)
                stats.update(mv_stats)
            extra = new.extra
            new = self.refresh(W, new.step_size, new.adapt)
            new.extra = extra
        # log target density on M (Hausdorff measure), up to a constant
        stats["lp"] = -self.beta * np.asarray(new.E, dtype=np.float64)
        return new, stats

    def settings(self) -> dict[str, Any]:
        c = self.constraint
        out = {
            "step_size_init": self.initial_step_size,
            "target_accept": self.target_accept,
            "component_moves": self.component_moves,
            "projection_tol": c.tol,
            "max_newton": c.max_iter,
            "reverse_tol": self.reverse_tol,
            "projection": self.manifold.projection_name,
            "step_size_pooling": self.step_size_pooling,
        }
        extra = [repr(mv) for mv in self.moves if not isinstance(mv, ComponentMove)]
        if extra:
            out["moves"] = extra
        if self.manifold.b != 1:
            out["field"] = self.field
        return out


class ConstrainedHMC(_ManifoldSampler):
    """RATTLE HMC on ``M`` with the reverse-projection check, vectorized over chains.

    Three ways to set the length of a trajectory:

    - ``n_leapfrog=L``: a fixed number of steps (the default, ``L = 8``);
    - ``trajectory_length=T``: a fixed integration time, ``ceil(T / h)`` steps;
    - ``adapt_trajectory=True``: the integration time ``T`` is adapted in warm-up, per
      chain, by the ChEES criterion on the layer singular values
      (:mod:`dlnmc.samplers.trajectory`); at the end of warm-up every chain gets the
      median over chains. A trajectory then runs for ``u T`` with ``u`` uniform in
      ``(1/2, 1)``, in ``ceil(u T / h)`` steps of the frozen step size ``h``.

    Parameters
    ----------
    manifold : BalancedManifold
        (or ``width, depth`` as two positional integers, see :class:`_ManifoldSampler`).
    energy : Energy
        ``E(X)`` with ``value`` and ``grad``.
    beta : float
        Inverse temperature.
    step_size : float
        Initial step size (adapted per chain in warm-up, then frozen as set by
        ``step_size_pooling``).
    n_leapfrog : int, optional
        Leapfrog steps per trajectory (fixed, default 8). With ``trajectory_length`` it
        is the step count of the warm-up trajectories.
    jitter : float
        With a fixed step count or time, each trajectory uses steps
        ``h * U(1 - jitter, 1 + jitter)`` (avoids periodic orbits). The adapted mode
        jitters the integration time instead.
    trajectory_length : float, optional
        Fixed integration time ``T`` of a trajectory instead of a fixed step count:
        chain ``c`` takes ``ceil(T / h_c)`` leapfrog steps with its frozen step size
        ``h_c`` (the pooled one by default), so the distance travelled per transition
        does not shrink when adaptation shrinks ``h``. Deep networks need a long ``T``:
        their slow direction (the small singular values, moved coherently in all ``N``
        layers) is ``O(sqrt(N))`` long. With ``adapt_trajectory=True`` it is the
        starting value of the adaptation instead (default 1).
    adapt_trajectory : bool
        Adapt ``T`` in warm-up (ChEES); ``trajectory_length`` is then its start.
    max_leapfrog : int
        Cap on the step count of one trajectory (from ``T / h``); in the adapted mode
        ``T`` is kept below ``max_leapfrog * h``.
    trajectory_jitter : float
        With ``adapt_trajectory=True``: a trajectory lasts ``u T`` with ``u`` uniform in
        ``(1 - trajectory_jitter, 1)`` (1/2: all chains wait for the longest one, so a
        wider range costs more than its mean length).
    chees_options : dict, optional
        Keywords of :class:`~dlnmc.samplers.trajectory.TrajectoryAdaptation`.
    step_size_pooling : {"median", "per-chain"}
        After warm-up every chain gets the median of the adapted step sizes
        (default), or keeps its own (see :meth:`end_warmup`).
    """

    name = "hmc"
    target_accept = 0.8
    #: Steps per trajectory without ``n_leapfrog`` (and in the warm-up of a fixed
    #: ``trajectory_length``).
    default_leapfrog = 8
    #: Cap on ``T / h`` while ``T`` adapts (``16 + t`` after ``t`` warm-up transitions, at
    #: most this): all chains wait for the longest trajectory, and a chain whose dual
    #: averaging is exploring a tiny ``h`` would stall the batch.
    warmup_max_leapfrog = 128
    #: Starting ``T`` of the adaptation.
    initial_trajectory_length = 1.0

    def __init__(
        self,
        manifold: BalancedManifold | int,
        *args: Any,
        step_size: float = 0.1,
        n_leapfrog: int | None = None,
        jitter: float = 0.2,
        trajectory_length: float | None = None,
        adapt_trajectory: bool = False,
        max_leapfrog: int = 1024,
        trajectory_jitter: float = 0.5,
        chees_options: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(manifold, *args, step_size=step_size, **kwargs)
        if n_leapfrog is not None and (
            isinstance(n_leapfrog, bool) or not isinstance(n_leapfrog, int | np.integer)
            or n_leapfrog < 1
        ):  # fmt: skip
            raise ValueError(f"n_leapfrog must be an integer >= 1, got {n_leapfrog!r}")
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")
        if trajectory_length is not None and not (
            np.isfinite(trajectory_length) and trajectory_length > 0
        ):
            raise ValueError(f"trajectory_length must be > 0, got {trajectory_length!r}")
        if int(max_leapfrog) < 1:
            raise ValueError(f"max_leapfrog must be >= 1, got {max_leapfrog!r}")
        # Not the default: in the A/B table of benchmarks/results_ess.txt (15 s per cell)
        # it won at d = 2, N = 2 and lost at d = 2, N = 8 and d = 4, N = 4 against the
        # fixed 8 steps, geometric mean 0.95; ChEES maximizes the change per transition,
        # not per leapfrog step.
        adapt_trajectory = bool(adapt_trajectory)
        if adapt_trajectory and n_leapfrog is not None:
            raise ValueError(
                "adapt_trajectory=True adapts the integration time; it cannot be combined "
                f"with a fixed n_leapfrog={n_leapfrog!r}"
            )
        self.adapt_trajectory = bool(adapt_trajectory)
        if not 0 <= trajectory_jitter < 1:
            raise ValueError(f"trajectory_jitter must be in [0, 1), got {trajectory_jitter!r}")
        self.trajectory_jitter = float(trajectory_jitter)
        self.chees_options = dict(chees_options or {})
        self.n_leapfrog = self.default_leapfrog if n_leapfrog is None else int(n_leapfrog)
        self.jitter = float(jitter)
        self.max_leapfrog = int(max_leapfrog)
        if self.adapt_trajectory:
            self.trajectory_length = None
            self.trajectory_length_init = (
                self.initial_trajectory_length
                if trajectory_length is None
                else float(trajectory_length)
            )
        else:
            self.trajectory_length = None if trajectory_length is None else float(trajectory_length)

    def settings(self) -> dict[str, Any]:
        out = super().settings()
        if self.adapt_trajectory:
            out.update(
                trajectory="adapted",
                trajectory_length_init=self.trajectory_length_init,
                trajectory_jitter=self.trajectory_jitter,
                max_leapfrog=self.max_leapfrog,
            )
            return out
        out.update(n_leapfrog=self.n_leapfrog, jitter=self.jitter)
        if self.trajectory_length is not None:
            out.update(trajectory_length=self.trajectory_length, max_leapfrog=self.max_leapfrog)
        return out

    # -- warm-up state -------------------------------------------------------------------
    def init(self, W: NDArray[np.float64], rng: np.random.Generator) -> ChainState:
        state = super().init(W, rng)
        if self.adapt_trajectory:
            T = np.full(W.shape[0], self.trajectory_length_init)
            state.extra["trajectory_length"] = T
            state.extra["trajectory_adapt"] = TrajectoryAdaptation(T, **self.chees_options)
        return state

    def warmup_values(self, state: ChainState) -> dict[str, NDArray[np.float64]]:
        """Per-chain results of warm-up, each of shape ``(C,)``: what :meth:`end_warmup` pools.

        ``step_size`` (averaged dual-averaging iterate) and, in the adapted mode,
        ``trajectory_length`` (averaged ChEES iterate). Chains split over processes can
        concatenate these along the chain axis, pool them once with :meth:`pool_warmup`
        and hand each process its slice for :meth:`apply_warmup`.
        """
        out = super().warmup_values(state)
        adapt = state.extra.get("trajectory_adapt")
        if adapt is not None:
            out["trajectory_length"] = adapt.final()
        return out

    def pool_warmup(self, values: dict[str, NDArray[np.float64]]) -> dict[str, NDArray]:
        """Pool over chains: ``T`` always by its median (one kernel for all chains)."""
        out = super().pool_warmup(values)
        if "trajectory_length" in values:
            T = np.full_like(values["trajectory_length"], np.median(values["trajectory_length"]))
            # The cap of warm-up holds for the frozen step sizes too.
            out["trajectory_length"] = np.minimum(T, out["step_size"] * self.max_leapfrog)
        return out

    def apply_warmup(self, state: ChainState, pooled: dict[str, NDArray]) -> None:
        super().apply_warmup(state, pooled)
        if "trajectory_length" in pooled:
            state.extra["trajectory_length"] = np.array(pooled["trajectory_length"], float)
            state.extra.pop("trajectory_adapt", None)

    # -- trajectories --------------------------------------------------------------------
    def n_steps(self, step_size: NDArray[np.float64]) -> NDArray[np.int_]:
        """Leapfrog steps per chain for nominal step sizes ``step_size`` (fixed modes)."""
        if self.trajectory_length is None:
            return np.full(step_size.shape, self.n_leapfrog)
        return self._steps_for(self.trajectory_length, step_size)

    def _steps_for(self, time, step_size: NDArray[np.float64]) -> NDArray[np.int_]:
        L = np.ceil(time / step_size)
        return np.clip(np.nan_to_num(L, nan=1.0), 1, self.max_leapfrog).astype(np.int_)

    def leapfrog(self, W, P, g, fac, h, alive):
        """One RATTLE step with the reverse check, for every chain.

        Parameters
        ----------
        W, P, g : (C, N, d, d) position on M, tangent momentum, gradient of beta E.
        fac : GramFactor at W.  h : (C,) step sizes.  alive : (C,) chains to move.

        Returns
        -------
        W1, P1, g1, fac1, X1, E1, ok, iterations, projection_failed, reverse_failed
            ``ok`` is False where the forward projection or the reverse check
            failed (those chains keep ``W``); ``P1`` is tangent at ``W1``.
        """
        c = self.manifold
        hb = h[:, None, None, None]
        Pm = c.project_tangent(W, P - 0.5 * hb * g, fac)
        fwd = c.project_position(W, W + hb * Pm, fac, active=alive)
        proj_fail = alive & ~fwd.converged
        ok = alive & fwd.converged
        W1 = fwd.W  # W itself where the projection failed
        fac1 = c.factor(W1)
        V1 = c.project_tangent(W1, (W1 - W) / hb, fac1)
        # Reverse check: from W1 with velocity -V1 the same projection must give W.
        rev = c.project_position(W1, W1 - hb * V1, fac1, active=ok)
        back = rev.converged & self._returned(rev.W, W)
        rev_fail = ok & ~back
        ok &= back
        X1, E1, g1 = self.potential(W1)
        P1 = c.project_tangent(W1, V1 - 0.5 * hb * g1, fac1)
        return W1, P1, g1, fac1, X1, E1, ok, fwd.iterations, proj_fail, rev_fail

    def step(
        self, state: ChainState, rng: np.random.Generator, adapt: bool
    ) -> tuple[ChainState, dict[str, NDArray]]:
        c = self.manifold
        W, g, fac = state.W, state.grad, state.factor
        C = W.shape[0]
        if self.adapt_trajectory:
            # Jittered integration time u T (u uniform, as ChEES), steps of the nominal h.
            # The same random draws in warm-up and sampling; only T is frozen after it.
            T = state.extra["trajectory_length"]
            u = rng.uniform(1.0 - self.trajectory_jitter, 1.0, C)
            h = state.step_size.copy()
            n_steps = self._steps_for(u * T, h)
        else:
            h = state.step_size * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter, C)
            # Warm-up uses short fixed trajectories: far from equilibrium dual averaging
            # drives h down for a while, and ceil(T / h) steps would make that very slow.
            if adapt or self.trajectory_length is None:
                n_steps = np.full(C, self.n_leapfrog)
                T = n_steps * state.step_size  # the nominal time of L steps
            else:
                n_steps = self.n_steps(state.step_size)
                T = np.full(C, self.trajectory_length)
        P = c.project_tangent(W, rng.standard_normal(W.shape), fac)
        H0 = self.beta * state.E + 0.5 * np.einsum("cpij,cpij->c", P, P)
        alive = np.ones(C, bool)
        proj_fail = np.zeros(C, bool)
        rev_fail = np.zeros(C, bool)
        iters = np.zeros(C, np.int_)
        taken = np.zeros(C, np.int_)
        E1 = state.E
        X1 = state.X
        for k in range(int(n_steps.max())):
            # Chains past their own step count sit still (the leapfrog leaves W alone
            # for inactive chains; their momentum is kept explicitly).
            moving = alive & (k < n_steps)
            taken += moving
            W, P1, g, fac, X1, E1, ok, n_it, pf, rf = self.leapfrog(W, P, g, fac, h, moving)
            P = np.where(moving[:, None, None, None], P1, P)
            proj_fail |= pf
            rev_fail |= rf
            alive &= ok | ~moving
            iters += n_it
        with np.errstate(over="ignore", invalid="ignore"):
            H1 = self.beta * E1 + 0.5 * np.einsum("cpij,cpij->c", P, P)
            log_accept = H0 - H1
        proposal = ChainState(W, X1, E1, g, fac, state.step_size, state.adapt, state.extra)
        stats = {
            "step_size": h,
            "projection_iterations": iters,
            "projection_failures": proj_fail,
            "reverse_check_failures": rev_fail,
            "n_steps": taken,
            "trajectory_length": np.array(T, dtype=np.float64),
        }
        traj = state.extra.get("trajectory_adapt") if adapt else None
        if traj is not None:
            # ChEES statistics of the trajectory itself (before the exact moves, which
            # leave z unchanged anyway).
            z0 = quotient_coordinates(c, state.W)
            z1 = quotient_coordinates(c, W)
            v1 = quotient_velocity(c, W, P)
        new, stats = self._finish(state, proposal, log_accept, alive, rng, adapt, stats)
        if traj is not None:
            # The cap grows with warm-up: early on, dual averaging swings through tiny h.
            steps = min(self.max_leapfrog, self.warmup_max_leapfrog, 16 + traj.t)
            cap = new.step_size * steps
            new.extra["trajectory_length"] = traj.update(
                z0, z1, v1, u, stats["acceptance_rate"], cap
            )
        return new, stats
