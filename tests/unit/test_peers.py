"""emcee and mici output in dlnmc's ensemble layout."""

from __future__ import annotations

import emcee
import numpy as np
import pytest

from dlnmc.entropy import entropy_sv
from dlnmc.network import end_to_end
from dlnmc.peers import add_derived, from_emcee, from_mici
from dlnmc.storage import load_tree, save_tree


def _emcee_run(n_steps=300, walkers=8, ndim=4, seed=0):
    rng = np.random.default_rng(seed)
    sampler = emcee.EnsembleSampler(walkers, ndim, lambda x: -0.5 * (x * x).sum(-1),
                                    vectorize=True)  # fmt: skip
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(rng.normal(size=(walkers, ndim)), n_steps)
    return sampler


def test_from_emcee_layout_and_derived(tmp_path):
    sampler = _emcee_run()
    tree = from_emcee(sampler, layout={"X": (2, 2)}, discard=100, thin=2, depth=3)
    post = tree["posterior"]
    assert post["X"].dims == ("chain", "draw", "row", "col")
    assert post.sizes["chain"] == 8 and post.sizes["draw"] == 100
    chain = sampler.get_chain(discard=100, thin=2)  # (step, walker, ndim)
    np.testing.assert_array_equal(post["X"].values[3, 7], chain[7, 3].reshape(2, 2))
    s = post["singular_values"].values
    assert np.all(s[..., 0] >= s[..., 1])
    np.testing.assert_allclose(post["entropy"].values, entropy_sv(s, 3))
    np.testing.assert_allclose(post["energy"].values, 0.5 * (post["X"].values ** 2).sum((-1, -2)))
    np.testing.assert_array_equal(
        tree["sample_stats"]["lp"].values, sampler.get_log_prob(discard=100, thin=2).T
    )
    assert tree.attrs["sampler"] == "emcee" and tree.attrs["acceptance_fraction"].shape == (8,)
    loaded = load_tree(save_tree(tree, tmp_path / "emcee.nc"))
    import arviz as az

    assert set(az.summary(loaded).index) >= {"X[0, 0]", "singular_values[1]", "entropy"}


def test_from_emcee_array_and_errors():
    chain = np.random.default_rng(0).random((50, 6, 3)) + 0.1
    tree = from_emcee(chain, layout={"singular_values": (3,)}, discard=10)
    assert tree["posterior"]["singular_values"].shape == (6, 40, 3)
    assert "entropy" not in tree["posterior"]  # no depth given
    with pytest.raises(ValueError, match="needs 4 parameters"):
        from_emcee(chain, layout={"X": (2, 2)})
    with pytest.raises(ValueError, match="n_steps, n_walkers, ndim"):
        from_emcee(chain[0])


def test_from_mici_real_run():
    mici = pytest.importorskip("mici")
    rng = np.random.default_rng(0)
    N, d = 3, 2
    out = mici.sample_hmc_chains(
        n_warm_up_iter=20, n_main_iter=30,
        init_states=[rng.normal(size=N * d * d) for _ in range(2)],
        neg_log_dens=lambda q: 0.5 * q @ q, grad_neg_log_dens=lambda q: q,
        seed=1, n_worker=1, display_progress=False,
    )  # fmt: skip
    tree = from_mici(out, layout={"pos": {"W": (N, d, d)}}, depth=N)
    post, stats = tree["posterior"], tree["sample_stats"]
    assert post["W"].dims == ("chain", "draw", "layer", "row", "col")
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 30
    np.testing.assert_array_equal(
        post["W"].values[1], np.asarray(out.traces["pos"][1]).reshape(30, N, d, d)
    )
    np.testing.assert_allclose(post["X"].values, end_to_end(post["W"].values))
    assert {"acceptance_rate", "n_steps", "step_size", "diverging", "hamiltonian"} <= set(stats)
    assert tree.attrs["sampler"] == "mici"


def test_from_mici_dict_and_errors():
    traces = {"x": [np.zeros((5, 2)), np.ones((5, 2))]}
    stats = {"integration": {"accept_stat": [np.ones(5), np.ones(5)]}}
    tree = from_mici(traces, stats)
    assert tree["posterior"]["x"].shape == (2, 5, 2)
    assert "integration_accept_stat" in tree["sample_stats"]
    with pytest.raises(TypeError, match="traces"):
        from_mici({})


def test_add_derived_with_target():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(2, 5, 3, 2, 2))
    Y = np.diag([1.0, 2.0])
    post = add_derived({"W": W}, 3, target=Y)
    X = end_to_end(W)
    np.testing.assert_allclose(post["X"], X)
    np.testing.assert_allclose(post["energy"], 0.5 * ((X - Y) ** 2).sum((-1, -2)))
    np.testing.assert_allclose(post["trace_X"], np.trace(X, axis1=-2, axis2=-1))


@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_from_emcee_over_a_field_derives_that_fields_variables(field):
    """A chain in real components of X over C or H: singular values over F, S_b, the
    energy of the real inner product, tr_F X by component; the field is recorded."""
    from dlnmc.fields import resolve_field

    F = resolve_field(field)
    d, N = 2, 3
    sampler = _emcee_run(ndim=F.b * d * d, walkers=2 * F.b * d * d)
    tree = from_emcee(sampler, layout={"X": (d, d, F.b)}, discard=100, depth=N, field=field)
    post = tree["posterior"]
    comps = post["X"].values
    X = F.from_components(comps)
    s = post["singular_values"].values
    np.testing.assert_allclose(s, F.singular_values_unchecked(X), rtol=1e-12)
    np.testing.assert_allclose(post["entropy"].values, entropy_sv(s, N, field=field))
    assert not np.allclose(post["entropy"].values, entropy_sv(s, N))  # not the real formula
    np.testing.assert_allclose(post["energy"].values, 0.5 * (comps**2).sum((-3, -2, -1)))
    np.testing.assert_allclose(post["trace_X"].values, comps[..., 0, 0, :] + comps[..., 1, 1, :])
    assert tree.attrs["field"] == field
    # Layers in components give X = W_N ... W_1 over F.
    W = F.gaussian(d, (2, 5, N), np.random.default_rng(1))
    derived = add_derived({"W": F.to_components(W)}, N, field=field)
    np.testing.assert_allclose(
        F.from_components(derived["X"]), W[:, :, 2] @ W[:, :, 1] @ W[:, :, 0], atol=1e-12
    )
