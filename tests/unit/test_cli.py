"""The ``dlnmc`` command: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dlnmc
from dlnmc.cli import main
from dlnmc.studies import load_result
from tests.paths import REPO
from tests.studyhelpers import FAIL_ENV, INTERRUPT_ENV, SLEEP_ENV, SMALL

GOOD = """
name = "tiny"
description = "a tiny entropy sweep"
seed = 3
kind = "entropy_sweep"
[grid]
width = [2, 3]
depth = [2, 4]
[settings]
n_points = 2
"""


def run_main(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (("n_points = 2", "n_points = 2\nwarmup = 5"), "unknown key 'warmup'"),
        (("seed = 3", "seed = 3.5"), "seed must be an integer, got float 3.5"),
        (("depth = [2, 4]", "depth = [0, 4]"), "depth must be an integer >= 1, got 0"),
        (("width = [2, 3]", 'width = ["two"]'), "width must be an integer, got string"),
        (('kind = "entropy_sweep"', 'kind = "orbit_volumes"'), "unknown kind 'orbit_volumes'"),
    ],
)
def test_bad_study_exit_2_one_line_nothing_written(tmp_path, capsys, edit, needle):
    study = tmp_path / "bad.toml"
    study.write_text(GOOD.replace(*edit))
    out = tmp_path / "out.nc"
    code, _, err = run_main(["run", str(study), "-o", str(out), "--no-progress"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert lines[0].startswith("dlnmc: error: ")
    assert listing(tmp_path) == ["bad.toml"]


def test_missing_study_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(["run", "no_such_study.toml", "--no-progress"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        "dlnmc: error: study file not found: no_such_study.toml; "
        "shipped studies: balanced_fields, balanced_lift, entropy_depth, "
        "langevin_entropic_force, langevin_quick, mici_comparison, orbit_volumes, "
        "orbit_volumes_fields, "
        "quickstart, sv_law"
    ]
    code, _, err = run_main(["run", "quickstrat"], capsys)
    assert code == 2 and "did you mean the shipped study 'quickstart'" in err
    assert listing(tmp_path) == []


def test_bad_output_suffix(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text(GOOD)
    code, _, err = run_main(["run", str(study), "-o", str(tmp_path / "x.csv")], capsys)
    assert code == 2 and "must end in .nc" in err
    assert listing(tmp_path) == ["s.toml"]


def test_run_then_report(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text(GOOD)
    out = tmp_path / "r.nc"
    code, stdout, _ = run_main(["run", str(study), "-o", str(out), "--no-progress"], capsys)
    assert code == 0
    assert "monte carlo" in stdout and "closed form" in stdout and "stderr" in stdout
    assert "4 checks, max |z| =" in stdout
    assert out.is_file()
    assert (tmp_path / "r_z_scores.png").is_file() or any(tmp_path.glob("r_*.png"))
    tree = load_result(out)
    assert tree.attrs["study_name"] == "tiny"
    code, stdout2, _ = run_main(["report", str(out), "--no-plots"], capsys)
    assert code == 0
    # the same table from the file as at the end of the run
    table = stdout[stdout.index("part ") :].split("\nplot:")[0].split("\nwall time")[0]
    assert table.strip() in stdout2
    code, _, err = run_main(["report", str(tmp_path / "nope.nc")], capsys)
    assert code == 2 and "result file not found" in err


def test_list_and_version(capsys):
    code, out, _ = run_main(["list"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert names == [
        "balanced_fields",
        "balanced_lift",
        "entropy_depth",
        "langevin_entropic_force",
        "langevin_quick",
        "mici_comparison",
        "orbit_volumes",
        "orbit_volumes_fields",
        "quickstart",
        "sv_law",
    ]
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dlnmc {dlnmc.__version__}"


@pytest.mark.slow
def test_subprocess_exit_code_and_stderr(tmp_path):
    """The real command line: exit status 2 and one line on stderr."""
    study = tmp_path / "bad.toml"
    study.write_text(GOOD.replace("depth = [2, 4]", "depth = [2, 0]"))
    proc = subprocess.run(
        [sys.executable, "-m", "dlnmc.cli", "run", str(study), "-o", str(tmp_path / "o.nc")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "dlnmc: error: study.grid.depth must be an integer >= 1, got 0"
    ]
    assert listing(tmp_path) == ["bad.toml"]


def test_interrupted_run_exits_nonzero_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    study = tmp_path / "s.toml"
    study.write_text(SMALL.replace('kind = "entropy_sweep"', 'kind = "_test_interrupt"'))
    out = tmp_path / "r.nc"
    monkeypatch.setenv(INTERRUPT_ENV, "2,3")
    code, _, err = run_main(["run", str(study), "-o", str(out), "--no-progress"], capsys)
    assert code == 130
    assert "3 of 6 cells saved" in err and "--resume" in err
    assert not out.exists()
    monkeypatch.delenv(INTERRUPT_ENV)
    code, stdout, _ = run_main(
        ["run", str(study), "-o", str(out), "--resume", "--no-progress", "--no-plots"], capsys
    )
    assert code == 0 and "resuming: 3 of 6 cells" in stdout
    assert out.is_file()


def test_failing_cell_exit_1_keeps_finished_cells(tmp_path, capsys, monkeypatch):
    study = tmp_path / "s.toml"
    study.write_text(SMALL.replace('kind = "entropy_sweep"', 'kind = "_test_interrupt"'))
    out = tmp_path / "r.nc"
    monkeypatch.setenv(FAIL_ENV, "3,2")
    code, _, err = run_main(["run", str(study), "-o", str(out), "--no-progress"], capsys)
    assert code == 1
    assert "cell _test_interrupt width_3_depth_2 failed: RuntimeError: deliberate failure" in err
    assert "4 finished cells kept" in err and "--resume" in err
    assert len(list((tmp_path / "r.nc.cells").glob("*.nc"))) == 4
    assert not out.exists()


@pytest.mark.slow
def test_sigint_subprocess_then_resume(tmp_path):
    """A real Ctrl-C (SIGINT) mid-run: exit 130, finished cells kept, resume = uninterrupted."""
    import signal
    import time

    from tests.studyhelpers import trees_equal

    text = SMALL.replace('kind = "entropy_sweep"', 'kind = "_test_interrupt"').replace(
        "depth = [2, 3]", "depth = [2, 3, 4, 5]"
    )
    study = tmp_path / "s.toml"
    study.write_text(text)
    out = tmp_path / "r.nc"
    root = REPO
    # the test kind sleeps 0.3 s per cell, so the signal lands mid-run
    # A shell without job control (CI, nohup, `cmd &`) starts children with
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler:
    # restore it so the child behaves as under a terminal's Ctrl-C.
    code = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "import sys, tests.studyhelpers; from dlnmc.cli import main; "
        f"sys.exit(main(['run', {str(study)!r}, '-o', {str(out)!r}, '--no-plots'] + sys.argv[1:]))"
    )
    cmd = [sys.executable, "-c", code]
    env = {**os.environ, SLEEP_ENV: "0.3"}
    proc = subprocess.Popen(
        cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    ck = tmp_path / "r.nc.cells"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if ck.is_dir() and len(list(ck.glob("*.nc"))) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    n_kept = len(list(ck.glob("*.nc")))
    assert 2 <= n_kept < 12  # stopped mid-run, finished cells kept
    assert "--resume" in err
    assert not out.exists()
    assert not list(ck.glob(".*"))  # no temporary files left behind

    done = subprocess.run(
        [*cmd, "--resume"], cwd=root, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert f"resuming: {n_kept} of 12 cells" in done.stdout  # 3 widths x 4 depths
    ref = tmp_path / "ref.nc"
    from dlnmc.studies import parse_study, run_study

    run_study(parse_study(text), ref, progress=False)
    trees_equal(load_result(ref), load_result(out))


# ----------------------------------------------------------------------------- every kind
# Per kind, a good study and bad values that would otherwise fail (or mean nothing) only
# inside a cell: each is refused by `dlnmc run` with exit 2, one line, nothing written.
KIND_STUDIES = {
    "entropy_sweep": """
name = "es"
description = "d"
seed = 1
kind = "entropy_sweep"
[grid]
width = [2]
depth = [3]
[settings]
n_points = 2
""",
    "orbit_volume": """
name = "ov"
description = "d"
seed = 1
kind = "orbit_volume"
[grid]
width = [2]
depth = [3]
[settings]
n_samples = 64
""",
    "balanced": """
name = "bal"
description = "d"
seed = 1
kind = "balanced"
[grid]
width = [2]
depth = [3]
beta = [1.0]
[settings]
n_draws = 10
n_chains = 2
""",
    "langevin": """
name = "lv"
description = "d"
seed = 1
kind = "langevin"
[grid]
width = [2]
depth = [3]
beta = [1.0]
start = [[1.5, 0.4]]
dt = [1e-3]
[settings]
t_max = 0.01
n_paths = 20
record_times = [0.005, 0.01]
""",
    "mici_comparison": """
name = "mici"
description = "d"
seed = 1
kind = "mici_comparison"
[grid]
width = [2]
depth = [3]
beta = [1.0]
[settings]
n_draws = 10
n_chains = 2
""",
}

BAD_VALUES = [
    # (kind, (old, new) or several such pairs, needle)
    ("entropy_sweep", ("n_points = 2", "n_points = 0"), "n_points must be an integer >= 1, got 0"),
    ("entropy_sweep", ("n_points = 2", "n_points = 2.5"), "n_points must be an integer"),
    ("entropy_sweep", ("n_points = 2", "sv_range = [4.0, 0.25]"), "must be [low, high]"),
    ("entropy_sweep", ("n_points = 2", "sv_range = [1e-10, 1e10]"), "singular to working"),
    ("entropy_sweep", ("n_points = 2", "singular_values = [1.0, -2.0]"), "must be > 0.0"),
    ("entropy_sweep", ("n_points = 2", "singular_values = [1.0, 2.0, 3.0]"), "has 3 values"),
    ("entropy_sweep", ("depth = [3]", 'depth = [3]\nfield = ["complx"]'), "'complex'"),
    (
        "entropy_sweep",
        (("width = [2]", "width = [20]"), ("depth = [3]", "depth = [40]"), ("= 2", "= 64")),
        "GiB",
    ),
    ("orbit_volume", ("n_samples = 64", "n_samples = 1"), "n_samples must be an integer >= 2"),
    ("orbit_volume", ("n_samples = 64", "n_samples = 100.5"), "n_samples must be an integer"),
    ("orbit_volume", ("n_samples = 64", 'n_samples = "many"'), "must be an integer, got string"),
    ("orbit_volume", ("n_samples = 64", 'method = "qmc"'), "did you mean 'rqmc'"),
    ("orbit_volume", ("n_samples = 64", "sv_range = [0.0, 1.0]"), "must be > 0.0"),
    ("orbit_volume", ("depth = [3]", 'depth = [1, 3]\nfield = ["complex"]'), "need depth >= 2"),
    (
        "orbit_volume",
        (
            ("n_samples = 64", 'n_samples = 64\nmethod = "mc"'),
            ("= [3]", '= [3]\nfield = "quaternion"'),
        ),
        "use method = 'rqmc'",
    ),
    ("orbit_volume", ("width = [2]\ndepth = [3]", "width = 40\ndepth = 30"), "Sobol"),
    ("orbit_volume", ("width = [2]", "width = [2.0]"), "width must be an integer, got float"),
    # beyond quadrature the lifted sampler is the reference; asked for, quadrature refuses
    (
        "balanced",
        (
            ("width = [2]", "width = [3]"),
            ("n_chains = 2", 'n_chains = 2\nreference = "quadrature"'),
        ),
        "width <= 2",
    ),
    ("balanced", ("beta = [1.0]", "beta = [0.0]"), "beta must be > 0"),
    ("balanced", ("beta = [1.0]", "beta = [1e200]"), "<= 1e+100"),
    (
        "balanced",
        (
            ("beta = [1.0]", "beta = [1.0]\ntarget = [0.5]"),
            ("n_chains = 2", 'n_chains = 2\nreference = "quadrature"'),
        ),
        "needs target = 0",
    ),
    ("balanced", ("n_chains = 2", 'n_chains = 2\nreference = "lfit"'), "did you mean 'lift'"),
    (
        "balanced",
        ("n_chains = 2", "n_chains = 2\nreference_draws = 5"),
        "reference_draws must be an integer >= 10",
    ),
    ("balanced", ("beta = [1.0]", "beta = [0.0]\ntarget = [0.5]"), "beta must be > 0 for sampling"),
    ("balanced", ("n_chains = 2", "n_chains = 1"), "n_chains must be an integer >= 2"),
    ("balanced", ("n_draws = 10", "n_draws = 5"), "n_draws must be an integer >= 10"),
    (
        "balanced",
        ("n_chains = 2", "n_chains = 2\nn_warmup = -1"),
        "n_warmup must be an integer >= 0",
    ),
    (
        "balanced",
        ("n_chains = 2", 'n_chains = 2\nsampler = "nuts"'),
        "sampler = 'nuts' is not allowed",
    ),
    (
        "balanced",
        ("n_chains = 2", 'n_chains = 2\nquantiles = "yes"'),
        "quantiles must be a boolean",
    ),
    ("balanced", ("depth = [3]", 'depth = [3]\nfield = ["octonion"]'), "is not allowed"),
    ("langevin", ("dt = [1e-3]", "dt = [3e-3]"), "t_max = 0.01 must be a multiple of dt"),
    ("langevin", ("dt = [1e-3]", "dt = [0.0]"), "dt must be > 0.0"),
    ("langevin", ("[0.005, 0.01]", "[0.0055, 0.01]"), "0.0055 is not a multiple of dt"),
    ("langevin", ("[0.005, 0.01]", "[0.01, 0.005]"), "strictly increasing"),
    ("langevin", ("[0.005, 0.01]", "[0.005, 0.02]"), "<= t_max"),
    ("langevin", ("start = [[1.5, 0.4]]", "start = [[1.5, 0.4, 0.1]]"), "2 singular values"),
    ("langevin", ("start = [[1.5, 0.4]]", "start = [[1.5, -0.4]]"), "must be > 0.0"),
    ("langevin", ("beta = [1.0]", "beta = [0.0]"), "beta must be finite and > 0"),
    ("langevin", ("n_paths = 20", "n_paths = 1"), "n_paths must be an integer >= 2"),
    ("langevin", ("n_paths = 20\n", ""), "missing langevin setting(s) ['n_paths']"),
    ("langevin", ("n_paths = 20", "n_paths = 20\nnoise = 1"), "unknown key 'noise'"),
    ("langevin", ("n_paths = 20", "n_paths = 20\ncheck_half_dt = 1"), "must be a boolean"),
    ("langevin", ("depth = [3]", 'depth = [3]\nfield = ["complx"]'), "'complex'"),
    ("langevin", ("n_paths = 20", "n_paths = 2000000"), "GiB"),
    ("mici_comparison", ("depth = [3]", "depth = [1]"), "needs depth >= 2"),
    (
        "mici_comparison",
        ("depth = [3]", 'depth = [3]\nfield = ["complex"]'),
        "expected one of 'real'",
    ),
    ("mici_comparison", ("width = [2]", "width = [3]"), "width <= 2"),
    (
        "mici_comparison",
        ("n_chains = 2", "n_chains = 2\nquantiles = true"),
        "unknown key 'quantiles'",
    ),
]


def test_every_kind_has_bad_value_cases():
    from dlnmc.studies import KINDS

    public = {name for name in KINDS if not name.startswith("_")}
    assert public == set(KIND_STUDIES)
    assert {kind for kind, _, _ in BAD_VALUES} == public


@pytest.mark.parametrize("kind", sorted(KIND_STUDIES))
def test_good_kind_studies_validate(kind):
    from dlnmc.studies import KINDS, parse_study

    if any(importlib.util.find_spec(m) is None for m, _ in KINDS[kind].requires):
        pytest.skip(f"{kind} needs an optional package")
    assert parse_study(KIND_STUDIES[kind]).cells()


@pytest.mark.parametrize(("kind", "edit", "needle"), BAD_VALUES)
def test_bad_kind_value_exit_2_one_line_nothing_written(tmp_path, capsys, kind, edit, needle):
    from dlnmc.studies import KINDS

    if any(importlib.util.find_spec(m) is None for m, _ in KINDS[kind].requires):
        pytest.skip(f"{kind} needs an optional package")
    text = KIND_STUDIES[kind]
    for old, new in edit if isinstance(edit[0], tuple) else (edit,):
        assert old in text, (old, text)
        text = text.replace(old, new)
    study = tmp_path / "bad.toml"
    study.write_text(text)
    out = tmp_path / "out.nc"
    code, stdout, err = run_main(["run", str(study), "-o", str(out), "--no-progress"], capsys)
    assert code == 2, (stdout, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dlnmc: error: ")
    assert needle in lines[0], lines[0]
    assert listing(tmp_path) == ["bad.toml"]
