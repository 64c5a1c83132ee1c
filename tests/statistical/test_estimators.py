"""Chart-route orbit and group volumes against the closed form (issue 3, items 3-5).

Tolerances fixed in advance: |z| < 4.5 and relative standard error of the
volume <= 1% at default settings.
"""

import math

import numpy as np
import pytest
import xarray as xr

import dlnmc.entropy
import dlnmc.fields
import dlnmc.groups
import dlnmc.volumes
from dlnmc.charts import euler_chart
from dlnmc.entropy import entropy_sv
from dlnmc.groups import log_group_volume
from dlnmc.volumes import (
    GroupVolumeEstimate,
    OrbitVolumeEstimate,
    VolumeEstimate,
    estimate_group_volume,
    estimate_orbit_volume,
    orbit_volume_table,
)
from tests.tolerances import Z_TOL

REL_SE_MAX = 0.01


def _random_s(d: int, N: int) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([2026, d, N]))
    return np.sort(np.exp(rng.uniform(-1.5, 1.5, d)))[::-1]


# --- the chart -------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_chart_is_special_orthogonal_with_exact_derivatives(d):
    chart = euler_chart(d)
    assert chart.dim == d * (d - 1) // 2
    rng = np.random.default_rng(d)
    theta = chart.from_unit(rng.random((6, chart.dim)))
    g, dg = chart.matrix_and_derivatives(theta)
    assert np.abs(g @ np.swapaxes(g, -1, -2) - np.eye(d)).max() < 1e-13
    np.testing.assert_allclose(np.linalg.det(g), 1.0, atol=1e-13)
    h = 1e-6
    for k in range(chart.dim):
        e = np.zeros(chart.dim)
        e[k] = h
        fd = (chart.matrix(theta + e) - chart.matrix(theta - e)) / (2 * h)
        np.testing.assert_allclose(dg[:, k], fd, atol=1e-8)


def test_chart_box():
    # SO(3): two polar angles in [0, pi], one azimuth in [0, 2 pi).
    chart = euler_chart(3)
    np.testing.assert_allclose(np.sort(chart.upper), [np.pi, 2 * np.pi, 2 * np.pi])
    assert chart.log_box_volume == pytest.approx(math.log(4 * np.pi**3))
    assert sorted(chart.sobol_order) == list(range(3))
    with pytest.raises(ValueError, match="theta"):
        chart.matrix(np.zeros(2))


def test_chart_first_column_covers_sphere():
    """Box angles weighted by the Gram determinant make g(theta) e_1 uniform on S^{d-1}."""
    d, n = 3, 20000
    chart = euler_chart(d)
    theta = chart.from_unit(np.random.default_rng(0).random((n, chart.dim)))
    g, dg = chart.matrix_and_derivatives(theta)
    T = dg.reshape(n, chart.dim, -1)
    w = np.sqrt(np.linalg.det(T @ np.swapaxes(T, -1, -2)))
    x = g[:, 2, 0]  # third coordinate of g e_1: uniform on [-1, 1] for the sphere measure
    mean = np.sum(w * x) / w.sum()
    # Weighted mean of a U(-1, 1) variable; s.e. from the self-normalized estimator.
    se = np.sqrt(np.sum(w**2 * (x - mean) ** 2)) / w.sum()
    assert abs(mean / se) < Z_TOL


# --- orbit volumes ---------------------------------------------------------------------

GRID = [(d, N) for d in (1, 2, 3, 4) for N in (2, 3, 5)]


@pytest.mark.slow
@pytest.mark.parametrize(("d", "N"), GRID)
def test_orbit_volume_matches_closed_form(d, N):
    s = _random_s(d, N)
    est = estimate_orbit_volume(s, N, seed=1000 * d + N)
    assert isinstance(est, OrbitVolumeEstimate)
    assert est.closed_form == pytest.approx(entropy_sv(s, N), rel=1e-14)
    assert est.stderr <= REL_SE_MAX
    assert abs(est.z_score) < Z_TOL
    assert est.width == d and est.depth == N


@pytest.mark.parametrize("N", [2, 3, 5])
def test_orbit_volume_collision(N):
    """Repeated singular values (s_1 = s_2) where the paper's van(s^2)/van(s^{2/N}) is 0/0."""
    est = estimate_orbit_volume([1.5, 1.5, 0.7], N, seed=77 + N)
    assert est.stderr <= REL_SE_MAX
    assert abs(est.z_score) < Z_TOL


def test_orbit_volume_plain_mc():
    est = estimate_orbit_volume(_random_s(3, 3), 3, 2**14, seed=5, method="mc")
    assert est.method == "mc" and est.n_samples == 2**14 and est.n_replicates == 1
    assert abs(est.z_score) < Z_TOL


def test_orbit_volume_extreme_singular_values():
    est = estimate_orbit_volume([1e120, 1.0, 1e-120], 3, seed=3)
    assert abs(est.z_score) < Z_TOL
    assert est.stderr <= REL_SE_MAX


@pytest.mark.parametrize("N", [1, 2, 5])
def test_width_one_is_exact_count(N):
    est = estimate_orbit_volume([3.7], N, seed=0)
    assert est.method == "exact" and est.stderr == 0.0 and est.n_samples == 0
    assert est.log_volume == (N - 1) * math.log(2.0)
    assert est.z_score == 0.0


def test_depth_one_is_a_point():
    est = estimate_orbit_volume([2.0, 1.0, 0.5], 1)
    assert est.log_volume == 0.0 and est.stderr == 0.0 and est.z_score == 0.0


def test_estimate_does_not_use_closed_form(monkeypatch):
    """Sabotage the group volume and the D_ij everywhere: the Monte Carlo value must not move."""
    s, N = [2.0, 1.0, 0.5], 3
    ref = estimate_orbit_volume(s, N, 2**12, seed=9)

    def broken(*args, **kwargs):
        raise AssertionError("closed form used")

    for mod in (dlnmc.entropy, dlnmc.groups, dlnmc.volumes):
        for name in ("log_group_volume", "log_D", "log_D_pairs", "entropy"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, broken)
    monkeypatch.setattr(dlnmc.fields.Field, "log_group_volume", broken)
    monkeypatch.setattr(dlnmc.volumes, "entropy_sv", lambda s, N, **kw: 0.0)
    est = estimate_orbit_volume(s, N, 2**12, seed=9)
    assert est.log_volume == ref.log_volume and est.stderr == ref.stderr
    assert est.closed_form == 0.0


def test_stderr_is_honest_rqmc():
    """Coverage: over independent seeds, z = (estimate - truth)/stderr has E[z^2] ~ 1.

    With R = 16 replicates z follows Student t_15, so z^2 ~ F(1, 15): E z^2 = 15/13 and
    Var z^2 = 2 nu^2 (nu - 1) / ((nu - 2)^2 (nu - 4)) = 3.389 (taken from scipy so that
    it cannot drift); the bound allows 4.5 s.e. of the mean of z^2."""
    from scipy import stats

    K = 150
    z = np.array(
        [estimate_orbit_volume([2.0, 1.0, 0.5], 2, 2**9, seed=k).z_score for k in range(K)]
    )
    mean_t2, var_t2 = stats.f(1, 15).mean(), stats.f(1, 15).var()
    assert abs(np.mean(z**2) - mean_t2) < Z_TOL * math.sqrt(var_t2 / K)


def test_stderr_is_honest_mc():
    K = 150
    z = np.array(
        [
            estimate_orbit_volume([2.0, 1.0, 0.5], 2, 2**9, seed=k, method="mc").z_score
            for k in range(K)
        ]
    )
    assert abs(np.mean(z**2) - 1.0) < Z_TOL * math.sqrt(2.0 / K)


def test_rqmc_reduces_variance():
    """At equal samples the RQMC standard error is smaller than plain MC (d=3, N=2)."""
    s = [2.0, 1.0, 0.5]
    rq = estimate_orbit_volume(s, 2, 2**12, seed=1, method="rqmc")
    mc = estimate_orbit_volume(s, 2, 2**12, seed=1, method="mc")
    assert rq.stderr < mc.stderr / 3


def test_seed_reproducible():
    a = estimate_orbit_volume([2.0, 1.0], 3, 2**10, seed=4)
    b = estimate_orbit_volume([2.0, 1.0], 3, 2**10, seed=np.random.default_rng(4))
    c = estimate_orbit_volume([2.0, 1.0], 3, 2**10, seed=5)
    assert a.log_volume == b.log_volume and a.stderr == b.stderr
    assert a.log_volume != c.log_volume or a.stderr != c.stderr


def test_bad_input():
    with pytest.raises(ValueError, match="method"):
        estimate_orbit_volume([1.0, 2.0], 2, method="quasi")
    with pytest.raises(ValueError, match="s"):
        estimate_orbit_volume([1.0, 0.0], 2)
    with pytest.raises(ValueError, match="s"):
        estimate_orbit_volume([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="depth"):
        estimate_orbit_volume([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="n_samples"):
        estimate_orbit_volume([1.0, 2.0], 2, 1)
    with pytest.raises(TypeError, match="n_samples"):
        estimate_orbit_volume([1.0, 2.0], 2, 100.5)
    with pytest.raises(ValueError, match="d"):
        estimate_group_volume(0)


# --- group volumes ---------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_group_volume_matches_closed_form(d):
    est = estimate_group_volume(d, seed=d)
    assert isinstance(est, GroupVolumeEstimate)
    assert est.closed_form == log_group_volume(d)
    assert abs(est.z_score) < Z_TOL
    assert est.stderr <= REL_SE_MAX


def test_group_volume_textbook_values():
    """c_2 = 4 sqrt(2) pi exactly (constant integrand), c_3 = 32 sqrt(2) pi^2."""
    assert estimate_group_volume(2, seed=0).log_volume == pytest.approx(
        math.log(4 * math.sqrt(2) * math.pi), rel=1e-12
    )
    est = estimate_group_volume(3, seed=0)
    assert abs(est.log_volume - math.log(32 * math.sqrt(2) * math.pi**2)) < Z_TOL * est.stderr


# --- the table -------------------------------------------------------------------------


def test_table_schema_and_order_independence():
    ds = orbit_volume_table([1, 2, 3], [2, 3], n_samples=2**10, seed=8)
    assert isinstance(ds, xr.Dataset)
    for v in ("log_volume_mc", "stderr", "closed_form", "z_score"):
        assert ds[v].dims == ("width", "depth")
    assert ds.attrs["log"] == "natural" and "Frobenius" in ds.attrs["metric"]
    assert np.all(np.abs(ds.z_score) < Z_TOL)
    # The (3, 3) cell does not depend on which other cells were computed.
    alone = orbit_volume_table([3], [3], n_samples=2**10, seed=8)
    assert float(alone.log_volume_mc.sel(width=3, depth=3)) == float(
        ds.log_volume_mc.sel(width=3, depth=3)
    )
    s3 = ds.singular_values.sel(width=3).values
    assert float(ds.closed_form.sel(width=3, depth=3)) == pytest.approx(entropy_sv(s3, 3))


def test_table_given_singular_values():
    ds = orbit_volume_table([2], [2, 4], n_samples=2**10, seed=1, singular_values={2: [1.5, 1.5]})
    np.testing.assert_array_equal(ds.singular_values.sel(width=2).values, [1.5, 1.5])
    with pytest.raises(ValueError, match="width 3"):
        orbit_volume_table([3], [2], singular_values={2: [1.0, 2.0]})
    with pytest.raises(ValueError, match="shape"):
        orbit_volume_table([3], [2], singular_values=lambda w: np.ones(w + 1))


def test_table_without_seed_records_it():
    ds = orbit_volume_table([2], [3], n_samples=2**8, seed=None)
    again = orbit_volume_table([2], [3], n_samples=2**8, seed=ds.attrs["seed"])
    np.testing.assert_array_equal(ds.log_volume_mc.values, again.log_volume_mc.values)


def test_default_sample_sizes_grow_with_dimension():
    from dlnmc.volumes import default_n_samples

    sizes = [default_n_samples(k) for k in (1, 6, 12, 13, 18, 19, 24, 100)]
    assert sizes == sorted(sizes)
    assert estimate_orbit_volume([2.0, 1.0, 0.5], 2, seed=0).n_samples == default_n_samples(3)


def test_table_saves_to_netcdf(tmp_path):
    ds = orbit_volume_table([1, 2], [2], n_samples=2**8, seed=None)
    path = tmp_path / "orbit.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    back = xr.open_dataset(path, engine="h5netcdf")
    xr.testing.assert_identical(back.load(), ds)
    back.close()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        # rqmc with one replicate has no spread: stderr was NaN and z = inf.
        (
            lambda: estimate_orbit_volume([2.0, 1.0], 3, 1024, 0, n_replicates=1),
            ValueError,
            "n_replicates",
        ),
        (lambda: estimate_group_volume(3, 1024, 0, n_replicates=1), ValueError, "n_replicates"),
        # d = 1 and N = 1 are exact counts, but their arguments are still checked.
        (lambda: estimate_orbit_volume([2.0], 3, "x", 0), TypeError, "n_samples"),
        (lambda: estimate_orbit_volume([2.0], 3, 1024, "x"), TypeError, "seed"),
        (lambda: estimate_orbit_volume([2.0, 1.0], 1, -3, 0), ValueError, "n_samples"),
        (lambda: estimate_group_volume(1, "x"), TypeError, "n_samples"),
        (lambda: estimate_orbit_volume([2.0, 1.0], 3, 1024, 1.5), TypeError, "seed"),
        (lambda: orbit_volume_table([2], [2], n_samples=256, seed=1.5), TypeError, "seed"),
        (lambda: orbit_volume_table([2], [2], n_samples=256, seed="a"), TypeError, "seed"),
    ],
)
def test_bad_sampling_options(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "ran"),
    [
        # Not n_replicates x 2^k: rounded up to the next valid RQMC size (it was refused,
        # and before that 16 Sobol' warnings and a silent truncation).
        (lambda: estimate_orbit_volume([2.0, 1.0], 3, 1000, 0), 1024),
        (lambda: estimate_group_volume(3, 100, 0), 128),
        (lambda: estimate_orbit_volume([1.0, 2.0], 2, 8, 0), 16),
        (lambda: estimate_orbit_volume([1.0, 2.0], 2, 2, 0), 16),
        (lambda: estimate_orbit_volume([2.0, 1.0], 3, 1000, 0, method="mc"), 1000),
        (lambda: estimate_orbit_volume([2.0, 1.0], 3, 3, 0, method="mc"), 3),
    ],
)
def test_any_sample_count_runs_and_is_recorded(call, ran):
    est = call()
    assert isinstance(est, VolumeEstimate)
    assert est.n_samples == ran and est.n_requested <= ran
    assert math.isfinite(est.z_score) and est.stderr > 0


def test_z_score_refuses_a_non_finite_stderr():
    from dlnmc.volumes import z_score as _z_score

    for se in (math.nan, math.inf):
        with pytest.raises(ValueError, match="stderr"):
            _z_score(1.0, 1.0, se)
