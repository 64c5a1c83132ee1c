"""Study files, seeding, checkpoints and resume (issue 6)."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from dlnmc.studies import (
    KINDS,
    StudyError,
    StudyInterrupted,
    checkpoint_dir,
    load_result,
    parse_study,
    run_study,
    shipped_studies,
)
from dlnmc.studies.kinds import run_entropy_sweep, sv_law_means
from tests.paths import REPO
from tests.studyhelpers import CALLS_ENV, INTERRUPT_ENV, SMALL, trees_equal
from tests.tolerances import Z_TOL

# ----------------------------------------------------------------------------- schema


def test_parse_small_study_cells_and_order():
    study = parse_study(SMALL)
    cells = study.cells()
    assert [c.params for c in cells][:3] == [
        {"width": 1, "depth": 2},
        {"width": 1, "depth": 3},
        {"width": 2, "depth": 2},
    ]
    assert len(cells) == 6
    assert study.parts[0].settings["n_points"] == 3
    assert study.output == {"ensembles": False, "plots": True}


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (("depth = [2, 3]", "depht = [2, 3]"), "unknown key 'depht'"),
        (("depth = [2, 3]", "depht = [2, 3]"), "did you mean 'depth'"),
        (("depth = [2, 3]", "depth = [0, 3]"), "depth must be an integer >= 1, got 0"),
        (("depth = [2, 3]", 'depth = ["2"]'), "must be an integer, got string"),
        (("seed = 7", 'seed = "7"'), "seed must be an integer"),
        (('kind = "entropy_sweep"', 'kind = "entropy_swep"'), "did you mean 'entropy_sweep'"),
        (("n_points = 3", "n_point = 3"), "did you mean 'n_points'"),
        (("n_points = 3", "n_points = 2.5"), "n_points must be an integer"),
        (('name = "small"', 'nme = "small"'), "unknown key 'nme'"),
        (("width = [1, 2, 3]", "width = [1, 1]"), "repeated values"),
        (("seed = 7", "seed = 7\n[output]\nplot = true"), "did you mean 'plots'"),
        (("n_points = 3", "n_points = 3\n[output]\nensemble_vars = []"), "ensemble_vars must be"),
        (("n_points = 3", "n_points = 3\nsingular_values = [1.0, 2.0]"), "singular_values has 2"),
        (("[grid]", "[grid"), "not valid TOML"),
    ],
)
def test_bad_study_names_the_problem(edit, needle):
    text = SMALL.replace(*edit)
    assert text != SMALL
    with pytest.raises(StudyError, match=None) as info:
        parse_study(text)
    msg = str(info.value)
    assert needle in msg
    assert "\n" not in msg


def test_missing_required_keys():
    with pytest.raises(StudyError, match="missing required key 'seed'"):
        parse_study(
            'name = "x"\ndescription = "y"\nkind = "entropy_sweep"\n[grid]\nwidth=1\ndepth=2'
        )
    with pytest.raises(StudyError, match="missing required key 'depth'"):
        parse_study(
            'name = "x"\ndescription = "y"\nseed = 1\nkind = "entropy_sweep"\n[grid]\nwidth=1'
        )


def test_parts_need_distinct_names():
    text = """
name = "x"
description = "y"
seed = 1
[[part]]
kind = "entropy_sweep"
grid = {width = [2], depth = [2]}
[[part]]
kind = "entropy_sweep"
grid = {width = [3], depth = [2]}
"""
    with pytest.raises(StudyError, match="two parts are named 'entropy_sweep'"):
        parse_study(text)
    study = parse_study(
        text.replace(
            '[[part]]\nkind = "entropy_sweep"\ngrid = {width = [3]',
            '[[part]]\nname = "wide"\nkind = "entropy_sweep"\ngrid = {width = [3]',
        )
    )
    assert [p.name for p in study.parts] == ["entropy_sweep", "wide"]


def test_every_shipped_study_validates():
    shipped = shipped_studies()
    assert "quickstart" in shipped
    for name, (path, desc) in shipped.items():
        assert desc, name
        try:
            study = parse_study(path.read_text(), str(path))
        except StudyError as exc:  # kinds whose implementation has not landed yet
            assert "not available" in str(exc) or "needs" in str(exc), (name, exc)
            continue
        assert study.name == name
        assert study.cells()


# ----------------------------------------------------------------------------- seeding


def test_cell_seed_depends_on_cell_only():
    a = parse_study(SMALL).cells()
    b = parse_study(SMALL.replace("width = [1, 2, 3]", "width = [3, 2]")).cells()
    by_params = {tuple(c.params.items()): c for c in b}
    for cell in a:
        other = by_params.get(tuple(cell.params.items()))
        if other is not None:
            assert (
                cell.seed_sequence().generate_state(4) == other.seed_sequence().generate_state(4)
            ).all()
    states = {tuple(c.seed_sequence().generate_state(2)) for c in a}
    assert len(states) == len(a)
    c2 = parse_study(SMALL.replace("seed = 7", "seed = 8")).cells()
    assert (a[0].seed_sequence().generate_state(2) != c2[0].seed_sequence().generate_state(2)).any()


def test_entropy_sweep_cell_agrees_with_closed_form():
    ss = np.random.SeedSequence(3)
    ds = run_entropy_sweep({"width": 3, "depth": 4}, {"n_points": 4, "sv_range": [0.25, 4.0]}, ss)
    z = float(ds["z_score"].item())
    assert abs(z) < Z_TOL
    rel = abs(float(ds["estimate"].item()) / float(ds["closed_form"].item()) - 1)
    assert rel < 1e-12
    # the check can fail: a wrong depth in the closed form is rejected by many sigmas
    from dlnmc import entropy_sv

    wrong = entropy_sv(ds["singular_values"].values, 5)
    assert abs(float(ds["estimate"].item()) - wrong) / float(ds["stderr"].item()) > 1e6


def test_sv_law_means_matches_math_md_reference():
    m = sv_law_means(2, 3, 1.0)
    # docs/guide/theory.md, 'The law of X on the balanced manifold' (quadrature, quoted to
    # 5 decimals: rounding error <= 5e-6)
    assert m[0] == pytest.approx(1.22797, abs=6e-6)
    assert m[1] == pytest.approx(0.15097, abs=6e-6)
    # d = 1, N = 2: density ∝ exp(-s^2/2) s^{-1/2}: E[s] = sqrt(2) Γ(3/4)/Γ(1/4)
    e1 = math.sqrt(2) * math.gamma(0.75) / math.gamma(0.25)
    assert sv_law_means(1, 2, 1.0)[0] == pytest.approx(e1, rel=1e-9)


@pytest.mark.parametrize("depth", [8, 16])
def test_sv_law_means_deep(depth):
    # Regression: for N >= 7 the quadrature grid reached s_2 = e^{-120 N}, which
    # underflows to 0 and made log_sv_density raise.
    m = sv_law_means(2, depth, 1.0)
    assert np.all(np.isfinite(m)) and 0 < m[1] < m[0]
    # d = 1: density ∝ exp(-s^2/2) s^{-(N-1)/N}, E[s] = sqrt(2) Γ((N+1)/(2N)) / Γ(1/(2N)).
    e1 = math.sqrt(2) * math.gamma((depth + 1) / (2 * depth)) / math.gamma(1 / (2 * depth))
    assert sv_law_means(1, depth, 1.0)[0] == pytest.approx(e1, rel=1e-8)


# ----------------------------------------------------------------------------- runner


def test_run_writes_results_dataset(tmp_path):
    study = parse_study(SMALL)
    out = tmp_path / "small.nc"
    tree = run_study(study, out, progress=False)
    assert out.is_file()
    assert not checkpoint_dir(out).exists()
    assert [p.name for p in tmp_path.iterdir()] == ["small.nc"]
    back = load_result(out)
    trees_equal(tree, back, ignore=())
    ds = back["results/entropy_sweep"].to_dataset()
    assert ds["estimate"].dims == ("width", "depth", "statistic")
    assert list(ds["width"].values) == [1, 2, 3]
    assert set(ds.data_vars) >= {"estimate", "stderr", "closed_form", "z_score"}
    # singular values padded with NaN beyond the width
    sv = ds["singular_values"].sel(width=1, depth=2).values
    assert np.isfinite(sv[0]) and np.isnan(sv[1:]).all()
    assert back.attrs["study_toml"] == SMALL
    assert back.attrs["seed"] == 7
    for key in ("dlnmc_version", "numpy_version", "xarray_version", "created"):
        assert key in back.attrs
    assert np.all(np.abs(ds["z_score"].values) < Z_TOL)


def test_same_seed_gives_bit_identical_results(tmp_path):
    study = parse_study(SMALL)
    a = run_study(study, tmp_path / "a.nc", progress=False)
    b = run_study(study, tmp_path / "b.nc", progress=False)
    trees_equal(a, b)
    c = run_study(
        parse_study(SMALL.replace("seed = 7", "seed = 9")), tmp_path / "c.nc", progress=False
    )
    with pytest.raises(AssertionError):
        trees_equal(a, c)


def test_interrupt_then_resume_gives_same_file(tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv(CALLS_ENV, str(calls))
    text = SMALL.replace('kind = "entropy_sweep"', 'kind = "_test_interrupt"')
    study = parse_study(text)
    ref = tmp_path / "ref.nc"
    run_study(study, ref, progress=False)

    out = tmp_path / "run.nc"
    monkeypatch.setenv(INTERRUPT_ENV, "2,3")
    with pytest.raises(StudyInterrupted) as info:
        run_study(study, out, progress=False)
    assert info.value.n_done == 3 and info.value.n_total == 6
    ck = checkpoint_dir(out)
    assert len(list(ck.glob("*.nc"))) == 3  # every finished cell on disk
    assert not out.exists()
    assert not list(ck.glob(".*tmp*"))  # no half-written files

    # without --resume, a checkpoint directory of another study is refused
    other = parse_study(text.replace("seed = 7", "seed = 8"))
    with pytest.raises(StudyError, match="different study"):
        run_study(other, out, progress=False)
    assert len(list(ck.glob("*.nc"))) == 3

    monkeypatch.delenv(INTERRUPT_ENV)
    calls.unlink()
    run_study(study, out, resume=True, progress=False)
    assert len(calls.read_text().splitlines()) == 3  # only the unfinished cells were computed
    assert not ck.exists()
    trees_equal(load_result(ref), load_result(out))
    ds_ref = load_result(ref)["results/_test_interrupt"].to_dataset()
    ds_out = load_result(out)["results/_test_interrupt"].to_dataset()
    np.testing.assert_array_equal(ds_ref["estimate"].values, ds_out["estimate"].values)


def test_bad_output_path_writes_nothing(tmp_path):
    study = parse_study(SMALL)
    with pytest.raises(StudyError, match="output directory does not exist"):
        run_study(study, tmp_path / "nope" / "x.nc", progress=False)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- reference data


def test_entropy_sv_matches_mpmath_reference_table():
    from dlnmc import entropy_sv

    path = REPO / "data" / "reference" / "entropy_closed_form.csv"
    rows = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert rows.size >= 100
    worst = 0.0
    for row in rows:
        s = np.array([float(x) for x in str(row["singular_values"]).split(";")])
        assert s.size == int(row["width"])
        got = entropy_sv(s, int(row["depth"]))
        ref = float(row["S"])
        worst = max(worst, abs(got - ref) / max(abs(ref), 1e-300))
    assert worst < 1e-12


# ----------------------------------------------------------------------------- sampling kinds


def test_sampling_kinds_validate_their_reference_domain():
    base = """
name = "x"
description = "y"
seed = 1
kind = "KIND"
[grid]
width = [2]
depth = [3]
beta = [1.0]
"""
    for kind in ("balanced", "mici_comparison"):
        if any(importlib.util.find_spec(m) is None for m, _ in KINDS[kind].requires):
            continue
        text = base.replace("KIND", kind)
        parse_study(text)
        # balanced: beyond quadrature the lifted sampler is the reference, unless the
        # study asks for quadrature by name
        wide = text.replace("width = [2]", "width = [3]")
        if kind == "balanced":
            parse_study(wide)
            wide += '[settings]\nreference = "quadrature"\n'
        with pytest.raises(StudyError, match="width <= 2"):
            parse_study(wide)
        with pytest.raises(StudyError, match="beta must be > 0"):
            parse_study(text.replace("beta = [1.0]", "beta = [0.0, 1.0]"))
    with pytest.raises(StudyError, match="unknown key 'beta'"):
        parse_study(base.replace("KIND", "entropy_sweep"))


def test_orbit_volume_kind_agrees_with_closed_form():
    pytest.importorskip("dlnmc.volumes")
    from dlnmc.studies.kinds import run_orbit_volume

    ss = np.random.SeedSequence(5)
    for d, N in [(2, 3), (3, 2)]:
        ds = run_orbit_volume(
            {"width": d, "depth": N},
            {"n_samples": 1024, "method": "rqmc", "sv_range": [0.25, 4.0]},
            ss,
        )
        assert ds["statistic"].values.tolist() == ["log_volume"]
        assert abs(float(ds["z_score"].item())) < Z_TOL
        assert float(ds["stderr"].item()) > 0


def test_orbit_volume_over_fields(tmp_path):
    pytest.importorskip("dlnmc.volumes")
    text = """
name = "fields"
description = "orbit volumes over R, C, H"
seed = 2
kind = "orbit_volume"
[grid]
width = [2]
depth = [2]
field = ["real", "complex", "quaternion"]
[settings]
n_samples = 512
"""
    tree = run_study(parse_study(text), tmp_path / "f.nc", progress=False)
    ds = tree["results/orbit_volume"].to_dataset()
    assert ds["estimate"].dims == ("width", "depth", "field", "statistic")
    z = ds["z_score"].values
    assert np.isfinite(z).all() and np.abs(z).max() < Z_TOL
    cf = ds["closed_form"].values.ravel()
    assert len(set(cf.tolist())) == 3  # S_b differs between the fields
    with pytest.raises(StudyError, match="need depth >= 2"):
        parse_study(text.replace("depth = [2]", "depth = [1, 2]"))
    with pytest.raises(StudyError, match="field = 'complx' is not allowed; did you mean 'complex'"):
        parse_study(text.replace('"complex"', '"complx"'))


@pytest.mark.slow
def test_balanced_kind_agrees_with_closed_form_law(tmp_path):
    pytest.importorskip("dlnmc.balanced")
    text = """
name = "bal"
description = "balanced kind test"
seed = 4
[output]
ensembles = true
[[part]]
kind = "balanced"
grid = { width = [1, 2], depth = [2], beta = [1.0] }
settings = { n_draws = 400, n_chains = 4 }
"""
    tree = run_study(parse_study(text), tmp_path / "bal.nc", progress=False)
    ds = tree["results/balanced"].to_dataset()
    z = ds["z_score"].values
    assert np.isfinite(z).sum() == 3  # mean_s1 at width 1; mean_s1, mean_s2 at width 2
    assert np.nanmax(np.abs(z)) < Z_TOL
    assert np.nanmax(ds["rhat"].values) < 1.05
    ens = load_result(tmp_path / "bal.nc")["ensembles/balanced/width_2_depth_2_beta_1.0_target_0.0"]
    assert ens["posterior"]["singular_values"].sizes["chain"] == 4
    assert "W" in ens["posterior"].data_vars
    small = text.replace(
        "ensembles = true", 'ensembles = true\nensemble_vars = ["singular_values"]'
    )
    tree = run_study(parse_study(small), tmp_path / "small.nc", progress=False)
    ens = load_result(tmp_path / "small.nc")[
        "ensembles/balanced/width_2_depth_2_beta_1.0_target_0.0"
    ]
    assert list(ens["posterior"].data_vars) == ["singular_values"]
    assert "sample_stats" not in ens.children


@pytest.mark.parametrize("field", ["real", "complex", "quaternion"])
@pytest.mark.parametrize("n_samples", [2, 100, 1000])
def test_orbit_volume_kind_takes_any_sample_count(n_samples, field):
    """A count the RQMC driver cannot use as given runs rounded up, and says what ran."""
    pytest.importorskip("dlnmc.volumes")
    text = f"""
name = "counts"
description = "orbit volumes at user sample counts"
seed = 6
kind = "orbit_volume"
[grid]
width = [2]
depth = [3]
field = ["{field}"]
[settings]
n_samples = {n_samples}
"""
    study = parse_study(text)  # validation accepts every n_samples >= 2
    from dlnmc.studies import run_cell

    ds, _ = run_cell(study.cells()[0])
    used = int(ds["n_samples"])
    assert n_samples <= used < max(64, 2 * n_samples)  # the next Sobol'-balanced size
    assert abs(float(ds["z_score"].item())) < Z_TOL
    # the check can fail: the closed form of another depth is many sigmas away
    from dlnmc import entropy_sv

    wrong = float(entropy_sv(ds["singular_values"].values, 4, field=field))
    assert abs(float(ds["estimate"].item()) - wrong) > Z_TOL * float(ds["stderr"].item())


def test_study_kinds_form_no_import_cycle():
    """studies: errors <- values <- model <- registry <- kinds <- schema, runner (one way)."""
    import ast

    root = REPO / "dlnmc" / "studies"
    graph = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parent.parent).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d.startswith("dlnmc.studies.")}

    def reaches(start, goal, seen=()):
        return any(d == goal or (d not in seen and reaches(d, goal, (*seen, d)))
                   for d in graph.get(start, ()))  # fmt: skip

    for name in graph:
        if name != "dlnmc.studies":
            assert not reaches(name, name), f"{name} imports itself through a cycle"
    assert not reaches("dlnmc.studies.kinds", "dlnmc.studies.schema")


def test_kind_with_own_grid_keys_and_array_values(tmp_path):
    """A kind declares its own grid keys (order = result dims), array values included."""
    from dlnmc.studies import Kind, register_kind
    from dlnmc.studies.kinds.common import WIDTH, cell_dataset
    from dlnmc.studies.values import GridKey, Setting, integer, number, positive_numbers

    def run(params, settings, ss, progress=False):
        start = np.asarray(params["start"])
        return cell_dataset(["s_min"], start.min() * params["dt"], 1.0, 0.0)

    register_kind(
        Kind(
            "_test_own_keys",
            "test kind with grid keys of its own",
            run,
            {
                "width": WIDTH,
                "start": GridKey(positive_numbers),
                "dt": GridKey(number(0.0, strict=True), [0.01]),
            },
            {"n_paths": Setting(integer(1), 4, "paths")},
        )
    )
    text = """
name = "own"
description = "own grid keys"
seed = 1
kind = "_test_own_keys"
[grid]
width = [2]
start = [[1.5, 0.4], [1.0, 0.9]]
dt = [0.1, 0.05]
"""
    study = parse_study(text)
    assert [c.label for c in study.cells()][:2] == [
        "width_2_start_1.5x0.4_dt_0.1",
        "width_2_start_1.5x0.4_dt_0.05",
    ]
    tree = run_study(study, tmp_path / "own.nc", progress=False)
    ds = tree["results/_test_own_keys"].to_dataset()
    assert ds["estimate"].dims == ("width", "start", "dt", "statistic")
    assert ds["start"].values.tolist() == ["[1.5, 0.4]", "[1.0, 0.9]"]
    np.testing.assert_allclose(ds["estimate"].sel(dt=0.1).values.ravel(), [0.04, 0.09])
    from dlnmc.studies import format_results

    assert "start=[1.5, 0.4]" in format_results(load_result(tmp_path / "own.nc"))
    with pytest.raises(StudyError, match="repeated values"):
        parse_study(text.replace("[1.0, 0.9]]", "[1.5, 0.4]]"))
