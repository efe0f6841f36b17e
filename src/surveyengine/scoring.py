"""From merged cell statistics to :class:`~surveyengine.results.Results`, through the scorer plugins.

For every view (total, waves, each segment's units, each unit per wave) the
scorers compute their metrics for all groups at once; the CSI, comparisons
and base rules are applied here, once, for every scorer's output:

- the CSI is the weighted sum of the driver factors' 0-100 scores; its
  interval comes from the covariance of the factor scores (the factor block's
  pairwise cross-products), so it is as exact as the factor scores themselves;
- each segment unit is compared with the rest of its parent (or of the total)
  and each wave with the previous one, by Welch's t on the merged moments;
  a unit is *below average* only when it is significantly below (p < 0.05)
  and its base is at least the reporting minimum;
- a group below the privacy minimum is suppressed everywhere; and where
  exactly one unit under a parent is suppressed, the next smallest is
  suppressed too, so that no suppressed value can be recovered by subtracting
  the others from the parent (complementary suppression).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from .estimates import t_quantile, welch
from .plugins import plugin_errors
from .results import (
    FactorInfo,
    Group,
    ItemInfo,
    Metric,
    Results,
    SegmentResults,
    Value,
    clean,
    clean_array,
    clean_rows,
    collector_paused,
)
from .stats import FACTOR_PREFIX, pairwise_cov
from .views import Labels, View, build_views, parent_codes

if TYPE_CHECKING:
    from .plugins import PluginManager
    from .stats import StudyStats
    from .study import Study

SIGNIFICANCE = 0.05


def build_date() -> str:
    """The build date: SOURCE_DATE_EPOCH when set (reproducible builds), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
              else _dt.datetime.now(_dt.timezone.utc))
    return moment.date().isoformat()


def run_scorers(view: View, study: Study, pm: PluginManager) -> list[Metric]:
    scorers = pm.registry("scorers")
    metrics: list[Metric] = []
    for scorer_id, scorer_cls in scorers.items():
        with plugin_errors(f"scorer '{scorer_id}'", scorers.owner(scorer_id)):
            metrics.extend(scorer_cls().score(view, study))
    return metrics


def csi_value(view: View, drivers: list[str], weights: np.ndarray) -> np.ndarray:
    """The CSI per group alone: the weighted sum of the driver factors' mean scores."""
    plan = view.cells.plan
    if plan is None or not drivers:
        return np.full(view.groups, np.nan)
    variables = [plan.variable(FACTOR_PREFIX + d) for d in drivers]
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), (view.groups, len(drivers)))
    return np.einsum("gi,gi->g", view.cells.mean()[:, variables], weights)


def csi(view: View, drivers: list[str], weights: np.ndarray) -> dict[str, np.ndarray]:
    """CSI per group with its t interval, from factor means and the factor-score covariance."""
    cells = view.cells
    plan = cells.plan
    groups = view.groups
    nan = np.full(groups, np.nan)
    if plan is None or not drivers:
        return {"value": nan, "ci_low": nan, "ci_high": nan, "variance": nan, "n_eff": nan, "base": np.zeros(groups)}
    variables = [plan.variable(FACTOR_PREFIX + d) for d in drivers]
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), (groups, len(drivers)))
    value = csi_value(view, drivers, weights)
    block = {v: j for j, v in enumerate(plan.factor_block)}
    columns = np.array([block[v] for v in variables])
    sums = [getattr(cells, name)[:, columns][:, :, columns] for name in ("xx", "xm", "x2m", "mm")]
    cov = np.nan_to_num(pairwise_cov(*sums), nan=0.0)
    variance = np.maximum(np.einsum("gi,gij,gj->g", weights, cov, weights), 0.0)  # rounding: a zero may go below
    effective = cells.effective_base()[:, variables].min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = variance * effective / np.maximum(effective - 1, 1e-12)
        half = t_quantile(effective - 1) * np.sqrt(variance / effective)
    base = cells.count[:, variables].min(axis=1)
    return {"value": value, "ci_low": value - half, "ci_high": value + half, "variance": variance,
            "n_eff": effective, "base": base}


SECTIONS = {"item": "items", "factor": "factors", "headline": "headline"}


def _groups(view: View, metrics: list[Metric], index: dict[str, np.ndarray], keys: list[dict[str, str]],
            privacy_min: int) -> list[Group]:
    """The view's groups with every metric's value; a value resting on fewer respondents than the privacy
    minimum is hidden (value and base) here, on the arrays, before any result object exists.

    Every metric's arrays are rounded in one go, and each group's section is made whole, metric by metric in
    the scorers' order: a view has hundreds of metrics and thousands of groups, a result object each."""
    cells = view.cells
    size = view.groups
    with np.errstate(invalid="ignore", divide="ignore"):
        effective = clean_array(np.where(cells.sum_w2 > 0, cells.sum_w**2 / cells.sum_w2, 0.0))
    arrays: list[np.ndarray] = []  # every 1-D array of every metric, rounded together
    distributions: list[list[Any]] = []
    shown: dict[tuple[str, str], dict[str, tuple[Any, ...]]] = {}  # (section, target) -> name -> where its parts are

    seen: dict[tuple[Any, ...], int] = {}  # where an array's memory is: one slot for the same numbers

    def slot(array: np.ndarray | None) -> int | None:
        if array is None:
            return None
        array = np.asarray(array, dtype=np.float64)
        if array.shape != (size,):
            array = np.broadcast_to(array, (size,))
        # the metrics of an item share its base, each a view of the same column: round it once (arrays are
        # held in ``arrays``, so no other array can take the same memory meanwhile)
        where = (array.__array_interface__["data"][0], array.strides)
        if where not in seen:
            seen[where] = len(arrays)
            arrays.append(array)
        return seen[where]

    for metric in metrics:
        if metric.kind == "item" and not view.item_metrics:
            continue
        values = np.asarray(metric.values, dtype=np.float64)
        base = None if metric.base is None else np.asarray(metric.base, dtype=np.float64)
        ci, p = metric.ci, metric.p
        few = None if base is None else base < privacy_min
        if few is not None and few.any():
            answered = ~np.isnan(values) if values.ndim == 1 else ~np.isnan(values).all(axis=1)
            hidden = few & answered
            if hidden.any():
                values = values.copy()
                values[hidden] = np.nan
                base = np.where(hidden, np.nan, base)
                ci = None if ci is None else tuple(np.where(hidden, np.nan, bound) for bound in ci)
                p = None if p is None else np.where(hidden, np.nan, p)
        if values.ndim == 2:
            distributions.append(clean_array(values))
            where: Any = ("distribution", len(distributions) - 1)
        else:
            where = slot(values)
        shown.setdefault((SECTIONS[metric.kind], metric.target), {})[metric.name] = (
            where, slot(base), slot(ci[0]) if ci is not None else None, slot(ci[1]) if ci is not None else None,
            slot(p))
    hidden = index["base"] < privacy_min
    csi = [slot(np.where(hidden, np.nan, index[name])) for name in ("value", "base", "ci_low", "ci_high", "equal")]
    shown[("headline", "csi")] = {"csi": tuple(csi[:4]) + (None,), "csi_equal": (csi[4], csi[1], None, None, None)}
    rows = clean_rows(np.stack(arrays)) if arrays else []
    empty = [None] * size

    def column(where: Any) -> list[Any]:
        if where is None:
            return empty
        return distributions[where[1]] if isinstance(where, tuple) else rows[where]

    sections: dict[str, tuple[list[str], list[list[dict[str, Value]]]]] = {}
    for (section, target), named in shown.items():
        values_of = [list(map(Value, *(column(where) for where in parts))) for parts in named.values()]
        names = list(named)
        targets, per_target = sections.setdefault(section, ([], []))
        targets.append(target)
        per_target.append([dict(zip(names, values)) for values in zip(*values_of)])
    made = {name: [dict(zip(targets, entries)) for entries in zip(*per_target)]
            for name, (targets, per_target) in sections.items()}
    headlines, factors, items = ([{} for _ in range(size)] if name not in made else made[name]
                                 for name in ("headline", "factors", "items"))
    return [Group(key, label, int(base), base_eff, [], headline, factor, item)
            for key, label, base, base_eff, headline, factor, item in
            zip(keys, view.labels, cells.n.tolist(), effective, headlines, factors, items)]


def _apply_bases(groups: list[Group], min_base: int, privacy_min: int) -> None:
    """Suppress whole groups that rest on fewer respondents than the privacy minimum; flag small bases."""
    for group in groups:
        if group.base < privacy_min:
            _suppress(group)
        elif group.base < min_base:
            group.flags.append("small-base")


def _suppress(group: Group) -> None:
    if "suppressed" in group.flags:
        return
    # a flag of a hidden group tells about its values too ("below-average"): none is kept
    group.flags = [f for f in group.flags if f not in ("small-base", "below-average", "above-average")]
    group.flags.append("suppressed")
    for section in (group.headline, group.factors, group.items):
        for metrics in section.values():
            for name in metrics:
                metrics[name] = Value(None)
    group.comparison = {}
    group.drivers = {}
    group.model = {}


def _complementary(groups: list[Group], parents: Iterable[int]) -> None:
    """Where one unit under a parent is suppressed, suppress the next smallest too."""
    by_parent: dict[int, list[Group]] = {}
    for group, parent in zip(groups, parents):
        by_parent.setdefault(parent, []).append(group)
    for members in by_parent.values():
        hidden = [m for m in members if m.suppressed]
        if len(hidden) == 1 and len(members) > 1:
            visible = sorted((m for m in members if not m.suppressed), key=lambda m: (m.base, m.label))
            if visible:
                _suppress(visible[0])
                visible[0].flags.append("suppressed-complementary")


def _compare(view: View, reference: View, parent_of: np.ndarray, drivers: list[str], weights: np.ndarray,
             index: dict[str, np.ndarray], groups: list[Group], min_base: int, label: str,
             valid: np.ndarray | None = None) -> None:
    """Each group against the rest of its parent group in ``reference`` (parent minus group).

    Groups where ``valid`` is false (a unit whose rows lie in several parents) are not compared.
    """
    cells, parent_cells = view.cells, reference.cells
    from .estimates import mean_ci

    plan = cells.plan
    tests: dict[str, dict[str, np.ndarray]] = {}
    shown_as = {d: ("factors", d, "score") for d in drivers}  # where each compared value is shown
    shown_as["csi"] = ("headline", "csi", "csi")
    if plan is not None:
        shown_as.update({plan.items[o]: ("items", plan.items[o], "mean") for o in plan.outcomes[:1]})
        compared = [FACTOR_PREFIX + d for d in drivers] + [plan.items[o] for o in plan.outcomes[:1]]
        columns = [plan.variable(name) for name in compared]  # the moments of these alone
        moments = ("count", "wsum", "wsum2", "sum", "sumsq")
        own = mean_ci(*(getattr(cells, name)[:, columns] for name in moments))
        rest = mean_ci(*(getattr(parent_cells, name)[parent_of][:, columns] - getattr(cells, name)[:, columns]
                         for name in moments))
        for v, name in enumerate(compared):
            tests[name.removeprefix(FACTOR_PREFIX)] = welch(own["mean"][:, v], own["variance"][:, v],
                                                            own["n_eff"][:, v], rest["mean"][:, v],
                                                            rest["variance"][:, v], rest["n_eff"][:, v])
    # the CSI of the rest: parent sums minus the group's, through the same formula
    rest_index = _rest_csi(view, reference, parent_of, drivers, weights)
    tests["csi"] = welch(index["value"], index["variance"], index["n_eff"], rest_index["value"],
                         rest_index["variance"], rest_index["n_eff"])
    shown_tests = {}  # per test: each group's difference and p as shown, and whether it is significant
    for name, test in tests.items():
        with np.errstate(invalid="ignore"):
            significant = (np.isfinite(test["p"]) & (test["p"] < SIGNIFICANCE)).tolist()
        shown_tests[name] = ([clean(v) for v in test["difference"].tolist()], [clean(v) for v in test["p"].tolist()],
                             significant)
    for g, group in enumerate(groups):
        if group.suppressed or (valid is not None and not valid[g]):
            continue
        comparison: dict[str, Any] = {"against": label}
        for name, (difference, p, significant) in shown_tests.items():
            section, target, metric = shown_as[name]
            shown = getattr(group, section).get(target, {}).get(metric)
            if shown is None or shown.value is None:  # hidden (too few answered): so is its difference
                comparison[name] = {"difference": None, "p": None, "significant": False}
                continue
            comparison[name] = {"difference": difference[g], "p": p[g], "significant": significant[g]}
        group.comparison = comparison
        csi_test = comparison["csi"]
        if csi_test["significant"] and group.base >= min_base:
            group.flags.append("below-average" if csi_test["difference"] < 0 else "above-average")


def _rest_csi(view: View, reference: View, parent_of: np.ndarray, drivers: list[str],
              weights: np.ndarray) -> dict[str, np.ndarray]:
    from dataclasses import replace

    cells, parent_cells = view.cells, reference.cells
    names = ("n", "sum_w", "sum_w2", "count", "wsum", "wsum2", "sum", "sumsq", "xx", "xm", "x2m", "mm")
    rest_cells = replace(cells, **{name: getattr(parent_cells, name)[parent_of] - getattr(cells, name)
                                   for name in names})
    return csi(View("rest", rest_cells, None, view.labels), drivers, weights)


def _previous(view: View, groups: list[Group], index: dict[str, np.ndarray]) -> None:
    """Each group against the previous wave of the same unit: change and its significance.

    Not where either CSI is hidden (the group, or the CSI alone, rests on too few respondents).
    """
    position = {code: g for g, code in enumerate(view.codes)}
    shown = [group.headline_value("csi", "csi") is not None for group in groups]
    pairs = []
    for g, code in enumerate(view.codes):
        before = position.get((code[0] - 1,) if len(code) == 1 else (code[0], code[1] - 1))
        if before is not None and shown[g] and shown[before]:
            pairs.append((g, before))
    if not pairs:
        return
    now, then = (np.array(side) for side in zip(*pairs))
    test = welch(index["value"][now], index["variance"][now], index["n_eff"][now], index["value"][then],
                 index["variance"][then], index["n_eff"][then])
    change, p = clean_array(test["difference"]), clean_array(test["p"])
    for k, (g, before) in enumerate(pairs):
        groups[g].comparison["previous_wave"] = {
            "wave": groups[before].key.get("wave"), "csi_change": change[k], "p": p[k],
            "significant": bool(p[k] is not None and p[k] < SIGNIFICANCE)}


def _rank(values: list[Any]) -> list[int | None]:
    """Competition ranks, 1 = highest; None where there is no value."""
    shown = sorted((v for v in values if v is not None), reverse=True)
    first = {}
    for position, value in enumerate(shown, 1):
        first.setdefault(value, position)
    return [None if v is None else first[v] for v in values]


def _league(units: list[Group]) -> None:
    """Each unit's place by the weighted CSI and by the equal-weight CSI (the simple average)."""
    weighted = _rank([u.headline_value("csi", "csi") for u in units])
    equal = _rank([u.headline_value("csi", "csi_equal") for u in units])
    for unit, by_csi, by_equal in zip(units, weighted, equal):
        unit.ranks = {"csi": by_csi, "csi_equal": by_equal,
                      "change": None if by_csi is None or by_equal is None else by_equal - by_csi}


def score(study: Study, stats: StudyStats, labels: Labels, account: dict[str, Any], pm: PluginManager,
          exclusions: list[dict[str, Any]] | None = None, *, cfa: bool | None = None) -> Results:
    """Every result of the study. ``cfa``: fit the diagnostics' confirmatory factor analysis (default: the
    study config's ``diagnostics.cfa``)."""
    from threadpoolctl import threadpool_limits

    # its linear algebra is thousands of small matrices: BLAS threads only wait on each other (and lose the
    # cores to anything else running) where one thread finishes each at once
    with collector_paused(), threadpool_limits(limits=1, user_api="blas"):
        return _score(study, stats, labels, account, pm, exclusions, cfa)


def _score(study: Study, stats: StudyStats, labels: Labels, account: dict[str, Any], pm: PluginManager,
           exclusions: list[dict[str, Any]] | None, cfa: bool | None) -> Results:
    from .diagnostics import diagnose
    from .importance import INDEX, describe, fit_study, segment_order
    from .measurement import for_study as measurement_of
    from .structural import estimate as estimate_model

    q = study.questionnaire
    language = study.language
    views = build_views(q, stats, labels)
    min_base, privacy_min = q.index.min_base, q.index.privacy_min
    total_view = views["total"]
    specs, study_fits = fit_study(study, pm, views, stats, labels)
    model_section, model_groups = estimate_model(study, pm, views)
    index_spec = next((spec for spec in specs if spec.node == INDEX), None)
    drivers = list(index_spec.driver_ids) if index_spec else []
    equal = np.full(len(drivers), 1.0 / len(drivers)) if drivers else np.zeros(0)
    total_fits = study_fits["total"]
    total_index = total_fits.get(INDEX)
    total_weights = total_index.weights[0] if total_index is not None else equal
    own_weights = q.index.csi_weights == "own"

    def scored(view: View, keys: list[dict[str, str]], fits: dict[str, Any] | None,
               csi_weights: np.ndarray) -> tuple[list[Group], dict[str, np.ndarray]]:
        index = csi(view, drivers, csi_weights)
        index["equal"] = csi_value(view, drivers, equal)  # a value only: the equal-weight CSI has no interval
        groups = _groups(view, run_scorers(view, study, pm), index, keys, privacy_min)
        _apply_bases(groups, min_base, privacy_min)
        for group, entry in zip(groups, model_groups.get(view.name, ())):
            if not group.suppressed:
                group.model = entry
        if fits:
            hidden = np.array([g.suppressed for g in groups])
            for group, section in zip(groups, describe(fits, view, q, hidden, csi_weights if own_weights else None)):
                group.drivers = section
        return groups, index

    def weights_of(fits: dict[str, Any], groups: int) -> np.ndarray:
        if not own_weights or INDEX not in fits:
            return np.broadcast_to(total_weights, (groups, len(drivers)))
        return fits[INDEX].weights

    (total,), _ = scored(total_view, [{"level": "total"}], total_fits, weights_of(total_fits, 1))
    waves: list[Group] = []
    if "wave" in views:
        view = views["wave"]
        wave_fits = study_fits["wave"]
        waves, wave_index = scored(view, [{"wave": label} for label in view.labels], wave_fits,
                                   weights_of(wave_fits, view.groups))
        _previous(view, waves, wave_index)

    segments = []
    for segment in segment_order(q):
        view = views[f"segment:{segment.id}"]
        unit_labels = labels.segments[segment.id]
        names = [q.text(segment.labels.get(_code(code, segment.labels)), language) or code for code in unit_labels]
        keys = [{"segment": segment.id, "unit": code} for code in unit_labels]
        parents = parent_codes(q, stats, segment.id)
        fits = study_fits[f"segment:{segment.id}"]
        unit_weights = weights_of(fits, view.groups)
        units, index = scored(view, keys, fits, unit_weights)
        for group, name in zip(units, names):
            group.label = name
        if parents is not None and segment.parent is not None:
            reference = views[f"segment:{segment.parent}"]
            parent_labels = labels.segments[segment.parent]
            for group, parent in zip(units, parents):
                if parent >= 0:
                    group.key["parent"] = parent_labels[parent]
            valid = parents >= 0
            parent_of = np.where(valid, parents, 0)
            _compare(view, reference, parent_of, drivers, unit_weights, index, units, min_base,
                     f"rest of its {segment.parent}", valid)
            _complementary(units, parents.tolist())
        else:
            _compare(view, total_view, np.zeros(view.groups, dtype=np.int64), drivers, unit_weights, index, units,
                     min_base, "rest of the total")
            _complementary(units, [0] * len(units))
        _league(units)
        trend: list[Group] = []
        if f"segment:{segment.id}:wave" in views:
            trend_view = views[f"segment:{segment.id}:wave"]
            trend_keys = [{"segment": segment.id, "unit": unit_labels[u], "wave": labels.waves[w]}
                          for u, w in trend_view.codes]
            unit_of = np.array([u for u, _ in trend_view.codes], dtype=np.int64)
            trend, trend_index = scored(trend_view, trend_keys, None,
                                        np.asarray(unit_weights)[unit_of] if unit_of.size else
                                        np.zeros((0, len(drivers))))
            for group, (u, _) in zip(trend, trend_view.codes):
                group.label = names[u]
                if units[u].suppressed and not group.suppressed:  # else its waves add up to the hidden unit
                    _suppress(group)
                    group.flags.append("suppressed-complementary")
            _previous(trend_view, trend, trend_index)
        segments.append(SegmentResults(segment.id, q.text(segment.label, language), segment.parent, units, trend))
    order = {s.id: k for k, s in enumerate(q.segments)}
    segments.sort(key=lambda s: order[s.id])

    factor_infos = []
    parents = {sub.id: factor.id for factor in q.walk_factors() for sub in factor.factors}
    driver_set = set(drivers)
    for factor in q.walk_factors():
        factor_infos.append(FactorInfo(factor.id, q.text(factor.label, language), factor.kind, parents.get(factor.id),
                                       [i.id for i in factor.all_items()], factor.id in driver_set))
    factor_of = {item.id: factor.id for factor in q.walk_factors() for item in factor.items}
    item_infos = []
    for item in q.all_items():
        scale = q.scale_of(item)
        item_infos.append(ItemInfo(item.id, q.text(item.text, language), factor_of.get(item.id), item.question_type,
                                   [scale.min, scale.max] if scale else None, item.expectation))
    method = q.index.method
    index_info = {
        "method": method,
        "item_method": q.index.item_method or method,
        "weights": {d: clean(w) for d, w in zip(drivers, total_weights)},
        "equal_weights": {d: clean(w) for d, w in zip(drivers, equal)},
        "r2": clean(total_index.r2[0]) if total_index is not None else None,
        "csi_weights": q.index.csi_weights,
        "drivers": drivers,
        "outcome": q.outcome_id(),
        "model_min_base": q.index.model_min_base,
        "bootstrap": q.index.bootstrap,
        "seed": q.index.seed,
        "min_base": min_base,
        "privacy_min": privacy_min,
        "note": "equal weights: every driver counts the same (the simple average)" if method == "equal" else "",
    }
    results = Results(
        study={"id": q.id, "title": study.title, "version": q.version, "language": language,
               "languages": list(q.languages)},
        account=account,
        respondents=int(account.get("rows_used", total.base)),
        index=index_info,
        factors=factor_infos,
        items=item_infos,
        total=total,
        waves=waves,
        segments=segments,
        warnings=[w.as_dict() for w in study.warnings],
        exclusions=exclusions or [],
        model=model_section,
        measurement=measurement_of(total_view, q, model_section),
        generated=build_date(),
    )
    if study.config.banners:
        from .banners import tabulate

        results.banners = tabulate(study, stats, labels, results, drivers, np.asarray(total_weights))
    wanted = study.config.diagnostics.cfa if cfa is None else cfa
    results.diagnostics = diagnose(views, q, results, with_cfa=None if wanted else False,
                                   segment_groups={s.id: s.units for s in results.segments})
    return results


def _code(text: str, labels: dict[Any, Any]) -> Any:
    """A unit's code as the questionnaire's ``labels`` spell it (YAML may have read it as a number)."""
    if text in labels:
        return text
    try:
        number = int(text)
    except ValueError:
        return text
    return number if number in labels else text
