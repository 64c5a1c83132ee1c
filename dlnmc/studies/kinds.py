"""Study kinds: one small function per kind, registered in :data:`KINDS`.

A kind turns one grid cell (its parameters, the part's settings and a
``numpy.random.SeedSequence`` keyed by the cell) into an ``xarray.Dataset``
with variables ``estimate``, ``stderr``, ``closed_form`` and ``z_score`` over
a ``statistic`` dimension (plus any extra variables), and optionally an
ensemble ``DataTree``. Kinds never see the scheduler, so a cell's result
depends only on the cell.

Registered kinds
----------------
entropy_sweep
    ``S`` from the Gram determinant of the orbit tangent vectors at Haar-random
    points of the orbit, against the closed form (foundation only).
orbit_volume
    Monte Carlo orbit volume by the chart route (``dlnmc.estimate_orbit_volume``).
balanced
    Sampling of the balanced manifold (``dlnmc.sample_balanced``); means of the
    singular values against the closed-form law of MATH.md section 6.
mici_comparison
    The same singular-value check with mici's constrained HMC as the sampler
    (needs the ``bench`` extra).
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from dlnmc.studies.schema import Part, StudyError, _suggest, check_keys, type_name

__all__ = ["KINDS", "Kind", "cell_dataset", "register_kind", "sv_law_means"]

# Grid keys in their canonical order (the order of the result dimensions).
GRID_ORDER = ("width", "depth", "beta", "target", "field")


def _int_ge(lo: int):
    def check(v: Any, where: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise StudyError(f"{where} must be an integer, got {type_name(v)} {v!r}")
        if v < lo:
            raise StudyError(f"{where} must be an integer >= {lo}, got {v}")
        return v

    return check


def _float(lo: float | None = None, hi: float | None = None, strict: bool = False):
    def check(v: Any, where: str) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise StudyError(f"{where} must be a number, got {type_name(v)} {v!r}")
        v = float(v)
        if not math.isfinite(v):
            raise StudyError(f"{where} must be finite, got {v!r}")
        if lo is not None and (v <= lo if strict else v < lo):
            raise StudyError(f"{where} must be {'>' if strict else '>='} {lo}, got {v!r}")
        if hi is not None and v > hi:
            raise StudyError(f"{where} must be <= {hi}, got {v!r}")
        return v

    return check


def _choice(*choices: str):
    def check(v: Any, where: str) -> str:
        if not isinstance(v, str):
            raise StudyError(f"{where} must be a string, got {type_name(v)} {v!r}")
        if v not in choices:
            raise StudyError(f"{where} = {v!r} is not allowed{_suggest(v, choices)}")
        return v

    return check


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise StudyError(f"{where} must be a boolean, got {type_name(v)} {v!r}")
    return v


def _float_list(v: Any, where: str) -> list[float]:
    if not isinstance(v, list) or not v:
        raise StudyError(f"{where} must be a non-empty array of numbers, got {type_name(v)} {v!r}")
    return [_float(0.0, strict=True)(x, f"{where}[{i}]") for i, x in enumerate(v)]


def _range(v: Any, where: str) -> list[float]:
    out = _float_list(v, where)
    if len(out) != 2 or not out[0] < out[1]:
        raise StudyError(f"{where} must be [low, high] with 0 < low < high, got {v!r}")
    return out


GRID_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "width": _int_ge(1),
    "depth": _int_ge(1),
    "beta": _float(0.0),
    "target": _float(),
    "field": _choice("real", "complex", "quaternion"),
}


@dataclass(frozen=True)
class Setting:
    check: Callable[[Any, str], Any]
    default: Any
    doc: str


@dataclass(frozen=True)
class Kind:
    """A registered study kind.

    Attributes
    ----------
    name, description : str
    run : callable
        ``run(params, settings, seed_sequence, progress=False) -> Dataset or
        (Dataset, DataTree)``; ``progress`` asks for a per-cell progress bar.
    grid : mapping of grid key to default values (``None``: required)
    settings : mapping of setting name to :class:`Setting`
    requires : (module, hint) pairs; each module must be importable (checked at
        validation, before anything runs), else the hint says how to get it
    """

    name: str
    description: str
    run: Callable[..., Any]
    grid: Mapping[str, list[Any] | None]
    settings: Mapping[str, Setting]
    requires: tuple[tuple[str, str], ...] = ()
    extra_check: Callable[[Part], None] | None = field(default=None)

    def validate_grid(self, grid: Mapping[str, Any], where: str) -> dict[str, list[Any]]:
        check_keys(grid, tuple(self.grid), f"[{where}] (kind {self.name!r})")
        out = {}
        for key in (k for k in GRID_ORDER if k in self.grid):
            if key not in grid:
                if self.grid[key] is None:
                    raise StudyError(f"missing required key {key!r} in [{where}]")
                out[key] = list(self.grid[key])
                continue
            values = grid[key]
            values = values if isinstance(values, list) else [values]
            if not values:
                raise StudyError(f"{where}.{key} must not be empty")
            out[key] = [GRID_CHECKS[key](v, f"{where}.{key}") for v in values]
            if len(set(out[key])) != len(out[key]):
                raise StudyError(f"{where}.{key} has repeated values {values!r}")
        return out

    def validate_settings(self, settings: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(settings, tuple(self.settings), f"[{where}] (kind {self.name!r})")
        out = {}
        for key, spec in self.settings.items():
            if key in settings:
                out[key] = spec.check(settings[key], f"{where}.{key}")
            elif spec.default is not None:
                out[key] = spec.default
        return out

    def check_part(self, part: Part) -> None:
        for module, hint in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except ImportError:
                found = False
            if not found:
                raise StudyError(
                    f"kind {self.name!r} (part {part.name!r}) needs {module!r}, which is not "
                    f"available: {hint}"
                )
        sv = part.settings.get("singular_values")
        if sv is not None and any(w != len(sv) for w in part.grid.get("width", [])):
            raise StudyError(
                f"part {part.name!r}: settings.singular_values has {len(sv)} values but the grid "
                f"has width {part.grid['width']}; give one width equal to its length"
            )
        if self.extra_check is not None:
            self.extra_check(part)


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Add ``kind`` to :data:`KINDS` (so study files can name it)."""
    KINDS[kind.name] = kind
    return kind


def cell_dataset(
    statistic: list[str],
    estimate: Any,
    stderr: Any,
    closed_form: Any,
    extra: Mapping[str, tuple[tuple[str, ...], Any]] | None = None,
    z_score: Any = None,
) -> xr.Dataset:
    """The standard result of one cell: estimate, stderr, closed form and z side by side.

    ``z_score = (estimate - closed_form) / stderr`` unless given (an estimator's
    own z, e.g. for exact counts with ``stderr = 0``).
    """
    est = np.asarray(estimate, dtype=np.float64).reshape(len(statistic))
    se = np.asarray(stderr, dtype=np.float64).reshape(len(statistic))
    cf = np.asarray(closed_form, dtype=np.float64).reshape(len(statistic))
    with np.errstate(divide="ignore", invalid="ignore"):
        # exact agreement (e.g. depth 1, where both sides are (N-1) log c_d) is z = 0
        z = np.where(est == cf, 0.0, (est - cf) / se)
    if z_score is not None:
        z = np.asarray(z_score, dtype=np.float64).reshape(len(statistic))
    data = {
        "estimate": (("statistic",), est),
        "stderr": (("statistic",), se),
        "closed_form": (("statistic",), cf),
        "z_score": (("statistic",), z),
    }
    for name, (dims, value) in (extra or {}).items():
        data[name] = (dims, np.asarray(value))
    return xr.Dataset(data, coords={"statistic": list(statistic)})


def _int_seed(ss: np.random.SeedSequence) -> int:
    """A 64-bit integer seed for library functions that take ``seed: int``."""
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def _draw_singular_values(
    width: int, settings: Mapping[str, Any], rng: np.random.Generator
) -> np.ndarray:
    """Given singular values, or log-uniform draws on ``sv_range`` (descending)."""
    if "singular_values" in settings:
        return np.sort(np.asarray(settings["singular_values"], dtype=np.float64))[::-1]
    lo, hi = settings["sv_range"]
    return np.sort(np.exp(rng.uniform(np.log(lo), np.log(hi), size=width)))[::-1]


_SV_SETTINGS = {
    "singular_values": Setting(
        _float_list, None, "fixed singular values (length = width); default: random per cell"
    ),
    "sv_range": Setting(_range, [0.25, 4.0], "log-uniform range of random singular values"),
}


# --------------------------------------------------------------------------- entropy sweep
def run_entropy_sweep(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> xr.Dataset:
    """``S`` from Gram determinants of orbit tangent vectors, against the closed form.

    At ``n_points`` Haar-random points ``W`` of the orbit ``O_X`` the Gram
    matrix ``G`` of the tangent vectors ``B_p W_p - W_p B_{p-1}`` (orthonormal
    ``B`` in ``so(d)^{N-1}``) gives ``S = (N-1) log c_d + 1/2 log det G``: the
    volume of ``O_X`` is that of ``O_d^{N-1}`` stretched by ``sqrt(det G)``.
    This uses the embedding only, not the ``D_ij`` of the closed form.
    ``stderr`` combines the spread over points with the float64 error bound
    ``m eps cond(G) / 2`` of the log-determinant (``m = dim G``): the check is
    exact up to rounding, so ``|z| < 4.5`` says "equal to rounding".
    """
    from dlnmc.entropy import entropy_sv
    from dlnmc.groups import haar_orthogonal, log_group_volume
    from dlnmc.network import balanced_factorization, orbit_tangent_vectors

    d, N = params["width"], params["depth"]
    rng = np.random.default_rng(ss)
    s = _draw_singular_values(d, settings, rng)
    n = settings["n_points"]
    # A generic X with these singular values: U diag(s) V^T with Haar U, V.
    U, V = haar_orthogonal(d, 2, rng)
    X = (U * s) @ V.T
    const = (N - 1) * log_group_volume(d)
    m = (N - 1) * d * (d - 1) // 2
    if m == 0:
        values = np.full(n, const)
        floor = np.zeros(n)
    else:
        W = balanced_factorization(np.broadcast_to(X, (n, d, d)), N, rng=rng)
        T = orbit_tangent_vectors(W).reshape(n, m, N * d * d)
        lam = np.linalg.eigvalsh(T @ np.swapaxes(T, -1, -2))
        values = const + 0.5 * np.log(lam).sum(axis=-1)
        floor = 0.5 * m * np.finfo(np.float64).eps * lam[:, -1] / lam[:, 0]
    spread = values.std(ddof=1) / math.sqrt(n) if n > 1 else 0.0
    stderr = math.hypot(spread, float(floor.max()))
    return cell_dataset(
        ["S"],
        values.mean(),
        stderr,
        entropy_sv(s, N),
        {"singular_values": (("sv",), s)},
    )


register_kind(
    Kind(
        "entropy_sweep",
        "closed-form S against Gram determinants of the orbit tangent vectors",
        run_entropy_sweep,
        {"width": None, "depth": None},
        {
            "n_points": Setting(_int_ge(1), 8, "Haar-random orbit points per cell"),
            **_SV_SETTINGS,
        },
    )
)


# --------------------------------------------------------------------------- orbit volume
def run_orbit_volume(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> xr.Dataset:
    """Monte Carlo ``log vol(O_X)`` by the chart route (issue 3) against ``S``."""
    from dlnmc.estimators import estimate_orbit_volume

    d, N = params["width"], params["depth"]
    field = params.get("field", "real")
    rng_ss, est_ss = ss.spawn(2)
    s = _draw_singular_values(d, settings, np.random.default_rng(rng_ss))
    if field == "real":
        res = estimate_orbit_volume(
            s, N, n_samples=settings["n_samples"], seed=_int_seed(est_ss), method=settings["method"]
        )
        n_samples = int(res.n_samples)
    else:  # MATH.md section 8: chart Monte Carlo over C or H, held against S_b
        from dlnmc.group_charts import estimate_orbit_volume_field

        n_rep = 16
        res = estimate_orbit_volume_field(
            s, N, field, n_points=max(2, settings["n_samples"] // n_rep), n_replicates=n_rep,
            seed=_int_seed(est_ss),
        )  # fmt: skip
        n_samples = int(res.n_points * res.n_replicates)
    return cell_dataset(
        ["log_volume"],
        res.log_volume,
        res.stderr,
        res.closed_form,
        {"singular_values": (("sv",), s), "n_samples": ((), n_samples)},
        z_score=res.z_score,  # the estimator's z: 0 for exact counts equal to rounding
    )


def _check_orbit_fields(part: Part) -> None:
    fields = part.grid.get("field", ["real"])
    if any(f != "real" for f in fields) and any(N < 2 for N in part.grid["depth"]):
        raise StudyError(
            f"part {part.name!r}: complex and quaternionic orbit volumes need depth >= 2, "
            f"got depth {part.grid['depth']}"
        )
    if any(f != "real" for f in fields) and part.settings.get("method", "rqmc") != "rqmc":
        raise StudyError(f"part {part.name!r}: fields other than 'real' use method = 'rqmc'")


register_kind(
    Kind(
        "orbit_volume",
        "Monte Carlo orbit volumes (chart route, RQMC) against the entropy formula",
        run_orbit_volume,
        {"width": None, "depth": None, "field": ["real"]},
        {
            "n_samples": Setting(_int_ge(2), 4096, "chart points per cell"),
            "method": Setting(_choice("rqmc", "mc"), "rqmc", "randomized quasi-MC or plain MC"),
            **_SV_SETTINGS,
        },
        requires=(("dlnmc.estimators", "not in this dlnmc build (issue 3: orbit volumes)"),),
        extra_check=_check_orbit_fields,
    )
)


# --------------------------------------------------------------------------- balanced
@functools.lru_cache(maxsize=64)
def sv_law_means(width: int, depth: int, beta: float) -> np.ndarray:
    """Means of the ordered singular values under the closed-form law of MATH.md section 6.

    Density ``exp(-beta |s|^2/2) prod s_i^{-(N-1)/N} prod_{i<j} |s_i^2 - s_j^2| D_ij^{-1/2}``
    (``dlnmc.log_sv_density``), integrated by adaptive quadrature in
    ``t = log s`` for ``width <= 2``.

    Returns
    -------
    ndarray, shape (width,)
        ``E[s_1] >= ... >= E[s_d]``.
    """
    from scipy import integrate

    from dlnmc.entropy import log_sv_density

    if width > 2:
        raise ValueError(f"quadrature reference needs width <= 2, got {width}")
    # In t = log s the density decays like exp(t / N) as t -> -inf and like
    # exp(-beta e^{2t} / 2) as t -> +inf: these limits lose less than e^{-60}
    # (e^{-350 / N} for N > 5: below, s_2 = e^{t - u} with u <= -lo underflows to 0).
    lo = max(-60.0 * depth, -350.0)
    hi = 0.5 * math.log(240.0 / max(beta, 1e-300))
    opts = {"epsabs": 0.0, "epsrel": 1e-10, "limit": 200}
    if width == 1:
        shift = float(log_sv_density([1.0], depth, beta))

        def f(t: float, k: int) -> float:
            s = math.exp(t)
            return math.exp(float(log_sv_density([s], depth, beta)) - shift + t) * s**k

        z = integrate.quad(f, lo, hi, args=(0,), **opts)[0]
        return np.array([integrate.quad(f, lo, hi, args=(1,), **opts)[0] / z])

    # Ordered pair s_1 = e^{t}, s_2 = e^{t-u}, u > 0: the kink of |s_1^2 - s_2^2| at
    # the diagonal becomes the boundary u = 0, and the integrand is smooth inside,
    # so a composite Gauss-Legendre rule (unit panels, 8 nodes) is accurate to ~1e-12.
    t, wt = _composite_gauss(lo, hi)
    u, wu = _composite_gauss(0.0, -lo)
    T, Uu = np.meshgrid(t, u, indexing="ij")
    S = np.stack([np.exp(T), np.exp(T - Uu)], axis=-1)
    logp = log_sv_density(S, depth, beta) + 2.0 * T - Uu  # Jacobian ds1 ds2 = s1 s2 dt du
    w = np.exp(logp - logp.max()) * wt[:, None] * wu[None, :]
    z = w.sum()
    return np.array([(w * S[..., 0]).sum() / z, (w * S[..., 1]).sum() / z])


def _composite_gauss(a: float, b: float, nodes: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of Gauss-Legendre on unit-width panels covering [a, b]."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    n_panels = max(1, math.ceil(b - a))
    edges = np.linspace(a, b, n_panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def _sv_check(tree: xr.DataTree, width: int, depth: int, beta: float) -> xr.Dataset:
    import arviz

    sv = tree["posterior"]["singular_values"]
    mean = sv.mean(("chain", "draw")).values
    mcse = arviz.mcse(tree, var_names=["singular_values"])
    mcse = np.asarray(getattr(mcse, "dataset", mcse)["singular_values"])
    rhat = arviz.rhat(tree, var_names=["singular_values"])
    rhat = np.asarray(getattr(rhat, "dataset", rhat)["singular_values"])
    stats = [f"mean_s{i + 1}" for i in range(width)]
    return cell_dataset(
        stats, mean, mcse, sv_law_means(width, depth, beta), {"rhat": (("statistic",), rhat)}
    )


def run_balanced(
    params: Mapping[str, Any],
    settings: Mapping[str, Any],
    ss: np.random.SeedSequence,
    progress: bool = False,
) -> tuple[xr.Dataset, xr.DataTree]:
    """Sample the balanced manifold; compare mean singular values with the closed-form law."""
    from dlnmc.balanced import sample_balanced

    d, N, beta = params["width"], params["depth"], params["beta"]
    target = params.get("target", 0.0)
    kwargs = {k: settings[k] for k in ("sampler", "n_warmup") if k in settings}
    tree = sample_balanced(
        d,
        N,
        beta=beta,
        n_draws=settings["n_draws"],
        n_chains=settings["n_chains"],
        seed=_int_seed(ss),
        target=None if target == 0.0 else target * np.eye(d),
        progress=progress,
        **kwargs,
    )
    return _sv_check(tree, d, N, beta), tree


def _check_sv_law(part: Part) -> None:
    if any(b <= 0 for b in part.grid["beta"]):
        raise StudyError(
            f"part {part.name!r}: beta must be > 0 for sampling, got {part.grid['beta']}"
        )
    if any(w > 2 for w in part.grid["width"]):
        raise StudyError(
            f"part {part.name!r}: the closed-form singular-value reference is computed by "
            f"quadrature for width <= 2, got width {part.grid['width']}"
        )
    if any(t != 0.0 for t in part.grid.get("target", [0.0])):
        raise StudyError(
            f"part {part.name!r}: the closed-form singular-value reference needs target = 0 "
            f"(orthogonally invariant energy), got target {part.grid['target']}"
        )


_BALANCED_SETTINGS = {
    "n_draws": Setting(_int_ge(10), 1000, "draws per chain after warm-up"),
    "n_chains": Setting(_int_ge(2), 4, "independent chains (>= 2 for R-hat)"),
    "n_warmup": Setting(_int_ge(0), None, "warm-up iterations (sampler default if omitted)"),
}

register_kind(
    Kind(
        "balanced",
        "balanced-manifold sampling: mean singular values against the closed-form law",
        run_balanced,
        {"width": None, "depth": None, "beta": [1.0], "target": [0.0]},
        {
            **_BALANCED_SETTINGS,
            "sampler": Setting(_choice("hmc", "rwm"), "hmc", "constrained HMC or random walk"),
        },
        requires=(("dlnmc.balanced", "not in this dlnmc build (issue 4: balanced sampling)"),),
        extra_check=_check_sv_law,
    )
)


# --------------------------------------------------------------------------- mici
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
    ds = _sv_check(tree, d, N, beta)
    ds["wall_time"] = ((), wall)
    return ds, tree


register_kind(
    Kind(
        "mici_comparison",
        "the singular-value check with mici's constrained HMC as the sampler (bench extra)",
        run_mici,
        {"width": None, "depth": None, "beta": [1.0]},
        {
            "n_draws": Setting(_int_ge(10), 500, "draws per chain after warm-up"),
            "n_chains": Setting(_int_ge(2), 2, "independent chains"),
            "n_warmup": Setting(_int_ge(0), None, "warm-up iterations (default n_draws / 2)"),
        },
        requires=(("mici", "pip install 'dlnmc[bench]'"),),
        extra_check=_check_sv_law,
    )
)
