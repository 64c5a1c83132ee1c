"""The closed form S(X) against independent evaluations.

See docs/guide/theory.md, 'Group volumes', 'The entropy formula' and 'The law of X on the balanced
manifold'.
"""

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate
from scipy.special import gammaln

import dlnmc
from dlnmc.entropy import log_D, log_D_pairs, log_rho_sv, log_sv_density

WORKED = [  # docs/guide/theory.md, 'The entropy formula'; 60-digit references
    ([2.0, 0.5], 3, 6.43781943080391827),
    ([3.0, 1.0, 0.25], 5, 27.2453483420028581),
    ([1.0, 1.0], 4, 9.32594069230773565),
]


@pytest.mark.parametrize(("s", "N", "ref"), WORKED)
def test_worked_values(s, N, ref):
    assert abs(dlnmc.entropy_sv(s, N) - ref) <= 1e-13 * abs(ref)


def _mp_entropy(s, N, dps=50):
    """S by the difference-quotient form D_ij = (s_i^2 - s_j^2)/(x_i - x_j), in mpmath.

    A different route from dlnmc's geometric sum: it cancels catastrophically in
    float64 near collisions, so 50 digits are needed; exact collisions use D_ii.
    """
    with mp.workdps(dps):
        s = [mp.mpf(float(v)) for v in s]
        d = len(s)
        log_c = (
            d * mp.log(2)
            + mp.mpf(d * (d + 1)) / 4 * mp.log(mp.pi)
            + mp.mpf(d * (d - 1)) / 4 * mp.log(2)
            - mp.fsum(mp.loggamma(mp.mpf(k) / 2) for k in range(1, d + 1))
        )
        total = (N - 1) * log_c
        for i in range(d):
            for j in range(i + 1, d):
                if s[i] == s[j]:
                    Dij = N * s[i] ** (mp.mpf(2) * (N - 1) / N)
                else:
                    xi, xj = s[i] ** (mp.mpf(2) / N), s[j] ** (mp.mpf(2) / N)
                    Dij = (s[i] ** 2 - s[j] ** 2) / (xi - xj)
                total += mp.log(Dij) / 2
        return total


def _sweep_cases():
    rng = np.random.default_rng(20250909)
    cases = []
    for _ in range(40):  # generic: moderate d and N
        d = int(rng.integers(1, 7))
        cases.append((np.exp(rng.normal(0, 2, d)), int(rng.integers(1, 40))))
    for _ in range(20):  # extremes: s from 1e-100 to 1e100
        d = int(rng.integers(2, 6))
        cases.append((10.0 ** rng.uniform(-100, 100, d), int(rng.integers(2, 12))))
    for N in (100, 1000, 31_623, 100_000):  # deep networks
        cases.append((np.exp(rng.normal(0, 3, 4)), N))
        cases.append((np.array([1e100, 1e-100, 1.0]), N))
    for gap in (0.0, 1e-15, 1e-12, 1e-8, 1e-5, 1e-3):  # exact and near collisions
        for N in (2, 7, 30, 5000):
            base = float(rng.uniform(0.1, 10))
            cases.append((np.array([base * (1 + gap), base, 0.3 * base]), N))
    return cases


def test_entropy_sv_against_mpmath_sweep():
    worst = 0.0
    for s, N in _sweep_cases():
        ref = _mp_entropy(s, N)
        got = dlnmc.entropy_sv(s, N)
        err = abs(mp.mpf(got) - ref) / max(abs(ref), mp.mpf(1e-300))
        worst = max(worst, float(err))
        assert err <= 1e-12, (s, N, got, ref)
    assert worst > 0.0  # the comparison really compared floats with a 50-digit value


def test_batched_entropy_matches_single_evaluations():
    rng = np.random.default_rng(1)
    s = np.exp(rng.normal(size=(3, 5, 4)))
    batched = dlnmc.entropy_sv(s, 6)
    assert batched.shape == (3, 5)
    for idx in np.ndindex(3, 5):
        assert batched[idx] == pytest.approx(float(_mp_entropy(s[idx], 6)), rel=1e-13)


def test_chunked_path_matches_reference():
    # More rows than one internal chunk, so the chunk loop is exercised.
    rng = np.random.default_rng(2)
    s = np.exp(rng.normal(size=(20_000, 3)))
    S = dlnmc.entropy_sv(s, 4)
    for i in (0, 8191, 8192, 19_999):
        assert S[i] == pytest.approx(float(_mp_entropy(s[i], 4)), rel=1e-13)


def test_entropy_of_matrix_uses_its_singular_values():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(7, 4, 4))
    s = np.linalg.svd(X, compute_uv=False)
    np.testing.assert_allclose(dlnmc.entropy(X, 5), dlnmc.entropy_sv(s, 5), rtol=1e-14)


def test_log_D_matrix_against_polynomial_definition():
    rng = np.random.default_rng(4)
    s = np.exp(rng.normal(size=5))
    for N in (1, 2, 5, 30, 40):
        x = s ** (2.0 / N)
        k = np.arange(N)
        D = (x[:, None, None] ** k * x[None, :, None] ** (N - 1 - k)).sum(-1)
        np.testing.assert_allclose(log_D(s, N), np.log(D), rtol=1e-13, atol=1e-13)
        iu = np.triu_indices(5, 1)
        np.testing.assert_allclose(log_D_pairs(s, N), np.log(D)[iu], rtol=1e-13, atol=1e-13)


def test_group_volume_by_sphere_fibration():
    # O(d) = 2 x SO(d), SO(d)/SO(d-1) = S^{d-1}: with the textbook metric
    # vol SO(d) = prod_{k=2}^d |S^{k-1}|; Frobenius doubles the metric, so
    # lengths scale by sqrt(2) over d(d-1)/2 dimensions.
    for d in range(1, 12):
        k = np.arange(2, d + 1)
        log_spheres = (np.log(2.0) + k / 2 * np.log(np.pi) - gammaln(k / 2)).sum()
        expected = np.log(2.0) + log_spheres + d * (d - 1) / 4 * np.log(2.0)
        assert dlnmc.log_group_volume(d) == pytest.approx(expected, rel=1e-14, abs=1e-14)
    # SO(2) is a circle of radius sqrt(2) in Frobenius norm: c_2 = 2 * 2 pi sqrt(2).
    assert np.exp(dlnmc.log_group_volume(2)) == pytest.approx(4 * np.sqrt(2) * np.pi, rel=1e-14)
    assert np.exp(dlnmc.log_group_volume(3)) == pytest.approx(32 * np.sqrt(2) * np.pi**2, rel=1e-14)


def test_rho_sanity_case_d1_N2():
    # M = {w2 = +-w1}: rho(x) = sqrt(2) |x|^{-1/2}
    # (docs/guide/theory.md, 'The law of X on the balanced manifold').
    x = np.array([[0.01], [1.0], [17.0]])
    np.testing.assert_allclose(
        log_rho_sv(x, 2), 0.5 * np.log(2) - 0.5 * np.log(x[:, 0]), rtol=1e-14
    )


def test_rho_is_entropy_over_sqrt_det_A():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6, 3, 3))
    expected = dlnmc.entropy(X, 4) - 0.5 * dlnmc.log_det_A(X, 4)
    np.testing.assert_allclose(dlnmc.log_rho(X, 4), expected, rtol=1e-13)


@pytest.mark.slow
def test_singular_value_law_quadrature_reference():
    # docs/guide/theory.md, 'The law of X on the balanced manifold': d=2, N=3, beta=1,
    # E=|X|^2/2 gives E[s1]=1.22797, E[s2]=0.15097.
    def dens(s2, s1, power=0, which=0):
        p = np.exp(log_sv_density(np.array([s1, s2]), 3, 1.0))
        return p * (s1 if which == 0 else s2) ** power

    opts = {"epsabs": 1e-12, "epsrel": 1e-10}
    Z = integrate.dblquad(lambda b, a: dens(b, a), 0, 12, 0, lambda a: a, **opts)[0]
    m1 = integrate.dblquad(lambda b, a: dens(b, a, 1, 0), 0, 12, 0, lambda a: a, **opts)[0] / Z
    m2 = integrate.dblquad(lambda b, a: dens(b, a, 1, 1), 0, 12, 0, lambda a: a, **opts)[0] / Z
    assert m1 == pytest.approx(1.22797, abs=2e-5)
    assert m2 == pytest.approx(0.15097, abs=2e-5)


def test_sv_density_alpha_family_and_collisions():
    s = np.array([2.0, 0.5, 0.1])
    base = log_sv_density(s, 4, 1.0)
    shifted = log_sv_density(s, 4, 1.0, alpha=1.0)
    assert shifted == pytest.approx(base - 0.5 * log_D_pairs(s, 4).sum(), rel=1e-14)
    # A collision has zero density (Vandermonde factor), not NaN.
    assert log_sv_density(np.array([1.0, 1.0]), 3) == -np.inf


def test_complex_singular_values_are_refused():
    """A complex array for s was cast to float64, silently dropping its imaginary part."""
    from dlnmc.fields import diag_embed

    s = np.array([1 + 5j, 2.0])
    for call in (
        lambda: dlnmc.entropy_sv(s, 2),
        lambda: dlnmc.entropy_sv(s, 2, field="complex"),
        lambda: dlnmc.estimate_orbit_volume(s, 2, 256, 0),
        lambda: diag_embed(s, "complex"),
    ):
        with pytest.raises(TypeError, match="s must be real"):
            call()


@pytest.mark.parametrize("field", [None, "real", "complex", "quaternion"])
def test_sv_density_energy_never_nan_for_huge_s(field):
    """s * s overflowed at s = 1e200: beta = 0 gave NaN (0 * inf). Now beta = 0 is finite
    and beta > 0 a correct -inf (the Boltzmann weight underflows)."""

    def f(s, beta):
        if field is None:
            return log_sv_density(s, 3, beta)
        return dlnmc.log_sv_density(s, 3, beta, field=field)

    with np.errstate(all="raise"):
        zero = f([1e200, 1.0], 0.0)
        assert np.isfinite(zero)
        assert f([1e200, 1.0], 1.0) == -np.inf
    # beta = 0 drops exactly the energy: compare with a moderate s where it is computable.
    assert f([3.0, 1.0], 0.0) == pytest.approx(f([3.0, 1.0], 1.0) + 0.5 * (9.0 + 1.0), rel=1e-13)


@pytest.mark.parametrize("s", [(2.0, 1.0), (3.0, 1.0, 0.25)])
def test_entropy_sv_at_astronomical_depth(s):
    """depth = 10**30 raised TypeError in np.log2 (Python int beyond int64). Reference:
    S = (N-1) log c_d + 1/2 sum_{i<j} log D_ij, D_ij = (s_i^2 - s_j^2)/(s_i^{2/N} - s_j^{2/N})
    evaluated by mpmath at 80 digits."""
    N = 10**30
    with mp.workdps(80):
        ms = [mp.mpf(x) for x in s]
        half_log_D = (
            sum(
                mp.log(
                    (ms[i] ** 2 - ms[j] ** 2)
                    / (ms[i] ** (mp.mpf(2) / N) - ms[j] ** (mp.mpf(2) / N))
                )
                for i in range(len(s))
                for j in range(i + 1, len(s))
            )
            / 2
        )
        ref = (N - 1) * mp.mpf(dlnmc.log_group_volume(len(s))) + half_log_D
        # The D-part alone (log N scale) is checked via log_D_pairs, as S ~ 1e30 hides it.
        pairs = log_D_pairs(s, N).sum() / 2
        assert pairs == pytest.approx(float(half_log_D), rel=1e-13)
    assert dlnmc.entropy_sv(s, N) == pytest.approx(float(ref), rel=1e-14)


def test_single_entropies_are_numpy_float64():
    """DESIGN.md: entropies are float64. A single input gives a numpy.float64 scalar (still a
    float subclass), in every field."""
    values = [
        dlnmc.entropy(2.0 * np.eye(2), 3),
        dlnmc.entropy_sv([1.0, 2.0], 3),
        dlnmc.entropy_sv([2.0], 3),  # the d = 1 early return
        dlnmc.entropy_sv([1.0, 2.0], 3, field="complex"),
        dlnmc.entropy(2.0 * np.eye(2, dtype=complex), 3, field="complex"),
    ]
    for v in values:
        assert type(v) is np.float64


def test_singular_matrix_message():
    """The unbatched message said 'at batch index (np.int64(0),)'."""
    with pytest.raises(ValueError, match="singular") as single:
        dlnmc.singular_values(np.zeros((2, 2)))
    assert "batch index" not in str(single.value)
    X = np.broadcast_to(np.eye(2), (2, 3, 2, 2)).copy()
    X[1, 2] = 0.0
    with pytest.raises(ValueError, match=r"at batch index \(1, 2\):"):
        dlnmc.singular_values(X)
