"""The ``balanced`` study kind beyond quadrature, and law checks of HMC against the lifted sampler.

The lifted sampler draws ``X`` from the closed-form law (it assumes the entropy
formula), so it is the theory's side of every comparison here; the validating
side is the theory-free constrained HMC of :func:`dlnmc.sample_balanced`.
Tolerances: 4.5 combined ArviZ MCSE (ESS-based) on means and 10%/90% quantiles
of every singular value and of ``tr X``; R-hat <= 1.01 on both sides. Each law
check also rejects a decoy (the lift of a wrong law) with the same statistics.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlnmc.cli import main
from dlnmc.fields import resolve_field
from dlnmc.studies import StudyError, load_result, parse_study
from dlnmc.studies.kinds.balanced import (
    LIFT,
    QUADRATURE,
    compare_ensembles,
    ensemble_statistics,
    reference_for,
)
from tests.tolerances import Z_TOL

pytest.importorskip("dlnmc.balanced")

TOL = Z_TOL
MAX_RHAT = 1.01


def test_reference_for_picks_quadrature_where_it_exists_else_the_lift():
    cell = {"width": 2, "depth": 3, "beta": 1.0, "target": 0.0}
    assert reference_for(cell) is QUADRATURE
    assert reference_for(cell, "lift") is LIFT
    assert reference_for({**cell, "width": 3}) is LIFT
    assert reference_for({**cell, "target": 0.5}) is LIFT
    with pytest.raises(StudyError, match=r"width <= 2.*reference = 'lift'"):
        reference_for({**cell, "width": 3}, "quadrature")
    with pytest.raises(StudyError, match="needs target = 0"):
        reference_for({**cell, "target": 0.5}, "quadrature")


def test_wide_quaternion_cell_validates_beyond_the_old_dense_limit():
    """b N d^2 = 4 * 26 * 4 > 400 was refused while the fields projected densely only."""
    text = """
name = "x"
description = "y"
seed = 1
kind = "balanced"
[grid]
width = [2, 5]
depth = [26]
target = [0.0, 0.5]
field = ["quaternion"]
"""
    study = parse_study(text)
    assert len(study.cells()) == 4


def _decoy_z(tree, decoy) -> np.ndarray:
    """z of the singular-value statistics of ``tree`` against a decoy ensemble."""
    names, est, se, _ = ensemble_statistics(tree)
    d_names, d_est, d_se, _ = ensemble_statistics(decoy)
    # by name: over another field tr X has another number of components
    keep = [k for k, n in enumerate(names) if "_s" in n]
    dk = [d_names.index(names[k]) for k in keep]
    return (est[keep] - d_est[dk]) / np.hypot(se[keep], d_se[dk])


def test_shipped_wide_complex_study_runs_through_the_cli(tmp_path, capsys):
    """``dlnmc run balanced_lift``: width 4, target 0.5, over C, z-scores against the lift."""
    from dlnmc.balanced import sample_balanced

    out = tmp_path / "bl.nc"
    code = main(["run", "balanced_lift", "-o", str(out), "--no-progress"])
    stdout, _ = capsys.readouterr()
    assert code == 0
    assert "d=4 N=2 β=1 Y=0.5 F=complex" in stdout
    assert "mean_trX_re" in stdout and "q90_s4" in stdout
    assert "18 checks, max |z| =" in stdout
    ds = load_result(out)["results/balanced"].to_dataset()
    assert ds.attrs["reference"] == "lift"
    assert ds.attrs["assumes_entropy_formula"] == 1
    z = ds["z_score"].values.ravel()
    assert z.size == 18 and np.isfinite(z).all()
    assert np.abs(z).max() < TOL
    assert ds["rhat"].max() <= MAX_RHAT and ds["reference_rhat"].max() <= MAX_RHAT
    # stderr is the combined MCSE of both sides
    se = ds["stderr"].values.ravel()
    ref_se = ds["reference_stderr"].values.ravel()
    assert (se > ref_se).all() and (ref_se > 0).all()
    # decoy: the same HMC estimates against the lift of the wrong field's law (H)
    sizes = {k: int(ds.attrs[f"reference_n_{k}"]) for k in ("draws", "chains", "warmup")}
    decoy = sample_balanced(
        4, 2, beta=1.0, n_draws=sizes["draws"], n_chains=sizes["chains"],
        n_warmup=sizes["warmup"], seed=3, target=0.5 * np.eye(8), field="quaternion",
        sampler="lift", keep_W="none",
    )  # fmt: skip
    names, d_est, d_se, _ = ensemble_statistics(decoy)
    stats = ds["statistic"].values.tolist()
    idx = [stats.index(n) for n in names if "_s" in n]
    est = ds["estimate"].values.reshape(-1, len(stats))[0, idx]
    own_se = np.sqrt(np.maximum(se**2 - ref_se**2, 0.0))[idx]
    keep = [k for k, n in enumerate(names) if "_s" in n]
    dz = (est - d_est[keep]) / np.hypot(own_se, d_se[keep])
    assert np.abs(dz).max() > TOL


def _law_check(d, N, field, target, draws, warmup, seed, decoy):
    """HMC against the lift at (d, N, field, target * I); the decoy lift must be rejected."""
    from dlnmc.balanced import sample_balanced

    F = resolve_field(field)
    Y = target * np.eye(F.rep_size(d))
    common = {"beta": 1.0, "n_draws": draws, "n_chains": 4, "n_warmup": warmup}
    hmc = sample_balanced(d, N, seed=seed, target=Y, field=field, **common)
    lift = sample_balanced(
        d, N, seed=seed + 1, target=Y, field=field, sampler="lift", keep_W="none", **common
    )
    assert lift.attrs["assumes_entropy_formula"] == 1
    ds = compare_ensembles(hmc, lift)
    assert ds["rhat"].max() <= MAX_RHAT, ds["rhat"].values
    assert ds["reference_rhat"].max() <= MAX_RHAT, ds["reference_rhat"].values
    z = ds["z_score"].values
    table = dict(zip(ds["statistic"].values, z, strict=True))
    assert np.isfinite(z).all() and np.abs(z).max() < TOL, table
    dd, dN, dfield, dbeta = decoy
    dY = target * np.eye(resolve_field(dfield).rep_size(dd))
    wrong = sample_balanced(
        dd, dN, seed=seed + 2, target=dY, field=dfield, sampler="lift", keep_W="none",
        **{**common, "beta": dbeta},
    )  # fmt: skip
    assert np.abs(_decoy_z(hmc, wrong)).max() > TOL
    return float(np.abs(z).max())


@pytest.mark.slow
def test_law_hmc_against_lift_real_d3_n6_with_target():
    # decoy: the law at beta = 1.25 (a scale error in the energy). The law of depth 5
    # was not rejected at these sizes (max |z| 4.0 in a trial run): too close to be a decoy.
    _law_check(3, 6, "real", 0.5, 600, 300, 101, (3, 6, "real", 1.25))


@pytest.mark.slow
def test_law_hmc_against_lift_complex_d3_n4_with_target():
    # decoy: the law over H (Dyson index 4 instead of 2)
    _law_check(3, 4, "complex", 0.5, 600, 300, 201, (3, 4, "quaternion", 1.0))


@pytest.mark.slow
def test_law_hmc_against_lift_quaternion_d3_n4_with_target():
    # decoy: the law over C (Dyson index 2 instead of 4)
    _law_check(3, 4, "quaternion", 0.5, 600, 300, 301, (3, 4, "complex", 1.0))


def test_part_mixing_quadrature_and_lift_records_each_cells_reference(tmp_path):
    """Wiring only (tiny sizes, no statistical assertion): one part, two references."""
    from dlnmc.studies import run_study

    text = """
name = "mixed"
description = "quadrature at width 2, the lift at width 3"
seed = 5
kind = "balanced"
[grid]
width = [2, 3]
depth = [2]
[settings]
n_draws = 10
n_chains = 2
n_warmup = 10
reference_warmup = 10
"""
    tree = run_study(parse_study(text), tmp_path / "m.nc", progress=False)
    for t in (tree, load_result(tmp_path / "m.nc")):
        ds = t["results/balanced"].to_dataset()
        labels = {"width_2_depth_2_beta_1.0_target_0.0": "quadrature",
                  "width_3_depth_2_beta_1.0_target_0.0": "lift"}  # fmt: skip
        assert ds.attrs["reference"] == labels
        assert ds.attrs["assumes_entropy_formula"] == {
            "width_2_depth_2_beta_1.0_target_0.0": None,
            "width_3_depth_2_beta_1.0_target_0.0": 1,
        }
        tr = ds["estimate"].sel(statistic="mean_trX").values.ravel()
        assert np.isnan(tr[0]) and np.isfinite(tr[1])  # tr X only against the lift
        ref_se = ds["reference_stderr"].sel(statistic="mean_s1").values.ravel()
        assert ref_se[0] == 0 and ref_se[1] > 0
