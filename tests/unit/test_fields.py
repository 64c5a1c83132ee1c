"""Fields R, C, H: representation, Haar samplers of U(d) and Sp(d), group volumes.

See docs/guide/fields.md.
"""

import numpy as np
import pytest
from scipy.special import gammaln

import dlnmc
from dlnmc._deprecated import estimate_group_volume_field
from dlnmc.charts import group_chart
from dlnmc.fields import (
    check_field,
    check_field_matrix,
    conj_transpose,
    diag_embed,
    dyson_index,
    from_components,
    gaussian_matrix,
    group_dimension,
    inner,
    lie_algebra_basis,
    real_dimension,
    realify,
    rep_size,
    singular_values_field,
    svd_field,
    to_components,
)
from dlnmc.groups import haar_symplectic, haar_unitary
from tests.tolerances import Z_TOL as Z_MAX

FIELDS = ["real", "complex", "quaternion"]


def _hamilton(p, q):
    """Quaternion product on components (..., 4), written out independently of chi."""
    a0, a1, a2, a3 = np.moveaxis(p, -1, 0)
    b0, b1, b2, b3 = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            a0 * b0 - a1 * b1 - a2 * b2 - a3 * b3,
            a0 * b1 + a1 * b0 + a2 * b3 - a3 * b2,
            a0 * b2 - a1 * b3 + a2 * b0 + a3 * b1,
            a0 * b3 + a1 * b2 - a2 * b1 + a3 * b0,
        ],
        axis=-1,
    )


def _quat_matmul(P, Q):
    """Matrix product of quaternionic matrices given as components (m, k, 4) x (k, n, 4)."""
    return _hamilton(P[:, :, None, :], Q[None, :, :, :]).sum(axis=1)


# --- representation -------------------------------------------------------------------


def test_quaternion_representation_is_an_algebra_homomorphism():
    rng = np.random.default_rng(1)
    P, Q = rng.normal(size=(3, 2, 4)), rng.normal(size=(2, 4, 4))
    prod = _quat_matmul(P, Q)
    chi = from_components(P, "quaternion") @ from_components(Q, "quaternion")
    np.testing.assert_allclose(to_components(chi, "quaternion"), prod, atol=1e-13)
    # The image is closed: the product keeps the chi structure.
    np.testing.assert_allclose(from_components(to_components(chi, "quaternion"), "quaternion"), chi)
    # Conjugate transpose: conj(q) flips i, j, k; transpose swaps the indices.
    conjQ = np.swapaxes(Q * np.array([1, -1, -1, -1]), 0, 1)
    np.testing.assert_allclose(
        conj_transpose(from_components(Q, "quaternion")), from_components(conjQ, "quaternion")
    )
    # i j = k in the representation
    i, j, k = (from_components(np.eye(4)[u].reshape(1, 1, 4), "quaternion") for u in (1, 2, 3))
    np.testing.assert_allclose(i @ j, k)
    np.testing.assert_allclose(j @ i, -k)
    np.testing.assert_allclose(i @ i, -np.eye(2))


@pytest.mark.parametrize("field", FIELDS)
def test_components_roundtrip_and_inner_product(field):
    rng = np.random.default_rng(2)
    b = dyson_index(field)
    x, y = rng.normal(size=(2, 3, 3, b))
    V, W = from_components(x, field), from_components(y, field)
    np.testing.assert_allclose(to_components(V, field), x)
    # The real inner product is the sum of products of ALL real components.
    assert inner(V, W, field) == pytest.approx((x * y).sum(), rel=1e-13)
    assert realify(V, field).shape == (real_dimension(3, field),) == (b * 9,)
    assert realify(V, field) @ realify(W, field) == pytest.approx((x * y).sum(), rel=1e-13)


def test_complex_representation_doubles_the_quaternionic_inner_product():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 2, 2, 4))
    V, W = from_components(x, "quaternion"), from_components(y, "quaternion")
    re_tr = np.trace(conj_transpose(V) @ W).real
    assert re_tr == pytest.approx(2.0 * (x * y).sum(), rel=1e-13)
    assert inner(V, W, "quaternion") == pytest.approx(0.5 * re_tr, rel=1e-13)


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_lie_algebra_basis_is_orthonormal_and_skew(field, d):
    E = lie_algebra_basis(d, field)
    assert E.shape[0] == group_dimension(d, field)
    assert (
        group_dimension(d, field)
        == {1: d * (d - 1) // 2, 2: d * d, 4: d * (2 * d + 1)}[dyson_index(field)]
    )
    G = inner(E[:, None], E[None, :], field)
    np.testing.assert_allclose(G, np.eye(E.shape[0]), atol=1e-14)
    np.testing.assert_allclose(conj_transpose(E), -E, atol=1e-15)
    if field == "quaternion":
        for B in E:
            check_field_matrix(B, field)
    # The Gram matrix of the basis spans all skew-Hermitian matrices: a random one is recovered.
    rng = np.random.default_rng(d)
    Z = gaussian_matrix(d, field, (), rng)
    S = 0.5 * (Z - conj_transpose(Z))
    coef = inner(E, S[None], field)
    np.testing.assert_allclose(np.tensordot(coef, E, axes=1), S, atol=1e-13)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="field"):
        check_field("octonion")
    with pytest.raises(TypeError, match="field"):
        check_field(2)
    with pytest.raises(ValueError, match="odd size"):
        check_field_matrix(np.eye(3, dtype=complex), "quaternion")
    bad = np.eye(4, dtype=complex)
    bad[0, 0] = 2.0
    with pytest.raises(ValueError, match="complex representation"):
        check_field_matrix(bad, "quaternion")
    with pytest.raises(TypeError, match="real"):
        check_field_matrix(np.eye(2) * 1j, "real")
    with pytest.raises(ValueError, match="singular"):
        singular_values_field(np.zeros((4, 4), dtype=complex), "quaternion")


# --- SVD over F --------------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("d", [1, 2, 4])
def test_svd_field(field, d):
    rng = np.random.default_rng(10 + d)
    X = gaussian_matrix(d, field, (5,), rng)
    U, s, V = svd_field(X, field)
    n = rep_size(d, field)
    np.testing.assert_allclose(U @ diag_embed(s, field) @ conj_transpose(V), X, atol=1e-12)
    for Q in (U, V):
        np.testing.assert_allclose(
            conj_transpose(Q) @ Q, np.broadcast_to(np.eye(n), Q.shape), atol=1e-12
        )
        check_field_matrix(Q, field)
    assert np.all(np.diff(s, axis=-1) <= 0)
    # Independent: s^2 are the eigenvalues of X^* X over F (each twice in chi for H).
    ev = np.linalg.eigvalsh(conj_transpose(X) @ X)[..., ::-1]
    ev = ev[..., ::2] if field == "quaternion" else ev
    np.testing.assert_allclose(s**2, ev, rtol=1e-10)


def test_quaternionic_svd_with_repeated_singular_values():
    g = haar_symplectic(3, (2,), 5)
    X = g[0] @ diag_embed([2.0, 2.0, 0.5], "quaternion") @ g[1]
    U, s, V = svd_field(X, "quaternion")
    np.testing.assert_allclose(s, [2.0, 2.0, 0.5], rtol=1e-12)
    np.testing.assert_allclose(U @ diag_embed(s, "quaternion") @ conj_transpose(V), X, atol=1e-12)
    np.testing.assert_allclose(conj_transpose(V) @ V, np.eye(6), atol=1e-12)
    check_field_matrix(U, "quaternion")
    U, s, V = svd_field(np.eye(6, dtype=complex), "quaternion")  # fully degenerate
    np.testing.assert_allclose(U @ conj_transpose(V), np.eye(6), atol=1e-14)


# --- Haar samplers -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["complex", "quaternion"])
@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_haar_group_membership_and_seeding(field, d):
    g = dlnmc.haar(d, (50,), 11, field=field)
    n = rep_size(d, field)
    assert g.shape == (50, n, n)
    np.testing.assert_allclose(
        conj_transpose(g) @ g, np.broadcast_to(np.eye(n), g.shape), atol=1e-12
    )
    if field == "quaternion":
        check_field_matrix(g, field)  # structure to 1e-10, in fact exact by construction
        A, B = g[..., :d, :d], g[..., :d, d:]
        np.testing.assert_array_equal(g[..., d:, d:], A.conj())
        np.testing.assert_array_equal(g[..., d:, :d], -B.conj())
    np.testing.assert_array_equal(dlnmc.haar(d, (50,), 11, field=field), g)
    assert not np.array_equal(dlnmc.haar(d, (50,), 12, field=field), g)


def _z(values, expected):
    values = np.asarray(values, dtype=float)
    return (values.mean() - expected) / (values.std(ddof=1) / np.sqrt(values.size))


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_haar_unitary_moments(d):
    """Character orthogonality: E|tr U|^2 = 1, E tr U = E (tr U)^2 = 0; E|tr U|^4 = 2 for d >= 2."""
    U = haar_unitary(d, 40_000, np.random.default_rng(20 + d))
    t = np.trace(U, axis1=-2, axis2=-1)
    checks = [(t.real, 0.0), (t.imag, 0.0), ((t**2).real, 0.0), ((t**2).imag, 0.0)]
    if d == 1:  # |tr U| = 1 exactly: no variance to build a z-score from
        np.testing.assert_allclose(np.abs(t), 1.0, rtol=1e-14)
    else:
        checks += [(np.abs(t) ** 2, 1.0), (np.abs(t) ** 4, 2.0), (np.abs(U[:, 0, 0]) ** 2, 1 / d)]
    for values, expected in checks:
        assert abs(_z(values, expected)) < Z_MAX


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_haar_symplectic_moments(d):
    """Defining rep of Sp(d) in chi: irreducible, real character, quaternionic type.

    E tr U = 0, E (tr U)^2 = 1, E tr(U^2) = -1 (Frobenius-Schur indicator); the
    first quaternionic column is uniform on S^{4d-1}: E|U_11|^2 = 1/d and
    E|U_11|^4 = 3 / (d (2d + 1)) (|U_11|^2 ~ Beta(2, 2d - 2)). For Sp(1) = SU(2),
    E (tr U)^4 = 2 (Catalan).
    """
    U = haar_symplectic(d, 40_000, np.random.default_rng(30 + d))
    t = np.trace(U, axis1=-2, axis2=-1)
    np.testing.assert_allclose(t.imag, 0.0, atol=1e-12)
    t = t.real
    t2 = np.trace(U @ U, axis1=-2, axis2=-1).real
    q11 = np.abs(U[:, 0, 0]) ** 2 + np.abs(U[:, 0, d]) ** 2
    checks = [(t, 0.0), (t**2, 1.0), (t2, -1.0)]
    if d == 1:
        checks.append((t**4, 2.0))
    else:
        checks += [(q11, 1.0 / d), (q11**2, 3.0 / (d * (2 * d + 1)))]
    for values, expected in checks:
        assert abs(_z(values, expected)) < Z_MAX


# --- group volumes -----------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 3, 4, 6])
def test_group_volume_formulas(d):
    assert dlnmc.log_group_volume(d, field="real") == pytest.approx(
        dlnmc.log_group_volume(d), rel=1e-14
    )
    k = np.arange(1, d + 1)
    log_u = d * (d + 1) / 2 * np.log(2 * np.pi) - gammaln(k[:-1] + 1).sum()
    log_sp = d * d * np.log(2) + d * (d + 1) * np.log(np.pi) - gammaln(2 * k).sum()
    assert dlnmc.log_group_volume(d, field="complex") == pytest.approx(log_u, rel=1e-13)
    assert dlnmc.log_group_volume(d, field="quaternion") == pytest.approx(log_sp, rel=1e-13)


def test_group_volume_d1_from_the_embedding():
    """U(1) is a circle and Sp(1) the 3-sphere; their radius is the norm of 1 in the embedding."""
    r_u = np.linalg.norm(realify(np.ones((1, 1), dtype=complex), "complex"))
    r_sp = np.linalg.norm(realify(np.eye(2, dtype=complex), "quaternion"))
    assert r_u == pytest.approx(1.0) and r_sp == pytest.approx(1.0)
    # Every element of the sampled groups lies on that sphere.
    np.testing.assert_allclose(
        np.linalg.norm(realify(haar_unitary(1, 10, 0), "complex"), axis=-1), r_u
    )
    np.testing.assert_allclose(
        np.linalg.norm(realify(haar_symplectic(1, 10, 0), "quaternion"), axis=-1), r_sp
    )
    assert np.exp(dlnmc.log_group_volume(1, field="complex")) == pytest.approx(2 * np.pi * r_u)
    assert np.exp(dlnmc.log_group_volume(1, field="quaternion")) == pytest.approx(
        2 * np.pi**2 * r_sp**3
    )


@pytest.mark.parametrize("field", ["complex", "quaternion"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_chart_is_in_the_group(field, d):
    from dlnmc.charts import chart_box

    lo, hi = chart_box(d, field)
    assert lo.size == group_dimension(d, field)
    theta = lo + np.random.default_rng(d).random((20, lo.size)) * (hi - lo)
    g = group_chart(theta, d, field)
    n = rep_size(d, field)
    np.testing.assert_allclose(
        conj_transpose(g) @ g, np.broadcast_to(np.eye(n), g.shape), atol=1e-12
    )
    if field == "quaternion":
        check_field_matrix(g, field)


# Points per replicate, fixed before looking at the outcome (16 replicates each).
_CHART_POINTS = {
    ("complex", 2): 1024,
    ("complex", 3): 1024,
    ("quaternion", 1): 1024,
    ("quaternion", 2): 1024,
    ("quaternion", 3): 1024,
}


@pytest.mark.slow
@pytest.mark.parametrize(("field", "d"), sorted(_CHART_POINTS))
def test_chart_monte_carlo_confirms_group_volume(field, d):
    """vol(G_d) from sqrt(det J^T J) of the embedding over the chart box, |z| < 4.5."""
    est = estimate_group_volume_field(d, field, _CHART_POINTS[(field, d)], 16, seed=100 + d)
    print(
        f"{field} d={d}: log vol MC {est.log_volume:.6f} +- {est.stderr:.2e}, "
        f"closed {est.closed_form:.6f}, z {est.z_score:+.2f}"
    )
    assert est.stderr < 0.01  # power: a metric factor sqrt(2) (0.35 in log) would be > 35 sigma
    assert abs(est.z_score) < Z_MAX


def test_chart_route_for_the_circle():
    """U(1): the chart density is exactly 1 (arc length), so the route is a deterministic
    quadrature (zero variance); it must give 2 pi up to the finite-difference error h^2/6."""
    est = estimate_group_volume_field(1, "complex", 64, 2, seed=0)
    assert est.log_volume == pytest.approx(np.log(2 * np.pi), abs=1e-9)


@pytest.mark.parametrize("depth", [None, 2, 3])
def test_chart_error_includes_finite_difference_bias(depth):
    """A constant chart density (U(1), and orbits of width 1) has zero replicate spread;
    stderr must still cover the O(h^2) and rounding error of the central differences
    (it was 2e-13 for a 3e-11 bias: z = -123)."""
    from dlnmc._deprecated import estimate_orbit_volume_field

    if depth is None:
        est = estimate_group_volume_field(1, "complex", 64, 2, seed=0)
    else:
        est = estimate_orbit_volume_field([2.0], depth, "complex", 64, 4, seed=0)
    assert est.stderr < 1e-9  # still a sharp check: the route is a quadrature here
    assert np.isfinite(est.z_score)
    assert abs(est.z_score) < Z_MAX


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_points": 2.5}, TypeError, "n_points"),
        ({"n_points": "64"}, TypeError, "n_points"),
        ({"n_points": 48}, ValueError, "n_points"),
        ({"n_replicates": 2.5}, TypeError, "n_replicates"),
        ({"n_replicates": 1}, ValueError, "n_replicates"),
        ({"step": 0.0}, ValueError, "step"),
        ({"step": -1e-5}, ValueError, "step"),
        ({"step": np.nan}, ValueError, "step"),
        ({"step": "x"}, TypeError, "step"),
        ({"mix": np.nan}, ValueError, "mix"),
    ],
)
def test_chart_estimators_reject_bad_options(kwargs, error, match):
    from dlnmc._deprecated import estimate_orbit_volume_field

    opts = {"n_points": 64, "n_replicates": 2} | kwargs
    with pytest.raises(error, match=match):
        estimate_group_volume_field(1, "complex", **opts)
    with pytest.raises(error, match=match):
        estimate_orbit_volume_field([2.0, 1.0], 2, "complex", **opts)
