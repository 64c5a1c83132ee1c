"""The ``mici_comparison`` kind: the singular-value check with mici's constrained HMC.

A peer check of the ``balanced`` kind with another package's sampler on the
same target (needs the ``bench`` extra). Over the real field only: the mici
problem below is written for real layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.studies.errors import StudyError
from dlnmc.studies.kinds.balanced import check_law_cell, compare_with_law
from dlnmc.studies.kinds.common import BETA, DEPTH, WIDTH, field_key
from dlnmc.studies.registry import Kind, register_kind
from dlnmc.studies.values import Setting, integer

__all__ = ["run_mici"]

def _mici_problem(width: int, depth: int, beta: float):
    """Target ``beta |phi(W)|^2 / 2`` on ``M`` for mici: density, gradient, constraint, Jacobian."""
    from dlnmc.network import balancedness_residual, constraint_jacobian, end_to_end

    d, N = width, depth
    iu, ju = np.triu_indices(d)

    def layers(q: np.ndarray) -> np.ndarray:
        return q.reshape(N, d, d)

    def neg_log_dens(q: np.ndarray) -> float:
        X = end_to_end(layers(q))
        return 0.5 * beta * float(np.sum(X * X))

    def grad_neg_log_dens(q: np.ndarray) -> np.ndarray:
        W = layers(q)
        X = end_to_end(W)
        # dE/dW_p = (W_N..W_{p+1})^T X (W_{p-1}..W_1)^T
        left = [np.eye(d)]
        for p in range(N - 1, 0, -1):
            left.insert(0, left[0] @ W[p])
        right = [np.eye(d)]
        for p in range(N - 1):
            right.append(W[p] @ right[-1])
        g = np.stack([left[p].T @ X @ right[p].T for p in range(N)])
        return beta * g.ravel()

    def constr(q: np.ndarray) -> np.ndarray:
        return balancedness_residual(layers(q))[:, iu, ju].ravel()

    def jacob_constr(q: np.ndarray) -> np.ndarray:
        return constraint_jacobian(layers(q))

    return neg_log_dens, grad_neg_log_dens, constr, jacob_constr


def run_mici(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> tuple[xr.Dataset, xr.DataTree]:
    """mici's constrained HMC on ``M`` (Hausdorff density); mean singular values vs closed form.

    ``DenseConstrainedEuclideanMetricSystem`` with ``DynamicMultinomialHMC`` and
    the reverse check. Chains start at Haar-random balanced points of a random
    ``X`` and stay in their component; the singular-value law does not depend
    on the component for ``target = 0``.
    """
    import time

    from mici.interface import sample_constrained_hmc_chains

    from dlnmc.ensemble import build_tree
    from dlnmc.network import balanced_factorization, end_to_end

    d, N, beta = params["width"], params["depth"], params["beta"]
    init_ss, mici_ss = ss.spawn(2)
    rng = np.random.default_rng(init_ss)
    n_chains = settings["n_chains"]
    X0 = rng.standard_normal((n_chains, d, d))
    W0 = balanced_factorization(X0, N, rng=rng)
    f, g, c, j = _mici_problem(d, N, beta)

    def trace(state) -> dict[str, np.ndarray]:
        return {
            "singular_values": np.linalg.svd(
                end_to_end(state.pos.reshape(N, d, d)), compute_uv=False
            )
        }

    t0 = time.perf_counter()
    _, traces, stats = sample_constrained_hmc_chains(
        settings.get("n_warmup", settings["n_draws"] // 2),
        settings["n_draws"],
        [w.ravel() for w in W0],
        f,
        c,
        grad_neg_log_dens=g,
        jacob_constr=j,
        seed=np.random.default_rng(mici_ss),
        trace_funcs=[trace],
        n_process=1,
        display_progress=False,
    )
    wall = time.perf_counter() - t0
    sv = np.stack(traces["singular_values"])
    s = np.sort(sv, axis=-1)[..., ::-1]
    tree = build_tree(
        {"singular_values": s},
        {"acceptance_rate": np.stack(stats["accept_stat"])},
        attrs={"sampler": "mici DynamicMultinomialHMC", "width": d, "depth": N, "beta": beta},
    )
    ds = compare_with_law(tree, params)
    ds["wall_time"] = ((), wall)
    return ds, tree


def check_mici_cell(params: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """The law checks of the ``balanced`` kind, and a constraint for mici to hold."""
    if params["depth"] < 2:
        raise StudyError(
            "mici's constrained HMC needs depth >= 2 (at depth 1 there is no balancedness "
            f"constraint), got depth {params['depth']}"
        )
    check_law_cell(params, settings)


MICI_COMPARISON = register_kind(
    Kind(
        "mici_comparison",
        "the singular-value check with mici's constrained HMC as the sampler (bench extra)",
        run_mici,
        # field is accepted so that a study can say so, but mici runs over R only
        {"width": WIDTH, "depth": DEPTH, "beta": BETA, "field": field_key(("real",))},
        {
            "n_draws": Setting(integer(10), 500, "draws per chain after warm-up"),
            "n_chains": Setting(integer(2), 2, "independent chains"),
            "n_warmup": Setting(integer(0), None, "warm-up iterations (default n_draws / 2)"),
        },
        requires=(("mici", "pip install 'dlnmc[bench]'"),),
        check_cell=check_mici_cell,
    )
)
