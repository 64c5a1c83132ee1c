"""The ``balanced`` kind: sampling of the balanced manifold against the singular-value law.

Grid ``width``, ``depth``, ``beta``, ``target`` and the optional ``field``;
settings of :func:`dlnmc.sample_balanced`. Each cell compares means (and
optionally 10%/90% quantiles) of the singular values, with ArviZ's MCSE, with
a *reference* of the same statistics. Today's one reference is the quadrature
of the closed-form law (:func:`dlnmc.sv_law.sv_law_moments`); a cell outside
every reference's domain is refused at validation, so a new reference (e.g. a
sampler that draws from the law) widens the kind by adding one entry to
:data:`REFERENCES`.
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
    "MAX_BETA",
    "MAX_FIELD_AMBIENT",
    "REFERENCES",
    "Reference",
    "check_law_cell",
    "compare_with_law",
    "reference_for",
    "run_balanced",
    "sv_law_means",
]

PROBS = (0.1, 0.9)
# Above this the quadrature of the law overflows (exp(-beta s^2 / 2) scales), giving NaN.
MAX_BETA = 1e100
# Today's sampler over C and H projects with the dense constraint only, which it
# refuses above b N d^2 = 400 real coordinates; lift this when the block projection
# serves every field.
MAX_FIELD_AMBIENT = 400


def sv_law_means(width: int, depth: int, beta: float) -> np.ndarray:
    """Means of the ordered singular values under the closed-form law of MATH.md section 6.

    ``E[s_1] >= ... >= E[s_d]`` over ``R``, ``width <= 2``, shape ``(width,)``: the
    means of :func:`dlnmc.sv_law.sv_law_moments` (the project's one quadrature).
    """
    from dlnmc.sv_law import sv_law_moments

    return sv_law_moments(width, depth, beta).mean.copy()  # copy: the law is cached


@dataclass(frozen=True)
class Reference:
    """A source of the law's statistics for a cell.

    ``refuses(params) -> str | None`` says why a cell is outside its domain (None:
    inside); ``moments(width, depth, beta, field, probs) -> (mean (d,), quantiles
    (len(probs), d))``, descending singular values.
    """

    name: str
    refuses: Callable[[Mapping[str, Any]], str | None]
    moments: Callable[..., tuple[np.ndarray, np.ndarray]]


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


REFERENCES: tuple[Reference, ...] = (
    Reference("quadrature", _quadrature_refuses, _quadrature_moments),
)


def reference_for(params: Mapping[str, Any]) -> Reference:
    """The first reference whose domain holds the cell; :class:`StudyError` naming why none."""
    reasons = []
    for ref in REFERENCES:
        why = ref.refuses(params)
        if why is None:
            return ref
        reasons.append(why)
    raise StudyError("; ".join(reasons))


def compare_with_law(
    tree: xr.DataTree,
    params: Mapping[str, Any],
    quantiles: bool = False,
) -> xr.Dataset:
    """Means (and 10%/90% quantiles) of the singular values with ArviZ MCSE against the law.

    ``params`` holds ``width``, ``depth``, ``beta`` and optionally ``field`` and
    ``target``; the law's statistics come from :func:`reference_for`. Adds the
    rank-normalized R-hat of each singular value as ``rhat``.
    """
    import arviz

    width, depth, beta = params["width"], params["depth"], params["beta"]
    field = params.get("field", "real")

    def per_sv(result) -> np.ndarray:
        return np.asarray(getattr(result, "dataset", result)["singular_values"])

    sv = tree["posterior"]["singular_values"]
    est = [sv.mean(("chain", "draw")).values]
    se = [per_sv(arviz.mcse(tree, var_names=["singular_values"]))]
    rhat = per_sv(arviz.rhat(tree, var_names=["singular_values"]))
    stats = [f"mean_s{i + 1}" for i in range(width)]
    mean, qs = reference_for(params).moments(width, depth, beta, field, PROBS)
    cf = [mean]
    if quantiles:
        for k, p in enumerate(PROBS):
            est.append(sv.quantile(p, dim=("chain", "draw")).values)
            mc = arviz.mcse(tree, var_names=["singular_values"], method="quantile", prob=p)
            se.append(per_sv(mc))
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


def run_balanced(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> tuple[xr.Dataset, xr.DataTree]:
    """Sample the balanced manifold; compare the singular values with the law.

    With ``field`` (MATH.md section 8) the sampler runs over ``C`` or ``H`` and the
    law is the one with Dyson index ``b``; ``quantiles = true`` adds the 10% and
    90% quantiles of each singular value. Returns the cell Dataset and the ensemble.
    """
    from dlnmc.balanced import sample_balanced

    d, N, beta = params["width"], params["depth"], params["beta"]
    field = params.get("field", "real")
    target = params.get("target", 0.0)
    kwargs = {k: settings[k] for k in ("sampler", "n_warmup") if k in settings}
    tree = sample_balanced(
        d,
        N,
        beta=beta,
        n_draws=settings["n_draws"],
        n_chains=settings["n_chains"],
        seed=int_seed(ss),
        target=None if target == 0.0 else target * np.eye(d),
        progress=progress,
        **kwargs,
        **({} if field == "real" else {"field": field}),
    )
    return compare_with_law(tree, params, settings.get("quantiles", False)), tree


def check_law_cell(params: Mapping[str, Any], settings: Mapping[str, Any]) -> None:
    """Refuse a cell no reference covers, a beta the law cannot be computed at, a size
    the sampler refuses over the field."""
    beta = params["beta"]
    if not 0 < beta <= MAX_BETA:
        raise StudyError(
            f"beta must be > 0 for sampling and <= {MAX_BETA:g} for the law, got beta {beta}"
        )
    reference_for(params)
    F = resolve_field(params.get("field", "real"))
    ambient = F.b * params["depth"] * params["width"] ** 2
    if F.b > 1 and ambient > MAX_FIELD_AMBIENT:
        raise StudyError(
            f"the sampler over {F.name} projects densely only: b N d^2 = {ambient} "
            f"exceeds {MAX_FIELD_AMBIENT}"
        )


BALANCED_SETTINGS = {
    "n_draws": Setting(integer(10), 1000, "draws per chain after warm-up"),
    "n_chains": Setting(integer(2), 4, "independent chains (>= 2 for R-hat)"),
    "n_warmup": Setting(integer(0), None, "warm-up iterations (sampler default if omitted)"),
}

BALANCED = register_kind(
    Kind(
        "balanced",
        "balanced-manifold sampling: mean singular values against the closed-form law",
        run_balanced,
        {"width": WIDTH, "depth": DEPTH, "beta": BETA, "target": TARGET, "field": field_key()},
        {
            **BALANCED_SETTINGS,
            "sampler": Setting(choice("hmc", "rwm"), "hmc", "constrained HMC or random walk"),
            "quantiles": Setting(boolean, None, "also compare 10%/90% quantiles (default false)"),
        },
        requires=(("dlnmc.balanced", "not in this dlnmc build (issue 4: balanced sampling)"),),
        check_cell=check_law_cell,
    )
)
