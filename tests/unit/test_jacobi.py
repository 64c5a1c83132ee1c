"""The Jacobi-frame Gram solve against dense Gram matrices built from the explicit Jacobian.

The references here never use :mod:`dlnmc.frames`: the Jacobian of ``F`` comes from the
quadratic identity ``J(W) E = F(W + E) - F(W) - F(E)`` on a basis of layer space, in an
orthonormal basis of Hermitian matrices built below, and the Gram matrix is ``J J^T / 2``
(the half adjoint of the constraint modules). Each property test has a decoy (a solve
without the coupling between neighbouring nodes, or the frame of the wrong node) that
the same check rejects.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlnmc.constraint import BalancedConstraint
from dlnmc.fields import COMPLEX, QUATERNION, REAL, Field
from dlnmc.frames import (
    JacobiGram,
    balanced_frames,
    constraint_jac,
    constraint_jac_t,
    gram_apply,
    jacobi_gram,
    project_position_jacobi,
    tangent_projection,
)

FIELDS = [REAL, COMPLEX, QUATERNION]
IDS = ["R", "C", "H"]


# -- independent references ----------------------------------------------------------------
def random_balanced(f: Field, d: int, N: int, C: int, rng, lam=None):
    """Balanced chains ``W_p = Q_p L Q_{p-1}^*`` from Haar frames; returns ``(W, Q, lam)``."""
    Q = f.haar(d, (C, N + 1), rng)
    if lam is None:
        lam = np.sort(rng.uniform(0.4, 1.6, (C, d)), axis=-1)[:, ::-1]
    lam = np.broadcast_to(np.asarray(lam, float), (C, d)).copy()
    L = f.diag_embed(lam).astype(f.dtype)
    return Q[:, 1:] @ L[:, None] @ f.ct(Q[:, :-1]), Q, lam


def residual_ref(W, f: Field):
    Wh = f.ct(W)
    return Wh[..., 1:, :, :] @ W[..., 1:, :, :] - W[..., :-1, :, :] @ Wh[..., :-1, :, :]


def layer_basis(f: Field, d: int, N: int):
    """Orthonormal real basis of layer space, stored: ``(b N d^2, N, n, n)``."""
    K = f.b * N * d * d
    return f.from_components(np.eye(K).reshape(K, N, d, d, f.b))


def hermitian_basis(f: Field, d: int):
    """Orthonormal real basis of Hermitian ``d x d`` matrices over ``f``, stored ``(m, n, n)``."""
    conj = np.array([1.0, -1.0, -1.0, -1.0])[: f.b]  # components of the conjugate
    out = []
    for i in range(d):
        c = np.zeros((d, d, f.b))
        c[i, i, 0] = 1.0
        out.append(c)
        for j in range(i + 1, d):
            for k in range(f.b):
                c = np.zeros((d, d, f.b))
                c[i, j, k] = np.sqrt(0.5)
                c[j, i, k] = np.sqrt(0.5) * conj[k]
                out.append(c)
    return f.from_components(np.stack(out))


def node_basis(f: Field, d: int, N: int):
    """Orthonormal basis of multipliers ``(n_nodes m, N-1, n, n)``, node-major."""
    B = hermitian_basis(f, d)
    m = B.shape[0]
    out = np.zeros((N - 1, m, N - 1, *B.shape[1:]), dtype=f.dtype)
    for p in range(N - 1):
        out[p, :, p] = B
    return out.reshape((N - 1) * m, N - 1, *B.shape[1:])


def coords(H, basis, f: Field):
    """Coordinates of node stacks ``H (..., N-1, n, n)`` in an orthonormal basis."""
    return f.inner(basis, H[..., None, :, :, :], 3)


def from_coords(c, basis):
    return np.tensordot(c, basis, axes=([-1], [0]))


def dense_gram(W1, f: Field, d: int, N: int):
    """``J J^T / 2`` of one chain ``W1 (N, n, n)`` and its Jacobian, from the quadratic identity."""
    E = layer_basis(f, d, N)
    B = node_basis(f, d, N)
    F0 = residual_ref(W1, f)
    cols = residual_ref(W1 + E, f) - F0 - residual_ref(E, f)  # J E_k, (K, N-1, n, n)
    J = coords(cols, B, f).T  # (n m, K)
    return J @ J.T / 2, J, B


def jacobi_matrix(gram: JacobiGram, chain: int, B, f: Field):
    """The Jacobi operator of one chain as a matrix in the basis ``B``."""
    g = gram.take(np.array([chain]))
    return coords(g.apply(B[:, None])[:, 0], B, f).T


def drop_coupling_solve(gram: JacobiGram, R):
    """Decoy: the Jacobi solve without the coupling of neighbouring nodes (diagonal only)."""
    fr = gram.frames
    return fr.nodes_from_frame(fr.nodes_to_frame(R) / gram.a[..., None, :, :])


# -- frames --------------------------------------------------------------------------------
NEAR = {
    "distinct": None,
    "near_collision": [1.3, 1.3 - 1e-7, 0.6],
    # closer than Field.svd's quaternionic cluster width (1e-9 s_max)
    "near_collision_tight": [1.3, 1.3 - 1e-11, 0.6],
    "collision": [1.1, 1.1, 0.5],
    "all_equal": [0.9, 0.9, 0.9],
}


@pytest.mark.parametrize("f", FIELDS, ids=IDS)
@pytest.mark.parametrize("case", list(NEAR))
def test_frames_reconstruct_the_layers(f, case):
    rng = np.random.default_rng(11)
    N = 7
    W, _, lam = random_balanced(f, 3, N, 4, rng, NEAR[case])
    fr = balanced_frames(W, f)
    assert fr.Q.shape == (4, N + 1, *W.shape[-2:])
    assert np.abs(fr.point() - W).max() < 1e-13
    assert fr.residual.max() < 1e-13
    assert np.abs(fr.lam - np.sort(lam, axis=-1)[:, ::-1]).max() < 1e-13
    eye = np.eye(W.shape[-1])
    assert np.abs(f.ct(fr.Q) @ fr.Q - eye).max() < 1e-13
    # decoy: the frames of the neighbouring nodes do not reconstruct the layers
    shifted = f.ct(fr.Q[:, 2:]) @ W[:, 1:] @ fr.Q[:, :-2]
    assert np.abs(shifted - f.diag_embed(fr.lam)[:, None]).max() > 1e-3


def test_frames_deep_network_stays_accurate():
    rng = np.random.default_rng(5)
    W, _, _ = random_balanced(REAL, 4, 400, 2, rng, [1.2, 1.2 - 1e-3, 0.8, 0.3])
    fr = balanced_frames(W, REAL)
    assert fr.residual.max() < 1e-13


# -- K is tridiagonal in the frame ---------------------------------------------------------
@pytest.mark.parametrize("f", FIELDS, ids=IDS)
def test_gram_is_tridiagonal_in_the_frame(f):
    rng = np.random.default_rng(2)
    d, N = 3, 5
    W, Q, _ = random_balanced(f, d, N, 1, rng)
    K, _, B = dense_gram(W[0], f, d, N)

    def frame_pattern_excess(Qn):
        """Largest entry of K in the frame ``Qn`` outside the pattern, relative to max|K|."""
        # Columns: basis multipliers in the frame, rotated out; rows: rotated back in.
        Lam = Qn[1:-1] @ B @ f.ct(Qn[1:-1])
        KL = from_coords(coords(Lam, B, f) @ K.T, B)
        Kt = coords(f.ct(Qn[1:-1]) @ KL @ Qn[1:-1], B, f).T
        m = B.shape[0] // (N - 1)
        p = np.repeat(np.arange(N - 1), m)
        k = np.tile(np.arange(m), N - 1)
        allowed = (k[:, None] == k[None, :]) & (np.abs(p[:, None] - p[None, :]) <= 1)
        return np.abs(np.where(allowed, 0.0, Kt)).max() / np.abs(Kt).max()

    assert frame_pattern_excess(Q[0]) < 1e-12
    assert frame_pattern_excess(balanced_frames(W, f).Q[0]) < 1e-12
    # decoy: a frame off by one node does not split K
    assert frame_pattern_excess(np.roll(Q[0], 1, axis=0)) > 1e-2


# -- conventions ---------------------------------------------------------------------------
@pytest.mark.parametrize("f", FIELDS, ids=IDS)
def test_conventions_jac_and_half_adjoint(f):
    rng = np.random.default_rng(3)
    d, N = 2, 4
    W, _, _ = random_balanced(f, d, N, 1, rng)
    _, J, B = dense_gram(W[0], f, d, N)
    E = layer_basis(f, d, N)
    assert np.allclose(coords(constraint_jac(W[0], E, f), B, f).T, J, atol=1e-13)
    normals = constraint_jac_t(W[0], B, f)  # (n m, N, n, n)
    Jt_half = f.inner(E[None], normals[:, None], 3).T  # (K, n m)
    assert np.allclose(Jt_half, J.T / 2, atol=1e-13)
    assert not np.allclose(Jt_half, J.T, atol=1e-3)  # decoy: the full adjoint


# -- the solve -----------------------------------------------------------------------------
def solve_error(solve, W, f, d, N):
    """Max over chains of the relative error of ``solve(R)`` against the dense Gram solve."""
    worst = 0.0
    rng = np.random.default_rng(99)
    for c in range(W.shape[0]):
        K, _, B = dense_gram(W[c], f, d, N)
        r = rng.standard_normal(K.shape[0])
        x_ref = np.linalg.solve(K, r)
        R = np.zeros((W.shape[0], *B.shape[1:]), dtype=f.dtype)
        R[c] = from_coords(r, B)
        x = coords(solve(R)[c], B, f)
        worst = max(worst, np.abs(x - x_ref).max() / np.abs(x_ref).max())
    return worst


SIZES = [(1, 2), (2, 3), (3, 5), (4, 8), (2, 12)]


@pytest.mark.parametrize("f", FIELDS, ids=IDS)
@pytest.mark.parametrize("d,N", SIZES)
@pytest.mark.parametrize("method", ["thomas", "sine"])
def test_jacobi_solve_equals_dense_gram_solve(f, d, N, method):
    rng = np.random.default_rng(7 + d + N)
    W, _, _ = random_balanced(f, d, N, 2, rng)
    gram = jacobi_gram(W, f, method=method)
    assert solve_error(gram.solve, W, f, d, N) < 1e-10
    if N > 2:  # decoy: the same check rejects a solve without the coupling of nodes
        assert solve_error(lambda R: drop_coupling_solve(gram, R), W, f, d, N) > 1e-2
    # apply is the inverse of solve and equals the exact K(W)
    R = constraint_jac(W, f.gaussian(d, (2, N), rng), f)
    assert np.abs(gram.apply(gram.solve(R)) - R).max() < 1e-11 * np.abs(R).max()
    Lam = gram.solve(R)
    assert np.abs(gram_apply(W, Lam, f) - R).max() < 1e-11 * np.abs(R).max()


@pytest.mark.parametrize("f", FIELDS, ids=IDS)
@pytest.mark.parametrize(
    "case", ["near_collision", "near_collision_tight", "collision", "all_equal"]
)
def test_jacobi_solve_at_repeated_singular_values(f, case):
    rng = np.random.default_rng(21)
    d, N = 3, 6
    W, _, _ = random_balanced(f, d, N, 2, rng, NEAR[case])
    gram = jacobi_gram(W, f)
    assert solve_error(gram.solve, W, f, d, N) < 1e-10


def test_matches_balanced_constraint_block_and_dense_gram():
    """Over R, in the coordinates of ``BalancedConstraint`` (its gram_dense and block LU)."""
    rng = np.random.default_rng(4)
    d, N, C = 3, 9, 3
    W, _, _ = random_balanced(REAL, d, N, C, rng)
    con = BalancedConstraint(d, N, mode="block")
    gram = jacobi_gram(W, REAL)
    r = rng.standard_normal((C, N - 1, con.m))
    x_ref = np.linalg.solve(con.gram_dense(W), r.reshape(C, -1, 1)).reshape(r.shape)
    x = gram.solve_coords(r, con.to_coords, con.from_coords)
    assert np.abs(x - x_ref).max() < 1e-10 * np.abs(x_ref).max()
    x_blk = con.factor(W).solve(r)
    assert np.abs(x - x_blk).max() < 1e-10 * np.abs(x_ref).max()
    V = rng.standard_normal(W.shape)
    P_ref = con.project_tangent(W, V, con.factor(W))
    assert np.abs(tangent_projection(W, V, REAL, gram=gram) - P_ref).max() < 1e-11


@pytest.mark.parametrize("f", [COMPLEX, QUATERNION], ids=["C", "H"])
def test_matches_field_constraint(f):
    """Over C and H, in the coordinates of ``BalancedConstraint(field=f)`` (dense Gram)."""
    from dlnmc.constraint import pack

    rng = np.random.default_rng(6)
    d, N, C = 2, 4, 2
    W, _, _ = random_balanced(f, d, N, C, rng)
    con = BalancedConstraint(d, N, field=f, mode="block")
    Wp = pack(W, f)
    gram = jacobi_gram(W, f)
    r = rng.standard_normal((C, N - 1, con.m))
    x_ref = np.linalg.solve(con.gram_dense(Wp), r.reshape(C, -1, 1)).reshape(r.shape)
    x = gram.solve_coords(r, con.to_coords, con.from_coords)
    assert np.abs(x - x_ref).max() < 1e-10 * np.abs(x_ref).max()
    V = f.gaussian(d, (C, N), rng)
    P_ref = con.project_tangent(Wp, pack(V, f), con.factor(Wp))
    assert np.abs(pack(tangent_projection(W, V, f), f) - P_ref).max() < 1e-11


# -- tangent projection --------------------------------------------------------------------
@pytest.mark.parametrize("f", FIELDS, ids=IDS)
@pytest.mark.parametrize("d,N", [(3, 5), (4, 16)])
def test_tangent_projection_idempotent_and_annihilated_by_J(f, d, N):
    rng = np.random.default_rng(8)
    W, _, _ = random_balanced(f, d, N, 3, rng)
    gram = jacobi_gram(W, f)
    V = f.gaussian(d, (3, N), rng)
    P = tangent_projection(W, V, f, gram=gram)
    scale = np.abs(V).max()
    assert np.abs(constraint_jac(W, P, f)).max() < 1e-12 * scale
    assert np.abs(tangent_projection(W, P, f, gram=gram) - P).max() < 1e-12 * scale
    # orthogonal: V - P is normal, so it is orthogonal to P
    assert np.abs(f.inner(V - P, P, 3)).max() < 1e-11 * scale**2
    # decoy: the projection with a solve that drops the node coupling leaves a residual
    bad = V - constraint_jac_t(W, drop_coupling_solve(gram, constraint_jac(W, V, f)), f)
    assert np.abs(constraint_jac(W, bad, f)).max() > 1e-3 * scale


# -- position projection -------------------------------------------------------------------
@pytest.mark.parametrize("f", FIELDS, ids=IDS)
def test_position_projection_reaches_the_dense_projection(f):
    rng = np.random.default_rng(12)
    d, N, C = 2, 4, 4
    W0, _, _ = random_balanced(f, d, N, C, rng)
    P = tangent_projection(W0, f.gaussian(d, (C, N), rng), f)
    Wt = W0 + 0.1 * P  # a position step along the tangent space, then off M
    res = project_position_jacobi(W0, Wt, f, tol=1e-12)
    assert res.converged.all()
    assert np.abs(residual_ref(res.W, f)).max() < 1e-12
    assert np.abs(res.W - Wt - constraint_jac_t(W0, res.lam, f)).max() < 1e-13
    if f.b == 1:
        con = BalancedConstraint(d, N)
        ref = con.project_position(W0, Wt, con.factor(W0)).W
    else:
        from dlnmc._deprecated import FieldBalancedConstraint
        from dlnmc.constraint import pack, unpack

        con = FieldBalancedConstraint(d, N, f.name)
        W0c = pack(W0, f.name)
        ref = unpack(con.project_position(W0c, pack(Wt, f.name), con.factor(W0c)).W, f.name)
    assert np.abs(res.W - ref).max() < 1e-10
    # decoy: an unprojected point is not the dense projection
    assert np.abs(Wt - ref).max() > 1e-4


def test_position_projection_large_block_reference():
    rng = np.random.default_rng(13)
    d, N, C = 4, 12, 3
    W0, _, _ = random_balanced(REAL, d, N, C, rng)
    Wt = W0 + 0.2 * tangent_projection(W0, rng.standard_normal(W0.shape), REAL)
    res = project_position_jacobi(W0, Wt, REAL)
    con = BalancedConstraint(d, N, mode="block")
    ref = con.project_position(W0, Wt, con.factor(W0))
    assert res.converged.all() and ref.converged.all()
    assert np.abs(res.W - ref.W).max() < 1e-10


# -- bad input -----------------------------------------------------------------------------
def test_bad_input_is_refused():
    rng = np.random.default_rng(0)
    W, _, _ = random_balanced(REAL, 2, 3, 1, rng)
    with pytest.raises(ValueError, match="shape"):
        balanced_frames(W[0, 0], REAL)
    with pytest.raises(ValueError, match="complex"):
        balanced_frames(W + 0j, REAL)
    with pytest.raises(ValueError, match="non-finite"):
        balanced_frames(np.full_like(W, np.nan), REAL)
    with pytest.raises(ValueError, match="cluster_tol"):
        balanced_frames(W, REAL, cluster_tol=2.0)
    with pytest.raises(ValueError, match="method"):
        jacobi_gram(W, REAL, method="lu")
    with pytest.raises(ValueError, match="W0 and Wt"):
        project_position_jacobi(W, W[:, :2], REAL)


def test_singular_chain_fails_alone():
    """A chain on the singular stratum gets NaN solves; the others are untouched."""
    rng = np.random.default_rng(1)
    W, _, _ = random_balanced(REAL, 3, 4, 2, rng)
    Ws, _, _ = random_balanced(REAL, 3, 4, 1, rng, [1.0, 0.5, 0.0])
    Wall = np.concatenate([W, Ws])
    gram = jacobi_gram(Wall, REAL)
    assert gram.frames.residual[:2].max() < 1e-13
    assert (gram.cond[:2] < 1e4).all() and not gram.cond[2] < 1e13
    R = constraint_jac(Wall, rng.standard_normal(Wall.shape), REAL)
    x = gram.solve(R)
    assert np.isfinite(x[:2]).all() and np.isnan(x[2]).all()
    assert np.allclose(x[:2], jacobi_gram(W, REAL).solve(R[:2]), rtol=0, atol=1e-13)
    res = project_position_jacobi(Wall, Wall + 0.01, REAL, gram0=gram)
    assert res.converged.tolist() == [True, True, False]
    assert np.array_equal(res.W[2], Wall[2])


# -- refresh="perturbation": the eigh-free cross-cluster reset -----------------------------
@pytest.mark.parametrize("f", FIELDS, ids=IDS)
@pytest.mark.parametrize("case", list(NEAR))
def test_perturbation_frames_equal_the_eigh_frames(f, case):
    rng = np.random.default_rng(12)
    N = 7
    W, _, _ = random_balanced(f, 3, N, 4, rng, NEAR[case])
    ref = balanced_frames(W, f)
    fr = balanced_frames(W, f, refresh="perturbation")
    assert np.abs(fr.point() - W).max() < 1e-13
    assert fr.residual.max() < 1e-13
    assert np.abs(f.ct(fr.Q) @ fr.Q - np.eye(W.shape[-1])).max() < 1e-13
    # the same carried choice inside clusters, the same directions between them
    assert np.abs(fr.Q - ref.Q).max() < 1e-13
    # decoy: the frames of another point of M are not these
    W2, _, _ = random_balanced(f, 3, N, 4, rng, NEAR[case])
    assert np.abs(balanced_frames(W2, f, refresh="perturbation").Q - fr.Q).max() > 1e-3


def test_perturbation_frames_deep_and_slightly_off_M():
    rng = np.random.default_rng(6)
    W, _, _ = random_balanced(REAL, 4, 400, 2, rng, [1.2, 1.2 - 1e-3, 0.8, 0.3])
    fr = balanced_frames(W, REAL, refresh="perturbation")
    assert fr.residual.max() < 1e-13
    # A point of a sampler run is balanced to ~1e-12, not to rounding: the first-order
    # reset still agrees with eigh to far below that.
    W, _, _ = random_balanced(REAL, 5, 12, 3, rng)
    Wn = W + 1e-13 * rng.standard_normal(W.shape)
    a, b = balanced_frames(Wn, REAL), balanced_frames(Wn, REAL, refresh="perturbation")
    assert np.abs(a.Q - b.Q).max() < 1e-11
    assert abs(a.residual - b.residual).max() < 1e-13
    # decoy: without any reset the carried frames drift from eigh's over 400 layers
    deep, _, _ = random_balanced(REAL, 4, 400, 1, rng, [1.2, 0.9, 0.6, 0.3])
    plain = balanced_frames(deep, REAL, cluster_tol=0.99)  # one cluster: no reset at all
    assert not plain.residual.max() < 1e-10  # (errors grow like 4^N: to NaN here)
    assert balanced_frames(deep, REAL, refresh="perturbation").residual.max() < 1e-13


def test_perturbation_frames_redo_far_chains_with_eigh():
    rng = np.random.default_rng(7)
    W, _, _ = random_balanced(REAL, 3, 6, 3, rng)
    W[1] += 1e-4 * rng.standard_normal(W[1].shape)  # far from M: first order untrusted
    W[2] = random_balanced(REAL, 3, 6, 1, rng, [1.0, 0.5, 0.0])[0][0]  # singular stratum
    a, b = balanced_frames(W, REAL), balanced_frames(W, REAL, refresh="perturbation")
    np.testing.assert_array_equal(b.Q[1:], a.Q[1:])  # both redone by eigh, per chain
    assert np.abs(b.Q[0] - a.Q[0]).max() < 1e-13
    # a chain's frames depend on itself only
    np.testing.assert_array_equal(balanced_frames(W[:1], REAL, refresh="perturbation").Q[0], b.Q[0])
    with pytest.raises(ValueError, match="refresh"):
        balanced_frames(W, REAL, refresh="qr")
