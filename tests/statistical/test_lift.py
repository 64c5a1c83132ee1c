"""The lifted sampler (dlnmc.lift): it ASSUMES the entropy formula, so these tests check
that it samples the closed-form law it is given and lifts exactly, never the theory.

Acceptance: lifted W on M to 1e-10 relative (balancedness residual) with phi(W) = X
over R, C, H; at d = 2 the law of the singular values matches quadrature
(dlnmc.sv_law) on means and 10%/90% quantiles within 4.5 MCSE, and a wrong exponent
of D_ij is rejected; for a non-zero target the law of X matches the emcee reference
(dlnmc.reference.reference_end_to_end) at d = 2, N = 3, and the wrong exponent is
rejected by the same comparison.
"""

import arviz as az
import numpy as np
import pytest

import dlnmc
from dlnmc._deprecated import (
    FieldQuadraticEnergy,
    entropy_sv_field,
    log_rho_sv_field,
    log_sv_density_field,
)
from dlnmc.fields import resolve_field
from dlnmc.lift import (
    entropy_log_sv,
    kept_draws,
    lift_to_manifold,
    log_density_log_sv,
    log_density_power_map,
    power_map_vjp,
    sample_lifted,
)
from dlnmc.network import balancedness_residual, phi
from dlnmc.network import balancedness_residual as balancedness_residual_field
from dlnmc.network import end_to_end as phi_field
from dlnmc.reference import (
    log_density_end_to_end,
    power_map_log_jacobian,
    reference_end_to_end,
)
from dlnmc.samplers.euclidean import sample_hmc, warmup_windows
from dlnmc.sv_law import sv_law_moments
from tests.tolerances import Z_TOL as Z_MAX

PROBS = (0.1, 0.9)
FIELDS = ("real", "complex", "quaternion")


# --------------------------------------------------------------------------------------
# Densities (fast)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("depth", [1, 3, 40])
def test_log_sv_density_matches_entropy_module(field, depth):
    rng = np.random.default_rng(1)
    t = rng.normal(size=(6, 4))
    lp, grad = log_density_log_sv(t, depth, 1.3, field)
    ref = log_sv_density_field(np.exp(t), depth, 1.3, field) + t.sum(-1)  # ds = s dt
    assert np.ptp(lp - ref) < 1e-12
    h = 1e-6
    for k in range(4):
        e = np.zeros(4)
        e[k] = h
        num = (log_density_log_sv(t + e, depth, 1.3, field)[0] - log_density_log_sv(
            t - e, depth, 1.3, field)[0]) / (2 * h)  # fmt: skip
        assert np.allclose(num, grad[:, k], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("field", FIELDS)
def test_entropy_from_logs(field):
    rng = np.random.default_rng(2)
    t = rng.normal(size=(5, 3))
    t[0, 1] = t[0, 0]  # a collision
    assert np.allclose(entropy_log_sv(t, 7, field), entropy_sv_field(np.exp(t), 7, field))
    # Where s_min underflows a double the entropy from logs stays finite and exact:
    # S(c X) - S(X) = (b d(d-1)/2 (1 - 1/N) + (b-1) d (1 - 1/N)) log c (scaling).
    b = resolve_field(field).b
    deep = np.array([[0.0, -1.0, -2000.0]])
    shift = entropy_log_sv(deep + 5.0, 1000, field) - entropy_log_sv(deep, 1000, field)
    expected = (b * 3 + (b - 1) * 3) * (1 - 1 / 1000) * 5.0
    assert np.isfinite(shift).all() and np.allclose(shift, expected)


@pytest.mark.parametrize("field", FIELDS)
def test_power_map_density_and_gradient(field):
    F = resolve_field(field)
    rng = np.random.default_rng(3)
    d, N, beta = 3, 4, 0.7
    Y = F.gaussian(d, (), rng)
    en = FieldQuadraticEnergy(field, Y)
    z = rng.normal(size=(4, F.b * d * d))
    lp, g = log_density_power_map(z, N, beta, en, F, d)
    # Against the pieces of the reference module: -beta E + log rho_b + log|det dX/dZ|.
    Zm = F.from_components(z.reshape(-1, d, d, F.b))
    U, sig, V = F.svd(Zm)
    X = (U * F.expand_diagonal(sig**N)[..., None, :]) @ F.ct(V)
    ref = (
        -beta * en.value(X)
        + log_rho_sv_field(sig**N, N, field)
        + power_map_log_jacobian(sig, N, field=field)
    )
    assert np.ptp(lp - ref) < 1e-12 * max(1.0, np.abs(lp).max())
    if field == "real":
        ref_real = log_density_end_to_end(X, N, beta, Y) + power_map_log_jacobian(
            sig, N, field=field
        )
        assert np.ptp(lp - ref_real) < 1e-12 * max(1.0, np.abs(lp).max())
    h = 1e-6
    num = np.empty_like(z)
    for k in range(z.shape[1]):
        e = np.zeros(z.shape[1])
        e[k] = h
        num[:, k] = (
            log_density_power_map(z + e, N, beta, en, F, d)[0]
            - log_density_power_map(z - e, N, beta, en, F, d)[0]
        ) / (2 * h)
    assert np.abs(num - g).max() < 1e-6 * max(1.0, np.abs(g).max())


@pytest.mark.parametrize("field", FIELDS)
def test_power_map_vjp_is_the_adjoint_derivative(field):
    """<G, dX(Z)[H]> = <vjp(G), H>, with dX[H] from a central difference."""
    F = resolve_field(field)
    rng = np.random.default_rng(4)
    d, N = 3, 5
    Z = F.gaussian(d, (), rng)
    H = F.gaussian(d, (), rng)
    G = F.gaussian(d, (), rng)

    def X_of(Zm):
        U, s, Vh = np.linalg.svd(Zm)
        return (U * s[..., None, :] ** N) @ Vh

    h = 1e-6
    dX = (X_of(Z + h * H) - X_of(Z - h * H)) / (2 * h)
    U, s, Vh = np.linalg.svd(Z)
    lhs = F.inner(G, dX)
    rhs = F.inner(power_map_vjp(U, s, Vh, G, N, F), H)
    assert abs(lhs - rhs) < 1e-6 * max(1.0, abs(lhs))
    # Decoy: the transpose-free guess U (G~) Vh with f' on every entry is not the adjoint.
    wrong = U @ ((N * s ** (N - 1))[:, None] * (F.ct(U) @ G @ F.ct(Vh))) @ Vh
    assert abs(F.inner(wrong, H) - lhs) > 1e-3 * max(1.0, abs(lhs))


# --------------------------------------------------------------------------------------
# The Euclidean HMC
# --------------------------------------------------------------------------------------


def test_euclidean_hmc_on_a_correlated_gaussian():
    cov = np.array([[4.0, 1.9], [1.9, 1.0]])
    prec = np.linalg.inv(cov)

    def log_density(q):
        return -0.5 * np.einsum("ci,ij,cj->c", q, prec, q), -q @ prec

    rng = np.random.default_rng(5)
    res = sample_hmc(log_density, rng.normal(size=(4, 2)), n_warmup=300, n_draws=1500, rng=rng)
    x = res.draws.reshape(-1, 2)
    tree = az.from_dict({"posterior": {"x": res.draws, "x2": res.draws**2}})
    mcse = az.mcse(tree, var_names=["x"])["x"].values
    assert np.all(np.abs(x.mean(0) / mcse) < Z_MAX)
    mcse2 = az.mcse(tree, var_names=["x2"])["x2"].values
    z_var = ((x**2).mean(0) - np.diag(cov)) / mcse2
    assert np.all(np.abs(z_var) < Z_MAX), z_var
    # Decoy: the same check against a variance 30% off fails.
    assert np.any(np.abs(((x**2).mean(0) - 1.3 * np.diag(cov)) / mcse2) > Z_MAX)
    assert set(res.stats) == {"acceptance_rate", "step_size", "diverging", "lp", "n_steps"}


def test_warmup_windows_are_increasing_and_inside():
    for n in (0, 19, 20, 100, 500, 1000, 3000):
        w = warmup_windows(n)
        assert w == sorted(w) and all(0 < e <= n for e in w)
    assert warmup_windows(10) == []


# --------------------------------------------------------------------------------------
# The lift and the tree (fast)
# --------------------------------------------------------------------------------------


def _lifted_W(tree, field):
    """Stored matrices W (chain, k, N, n, n) and the matching X, whichever group holds W."""
    F = resolve_field(field)
    if "W" in tree.posterior:
        Wc, X = tree.posterior["W"].values, tree.posterior["X"].values
    else:
        Wc = tree["lifted"]["W"].values
        kept = tree["lifted"]["kept_draw"].values
        X = tree.posterior["X"].values[:, kept]
    if F.b == 1:
        return Wc, X
    return F.from_components(Wc), F.from_components(X)


@pytest.mark.slow
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("target", [False, True])
def test_lift_is_on_M_and_reproduces_X(field, target):
    F = resolve_field(field)
    d, N = 3, 6
    Y = F.gaussian(d, (), np.random.default_rng(6)) if target else None
    tree = sample_lifted(
        d, N, beta=1.0, n_draws=20, n_chains=2, seed=7, target=Y, field=field, n_warmup=40
    )
    W, X = _lifted_W(tree, field)
    res = balancedness_residual(W) if F.b == 1 else balancedness_residual_field(W, field)
    scale = np.abs(W).max() ** 2
    assert np.abs(res).max() < 1e-10 * scale
    Xw = phi(W) if F.b == 1 else phi_field(W, field)
    assert np.abs(Xw - X).max() < 1e-10 * np.abs(X).max()
    assert float(tree.sample_stats["phi_error"].max()) < 1e-10
    # singular values of X over F are the stored ones (moderate N: no underflow)
    s = F.singular_values(F.from_components(tree.posterior["X"].values) if F.b > 1
                          else tree.posterior["X"].values)  # fmt: skip
    assert np.allclose(s, tree.posterior["singular_values"].values, rtol=1e-8)


def test_lift_at_depth_1000_where_s_min_underflows():
    tree = sample_lifted(8, 1000, beta=1.0, n_draws=10, n_chains=2, seed=8, n_warmup=100)
    W = tree["lifted"]["W"].values if "lifted" in tree.children else tree.posterior["W"].values
    res = balancedness_residual(W)
    assert np.abs(res).max() < 1e-10 * np.abs(W).max() ** 2
    assert np.isfinite(tree.posterior["X"].values).all()
    errors = tree["lifted"]["phi_error"] if "lifted" in tree.children else tree.sample_stats[
        "phi_error"]  # fmt: skip
    assert float(errors.max()) < 1e-10
    ls = tree.posterior["log_singular_values"].values
    assert np.all(np.diff(ls, axis=-1) < 0)
    assert np.isfinite(tree.posterior["entropy"].values).all()


def test_lift_to_manifold_gauge_is_haar_and_explicit_gauge_is_used():
    rng = np.random.default_rng(9)
    F = resolve_field("real")
    U, V = F.haar(3, (2,), rng)
    log_lam = np.array([0.3, 0.0, -0.5])
    Q = F.haar(3, (4,), rng)
    W = lift_to_manifold(U, log_lam, V, 5, F, gauge=Q)
    assert np.allclose(W[1], Q[1] @ np.diag(np.exp(log_lam)) @ Q[0].T)
    with pytest.raises(ValueError, match="rng"):
        lift_to_manifold(U, log_lam, V, 5, F)


@pytest.mark.parametrize("field", FIELDS)
def test_lifted_gauge_is_haar(field):
    """Q_1 = W_1 V Lambda^{-1} must be Haar in G_d: E[Q] = 0 and E|tr Q|^2 = 1.

    The stored (defining) representation of O_3, U_3 and Sp_3 is irreducible, so by
    orthogonality of characters the mean of |tr Q|^2 under Haar measure is exactly 1.
    """
    F = resolve_field(field)
    rng = np.random.default_rng(14)
    U, V = F.haar(3, (2,), rng)
    log_lam = np.array([0.4, 0.1, -0.3])
    n_draws = 4000
    batch = np.broadcast_to(U, (n_draws, *U.shape))
    W = lift_to_manifold(batch, np.broadcast_to(log_lam, (n_draws, 3)),
                         np.broadcast_to(V, batch.shape), 2, F, rng=rng)  # fmt: skip
    lam_inv = F.expand_diagonal(np.exp(-log_lam))
    Q = (W[:, 0] @ V) * lam_inv[None, :]
    tr = np.trace(Q, axis1=-2, axis2=-1)
    second = np.mean(np.abs(tr) ** 2)
    expected = 1.0
    se = np.std(np.abs(tr) ** 2) / np.sqrt(n_draws)
    assert abs(second - expected) < Z_MAX * se, (second, expected, se)
    assert np.all(np.abs(Q.mean(0)) < Z_MAX / np.sqrt(n_draws) * 1.5)
    # Decoy: random sign flips (a gauge that keeps the orbit but is not Haar) fail the same test.
    signs = F.diag_embed(rng.choice([-1.0, 1.0], size=(n_draws, 3))).astype(F.dtype)
    Ws = lift_to_manifold(batch, np.broadcast_to(log_lam, (n_draws, 3)),
                          np.broadcast_to(V, batch.shape), 2, F, gauge=signs[:, None])  # fmt: skip
    trs = np.trace((Ws[:, 0] @ V) * lam_inv[None, :], axis1=-2, axis2=-1)
    se_s = np.std(np.abs(trs) ** 2) / np.sqrt(n_draws)
    assert abs(np.mean(np.abs(trs) ** 2) - expected) > Z_MAX * se_s
    # The symmetric gauge Q_p = U (balanced_factorization without rng) is used as given.
    Wd = lift_to_manifold(U, log_lam, V, 2, F, gauge=U[None])
    Qd = (Wd[0] @ V) * lam_inv
    assert np.allclose(Qd, U)


@pytest.mark.parametrize("field", FIELDS)
def test_tree_layout_and_attributes(field):
    tree = sample_lifted(2, 3, beta=1.0, n_draws=12, n_chains=3, seed=10, field=field, n_warmup=30)
    assert tree.attrs["assumes_entropy_formula"] == 1
    assert tree.attrs["sampler"] == "lift" and tree.attrs["field"] == field
    assert tree.attrs["route"] == "singular_values"
    for key in ("width", "depth", "beta", "seed", "settings", "dlnmc_version", "created"):
        assert key in tree.attrs
    post = tree.posterior
    for name in ("X", "singular_values", "log_singular_values", "entropy", "energy", "trace_X"):
        assert post[name].dims[:2] == ("chain", "draw")
    stats = tree.sample_stats
    for name in ("acceptance_rate", "step_size", "diverging", "lp", "n_steps"):
        assert stats[name].shape == (3, 12)
    if field == "real":
        assert post["X"].dims == ("chain", "draw", "row", "col")
        assert post["W"].dims == ("chain", "draw", "layer", "row", "col")
    else:
        assert post["X"].dims[-1] == "component" and post["W"].dims[-1] == "component"
        assert list(post["component"].values) == list(resolve_field(field).components)
    assert np.allclose(post["entropy"], entropy_sv_field(post["singular_values"].values, 3, field))
    assert np.allclose(post["energy"], 0.5 * (post["singular_values"] ** 2).sum("sv"))
    az.summary(tree, var_names=["singular_values"])  # ArviZ reads it with no arguments


def test_keep_W_options_and_seed():
    kw = {"beta": 1.0, "n_draws": 10, "n_chains": 2, "seed": 11, "n_warmup": 30}
    full = sample_lifted(2, 4, keep_W="all", **kw)
    some = sample_lifted(2, 4, keep_W=3, **kw)
    none = sample_lifted(2, 4, keep_W="none", **kw)
    idx = sample_lifted(2, 4, keep_W=[0, 5], **kw)
    again = sample_lifted(2, 4, keep_W="all", **kw)
    # X never depends on which draws keep W; the same seed gives the same bits.
    for t in (some, none, idx, again):
        assert np.array_equal(t.posterior["X"].values, full.posterior["X"].values)
    assert np.array_equal(again.posterior["W"].values, full.posterior["W"].values)
    assert "W" in full.posterior and "lifted" not in full.children
    assert list(some["lifted"]["kept_draw"].values) == [3, 6, 9]
    assert some["lifted"]["W"].shape == (2, 3, 4, 2, 2)
    assert list(idx["lifted"]["kept_draw"].values) == [0, 5]
    assert none["lifted"]["W"].shape[1] == 0
    other = sample_lifted(2, 4, keep_W="all", **{**kw, "seed": 12})
    assert not np.array_equal(other.posterior["X"].values, full.posterior["X"].values)
    # Default by size: one W at d = 64, N = 1000 is 32 MB, so only a few draws keep it.
    assert kept_draws(None, 1000, 4, 1000 * 64 * 64 * 8).size == 1
    assert kept_draws(None, 100, 4, 16 * 8 * 8 * 8).size == 100


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"beta": 0.0}, ValueError, "beta"),
        ({"beta": -1.0}, ValueError, "beta"),
        ({"n_draws": 0}, ValueError, "n_draws"),
        ({"n_chains": 1.5}, TypeError, "n_chains"),
        ({"seed": -1}, ValueError, "seed"),
        ({"field": "octonion"}, ValueError, "field"),
        ({"target": np.eye(3)}, ValueError, "target"),
        ({"keep_W": "some"}, ValueError, "keep_W"),
        ({"keep_W": [0, 99]}, ValueError, "keep_W"),
        ({"keep_W": -2}, ValueError, "keep_W"),
        ({"target_accept": 1.5}, ValueError, "target_accept"),
        ({"step_size": 0}, ValueError, "step_size"),
        ({"thin": 0}, ValueError, "thin"),
    ],
)
def test_bad_input_is_refused_before_work(kwargs, exc, match):
    base = {"beta": 1.0, "n_draws": 5, "n_chains": 2, "seed": 1}
    with pytest.raises(exc, match=match):
        sample_lifted(2, 3, **{**base, **kwargs})


def test_thinning_keeps_every_other_transition_of_the_same_chain():
    kw = {"beta": 1.0, "n_chains": 2, "seed": 13, "n_warmup": 30, "keep_W": "none"}
    one = sample_lifted(3, 4, n_draws=10, **kw)
    two = sample_lifted(3, 4, n_draws=5, thin=2, **kw)
    a = one.posterior["log_singular_values"].values[:, 1::2]
    assert np.array_equal(two.posterior["log_singular_values"].values, a)
    assert two.attrs["thin"] == 2


def test_balanced_dispatch_is_one_line():
    """``sample_balanced(..., sampler="lift")`` forwards its keywords unchanged."""
    import inspect

    params = inspect.signature(sample_lifted).parameters
    names = ("beta", "n_draws", "n_chains", "seed", "target", "field", "n_warmup", "energy",
             "thin", "progress")  # fmt: skip
    for name in names:
        assert name in params


# --------------------------------------------------------------------------------------
# The law (slow)
# --------------------------------------------------------------------------------------


def _sv_z(tree, mean, quantiles):
    s = tree.posterior["singular_values"]
    out = [(s.mean(("chain", "draw")).values - mean)
           / az.mcse(tree, var_names=["singular_values"])["singular_values"].values]  # fmt: skip
    for k, p in enumerate(PROBS):
        q = s.quantile(p, dim=("chain", "draw")).values
        se = az.mcse(tree, var_names=["singular_values"], method="quantile", prob=p)
        out.append((q - quantiles[k]) / se["singular_values"].values)
    return np.array(out)


@pytest.mark.slow
@pytest.mark.parametrize("field", FIELDS)
def test_law_at_width_2_matches_quadrature(field):
    seed = {"real": 101, "complex": 102, "quaternion": 103}[field]
    tree = sample_lifted(2, 3, beta=1.0, n_draws=2000, n_chains=4, seed=seed, field=field)
    law = sv_law_moments(2, 3, 1.0, field, PROBS)
    z = _sv_z(tree, law.mean, law.quantiles)
    assert np.all(np.abs(z) < Z_MAX), z
    rhat = az.rhat(tree, var_names=["singular_values"])["singular_values"].values
    assert np.all(rhat <= 1.01), rhat
    # Decoy: the law with exponent b * 0.7 on D_ij instead of b / 2 is rejected.
    wrong = sv_law_moments(2, 3, 1.0, field, PROBS, alpha=0.7)
    assert np.abs(_sv_z(tree, wrong.mean, wrong.quantiles)).max() > Z_MAX


@pytest.mark.slow
@pytest.mark.parametrize("depth", [8, 64])
def test_law_at_width_2_deep_real(depth):
    """Deep real networks: the s_min tail (log s_min ~ -N) is where a sampler can fail."""
    tree = sample_lifted(2, depth, beta=1.0, n_draws=2000, n_chains=4, seed=104 + depth)
    law = sv_law_moments(2, depth, 1.0, "real", PROBS)
    z = _sv_z(tree, law.mean, law.quantiles)
    assert np.all(np.abs(z) < Z_MAX), z
    wrong = sv_law_moments(2, depth, 1.0, "real", PROBS, alpha=0.7)
    assert np.abs(_sv_z(tree, wrong.mean, wrong.quantiles)).max() > Z_MAX


def _x_summaries(tree):
    out = {}
    for name in ("singular_values", "trace_X"):
        x = tree.posterior[name]
        out[name, "mean"] = (
            x.mean(("chain", "draw")).values,
            az.mcse(tree, var_names=[name])[name].values,
        )
        for q in PROBS:
            out[name, q] = (
                x.quantile(q, dim=("chain", "draw")).values,
                az.mcse(tree, var_names=[name], method="quantile", prob=q)[name].values,
            )
    return out


def _max_z(a_tree, b_tree):
    a, b = _x_summaries(a_tree), _x_summaries(b_tree)
    return max(float(np.abs((a[k][0] - b[k][0]) / np.hypot(a[k][1], b[k][1])).max()) for k in a)


@pytest.mark.slow
def test_general_target_matches_emcee_reference():
    Y = np.array([[1.5, 0.3], [-0.2, 0.6]])
    lift = sample_lifted(2, 3, beta=1.0, n_draws=2000, n_chains=4, seed=111, target=Y)
    assert lift.attrs["route"] == "power_map"
    ref = reference_end_to_end(2, 3, beta=1.0, n_draws=3000, seed=112, target=Y)
    assert _max_z(lift, ref) < Z_MAX
    rhat = az.rhat(lift, var_names=["singular_values"])["singular_values"].values
    assert np.all(rhat <= 1.01), rhat
    # Decoy: the emcee reference with the wrong exponent of D_ij (1 instead of 1/2).
    decoy = reference_end_to_end(2, 3, beta=1.0, n_draws=3000, seed=113, target=Y, alpha=1.0)
    assert _max_z(lift, decoy) > Z_MAX


def test_sample_balanced_dispatches_lift_and_labels_it():
    """sample_balanced(sampler="lift") is the lifted sampler, labelled as assuming the theorem."""
    kw = dict(beta=1.0, n_draws=20, n_chains=2, seed=4, n_warmup=50)
    a = dlnmc.sample_balanced(2, 3, sampler="lift", **kw)
    b = sample_lifted(2, 3, **kw)
    assert a.attrs["assumes_entropy_formula"] == 1
    np.testing.assert_array_equal(a.posterior["X"].values, b.posterior["X"].values)
    with pytest.raises(ValueError, match="in-memory"):
        dlnmc.sample_balanced(
            2, 3, beta=1.0, n_draws=20, n_chains=2, seed=4, sampler="lift", out="x.nc"
        )
