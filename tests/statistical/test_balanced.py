"""sample_balanced: the DataTree contract, and the law of X for a non-zero target.

d = 3, N = 4, target Y != 0: the HMC ensemble on M and the emcee reference on
X (d^2 dimensions, log density -beta E(X) + log rho(X)) must agree on means and
10%/90% quantiles of every singular value and of tr X within 4.5 combined MCSE;
the exponent of D_ij must come out 1/2.
"""

import arviz as az
import numpy as np
import pytest
import xarray as xr

from dlnmc.balanced import sample_balanced
from dlnmc.exponent import estimate_exponent
from dlnmc.reference import reference_end_to_end
from tests.tolerances import Z_TOL as Z_MAX

Y = np.array([[1.5, 0.3, 0.0], [0.0, 1.0, -0.4], [0.2, 0.0, 0.5]])


@pytest.fixture(scope="module")
def hmc_tree():
    return sample_balanced(
        3, 4, beta=1.0, n_draws=1000, n_chains=16, seed=41, target=Y, n_warmup=300
    )


@pytest.fixture(scope="module")
def ref_tree():
    return reference_end_to_end(3, 4, beta=1.0, n_draws=4000, seed=42, target=Y)


def _summaries(tree):
    out = {}
    for name in ("singular_values", "trace_X"):
        x = tree.posterior[name]
        out[name, "mean"] = (
            x.mean(("chain", "draw")).values,
            az.mcse(tree, var_names=[name])[name].values,
        )
        for q in (0.1, 0.9):
            out[name, q] = (
                x.quantile(q, dim=("chain", "draw")).values,
                az.mcse(tree, var_names=[name], method="quantile", prob=q)[name].values,
            )
    return out


@pytest.mark.slow
def test_hmc_agrees_with_emcee_reference_on_X(hmc_tree, ref_tree):
    a, b = _summaries(hmc_tree), _summaries(ref_tree)
    for key in a:
        z = (a[key][0] - b[key][0]) / np.hypot(a[key][1], b[key][1])
        assert np.all(np.abs(z) < Z_MAX), (key, a[key], b[key], z)


@pytest.mark.slow
def test_diagnostics_and_constraint(hmc_tree):
    rhat = az.rhat(hmc_tree, var_names=["singular_values"])["singular_values"].values
    assert np.all(rhat <= 1.01), rhat
    assert float(hmc_tree.sample_stats["constraint_residual"].max()) < 1e-10


@pytest.mark.slow
def test_alpha_hat_nonzero_target(hmc_tree, ref_tree):
    est = estimate_exponent(hmc_tree, reference=ref_tree)
    assert abs(est.z_score) < Z_MAX, est
    assert abs(est.z_against(0.0)) > Z_MAX and abs(est.z_against(1.0)) > Z_MAX, est


@pytest.mark.slow
def test_alpha_hat_rejects_wrong_density_nonzero_target(ref_tree):
    wrong = reference_end_to_end(3, 4, beta=1.0, n_draws=1500, seed=43, target=Y, alpha=1.0)
    est = estimate_exponent(wrong, reference=ref_tree)
    assert abs(est.z_score) > Z_MAX, est


def test_tree_layout():
    tree = sample_balanced(2, 3, beta=1.0, n_draws=20, n_chains=3, seed=1, n_warmup=10)
    assert isinstance(tree, xr.DataTree)
    post, stats = tree.posterior, tree.sample_stats
    assert post["W"].dims == ("chain", "draw", "layer", "row", "col")
    assert post["W"].shape == (3, 20, 3, 2, 2)
    assert post["X"].dims == ("chain", "draw", "row", "col")
    assert post["singular_values"].dims == ("chain", "draw", "sv")
    for name in ("entropy", "energy", "trace_X"):
        assert post[name].dims == ("chain", "draw")
    for name in (
        "acceptance_rate",
        "step_size",
        "projection_iterations",
        "projection_failures",
        "reverse_check_failures",
        "constraint_residual",
    ):
        assert stats[name].dims == ("chain", "draw")
    for key in ("width", "depth", "beta", "seed", "sampler", "settings"):
        assert key in tree.attrs
    s = post["singular_values"].values
    assert np.all(np.diff(s, axis=-1) <= 0)
    X = post["X"].values
    np.testing.assert_allclose(post["trace_X"].values, np.trace(X, axis1=-2, axis2=-1))
    np.testing.assert_allclose(post["energy"].values, 0.5 * (X**2).sum((-1, -2)), rtol=1e-12)
    summary = az.summary(tree)  # no arguments
    assert len(summary) > 0


def test_same_seed_same_result():
    kw = dict(beta=1.0, n_draws=15, n_chains=4, seed=123, n_warmup=10)
    a = sample_balanced(2, 3, **kw).posterior["W"].values
    b = sample_balanced(2, 3, **kw).posterior["W"].values
    np.testing.assert_array_equal(a, b)


def test_custom_energy():
    class Quartic:
        def value(self, X):
            return 0.25 * ((X**2).sum((-1, -2))) ** 2

        def grad(self, X):
            return (X**2).sum((-1, -2))[..., None, None] * X

    tree = sample_balanced(
        2, 2, beta=1.0, n_draws=30, n_chains=4, seed=2, n_warmup=20, energy=Quartic(), sampler="rwm"
    )
    X = tree.posterior["X"].values
    np.testing.assert_allclose(tree.posterior["energy"].values, Quartic().value(X))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(beta=0.0), ValueError, "beta"),
        (dict(beta=float("nan")), ValueError, "beta"),
        (dict(sampler="nuts"), ValueError, "sampler"),
        (dict(n_draws=0), ValueError, "n_draws"),
        (dict(n_chains=2.5), TypeError, "n_chains"),
        (dict(target=np.eye(3)), ValueError, "target"),
        (dict(target=np.eye(2), energy=object()), ValueError, "either"),
        (dict(energy=object()), TypeError, "energy"),
        (dict(step_size=0.1, n_leapfrog=0), ValueError, "n_leapfrog"),
        (dict(beta="1"), TypeError, "beta"),
        (dict(beta=True), TypeError, "beta"),
        (dict(beta=[1.0, 2.0]), TypeError, "beta"),
        (dict(beta=-1.0), ValueError, "beta"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(seed=True), TypeError, "seed"),
        (dict(sampler=["hmc"]), TypeError, "sampler"),
        (dict(step_size=0.0), ValueError, "step_size"),
        (dict(step_size=float("inf")), ValueError, "step_size"),
        (dict(step_size="0.1"), TypeError, "step_size"),
        (dict(target_accept=1.0), ValueError, "target_accept"),
        (dict(target_accept=0.0), ValueError, "target_accept"),
        (dict(projection_tol=0.0), ValueError, "projection_tol"),
        (dict(max_newton=0), ValueError, "max_newton"),
        (dict(max_newton=2.5), TypeError, "max_newton"),
        (dict(sampler="rwm", n_leapfrog=3), ValueError, "'rwm'.*'n_leapfrog'"),
        (dict(sampler="hmc", stepsize=0.1), ValueError, "'hmc'.*'stepsize'"),
    ],
)
def test_bad_input(kwargs, exc, match):
    base = dict(beta=1.0, n_draws=5, n_chains=2, seed=0, n_warmup=0)
    with pytest.raises(exc, match=match):
        sample_balanced(2, 3, **{**base, **kwargs})


def test_seed_none_draws_and_records_a_seed(tmp_path):
    from dlnmc.storage import load_tree, save_tree

    kw = dict(beta=1.0, n_draws=3, n_chains=2, n_warmup=2, sampler="rwm")
    tree = sample_balanced(2, 2, seed=None, **kw)
    seed = tree.attrs["seed"]
    assert isinstance(seed, int) and seed >= 0
    again = sample_balanced(2, 2, seed=seed, **kw)  # the recorded seed reproduces the run
    np.testing.assert_array_equal(tree["posterior"]["W"].values, again["posterior"]["W"].values)
    assert load_tree(save_tree(tree, tmp_path / "t.nc")).attrs["seed"] == seed


def test_blas_threads_restored_after_an_exception(monkeypatch):
    from threadpoolctl import threadpool_info

    from dlnmc.samplers import ConstrainedRWM

    def boom(self, state, rng, adapt):
        raise KeyboardInterrupt

    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    monkeypatch.setattr(ConstrainedRWM, "step", boom)
    with pytest.raises(KeyboardInterrupt):
        sample_balanced(
            2, 2, beta=1.0, n_draws=3, n_chains=2, seed=0, sampler="rwm", blas_threads=1
        )
    after = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    assert after == before
