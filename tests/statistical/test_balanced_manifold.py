"""The balanced-manifold object, its moves and backends, and ArviZ's sample_stats names.

- ``BalancedManifold``: components, dimension, starting points on M, the Jacobi projection
  chosen above the dense size for every field (block on request), a projection strategy
  handed in as an object;
- ``GaugeMove``: keeps X and M and changes the gauge;
- ``diverging`` is true exactly where the projection or the reverse check failed, and
  such transitions are rejected;
- ``out=path`` streams draws to a file equal, bit for bit, to the in-memory result, and
  ArviZ draws a trace plot of that file with no arguments;
- law tests (slow): block projection forced over C and H at d = 2, N = 3 against the
  singular-value law, with the wrong field's law as decoy.
"""

import json

import arviz as az
import numpy as np
import pytest
import xarray as xr

import dlnmc.balanced as balanced
from dlnmc.balanced import sample_balanced
from dlnmc.constraint import BalancedConstraint
from dlnmc.energy import QuadraticEnergy
from dlnmc.manifold import BalancedManifold, Projection
from dlnmc.moves import ComponentMove, GaugeMove
from dlnmc.network import balanced_dimension
from dlnmc.sv_law import sv_law_moments
from tests.tolerances import Z_TOL as Z_MAX

PROBS = (0.1, 0.9)
FIELDS = ("real", "complex", "quaternion")
KW = dict(beta=1.0, n_chains=3, n_warmup=10)


@pytest.mark.parametrize("field", FIELDS)
def test_manifold_describes_itself(field):
    m = BalancedManifold(2, 3, field)
    b = m.field.b
    assert m.shape == (3, 2, 2 * b)
    assert m.dim == balanced_dimension(2, 3, field)
    assert m.n_components == (8 if b == 1 else 1)
    W = m.random_point(5, np.random.default_rng(1))
    assert W.shape == (5, *m.shape) and W.dtype == np.float64
    assert m.residual_norm(W).max() < 1e-12
    X, E, g = m.potential(W, QuadraticEnergy(field=field), 1.0)
    np.testing.assert_allclose(X, m.phi(W))
    assert g.shape == W.shape and E.shape == (5,)


@pytest.mark.parametrize("field", FIELDS)
def test_block_projection_is_chosen_above_the_dense_size(field):
    # "auto" now picks the Jacobi-frame projection above the dense size (faster than
    # the block LU there, tests/statistical/test_projection_jacobi.py); block stays selectable.
    assert BalancedManifold(2, 3, field).projection_name == "dense"
    assert BalancedManifold(4, 8, field).projection_name == "jacobi"
    assert BalancedManifold(2, 3, field, projection="block").projection_name == "block"


@pytest.mark.parametrize(("field", "d", "N"), [("quaternion", 4, 8), ("complex", 6, 8)])
def test_sizes_the_old_field_code_refused_now_run(field, d, N):
    # Before the merge: "the field constraint is dense only: b N d^2 = 512 exceeds 400".
    tree = sample_balanced(d, N, n_draws=2, seed=4, field=field, **{**KW, "n_warmup": 2})
    assert json.loads(tree.attrs["settings"])["projection"] == "jacobi"  # auto, above dense
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10


class CountingProjection:
    """A projection strategy handed in as an object (wraps the block solver, counts calls)."""

    def __init__(self, d, N, field):
        self.inner = BalancedConstraint(d, N, field=field, mode="block")
        self.tol, self.max_iter = self.inner.tol, self.inner.max_iter
        self.calls = 0

    def factor(self, W):
        return self.inner.factor(W)

    def project_tangent(self, W, V, factor):
        return self.inner.project_tangent(W, V, factor)

    def project_position(self, W0, Wt, factor0, active=None):
        self.calls += 1
        return self.inner.project_position(W0, Wt, factor0, active)

    def residual_norm(self, W):
        return self.inner.residual_norm(W)


def test_a_projection_strategy_is_one_object_handed_in():
    proj = CountingProjection(2, 3, "complex")
    assert isinstance(proj, Projection)
    kw = dict(n_draws=5, seed=2, field="complex", **KW)
    tree = sample_balanced(2, 3, projection=proj, **kw)
    assert proj.calls > 0
    assert json.loads(tree.attrs["settings"])["projection"] == "CountingProjection"
    # Same solver by name: the same draws.
    ref = sample_balanced(2, 3, projection="block", **kw)
    np.testing.assert_array_equal(tree.posterior["W"].values, ref.posterior["W"].values)
    with pytest.raises(TypeError, match="projection must be"):
        BalancedManifold(2, 3, projection=42)


@pytest.mark.parametrize("field", FIELDS)
def test_gauge_move_keeps_X_and_M_and_moves_the_gauge(field):
    m = BalancedManifold(3, 4, field)
    rng = np.random.default_rng(7)
    W = m.random_point(6, rng)
    X = m.phi(W)
    W2, _, _, stats = GaugeMove().apply(m, W, X, np.zeros(6), QuadraticEnergy(), 1.0, rng)
    assert stats == {}
    np.testing.assert_allclose(m.phi(W2), X, atol=1e-10)
    assert m.residual_norm(W2).max() < 1e-10
    assert np.abs(W2 - W).max() > 0.1  # the gauge did change
    np.testing.assert_allclose(np.abs(W2).sum(axis=(-3, -2, -1)) > 0, True)


def test_component_move_is_refused_on_a_connected_manifold():
    with pytest.raises(ValueError, match="connected"):
        ComponentMove().check(BalancedManifold(2, 3, "complex"))
    ComponentMove().check(BalancedManifold(2, 3))


def test_moves_compose_and_are_recorded():
    tree = sample_balanced(2, 3, n_draws=5, seed=3, moves=[ComponentMove(), GaugeMove()], **KW)
    s = json.loads(tree.attrs["settings"])
    assert s["component_moves"] is True and s["moves"] == ["GaugeMove()"]
    assert "det_flip" in tree.sample_stats
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sampler", "field", "projection"),
    [("hmc", "real", "auto"), ("rwm", "real", "dense"), ("hmc", "complex", "block")],
)
def test_diverging_is_exactly_projection_or_reverse_failure(sampler, field, projection):
    # A large fixed step and few Newton iterations make projections fail often.
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=60, n_chains=4, n_warmup=0, seed=11, sampler=sampler,
        field=field, projection=projection, step_size=0.3, max_newton=8,
    )  # fmt: skip
    st = tree.sample_stats
    div = st["diverging"].values
    assert div.dtype == bool
    expected = st["projection_failures"].values | st["reverse_check_failures"].values
    np.testing.assert_array_equal(div, expected)
    assert div.any() and not div.all()  # the check can fail either way
    assert not st["accepted"].values[div].any()  # a divergent transition is rejected
    # lp is the log target density -beta E of the stored draw.
    np.testing.assert_allclose(st["lp"].values, -tree.posterior["energy"].values)
    n_steps = st["n_steps"].values
    if sampler == "hmc":
        assert n_steps.min() >= 1 and n_steps.max() <= 8
        # a divergent trajectory stops early in some chains
        assert (n_steps[div] < 8).any()
    else:
        assert (n_steps == 0).all()


def _assert_same_tree(a, b):
    for group in ("posterior", "sample_stats"):
        da, db = a[group].to_dataset(), b[group].to_dataset()
        assert set(da.data_vars) == set(db.data_vars)
        for name in da.data_vars:
            va, vb = da[name].values, db[name].values
            assert va.dtype == vb.dtype, (group, name, va.dtype, vb.dtype)
            assert da[name].dims == db[name].dims
            np.testing.assert_array_equal(va, vb, err_msg=f"{group}/{name}")
        for c in da.coords:
            np.testing.assert_array_equal(da[c].values, db[c].values)
    for k in ("width", "depth", "seed", "settings", "field", "target", "sampler"):
        assert a.attrs.get(k) == b.attrs.get(k), k


@pytest.mark.slow
@pytest.mark.parametrize("field", FIELDS)
def test_streamed_file_equals_the_in_memory_result(field, tmp_path, monkeypatch):
    monkeypatch.setattr(balanced, "CHUNK_DRAWS", 7)  # several chunks plus a partial one
    kw = dict(n_draws=30, seed=21, field=field, thin=2, **KW)
    mem = sample_balanced(2, 3, **kw)
    path = tmp_path / "run.nc"
    disk = sample_balanced(2, 3, out=path, **kw)
    _assert_same_tree(mem, disk)
    disk.close()
    back = xr.open_datatree(path, engine="h5netcdf")
    _assert_same_tree(mem, back)
    back.close()


def test_streamed_file_has_the_root_attributes_of_the_in_memory_tree(tmp_path):
    """Same attribute names and values (an unset target is absent from both, not None)."""
    kw = dict(n_draws=5, seed=2, **KW)
    mem = sample_balanced(2, 3, **kw)
    disk = sample_balanced(2, 3, out=tmp_path / "run.nc", **kw)
    assert set(mem.attrs) == set(disk.attrs)
    assert {k: str(v) for k, v in mem.attrs.items()} == {k: str(v) for k, v in disk.attrs.items()}
    disk.close()


def test_failed_streaming_run_leaves_no_file(tmp_path):
    path = tmp_path / "run.nc"

    class Exploding:
        def value(self, X):
            raise RuntimeError("boom")

        def grad(self, X):
            return X

    with pytest.raises(RuntimeError, match="boom"):
        sample_balanced(2, 3, n_draws=5, seed=1, out=path, energy=Exploding(), **KW)
    assert not path.exists() and not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="either out"):
        from dlnmc.backends import MemoryBackend

        sample_balanced(2, 3, n_draws=5, seed=1, out=path, backend=MemoryBackend(), **KW)


@pytest.mark.slow
def test_arviz_trace_plot_of_a_saved_file_draws_without_arguments(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    path = tmp_path / "run.nc"
    tree = sample_balanced(
        2, 3, beta=1.0, n_chains=3, n_warmup=0, n_draws=40, seed=5, out=path,
        step_size=0.3, max_newton=8,
    )  # fmt: skip
    assert tree.sample_stats["diverging"].values.any()  # the rug has something to show
    tree.close()
    pc = az.plot_trace(xr.open_datatree(path, engine="h5netcdf"))
    assert pc is not None
    import matplotlib.pyplot as plt

    plt.close("all")


def _z_scores(tree, law):
    s = tree.posterior["singular_values"]
    mcse = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
    out = {"mean": (s.mean(("chain", "draw")).values - law.mean) / mcse}
    for k, p in enumerate(PROBS):
        q = s.quantile(p, dim=("chain", "draw")).values
        se = az.mcse(tree, var_names=["singular_values"], method="quantile", prob=p)
        out[f"q{p}"] = (q - law.quantiles[k]) / se["singular_values"].values
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("field", "seed"), [("complex", 301), ("quaternion", 302)])
def test_block_projection_matches_the_singular_value_law(field, seed):
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=500, n_chains=16, n_warmup=200, seed=seed, field=field,
        projection="block",
    )  # fmt: skip
    assert json.loads(tree.attrs["settings"])["projection"] == "block"
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10
    z = _z_scores(tree, sv_law_moments(2, 3, 1.0, field, PROBS))
    print(field, {k: np.round(v, 2).tolist() for k, v in z.items()})
    for key, value in z.items():
        assert np.all(np.abs(value) < Z_MAX), (field, key, value)
    # Decoy: the same draws against the wrong field's law are rejected.
    wrong = {"complex": "real", "quaternion": "complex"}[field]
    z = _z_scores(tree, sv_law_moments(2, 3, 1.0, wrong, PROBS))
    assert max(np.abs(v).max() for v in z.values()) > Z_MAX


def test_gauge_move_makes_the_gauge_uniform_on_the_fibre():
    # From the symmetric factorization (Q_1 = U: the frames of W_1 W_1^* and X X^* agree)
    # one gauge move must leave Q_1 Haar-distributed independently of U. For d = 2 the
    # squared cosine between the top eigenvectors of W_1 W_1^T and X X^T then has mean 1/2
    # (uniform angle); before the move it is 1 (the decoy the same statistic rejects).
    from dlnmc.network import balanced_factorization

    rng = np.random.default_rng(17)
    n = 4000
    m = BalancedManifold(2, 2)
    X = rng.standard_normal((n, 2, 2))
    W = balanced_factorization(X, 2)  # no gauge draw: Q_1 = U

    def cos2(W):
        top_w = np.linalg.eigh(W[:, 0] @ np.swapaxes(W[:, 0], -1, -2))[1][..., -1]
        top_x = np.linalg.eigh(X @ np.swapaxes(X, -1, -2))[1][..., -1]
        return np.einsum("ci,ci->c", top_w, top_x) ** 2

    def z(c):
        return (c.mean() - 0.5) / (c.std(ddof=1) / np.sqrt(n))

    assert abs(z(cos2(W))) > 50  # decoy: the symmetric gauge is far from uniform
    W2, _, _, _ = GaugeMove().apply(m, W, X, np.zeros(n), QuadraticEnergy(), 1.0, rng)
    np.testing.assert_allclose(m.phi(W2), X, atol=1e-10)
    assert abs(z(cos2(W2))) < Z_MAX
