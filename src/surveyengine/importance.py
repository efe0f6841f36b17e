"""Driver importance for every group of a view, from merged cross-products: the weighting stage.

Two levels of models, one index:

- the *index model*: the outcome (overall satisfaction) on the driver factors'
  scores, from the factor block's cross-products, so it exists for every view
  (total, waves, segment units);
- a *factor model* for every factor with two or more rating items or sub-factors:
  the outcome on the factor's own items and sub-factor scores, from the item
  block, so it exists for the total and each segment unit.

Each model's correlations are pairwise-complete (every respondent who answered
both variables of a pair counts; see ``stats/plan.py``) and weighted when
respondents are. Such a matrix need not be positive definite; where it is not,
it is repaired to the nearest one by clipping eigenvalues, and the model says so.

A group whose model base (the fewest respondents behind any correlation of the
model) is below ``index.model_min_base`` borrows the model of its parent unit
(a dealer its region's), else the total's; ``source`` says which.

Uncertainty is a *parametric bootstrap*: the statistics pass keeps sums, not
rows, so each resample redraws the model's correlation matrix from its sampling
distribution (Wishart with the model base's degrees of freedom, by Bartlett's
decomposition, every group and every draw at once) and refits. The 95% interval
is the 2.5 and 97.5 percentiles of the refits. Ranks follow the point
estimates; a driver's rank is one more than the number of drivers whose whole
interval lies above its own, so drivers whose intervals overlap share a rank
and are reported as ``tied``.

Importance-performance (Martilla & James 1977): each driver's normalised weight
against its 0-100 score; the cut lines are the mean weight (1/p) and the mean
score of that model's drivers (data-centred quadrants). The priority list
ranks drivers by ``gain = weight × (100 − score)``: the points by which the
importance-weighted index would rise if that driver scored 100, its importance
held. An item's weight is its weight within its factor times the factor's
weight (down the tree of models), so items of different factors compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .plugins import plugin_errors
from .regression import nearest_correlation, to_weights
from .results import clean_array, clean_objects
from .stats import FACTOR_PREFIX, pairwise_corr

if TYPE_CHECKING:
    from .model import Questionnaire, Segment
    from .plugins import PluginManager
    from .stats import StudyStats
    from .study import Study
    from .views import Labels, View

QUADRANTS = {(True, False): "concentrate-here", (True, True): "keep-up", (False, False): "low-priority",
             (False, True): "possible-overkill"}
INDEX = "index"
SMALL_WISHART = 4  # up to this many variables, Wishart draws are built entry by entry


@dataclass(frozen=True)
class ModelSpec:
    """One regression: ``outcome`` on ``drivers`` (variable names: item ids, ``@factor`` for factor scores)."""

    node: str  # "index" or the factor id
    drivers: tuple[str, ...]
    outcome: str
    method: str
    block: str  # "factor" (per cell) or "item" (per unit)

    @property
    def driver_ids(self) -> list[str]:
        return [d.removeprefix(FACTOR_PREFIX) for d in self.drivers]


def model_specs(q: Questionnaire, variables: Sequence[str], item_block: Sequence[str]) -> list[ModelSpec]:
    """The index model and one model per factor with two or more drivers, as far as the data has them."""
    index = q.index
    outcome = q.outcome_id()
    present = set(variables)
    specs = []
    drivers = tuple(FACTOR_PREFIX + d for d in q.driver_ids() if FACTOR_PREFIX + d in present)
    if drivers and outcome in present:
        specs.append(ModelSpec(INDEX, drivers, outcome, index.method, "factor"))
    in_block = set(item_block)
    if outcome not in in_block:
        return specs
    for factor in q.walk_factors():
        members = tuple(i.id for i in factor.items if i.question_type == "rating" and i.id in in_block)
        members += tuple(FACTOR_PREFIX + sub.id for sub in factor.factors if FACTOR_PREFIX + sub.id in in_block)
        if len(members) >= 2:
            specs.append(ModelSpec(factor.id, members, outcome, index.item_method or index.method, "item"))
    return specs


@dataclass
class Fit:
    """One model fitted for every group of a view (arrays: one row per group)."""

    spec: ModelSpec
    importance: np.ndarray  # (groups, drivers); NaN rows where the group has no model of its own
    r2: np.ndarray
    base: np.ndarray  # the model base: fewest (effective) respondents behind a correlation of the model
    own: np.ndarray  # bool: the group's own model (else borrowed or none)
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    standard_error: np.ndarray | None = None
    repaired: np.ndarray | None = None
    source: list[str] = field(default_factory=list)  # per group: own / parent:<unit> / total / none
    warnings: list[str] = field(default_factory=list)
    bootstrap: str | None = None  # "replicate groups" (nonparametric, the total) or "wishart" (parametric)

    @property
    def weights(self) -> np.ndarray:
        return to_weights(self.importance)


def block_correlations(view: View, names: Sequence[str], block: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Each group's pairwise correlation matrix of the variables ``names`` and its base: the fewest
    (effective) respondents behind any of its correlations. ``block``: "factor" (per cell) or "item"
    (per unit); None where the view has no such block."""
    cells = view.cells
    plan = cells.plan
    if plan is None:
        return None
    variables = plan.variables
    wanted = [variables.index(v) for v in names]
    if block == "factor":
        positions, source = plan.factor_block, cells
    else:
        if view.cross is None:
            return None
        positions, source = view.cross.variables, view.cross
    position = {v: j for j, v in enumerate(positions)}
    if any(v not in position for v in wanted):
        return None
    columns = np.array([position[v] for v in wanted])
    sums = [getattr(source, name)[:, columns][:, :, columns] for name in ("xx", "xm", "x2m", "mm")]
    corr = pairwise_corr(*sums)
    # weighted sums count weight, not respondents: scale by the design's ratio of effective base to weight
    with np.errstate(invalid="ignore", divide="ignore"):
        design = np.where(cells.sum_w > 0, (cells.sum_w**2 / np.maximum(cells.sum_w2, 1e-300)) / cells.sum_w, 0.0)
    base = sums[3].min(axis=(1, 2)) * design
    return corr, base


def _matrices(view: View, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """Each group's correlation matrix of [drivers..., outcome] and its model base."""
    return block_correlations(view, (*spec.drivers, spec.outcome), spec.block)


def wishart_correlations(corr: np.ndarray, df: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` sample correlation matrices per matrix of ``corr`` (groups, k, k), each as if from ``df + 1``
    normal observations with that population correlation: Bartlett's decomposition, all at once."""
    groups, k = corr.shape[0], corr.shape[-1]
    factor = np.linalg.cholesky(corr)
    lower = np.tril_indices(k, -1)
    normal = rng.standard_normal((groups, draws, lower[0].size))
    freedom = np.maximum(df[:, None, None] - np.arange(k)[None, None, :], 1.0)
    diagonal = np.sqrt(rng.chisquare(np.broadcast_to(freedom, (groups, draws, k))))
    if k > SMALL_WISHART:
        bartlett = np.zeros((groups, draws, k, k))
        bartlett[:, :, lower[0], lower[1]] = normal
        bartlett[:, :, np.arange(k), np.arange(k)] = diagonal
        root = factor[:, None] @ bartlett
        scatter = root @ np.swapaxes(root, -1, -2)
        scale = 1.0 / np.sqrt(np.diagonal(scatter, axis1=-2, axis2=-1))
        return scatter * scale[..., :, None] * scale[..., None, :]
    # a few variables (an index's drivers and outcome): entry by entry over (groups, draws), which a stack of
    # tiny matrix products is several times slower than; the same sums of products, term by term
    bartlett = {(i, i): diagonal[..., i] for i in range(k)}
    bartlett.update({(i, j): normal[..., t] for t, (i, j) in enumerate(zip(*lower))})
    root = {}  # L B, lower triangular
    for i in range(k):
        for j in range(i + 1):
            root[i, j] = sum(factor[:, i, m, None] * bartlett[m, j] for m in range(j, i + 1))
    scatter = {(i, j): sum(root[i, m] * root[j, m] for m in range(j + 1)) for i in range(k) for j in range(i + 1)}
    scale = [1.0 / np.sqrt(scatter[i, i]) for i in range(k)]
    out = np.empty((groups, draws, k, k))
    for (i, j), value in scatter.items():
        out[:, :, i, j] = out[:, :, j, i] = value * scale[i] * scale[j]
    return out


def replicate_correlations(view: View, names: Sequence[str], draws: int,
                           rng: np.random.Generator) -> np.ndarray | None:
    """``draws`` bootstrap correlation matrices of ``names`` from the view's replicate groups (the total only):
    each draw resamples the random groups with replacement and adds their sums. None without replicates."""
    replicates, plan = view.replicates, view.cells.plan
    if replicates is None or plan is None or view.groups != 1:
        return None
    position = {v: j for j, v in enumerate(replicates.variables)}
    wanted = [plan.variables.index(v) for v in names]
    if any(v not in position for v in wanted):
        return None
    columns = np.array([position[v] for v in wanted])
    groups = replicates.units
    counts = rng.multinomial(groups, np.full(groups, 1.0 / groups), size=draws).astype(np.float64)
    sums = [np.einsum("br,rij->bij", counts, getattr(replicates, name)[:, columns][:, :, columns])
            for name in ("xx", "xm", "x2m", "mm")]
    corr = pairwise_corr(*sums)
    corr = np.where(np.isfinite(corr), corr, 0.0)  # a draw without any answer to a pair: no correlation
    return nearest_correlation(corr)[0]


class Weighting:
    """Fits every model of a study for the groups of its views, with one instance of each weighter."""

    def __init__(self, study: Study, pm: PluginManager):
        self.study = study
        self.q = study.questionnaire
        self.index = self.q.index
        self.registry = pm.registry("weighters")
        self.rng_seed = self.index.seed
        self._instances: dict[str, Any] = {}
        for method in {self.index.method, self.index.item_method or self.index.method}:
            cls = self.registry.get(method)
            options = dict(self.index.options.get(method, {}))
            with plugin_errors(f"weighter '{method}'", self.registry.owner(method)):
                try:
                    self._instances[method] = cls(**options)
                except TypeError as exc:
                    from .errors import QuestionnaireError

                    where = study.loaded.locate("index", "options", method) if study.loaded else None
                    raise QuestionnaireError(f"index.options.{method}: {exc}", str(study.questionnaire_path),
                                             where.line if where else None,
                                             where.column if where else None) from None

    def _fit(self, method: str, matrices: np.ndarray) -> Any:
        """Fit a stack of [drivers..., outcome] matrices; one by one for a weighter that takes one matrix."""
        weighter = self._instances[method]
        target, drivers = matrices.shape[-1] - 1, list(range(matrices.shape[-1] - 1))
        with plugin_errors(f"weighter '{method}'", self.registry.owner(method)):
            if getattr(weighter, "stacks", False):
                return weighter.fit(matrices, target, drivers)
            columns: dict[str, list[np.ndarray]] = {"importance_": [], "r2_": []}
            size = matrices.shape[-1]
            for matrix in matrices.reshape(-1, size, size):  # one instance refits: keep each fit's numbers
                fitted = weighter.fit(matrix, target, drivers)
                for name, values in columns.items():
                    values.append(np.asarray(getattr(fitted, name), dtype=np.float64))
            for name, values in columns.items():
                shape = (0, len(drivers)) if name == "importance_" else (0,)
                stacked = np.stack(values) if values else np.zeros(shape)
                setattr(weighter, name, stacked.reshape(matrices.shape[:-2] + stacked.shape[1:]))
            return weighter

    def fit(self, view: View, spec: ModelSpec, bootstrap: bool, seed_key: str,
            fallback: list[tuple[str, np.ndarray, np.ndarray] | None] | None = None) -> Fit | None:
        """The model for every group of ``view``; ``fallback`` gives each group a (source, importance, r2)
        to borrow when its base is too small (None: no model)."""
        found = _matrices(view, spec)
        if found is None:
            return None
        corr, base = found
        groups, p = corr.shape[0], len(spec.drivers)
        usable = np.isfinite(corr).all(axis=(1, 2)) & (base >= max(self.index.model_min_base, p + 2))
        if fallback is None:  # the total: its own model whenever one can be fitted at all
            usable = np.isfinite(corr).all(axis=(1, 2)) & (base >= p + 2)
        importance = np.full((groups, p), np.nan)
        r2 = np.full(groups, np.nan)
        error = None
        repaired = np.zeros(groups, dtype=bool)
        fit = Fit(spec, importance, r2, base, usable.copy())
        if usable.any():
            matrices, repaired[usable] = nearest_correlation(corr[usable])
            model = self._fit(spec.method, matrices)
            importance[usable] = model.importance_
            r2[usable] = model.r2_
            if getattr(model, "standard_error_", None) is not None:
                error = np.full((groups, p), np.nan)
                error[usable] = model.standard_error_
            fit.warnings.extend(getattr(model, "warnings_", []))
            if bootstrap and self.index.bootstrap > 0:
                fit.ci_low, fit.ci_high = self._bootstrap(spec, matrices, base[usable], usable, seed_key, view)
                fit.bootstrap = "replicate groups" if view.replicates is not None and view.groups == 1 else "wishart"
        fit.standard_error = error
        fit.repaired = repaired
        if repaired.any():
            fit.warnings.append(f"{int(repaired.sum())} correlation matrices were not positive definite "
                                "(pairwise-complete answers) and were repaired to the nearest one")
        fit.source = ["own" if u else "none" for u in usable]
        if fallback is not None:
            for g in np.flatnonzero(~usable):
                borrowed = fallback[g]
                if borrowed is not None:
                    fit.source[g], importance[g], r2[g] = borrowed
        return fit

    def _bootstrap(self, spec: ModelSpec, matrices: np.ndarray, base: np.ndarray, usable: np.ndarray,
                   seed_key: str, view: View) -> tuple[np.ndarray, np.ndarray]:
        # one stream per (view, model): the intervals do not move when another model or view is added
        entropy = [self.rng_seed, *seed_key.encode(), *spec.node.encode()]
        rng = np.random.default_rng(entropy)
        draws = self.index.bootstrap
        names = (*spec.drivers, spec.outcome)
        resampled = replicate_correlations(view, names, draws, rng)
        if resampled is not None:  # the total: resample its random groups of respondents
            resampled = resampled[None]
        else:
            resampled = wishart_correlations(matrices, np.maximum(base - 1, 1.0), draws, rng)
        model = self._fit(spec.method, resampled)
        replicate = np.asarray(model.importance_).reshape(matrices.shape[0], draws, -1)
        percentile = np.nanpercentile if np.isnan(replicate).any() else np.percentile
        low, high = percentile(replicate, [2.5, 97.5], axis=1)
        groups = usable.size
        ci_low, ci_high = np.full((groups, low.shape[-1]), np.nan), np.full((groups, low.shape[-1]), np.nan)
        ci_low[usable], ci_high[usable] = low, high
        return ci_low, ci_high


    def fit_view(self, view: View, specs: Sequence[ModelSpec], key: str, total: dict[str, Fit] | None = None,
                 parent: dict[str, Fit] | None = None, parent_rows: np.ndarray | None = None,
                 parent_labels: Sequence[str] = ()) -> dict[str, Fit]:
        """Every model for every group of ``view``.

        Without ``total`` the view is the total: its model is its own whenever one can be fitted.
        Otherwise a group below the model minimum borrows group ``parent_rows[g]`` of ``parent``
        (its parent unit) where that one has a model of its own, else the total's. Index models are
        bootstrapped everywhere; item models in the total, and in segments with ``bootstrap_items``.
        """
        fits: dict[str, Fit] = {}
        for spec in specs:
            fallback = None if total is None else self._fallback(spec, view.groups, total, parent, parent_rows,
                                                                  parent_labels)
            bootstrap = spec.node == INDEX or total is None or self.index.bootstrap_items
            fitted = self.fit(view, spec, bootstrap, key, fallback)
            if fitted is not None:
                fits[spec.node] = fitted
        return fits

    @staticmethod
    def _fallback(spec: ModelSpec, groups: int, total: dict[str, Fit], parent: dict[str, Fit] | None,
                  parent_rows: np.ndarray | None, parent_labels: Sequence[str]) -> list[Any]:
        mine, overall = (parent or {}).get(spec.node), total.get(spec.node)
        out: list[Any] = []
        for g in range(groups):
            row = -1 if parent_rows is None else int(parent_rows[g])
            if mine is not None and row >= 0 and mine.source[row] == "own":
                out.append((f"parent:{parent_labels[row]}", mine.importance[row], mine.r2[row]))
            elif overall is not None and overall.source[0] == "own":
                out.append(("total", overall.importance[0], overall.r2[0]))
            else:
                out.append(None)
        return out


def segment_order(q: Questionnaire) -> list[Segment]:
    """Segments with every parent before its children (a child borrows its parent's models)."""
    ordered: list[Segment] = []
    pending = list(q.segments)
    while pending:
        waiting = {s.id for s in pending}
        ready = [s for s in pending if s.parent is None or s.parent not in waiting]
        ordered.extend(ready)
        pending = [s for s in pending if s not in ready]
    return ordered


def fit_study(study: Study, pm: PluginManager, views: dict[str, View], stats: StudyStats,
              labels: Labels) -> tuple[list[ModelSpec], dict[str, dict[str, Fit]]]:
    """The weighting stage: every model for every group of the total, the waves and each segment's units."""
    from .views import parent_codes

    q = study.questionnaire
    plan = views["total"].cells.plan
    variables = plan.variables if plan else ()
    specs = model_specs(q, variables, [variables[v] for v in plan.item_block] if plan else ())
    weighting = Weighting(study, pm)
    total = weighting.fit_view(views["total"], specs, "total")
    fits = {"total": total}
    if "wave" in views:
        fits["wave"] = weighting.fit_view(views["wave"], specs, "wave", total)
    for segment in segment_order(q):
        name = f"segment:{segment.id}"
        parents = parent_codes(q, stats, segment.id)
        nested = parents is not None and segment.parent is not None
        fits[name] = weighting.fit_view(
            views[name], specs, name, total, fits.get(f"segment:{segment.parent}") if nested else None,
            parents, labels.segments[segment.parent] if nested and segment.parent else ())
    return specs, fits


def ranks(importance: np.ndarray, low: np.ndarray | None, high: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Rank (1 = most important) and tie flag per driver; rows are groups.

    Without intervals: the order of the point estimates. With them: one more than
    the number of drivers whose interval lies wholly above the driver's own.
    """
    value = np.nan_to_num(importance, nan=-np.inf)
    if low is None or high is None:
        order = np.argsort(-value, axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(1, value.shape[1] + 1)[None, :], axis=1)
        return rank, np.zeros(rank.shape, dtype=bool)
    above = (low[:, None, :] > high[:, :, None])  # [g, j, i]: driver i's interval wholly above driver j's
    rank = 1 + above.sum(axis=2)
    same = (rank[:, :, None] == rank[:, None, :]).sum(axis=2) > 1
    return rank, same


def quadrants(weights: np.ndarray, performance: np.ndarray) -> np.ndarray:
    """Martilla & James quadrant of each driver (an object array of names, None where unknown): cut lines at the
    mean weight and the mean performance."""
    def row_mean(values: np.ndarray) -> np.ndarray:  # of the finite entries; NaN for a row without any
        finite = np.isfinite(values)
        count = finite.sum(axis=1, keepdims=True)
        total = np.where(finite, values, 0.0).sum(axis=1, keepdims=True)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    with np.errstate(invalid="ignore"):
        important = weights >= row_mean(weights) - 1e-12
        performing = performance >= row_mean(performance)
    known = np.isfinite(performance) & np.isfinite(weights)
    names = np.array([QUADRANTS[(False, False)], QUADRANTS[(False, True)], QUADRANTS[(True, False)],
                      QUADRANTS[(True, True)], None], dtype=object)
    return names[np.where(known, 2 * important + performing, 4)]


def performance(view: View, q: Questionnaire, spec: ModelSpec) -> np.ndarray:
    """Each driver's 0-100 score per group: factor scores as they are, items rescaled from their scale."""
    cells = view.cells
    means = cells.mean()
    names = cells.variables
    columns = []
    for driver in spec.drivers:
        value = means[:, names.index(driver)]
        if not driver.startswith(FACTOR_PREFIX):
            scale = q.scale_of(q.item(driver))
            value = (value - scale.min) / (scale.max - scale.min) * 100 if scale else np.full_like(value, np.nan)
        columns.append(value)
    return np.stack(columns, axis=1) if columns else np.zeros((view.groups, 0))


def describe(fits: dict[str, Fit], view: View, q: Questionnaire, hidden: np.ndarray | None = None,
             index_weights: np.ndarray | None = None) -> list[dict[str, Any]]:
    """The ``drivers`` section of every group: each model's drivers and the priority list.

    ``index_weights`` (groups, factor drivers) are the weights the CSI uses, to carry item
    weights down the tree; default: the index model's own.
    """
    groups = view.groups
    out: list[dict[str, Any]] = [{} for _ in range(groups)]
    leaf_weight: dict[str, np.ndarray] = {}  # variable -> weight within the index, per group
    described: dict[str, list[dict[str, Any]]] = {}
    performances: dict[str, np.ndarray] = {}  # node -> each driver's performance as shown (rounded), per group
    shown_of: dict[str, tuple[np.ndarray, ...]] = {}  # node -> importance, performance and quadrant as shown
    order = [INDEX] + [node for node in fits if node != INDEX]
    for node in order:
        fit = fits.get(node)
        if fit is None:
            continue
        spec = fit.spec
        weights = fit.weights
        if node == INDEX and index_weights is not None:
            weights = np.broadcast_to(index_weights, weights.shape)
        carried = np.ones(groups) if node == INDEX else leaf_weight.get(FACTOR_PREFIX + node)
        if carried is None:  # a factor outside the index (not a driver): its items' own weights
            carried = np.ones(groups)
        for j, driver in enumerate(spec.drivers):
            leaf_weight[driver] = carried * weights[:, j]
        score = performance(view, q, spec)
        rank, tied = ranks(fit.importance, fit.ci_low, fit.ci_high)
        columns = {"importance": fit.importance, "weight": weights, "performance": score}
        if fit.ci_low is not None and fit.ci_high is not None:
            columns["ci_low"], columns["ci_high"] = fit.ci_low, fit.ci_high
        if fit.standard_error is not None:
            columns["standard_error"] = fit.standard_error
        shown = {name: clean_objects(values) for name, values in columns.items()}
        quadrant = quadrants(weights, score)
        shown_of[node] = (shown["importance"], shown["performance"], quadrant)
        performances[node] = np.where(np.equal(shown["performance"], None), np.nan,
                                      shown["performance"]).astype(np.float64)
        names = ("id", "rank", "tied", "quadrant", *shown)
        per_driver = zip(rank.tolist(), tied.tolist(), quadrant.tolist(),
                         *(values.tolist() for values in shown.values()))
        r2, base = clean_array(fit.r2), clean_array(fit.base)
        warnings = fit.warnings
        interval = fit.bootstrap if fit.ci_low is not None else None
        repaired = fit.repaired.tolist() if fit.repaired is not None else [False] * groups
        entries = described[node] = []
        for g, (source, row) in enumerate(zip(fit.source, per_driver)):
            if source == "none":
                entries.append({})
                continue
            own = source == "own"
            entries.append({
                "outcome": spec.outcome, "method": spec.method, "source": source,
                "base": base[g] if own else None, "r2": r2[g],
                "repaired": bool(repaired[g]) if own else False,
                "interval": interval if own else None,
                "warnings": list(warnings) if own else [],
                "drivers": [dict(zip(names, values)) for values in zip(spec.driver_ids, *row)]})
    sections: dict[tuple[str, ...], list[int]] = {}  # the models a group has -> those groups
    for g in range(groups):
        if hidden is not None and hidden[g]:
            continue
        section: dict[str, Any] = {}
        if described.get(INDEX) and described[INDEX][g]:
            section["factors"] = described[INDEX][g]
        items = {node: described[node][g] for node in described if node != INDEX and described[node][g]}
        if items:
            section["items"] = items
        if section:
            present = ((INDEX,) if "factors" in section else ()) + tuple(items)
            sections.setdefault(present, []).append(g)
        out[g] = section
    specs = {node: fits[node].spec for node in described}
    for present, members in sections.items():
        _priorities(present, np.array(members), out, specs, leaf_weight, performances, shown_of)
    return out


def _priorities(present: tuple[str, ...], members: np.ndarray, out: list[dict[str, Any]],
                specs: dict[str, ModelSpec], leaf_weight: dict[str, np.ndarray],
                performances: dict[str, np.ndarray], shown_of: dict[str, tuple[np.ndarray, ...]]) -> None:
    """The priority list of each group of ``members``, which all have the models ``present``: the leaves of the
    tree of models, ranked by importance-weighted room for improvement (gain, then id).

    A factor with a model of its own is represented by its drivers, else by itself.
    """
    modelled = set(present) - {INDEX}
    candidates: list[tuple[str, str, int]] = []  # (variable, node, driver's position in the node's model)
    for node in present:
        for j, variable in enumerate(specs[node].drivers):
            if not (variable.startswith(FACTOR_PREFIX) and variable.removeprefix(FACTOR_PREFIX) in modelled):
                candidates.append((variable, node, j))
    weight = np.stack([leaf_weight[v][members] if v in leaf_weight else np.full(members.size, np.nan)
                       for v, _, _ in candidates], axis=1)
    score = np.stack([performances[node][members, j] for _, node, j in candidates], axis=1)
    weight = np.where(np.isfinite(weight), weight, np.nan)
    with np.errstate(invalid="ignore"):
        gain = np.array([_rounded(row) for row in (weight * (100 - score)).tolist()], dtype=np.float64)
    gain = gain.reshape(members.size, len(candidates))
    shown_weight = [_rounded_or_none(row) for row in weight.tolist()]
    shown_gain = [[None if v != v else v for v in row] for row in gain.tolist()]
    ids = [specs[node].driver_ids[j] for _, node, j in candidates]
    id_order = {name: k for k, name in enumerate(sorted(set(ids)))}
    unknown = np.isnan(gain)
    # as sorted by (gain is None, -gain, id), stably
    ranking = np.lexsort((np.broadcast_to(np.array([id_order[i] for i in ids]), gain.shape),
                          -np.where(unknown, 0.0, gain), unknown), axis=1).tolist()
    kinds = ["factor" if v.startswith(FACTOR_PREFIX) else "item" for v, _, _ in candidates]
    factor_ids = [None if node == INDEX else node for _, node, _ in candidates]
    importance, shown_score, quadrant = (np.stack([shown_of[node][k][members, j] for _, node, j in candidates],
                                                  axis=1).tolist() for k in range(3))
    for m, g in enumerate(members.tolist()):
        weights, gains, importances, scores, quadrants_ = shown_weight[m], shown_gain[m], importance[m], \
            shown_score[m], quadrant[m]
        out[g]["priorities"] = [
            {"level": kinds[c], "id": ids[c], "factor": factor_ids[c], "importance": importances[c],
             "weight": weights[c], "performance": scores[c], "gain": gains[c], "quadrant": quadrants_[c],
             "priority": position}
            for position, c in enumerate(ranking[m], 1)]


def _rounded(values: list[float]) -> list[float]:
    """6 significant digits as ``f"{v:.6g}"`` writes them (NaN stays NaN)."""
    return [float(f"{v:.6g}") for v in values]


def _rounded_or_none(values: list[float]) -> list[float | None]:
    return [None if v != v else float(f"{v:.6g}") for v in values]
