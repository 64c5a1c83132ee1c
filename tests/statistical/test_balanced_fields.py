"""Balanced-manifold sampling over C and H (issue 7; docs/guide/fields.md).

Acceptance: for b = 2, 4, d = 2, N = 3, beta = 1, Y = 0, constrained HMC on
M_b gives means and 10%/90% quantiles of both singular values that agree with
quadrature of the closed-form law (log_sv_density_field) within 4.5 ArviZ
MCSE; every draw has constraint residual < 1e-10 and R-hat <= 1.01. The same
comparison against the wrong field's law must fail (|z| > 4.5).
"""

import json

import arviz as az
import numpy as np
import pytest
import xarray as xr

from dlnmc._deprecated import entropy_sv_field
from dlnmc.balanced import sample_balanced
from dlnmc.constraint import BalancedConstraint, pack, unpack
from dlnmc.energy import QuadraticEnergy
from dlnmc.fields import check_field_matrix, gaussian_matrix, inner, singular_values_field
from dlnmc.manifold import potential_and_grad as potential_and_grad_field
from dlnmc.network import balanced_dimension, balanced_factorization, end_to_end, tangent_basis
from dlnmc.sv_law import sv_law_moments
from tests.tolerances import Z_TOL as Z_MAX


def FieldBalancedConstraint(d, N, field, **kw):  # the one constraint, over a field
    return BalancedConstraint(d, N, field=field, **kw)


def FieldQuadraticEnergy(field, target=None):  # the one quadratic energy, over a field
    return QuadraticEnergy(target, field=field)


def balanced_dimension_field(d, N, field):
    return balanced_dimension(d, N, field)


def balanced_factorization_field(X, N, field, rng=None):
    return balanced_factorization(X, N, rng=rng, field=field)


def phi_field(W, field):
    return end_to_end(W, field)


def tangent_basis_field(W, field):
    return tangent_basis(W, field)


PROBS = (0.1, 0.9)
FIELDS = ("complex", "quaternion")


@pytest.fixture(scope="module", params=FIELDS)
def hmc(request):
    field = request.param
    seed = {"complex": 2026, "quaternion": 2027}[field]
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=500, n_chains=16, n_warmup=200, seed=seed, field=field
    )
    return field, tree


def _z_scores(tree, law):
    """z of the means and the PROBS quantiles of both singular values against ``law``."""
    s = tree.posterior["singular_values"]
    out = {}
    mcse = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
    out["mean"] = (s.mean(("chain", "draw")).values - law.mean) / mcse
    for k, p in enumerate(PROBS):
        q = s.quantile(p, dim=("chain", "draw")).values
        se = az.mcse(tree, var_names=["singular_values"], method="quantile", prob=p)
        out[f"q{p}"] = (q - law.quantiles[k]) / se["singular_values"].values
    return out


@pytest.mark.slow
def test_hmc_matches_singular_value_law(hmc):
    field, tree = hmc
    z = _z_scores(tree, sv_law_moments(2, 3, 1.0, field, PROBS))
    print(field, {k: np.round(v, 2).tolist() for k, v in z.items()})
    for key, value in z.items():
        assert np.all(np.abs(value) < Z_MAX), (field, key, value)


@pytest.mark.slow
def test_wrong_field_law_is_rejected(hmc):
    # The check can fail: complex draws against the real law, quaternionic draws
    # against the complex law.
    field, tree = hmc
    wrong = {"complex": "real", "quaternion": "complex"}[field]
    z = _z_scores(tree, sv_law_moments(2, 3, 1.0, wrong, PROBS))
    print(field, "vs", wrong, {k: np.round(v, 1).tolist() for k, v in z.items()})
    assert max(np.abs(v).max() for v in z.values()) > Z_MAX
    # A factor 2 in the energy (Re tr(chi^* chi) / 2 without the 1/2 for H, i.e.
    # beta doubled) is rejected too.
    z = _z_scores(tree, sv_law_moments(2, 3, 2.0, field, PROBS))
    print(field, "vs beta = 2", {k: np.round(v, 1).tolist() for k, v in z.items()})
    assert max(np.abs(v).max() for v in z.values()) > Z_MAX


@pytest.mark.slow
@pytest.mark.parametrize(("field", "seed"), [("complex", 11), ("quaternion", 12)])
def test_rwm_matches_singular_value_law(field, seed):
    # FieldRWM's own acceptance rule (reverse tangent step in the component layout)
    # against the quadrature law; the wrong field's law is rejected by the same draws.
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=1000, n_chains=16, n_warmup=300, seed=seed, field=field,
        sampler="rwm", thin=2,
    )  # fmt: skip
    s = tree.posterior["singular_values"]
    mcse = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
    mean = s.mean(("chain", "draw")).values
    z = (mean - sv_law_moments(2, 3, 1.0, field).mean) / mcse
    assert np.all(np.abs(z) < Z_MAX), (field, z)
    wrong = {"complex": "real", "quaternion": "complex"}[field]
    z_wrong = (mean - sv_law_moments(2, 3, 1.0, wrong).mean) / mcse
    assert np.abs(z_wrong).max() > Z_MAX, z_wrong
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10


@pytest.mark.slow
def test_constraint_rhat_and_layout(hmc):
    field, tree = hmc
    b = {"complex": 2, "quaternion": 4}[field]
    stats, post = tree.sample_stats, tree.posterior
    assert float(stats["constraint_residual"].max()) < 1e-10
    rhat = az.rhat(tree, var_names=["singular_values"])["singular_values"].values
    assert np.all(rhat <= 1.01), rhat
    assert post["W"].dims == ("chain", "draw", "layer", "row", "col", "component")
    assert post["W"].shape == (16, 500, 3, 2, 2, b)
    assert post["X"].dims == ("chain", "draw", "row", "col", "component")
    assert post["trace_X"].dims == ("chain", "draw", "component")
    assert post["singular_values"].shape == (16, 500, 2)
    assert list(post["component"].values) == ["re", "i", "j", "k"][:b]
    assert tree.attrs["field"] == field and json.loads(tree.attrs["settings"])["field"] == field
    # Derived variables agree with the stored W, recomputed independently.
    from dlnmc.fields import from_components

    W = from_components(post["W"].values[:2, :50], field)
    X = phi_field(W, field)
    np.testing.assert_allclose(from_components(post["X"].values[:2, :50], field), X, atol=1e-12)
    s = singular_values_field(X, field)
    np.testing.assert_allclose(post["singular_values"].values[:2, :50], s, rtol=1e-9)
    np.testing.assert_allclose(
        post["entropy"].values[:2, :50], entropy_sv_field(s, 3, field), rtol=1e-9
    )
    np.testing.assert_allclose(
        post["energy"].values[:2, :50], 0.5 * (post["X"].values[:2, :50] ** 2).sum((-3, -2, -1))
    )
    assert np.all(stats["acceptance_rate"].mean() > 0.5)


def test_tangent_projection_matches_tangent_basis_field():
    rng = np.random.default_rng(5)
    for field in FIELDS:
        for d, N in [(2, 3), (2, 2), (3, 2), (1, 4)]:
            c = FieldBalancedConstraint(d, N, field)
            W = balanced_factorization_field(gaussian_matrix(d, field, 4, rng), N, field, rng=rng)
            fac = c.factor(pack(W, field))
            T = tangent_basis_field(W, field)
            assert T.shape[-1] == balanced_dimension_field(d, N, field)
            err = np.abs(fac.tangent_proj - T @ np.swapaxes(T, -1, -2)).max()
            assert err < 1e-10, (field, d, N, err)


def test_momenta_are_standard_gaussian_on_the_tangent_space():
    # E|P|^2 = dim M_b for a standard Gaussian in the real inner product; a factor
    # 2 in the quaternionic inner product would double it.
    rng = np.random.default_rng(9)
    n = 4000
    for field in FIELDS:
        c = FieldBalancedConstraint(2, 3, field)
        W = balanced_factorization_field(gaussian_matrix(2, field, n, rng), 3, field, rng=rng)
        Wc = pack(W, field)
        P = c.project_tangent(Wc, rng.standard_normal(Wc.shape), c.factor(Wc))
        sq = np.einsum("cpij,cpij->c", P, P)
        k = balanced_dimension_field(2, 3, field)
        z = (sq.mean() - k) / (sq.std(ddof=1) / np.sqrt(n))
        assert abs(z) < Z_MAX, (field, sq.mean(), k)
        # and |P|^2 is the real inner product of the stored matrices
        np.testing.assert_allclose(sq, inner(unpack(P, field), unpack(P, field), field, 3))


def test_gradient_is_for_the_real_inner_product():
    rng = np.random.default_rng(3)
    for field in FIELDS:
        Y = gaussian_matrix(2, field, (), rng)
        en = FieldQuadraticEnergy(field, Y)
        W = balanced_factorization_field(gaussian_matrix(2, field, 3, rng), 3, field, rng=rng)
        Wc = pack(W, field)
        X, E, g = potential_and_grad_field(Wc, en, 1.5, field)
        np.testing.assert_allclose(E, 0.5 * inner(X - Y, X - Y, field), rtol=1e-13)
        V = rng.standard_normal(Wc.shape)
        h = 1e-6
        fd = (
            potential_and_grad_field(Wc + h * V, en, 1.5, field)[1]
            - potential_and_grad_field(Wc - h * V, en, 1.5, field)[1]
        ) / (2 * h)
        np.testing.assert_allclose(1.5 * fd, np.einsum("cpij,cpij->c", g, V), rtol=1e-6)


def test_projection_keeps_quaternionic_structure_and_converges():
    rng = np.random.default_rng(4)
    c = FieldBalancedConstraint(2, 3, "quaternion")
    W = balanced_factorization_field(gaussian_matrix(2, "quaternion", 6, rng), 3, "quaternion")
    Wc = pack(W, "quaternion")
    fac = c.factor(Wc)
    step = 0.1 * c.project_tangent(Wc, rng.standard_normal(Wc.shape), fac)
    res = c.project_position(Wc, Wc + step, fac)
    assert res.converged.all()
    assert c.residual_norm(res.W).max() < 1e-10
    check_field_matrix(unpack(res.W, "quaternion"), "quaternion", n_axes=3)  # in image(chi)
    assert c.residual_norm(Wc + step).min() > 1e-6  # the step did leave M


def test_field_argument_validation():
    kw = dict(beta=1.0, n_draws=5, n_chains=2, seed=1, n_warmup=2)
    with pytest.raises(ValueError, match=r"field must be one of.*'octonion'"):
        sample_balanced(2, 3, field="octonion", **kw)
    with pytest.raises(ValueError, match="connected"):
        sample_balanced(2, 3, field="complex", component_moves=True, **kw)
    # Before the one-engine merge the field constraint was dense only and refused
    # projection="block" and sizes above b N d^2 = 400; both now work (block chosen
    # automatically above the dense size).
    tree = sample_balanced(2, 3, field="quaternion", projection="block", **kw)
    assert json.loads(tree.attrs["settings"])["projection"] == "block"
    with pytest.raises(ValueError, match="target must have shape"):
        sample_balanced(2, 3, field="quaternion", target=np.eye(2), **kw)
    assert not FieldBalancedConstraint(6, 4, "quaternion").dense


def test_energy_of_another_field_is_refused():
    # Regression: QuadraticEnergy() with field="complex" ran, casting X to its real
    # part (E = |Re X|^2 / 2, a different target); an energy over H used with field
    # "real" or "complex" would halve or misread the inner product.
    from dlnmc.energy import QuadraticEnergy

    kw = dict(beta=1.0, n_draws=5, n_chains=2, seed=1, n_warmup=2)
    with pytest.raises(ValueError, match="over field 'real'"):
        sample_balanced(2, 3, field="complex", energy=QuadraticEnergy(), **kw)
    with pytest.raises(ValueError, match="over field 'quaternion'"):
        sample_balanced(2, 3, energy=FieldQuadraticEnergy("quaternion"), **kw)
    with pytest.raises(ValueError, match="over field 'complex'"):
        sample_balanced(2, 3, field="quaternion", energy=FieldQuadraticEnergy("complex"), **kw)
    tree = sample_balanced(2, 3, field="complex", energy=FieldQuadraticEnergy("complex"), **kw)
    X = tree.posterior["X"].values
    np.testing.assert_allclose(tree.posterior["energy"].values, 0.5 * (X**2).sum((-3, -2, -1)))


def test_field_real_is_the_default_path_and_seeds_reproduce():
    kw = dict(beta=1.0, n_draws=10, n_chains=3, seed=8, n_warmup=5)
    a = sample_balanced(2, 3, **kw)
    b = sample_balanced(2, 3, field="real", **kw)
    np.testing.assert_array_equal(a.posterior["W"].values, b.posterior["W"].values)
    assert a.posterior["W"].dims == ("chain", "draw", "layer", "row", "col")
    c1 = sample_balanced(2, 3, field="complex", **kw).posterior["W"].values
    c2 = sample_balanced(2, 3, field="complex", **kw).posterior["W"].values
    np.testing.assert_array_equal(c1, c2)


def test_rwm_target_and_custom_energy_run(tmp_path):
    Y = gaussian_matrix(2, "complex", (), 1)
    tree = sample_balanced(
        2, 2, beta=1.0, n_draws=20, n_chains=2, seed=3, n_warmup=10, field="complex",
        sampler="rwm", target=Y,
    )  # fmt: skip
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10
    X = tree.posterior["X"].values
    Yc = np.stack([Y.real, Y.imag], axis=-1)
    np.testing.assert_allclose(
        tree.posterior["energy"].values, 0.5 * ((X - Yc) ** 2).sum((-3, -2, -1)), rtol=1e-12
    )
    np.testing.assert_allclose(json.loads(tree.attrs["target"]), Yc)

    class Quartic:  # |X|^4 / 4 in the quaternionic real inner product
        def value(self, X):
            return 0.25 * inner(X, X, "quaternion") ** 2

        def grad(self, X):
            return inner(X, X, "quaternion")[..., None, None] * X

    tree = sample_balanced(
        2, 2, beta=1.0, n_draws=10, n_chains=2, seed=3, n_warmup=5, field="quaternion",
        energy=Quartic(),
    )  # fmt: skip
    tree.to_netcdf(tmp_path / "q.nc", engine="h5netcdf")  # real-valued: storable
    back = xr.open_datatree(tmp_path / "q.nc", engine="h5netcdf")
    np.testing.assert_array_equal(back["posterior"]["W"].values, tree.posterior["W"].values)


@pytest.mark.slow
def test_tiny_balanced_fields_study_runs(tmp_path):
    from dlnmc.studies import load_result, parse_study, run_study
    from dlnmc.studies.shipped import shipped_studies

    text = shipped_studies()["balanced_fields"][0].read_text()
    text = text.replace("n_draws = 1000", "n_draws = 30").replace("n_warmup = 300", "n_warmup = 20")
    text = text.replace("n_chains = 8", "n_chains = 2")
    tree = run_study(parse_study(text), tmp_path / "bf.nc", progress=False)
    ds = tree["results/balanced"].to_dataset()
    assert list(ds["field"].values) == ["real", "complex", "quaternion"]
    assert "q90_s2" in ds["statistic"].values
    cf = ds["closed_form"].sel(statistic="mean_s1").values.ravel()
    np.testing.assert_allclose(
        cf, [sv_law_moments(2, 3, 1.0, f).mean[0] for f in ds["field"].values]
    )
    assert np.isfinite(ds["z_score"].values).all()
    ens = load_result(tmp_path / "bf.nc")["ensembles/balanced"]
    assert any("quaternion" in k for k in ens.children)
