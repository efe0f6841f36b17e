"""Net Promoter Score: % promoters (9-10) minus % detractors (0-6) on the 0-10 recommend item."""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.results import Metric


class NpsScorer:
    id = "nps"
    description = "NPS with its 95% interval: the score variable is +100 / 0 / -100 per respondent, so its " \
                  "variance is p + d - (p - d)^2 (times 100^2) on the effective base."

    def score(self, view, study):
        q = study.questionnaire
        cells = view.cells
        plan = cells.plan
        recommend = q.outcomes.recommend
        if plan is None or recommend is None or recommend not in plan.items:
            return []
        k = plan.items.index(recommend)
        if k not in plan.discrete:
            return []
        d = plan.discrete.index(k)
        low = plan.discrete_low[d]
        freq = cells.freq[:, d, : 11]  # values 0..10 (the questionnaire guarantees a 0-10 scale)
        answered = freq.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            promoters = freq[:, 9 - low:].sum(axis=1) / answered
            detractors = freq[:, : 7 - low].sum(axis=1) / answered
            nps = promoters - detractors
            effective = cells.effective_base()[:, k]
            half = 1.959963984540054 * np.sqrt((promoters + detractors - nps**2) / effective)
        base = cells.count[:, k]
        return [
            Metric("headline", "nps", "nps", nps * 100, base, ((nps - half) * 100, (nps + half) * 100),
                   n_eff=effective, variance=(promoters + detractors - nps**2) * 100**2),
            Metric("headline", "nps", "promoters", promoters * 100, base),
            Metric("headline", "nps", "detractors", detractors * 100, base),
            Metric("headline", "nps", "passives", (1 - promoters - detractors) * 100, base),
        ]


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(NpsScorer)
