"""From merged cell statistics to :class:`~surveyengine.results.Results`, through the scorer plugins."""

from __future__ import annotations

import datetime as _dt
import math
import os
from typing import TYPE_CHECKING, Any

from .plugins import plugin_errors
from .results import FactorResult, ItemResult, Results

if TYPE_CHECKING:
    from .data import Responses
    from .plugins import PluginManager
    from .stats import CellStats
    from .study import Study


def build_date() -> str:
    """The build date: SOURCE_DATE_EPOCH when set (reproducible builds), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
              else _dt.datetime.now(_dt.timezone.utc))
    return moment.date().isoformat()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def score(study: Study, responses: Responses, stats: CellStats, pm: PluginManager) -> Results:
    q = study.questionnaire
    language = study.language
    total = stats.total()
    privacy_min = q.index.privacy_min
    suppressed = total.n[0] < privacy_min

    metrics: dict[str, dict[str, Any]] = {item_id: {} for item_id in stats.items}
    scorers = pm.registry("scorers")
    for scorer_id, scorer_cls in scorers.items():
        with plugin_errors(f"scorer '{scorer_id}'", scorers.owner(scorer_id)):
            produced = scorer_cls().score(total, study)
        for item_id, values in produced.items():
            metrics.setdefault(item_id, {}).update(values)

    factor_of = {item.id: factor.id for factor in q.walk_factors() for item in factor.items}
    items = []
    for index, item_id in enumerate(stats.items):
        item = q.item(item_id)
        base = float(total.count[0, index])
        flags = []
        values = {k: _clean(v) for k, v in metrics.get(item_id, {}).items()}
        if base < privacy_min:
            values = {k: None for k in values}
            flags.append("suppressed")
        elif base < q.index.min_base:
            flags.append("small-base")
        items.append(ItemResult(item_id, q.text(item.text, language), factor_of.get(item_id), item.question_type,
                                base, values, flags))
    by_id = {r.id: r for r in items}

    factors = []
    parents = {sub.id: factor.id for factor in q.walk_factors() for sub in factor.factors}
    for factor in q.walk_factors():
        member_ids = [i.id for i in factor.all_items()]
        scores = [by_id[i].metrics.get("score") for i in member_ids if i in by_id]
        scores = [s for s in scores if s is not None]
        base = max((by_id[i].base for i in member_ids if i in by_id), default=0.0)
        value = sum(scores) / len(scores) if scores else None
        flags = []
        if base < privacy_min:
            value, flags = None, ["suppressed"]
        elif base < q.index.min_base:
            flags.append("small-base")
        factors.append(FactorResult(factor.id, q.text(factor.label, language), factor.kind, parents.get(factor.id),
                                    member_ids, base, _clean(value), "equal", flags))

    drivers = [f for f in factors if f.id in q.driver_ids()]
    driver_scores = [f.score for f in drivers if f.score is not None]
    csi = sum(driver_scores) / len(driver_scores) if driver_scores and not suppressed else None
    index = {
        "csi": _clean(csi),
        "weighting": "equal",
        "note": "factor and item weights are equal until importance weighting is configured",
        "drivers": [f.id for f in drivers],
        "outcome": q.outcome_id(),
        "min_base": q.index.min_base,
        "privacy_min": q.index.privacy_min,
    }
    return Results(
        study={"id": q.id, "title": study.title, "version": q.version, "language": language,
               "languages": list(q.languages)},
        account=responses.account(),
        respondents=responses.n,
        factors=factors,
        items=items,
        index=index,
        warnings=[w.as_dict() for w in study.warnings],
        exclusions=[e.as_dict() for e in responses.exclusions],
        generated=build_date(),
    )
