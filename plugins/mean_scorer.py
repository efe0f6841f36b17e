"""Mean, its 95% confidence interval, and the 0-100 rescaled score of every rating item."""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl


class MeanScorer:
    id = "mean"
    description = "Mean with 95% confidence interval (effective base) and the 0-100 rescaled score."

    def score(self, stats, study):
        q = study.questionnaire
        mean = stats.mean()[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = stats.sumsq[0] / stats.wsum[0] - mean**2
            variance = np.maximum(variance, 0.0) * stats.count[0] / np.maximum(stats.count[0] - 1, 1)
            half_width = 1.96 * np.sqrt(variance / stats.effective_base()[0])
        out = {}
        for index, item_id in enumerate(stats.items):
            item = q.item(item_id)
            if item.question_type != "rating":
                continue
            scale = q.scales[item.scale]
            value = float(mean[index])
            out[item_id] = {
                "mean": value,
                "ci_low": value - float(half_width[index]),
                "ci_high": value + float(half_width[index]),
                "score": scale.rescale(value),
            }
        return out


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(MeanScorer)
