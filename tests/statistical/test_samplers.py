"""Samplers on the balanced manifold: exactness of the moves and the law of X.

Statistical tests use fixed seeds and |z| < 4.5 with ArviZ MCSEs, fixed in advance.
Reference values: docs/guide/theory.md, 'The law of X on the balanced manifold'
(quadrature; re-derived in test_exponent.py).
"""

import arviz as az
import numpy as np
import pytest
from scipy.special import gamma

from dlnmc.balanced import initial_points, sample_balanced
from dlnmc.energy import QuadraticEnergy
from dlnmc.moves import component_moves
from dlnmc.network import balancedness_residual, end_to_end
from dlnmc.samplers import ConstrainedHMC, potential_and_grad
from tests.tolerances import Z_TOL as Z_MAX

QUAD_D2_N3 = np.array([1.22797, 0.15097])  # E[s_1], E[s_2]; d=2, N=3, beta=1, Y=0


def _check_law_d2_n3(tree):
    s = tree.posterior["singular_values"]
    mean = s.mean(("chain", "draw")).values
    mcse = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
    z = (mean - QUAD_D2_N3) / mcse
    assert np.all(np.abs(z) < Z_MAX), (mean, mcse, z)
    rhat = az.rhat(tree, var_names=["singular_values"])["singular_values"].values
    assert np.all(rhat <= 1.01), rhat
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10
    # Independent recomputation from the stored W.
    assert np.abs(balancedness_residual(tree.posterior["W"].values)).max() < 1e-10


@pytest.mark.slow
def test_hmc_d2_n3_matches_quadrature():
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=1500, n_chains=16, seed=20261127, n_warmup=300, sampler="hmc"
    )
    _check_law_d2_n3(tree)


@pytest.mark.slow
def test_rwm_d2_n3_matches_quadrature():
    tree = sample_balanced(
        2,
        3,
        beta=1.0,
        n_draws=3000,
        n_chains=16,
        seed=20261128,
        n_warmup=500,
        thin=2,
        sampler="rwm",
    )
    _check_law_d2_n3(tree)


@pytest.mark.slow
def test_hmc_trajectory_length_matches_quadrature():
    # Per-chain step sizes with a fixed integration time: chains take different
    # numbers of leapfrog steps, and the ones that finished early must keep their
    # final momentum while the others move (else H1 and the acceptance are wrong).
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=700, n_chains=16, seed=20261201, n_warmup=200,
        trajectory_length=1.0, step_size_pooling="per-chain",
    )  # fmt: skip
    h = tree.sample_stats["step_size"].values.mean(axis=1)
    assert h.max() / h.min() > 1.1  # the chains really do run different step counts
    _check_law_d2_n3(tree)


def test_chain_that_finishes_early_is_unaffected_by_the_others():
    # Chain 1 takes 2 leapfrog steps; in batch A chain 0 takes 10, so chain 1
    # idles for 8 steps. Its result must equal batch B, where nobody idles (the
    # random numbers of chain 1 are the same in both batches).
    hmc = ConstrainedHMC(
        2, 3, QuadraticEnergy(), 1.0, trajectory_length=0.6, jitter=0.0, component_moves=False
    )
    rng = np.random.default_rng(3)
    W = initial_points(2, 3, 2, rng, hmc.energy)
    out = {}
    for name, W0, h in [("A", W, [0.05, 0.3]), ("B", W[[1, 1]], [0.3, 0.3])]:
        state = hmc.init(W0, rng)
        hmc.end_warmup(state)
        state.step_size = np.array(h)
        assert hmc.n_steps(state.step_size)[1] == 2
        new, stats = hmc.step(state, np.random.default_rng(24), adapt=False)
        out[name] = (new.W[1], stats["acceptance_rate"][1])
    np.testing.assert_array_equal(out["A"][0], out["B"][0])
    assert out["A"][1] == out["B"][1] < 1.0  # < 1: the kinetic energy matters


def test_trajectory_length_sets_step_counts():
    hmc = ConstrainedHMC(2, 3, QuadraticEnergy(), 1.0, trajectory_length=0.5, max_leapfrog=20)
    got = hmc.n_steps(np.array([0.5, 0.2, 0.1, 0.001]))
    assert got.tolist() == [1, 3, 5, 20]
    with pytest.raises(ValueError, match="trajectory_length"):
        ConstrainedHMC(2, 3, QuadraticEnergy(), 1.0, trajectory_length=0.0)
    with pytest.raises(ValueError, match="step_size_pooling"):
        ConstrainedHMC(2, 3, QuadraticEnergy(), 1.0, step_size_pooling="mean")


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["hmc", "rwm"])
def test_law_without_component_moves(sampler):
    # With Y = 0 the law of the singular values is the same on every component,
    # so the chains must reproduce it without the exact component moves too.
    # (Regression: the state selection after accept/reject dropped the dense
    # projection operators, biasing HMC and crashing RWM.)
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=1500, n_chains=16, seed=20261129, n_warmup=300,
        sampler=sampler, component_moves=False, thin=2 if sampler == "rwm" else 1,
    )  # fmt: skip
    _check_law_d2_n3(tree)


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["hmc", "rwm"])
def test_d1_n2_sanity_case(sampler):
    # M = {w2 = ±w1}: x = w1 w2 has density ∝ |x|^{-1/2} exp(-x^2/2), so
    # E|x| = sqrt(2) Gamma(3/4) / Gamma(1/4), and both signs are equally likely.
    tree = sample_balanced(1, 2, beta=1.0, n_draws=2000, n_chains=16, seed=7, sampler=sampler)
    x = tree.posterior["X"].values[..., 0, 0]
    expect = np.sqrt(2.0) * gamma(0.75) / gamma(0.25)
    z = (np.abs(x).mean() - expect) / az.mcse(np.abs(x))
    assert abs(z) < Z_MAX, z
    neg = (x < 0).astype(float)
    z_sign = (neg.mean() - 0.5) / az.mcse(neg)
    assert abs(z_sign) < Z_MAX, z_sign


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((3, 3))
    energy = QuadraticEnergy(Y)
    W = rng.standard_normal((2, 4, 3, 3))
    _, E, g = potential_and_grad(W, energy, 2.0)
    V = rng.standard_normal(W.shape)
    eps = 1e-6
    Ep = energy.value(end_to_end(W + eps * V))
    Em = energy.value(end_to_end(W - eps * V))
    np.testing.assert_allclose(
        2.0 * (Ep - Em) / (2 * eps), np.einsum("cpij,cpij->c", g, V), rtol=1e-6
    )
    np.testing.assert_allclose(E, energy.value(end_to_end(W)))


def test_rattle_step_is_reversible():
    # (W, P) -> (W1, P1) and (W1, -P1) -> (W, -P): the property the reverse check guards.
    d, N, C = 3, 4, 8
    rng = np.random.default_rng(2)
    energy = QuadraticEnergy(rng.standard_normal((d, d)))
    hmc = ConstrainedHMC(d, N, energy, 1.0)
    st = hmc.init(initial_points(d, N, C, rng, energy), rng)
    c = hmc.constraint
    P = c.project_tangent(st.W, rng.standard_normal(st.W.shape), st.factor)
    h = np.full(C, 0.05)
    alive = np.ones(C, bool)
    W1, P1, g1, f1, *_, ok, _, _, _ = hmc.leapfrog(st.W, P, st.grad, st.factor, h, alive)
    assert ok.all()
    W2, P2, *_, ok2, _, _, _ = hmc.leapfrog(W1, -P1, g1, f1, h, alive)
    assert ok2.all()
    np.testing.assert_allclose(W2, st.W, atol=1e-9)
    np.testing.assert_allclose(P2, -P, atol=1e-8)
    # Energy error of one step is small (second order).
    H0 = st.E + 0.5 * (P**2).sum((1, 2, 3))
    H1 = energy.value(end_to_end(W1)) + 0.5 * (P1**2).sum((1, 2, 3))
    assert np.abs(H1 - H0).max() < 0.05


def test_component_moves_are_exact_isometries():
    rng = np.random.default_rng(3)
    d, N, C = 3, 4, 64
    Y = rng.standard_normal((d, d))
    energy = QuadraticEnergy(Y)
    W = initial_points(d, N, C, rng, energy)
    X = end_to_end(W)
    W2, X2, E2, flipped = component_moves(W, X, energy.value(X), energy, 1.0, rng)
    assert np.abs(balancedness_residual(W2)).max() < 1e-10
    np.testing.assert_allclose(end_to_end(W2), X2, atol=1e-12)
    np.testing.assert_allclose(E2, energy.value(X2))
    # X is unchanged unless the end reflection was accepted, then det X flips sign.
    np.testing.assert_allclose(X2[~flipped], X[~flipped], atol=1e-12)
    assert np.all(np.sign(np.linalg.det(X2[flipped])) == -np.sign(np.linalg.det(X[flipped])))
    # Frobenius norms of the layers are preserved (isometry of R^{N d^2}).
    np.testing.assert_allclose((W2**2).sum((2, 3)), (W**2).sum((2, 3)))


@pytest.mark.slow
def test_chains_visit_every_component():
    # Y = 0: the 2^N sign patterns of det W_p all have weight 2^-N.
    N = 3
    tree = sample_balanced(2, N, beta=1.0, n_draws=400, n_chains=8, seed=5, n_warmup=100)
    signs = np.linalg.det(tree.posterior["W"].values) > 0  # (chain, draw, N)
    codes = (signs * (2 ** np.arange(N))).sum(-1)
    counts = np.bincount(codes.ravel(), minlength=2**N) / codes.size
    assert counts.min() > 0.5 / 2**N, counts


def test_step_size_frozen_after_warmup():
    # Without jitter the stored step size is the frozen one itself.
    def frozen(**kw):
        tree = sample_balanced(
            2, 3, beta=1.0, n_draws=30, n_chains=4, seed=9, n_warmup=50, jitter=0.0, **kw
        )
        return tree.sample_stats["step_size"].values  # (chain, draw)

    h = frozen()
    assert np.all(h == h[0, 0])  # one step size, the median of the adapted ones, for all
    per_chain = frozen(step_size_pooling="per-chain")
    assert np.all(per_chain == per_chain[:, :1])  # frozen in time
    assert np.unique(per_chain[:, 0]).size == 4  # but different between chains
    assert h[0, 0] == np.median(per_chain[:, 0])  # same warm-up: pooled = their median


@pytest.mark.parametrize("kind", ["rwm", "hmc"])
def test_proposal_on_singular_stratum_is_rejected(monkeypatch, kind):
    # A forward projection that lands where J J^T is singular used to raise
    # LinAlgError in factor() and kill every chain; now only that proposal fails.
    from dlnmc.samplers import SAMPLERS

    energy = QuadraticEnergy(np.zeros((2, 2)))
    smp = SAMPLERS[kind](2, 3, energy, 1.0, component_moves=False)
    rng = np.random.default_rng(5)
    state = smp.init(initial_points(2, 3, 3, rng, smp.energy), rng)
    c = smp.constraint
    real = c.project_position
    calls = []

    def forward_to_singular(W0, Wt, factor0, active=None):
        res = real(W0, Wt, factor0, active)
        if not calls:  # the forward move: chain 1 lands on diag(1, 0) in every layer
            res.W[1] = 0.0
            res.W[1, :, 0, 0] = 1.0
            res.converged[1] = True
        calls.append(1)
        return res

    monkeypatch.setattr(c, "project_position", forward_to_singular)
    new, stats = smp.step(state, rng, adapt=False)
    assert not stats["accepted"][1] and stats["reverse_check_failures"][1]
    np.testing.assert_array_equal(new.W[1], state.W[1])
    assert np.isfinite(new.W).all()
