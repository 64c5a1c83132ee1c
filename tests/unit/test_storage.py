"""Saving, loading and streaming ensembles: exact round trips, atomicity under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from dlnmc.ensemble import build_tree
from dlnmc.storage import (
    EnsembleWriter,
    decode_attrs,
    encode_attrs,
    load_tree,
    save_tree,
    sweep_stale_temporaries,
)
from tests.paths import REPO


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _tree(seed: int = 0) -> xr.DataTree:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, 50, 2, 2))
    return build_tree(
        {
            "W": rng.normal(size=(3, 50, 3, 2, 2)),
            "X": X,
            "singular_values": np.linalg.svd(X, compute_uv=False),
            "entropy": rng.normal(size=(3, 50)),
        },
        {
            "acceptance_rate": rng.random((3, 50)),
            "projection_iterations": rng.integers(0, 9, (3, 50)),
            "diverging": rng.random((3, 50)) < 0.1,
        },
        attrs={
            "width": 2,
            "depth": 3,
            "beta": 1.25,
            "seed": 12345,
            "study": 'kind = "balanced"\n[grid]\nwidth = [2]\n',
            "sampler": "rattle_hmc",
            "sampler_settings": {"step_size": 0.1, "n_warmup": 100, "adapt": True},
            "target": None,
            "flag": False,
            "grid": np.arange(4.0),
            "names": ["a", "b"],
        },
    )


def _tiny(value: float) -> xr.DataTree:
    return build_tree({"X": np.full((2, 3, 2, 2), value)}, attrs={"version": int(value)})


def _assert_bit_identical(a: xr.DataTree, b: xr.DataTree) -> None:
    assert sorted(n.path for n in a.subtree) == sorted(n.path for n in b.subtree)
    for node in a.subtree:
        other = b[node.path]
        assert set(node.variables) == set(other.variables), node.path
        for name, var in node.variables.items():
            got = other.variables[name]
            assert var.dims == got.dims, name
            assert var.dtype == got.dtype, name
            assert var.values.tobytes() == got.values.tobytes(), name
        assert set(node.attrs) == set(other.attrs), node.path
        for key, val in node.attrs.items():
            got = other.attrs[key]
            if isinstance(val, dict | list | bool | str) or val is None:
                assert got == val and type(got) is type(val), key
            else:  # numbers and arrays come back as numpy values of the same dtype
                assert np.asarray(got).dtype == np.asarray(val).dtype, key
                assert np.asarray(got).tobytes() == np.asarray(val).tobytes(), key


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_round_trip_is_bit_identical(tmp_path, suffix):
    tree = _tree()
    path = save_tree(tree, tmp_path / f"ens{suffix}")
    loaded = load_tree(path)
    _assert_bit_identical(tree, loaded)
    assert loaded.attrs["sampler_settings"] == {"step_size": 0.1, "n_warmup": 100, "adapt": True}
    # Overwriting an existing file (or zarr store) replaces it completely.
    save_tree(_tiny(7.0), path)
    assert load_tree(path).attrs["version"] == 7
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_plain_xarray_sees_json_attributes(tmp_path):
    path = save_tree(_tree(), tmp_path / "ens.nc")
    with xr.open_datatree(path, engine="h5netcdf") as raw:
        assert raw.attrs["sampler_settings_json"] == (
            '{"adapt": true, "n_warmup": 100, "step_size": 0.1}'
        )
        assert "sampler_settings" not in raw.attrs
        assert raw["posterior"].dims["chain"] == 3


def test_attribute_encoding_errors():
    with pytest.raises(ValueError, match="settings_json"):
        encode_attrs({"settings": {"a": 1}, "settings_json": "{}"})
    with pytest.raises(TypeError, match="'bad'"):
        encode_attrs({"bad": object()})
    assert decode_attrs(encode_attrs({"a": [1, 2], "b": None})) == {"a": [1, 2], "b": None}


def test_string_attribute_named_json_round_trips(tmp_path):
    # A native string whose name ends in _json must not be mistaken for an
    # encoded value on load (json.loads("hello") would raise).
    attrs = {"note_json": "hello", "plain": "x", "cfg": {"a": 1}}
    assert decode_attrs(encode_attrs(attrs)) == attrs
    tree = xr.DataTree(xr.Dataset({"a": (("chain", "draw"), np.zeros((1, 2)))}, attrs=attrs))
    loaded = load_tree(save_tree(tree, tmp_path / "a.nc"))
    assert {k: loaded.attrs[k] for k in attrs} == attrs


def test_bad_paths_and_formats(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        save_tree(_tiny(1.0), tmp_path / "ens.csv")
    with pytest.raises(ValueError, match="format"):
        save_tree(_tiny(1.0), tmp_path / "ens.nc", format="hdf")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_tree(_tiny(1.0), tmp_path / "missing" / "ens.nc")
    with pytest.raises(FileNotFoundError, match="no such"):
        load_tree(tmp_path / "nothing.nc")
    with pytest.raises(TypeError, match="DataTree"):
        save_tree({"X": 1}, tmp_path / "ens.nc")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_previous_file(tmp_path, monkeypatch):
    path = save_tree(_tiny(1.0), tmp_path / "ens.nc")

    def explode(self, *args, **kwargs):
        Path(args[0]).write_bytes(b"partial")  # something half-written, then a crash
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", explode)
    with pytest.raises(OSError, match="disk full"):
        save_tree(_tiny(2.0), path)
    assert load_tree(path).attrs["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ens.nc"]


@pytest.mark.slow
def test_arviz_in_fresh_process(tmp_path):
    path = save_tree(_tree(), tmp_path / "ens.nc")
    code = textwrap.dedent(
        f"""
        import arviz, xarray
        tree = xarray.open_datatree({str(path)!r})
        s = arviz.summary(tree)
        r = arviz.rhat(tree)
        assert "singular_values[0]" in s.index and "r_hat" in s.columns, s
        print(len(s), float(r["entropy"]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert out.returncode == 0, out.stderr
    n_rows, rhat = out.stdout.split()
    assert int(n_rows) == 12 * 1 + 4 + 2 + 1  # W (3x2x2), X (2x2), singular values, entropy
    assert 0.9 < float(rhat) < 1.2  # independent normal draws


# --------------------------------------------------------------------------- streaming


def _chunks(n_chunks: int, k: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    for _ in range(n_chunks):
        X = rng.normal(size=(2, k, 3, 3))
        yield (
            {"X": X, "singular_values": np.linalg.svd(X, compute_uv=False)},
            {"acceptance_rate": rng.random((2, k)), "n_steps": rng.integers(1, 9, (2, k))},
        )


def test_writer_matches_build_tree(tmp_path):
    path = tmp_path / "stream.nc"
    with EnsembleWriter(path, attrs={"depth": 3, "sampler_settings": {"n": 1}}) as w:
        for post, stats in _chunks(4, 25):
            w.append(post, stats)
    assert w.n_draws == 100
    parts = list(_chunks(4, 25))
    expected = build_tree(
        {k: np.concatenate([p[0][k] for p in parts], axis=1) for k in parts[0][0]},
        {k: np.concatenate([p[1][k] for p in parts], axis=1) for k in parts[0][1]},
    )
    loaded = load_tree(path)
    for group in ("posterior", "sample_stats"):
        xr.testing.assert_identical(
            loaded[group].to_dataset().drop_attrs(), expected[group].to_dataset().drop_attrs()
        )
    assert loaded.attrs["sampler_settings"] == {"n": 1}
    assert loaded.attrs["depth"] == 3 and "numpy_version" in loaded.attrs
    import arviz as az

    assert az.rhat(loaded)["X"].shape == (3, 3)


def test_writer_rejects_inconsistent_chunks(tmp_path):
    path = tmp_path / "stream.nc"
    with pytest.raises(ValueError, match="same chain and k"):
        with EnsembleWriter(path) as w:
            w.append({"X": np.zeros((2, 5, 3, 3)), "singular_values": np.zeros((2, 4, 3))})
    with pytest.raises(ValueError, match="exactly the variables"):
        with EnsembleWriter(path) as w:
            w.append({"X": np.zeros((2, 5, 3, 3))})
            w.append({"singular_values": np.zeros((2, 5, 3))})
    with pytest.raises(ValueError, match="expected shape"):
        with EnsembleWriter(path) as w:
            w.append({"X": np.zeros((2, 5, 3, 3))})
            w.append({"X": np.zeros((2, 5, 2, 2))})
    with pytest.raises(ValueError, match="netCDF"):
        EnsembleWriter(tmp_path / "stream.zarr")
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_rejected_append_writes_nothing(tmp_path):
    # The bad array is in the second group: the first group must not have grown either.
    path = tmp_path / "stream.nc"
    with EnsembleWriter(path) as w:
        w.append({"X": np.zeros((2, 3, 2, 2))}, {"acc": np.zeros((2, 3))})
        with pytest.raises(ValueError, match=r"sample_stats\.acc"):
            w.append({"X": np.ones((2, 4, 2, 2))}, {"acc": np.zeros((2, 4, 5))})
        assert w.n_draws == 3
    tree = load_tree(path)
    assert tree["posterior"].sizes["draw"] == tree["sample_stats"].sizes["draw"] == 3
    np.testing.assert_array_equal(tree["posterior"]["X"].values, 0.0)
    np.testing.assert_array_equal(tree["posterior"]["draw"].values, np.arange(3))


def test_writer_exception_keeps_previous_file(tmp_path):
    path = save_tree(_tiny(5.0), tmp_path / "ens.nc")
    with pytest.raises(RuntimeError, match="sampler crashed"):
        with EnsembleWriter(path) as w:
            w.append({"X": np.zeros((2, 5, 3, 3))})
            raise RuntimeError("sampler crashed")
    assert load_tree(path).attrs["version"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["ens.nc"]


@pytest.mark.slow
def test_writer_peak_memory_does_not_grow_with_draws(tmp_path):
    # 2e4 then 1e6 draws of X (3x3) and singular values: 96 MB of data in the
    # larger file, written in chunks of 1e4 draws (1 MB). Peak RSS may grow
    # by far less than the data size.
    code = textwrap.dedent(
        f"""
        import resource, numpy as np
        from dlnmc.storage import EnsembleWriter
        rng = np.random.default_rng(0)
        for n in (20_000, 1_000_000):
            with EnsembleWriter({str(tmp_path)!r} + f"/s{{n}}.nc") as w:
                for _ in range(n // 10_000):
                    X = rng.normal(size=(1, 10_000, 3, 3))
                    w.append({{"X": X, "singular_values": np.linalg.svd(X, compute_uv=False)}})
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert out.returncode == 0, out.stderr
    small_kb, large_kb = map(int, out.stdout.split())
    assert (tmp_path / "s1000000.nc").stat().st_size > 96e6
    assert large_kb - small_kb < 30_000, (small_kb, large_kb)


# --------------------------------------------------------------------------- SIGKILL


def _spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _temps(path: Path) -> list[Path]:
    return [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]


def _wait_for_temp(proc: subprocess.Popen, path: Path, timeout: float = 60.0) -> None:
    """Poll until the writer has a non-empty temporary, i.e. is in the middle of a write."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(p.stat().st_size > 0 for p in _temps(path) if p.exists()):
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.002)
    raise AssertionError("writer never started writing")


SAVE_LOOP = """
    import numpy as np
    from dlnmc.ensemble import build_tree
    from dlnmc.storage import save_tree
    for i in range(1, 1000):
        X = np.full((2, 400_000, 2, 2), float(i))  # 25.6 MB per version
        save_tree(build_tree({"X": X}, attrs={"version": i}), %r)
        print(i, flush=True)
"""


def _check_complete(path: Path) -> int:
    tree = load_tree(path)
    version = int(tree.attrs["version"])
    X = tree["posterior"]["X"].values
    assert X.shape == (2, 400_000, 2, 2)
    assert np.all(X == version)
    return version


@pytest.mark.slow
def test_sigkill_during_first_save_leaves_no_file(tmp_path):
    path = tmp_path / "ens.nc"
    proc = _spawn(SAVE_LOOP % str(path))
    _wait_for_temp(proc, path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if path.exists():  # the first write completed between poll and kill
        assert _check_complete(path) >= 1
    else:
        assert _temps(path), "killed writer should have left only its temporary"
    # The next write sweeps the dead writer's temporary.
    save_tree(_tiny(1.0), path)
    assert [p.name for p in tmp_path.iterdir()] == ["ens.nc"]


@pytest.mark.slow
def test_sigkill_during_save_keeps_previous_file(tmp_path):
    path = tmp_path / "ens.nc"
    proc = _spawn(SAVE_LOOP % str(path))
    assert proc.stdout.readline().strip() == "1"  # version 1 is complete on disk
    _wait_for_temp(proc, path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    version = _check_complete(path)
    assert version >= 1
    assert sweep_stale_temporaries(path) or not _temps(path)
    assert [p.name for p in tmp_path.iterdir()] == ["ens.nc"]


@pytest.mark.slow
def test_sigkill_during_streaming_keeps_previous_file(tmp_path):
    path = save_tree(_tiny(9.0), tmp_path / "ens.nc")
    proc = _spawn(
        f"""
        import time, numpy as np
        from dlnmc.storage import EnsembleWriter
        rng = np.random.default_rng(0)
        with EnsembleWriter({str(path)!r}) as w:
            for i in range(10_000):
                X = rng.normal(size=(2, 1000, 3, 3))
                w.append({{"X": X, "singular_values": np.linalg.svd(X, compute_uv=False)}})
                if i == 3:
                    print("streaming", flush=True)
        """
    )
    assert proc.stdout.readline().strip() == "streaming"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _temps(path), "the killed writer was mid-stream, so its temporary exists"
    assert load_tree(path).attrs["version"] == 9  # previous file intact
    with EnsembleWriter(path) as w:  # the next writer sweeps the stale temporary
        w.append({"X": np.ones((1, 2, 3, 3))})
    assert [p.name for p in tmp_path.iterdir()] == ["ens.nc"]
    assert load_tree(path)["posterior"]["X"].shape == (1, 2, 3, 3)
