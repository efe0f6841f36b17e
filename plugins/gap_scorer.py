"""Expectation vs perception (SERVQUAL-style gaps): mean of perception - expectation, share meeting it."""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.estimates import mean_ci, proportion_ci
from surveyengine.results import Metric


class GapScorer:
    id = "gap"
    description = "Per expectation pair: mean gap (perception - expectation) with its interval, on respondents " \
                  "who answered both, and the share whose perception met or exceeded their expectation."

    def score(self, view, study):
        cells = view.cells
        plan = cells.plan
        if plan is None or not plan.gaps or not view.item_metrics:
            return []
        estimate = mean_ci(cells.gap_count, cells.gap_wsum, cells.gap_wsum2, cells.gap_sum, cells.gap_sumsq)
        metrics = []
        for g, (p, e) in enumerate(plan.gaps):
            item = plan.items[p]
            base = cells.gap_count[:, g]
            metrics.append(Metric("item", item, "gap", estimate["mean"][:, g], base,
                                  (estimate["ci_low"][:, g], estimate["ci_high"][:, g]),
                                  n_eff=estimate["n_eff"][:, g], variance=estimate["variance"][:, g]))
            with np.errstate(invalid="ignore", divide="ignore"):
                met = cells.gap_met[:, g] / cells.gap_wsum[:, g]
            low, high = proportion_ci(met, estimate["n_eff"][:, g])
            metrics.append(Metric("item", item, "expectation_met", met * 100, base, (low * 100, high * 100)))
            with np.errstate(invalid="ignore", divide="ignore"):
                expectation = cells.sum[:, e] / cells.wsum[:, e]
            metrics.append(Metric("item", item, "expectation_mean", expectation, cells.count[:, e]))
        return metrics


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(GapScorer)
