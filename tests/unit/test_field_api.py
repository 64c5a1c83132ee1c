"""The public ``field=`` keyword (docs/guide/fields.md): one API for R, C and H.

The real path must be the old code bit for bit; the deprecated ``*_field``
aliases must warn and give the same numbers as the ``field=`` API; anything
else must raise; every public capability takes ``field=``.
"""

import importlib.util
import inspect
import re
import subprocess

import numpy as np
import pytest

import dlnmc
import dlnmc._deprecated as EF
from dlnmc.fields import gaussian_matrix
from tests.paths import REPO

# "import dlnmc.entropy as E" would bind the function dlnmc.entropy, not the module.
E = importlib.import_module("dlnmc.entropy")
ROOT = REPO


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


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
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


# ---- one API for every field ---------------------------------------------------------------

PUBLIC_WITH_FIELD = [
    # (name, default of field): None means "read from the ensemble, else real".
    ("entropy", "real"),
    ("entropy_sv", "real"),
    ("log_rho", "real"),
    ("log_rho_sv", "real"),
    ("log_sv_density", "real"),
    ("singular_values", "real"),
    ("log_group_volume", "real"),
    ("haar", "real"),
    ("lie_algebra_basis", "real"),
    ("apply_A", "real"),
    ("apply_A_inv", "real"),
    ("g_N", "real"),
    ("log_det_A", "real"),
    ("sv_law_moments", "real"),
    ("sv_marginal_density", "real"),
    ("reference_singular_values", "real"),
    ("reference_end_to_end", "real"),
    ("from_emcee", "real"),
    ("from_mici", "real"),
    ("estimate_exponent", None),
    ("plot_sv_histograms", None),
    ("plot_result", None),
]


@pytest.mark.parametrize(("name", "default"), PUBLIC_WITH_FIELD)
def test_every_capability_takes_field(name, default):
    sig = inspect.signature(getattr(dlnmc, name))
    assert "field" in sig.parameters, name
    assert sig.parameters["field"].default == default, name


def test_all_is_accurate():
    assert len(set(dlnmc.__all__)) == len(dlnmc.__all__)
    assert [n for n in dlnmc.__all__ if not hasattr(dlnmc, n)] == []


@pytest.mark.parametrize("field", ["real", "complex", "quaternion"])
def test_field_value_or_name_give_the_same_result(field):
    F = dlnmc.resolve_field(field)
    s = np.array([[2.0, 0.5, 0.1]])
    assert dlnmc.log_group_volume(3, field=F) == dlnmc.log_group_volume(3, field=field)
    np.testing.assert_array_equal(
        dlnmc.entropy_sv(s, 4, field=F), dlnmc.entropy_sv(s, 4, field=field)
    )
    np.testing.assert_array_equal(dlnmc.haar(3, 4, 1, field=F), dlnmc.haar(3, 4, 1, field=field))


def test_log_group_volume_takes_field():
    # Used to raise TypeError (the field version was a separately named function).
    assert dlnmc.log_group_volume(1, field="complex") == pytest.approx(np.log(2 * np.pi))
    assert dlnmc.log_group_volume(1, field="quaternion") == pytest.approx(np.log(2 * np.pi**2))
    assert dlnmc.log_group_volume(3) == dlnmc.log_group_volume(3, field="real")


X2 = gaussian_matrix(2, "complex", 6, np.random.default_rng(1))
S2 = np.array([[2.0, 0.5], [1.0, 0.3]])
# (old name, its positional arguments and keywords, the new name, its arguments, keywords)
ALIASES = [
    ("entropy_field", (X2, 3, "complex"), {}, "entropy", (X2, 3), {"field": "complex"}),
    ("entropy_sv_field", (S2, 3, "complex"), {}, "entropy_sv", (S2, 3), {"field": "complex"}),
    ("log_rho_field", (X2, 3, "complex"), {}, "log_rho", (X2, 3), {"field": "complex"}),
    ("log_rho_sv_field", (S2, 3, "complex"), {}, "log_rho_sv", (S2, 3), {"field": "complex"}),
    ("log_sv_density_field", (S2, 3, 0.5, "complex"), {"alpha": 0.2}, "log_sv_density",
     (S2, 3, 0.5), {"alpha": 0.2, "field": "complex"}),
    ("log_group_volume_field", (4, "quaternion"), {}, "log_group_volume", (4,),
     {"field": "quaternion"}),
    ("haar_field", (3, "complex", 5, 9), {}, "haar", (3, 5, 9), {"field": "complex"}),
    ("singular_values_field", (X2, "complex"), {}, "singular_values", (X2,), {"field": "complex"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "old_args", "old_kw", "new", "new_args", "new_kw"), ALIASES, ids=[a[0] for a in ALIASES]
)
def test_deprecated_aliases_warn_and_agree(old, old_args, old_kw, new, new_args, new_kw):
    with pytest.warns(DeprecationWarning, match=f"dlnmc.{old} is deprecated"):
        got = getattr(dlnmc, old)(*old_args, **old_kw)
    np.testing.assert_array_equal(got, getattr(dlnmc, new)(*new_args, **new_kw))


# Modules serving every field: below their public entry points they hand a Field down and
# never compare a field name (a string). The field object itself lives in fields.py.
ONE_ENGINE = ["entropy", "metric", "groups", "sv_law", "exponent", "plots", "reference", "peers"]


@pytest.mark.parametrize("module", ONE_ENGINE)
def test_no_branch_on_a_field_name(module):
    src = (ROOT / "dlnmc" / f"{module}.py").read_text()
    for pattern in (r'field\s*[!=]=\s*"', r'==\s*"(real|complex|quaternion)"', r"check_field\(",
                    r"dyson_index\("):  # fmt: skip
        assert not re.search(pattern, src), (module, pattern)
    assert "importlib" not in src, module
