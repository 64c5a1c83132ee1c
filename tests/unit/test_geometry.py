"""Geometry of the balanced manifold, checked without the closed form.

See docs/guide/theory.md, 'The balanced manifold', 'Orbits' and 'The metric on observables'.
"""

import numpy as np
import pytest

import dlnmc


def _random_X(rng, d):
    return rng.normal(size=(d, d)) + 0.5 * np.eye(d)


def _dphi(W, V):
    """Differential of phi at W applied to V, by the product rule (independent of metric.py)."""
    N, d = W.shape[0], W.shape[-1]
    out = np.zeros((d, d))
    for p in range(N):
        left, right = np.eye(d), np.eye(d)
        for q in range(p + 1, N):
            left = W[q] @ left
        for q in range(p):
            right = W[q] @ right
        out += left @ V[p] @ right
    return out


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("N", [1, 2, 3, 4, 5, 6])
def test_closed_form_equals_orbit_gram_determinant(d, N):
    """vol(O_X) = vol(G) sqrt(det Gram) with Gram from the ambient embedding."""
    rng = np.random.default_rng(100 * d + N)
    X = _random_X(rng, d)
    W = dlnmc.balanced_factorization(X, N, rng=rng)
    T = dlnmc.orbit_tangent_vectors(W).reshape(-1, N * d * d)
    log_sqrt_gram = 0.5 * np.linalg.slogdet(T @ T.T)[1] if T.shape[0] else 0.0
    gram_route = (N - 1) * dlnmc.log_group_volume(d) + log_sqrt_gram
    S = dlnmc.entropy(X, N)
    assert abs(S - gram_route) <= 1e-10 * max(1.0, abs(S))


@pytest.mark.parametrize(("d", "N"), [(1, 2), (2, 2), (2, 3), (3, 3), (3, 5), (4, 4)])
def test_riemannian_submersion(d, N):
    rng = np.random.default_rng(7 * d + N)
    X = _random_X(rng, d)
    W = dlnmc.balanced_factorization(X, N, rng=rng)
    T = dlnmc.tangent_basis(W)
    assert T.shape[1] == dlnmc.balanced_dimension(d, N) == d * d + (N - 1) * d * (d - 1) // 2
    # The tangent basis really is tangent (kills the constraint Jacobian) and orthonormal.
    np.testing.assert_allclose(dlnmc.constraint_jacobian(W) @ T, 0, atol=1e-10)
    np.testing.assert_allclose(T.T @ T, np.eye(T.shape[1]), atol=1e-10)
    # Jacobian has full row rank (N-1) d(d+1)/2: the equations are independent.
    J = dlnmc.constraint_jacobian(W)
    assert np.linalg.matrix_rank(J) == (N - 1) * d * (d + 1) // 2
    H = dlnmc.horizontal_basis(W)
    O = dlnmc.orbit_tangent_basis(W)
    np.testing.assert_allclose(O.T @ H, 0, atol=1e-10)
    dX = np.array([_dphi(W, H[:, c].reshape(N, d, d)) for c in range(H.shape[1])])
    G = np.array([[dlnmc.g_N(X, a, b, depth=N) for b in dX] for a in dX])
    np.testing.assert_allclose(G, np.eye(d * d), atol=1e-10)
    # Orbit directions are vertical: dphi kills them.
    for c in range(O.shape[1]):
        np.testing.assert_allclose(_dphi(W, O[:, c].reshape(N, d, d)), 0, atol=1e-10)


def test_factorization_is_balanced_and_hits_X():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(10, 3, 3))
    for N in (1, 2, 5):
        for W in (dlnmc.balanced_factorization(X, N), dlnmc.balanced_factorization(X, N, rng=1)):
            assert W.shape == (10, N, 3, 3)
            np.testing.assert_allclose(dlnmc.phi(W), X, atol=1e-12)
            np.testing.assert_allclose(dlnmc.balancedness_residual(W), 0, atol=1e-12)


def test_gauge_action_preserves_X_balance_and_norm():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(3, 3))
    W = dlnmc.balanced_factorization(X, 4, rng=rng)
    U = dlnmc.haar_orthogonal(3, 3, rng)
    V = dlnmc.gauge_action(U, W)
    np.testing.assert_allclose(dlnmc.phi(V), X, atol=1e-12)
    np.testing.assert_allclose(dlnmc.balancedness_residual(V), 0, atol=1e-12)
    assert np.linalg.norm(V) == pytest.approx(np.linalg.norm(W), rel=1e-14)
    # The fiber is one orbit: two balanced factorizations of X differ by a gauge,
    # recovered layer by layer from W2_p = U_p W_p U_{p-1}^T.
    W2 = dlnmc.balanced_factorization(X, 4, rng=rng)
    U_rec, prev = [], np.eye(3)
    for p in range(3):
        prev = W2[p] @ prev @ np.linalg.inv(W[p])
        U_rec.append(prev)
    U_rec = np.array(U_rec)
    np.testing.assert_allclose(
        U_rec @ np.swapaxes(U_rec, -1, -2), np.broadcast_to(np.eye(3), (3, 3, 3)), atol=1e-10
    )
    np.testing.assert_allclose(dlnmc.gauge_action(U_rec, W), W2, atol=1e-10)


def test_constraint_jacobian_matches_finite_differences():
    rng = np.random.default_rng(13)
    W = rng.normal(size=(3, 3, 3))
    J = dlnmc.constraint_jacobian(W)
    iu = np.triu_indices(3)

    def F(w):
        return dlnmc.balancedness_residual(w.reshape(3, 3, 3))[:, iu[0], iu[1]].ravel()

    h = 1e-6
    num = np.empty_like(J)
    for k in range(W.size):
        e = np.zeros(W.size)
        e[k] = h
        num[:, k] = (F(W.ravel() + e) - F(W.ravel() - e)) / (2 * h)
    np.testing.assert_allclose(J, num, atol=1e-8)


def test_metric_against_direct_definition():
    """A_{N,X} in the SVD frame equals the sum of fractional powers."""
    rng = np.random.default_rng(14)
    X = _random_X(rng, 3)
    P = rng.normal(size=(3, 3))

    def power(S, a):
        w, V = np.linalg.eigh(S)
        return (V * w**a) @ V.T

    for N in (1, 2, 3, 6):
        direct = sum(
            power(X @ X.T, (N - p) / N) @ P @ power(X.T @ X, (p - 1) / N) for p in range(1, N + 1)
        )
        np.testing.assert_allclose(dlnmc.apply_A(X, P, N), direct, rtol=1e-11, atol=1e-11)
        np.testing.assert_allclose(dlnmc.apply_A_inv(X, direct, N), P, rtol=1e-10, atol=1e-10)
        assert dlnmc.g_N(X, P, depth=N) == pytest.approx(
            np.trace(P.T @ dlnmc.apply_A_inv(X, P, N)), rel=1e-12
        )
        # log det of A as a linear map on R^{3x3}, from its 9x9 matrix.
        basis = np.eye(9).reshape(9, 3, 3)
        M = np.array([dlnmc.apply_A(X, E, N).ravel() for E in basis]).T
        assert dlnmc.log_det_A(X, N) == pytest.approx(np.linalg.slogdet(M)[1], rel=1e-11)


class TestErrors:
    def test_non_square(self):
        with pytest.raises(ValueError, match="square"):
            dlnmc.entropy(np.ones((2, 3)), 2)

    def test_too_few_axes(self):
        with pytest.raises(ValueError, match="shape"):
            dlnmc.entropy(np.ones(3), 2)
        with pytest.raises(ValueError, match=r"\(\.\.\., N, d, d\)"):
            dlnmc.phi(np.ones((2, 2)))

    def test_nan_and_inf(self):
        with pytest.raises(ValueError, match="NaN"):
            dlnmc.entropy(np.array([[1.0, np.nan], [0.0, 1.0]]), 2)
        with pytest.raises(ValueError, match="inf"):
            dlnmc.entropy_sv([1.0, np.inf], 2)

    def test_singular(self):
        with pytest.raises(ValueError, match="singular"):
            dlnmc.entropy(np.array([[1.0, 2.0], [2.0, 4.0]]), 3)
        with pytest.raises(ValueError, match="singular"):
            dlnmc.balanced_factorization(np.zeros((2, 2)), 3)

    def test_nonpositive_singular_values(self):
        with pytest.raises(ValueError, match="strictly positive"):
            dlnmc.entropy_sv([1.0, 0.0], 2)
        with pytest.raises(ValueError, match="strictly positive"):
            dlnmc.entropy_sv([1.0, -2.0], 2)

    def test_depth(self):
        with pytest.raises(ValueError, match="depth must be >= 1"):
            dlnmc.entropy_sv([1.0, 2.0], 0)
        with pytest.raises(TypeError, match="depth must be an integer"):
            dlnmc.entropy_sv([1.0, 2.0], 2.5)
        with pytest.raises(TypeError, match="depth"):
            dlnmc.entropy_sv([1.0, 2.0], True)

    def test_width(self):
        with pytest.raises(ValueError, match="d >= 1"):
            dlnmc.entropy_sv(np.ones((3, 0)), 2)
        with pytest.raises(ValueError, match="d >= 1"):
            dlnmc.entropy(np.ones((0, 0)), 2)
        with pytest.raises(ValueError, match="d must be >= 1"):
            dlnmc.log_group_volume(0)

    def test_mismatched_gauge(self):
        with pytest.raises(ValueError, match="gauge must have shape"):
            dlnmc.balanced_factorization(np.eye(2), 3, gauge=np.ones((3, 2, 2)))
        with pytest.raises(ValueError, match="U must have shape"):
            dlnmc.gauge_action(np.ones((1, 2, 2)), np.ones((3, 2, 2)))


def test_gauges_must_be_finite_and_orthogonal():
    """A non-orthogonal gauge was accepted and silently left the orbit; NaN U gave NaN W."""
    W = dlnmc.balanced_factorization(np.diag([2.0, 1.0]), 3)
    bad_gauges = [np.ones((2, 2, 2)), 1.1 * np.broadcast_to(np.eye(2), (2, 2, 2))]
    for Q in bad_gauges:
        with pytest.raises(ValueError, match="gauge must be orthogonal"):
            dlnmc.balanced_factorization(np.diag([2.0, 1.0]), 3, gauge=Q)
        with pytest.raises(ValueError, match="U must be orthogonal"):
            dlnmc.gauge_action(Q, W)
    with pytest.raises(ValueError, match="U contains NaN"):
        dlnmc.gauge_action(np.full((2, 2, 2), np.nan), W)
    with pytest.raises(ValueError, match="gauge contains inf"):
        dlnmc.balanced_factorization(np.eye(2), 3, gauge=np.full((2, 2, 2), np.inf))
    # Orthogonal to rounding (a 1e-13 perturbation) is accepted.
    Q = dlnmc.haar_orthogonal(2, 2, np.random.default_rng(0)) + 1e-13
    assert np.all(np.isfinite(dlnmc.gauge_action(Q, W)))
