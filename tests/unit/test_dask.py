"""Sweeps as Dask tasks: a 2-worker LocalCluster gives bit-identical results."""

from __future__ import annotations

import numpy as np
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


# ----------------------------------------------------------------------------- langevin
LANGEVIN_STUDY = """
name = "lv_dask"
description = "langevin study for the dask test"
seed = 4
kind = "langevin"
[grid]
width = [2]
depth = [2, 3]
beta = [1.0]
start = [[1.5, 0.4]]
dt = [1e-3]
[settings]
t_max = 0.01
n_paths = 12
record_times = [0.005, 0.01]
sv_paths_ratio = 2
"""


def test_langevin_on_a_local_cluster_is_bit_identical(tmp_path):
    """Path batches as dask tasks (2 worker processes) and the langevin study kind on the
    same cluster give the bits of one in-process worker."""
    from dlnmc.dynamics import langevin

    kw = dict(beta=1.0, start=[1.5, 0.4], t_max=0.02, dt=1e-3, n_paths=9, seed=21)
    ref = {route: langevin(2, 3, route=route, **kw) for route in ("manifold", "singular_values")}
    study = parse_study(LANGEVIN_STUDY)
    ref_study = run_study(study, tmp_path / "ref.nc", progress=False)
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
        got = {
            "manifold": langevin(2, 3, scheduler=client, batch_size=2, **kw),
            # by address, streamed to disk
            "singular_values": langevin(
                2,
                3,
                route="singular_values",
                scheduler=cluster.scheduler_address,
                out=tmp_path / "sv.nc",
                **kw,
            ),
        }
        got_study = run_study(study, tmp_path / "dask.nc", client=client, progress=False)
        who = client.run(lambda: __import__("os").getpid())
    assert len(set(who.values())) == 2
    for route in ref:
        for group in ("trajectory", "sample_stats"):
            for name in ref[route][group].data_vars:
                a, b = ref[route][group][name].values, got[route][group][name].values
                np.testing.assert_array_equal(a, b, err_msg=f"{route} {name}")
    trees_equal(ref_study, got_study)
    with pytest.raises(ValueError, match="not both"):
        langevin(2, 3, scheduler="tcp://127.0.0.1:1", n_workers=2, **kw)
