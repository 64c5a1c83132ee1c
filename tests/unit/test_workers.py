"""Chains over worker processes: the same seed gives the same bits on any number of them.

Each chain draws from its own stream (``SeedSequence(seed).spawn(n_chains)``), and the
step sizes are pooled over all chains in the parent, so ``sample_balanced`` with
``n_workers`` = 1, 2, 3, through a Dask ``LocalCluster`` or streamed to netCDF gives
bit-identical draws. Sizes are tiny (d = 2, N = 3): these tests check bits, not laws.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlnmc import sample_balanced
from dlnmc.streams import ChainStreams
from dlnmc.workers import chain_groups, concat_chains, take_chains

KW = dict(beta=1.0, n_draws=6, n_chains=5, seed=7, n_warmup=8)


def _values(tree) -> dict[str, np.ndarray]:
    out = {}
    for group in ("posterior", "sample_stats"):
        ds = tree[group].to_dataset()
        for name in ds.data_vars:
            out[f"{group}/{name}"] = np.asarray(ds[name].values)
    return out


def _assert_same_bits(a, b) -> None:
    va, vb = _values(a), _values(b)
    assert va.keys() == vb.keys()
    for k in va:
        assert va[k].dtype == vb[k].dtype, k
        np.testing.assert_array_equal(va[k], vb[k], err_msg=k, strict=True)

    # the creation time differs; a None attribute is dropped by the in-memory tree only
    def attrs(t):
        return {k: v for k, v in t.attrs.items() if k != "created" and v is not None}

    assert attrs(a) == attrs(b)


@pytest.fixture(scope="module")
def reference():
    return sample_balanced(2, 3, n_workers=1, **KW)


def test_streams_depend_on_seed_and_chain_only():
    a = ChainStreams.from_seed(3, 4)
    b = ChainStreams.from_seed(3, 4)
    x = a.standard_normal((4, 2, 3))
    # a group of chains 1..2 alone draws rows 1..2
    y = b.take(slice(1, 3)).standard_normal((2, 2, 3))
    np.testing.assert_array_equal(x[1:3], y)
    # leading axis k * C: chain c owns rows c k .. (c + 1) k - 1
    z = ChainStreams.from_seed(3, 4).random((8,))
    w = ChainStreams.from_seed(3, 4).take(slice(2, 3)).random((2,))
    np.testing.assert_array_equal(z[4:6], w)
    # decoy: a different chain index gives different draws
    assert not np.array_equal(x[1], x[2])
    with pytest.raises(ValueError, match="multiple of the number of chains"):
        a.random((3,))
    with pytest.raises(ValueError, match="multiple of the number of chains"):
        a.random()


def test_split_and_join_chain_states_round_trip():
    groups = chain_groups(5, 3)
    assert [g.stop - g.start for g in groups] == [2, 2, 1]
    state = {"W": np.arange(10.0).reshape(5, 2), "t": 3, "shared": np.ones(7)}
    parts = [take_chains(state, g, 5) for g in groups]
    back = concat_chains(parts, [2, 2, 1])
    np.testing.assert_array_equal(back["W"], state["W"])
    assert back["t"] == 3


@pytest.mark.parametrize("n_workers", [2, 3])
def test_bits_identical_for_any_number_of_workers(reference, n_workers):
    got = sample_balanced(2, 3, n_workers=n_workers, **KW)
    _assert_same_bits(reference, got)


def test_default_workers_and_progress_give_the_same_bits(reference):
    _assert_same_bits(reference, sample_balanced(2, 3, progress=True, **KW))
    _assert_same_bits(reference, sample_balanced(2, 3, n_workers=2, progress=True, **KW))


def test_decoy_other_seed_differs(reference):
    other = sample_balanced(2, 3, n_workers=2, **{**KW, "seed": 8})
    assert not np.array_equal(reference.posterior.W.values, other.posterior.W.values)


def test_a_chain_does_not_depend_on_the_other_chains(reference):
    """Chain c's stream is the c-th child of the seed: fewer chains, same first chains.

    The step size is pooled over chains (median) at the end of warm-up, so only a run
    with per-chain step sizes keeps a chain's path when chains are dropped.
    """
    kw = {**KW, "step_size_pooling": "per-chain"}
    five = sample_balanced(2, 3, n_workers=2, **kw)
    three = sample_balanced(2, 3, n_workers=1, **{**kw, "n_chains": 3})
    np.testing.assert_array_equal(five.posterior.W.values[:3], three.posterior.W.values)


def test_thin_and_chunks_with_workers(monkeypatch):
    import dlnmc.balanced as balanced

    kw = {**KW, "n_draws": 7, "thin": 2}
    ref = sample_balanced(2, 3, n_workers=1, **kw)
    monkeypatch.setattr(balanced, "CHUNK_DRAWS", 3)  # rounds must stop at chunk ends
    _assert_same_bits(ref, sample_balanced(2, 3, n_workers=2, **kw))


def test_netcdf_streaming_with_workers_equals_memory(reference, tmp_path):
    out = tmp_path / "run.nc"
    got = sample_balanced(2, 3, n_workers=2, out=out, **KW)
    _assert_same_bits(reference, got)
    got.close()


def test_complex_field_and_rwm_with_workers():
    for kw in ({"field": "complex"}, {"sampler": "rwm"}):
        a = sample_balanced(2, 2, n_workers=1, **KW, **kw)
        b = sample_balanced(2, 2, n_workers=3, **KW, **kw)
        _assert_same_bits(a, b)


@pytest.mark.parametrize(
    ("n_workers", "error", "match"),
    [
        (0, ValueError, "n_workers must be >= 1"),
        (-2, ValueError, "n_workers must be >= 1"),
        (1.5, TypeError, "n_workers must be None or an integer"),
        (True, TypeError, "n_workers must be None or an integer"),
        ("2", TypeError, "n_workers must be None or an integer"),
    ],
)
def test_bad_n_workers_rejected_before_any_work(tmp_path, n_workers, error, match):
    out = tmp_path / "never.nc"
    with pytest.raises(error, match=match):
        sample_balanced(2, 3, n_workers=n_workers, out=out, **KW)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bad_scheduler_rejected(tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(TypeError, match=r"scheduler must be a dask\.distributed\.Client"):
        sample_balanced(2, 3, scheduler="tcp://127.0.0.1:1", out=tmp_path / "x.nc", **KW)
    assert not list(tmp_path.iterdir())


class _LocalEnergy:
    """An energy that cannot be pickled (it holds a lambda)."""

    def __init__(self):
        self.f = lambda X: 0.5 * np.sum(X * X, axis=(-2, -1))

    def value(self, X):
        return self.f(X)

    def grad(self, X):
        return X


def test_unpicklable_energy_refused_with_workers_and_fine_in_process(tmp_path):
    with pytest.raises(TypeError, match="cannot be sent to worker processes"):
        sample_balanced(2, 3, n_workers=2, energy=_LocalEnergy(), out=tmp_path / "x.nc", **KW)
    assert not list(tmp_path.iterdir())
    tree = sample_balanced(2, 3, energy=_LocalEnergy(), **KW)  # default: stays in process
    assert tree.posterior.W.shape[:2] == (5, 6)


class _FailingEnergy:
    """Quadratic energy that raises after a number of gradient calls (a worker error)."""

    def __init__(self, fail_after: int):
        self.fail_after = fail_after
        self.calls = 0

    def value(self, X):
        return 0.5 * np.sum(X * X, axis=(-2, -1))

    def grad(self, X):
        self.calls += 1
        if self.calls > self.fail_after:
            raise RuntimeError("energy failed in a worker")
        return X


def test_worker_error_aborts_and_leaves_nothing_on_disk(tmp_path):
    out = tmp_path / "run.nc"
    with pytest.raises(RuntimeError, match="energy failed in a worker"):
        sample_balanced(2, 3, n_workers=2, energy=_FailingEnergy(40), out=out, **KW)
    assert not list(tmp_path.iterdir())
    # the workers were stopped; a new run starts fresh ones and still gives the bits
    _assert_same_bits(
        sample_balanced(2, 3, n_workers=1, **KW), sample_balanced(2, 3, n_workers=2, **KW)
    )


def test_local_cluster_bit_identical(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
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
        got = sample_balanced(2, 3, scheduler=client, **KW)
        streamed = sample_balanced(2, 3, scheduler=client, n_workers=3, out=tmp_path / "d.nc", **KW)
        who = client.run(lambda: __import__("os").getpid())
    assert len(set(who.values())) == 2
    _assert_same_bits(reference, got)
    _assert_same_bits(reference, streamed)
    streamed.close()


def test_automatic_move_to_workers_gives_the_same_bits(reference, monkeypatch):
    """The default starts in this process and moves the chains to workers mid-run."""
    import dlnmc.balanced as balanced
    import dlnmc.workers as workers

    monkeypatch.setattr(balanced, "AUTO_WORKERS_SECONDS", (0.0, 0.0))
    monkeypatch.setattr(balanced.os, "cpu_count", lambda: 2)
    started = []
    real = workers.GroupRunner.__init__

    def spy(self, sampler, n_groups, scheduler=None):
        started.append(n_groups)
        real(self, sampler, n_groups, scheduler)

    monkeypatch.setattr(workers.GroupRunner, "__init__", spy)
    _assert_same_bits(reference, sample_balanced(2, 3, **KW))
    assert started == [1, 2]  # first in this process, then over two workers


def test_ctrl_c_stops_workers_and_writes_nothing(tmp_path, monkeypatch):
    import dlnmc.workers as workers

    real = workers.GroupRunner.run
    calls = []

    def interrupted(self, tasks, tick=None):
        calls.append(len(tasks))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, tasks, tick)

    monkeypatch.setattr(workers.GroupRunner, "run", interrupted)
    out = tmp_path / "run.nc"
    with pytest.raises(KeyboardInterrupt):
        sample_balanced(2, 3, n_workers=2, out=out, **KW)
    assert calls == [2, 2]
    assert not list(tmp_path.iterdir())  # the netCDF backend was aborted
    assert not workers.pool_alive(2)  # the interrupted pool was terminated
