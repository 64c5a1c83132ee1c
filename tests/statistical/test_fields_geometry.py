"""DLN geometry and the entropy formula over C and H, checked by Gram determinants.

See docs/guide/fields.md.
"""

import numpy as np
import pytest
from scipy import integrate

import dlnmc
from dlnmc.fields import (
    conj_transpose,
    dyson_index,
    from_components,
    gaussian_matrix,
    group_dimension,
    hermitian_dimension,
    inner,
    realify,
    rep_size,
    singular_values_field,
)
from dlnmc.network import balanced_dimension as balanced_dimension_field
from dlnmc.network import balanced_factorization
from dlnmc.network import balancedness_residual as balancedness_residual_field
from dlnmc.network import constraint_jacobian as constraint_jacobian_field
from dlnmc.network import dphi as dphi_field
from dlnmc.network import end_to_end as phi_field
from dlnmc.network import gauge_action as gauge_action_field
from dlnmc.network import horizontal_basis as horizontal_basis_field
from dlnmc.network import log_orbit_gram as log_orbit_gram_field
from dlnmc.network import orbit_tangent_basis as orbit_tangent_basis_field
from dlnmc.network import orbit_tangent_vectors as orbit_tangent_vectors_field
from dlnmc.network import tangent_basis as tangent_basis_field
from tests.tolerances import Z_TOL as Z_MAX


def balanced_factorization_field(X, N, field, rng=None):  # the one factorization, over a field
    return balanced_factorization(X, N, rng=rng, field=field)


def _hermitian_power(H, power):
    """``H^power`` for Hermitian positive definite ``H`` (basis-free: stays in chi's image)."""
    lam, Q = np.linalg.eigh(H)
    return (Q * lam[..., None, :] ** power) @ conj_transpose(Q)


def apply_A_field(X, P, N, field):
    """``A_{N,X}(P)`` from matrix powers of ``X X^*`` and ``X^* X``: a reference for the
    singular-value frame of :func:`dlnmc.apply_A`, independent of it."""
    singular_values_field(X, field)  # raises on singular X
    L, R = X @ conj_transpose(X), conj_transpose(X) @ X
    out = np.zeros(np.broadcast_shapes(X.shape, P.shape), dtype=np.result_type(X, P))
    for p in range(1, N + 1):
        out = out + _hermitian_power(L, (N - p) / N) @ P @ _hermitian_power(R, (p - 1) / N)
    return out


def _random_X(rng, d, field):
    return gaussian_matrix(d, field, (), rng) + 0.5 * np.eye(rep_size(d, field))


@pytest.mark.parametrize("field", ["complex", "quaternion"])
@pytest.mark.parametrize("d", [1, 2, 3, 4])
@pytest.mark.parametrize("N", [1, 2, 3, 4, 5])
def test_closed_form_equals_orbit_gram_determinant(field, d, N):
    """S_b = (N-1) log vol(G_d) + log sqrt(det Gram) of the realified orbit tangent vectors.

    vol(G_d) enters both sides; it is confirmed separately by the chart Monte
    Carlo in tests/unit/test_fields.py. What this checks is the D-dependence,
    b/2 per off-diagonal pair and (b-1)/2 per diagonal entry.
    """
    rng = np.random.default_rng(1000 * dyson_index(field) + 10 * d + N)
    X = _random_X(rng, d, field)
    W = balanced_factorization_field(X, N, field, rng=rng)
    np.testing.assert_allclose(phi_field(W, field), X, atol=1e-11)
    assert np.abs(balancedness_residual_field(W, field)).max(initial=0.0) < 1e-11
    gram_route = (N - 1) * dlnmc.log_group_volume(d, field=field) + log_orbit_gram_field(W, field)
    S = dlnmc.entropy(X, N, field=field)
    assert abs(S - gram_route) <= 1e-10 * max(1.0, abs(S))


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("N", [1, 2, 4])
def test_real_field_reproduces_the_foundation(d, N):
    rng = np.random.default_rng(d + 10 * N)
    X = _random_X(rng, d, "real")
    s = dlnmc.singular_values(X)
    # The generic S_b at b = 1, written out here (entropy_sv_field delegates "real" to
    # entropy_sv, so comparing those two would be a tautology).
    LD = dlnmc.log_D(s, N)
    iu = np.triu_indices(d, 1)
    b = 1
    S_b = (N - 1) * dlnmc.log_group_volume(d) + 0.5 * b * LD[iu].sum()
    S_b += 0.5 * (b - 1) * np.trace(LD)
    assert dlnmc.entropy_sv(s, N, field="real") == pytest.approx(S_b, rel=1e-12, abs=1e-12)
    assert dlnmc.log_rho_sv(s, N, field="real") == pytest.approx(dlnmc.log_rho_sv(s, N), rel=1e-12)
    W = balanced_factorization_field(X, N, "real", rng=rng)
    assert log_orbit_gram_field(W, "real") + (N - 1) * dlnmc.log_group_volume(d) == pytest.approx(
        dlnmc.entropy(X, N), rel=1e-10
    )
    # The singular-value law agrees with the foundation's up to an s-independent constant.
    ss = np.abs(rng.normal(size=(5, d))) + 0.1
    diff = dlnmc.log_sv_density(ss, N, 0.7, field="real") - dlnmc.log_sv_density(ss, N, 0.7)
    np.testing.assert_allclose(diff, diff[0], atol=1e-10)


@pytest.mark.parametrize("field", ["complex", "quaternion"])
@pytest.mark.parametrize(("d", "N"), [(1, 2), (2, 2), (2, 3), (3, 2), (3, 3), (2, 5)])
def test_riemannian_submersion_and_dimension(field, d, N):
    """T_W M_b from the realified constraint Jacobian; horizontal vectors map g_N-orthonormally."""
    b = dyson_index(field)
    rng = np.random.default_rng(50 * b + 7 * d + N)
    X = _random_X(rng, d, field)
    W = balanced_factorization_field(X, N, field, rng=rng)
    J = constraint_jacobian_field(W, field)
    # The (N-1) Hermitian equations are independent: full row rank (N-1)(d + b d(d-1)/2).
    sv = np.linalg.svd(J, compute_uv=False)
    n_eq = (N - 1) * hermitian_dimension(d, field)
    assert J.shape == (n_eq, b * N * d * d)
    assert sv.size == n_eq and sv.min() > 1e-6 * sv.max()
    T = tangent_basis_field(W, field)
    dim_M = b * N * d * d - n_eq
    assert T.shape[1] == dim_M == balanced_dimension_field(d, N, field)
    assert dim_M == b * d * d + (N - 1) * group_dimension(d, field)
    np.testing.assert_allclose(J @ T, 0, atol=1e-10)
    np.testing.assert_allclose(T.T @ T, np.eye(dim_M), atol=1e-10)
    # Orbit directions are tangent to M_b and killed by dphi.
    O = orbit_tangent_basis_field(W, field)
    np.testing.assert_allclose(J @ O, 0, atol=1e-10)
    Ov = orbit_tangent_vectors_field(W, field)
    np.testing.assert_allclose(dphi_field(W, Ov, field), 0, atol=1e-10)
    H = horizontal_basis_field(W, field)
    assert H.shape[1] == b * d * d
    np.testing.assert_allclose(O.T @ H, 0, atol=1e-10)
    np.testing.assert_allclose(J @ H, 0, atol=1e-10)
    layers = from_components(H.T.reshape(-1, N, d, d, b), field)
    dX = dphi_field(W, layers, field)
    # g_N with A assembled from matrix powers (no SVD frame, no D_ij): solve A Y' = Y.
    basis = from_components(np.eye(b * d * d).reshape(-1, d, d, b), field)
    A = realify(apply_A_field(X, basis, N, field), field).T
    Y = realify(dX, field).T
    np.testing.assert_allclose(Y.T @ np.linalg.solve(A, Y), np.eye(b * d * d), atol=1e-10)
    # ... and the frame-based g_N_field agrees.
    G = dlnmc.g_N(X, dX[:, None], dX[None, :], depth=N, field=field)
    np.testing.assert_allclose(G, np.eye(b * d * d), atol=1e-10)


@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_gauge_action_is_an_isometry_preserving_phi_and_balance(field):
    rng = np.random.default_rng(5)
    d, N = 3, 4
    X = _random_X(rng, d, field)
    W = balanced_factorization_field(X, N, field)
    U = dlnmc.haar(d, (N - 1,), rng, field=field)
    W2 = gauge_action_field(U, W, field)
    np.testing.assert_allclose(phi_field(W2, field), X, atol=1e-11)
    assert np.abs(balancedness_residual_field(W2, field)).max() < 1e-11
    V = gaussian_matrix(d, field, (N,), rng)
    assert inner(gauge_action_field(U, V, field), gauge_action_field(U, W, field), field, 3) == (
        pytest.approx(inner(V, W, field, 3), rel=1e-12)
    )
    # Gram determinant (hence the orbit volume density) is constant along the orbit.
    assert log_orbit_gram_field(W2, field) == pytest.approx(
        log_orbit_gram_field(W, field), rel=1e-11
    )


@pytest.mark.parametrize("field", ["complex", "quaternion"])
@pytest.mark.parametrize(("d", "N"), [(1, 3), (2, 2), (3, 4)])
def test_push_forward_density_is_entropy_over_sqrt_det_A(field, d, N):
    """rho_b = e^{S_b} / sqrt(det A) with det A of the realified operator (numerical)."""
    b = dyson_index(field)
    rng = np.random.default_rng(b + d + N)
    X = _random_X(rng, d, field)
    basis = from_components(np.eye(b * d * d).reshape(-1, d, d, b), field)
    A = realify(apply_A_field(X, basis, N, field), field).T
    np.testing.assert_allclose(A, A.T, atol=1e-10)  # self-adjoint for the real inner product
    logdet = np.linalg.slogdet(A)[1]
    assert dlnmc.log_rho(X, N, field=field) == pytest.approx(
        dlnmc.entropy(X, N, field=field) - 0.5 * logdet
    )
    # The frame-based operator's determinant (b per real component) is the numerical one.
    assert dlnmc.log_det_A(X, N, field=field) == pytest.approx(logdet, rel=1e-10, abs=1e-10)
    # apply_A_inv inverts the matrix-power reference, and the frame-based apply_A equals it.
    P = gaussian_matrix(d, field, (), rng)
    AP = apply_A_field(X, P, N, field)
    np.testing.assert_allclose(dlnmc.apply_A_inv(X, AP, N, field=field), P)
    np.testing.assert_allclose(dlnmc.apply_A(X, P, N, field=field), AP, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_entropy_scaling_and_invariance(field):
    """S_b(cX) = S_b(X) + (1 - 1/N) dim G_d log c; S_b(U X V^*) = S_b(X)."""
    rng = np.random.default_rng(9)
    d, N, c = 3, 4, 2.7
    X = _random_X(rng, d, field)
    shift = (1 - 1 / N) * group_dimension(d, field) * np.log(c)
    assert dlnmc.entropy(c * X, N, field=field) == pytest.approx(
        dlnmc.entropy(X, N, field=field) + shift
    )
    U, V = dlnmc.haar(d, (2,), rng, field=field)
    assert dlnmc.entropy(U @ X @ conj_transpose(V), N, field=field) == pytest.approx(
        dlnmc.entropy(X, N, field=field), rel=1e-12
    )


@pytest.mark.slow
@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_singular_value_law_at_depth_one_is_the_ginibre_law(field):
    """N = 1: M_b = M_d(F), so X is Gaussian (beta = 1) and the law of s must be
    prod s_i^{b-1} |s_1^2 - s_2^2|^b exp(-|s|^2/2). Quadrature of log_sv_density(field=)
    against Monte Carlo of singular_values_field, |z| < 4.5."""
    d, n = 2, 20_000
    s = singular_values_field(gaussian_matrix(d, field, n, np.random.default_rng(77)), field)

    def dens(s2, s1):
        return np.exp(dlnmc.log_sv_density(np.array([s1, s2]), 1, 1.0, field=field))

    opts = {"epsabs": 1e-12, "epsrel": 1e-10}
    Z = integrate.dblquad(dens, 0, 12, 0, lambda s1: s1, **opts)[0]
    for i in range(d):
        m = (
            integrate.dblquad(
                lambda s2, s1, i=i: (s1, s2)[i] * dens(s2, s1), 0, 12, 0, lambda s1: s1, **opts
            )[0]
            / Z
        )
        z = (s[:, i].mean() - m) / (s[:, i].std(ddof=1) / np.sqrt(n))
        assert abs(z) < Z_MAX, (i, m, s[:, i].mean(), z)


def test_log_sv_density_alpha_moves_only_the_D_exponent():
    s = np.array([[2.0, 0.5, 0.1]])
    N = 3
    LD = dlnmc.log_D(s, N)[0]
    off = LD[np.triu_indices(3, 1)].sum()
    for field in ("complex", "quaternion"):
        b = dyson_index(field)
        diff = dlnmc.log_sv_density(s, N, 1.0, alpha=0.3, field=field) - dlnmc.log_sv_density(
            s, N, 1.0, field=field
        )
        assert diff[0] == pytest.approx(-b * (0.3 - 0.5) * off)


@pytest.mark.slow
@pytest.mark.parametrize("field", ["complex", "quaternion"])
@pytest.mark.parametrize(
    ("s", "N"), [((2.0, 0.5), 2), ((2.0, 0.5), 3), ((2.0, 1.0, 0.4), 2), ((2.0, 1.0, 0.4), 3)]
)
def test_chart_monte_carlo_confirms_orbit_volume(field, s, N):
    """vol(O_X) from the embedding of G_d^{N-1} . W0 (no vol(G_d), no closed form), |z| < 4.5."""
    from dlnmc._deprecated import estimate_orbit_volume_field

    est = estimate_orbit_volume_field(s, N, field, 512, 16, seed=len(s) + 10 * N)
    print(
        f"{field} d={len(s)} N={N}: log vol MC {est.log_volume:.5f} +- {est.stderr:.1e}, "
        f"S_b {est.closed_form:.5f}, z {est.z_score:+.2f}"
    )
    assert est.stderr < 0.03  # power: a factor sqrt(2) in vol(G_d) is 0.35 in log
    assert abs(est.z_score) < Z_MAX


@pytest.mark.parametrize(
    "s", [(1e160, 1e155), (1e-160, 1e-165), (1e80, 1e75), (1e30, 1e-30)], ids=str
)
def test_chart_orbit_volume_at_extreme_singular_values(s):
    """Densities are averaged in log space and W0 is built without an SVD: no overflow,
    underflow or singular-matrix error, and an honest finite error at any scale of s."""
    from dlnmc._deprecated import estimate_orbit_volume_field

    est = estimate_orbit_volume_field(s, 2, "complex", 64, 4, seed=0)
    assert np.isfinite(est.log_volume)
    assert 0.0 < est.stderr < 0.03
    assert np.isfinite(est.z_score)
    assert abs(est.z_score) < Z_MAX
