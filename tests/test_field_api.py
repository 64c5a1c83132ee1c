"""The public ``field=`` keyword of dlnmc.entropy (issue 7, MATH.md section 8).

The real path must be the old code bit for bit; complex and quaternion must be
the ``*_field`` functions of dlnmc.entropy_fields; anything else must raise.
"""

import importlib.util
import pathlib
import subprocess

import numpy as np
import pytest

import dlnmc.entropy_fields as EF
from dlnmc.fields import gaussian_matrix

# "import dlnmc.entropy as E" would bind the function dlnmc.entropy, not the module.
E = importlib.import_module("dlnmc.entropy")
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _old_entropy_module():
    """dlnmc/entropy.py as committed before the field keyword (git show), or skip."""
    try:
        src = subprocess.run(
            ["git", "show", "02721a7:dlnmc/entropy.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git history with the pre-field entropy.py not available")
    spec = importlib.util.spec_from_loader("_old_entropy", loader=None)
    mod = importlib.util.module_from_spec(spec)
    exec(compile(src, "old_entropy.py", "exec"), mod.__dict__)
    return mod


@pytest.fixture(scope="module")
def rng_data():
    rng = np.random.default_rng(7)
    s = np.exp(rng.normal(0.0, 1.5, (200, 4)))
    X = rng.standard_normal((50, 3, 3))
    return s, X


def test_real_path_is_old_code_bit_for_bit(rng_data):
    old = _old_entropy_module()
    s, X = rng_data
    for N in (1, 3, 30):
        for new_fn, old_fn, arg in (
            (E.entropy_sv, old.entropy_sv, s),
            (E.log_rho_sv, old.log_rho_sv, s),
            (E.entropy, old.entropy, X),
            (E.log_rho, old.log_rho, X),
        ):
            a, b = new_fn(arg, N, field="real"), old_fn(arg, N)
            assert np.array_equal(a, b) and np.array_equal(new_fn(arg, N), b), new_fn
        a = E.log_sv_density(s, N, 0.7, alpha=0.3, field="real")
        assert np.array_equal(a, old.log_sv_density(s, N, 0.7, alpha=0.3))
    assert np.array_equal(E.singular_values(X, field="real"), old.singular_values(X))
    assert type(E.entropy_sv(s[0], 3)) is type(old.entropy_sv(s[0], 3)) is np.float64


@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_other_fields_delegate(field, rng_data):
    s, _ = rng_data
    rng = np.random.default_rng(3)
    X = gaussian_matrix(3, field, size=20, rng=rng)
    for N in (1, 2, 5):
        np.testing.assert_array_equal(
            E.entropy_sv(s, N, field=field), EF.entropy_sv_field(s, N, field)
        )
        np.testing.assert_array_equal(
            E.log_rho_sv(s, N, field=field), EF.log_rho_sv_field(s, N, field)
        )
        np.testing.assert_array_equal(E.entropy(X, N, field=field), EF.entropy_field(X, N, field))
        np.testing.assert_array_equal(E.log_rho(X, N, field=field), EF.log_rho_field(X, N, field))
        np.testing.assert_array_equal(
            E.log_sv_density(s, N, 0.7, alpha=0.3, field=field),
            EF.log_sv_density_field(s, N, 0.7, field, alpha=0.3),
        )
    # ...and the field changes the answer (b enters every formula).
    assert not np.allclose(E.entropy_sv(s, 3, field=field), E.entropy_sv(s, 3))
    sv = E.singular_values(X, field=field)
    assert sv.shape == (20, 3)
    np.testing.assert_allclose(E.entropy(X, 3, field=field), E.entropy_sv(sv, 3, field=field))


@pytest.mark.parametrize("bad", ["Real", "octonion", "", None, 2])
def test_bad_field_raises_naming_it(bad, rng_data):
    s, X = rng_data
    calls = [
        lambda: E.entropy_sv(s, 3, field=bad),
        lambda: E.entropy(X, 3, field=bad),
        lambda: E.log_rho_sv(s, 3, field=bad),
        lambda: E.log_rho(X, 3, field=bad),
        lambda: E.log_sv_density(s, 3, 1.0, field=bad),
        lambda: E.singular_values(X, field=bad),
    ]
    for call in calls:
        with pytest.raises((ValueError, TypeError), match="field must be one of") as info:
            call()
        assert repr(bad) in str(info.value)
        if isinstance(bad, str):
            assert info.type is ValueError
