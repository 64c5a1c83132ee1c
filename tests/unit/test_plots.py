"""Figures, and the importance-sampled reference of the closed-form singular-value law."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from dlnmc.ensemble import build_tree
from dlnmc.plots import (
    plot_orbit_volumes,
    plot_result,
    plot_sv_histograms,
    plot_z_scores,
    reference_sv_sample,
)
from dlnmc.sv_law import sv_law_moments
from tests.tolerances import Z_TOL

PNG = b"\x89PNG\r\n\x1a\n"


def test_reference_sample_matches_quadrature():
    # Importance sampling of the closed-form law in Z coordinates; tolerance 4.5 s.e.
    ref = reference_sv_sample(width=2, depth=3, beta=1.0, n_proposals=50_000, seed=3)
    z = (ref.mean() - sv_law_moments(2, 3, 1.0).mean) / ref.stderr()
    assert np.all(np.abs(z) < Z_TOL), z
    assert ref.ess > 5_000
    assert np.all(np.diff(ref.singular_values, axis=1) <= 0)


def test_reference_sample_rejects_bad_target():
    with pytest.raises(ValueError, match="shape"):
        reference_sv_sample(width=2, depth=3, beta=1.0, target=np.eye(3))


def _sv_tree(n_chains=4, n_draws=200, seed=0):
    # Exact independent draws of the d=2, N=3 law by importance resampling.
    ref = reference_sv_sample(width=2, depth=3, beta=1.0, n_proposals=40_000, seed=seed)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ref.weights), size=n_chains * n_draws, p=ref.weights)
    s = ref.singular_values[idx].reshape(n_chains, n_draws, 2)
    return build_tree({"singular_values": s}, attrs={"depth": 3, "beta": 1.0, "sampler": "test"})


@pytest.mark.slow
def test_sv_histograms_and_result_plots(tmp_path):
    tree = _sv_tree()
    out = plot_sv_histograms(tree, tmp_path / "sv.png", depth=3, beta=1.0)
    assert out.read_bytes()[:8] == PNG
    paths = plot_result(tree, tmp_path, stem="ens")
    assert [p.name for p in paths] == ["ens_sv_histograms.png", "ens_trace.png", "ens_rank.png"]
    assert all(p.read_bytes()[:8] == PNG for p in paths)
    with pytest.raises(ValueError, match=r"\.png"):
        plot_sv_histograms(tree, tmp_path / "sv.pdf", depth=3, beta=1.0)
    with pytest.raises(ValueError, match="singular_values"):
        plot_sv_histograms(build_tree({"X": np.ones((1, 2, 2, 2))}), tmp_path / "x.png", depth=3,
                           beta=1.0)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("with_reference", [False, True])
def test_sv_histograms_over_a_field_draw_that_fields_law(tmp_path, monkeypatch, with_reference):
    # The closed-form curve and means of a complex ensemble must be the law over C.
    # (Regression: with reference given, the field path fell back to the real code,
    # which drew and compared against the law over R.)
    import dlnmc.plots as plots

    seen = []

    def spy(fn):
        def wrapped(*args, **kwargs):
            seen.append((fn.__name__, args[3] if len(args) > 3 else kwargs.get("field", "real")))
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(plots, "sv_law_moments", spy(sv_law_moments))
    monkeypatch.setattr(plots, "sv_marginal_density", spy(plots.sv_marginal_density))
    tree = _sv_tree(n_chains=2, n_draws=100)
    ref = tree.posterior["singular_values"].values.reshape(-1, 2) if with_reference else None
    out = plot_sv_histograms(
        tree, tmp_path / "c.png", depth=3, beta=1.0, field="complex", reference=ref
    )
    assert out.read_bytes()[:8] == PNG
    names = {name for name, _ in seen}
    assert names == {"sv_law_moments", "sv_marginal_density"}, seen
    assert all(field == "complex" for _, field in seen), seen
    with pytest.raises(ValueError, match="give reference"):
        plot_sv_histograms(tree, tmp_path / "t.png", depth=3, beta=1.0, field="complex",
                           target=np.eye(2))  # fmt: skip
    with pytest.raises(ValueError, match="field must be one of"):
        plot_sv_histograms(tree, tmp_path / "t.png", depth=3, beta=1.0, field="Complex")


def _orbit_table():
    rng = np.random.default_rng(1)
    cf = np.array([[3.0, 6.0, 9.0], [6.0, 12.0, 19.0]])
    se = np.full_like(cf, 0.01)
    mc = cf + se * rng.normal(size=cf.shape)
    return xr.Dataset(
        {
            "log_volume_mc": (("width", "depth"), mc),
            "stderr": (("width", "depth"), se),
            "closed_form": (("width", "depth"), cf),
            "z_score": (("width", "depth"), (mc - cf) / se),
        },
        coords={"width": [2, 3], "depth": [2, 3, 4]},
    )


def test_orbit_and_z_plots(tmp_path):
    ds = _orbit_table()
    assert plot_orbit_volumes(ds, tmp_path / "o.png").read_bytes()[:8] == PNG
    assert plot_z_scores(ds, tmp_path / "z.png").read_bytes()[:8] == PNG
    paths = plot_result(ds, tmp_path, stem="study")
    assert [p.name for p in paths] == ["study_orbit_volumes.png", "study_z_scores.png"]
    with pytest.raises(ValueError, match="stderr"):
        plot_orbit_volumes(ds.drop_vars("stderr"), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="no finite"):
        plot_z_scores(ds["z_score"] * np.nan, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("field", ["complex", "quaternion"])
def test_plot_result_over_a_field_draws_that_fields_law(tmp_path, monkeypatch, field):
    """The curve drawn for a C or H ensemble is the law of its own field, read from the
    ensemble's ``field`` attribute; the same check rejects the real law (the decoy)."""
    import dlnmc.plots as plots
    from dlnmc.reference import reference_singular_values
    from dlnmc.sv_law import sv_marginal_density

    figures = []
    save = plots._save

    def keep(fig, path):
        if str(path).endswith("_sv_histograms.png"):
            figures.append([(line.get_xdata(), line.get_ydata()) for ax in fig.axes
                            for line in ax.get_lines() if line.get_color() == "black"])  # fmt: skip
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    tree = reference_singular_values(2, 3, beta=1.0, n_draws=100, n_burn=200, seed=5, field=field)
    paths = plot_result(tree, tmp_path, stem="f")
    assert [p.name for p in paths] == ["f_sv_histograms.png", "f_trace.png", "f_rank.png"]
    (curves,) = figures
    assert len(curves) == 2  # one closed-form curve per singular value
    for k, (x, y) in enumerate(curves):
        right = sv_marginal_density(x, width=2, depth=3, beta=1.0, field=field)[k]
        real = sv_marginal_density(x, width=2, depth=3, beta=1.0, field="real")[k]
        np.testing.assert_allclose(y, right, rtol=1e-12)
        assert not np.allclose(y, real, rtol=1e-2), "the real law was drawn"
    # An explicit field that contradicts the ensemble's attribute is refused.
    with pytest.raises(ValueError, match="contradicts"):
        plot_result(tree, tmp_path, stem="g", field="real")


@pytest.mark.slow
def test_plot_result_of_a_study_file(tmp_path):
    """A study result file (results + ensembles groups) gets its figures from plot_result."""
    # The layout of an orbit_volume part: a "statistic" dimension, the value in "estimate".
    part = _orbit_table().rename(log_volume_mc="estimate").expand_dims(statistic=["log_volume"])
    part.attrs["kind"] = "orbit_volume"
    tree = xr.DataTree.from_dict({"/results/orbit": part})
    tree["ensembles/sv/depth_3_beta_1"] = _sv_tree(n_chains=2, n_draws=50)
    paths = plot_result(tree, tmp_path, stem="study")
    names = [p.name for p in paths]
    assert names == [
        "study_orbit_orbit_volumes.png",
        "study_sv_depth_3_beta_1_sv_histograms.png",
        "study_z_scores.png",
    ], names
    assert all(p.read_bytes()[:8] == PNG for p in paths)
    # on_error="warn": a figure that cannot be drawn is reported, the rest still written.
    bad = tree.copy()
    bad["ensembles/sv/depth_3_beta_1"].attrs["field"] = "complex"
    eye = "[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]]"  # Y = I in components over C
    bad["ensembles/sv/depth_3_beta_1"].attrs["target"] = eye
    with pytest.warns(UserWarning, match="give reference"):
        paths = plot_result(bad, tmp_path, stem="bad", on_error="warn")
    assert [p.name for p in paths] == ["bad_orbit_orbit_volumes.png", "bad_z_scores.png"]
    with pytest.raises(ValueError, match="give reference"):
        plot_result(bad, tmp_path, stem="bad2")
