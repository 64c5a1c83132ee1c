"""Ensemble schema: build_tree layout, provenance attributes, ArviZ diagnostics."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

import dlnmc
from dlnmc.ensemble import DEFAULT_DIMS, build_tree, diagnostics, provenance_attrs


def test_build_tree_layout_and_coordinates():
    rng = np.random.default_rng(0)
    tree = build_tree(
        {"W": rng.normal(size=(2, 7, 3, 2, 2)), "singular_values": rng.random((2, 7, 2)),
         "custom": rng.random((2, 7, 5))},
        {"acceptance_rate": rng.random((2, 7))},
        attrs={"depth": 3, "seed": None},
    )  # fmt: skip
    post = tree["posterior"]
    assert post["W"].dims == ("chain", "draw", *DEFAULT_DIMS["W"])
    assert post["custom"].dims == ("chain", "draw", "custom_dim_0")
    # Every dimension has an integer coordinate (arviz.plot_rank needs them).
    for dim, size in post.sizes.items():
        np.testing.assert_array_equal(post[dim].values, np.arange(size))
    assert "seed" not in tree.attrs and tree.attrs["depth"] == 3
    with pytest.raises(ValueError, match="W must have shape"):
        build_tree({"W": np.zeros((2, 7, 2, 2))})


def test_provenance_attrs_records_versions_and_extras():
    attrs = provenance_attrs(study="kind = 'orbit'", seed=5, sampler_settings={"n": 1})
    assert attrs["dlnmc_version"] == dlnmc.__version__
    assert attrs["numpy_version"] == np.__version__
    for key in ("python_version", "scipy_version", "xarray_version", "arviz_version"):
        assert attrs[key] and attrs[key] != "not installed", key
    created = dt.datetime.fromisoformat(attrs["created"])
    assert abs((dt.datetime.now(dt.UTC) - created).total_seconds()) < 60
    assert attrs["seed"] == 5 and attrs["sampler_settings"] == {"n": 1}
    assert json.loads(json.dumps(attrs)) == attrs  # everything serializable


def test_diagnostics_match_arviz_and_flag_a_stuck_chain():
    import arviz as az

    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 400, 2))
    tree = build_tree({"singular_values": x, "entropy": x[..., 0] * 2})
    diag = diagnostics(tree)
    assert list(diag["diagnostic"].values) == ["rhat", "ess_bulk", "ess_tail", "mcse_mean"]
    np.testing.assert_allclose(
        diag["entropy"].sel(diagnostic="rhat"), float(az.rhat(tree)["entropy"])
    )
    # Independent draws: R-hat near 1 and MCSE near sd / sqrt(n).
    assert float(diag["entropy"].sel(diagnostic="rhat")) < 1.01
    np.testing.assert_allclose(diag["entropy"].sel(diagnostic="mcse_mean"), 2 / 40, rtol=0.2)
    # One chain shifted by 3 sd: R-hat must flag it.
    x[0] += 3.0
    bad = diagnostics(build_tree({"singular_values": x}))
    assert np.all(bad["singular_values"].sel(diagnostic="rhat") > 1.1)
