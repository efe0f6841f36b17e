"""Means with 95% confidence intervals, the 0-100 rescaled score, and factor scores."""

from __future__ import annotations

from surveyengine import hookimpl
from surveyengine.estimates import mean_ci
from surveyengine.results import Metric
from surveyengine.stats import FACTOR_PREFIX


class MeanScorer:
    id = "mean"
    description = "Mean, standard deviation and 95% t interval (effective base); 0-100 score of rating items; " \
                  "factor scores."

    def score(self, view, study):
        q = study.questionnaire
        cells = view.cells
        # where the view shows no item metrics, its factor scores alone
        scored = [v for v, name in enumerate(cells.variables) if view.item_metrics or name.startswith(FACTOR_PREFIX)]
        estimate = mean_ci(*(getattr(cells, name)[:, scored] for name in ("count", "wsum", "wsum2", "sum", "sumsq")))
        metrics = []
        for v, name in enumerate(cells.variables[k] for k in scored):
            base = estimate["n"][:, v]
            if name.startswith(FACTOR_PREFIX):
                factor = name[len(FACTOR_PREFIX):]
                metrics.append(Metric("factor", factor, "score", estimate["mean"][:, v], base,
                                      (estimate["ci_low"][:, v], estimate["ci_high"][:, v]),
                                      n_eff=estimate["n_eff"][:, v], variance=estimate["variance"][:, v]))
                continue
            item = q.item(name)
            if item.question_type not in ("rating", "number"):
                continue
            ci = (estimate["ci_low"][:, v], estimate["ci_high"][:, v])
            metrics.append(Metric("item", name, "mean", estimate["mean"][:, v], base, ci,
                                  n_eff=estimate["n_eff"][:, v], variance=estimate["variance"][:, v]))
            metrics.append(Metric("item", name, "sd", estimate["sd"][:, v], base))
            if item.question_type == "rating":
                scale = q.scales[item.scale]
                factor = 100.0 / (scale.max - scale.min)
                metrics.append(Metric("item", name, "score", (estimate["mean"][:, v] - scale.min) * factor, base,
                                      ((ci[0] - scale.min) * factor, (ci[1] - scale.min) * factor)))
        return metrics


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(MeanScorer)
