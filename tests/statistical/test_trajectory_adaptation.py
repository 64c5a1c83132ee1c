"""Warm-up adaptation of the HMC integration time (per-chain ChEES, pooled at end_warmup).

The adaptation must be deterministic per seed, keep its state per chain (arrays with a
leading chain axis, nothing pooled before ``end_warmup``), and hand the sampling phase
one frozen ``T`` (the Markov kernel after warm-up is fixed, so detailed balance holds).
The law test: the adapted sampler (``adapt_trajectory=True``) at d = 2, N = 3 against
quadrature of the closed-form law (means and 10%/90% quantiles of both singular
values, |z| < 4.5 with ArviZ MCSEs, fixed in advance), and the same draws reject the
law with the wrong exponent of ``D_ij`` (alpha = 1).
"""

import json

import arviz as az
import numpy as np
import pytest

from dlnmc.balanced import sample_balanced
from dlnmc.energy import QuadraticEnergy
from dlnmc.manifold import BalancedManifold
from dlnmc.moves import ComponentMove, GaugeMove
from dlnmc.samplers import ConstrainedHMC
from dlnmc.samplers.trajectory import quotient_coordinates, quotient_velocity
from dlnmc.sv_law import sv_law_moments
from tests.tolerances import Z_TOL

Z_MAX = Z_TOL
PROBS = (0.1, 0.9)


def _warm(C=4, n=12, seed=5, d=2, N=3):
    m = BalancedManifold(d, N)
    hmc = ConstrainedHMC(m, QuadraticEnergy(), 1.0, adapt_trajectory=True)
    rng = np.random.default_rng(seed)
    state = hmc.init(m.random_point(C, rng), rng)
    for _ in range(n):
        state, _ = hmc.step(state, rng, adapt=True)
    return hmc, state, rng


def test_default_adapts_and_fixed_modes_stay_available():
    e = QuadraticEnergy()
    assert ConstrainedHMC(2, 3, e, 1.0, adapt_trajectory=True).adapt_trajectory
    default = ConstrainedHMC(2, 3, e, 1.0)
    assert not default.adapt_trajectory and default.n_leapfrog == 8
    assert not ConstrainedHMC(2, 3, e, 1.0, n_leapfrog=8).adapt_trajectory
    assert not ConstrainedHMC(2, 3, e, 1.0, trajectory_length=1.0).adapt_trajectory
    hmc = ConstrainedHMC(2, 3, e, 1.0, trajectory_length=0.3, adapt_trajectory=True)
    assert hmc.adapt_trajectory and hmc.trajectory_length_init == 0.3
    with pytest.raises(ValueError, match="n_leapfrog"):
        ConstrainedHMC(2, 3, e, 1.0, n_leapfrog=8, adapt_trajectory=True)
    with pytest.raises(ValueError, match="n_leapfrog"):
        ConstrainedHMC(2, 3, e, 1.0, n_leapfrog=0)


def test_adaptation_state_is_per_chain():
    C = 5
    hmc, state, _ = _warm(C=C)
    ad = state.extra["trajectory_adapt"]
    for arr in (ad.log_T, ad.log_T_bar, ad.sq_grad, state.extra["trajectory_length"]):
        assert arr.shape == (C,)
    assert ad.centre.shape == (C, 2)
    # Nothing is pooled during warm-up: the chains hold different T.
    assert np.unique(state.extra["trajectory_length"]).size == C
    values = hmc.warmup_values(state)
    assert set(values) == {"step_size", "trajectory_length"}
    assert all(v.shape == (C,) for v in values.values())


def test_adaptation_is_deterministic_per_seed():
    _, a, _ = _warm(seed=11)
    _, b, _ = _warm(seed=11)
    _, c, _ = _warm(seed=12)
    np.testing.assert_array_equal(a.extra["trajectory_length"], b.extra["trajectory_length"])
    np.testing.assert_array_equal(a.W, b.W)
    assert not np.array_equal(a.extra["trajectory_length"], c.extra["trajectory_length"])


def test_pooled_length_is_frozen_and_used_after_warmup():
    hmc, state, rng = _warm(C=6, n=15)
    values = hmc.warmup_values(state)
    hmc.end_warmup(state)
    T = state.extra["trajectory_length"]
    assert "trajectory_adapt" not in state.extra and state.adapt is None
    np.testing.assert_array_equal(T, np.median(values["trajectory_length"]))
    np.testing.assert_array_equal(state.step_size, np.median(values["step_size"]))
    h = state.step_size
    for _ in range(6):
        state, stats = hmc.step(state, rng, adapt=False)
        # the same T in every transition; u T / h steps with u in [1/2, 1]
        np.testing.assert_array_equal(stats["trajectory_length"], T)
        np.testing.assert_array_equal(state.extra["trajectory_length"], T)
        n = stats["n_steps"][~stats["diverging"]]
        assert np.all(n <= np.ceil(T[0] / h[0])) and np.all(n >= np.floor(T[0] / (2 * h[0])))


def test_sample_stats_record_the_adapted_length():
    tree = sample_balanced(
        2, 2, beta=1.0, n_draws=20, n_chains=3, seed=4, n_warmup=15, adapt_trajectory=True
    )
    T = tree.sample_stats["trajectory_length"].values
    assert T.shape == (3, 20) and np.all(T == T[0, 0]) and T[0, 0] > 0
    assert json.loads(tree.attrs["settings"])["trajectory"] == "adapted"
    fixed = sample_balanced(2, 2, beta=1.0, n_draws=5, n_chains=2, seed=4, n_leapfrog=8)
    assert "trajectory" not in json.loads(fixed.attrs["settings"])


def test_statistic_is_invariant_under_the_exact_moves():
    # z = sqrt(N) lambda must not see the gauge or the component of M (else a per-chain
    # running centre would be smeared by the moves); W itself does change (decoy).
    m = BalancedManifold(3, 4)
    rng = np.random.default_rng(3)
    W = m.random_point(4, rng)
    X = m.phi(W)
    E = QuadraticEnergy().value(X)
    z = quotient_coordinates(m, W)
    for mv in (GaugeMove(), ComponentMove()):
        W2, *_ = mv.apply(m, W, X, E, QuadraticEnergy(), 1.0, rng)
        np.testing.assert_allclose(quotient_coordinates(m, W2), z, rtol=1e-10)
        if isinstance(mv, GaugeMove):
            assert np.abs(W2 - W).max() > 0.1
    # sqrt(N) lambda: |W|_F^2 = N sum lambda^2 on M
    np.testing.assert_allclose((z**2).sum(-1), (W**2).sum(axis=(1, 2, 3)), rtol=1e-10)


def test_velocity_of_the_statistic():
    hmc, state, _ = _warm(C=3, n=3, d=3, N=4)
    m = hmc.manifold
    P = m.project_tangent(state.W, np.random.default_rng(0).standard_normal(state.W.shape),
                          state.factor)  # fmt: skip
    v = quotient_velocity(m, state.W, P)
    tau = 1e-5
    h = np.full(3, tau)
    W1, *_ = hmc.leapfrog(state.W, P, 0 * state.grad, state.factor, h, np.ones(3, bool))
    fd = (quotient_coordinates(m, W1) - quotient_coordinates(m, state.W)) / tau
    np.testing.assert_allclose(v, fd, atol=1e-3 * np.abs(v).max())
    assert np.abs(quotient_velocity(m, state.W, -P) + v).max() < 1e-3 * np.abs(v).max()


@pytest.mark.slow
def test_adapted_trajectory_matches_quadrature_d2_n3():
    tree = sample_balanced(2, 3, beta=1.0, n_draws=1200, n_chains=16, seed=20261202,
                           n_warmup=300, adapt_trajectory=True)  # fmt: skip
    assert json.loads(tree.attrs["settings"])["trajectory"] == "adapted"
    s = tree.posterior["singular_values"]

    def zs(law):
        se = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
        out = [(s.mean(("chain", "draw")).values - law.mean) / se]
        for k, q in enumerate(PROBS):
            est = s.quantile(q, dim=("chain", "draw")).values
            se = az.mcse(tree, var_names=["singular_values"], method="quantile", prob=q)
            out.append((est - law.quantiles[k]) / se["singular_values"].values)
        return np.array(out)

    z = zs(sv_law_moments(2, 3, 1.0, "real", PROBS))
    assert np.all(np.abs(z) < Z_MAX), z
    # decoy: the exponent of D_ij set to 1 instead of 1/2
    z_wrong = zs(sv_law_moments(2, 3, 1.0, "real", PROBS, alpha=1.0))
    assert np.abs(z_wrong).max() > Z_MAX, z_wrong
    rhat = az.rhat(tree, var_names=["singular_values"])["singular_values"].values
    assert np.all(rhat <= 1.01), rhat
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10
