"""The Jacobi projection strategy against the dense and block solvers of the constraint.

- tangent projections equal the dense and block ones to 1e-12 over R, C and H, also at a
  point with two nearly equal singular values (decoy: the projector of another point);
- position projections land on M to the tolerance and on the block projection's root
  from the same start (decoy: the unprojected point);
- ``select`` picks per chain; a chain on the singular stratum fails alone;
- ``projection="auto"`` is dense at tiny sizes and Jacobi above;
- HMC with ``projection="jacobi"`` follows the block projection's chains from the same
  seed (decoy: another seed), and (slow) its singular values match the quadrature law
  over R, C and H at d = 2, N = 3 within 4.5 combined MCSE (decoy: the wrong field's law).
"""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pytest

from dlnmc.balanced import sample_balanced
from dlnmc.constraint import BalancedConstraint, pack
from dlnmc.fields import resolve_field
from dlnmc.manifold import BalancedManifold
from dlnmc.projections import JacobiProjection
from dlnmc.sv_law import sv_law_moments
from tests.tolerances import Z_TOL

FIELDS = ("real", "complex", "quaternion")
Z_MAX = Z_TOL  # fixed in advance
PROBS = (0.1, 0.9)


def balanced_points(field, d, N, C, rng, lam=None):
    """Points ``W_p = Q_p L Q_{p-1}^*`` of M (Haar frames) in the component layout."""
    f = resolve_field(field)
    Q = f.haar(d, (C, N + 1), rng)
    if lam is None:
        lam = np.sort(rng.uniform(0.5, 1.5, (C, d)), axis=-1)[:, ::-1]
    lam = np.broadcast_to(np.asarray(lam, float), (C, d))
    L = f.diag_embed(lam).astype(f.dtype)
    S = Q[:, 1:] @ L[:, None] @ f.ct(Q[:, :-1])
    return S if f.b == 1 else pack(S, f)


CASES = [("distinct", None), ("near_collision", [1.3, 1.3 - 1e-7, 0.6])]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("case,lam", CASES, ids=[c for c, _ in CASES])
def test_tangent_projection_equals_dense_and_block(field, case, lam):
    rng = np.random.default_rng(31)
    d, N, C = 3, 5, 3
    W = balanced_points(field, d, N, C, rng, lam)
    V = rng.standard_normal(W.shape)
    jac = JacobiProjection(d, N, field)
    P = jac.project_tangent(W, V, jac.factor(W))
    scale = np.abs(V).max()
    for mode in ("dense", "block"):
        con = BalancedConstraint(d, N, field=field, mode=mode)
        ref = con.project_tangent(W, V, con.factor(W))
        assert np.abs(P - ref).max() < 1e-12 * scale, mode
    # decoy: the projector of another point of M is not the one at W
    W2 = balanced_points(field, d, N, C, rng, lam)
    assert np.abs(jac.project_tangent(W2, V, jac.factor(W2)) - P).max() > 1e-3 * scale


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("d,N", [(2, 4), (4, 9)])
def test_position_projection_lands_on_M_at_the_block_root(field, d, N):
    rng = np.random.default_rng(32 + d)
    C = 4
    W0 = balanced_points(field, d, N, C, rng)
    jac = JacobiProjection(d, N, field, tol=1e-12)
    con = BalancedConstraint(d, N, field=field, mode="block", tol=1e-12)
    P = jac.project_tangent(W0, rng.standard_normal(W0.shape), jac.factor(W0))
    Wt = W0 + 0.05 * P
    res = jac.project_position(W0, Wt, jac.factor(W0))
    ref = con.project_position(W0, Wt, con.factor(W0))
    assert res.converged.all() and ref.converged.all()
    assert (res.iterations >= 1).all()
    # on M to the tolerance, by the constraint module's own residual
    assert con.residual_norm(res.W).max() < 1e-12
    assert np.abs(res.W - ref.W).max() < 1e-10
    # decoy: the unprojected point is neither on M nor at the block root
    assert np.abs(Wt - ref.W).max() > 1e-5
    assert con.residual_norm(Wt).max() > 1e-6


def test_inactive_and_singular_chains_fail_alone():
    rng = np.random.default_rng(33)
    d, N = 3, 4
    W = balanced_points("real", d, N, 3, rng)
    W[2] = balanced_points("real", d, N, 1, rng, [1.0, 0.5, 0.0])[0]  # singular stratum
    jac = JacobiProjection(d, N)
    fac = jac.factor(W)
    assert np.isnan(fac.inv_mu[2]).all() and np.isfinite(fac.inv_mu[:2]).all()
    Wt = W + 0.01 * jac.project_tangent(W, rng.standard_normal(W.shape), fac)
    active = np.array([True, False, True])
    res = jac.project_position(W, Wt, fac, active)
    assert res.converged.tolist() == [True, False, False]
    assert np.array_equal(res.W[1:], W[1:])  # failed and inactive chains get W0
    alone = jac.project_position(W[:1], Wt[:1], jac.factor(W[:1]))
    np.testing.assert_array_equal(res.W[0], alone.W[0])  # a chain depends on itself only


def test_select_picks_the_factor_per_chain():
    rng = np.random.default_rng(34)
    d, N = 3, 6
    Wa = balanced_points("complex", d, N, 4, rng)
    Wb = balanced_points("complex", d, N, 4, rng)
    jac = JacobiProjection(d, N, "complex")
    fa, fb = jac.factor(Wa), jac.factor(Wb)
    mask = np.array([True, False, False, True])
    sel = fa.select(mask, fb)
    Wm = np.where(mask[:, None, None, None], Wa, Wb)
    V = rng.standard_normal(Wa.shape)
    direct = jac.project_tangent(Wm, V, jac.factor(Wm))
    assert np.abs(jac.project_tangent(Wm, V, sel) - direct).max() < 1e-13
    # decoy: the unselected factor projects onto the wrong tangent spaces
    assert np.abs(jac.project_tangent(Wm, V, fa) - direct).max() > 1e-3


@pytest.mark.parametrize("field", FIELDS)
def test_auto_is_dense_when_tiny_and_jacobi_above(field):
    assert BalancedManifold(2, 3, field).projection_name == "dense"
    assert BalancedManifold(4, 8, field).projection_name == "jacobi"
    assert BalancedManifold(4, 8, field, projection="jacobi").projection_name == "jacobi"
    assert BalancedManifold(4, 8, field, projection="block").projection_name == "block"
    with pytest.raises(ValueError, match="mode must be"):
        BalancedManifold(4, 8, field, projection="lu")


@pytest.mark.parametrize("field", ["real", "quaternion"])
def test_hmc_with_jacobi_follows_the_block_chains(field):
    # Rounding-level differences of the roots grow along the chains (about 10x per 5
    # transitions here), so the run is short: 8 draws after 10 warm-up transitions.
    kw = dict(beta=1.0, n_draws=8, n_chains=3, n_warmup=10, seed=41, field=field)
    a = sample_balanced(3, 4, projection="jacobi", **kw)
    b = sample_balanced(3, 4, projection="block", **kw)
    assert json.loads(a.attrs["settings"])["projection"] == "jacobi"
    np.testing.assert_array_equal(
        a.sample_stats["accepted"].values, b.sample_stats["accepted"].values
    )
    sa, sb = a.posterior["singular_values"].values, b.posterior["singular_values"].values
    assert np.abs(sa - sb).max() < 1e-7
    assert float(a.sample_stats["constraint_residual"].max()) < 1e-10
    # decoy: another seed gives other chains
    c = sample_balanced(3, 4, projection="jacobi", **{**kw, "seed": 42})
    assert np.abs(c.posterior["singular_values"].values - sa).max() > 1e-2


def _z_scores(tree, law):
    s = tree.posterior["singular_values"]
    mcse = az.mcse(tree, var_names=["singular_values"])["singular_values"].values
    out = {"mean": (s.mean(("chain", "draw")).values - law.mean) / mcse}
    for k, p in enumerate(PROBS):
        q = s.quantile(p, dim=("chain", "draw")).values
        se = az.mcse(tree, var_names=["singular_values"], method="quantile", prob=p)
        out[f"q{p}"] = (q - law.quantiles[k]) / se["singular_values"].values
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("field", "seed"), [("real", 401), ("complex", 402), ("quaternion", 403)])
def test_jacobi_projection_matches_the_singular_value_law(field, seed):
    tree = sample_balanced(
        2, 3, beta=1.0, n_draws=500, n_chains=16, n_warmup=200, seed=seed, field=field,
        projection="jacobi",
    )  # fmt: skip
    assert json.loads(tree.attrs["settings"])["projection"] == "jacobi"
    assert float(tree.sample_stats["constraint_residual"].max()) < 1e-10
    z = _z_scores(tree, sv_law_moments(2, 3, 1.0, field, PROBS))
    print(field, {k: np.round(v, 2).tolist() for k, v in z.items()})
    for key, value in z.items():
        assert np.all(np.abs(value) < Z_MAX), (field, key, value)
    # Decoy: the same draws against the wrong field's law are rejected.
    wrong = {"real": "complex", "complex": "real", "quaternion": "complex"}[field]
    z = _z_scores(tree, sv_law_moments(2, 3, 1.0, wrong, PROBS))
    assert max(np.abs(v).max() for v in z.values()) > Z_MAX
