"""The block-tridiagonal projection of BalancedConstraint (mode="block").

Deterministic checks of the Newton matrix, agreement with the dense projection,
robustness near the singular stratum and independence from the other chains,
then the singular-value law of d = 2, N = 3 with block projection forced in both
samplers: quadrature means (docs/guide/theory.md, 'The law of X on the balanced manifold')
within 4.5 ArviZ MCSE (fixed seeds).
"""

import arviz as az
import numpy as np
import pytest

from dlnmc.balanced import sample_balanced
from dlnmc.constraint import BalancedConstraint
from dlnmc.groups import haar_orthogonal
from dlnmc.network import balanced_factorization, balancedness_residual
from tests.tolerances import Z_TOL as Z_MAX

QUAD_D2_N3 = np.array([1.22797, 0.15097])  # E[s_1], E[s_2]; d=2, N=3, beta=1, Y=0


def _balanced(s, N, rng):
    """Balanced points with end-to-end singular values ``s (C, d)``, random rotations/gauge."""
    C, d = s.shape
    U, V = haar_orthogonal(d, C, rng), haar_orthogonal(d, C, rng)
    X = U @ (s[:, :, None] * np.swapaxes(V, -1, -2))
    return balanced_factorization(X, N, rng=rng)


def _tangent_start(c, W, h, rng):
    P = c.project_tangent(W, rng.standard_normal(W.shape), c.factor(W))
    return W + h * P


@pytest.mark.parametrize(("d", "N"), [(2, 3), (3, 4), (2, 6)])
def test_chord_blocks_are_the_newton_matrix(d, N):
    # d/dLambda F(W + J(W0)^T Lambda) = J(W) J(W0)^T, assembled column by column.
    rng = np.random.default_rng(1)
    W0 = _balanced(np.abs(rng.standard_normal((3, d))) + 0.1, N, rng)
    W = W0 + 0.2 * rng.standard_normal(W0.shape)
    c = BalancedConstraint(d, N, mode="block")
    n, m = c.n, c.m
    basis = np.eye(n * m).reshape(n * m, 1, n, m)
    cols = c.jac(W[None], c.jac_t(W0[None], np.broadcast_to(basis, (n * m, 3, n, m))))
    ref = np.moveaxis(cols.reshape(n * m, 3, n * m), 0, -1)
    diag, lower, upper = c.chord_blocks(W, W0)
    M = np.zeros((3, n, m, n, m))
    for p in range(n):
        M[:, p, :, p, :] = diag[:, p]
    for p in range(n - 1):
        M[:, p + 1, :, p, :] = lower[:, p]
        M[:, p, :, p + 1, :] = upper[:, p]
    np.testing.assert_allclose(M.reshape(3, n * m, n * m), ref, atol=1e-12)
    # At W = W0 it is the (symmetric) Gram matrix.
    np.testing.assert_allclose(c.chord_blocks(W0, W0)[0], c.gram_blocks(W0)[0], atol=1e-12)


@pytest.mark.parametrize(("d", "N"), [(2, 3), (3, 4), (2, 6)])
def test_block_and_dense_projections_agree(d, N):
    rng = np.random.default_rng(2)
    W = _balanced(np.exp(rng.normal(0.0, 1.0, (64, d))), N, rng)
    Wt = _tangent_start(BalancedConstraint(d, N, mode="dense"), W, 0.1, rng)
    res = {}
    for mode in ("dense", "block"):
        c = BalancedConstraint(d, N, mode=mode)
        res[mode] = c.project_position(W, Wt, c.factor(W))
    both = res["dense"].converged & res["block"].converged
    assert both.mean() > 0.9
    np.testing.assert_allclose(res["block"].W[both], res["dense"].W[both], rtol=0, atol=1e-10)
    assert np.abs(balancedness_residual(res["block"].W[both])).max() < 1e-11


def test_block_projection_converges_near_the_singular_stratum():
    # Regression: block mode iterated with the Gram factor K(W0) alone, which diverges
    # when s_2 -> 0 (10% of the d=2, N=3 law has s_2 < 3.6e-4): 33 of these 64
    # projections failed, making chains stick there. The dense (chord-Newton)
    # projection converges on all of them, and so must the block one.
    rng = np.random.default_rng(3)
    s = np.stack([np.full(64, 0.8), 10.0 ** rng.uniform(-7, -3, 64)], axis=-1)
    W = _balanced(s, 3, rng)
    c = BalancedConstraint(2, 3, mode="block")
    Wt = _tangent_start(c, W, 0.03, rng)
    dense = BalancedConstraint(2, 3, mode="dense")
    assert dense.project_position(W, Wt, dense.factor(W)).converged.all()
    res = c.project_position(W, Wt, c.factor(W))
    assert res.converged.all(), np.flatnonzero(~res.converged)


@pytest.mark.parametrize("mode", ["dense", "block"])
def test_projection_of_a_chain_does_not_depend_on_the_other_chains(mode):
    # The reverse check is exact only if it applies the map of the forward move; a
    # chain's projection must therefore be a function of its own (W0, Wt).
    # (Regression: the dense path refreshed the Newton matrix of every chain when
    # any chain contracted slowly.)
    rng = np.random.default_rng(4)
    W = _balanced(np.exp(rng.normal(0.0, 1.5, (40, 2))), 3, rng)
    c = BalancedConstraint(2, 3, mode=mode)
    Wt = _tangent_start(c, W, 0.3, rng)
    batch = c.project_position(W, Wt, c.factor(W))
    for i in range(W.shape[0]):
        one = c.project_position(W[i : i + 1], Wt[i : i + 1], c.factor(W[i : i + 1]))
        assert one.converged[0] == batch.converged[i]
        assert one.iterations[0] == batch.iterations[i], i
        np.testing.assert_array_equal(one.W[0], batch.W[i])


def _check_law(tree):
    s = tree.posterior["singular_values"]
    mean = s.mean(("chain", "draw")).values
    mcse = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
    z = (mean - QUAD_D2_N3) / mcse
    assert np.all(np.abs(z) < Z_MAX), (mean, mcse, z)
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sampler", "seed", "n_draws", "n_warmup", "thin"),
    [("hmc", 20261201, 300, 200, 1), ("rwm", 20261202, 800, 300, 2)],
)
def test_block_mode_law_d2_n3(sampler, seed, n_draws, n_warmup, thin):
    # ESS of each singular value is ~2000 here (it was ~150 before the block
    # projection used the Newton matrix: chains stuck near s_2 = 0).
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=n_draws, n_chains=16, seed=seed, n_warmup=n_warmup,
        sampler=sampler, thin=thin, projection="block",
    )  # fmt: skip
    assert tree.attrs["settings"].count('"projection": "block"') == 1
    _check_law(tree)
