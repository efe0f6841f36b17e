"""Complaints: how many complained, how many were resolved, and what complaining does to satisfaction."""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.estimates import mean_ci, proportion_ci, welch
from surveyengine.results import Metric


class ComplaintScorer:
    id = "complaint"
    description = "Complaint rate and resolution rate (Wilson intervals); mean overall satisfaction of " \
                  "complainers against everyone else, with Welch's t."

    def score(self, view, study):
        q = study.questionnaire
        cells = view.cells
        plan = cells.plan
        complaint = q.outcomes.complaint
        if plan is None or complaint is None or plan.complaint is None:
            return []
        k, yes = plan.complaint
        metrics = []
        rate = self._share(cells, plan, k, yes)
        if rate is not None:
            share, base, effective = rate
            low, high = proportion_ci(share, effective)
            metrics.append(Metric("headline", "complaint", "rate", share * 100, base, (low * 100, high * 100)))
        if complaint.resolved and complaint.resolved in plan.items:
            r = plan.items.index(complaint.resolved)
            codes = self._codes(q, complaint.resolved, complaint.resolved_yes)
            resolved = self._share(cells, plan, r, codes)
            if resolved is not None:
                share, base, effective = resolved
                low, high = proportion_ci(share, effective)
                metrics.append(Metric("headline", "complaint", "resolved", share * 100, base, (low * 100, high * 100)))
        if plan.outcomes:
            o = 0  # the first outcome: overall satisfaction
            groups = [mean_ci(cells.split_count[:, g, o], cells.split_wsum[:, g, o], cells.split_wsum2[:, g, o],
                              cells.split_sum[:, g, o], cells.split_sumsq[:, g, o]) for g in (0, 1)]
            complainers, others = groups
            metrics.append(Metric("headline", "complaint", "complainers_satisfaction", complainers["mean"],
                                  complainers["n"], (complainers["ci_low"], complainers["ci_high"])))
            metrics.append(Metric("headline", "complaint", "others_satisfaction", others["mean"], others["n"],
                                  (others["ci_low"], others["ci_high"])))
            test = welch(complainers["mean"], complainers["variance"], complainers["n_eff"], others["mean"],
                         others["variance"], others["n_eff"])
            metrics.append(Metric("headline", "complaint", "satisfaction_difference", test["difference"],
                                  complainers["n"], p=test["p"]))
        return metrics

    @staticmethod
    def _codes(q, item_id, codes):
        item = q.item(item_id)
        options = list(q.choices[item.choices].options) if item.choices else []
        return tuple(float(c) if isinstance(c, int) else float(options.index(c) + 1) for c in codes)

    @staticmethod
    def _share(cells, plan, k, codes):
        if k not in plan.discrete:
            return None
        d = plan.discrete.index(k)
        low = plan.discrete_low[d]
        freq = cells.freq[:, d]
        answered = freq.sum(axis=1)
        slots = [int(c - low) for c in codes if 0 <= c - low < freq.shape[1]]
        with np.errstate(invalid="ignore", divide="ignore"):
            share = freq[:, slots].sum(axis=1) / answered
        return share, cells.count[:, k], cells.effective_base()[:, k]


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(ComplaintScorer)
