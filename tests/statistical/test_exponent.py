"""The exponent of D_ij from ensembles: theory alpha = 1/2, wrong densities rejected."""

import numpy as np
import pytest
from scipy import integrate

from dlnmc.balanced import sample_balanced
from dlnmc.entropy import log_sv_density
from dlnmc.exponent import _Quadrature, estimate_exponent, sufficient_statistic
from dlnmc.reference import reference_singular_values
from tests.tolerances import Z_TOL as Z_MAX


def test_quadrature_reference_of_math_md():
    # E[s_1], E[s_2] for d=2, N=3, beta=1, E=|X|^2/2 straight from log_sv_density,
    # integrated with scipy over u = s^{1/N} (where the density is bounded) on u2 < u1.
    N = 3
    u_max = 14.0 ** (1.0 / N)

    def dens(u2, u1, k):
        s = np.array([u1**N, u2**N])
        jac = N**2 * (u1 * u2) ** (N - 1)
        val = np.exp(log_sv_density(s, N, 1.0)) * jac
        return val * (1.0 if k < 0 else s[k])

    opts = {"epsabs": 1e-11, "epsrel": 1e-10}
    Z = integrate.dblquad(dens, 0, u_max, 1e-12, lambda u1: u1, args=(-1,), **opts)[0]
    m1 = integrate.dblquad(dens, 0, u_max, 1e-12, lambda u1: u1, args=(0,), **opts)[0] / Z
    m2 = integrate.dblquad(dens, 0, u_max, 1e-12, lambda u1: u1, args=(1,), **opts)[0] / Z
    assert abs(m1 - 1.22797) < 1e-5
    assert abs(m2 - 0.15097) < 1e-5


def test_grid_quadrature_agrees_with_scipy():
    # E_alpha[T] of the estimator's Gauss-Legendre grid against scipy at alpha = 0.5.
    N, q = 3, _Quadrature(3, 1.0)
    u_max = 14.0 ** (1.0 / N)

    def dens(u2, u1, with_T):
        s = np.array([u1**N, u2**N])
        val = np.exp(log_sv_density(s, N, 1.0)) * (u1 * u2) ** (N - 1)
        return val * (sufficient_statistic(s, N) if with_T else 1.0)

    Z = integrate.dblquad(dens, 0, u_max, 1e-12, lambda u1: u1, args=(False,))[0]
    ET = integrate.dblquad(dens, 0, u_max, 1e-12, lambda u1: u1, args=(True,))[0] / Z
    assert abs(q.moments(0.5)[0] - ET) < 1e-5


@pytest.fixture(scope="module")
def hmc_d2():
    return sample_balanced(2, 3, beta=1.0, n_draws=800, n_chains=16, seed=31, n_warmup=300)


@pytest.mark.slow
def test_alpha_hat_from_hmc_is_one_half(hmc_d2):
    est = estimate_exponent(hmc_d2)
    assert est.method == "quadrature"
    assert abs(est.z_score) < Z_MAX, est
    # ...and the same test tells 1/2 apart from the exponents 0 and 1.
    assert abs(est.z_against(0.0)) > Z_MAX and abs(est.z_against(1.0)) > Z_MAX, est


@pytest.mark.slow
def test_importance_route_agrees(hmc_d2):
    ref = reference_singular_values(2, 3, beta=1.0, n_draws=2000, seed=32)
    est = estimate_exponent(hmc_d2, reference=ref)
    assert est.method == "importance"
    assert abs(est.z_score) < Z_MAX, est


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wrong_density_is_rejected(alpha):
    # Ensembles drawn from the wrong member of the family are rejected by the z-test.
    wrong = reference_singular_values(2, 3, beta=1.0, n_draws=800, seed=33, alpha=alpha)
    est = estimate_exponent(wrong, beta=1.0)
    assert abs(est.z_score) > Z_MAX, est
    assert abs(est.z_against(alpha)) < Z_MAX, est  # and it finds the exponent it was drawn at


def test_quadrature_needs_width_two():
    s = np.abs(np.random.default_rng(0).standard_normal((2, 10, 3))) + 0.1
    with pytest.raises(ValueError, match="d = 2"):
        estimate_exponent(s, 3, beta=1.0)


# ---- over C and H: the b-dependent law (docs/guide/fields.md) -----------------------------


@pytest.fixture(scope="module", params=["complex", "quaternion"])
def hmc_field(request):
    field = request.param
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=600, n_chains=8, seed=31, n_warmup=300, field=field
    )
    return field, tree


@pytest.mark.slow
def test_alpha_hat_over_C_and_H_from_hmc_is_one_half(hmc_field):
    field, tree = hmc_field
    est = estimate_exponent(tree)  # the field is read from the ensemble
    assert est.field == field and est.method == "quadrature"
    assert abs(est.z_score) < Z_MAX, est
    assert abs(est.z_against(0.0)) > Z_MAX and abs(est.z_against(1.0)) > Z_MAX, est
    # Decoy: the same singular values held against the real law are rejected.
    s = tree.posterior["singular_values"].values
    real = estimate_exponent(s, 3, beta=1.0, field="real")
    assert abs(real.z_score) > Z_MAX, real


@pytest.mark.slow
def test_importance_route_over_C_and_H_agrees(hmc_field):
    field, tree = hmc_field
    ref = reference_singular_values(2, 3, beta=1.0, n_draws=2000, seed=32, field=field)
    est = estimate_exponent(tree, reference=ref)
    assert est.method == "importance" and est.field == field
    assert abs(est.z_score) < Z_MAX, est


@pytest.mark.slow
@pytest.mark.parametrize("field", ["complex", "quaternion"])
@pytest.mark.parametrize("alpha", [0.25, 1.0])
def test_wrong_density_over_C_and_H_is_rejected(field, alpha):
    wrong = reference_singular_values(
        2, 3, beta=1.0, n_draws=800, seed=41, alpha=alpha, field=field
    )
    est = estimate_exponent(wrong)
    assert abs(est.z_score) > Z_MAX, est
    assert abs(est.z_against(alpha)) < Z_MAX, est


def test_field_must_agree_with_the_ensemble():
    ref = reference_singular_values(2, 2, beta=1.0, n_draws=20, n_burn=10, seed=0, field="complex")
    with pytest.raises(ValueError, match="contradicts"):
        estimate_exponent(ref, field="real")
    real_ref = reference_singular_values(2, 2, beta=1.0, n_draws=20, n_burn=10, seed=0)
    with pytest.raises(ValueError, match="contradicts"):
        estimate_exponent(ref, reference=real_ref)


@pytest.mark.slow
@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_grid_quadrature_over_a_field_agrees_with_scipy(field):
    # E_alpha[T] of the grid for b = 2, 4 against scipy on the law of dlnmc.log_sv_density.
    from dlnmc.fields import resolve_field

    N, F = 3, resolve_field(field)
    q = _Quadrature(N, 1.0, field=F)
    u_max = 14.0 ** (1.0 / N)

    def dens(u2, u1, with_T, alpha):
        s = np.array([u1**N, u2**N])
        val = np.exp(log_sv_density(s, N, 1.0, alpha=alpha, field=field)) * (u1 * u2) ** (N - 1)
        return val * (sufficient_statistic(s, N) if with_T else 1.0)

    for alpha in (0.5, 0.8):
        Z = integrate.dblquad(dens, 0, u_max, 1e-12, lambda u1: u1, args=(False, alpha))[0]
        ET = integrate.dblquad(dens, 0, u_max, 1e-12, lambda u1: u1, args=(True, alpha))[0] / Z
        assert abs(q.moments(alpha)[0] - ET) < 1e-5, (alpha, q.moments(alpha)[0], ET)
