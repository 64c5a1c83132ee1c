"""The entropy_sweep study kind over R, C, H (issue 7): S_b by Gram determinants."""

import numpy as np
import pytest

from dlnmc.entropy import entropy_sv
from dlnmc.studies import StudyError, parse_study, run_study
from dlnmc.studies.kinds import run_entropy_sweep
from tests.tolerances import Z_TOL

TEXT = """
name = "sweep_fields"
description = "S_b from Gram determinants over R, C, H"
seed = 3
kind = "entropy_sweep"
[grid]
width = [1, 2]
depth = [1, 3]
field = ["real", "complex", "quaternion"]
[settings]
n_points = 3
"""


def test_entropy_sweep_over_fields(tmp_path):
    tree = run_study(parse_study(TEXT), tmp_path / "s.nc", progress=False)
    ds = tree["results/entropy_sweep"].to_dataset()
    assert ds["estimate"].dims == ("width", "depth", "field", "statistic")
    assert ds["field"].values.tolist() == ["real", "complex", "quaternion"]
    z = ds["z_score"].values
    assert np.isfinite(z).all() and np.abs(z).max() < Z_TOL, z
    # The closed form is S_b of the stored singular values, per field.
    for f in ("real", "complex", "quaternion"):
        cell = ds.sel(width=2, depth=3, field=f)
        s = cell["singular_values"].values
        assert float(cell["closed_form"].item()) == pytest.approx(
            float(entropy_sv(s, 3, field=f)), rel=1e-14
        )
    # The field reaches the kind: three different S_b at width 2, depth 3.
    cf = ds["closed_form"].sel(width=2, depth=3).values.ravel()
    assert len(set(cf.tolist())) == 3


def test_gram_route_detects_a_wrong_closed_form():
    # The Gram estimate over H is held against S_b; against S_1 (the real
    # formula) at the same singular values it must be far off.
    ss = np.random.SeedSequence(11)
    settings = {"n_points": 3, "singular_values": [2.0, 0.5]}
    ds = run_entropy_sweep({"width": 2, "depth": 3, "field": "quaternion"}, settings, ss)
    est, se = float(ds["estimate"].item()), float(ds["stderr"].item())
    assert abs(est - float(ds["closed_form"].item())) < Z_TOL * se + 1e-12
    assert abs(est - float(entropy_sv([2.0, 0.5], 3))) > 1.0


def test_field_is_optional_and_validated():
    # Without a field key the cells are the old real ones (no field parameter).
    plain = parse_study(TEXT.replace('field = ["real", "complex", "quaternion"]\n', ""))
    assert all("field" not in c.params for c in plain.cells())
    with pytest.raises(StudyError, match="field = 'quaternions' is not allowed"):
        parse_study(TEXT.replace('"quaternion"]', '"quaternions"]'))
