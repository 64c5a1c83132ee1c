"""The exponent of D_ij from ensembles: theory alpha = 1/2, wrong densities rejected."""

import numpy as np
import pytest
from scipy import integrate

from dlnmc.balanced import sample_balanced
from dlnmc.entropy import log_sv_density
from dlnmc.exponent import _Quadrature, estimate_exponent, sufficient_statistic
from dlnmc.reference import reference_singular_values

Z_MAX = 4.5


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


def test_alpha_hat_from_hmc_is_one_half(hmc_d2):
    est = estimate_exponent(hmc_d2)
    assert est.method == "quadrature"
    assert abs(est.z_score) < Z_MAX, est
    # ...and the same test tells 1/2 apart from the exponents 0 and 1.
    assert abs(est.z_against(0.0)) > Z_MAX and abs(est.z_against(1.0)) > Z_MAX, est


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
