"""Property-based tests of the closed form (docs/guide/theory.md, 'The entropy formula')."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

import dlnmc

widths = st.integers(1, 5)
depths = st.integers(1, 12)
log_sv = st.floats(-5.0, 5.0, allow_nan=False)


@st.composite
def singular_values(draw, d=None):
    d = draw(widths) if d is None else d
    return np.exp(np.array(draw(st.lists(log_sv, min_size=d, max_size=d))))


@settings(max_examples=60, deadline=None)
@given(s=singular_values(), N=depths, seed=st.integers(0, 2**32 - 1))
def test_orthogonal_invariance(s, N, seed):
    d = s.size
    rng = np.random.default_rng(seed)
    X = dlnmc.haar_orthogonal(d, (), rng) @ np.diag(s) @ dlnmc.haar_orthogonal(d, (), rng).T
    U = dlnmc.haar_orthogonal(d, (), rng)
    V = dlnmc.haar_orthogonal(d, (), rng)
    S = dlnmc.entropy(X, N)
    assert np.isclose(dlnmc.entropy(U @ X @ V.T, N), S, rtol=1e-10, atol=1e-10)
    assert np.isclose(S, dlnmc.entropy_sv(s, N), rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(s=singular_values(), N=depths, seed=st.integers(0, 2**32 - 1))
def test_symmetric_in_singular_values(s, N, seed):
    perm = np.random.default_rng(seed).permutation(s.size)
    assert np.isclose(dlnmc.entropy_sv(s[perm], N), dlnmc.entropy_sv(s, N), rtol=1e-13, atol=1e-13)


@settings(max_examples=60, deadline=None)
@given(s=singular_values(), N=depths, log_c=st.floats(-20.0, 20.0))
def test_scaling_law(s, N, log_c):
    d = s.size
    c = np.exp(log_c)
    expected = dlnmc.entropy_sv(s, N) + d * (d - 1) / 2 * (1 - 1 / N) * log_c
    assert np.isclose(dlnmc.entropy_sv(c * s, N), expected, rtol=1e-12, atol=1e-11)


@settings(max_examples=30, deadline=None)
@given(s=singular_values())
def test_depth_one_has_zero_entropy(s):
    assert dlnmc.entropy_sv(s, 1) == 0.0
    X = np.diag(s) @ special_ortho_group.rvs(s.size, random_state=1) if s.size > 1 else np.diag(s)
    assert dlnmc.entropy(X, 1) == 0.0


@settings(max_examples=60, deadline=None)
@given(s=singular_values(), N=st.integers(2, 200), i=st.integers(0, 4), eps=st.floats(1e-14, 1e-6))
def test_continuous_across_collisions(s, N, i, eps):
    if s.size < 2:
        s = np.append(s, 1.0)
    i = i % (s.size - 1)
    collided = s.copy()
    collided[i + 1] = collided[i]
    near = collided.copy()
    near[i + 1] *= 1 + eps
    S0, S1 = dlnmc.entropy_sv(collided, N), dlnmc.entropy_sv(near, N)
    # dS/dt_j is bounded by (d-1) for each log singular value, so a relative
    # perturbation eps moves S by at most (d-1) eps (plus rounding).
    assert abs(S1 - S0) <= (s.size - 1) * eps * 1.01 + 1e-12 * max(1.0, abs(S0))
