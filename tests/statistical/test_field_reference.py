"""emcee references over C and H (docs/guide/fields.md) against deterministic quadrature.

For b = 2, 4, d = 2, N = 3, beta = 1 the emcee ensembles on the singular-value
law and on X in M_d(F) (real components) must match the quadrature of
log_sv_density(field=) on means and 10%/90% quantiles of both singular values
within 4.5 MCSE (arviz); a wrong law (b = 1, or the energy with the factor 2 of
the complex representation of H) must be rejected by the same test.
"""

import math

import arviz as az
import numpy as np
import pytest
from scipy import integrate, special

import dlnmc
from dlnmc.fields import (
    from_components,
    gaussian_matrix,
    realify,
    resolve_field,
    singular_values_field,
)
from dlnmc.reference import (
    PowerMapDensity,
    power_map_log_jacobian,
    reference_end_to_end,
    reference_singular_values,
)
from dlnmc.sv_law import sv_law_moments, sv_marginal_density
from tests.tolerances import Z_TOL as Z_MAX

PROBS = (0.1, 0.9)


def _z_scores(tree, law):
    """z of mean and quantiles of each singular value against the quadrature ``law``."""
    x = tree.posterior["singular_values"]
    z = [(x.mean(("chain", "draw")).values - law.mean) / _mcse(tree)]
    for m, q in enumerate(law.probs):
        est = x.quantile(q, dim=("chain", "draw")).values
        z.append((est - law.quantiles[m]) / _mcse(tree, method="quantile", prob=q))
    return np.array(z)


def _mcse(tree, **kw):
    return az.mcse(tree, var_names=["singular_values"], **kw)["singular_values"].values


@pytest.fixture(scope="module", params=["complex", "quaternion"])
def refs(request):
    f = request.param
    sv = reference_singular_values(2, 3, beta=1.0, n_draws=2000, seed=1, field=f)
    e2e = reference_end_to_end(2, 3, beta=1.0, n_draws=2000, seed=2, field=f)
    return f, sv, e2e


@pytest.mark.slow
def test_emcee_references_match_quadrature(refs):
    field, sv, e2e = refs
    law = sv_law_moments(2, 3, 1.0, field, PROBS)
    for tree in (sv, e2e):
        z = _z_scores(tree, law)
        assert np.all(np.abs(z) < Z_MAX), (field, tree.attrs["reference"], z)


@pytest.mark.slow
def test_wrong_law_is_rejected(refs):
    field, sv, e2e = refs
    # b = 1 instead of b = 2, 4: visibly different law.
    wrong = sv_law_moments(2, 3, 1.0, "real", PROBS)
    for tree in (sv, e2e):
        assert np.abs(_z_scores(tree, wrong)).max() > Z_MAX
    # The factor 2 of the complex representation of H in E(X) is beta -> 2 beta.
    doubled = sv_law_moments(2, 3, 2.0, field, PROBS)
    for tree in (sv, e2e):
        assert np.abs(_z_scores(tree, doubled)).max() > Z_MAX


@pytest.mark.slow
def test_tree_layout(refs):
    field, sv, e2e = refs
    b = {"complex": 2, "quaternion": 4}[field]
    post = e2e.posterior
    assert post["X"].dims == ("chain", "draw", "row", "col", "component")
    assert post["X"].shape[2:] == (2, 2, b)
    assert post["trace_X"].dims == ("chain", "draw", "component")
    assert list(post["component"].values) == ["re", "i", "j", "k"][:b]
    assert post["singular_values"].dims == ("chain", "draw", "sv")
    assert e2e.attrs["field"] == sv.attrs["field"] == field
    assert sv.posterior["singular_values"].dims == ("chain", "draw", "sv")
    # Stored X has the stored singular values (each once over H), descending.
    X = from_components(post["X"].values[:2, :5], field)
    np.testing.assert_allclose(
        singular_values_field(X, field), post["singular_values"].values[:2, :5], rtol=1e-10
    )
    s = sv.posterior["singular_values"].values
    assert np.all(s[..., 0] >= s[..., 1])


@pytest.mark.parametrize("field", ["real", "complex", "quaternion"])
def test_power_map_jacobian_matches_finite_differences(field):
    # |det dX/dZ| of Z -> Z (Z^* Z)^{(N-1)/2} in real components, by central differences.
    rng = np.random.default_rng(5)
    d, N = 2, 3
    dens = PowerMapDensity(d, N, 1.0, None, 0.5, resolve_field(field))
    for _ in range(3):
        Z = gaussian_matrix(d, field, rng=rng)
        z = realify(Z, field)
        h = 1e-6
        cols = []
        for k in range(z.size):
            e = np.zeros(z.size)
            e[k] = h
            plus = dens.end_to_end(from_components((z + e).reshape(d, d, -1), field))[0]
            minus = dens.end_to_end(from_components((z - e).reshape(d, d, -1), field))[0]
            cols.append((realify(plus, field) - realify(minus, field)) / (2 * h))
        J = np.array(cols).T
        sigma = dens.end_to_end(Z)[1]
        got = power_map_log_jacobian(sigma, N, field=field)
        assert abs(np.linalg.slogdet(J)[1] - got) < 1e-6, (field, got)
        if field == "real":
            assert got == pytest.approx(power_map_log_jacobian(sigma, N), abs=1e-12)


@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_z_density_is_pulled_back_rho(field):
    # log p(Z) - [-E(X) + log rho_b(X) + log J] is one constant over random Z.
    rng = np.random.default_rng(6)
    d, N = 2, 3
    Y = gaussian_matrix(d, field, rng=rng)
    dens = PowerMapDensity(d, N, 0.7, Y, 0.5, resolve_field(field))
    Z = gaussian_matrix(d, field, 8, rng)
    X, sigma = dens.end_to_end(Z)
    s = sigma**N
    from dlnmc.fields import inner

    expect = (
        -0.7 * 0.5 * inner(X - Y, X - Y, field)
        + dlnmc.log_rho_sv(s, N, field=field)
        + power_map_log_jacobian(sigma, N, field=field)
    )
    diff = dens(realify(Z, field)) - expect
    np.testing.assert_allclose(diff, diff[0], atol=1e-9)


def _math_md_real_moments(N: float, beta: float) -> np.ndarray:
    """``Z, E[s_1] Z, E[s_2] Z`` for ``b = 1, d = 2`` by adaptive ``dblquad``.

    The density is that of docs/guide/theory.md, 'The law of X on the balanced manifold',
    written out here, independent of
    ``log_sv_density``: ``exp(-beta |s|^2/2) (s_1 s_2)^{-(N-1)/N} |s_1^2 - s_2^2|
    D_12^{-1/2}``, ``D_12 = (s_1^2 - s_2^2) / (s_1^{2/N} - s_2^{2/N})``
    (docs/guide/theory.md, 'The entropy formula'),
    in ``s_1 = e^t, s_2 = e^{t-u}`` (Jacobian ``s_1 s_2``).
    """

    def f(u, t, k):
        t2 = t - u
        log_p = (
            -0.5 * beta * (math.exp(2 * t) + math.exp(2 * t2))
            + (t + t2) / N
            + 0.5 * (2 * t + math.log(-math.expm1(-2 * u)))
            + 0.5 * (2 * t / N + math.log(-math.expm1(-2 * u / N)))
        )
        return math.exp(log_p) * (1.0 if k < 0 else math.exp((t, t2)[k]))

    lo, hi = -60.0 * N, 0.5 * math.log(240 / beta)  # loses < e^{-60} of the mass
    opts = {"epsabs": 0.0, "epsrel": 1e-10}
    return np.array(
        [
            integrate.dblquad(f, lo, hi, 0, lambda t: t - lo, args=(k,), **opts)[0]
            for k in (-1, 0, 1)
        ]
    )


def test_sv_law_real_matches_adaptive_quadrature_of_math_md():
    # b = 1 through log_sv_density(field="real") and the composite rule against scipy's
    # adaptive rule on the real-field formula of docs/guide/theory.md, 'The law of X on the
    # balanced manifold'.
    for N, beta in [(3, 1.0), (5, 0.5)]:
        z, m1, m2 = _math_md_real_moments(N, beta)
        np.testing.assert_allclose(sv_law_moments(2, N, beta).mean, [m1 / z, m2 / z], rtol=1e-10)


@pytest.mark.parametrize("field", ["real", "complex", "quaternion"])
def test_marginal_density_is_normalized_and_gives_the_means(field):
    # An adaptive rule (quad_vec in t = log s), independent of the tabulated one,
    # integrates the marginals to 1 and s times them to sv_law_moments' means.
    d, N, beta = 2, 4, 0.7

    def f(t):
        s = math.exp(t)
        p = sv_marginal_density(np.array([s]), width=d, depth=N, beta=beta, field=field)[:, 0]
        return np.concatenate([p * s, p * s * s])  # per unit t: density, s * density

    mass = integrate.quad_vec(f, -400.0, 6.0, epsabs=0.0, epsrel=1e-11, points=[-5.0, 0.0])[0]
    np.testing.assert_allclose(mass[:d], 1.0, rtol=1e-10)
    np.testing.assert_allclose(mass[d:], sv_law_moments(d, N, beta, field).mean, rtol=1e-10)


def test_sv_law_deep_real_network_two_integration_orders_agree():
    # b = 1, N = 20: the smallest singular value decays like s^{1/20}, far below
    # float64's range; the two marginals (integrated in opposite orders, each
    # with its own analytic tail) must give the same normalizer.
    law = sv_law_moments(2, 20, 1.0)
    assert law.log_normalizer_check < 1e-10, law
    assert np.all(0 < law.quantiles[0]) and np.all(law.quantiles[0] < law.quantiles[1])
    assert law.mean[1] < law.mean[0] and law.quantiles[1, 1] < law.quantiles[1, 0]


@pytest.mark.parametrize("field", ["real", "complex", "quaternion"])
def test_sv_law_one_dimensional_quantiles_are_exact(field):
    # d = 1, N = 1: s^{b-1} exp(-s^2/2), a chi law with b degrees of freedom.
    b = {"real": 1, "complex": 2, "quaternion": 4}[field]
    law = sv_law_moments(1, 1, 1.0, field, (0.1, 0.5, 0.9))
    exact_q = np.sqrt(2 * special.gammaincinv(b / 2, np.array([0.1, 0.5, 0.9])))
    np.testing.assert_allclose(law.quantiles[:, 0], exact_q, rtol=1e-9)
    mean = math.sqrt(2) * math.gamma((b + 1) / 2) / math.gamma(b / 2)
    np.testing.assert_allclose(law.mean, [mean], rtol=1e-9)
    s = np.array([1e-3, 0.3, 1.0, 2.5, 6.0])
    chi = s ** (b - 1) * np.exp(-(s**2) / 2) / (2 ** (b / 2 - 1) * math.gamma(b / 2))
    dens = sv_marginal_density(s, width=1, depth=1, beta=1.0, field=field)
    np.testing.assert_allclose(dens, [chi], rtol=1e-9)


@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_sv_law_two_dimensional_quantiles_against_ginibre(field):
    # N = 1: M_b = M_d(F), the law is Ginibre's. Fraction of 20000 exact draws
    # below each quadrature quantile q: binomial, z against sqrt(q(1-q)/n).
    n = 20000
    law = sv_law_moments(2, 1, 1.0, field, PROBS)
    s = singular_values_field(gaussian_matrix(2, field, n, np.random.default_rng(8)), field)
    for m, q in enumerate(PROBS):
        frac = (s < law.quantiles[m]).mean(axis=0)
        z = (frac - q) / math.sqrt(q * (1 - q) / n)
        assert np.all(np.abs(z) < Z_MAX), (field, q, frac)
    se = s.std(0, ddof=1) / math.sqrt(n)
    z_mean = (s.mean(0) - law.mean) / se
    assert np.all(np.abs(z_mean) < Z_MAX), z_mean
    # The check can fail: the neighbouring field's law is rejected by the same draws.
    wrong = sv_law_moments(2, 1, 1.0, "real" if field == "complex" else "complex").mean
    assert np.abs((s.mean(0) - wrong) / se).max() > Z_MAX


def test_cached_law_cannot_be_changed_by_a_caller():
    # sv_law_moments is cached: an in-place change by one caller must not reach the next.
    law = sv_law_moments(2, 3, 1.0)
    with pytest.raises(ValueError, match="read-only"):
        law.mean[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        law.quantiles[0, 0] = 0.0
    assert sv_law_moments(2, 3, 1.0).mean[0] == pytest.approx(1.22797, abs=6e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="width <= 2"):
        sv_law_moments(3, 2, 1.0)
    with pytest.raises(ValueError, match="field must be one of"):
        sv_law_moments(2, 2, 1.0, "octonion")
    with pytest.raises(ValueError, match="quantiles"):
        sv_law_moments(2, 2, 1.0, quantiles=(0.0, 0.5))
    with pytest.raises(ValueError, match="beta"):
        sv_law_moments(2, 2, 0.0)
    with pytest.raises(ValueError, match="width <= 2"):
        sv_marginal_density([1.0], width=3, depth=2, beta=1.0)
    with pytest.raises(ValueError, match="beta"):
        sv_marginal_density([1.0], width=2, depth=2, beta=0.0)
    with pytest.raises(ValueError, match="> 0"):
        sv_marginal_density([0.0, 1.0], width=2, depth=2, beta=1.0)
    with pytest.raises(ValueError, match="field must be one of"):
        sv_marginal_density([1.0], width=2, depth=2, beta=1.0, field="octonion")
    with pytest.raises(ValueError, match="field must be one of"):
        reference_singular_values(2, 3, beta=1.0, n_draws=5, seed=0, field="Complex")
    with pytest.raises(ValueError, match="field must be one of"):
        reference_end_to_end(2, 3, beta=1.0, n_draws=5, seed=0, field="octonion")
    with pytest.raises(ValueError, match="beta"):
        reference_end_to_end(2, 3, beta=0.0, n_draws=5, seed=0, field="complex")
    with pytest.raises(ValueError, match="target"):
        reference_end_to_end(2, 3, beta=1.0, n_draws=5, seed=0, field="complex", target=np.eye(3))
