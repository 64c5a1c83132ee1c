"""Uniform sampling of the orbit O_X (issue 3, item 2)."""

import warnings

import numpy as np
import pytest

from dlnmc.fields import resolve_field
from dlnmc.network import balancedness_residual, end_to_end
from dlnmc.orbit import orbit_base_point, sample_orbit
from tests.tolerances import Z_TOL


def _z(x: np.ndarray, mean: float) -> float:
    return (x.mean() - mean) / (x.std(ddof=1) / np.sqrt(x.size))


def _random_X(d: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((d, d)) + 2 * np.eye(d)


@pytest.mark.parametrize(("d", "N"), [(1, 3), (2, 2), (3, 4), (4, 5)])
def test_balanced_and_on_fiber(d, N):
    rng = np.random.default_rng(10 * d + N)
    X = _random_X(d, rng)
    W = sample_orbit(X, N, 500, rng)
    assert W.shape == (500, N, d, d)
    assert np.abs(balancedness_residual(W)).max() < 1e-10
    np.testing.assert_allclose(end_to_end(W), np.broadcast_to(X, (500, d, d)), atol=1e-10)


def test_singular_values_input():
    s = np.array([3.0, 1.0, 0.25])
    W = sample_orbit(s, 3, 200, np.random.default_rng(1))
    assert np.abs(balancedness_residual(W)).max() < 1e-10
    np.testing.assert_allclose(end_to_end(W), np.broadcast_to(np.diag(s), (200, 3, 3)), atol=1e-10)


@pytest.mark.parametrize("N", [2, 3])
def test_gauges_are_haar(N):
    """Recover Q_1 = W_1 V Lambda^{-1} (and Q_2 = W_2 Q_1 Lambda^{-1}): Haar trace moments."""
    d, n = 3, 40_000
    rng = np.random.default_rng(7 + N)
    X = _random_X(d, rng)
    _, s, Vt = np.linalg.svd(X)
    lam = s ** (1.0 / N)
    W = sample_orbit(X, N, n, rng)
    Q = W[:, 0] @ Vt.T / lam  # W_1 = Q_1 Lambda V^T
    assert np.abs(Q @ np.swapaxes(Q, -1, -2) - np.eye(d)).max() < 1e-10
    gauges = [Q]
    if N == 3:
        gauges.append(W[:, 1] @ Q / lam)  # W_2 = Q_2 Lambda Q_1^T
    for G in gauges:
        t = np.trace(G, axis1=-2, axis2=-1)
        assert abs(_z(t, 0.0)) < Z_TOL
        assert abs(_z(t**2, 1.0)) < Z_TOL
        # Both components of O_d equally likely.
        assert abs(_z((np.linalg.det(G) < 0).astype(float), 0.5)) < Z_TOL


def test_d1_counts_components():
    """d = 1: the orbit is the 2^{N-1} sign patterns; each is hit with probability 2^{-(N-1)}."""
    N, n = 3, 40_000
    W = sample_orbit([4.0], N, n, np.random.default_rng(3))
    signs = np.sign(W[:, :2, 0, 0])  # the signs of w_1, w_2 fix the point (w_3 follows)
    codes = (signs[:, 0] > 0) * 2 + (signs[:, 1] > 0)
    for c in range(4):
        assert abs(_z((codes == c).astype(float), 0.25)) < Z_TOL
    np.testing.assert_allclose(np.abs(W[..., 0, 0]), 4.0 ** (1 / N))


def test_depth_one_is_a_point():
    X = np.array([[1.0, 2.0], [0.0, 3.0]])
    W = sample_orbit(X, 1, 4, 0)
    np.testing.assert_allclose(W, np.broadcast_to(X, (4, 1, 2, 2)), atol=1e-14)


def test_base_point():
    W0 = orbit_base_point([2.0, 0.5], 3)
    assert W0.shape == (3, 2, 2)
    np.testing.assert_allclose(end_to_end(W0), np.diag([2.0, 0.5]), atol=1e-14)


def test_reproducible():
    a = sample_orbit([2.0, 1.0], 3, 5, 11)
    b = sample_orbit([2.0, 1.0], 3, 5, np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)


def test_bad_input():
    with pytest.raises(ValueError, match="s"):
        sample_orbit([1.0, -1.0], 2, 3, 0)
    with pytest.raises(ValueError, match="s_or_X"):
        sample_orbit(np.ones((2, 2, 2)), 2, 3, 0)
    with pytest.raises(ValueError, match="n"):
        sample_orbit([1.0], 2, -1, 0)
    with pytest.raises(ValueError, match="depth"):
        sample_orbit([1.0], 0, 3, 0)
    with pytest.raises(ValueError):
        sample_orbit(np.zeros((2, 2)), 2, 3, 0)  # singular X


# --- sample_orbit over the fields ------------------------------------------------------


@pytest.mark.parametrize("field", ("real", "complex", "quaternion"))
def test_sample_orbit_is_on_the_fiber_for_every_field(field):
    f = resolve_field(field)
    s, N, n = np.array([2.0, 1.0, 0.5]), 3, 200
    W = sample_orbit(s, N, n, np.random.default_rng(4), field=field)
    assert W.shape == (n, N, f.rep_size(3), f.rep_size(3)) and W.dtype == f.dtype
    X = W[:, 2] @ W[:, 1] @ W[:, 0]
    np.testing.assert_allclose(X, np.broadcast_to(f.diag_embed(s), X.shape), atol=1e-12)
    resid = f.ct(W[:, 1:]) @ W[:, 1:] - W[:, :-1] @ f.ct(W[:, :-1])
    assert np.abs(resid).max() < 1e-12
    if not f.is_real:
        f.check_matrix(W, "W", n_axes=4)
    W0 = orbit_base_point(s, N, field=field)
    # The gauge action is an isometry: every layer keeps the norm of the base point's.
    np.testing.assert_allclose(f.sq_norm(W), np.broadcast_to(f.sq_norm(W0), (n, N)), rtol=1e-12)


@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_sample_orbit_gauges_are_haar_over_fields(field):
    """Q_1 = W_1 Lambda^{-1} for X = diag(s): Haar moments of the stored trace,
    E tr Q = 0 and E |tr Q|^2 = 1 (the defining representation is irreducible)."""
    f = resolve_field(field)
    s, N, n = np.array([3.0, 1.0]), 2, 20_000
    W = sample_orbit(s, N, n, np.random.default_rng(8), field=field)
    lam = f.expand_diagonal(s ** (1.0 / N))
    Q = W[:, 0] / lam  # W_1 = Q_1 Lambda
    t = np.trace(Q, axis1=-2, axis2=-1)
    for x, mean in ((t.real, 0.0), (np.abs(t) ** 2, 1.0)):
        assert abs(_z(x, mean)) < Z_TOL
    if f.b == 2:
        # Decoy: the squared gauge is not Haar; E |tr U^2|^2 = min(2, d) = 2 for Haar U_2
        # (Diaconis-Shahshahani), not 1, and the same test must see it.
        t2 = np.abs(np.trace(Q @ Q, axis1=-2, axis2=-1)) ** 2
        assert abs(_z(t2, 2.0)) < Z_TOL
        assert abs(_z(t2, 1.0)) > Z_TOL


def test_sample_orbit_matrix_input_over_c():
    f = resolve_field("complex")
    X = f.gaussian(2, (), 3) + 2 * np.eye(2)
    W = sample_orbit(X, 3, 10, 1, field="complex")
    X_back = W[:, 2] @ W[:, 1] @ W[:, 0]
    np.testing.assert_allclose(X_back, np.broadcast_to(X, (10, 2, 2)), atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample_orbit([2.0], 2, 3, 0, field="quaternion")
