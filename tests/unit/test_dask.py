"""Sweeps as Dask tasks: a 2-worker LocalCluster gives bit-identical results."""

from __future__ import annotations

import pytest

from dlnmc.studies import load_result, parse_study, run_study
from tests.studyhelpers import trees_equal

distributed = pytest.importorskip("distributed")

STUDY = """
name = "dask_check"
description = "entropy sweep for the dask test"
seed = 11
kind = "entropy_sweep"
[grid]
width = [2, 3, 4]
depth = [2, 3, 6]
[settings]
n_points = 4
"""


@pytest.mark.slow
def test_local_cluster_bit_identical_to_in_process(tmp_path):
    study = parse_study(STUDY)
    ref = run_study(study, tmp_path / "ref.nc", progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        # through the --scheduler code path (a client connected by address)
        got = run_study(
            study, tmp_path / "dask.nc", scheduler=cluster.scheduler_address, progress=False
        )
        who = client.run(lambda: __import__("os").getpid())
    assert len(set(who.values())) == 2
    trees_equal(ref, got)
    trees_equal(load_result(tmp_path / "ref.nc"), load_result(tmp_path / "dask.nc"))


@pytest.mark.slow
def test_cli_workers_option_matches_in_process(tmp_path, capsys):
    """``dlnmc run --workers 2`` (a LocalCluster on loopback) writes the same results."""
    from dlnmc.cli import main

    study = tmp_path / "s.toml"
    study.write_text(STUDY)
    assert (
        main(["run", str(study), "-o", str(tmp_path / "a.nc"), "--no-progress", "--no-plots"]) == 0
    )
    assert (
        main(
            [
                "run",
                str(study),
                "-o",
                str(tmp_path / "b.nc"),
                "--workers",
                "2",
                "--no-progress",
                "--no-plots",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("9 cells computed") == 2
    trees_equal(load_result(tmp_path / "a.nc"), load_result(tmp_path / "b.nc"))


@pytest.mark.slow
def test_unreachable_scheduler_is_a_study_error_and_writes_nothing(tmp_path):
    import re
    import socket

    import dask

    from dlnmc.studies import StudyError

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with dask.config.set({"distributed.comm.timeouts.connect": "3s"}):
        with pytest.raises(StudyError, match=re.escape(f"scheduler at '{address}'")):
            run_study(parse_study(STUDY), tmp_path / "r.nc", scheduler=address, progress=False)
    assert list(tmp_path.iterdir()) == []  # no checkpoint directory left behind
