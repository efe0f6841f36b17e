"""Top-box and bottom-box shares and the full distribution of every rating item."""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.estimates import proportion_ci
from surveyengine.results import Metric


class BoxScorer:
    id = "top-box"
    description = "Top-box and bottom-box % (top 2 of up to 7 points, top 3 above, or the scale's own), " \
                  "with Wilson intervals, and each item's distribution."

    def score(self, view, study):
        q = study.questionnaire
        cells = view.cells
        plan = cells.plan
        if plan is None or not plan.discrete or not view.item_metrics:
            return []
        metrics = []
        effective_all = cells.effective_base()
        for d, (k, low) in enumerate(zip(plan.discrete, plan.discrete_low)):
            item = q.item(plan.items[k])
            if item.question_type != "rating":
                continue
            scale = q.scales[item.scale]
            freq = cells.freq[:, d, : scale.points]
            answered = freq.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                top = freq[:, scale.points - scale.top_box_size:].sum(axis=1) / answered
                bottom = freq[:, : scale.bottom_box_size].sum(axis=1) / answered
                distribution = freq / answered[:, None]
            base = cells.count[:, k]
            effective = effective_all[:, k]
            metrics.append(Metric("item", item.id, "top_box", top * 100, base,
                                  tuple(x * 100 for x in proportion_ci(top, effective))))
            metrics.append(Metric("item", item.id, "bottom_box", bottom * 100, base,
                                  tuple(x * 100 for x in proportion_ci(bottom, effective))))
            metrics.append(Metric("item", item.id, "distribution", distribution * 100, base))
        return metrics


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(BoxScorer)
