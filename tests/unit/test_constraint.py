"""The balancedness constraint: Jacobian action, block-tridiagonal Gram, projections."""

import numpy as np
import pytest

from dlnmc.constraint import BalancedConstraint
from dlnmc.network import balanced_factorization, constraint_jacobian, tangent_basis

CASES = [(1, 2), (2, 2), (2, 3), (3, 4), (3, 6), (2, 7)]


def _points(d, N, C=4, seed=0):
    rng = np.random.default_rng(seed)
    return balanced_factorization(rng.standard_normal((C, d, d)), N, rng=rng), rng


def _jac_matrix(c, W):
    """J in symmetric coordinates, column by column through ``jac``."""
    D = W.shape[-3] * W.shape[-1] ** 2
    E = np.eye(D).reshape(D, *W.shape[-3:])
    cols = c.jac(W[:, None], E[None])  # (C, D, n, m)
    return np.swapaxes(cols.reshape(W.shape[0], D, -1), -1, -2)


@pytest.mark.parametrize(("d", "N"), CASES)
def test_jacobian_matches_dense_reference(d, N):
    # Foundation's dense Jacobian has rows = upper-triangle entries; ours uses an
    # orthonormal symmetric basis, so off-diagonal rows differ by sqrt(2).
    W, _ = _points(d, N)
    c = BalancedConstraint(d, N)
    iu, ju = np.triu_indices(d)
    scale = np.tile(np.where(iu == ju, 1.0, np.sqrt(2.0)), N - 1)
    ref = constraint_jacobian(W) * scale[:, None]
    np.testing.assert_allclose(_jac_matrix(c, W), ref, atol=1e-12)


@pytest.mark.parametrize(("d", "N"), CASES)
def test_normal_vectors_are_half_the_adjoint(d, N):
    W, rng = _points(d, N)
    c = BalancedConstraint(d, N)
    V = rng.standard_normal(W.shape)
    lam = rng.standard_normal((W.shape[0], N - 1, c.m))
    lhs = np.einsum("cpk,cpk->c", lam, c.jac(W, V))
    rhs = 2.0 * np.einsum("cpij,cpij->c", c.jac_t(W, lam), V)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("d", "N"), CASES)
def test_gram_is_block_tridiagonal_and_equals_JJt(d, N):
    W, _ = _points(d, N)
    c = BalancedConstraint(d, N)
    J = _jac_matrix(c, W)
    np.testing.assert_allclose(c.gram_dense(W), 0.5 * J @ np.swapaxes(J, -1, -2), atol=1e-11)
    G = c.gram_dense(W).reshape(W.shape[0], N - 1, c.m, N - 1, c.m)
    for p in range(N - 1):
        for q in range(N - 1):
            if abs(p - q) > 1:
                assert np.all(G[:, p, :, q, :] == 0.0)


@pytest.mark.parametrize("mode", ["dense", "block"])
@pytest.mark.parametrize(("d", "N"), CASES)
def test_solve_and_tangent_projection(d, N, mode):
    W, rng = _points(d, N)
    c = BalancedConstraint(d, N, mode=mode)
    f = c.factor(W)
    b = rng.standard_normal((W.shape[0], N - 1, c.m))
    x = f.solve(b)
    G = c.gram_dense(W)
    np.testing.assert_allclose(
        np.matvec(G, x.reshape(W.shape[0], -1)), b.reshape(W.shape[0], -1), atol=1e-9
    )
    V = rng.standard_normal(W.shape)
    P = c.project_tangent(W, V, f)
    T = tangent_basis(W)
    ref = (T @ (np.swapaxes(T, -1, -2) @ V.reshape(W.shape[0], -1, 1)))[..., 0]
    np.testing.assert_allclose(P.reshape(W.shape[0], -1), ref, atol=1e-10)


@pytest.mark.parametrize("mode", ["dense", "block"])
@pytest.mark.parametrize(("d", "N"), CASES)
def test_newton_projection_lands_on_M_along_the_normal(d, N, mode):
    W, rng = _points(d, N, C=8)
    c = BalancedConstraint(d, N, mode=mode)
    f = c.factor(W)
    V = c.project_tangent(W, 0.1 * rng.standard_normal(W.shape), f)
    res = c.project_position(W, W + V, f)
    assert res.converged.all()
    assert c.residual_norm(res.W).max() < 1e-10
    # The correction W1 - (W + V) lies in the normal space at W.
    corr = res.W - (W + V)
    assert np.abs(c.project_tangent(W, corr, f)).max() < 1e-10 * (1 + np.abs(corr).max())


def test_projection_failure_is_reported_not_raised():
    W, rng = _points(2, 3, C=4)
    c = BalancedConstraint(2, 3)
    f = c.factor(W)
    far = W + 50.0 * rng.standard_normal(W.shape)  # hopeless starting points
    res = c.project_position(W, far, f)
    assert not res.converged.all()
    np.testing.assert_array_equal(res.W[~res.converged], W[~res.converged])


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        BalancedConstraint(2, 3, mode="sparse")


def _with_singular_chain(d, N, C=3):
    """Balanced points whose chain 1 is on the singular stratum: every W_p = diag(1, 0, ...)."""
    W, rng = _points(d, N, C=C)
    W[1] = 0.0
    W[1, :, 0, 0] = 1.0
    return W, rng


@pytest.mark.parametrize("mode", ["dense", "block"])
def test_singular_gram_fails_that_chain_only(mode):
    d, N = 2, 3
    W, rng = _with_singular_chain(d, N)
    c = BalancedConstraint(d, N, mode=mode)
    f = c.factor(W)  # used to raise LinAlgError for the whole batch
    good = np.array([True, False, True])
    ref = c.factor(W[good])
    b = rng.standard_normal((3, N - 1, c.m))
    np.testing.assert_array_equal(f.solve(b)[good], ref.solve(b[good]))
    V = rng.standard_normal(W.shape)
    P = c.project_tangent(W, V, f)
    np.testing.assert_array_equal(P[good], c.project_tangent(W[good], V[good], ref))
    assert np.isnan(P[1]).all()
    # Any projection along the normal space of the singular point fails.
    res = c.project_position(W, W + 1e-3 * P, f)
    assert not res.converged[1]
    np.testing.assert_array_equal(res.W[1], W[1])
