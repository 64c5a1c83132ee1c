"""The ``balanced`` kind: sampling of the balanced manifold against the singular-value law.

Grid ``width``, ``depth``, ``beta``, ``target`` and the optional ``field``;
settings of :func:`dlnmc.sample_balanced`. Each cell runs the theory-free
sampler (constrained HMC or RWM) and compares means (and optionally 10%/90%
quantiles) of the singular values, with ArviZ's MCSE, with a *reference* of the
same statistics, the theory's side of the comparison:

- ``quadrature`` of the closed-form law (:func:`dlnmc.sv_law.sv_law_moments`),
  where it exists: width <= 2 and target 0;
- ``lift``: the lifted sampler (:func:`dlnmc.sample_balanced` with
  ``sampler="lift"``), which draws ``X`` from the closed-form law and so
  ASSUMES the entropy formula, at any width, depth, target and field. Its
  cells also compare ``tr X`` (each real component over C and H), and the
  z-scores use the combined MCSE ``sqrt(se_sample^2 + se_reference^2)``.

The setting ``reference = "auto"`` (default) takes quadrature where it exists
and the lift elsewhere. The reference of each cell is recorded in the result's
attributes (``reference``; ``assumes_entropy_formula = 1`` for the lift).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.fields import resolve_field
from dlnmc.studies.errors import StudyError
from dlnmc.studies.kinds.common import (
    BETA,
    DEPTH,
    TARGET,
    WIDTH,
    cell_dataset,
    field_key,
    int_seed,
)
from dlnmc.studies.registry import Kind, register_kind
from dlnmc.studies.values import Setting, boolean, choice, integer

__all__ = [
    "BALANCED_SETTINGS",
    "LIFT",
    "MAX_BETA",
    "QUADRATURE",
    "REFERENCES",
    "Reference",
    "check_balanced_cell",
    "check_law_cell",
    "compare_ensembles",
    "compare_with_law",
    "ensemble_statistics",
    "reference_for",
    "run_balanced",
    "sv_law_means",
]

PROBS = (0.1, 0.9)
# Above this the quadrature of the law overflows (exp(-beta s^2 / 2) scales), giving NaN.
MAX_BETA = 1e100
# Stream of the cell's seed sequence that seeds the lifted reference (the sampler keeps
# the cell's own seed, so cells computed before the lift existed are unchanged).
_REFERENCE_STREAM = 1


def sv_law_means(width: int, depth: int, beta: float) -> np.ndarray:
    """Means of the ordered singular values under the closed-form law.

    The law: docs/guide/theory.md, 'The law of X on the balanced manifold'.

    ``E[s_1] >= ... >= E[s_d]`` over ``R``, ``width <= 2``, shape ``(width,)``: the
    means of :func:`dlnmc.sv_law.sv_law_moments` (the project's one quadrature).
    """
    from dlnmc.sv_law import sv_law_moments

    return sv_law_moments(width, depth, beta).mean.copy()  # copy: the law is cached


@dataclass(frozen=True)
class Reference:
    """A source of the law's statistics for a cell (the theory's side of the comparison).

    Attributes
    ----------
    name : str
        ``"quadrature"`` or ``"lift"``, as a study's ``reference`` setting names it.
    refuses : callable
        ``refuses(params) -> str | None``: why a cell is outside its domain (None: inside).
    assumes_entropy_formula : bool
        True for a sampler that draws from the closed-form law (its files say so).
    """

    name: str
    refuses: Callable[[Mapping[str, Any]], str | None]
    assumes_entropy_formula: bool = False


def _quadrature_refuses(params: Mapping[str, Any]) -> str | None:
    if params["width"] > 2:
        return (
            "the closed-form singular-value reference is computed by quadrature for "
            f"width <= 2, got width {params['width']}"
        )
    if params.get("target", 0.0) != 0.0:
        return (
            "the closed-form singular-value reference needs target = 0 (orthogonally "
            f"invariant energy), got target {params['target']}"
        )
    return None


def _quadrature_moments(width, depth, beta, field, probs):
    from dlnmc.sv_law import sv_law_moments

    law = sv_law_moments(width, depth, beta, field, probs)
    return law.mean, law.quantiles


QUADRATURE = Reference("quadrature", _quadrature_refuses)
LIFT = Reference("lift", lambda params: None, assumes_entropy_formula=True)
#: In the order ``reference = "auto"`` tries them.
REFERENCES: tuple[Reference, ...] = (QUADRATURE, LIFT)


def reference_for(params: Mapping[str, Any], name: str = "auto") -> Reference:
    """The reference of a cell: ``name``, or with ``"auto"`` the first whose domain holds it.

    Raises
    ------
    StudyError
        The named reference does not cover the cell (the message says why).
    """
    for ref in REFERENCES:
        if name not in ("auto", ref.name):
            continue
        why = ref.refuses(params)
        if why is None:
            return ref
        if name == ref.name:
            hint = "; use reference = 'lift' or 'auto'" if ref is QUADRATURE else ""
            raise StudyError(why + hint)
    raise StudyError(f"no reference named {name!r}; expected 'auto' or one of "
                     f"{[r.name for r in REFERENCES]}")  # fmt: skip


def _per_var(result: Any, name: str) -> np.ndarray:
    return np.asarray(getattr(result, "dataset", result)[name])


def compare_with_law(
    tree: xr.DataTree,
    params: Mapping[str, Any],
    quantiles: bool = False,
) -> xr.Dataset:
    """Means (and 10%/90% quantiles) of the singular values with ArviZ MCSE against quadrature.

    ``params`` holds ``width``, ``depth``, ``beta`` and optionally ``field`` and
    ``target``; the law's statistics are the quadrature of the closed-form law
    (:class:`StudyError` outside its domain). Adds the rank-normalized R-hat of
    each singular value as ``rhat``.
    """
    import arviz

    width, depth, beta = params["width"], params["depth"], params["beta"]
    field = params.get("field", "real")
    why = QUADRATURE.refuses(params)
    if why is not None:
        raise StudyError(why)

    sv = tree["posterior"]["singular_values"]
    est = [sv.mean(("chain", "draw")).values]
    se = [_per_var(arviz.mcse(tree, var_names=["singular_values"]), "singular_values")]
    rhat = _per_var(arviz.rhat(tree, var_names=["singular_values"]), "singular_values")
    stats = [f"mean_s{i + 1}" for i in range(width)]
    mean, qs = _quadrature_moments(width, depth, beta, field, PROBS)
    cf = [mean]
    if quantiles:
        for k, p in enumerate(PROBS):
            est.append(sv.quantile(p, dim=("chain", "draw")).values)
            mc = arviz.mcse(tree, var_names=["singular_values"], method="quantile", prob=p)
            se.append(_per_var(mc, "singular_values"))
            cf.append(qs[k])
            stats += [f"q{round(100 * p)}_s{i + 1}" for i in range(width)]
    n_blocks = len(est)
    return cell_dataset(
        stats,
        np.concatenate(est),
        np.concatenate(se),
        np.concatenate(cf),
        {"rhat": (("statistic",), np.tile(rhat, n_blocks))},
    )


def ensemble_statistics(
    tree: xr.DataTree, quantiles: bool = True
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Means (and 10%/90% quantiles) of every singular value and of ``tr X``, with ArviZ MCSE.

    Over ``C`` and ``H`` every real component of ``tr X`` is a statistic of its
    own (``trX_re``, ``trX_i``, ...).

    Returns
    -------
    names : list of str
        ``mean_s1..mean_sd``, ``mean_trX[_c]``, then (with ``quantiles``)
        ``q10_s*``, ``q10_trX*``, ``q90_s*``, ``q90_trX*``.
    estimate, stderr, rhat : ndarray, shape (len(names),)
        The statistic, its ESS-based MCSE, and the rank-normalized R-hat of the
        variable it is taken of.
    """
    import arviz

    post = tree["posterior"]
    tr = post["trace_X"]
    comps = [str(c) for c in tr["component"].values] if "component" in tr.dims else [None]
    d = post["singular_values"].sizes["sv"]
    labels = {
        "singular_values": [f"s{i + 1}" for i in range(d)],
        "trace_X": ["trX" if c is None else f"trX_{c}" for c in comps],
    }
    var_names = list(labels)

    def flat(result: Any) -> np.ndarray:
        return np.concatenate([np.ravel(_per_var(result, v)) for v in var_names])

    rhat = flat(arviz.rhat(tree, var_names=var_names))
    names = [f"mean_{lab}" for v in var_names for lab in labels[v]]
    est = [np.concatenate([np.ravel(post[v].mean(("chain", "draw")).values) for v in var_names])]
    se = [flat(arviz.mcse(tree, var_names=var_names))]
    rh = [rhat]
    if quantiles:
        for p in PROBS:
            names += [f"q{round(100 * p)}_{lab}" for v in var_names for lab in labels[v]]
            est.append(np.concatenate([
                np.ravel(post[v].quantile(p, dim=("chain", "draw")).values) for v in var_names
            ]))  # fmt: skip
            se.append(flat(arviz.mcse(tree, var_names=var_names, method="quantile", prob=p)))
            rh.append(rhat)
    return names, np.concatenate(est), np.concatenate(se), np.concatenate(rh)


def compare_ensembles(
    tree: xr.DataTree, reference: xr.DataTree, quantiles: bool = True
) -> xr.Dataset:
    """The statistics of :func:`ensemble_statistics` of ``tree`` against those of ``reference``.

    Returns
    -------
    xarray.Dataset
        Over ``statistic``: ``estimate`` (``tree``), ``closed_form`` (the
        reference's estimate), ``stderr`` = the combined MCSE
        ``sqrt(se^2 + se_ref^2)``, ``z_score = (estimate - closed_form) / stderr``,
        and ``rhat``, ``reference_stderr``, ``reference_rhat``.
    """
    names, est, se, rhat = ensemble_statistics(tree, quantiles)
    ref_names, ref_est, ref_se, ref_rhat = ensemble_statistics(reference, quantiles)
    if ref_names != names:
        raise ValueError(f"the ensembles have different statistics: {names} and {ref_names}")
    return cell_dataset(
        names,
        est,
        np.hypot(se, ref_se),
        ref_est,
        {
            "rhat": (("statistic",), rhat),
            "reference_stderr": (("statistic",), ref_se),
            "reference_rhat": (("statistic",), ref_rhat),
        },
    )


def _target_matrix(params: Mapping[str, Any]) -> np.ndarray | None:
    """``Y = target * identity`` in the storage of the field (``2d x 2d`` over H), or None."""
    target = params.get("target", 0.0)
    if target == 0.0:
        return None
    F = resolve_field(params.get("field", "real"))
    return target * np.eye(F.rep_size(params["width"]))


def run_balanced(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> tuple[xr.Dataset, xr.DataTree]:
    """Sample the balanced manifold; compare the singular values with the law.

    With ``field`` (docs/guide/fields.md) the sampler runs over ``C`` or ``H`` and the
    law is the one with Dyson index ``b``; ``quantiles = true`` adds the 10% and
    90% quantiles. The reference is :func:`reference_for` with the ``reference``
    setting; a lifted reference is seeded from a stream of ``ss`` of its own and
    run with ``reference_draws``, ``reference_chains``, ``reference_warmup``
    (default: the sampler's). Returns the cell Dataset (attributes ``reference``
    and, for the lift, ``assumes_entropy_formula = 1`` and its seed and sizes) and
    the theory-free ensemble.
    """
    from dlnmc.balanced import sample_balanced

    d, N, beta = params["width"], params["depth"], params["beta"]
    field = params.get("field", "real")
    Y = _target_matrix(params)
    ref = reference_for(params, settings.get("reference", "auto"))
    kwargs = {k: settings[k] for k in ("sampler", "n_warmup") if k in settings}
    fkw = {} if field == "real" else {"field": field}
    tree = sample_balanced(
        d,
        N,
        beta=beta,
        n_draws=settings["n_draws"],
        n_chains=settings["n_chains"],
        seed=int_seed(ss),
        target=Y,
        progress=progress,
        **kwargs,
        **fkw,
    )
    quantiles = settings.get("quantiles", False)
    if ref is QUADRATURE:
        ds = compare_with_law(tree, params, quantiles)
        # the same variables as a lifted cell, so a part may mix both references
        ds["reference_stderr"] = xr.zeros_like(ds["stderr"])
        ds["reference_rhat"] = xr.full_like(ds["stderr"], np.nan)
        ds.attrs["reference"] = ref.name
        return ds, tree
    ref_ss = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, _REFERENCE_STREAM))
    ref_seed = int_seed(ref_ss)
    sizes = {
        "n_draws": settings.get("reference_draws", settings["n_draws"]),
        "n_chains": settings.get("reference_chains", settings["n_chains"]),
    }
    warm = settings.get("reference_warmup", settings.get("n_warmup"))
    lifted = sample_balanced(
        d,
        N,
        beta=beta,
        seed=ref_seed,
        target=Y,
        sampler="lift",
        keep_W="none",  # only X and its singular values enter the statistics
        **sizes,
        **({} if warm is None else {"n_warmup": warm}),
        **fkw,
    )
    ds = compare_ensembles(tree, lifted, quantiles)
    ds.attrs.update(
        reference=ref.name,
        assumes_entropy_formula=1,  # the closed_form column comes from the lift
        reference_seed=ref_seed,
        reference_n_draws=sizes["n_draws"],
        reference_n_chains=sizes["n_chains"],
        reference_n_warmup=int(lifted.attrs["n_warmup"]),
    )
    return ds, tree


def check_law_cell(params: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Refuse a cell outside the quadrature's domain or a beta the law cannot be computed at.

    The check of kinds compared with quadrature only (``mici_comparison``).
    """
    beta = params["beta"]
    if not 0 < beta <= MAX_BETA:
        raise StudyError(
            f"beta must be > 0 for sampling and <= {MAX_BETA:g} for the law, got beta {beta}"
        )
    reference_for(params, "quadrature")


def check_balanced_cell(params: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Refuse a cell its reference does not cover, or a beta the reference cannot use."""
    beta = params["beta"]
    ref = reference_for(params, settings.get("reference", "auto"))
    if ref is QUADRATURE and not 0 < beta <= MAX_BETA:
        raise StudyError(
            f"beta must be > 0 for sampling and <= {MAX_BETA:g} for the law, got beta {beta}"
        )
    if not beta > 0:
        raise StudyError(f"beta must be > 0 for sampling, got beta {beta}")


BALANCED_SETTINGS = {
    "n_draws": Setting(integer(10), 1000, "draws per chain after warm-up"),
    "n_chains": Setting(integer(2), 4, "independent chains (>= 2 for R-hat)"),
    "n_warmup": Setting(integer(0), None, "warm-up iterations (sampler default if omitted)"),
}

BALANCED = register_kind(
    Kind(
        "balanced",
        "balanced-manifold sampling: singular values (and tr X) against the closed-form law "
        "(quadrature) or the lifted sampler",
        run_balanced,
        {"width": WIDTH, "depth": DEPTH, "beta": BETA, "target": TARGET, "field": field_key()},
        {
            **BALANCED_SETTINGS,
            "sampler": Setting(choice("hmc", "rwm"), "hmc", "constrained HMC or random walk"),
            "quantiles": Setting(boolean, None, "also compare 10%/90% quantiles (default false)"),
            "reference": Setting(
                choice("auto", "quadrature", "lift"),
                None,
                "the theory's side: quadrature (width <= 2, target 0), the lifted sampler "
                "(assumes the entropy formula), or auto (default: quadrature where it exists)",
            ),
            "reference_draws": Setting(
                integer(10), None, "draws per chain of the lifted reference (default n_draws)"
            ),
            "reference_chains": Setting(
                integer(2), None, "chains of the lifted reference (default n_chains)"
            ),
            "reference_warmup": Setting(
                integer(0), None, "warm-up of the lifted reference (default n_warmup)"
            ),
        },
        requires=(("dlnmc.balanced", "not in this dlnmc build (issue 4: balanced sampling)"),),
        check_cell=check_balanced_cell,
    )
)
