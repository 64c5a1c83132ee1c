"""Haar samplers of O(d) and SO(d) (issue 3, item 1).

Statistical tests use fixed seeds and tolerances fixed in advance: |z| < 4.5
for moments, p > 1e-3 for two-sample tests against scipy.stats.ortho_group.
"""

import numpy as np
import pytest
from scipy import stats

from dlnmc.groups import (
    GRAM_SCHMIDT_MAX_WIDTH,
    haar_orthogonal,
    haar_special_orthogonal,
    log_group_volume,
)
from tests.tolerances import Z_TOL

P_MIN = 1e-3
N_DRAWS = 40_000

# Both code paths of haar_orthogonal: Gram-Schmidt (small d) and LAPACK QR (large d).
WIDTHS = [2, 3, 5, 8, GRAM_SCHMIDT_MAX_WIDTH + 1]


def _z(x: np.ndarray, mean: float) -> float:
    return (x.mean() - mean) / (x.std(ddof=1) / np.sqrt(x.size))


@pytest.mark.parametrize("d", WIDTHS)
def test_orthogonal_and_shape(d):
    Q = haar_orthogonal(d, (7, 3), np.random.default_rng(d))
    assert Q.shape == (7, 3, d, d)
    err = np.abs(Q @ np.swapaxes(Q, -1, -2) - np.eye(d)).max()
    assert err < 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("d", WIDTHS)
def test_trace_moments(d):
    """For Haar O(d), d >= 2: E[tr Q] = 0, E[(tr Q)^2] = 1 (Diaconis-Shahshahani)."""
    Q = haar_orthogonal(d, N_DRAWS, np.random.default_rng(100 + d))
    t = np.trace(Q, axis1=-2, axis2=-1)
    assert abs(_z(t, 0.0)) < Z_TOL
    assert abs(_z(t**2, 1.0)) < Z_TOL


@pytest.mark.parametrize("d", [2, 3, 5, GRAM_SCHMIDT_MAX_WIDTH + 1])
def test_two_sample_against_scipy(d):
    """KS two-sample tests on Q[0,0], Q[d-1,0] and tr Q against scipy.stats.ortho_group."""
    n = 5000
    ours = haar_orthogonal(d, n, np.random.default_rng(200 + d))
    ref = stats.ortho_group.rvs(d, size=n, random_state=np.random.default_rng(300 + d))
    for stat in (
        lambda q: q[:, 0, 0],
        lambda q: q[:, -1, 0],
        lambda q: np.trace(q, axis1=-2, axis2=-1),
    ):
        # Rounding: for d = 2, tr Q has an atom at 0 (reflections) that the two
        # samplers hit with different rounding noise (0 vs -1e-16).
        a, b = np.round(stat(ours), 12), np.round(stat(ref), 12)
        assert stats.ks_2samp(a, b).pvalue > P_MIN


def test_two_sample_detects_unfixed_signs():
    """Power check: the same KS test rejects QR without the sign fix (so it can fail)."""
    d, n = 3, 5000
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((n, d, d)))
    ref = stats.ortho_group.rvs(d, size=n, random_state=np.random.default_rng(2))
    assert stats.ks_2samp(Q[:, 0, 0], ref[:, 0, 0]).pvalue < P_MIN


@pytest.mark.parametrize("d", [1, 2, 3, 6])
def test_special_orthogonal_det(d):
    Q = haar_special_orthogonal(d, 2000, np.random.default_rng(d))
    np.testing.assert_allclose(np.linalg.det(Q), 1.0, atol=1e-12)
    assert np.abs(Q @ np.swapaxes(Q, -1, -2) - np.eye(d)).max() < 1e-12


def test_special_orthogonal_two_sample():
    d, n = 3, 5000
    ours = haar_special_orthogonal(d, n, np.random.default_rng(5))
    ref = stats.special_ortho_group.rvs(d, size=n, random_state=np.random.default_rng(6))
    for stat in (lambda q: q[:, 0, 0], lambda q: np.trace(q, axis1=-2, axis2=-1)):
        assert stats.ks_2samp(stat(ours), stat(ref)).pvalue > P_MIN


def test_orthogonal_both_components():
    """O(d) has two components; det = -1 has probability 1/2."""
    Q = haar_orthogonal(4, N_DRAWS, np.random.default_rng(9))
    neg = (np.linalg.det(Q) < 0).astype(float)
    assert abs(_z(neg, 0.5)) < Z_TOL


def test_seed_reproducible():
    a = haar_orthogonal(3, 10, 42)
    b = haar_orthogonal(3, 10, np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)


def test_bad_input():
    with pytest.raises(ValueError, match="d"):
        haar_orthogonal(0, 3)
    with pytest.raises(TypeError, match="d"):
        haar_orthogonal(2.5, 3)
    with pytest.raises(ValueError, match="size"):
        haar_orthogonal(2, -1)


def test_log_group_volume_caps_the_width():
    """log_group_volume(10**10) was a MemoryError (a 1e10-term array); now a clear error,
    while the cap itself still evaluates."""
    assert np.isfinite(log_group_volume(10**6))
    with pytest.raises(ValueError, match="d must be <= 1000000"):
        log_group_volume(10**10)
