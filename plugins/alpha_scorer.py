"""Cronbach's alpha of each factor's items, from the pairwise item covariances of the item block."""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.results import Metric
from surveyengine.stats import pairwise_cov

ALMOST_ZERO = 1e-9  # a variance of the sum below this share of the item variances counts as none


class AlphaScorer:
    id = "alpha"
    description = "Cronbach's alpha per factor: k/(k-1) * (1 - sum of item variances / variance of the sum), " \
                  "from pairwise-complete covariances (per segment unit and in total)."

    def score(self, view, study):
        cross = view.cross
        plan = view.cells.plan
        if cross is None or plan is None:
            return []
        position = {v: j for j, v in enumerate(cross.variables)}
        cells = view.cells  # the same groups as the cross-products
        # unweighted, mm counts the respondents who answered both items of a pair; weighted it sums
        # their weights, so the base is then the fewest respondents who answered one of the items
        unweighted = np.array_equal(cells.wsum, cells.count) and np.array_equal(cells.wsum2, cells.count)
        metrics = []
        for factor in plan.factors:
            columns = np.array([position[k] for k in factor.items if k in position])
            k = columns.size
            if k < 2:
                continue
            xx, xm, x2m, mm = (getattr(cross, name)[:, columns][:, :, columns] for name in ("xx", "xm", "x2m", "mm"))
            with np.errstate(invalid="ignore", divide="ignore"):
                cov = pairwise_cov(xx, xm, x2m, mm)  # every unit at once
                total, parts = cov.sum(axis=(1, 2)), np.trace(cov, axis1=1, axis2=2)
                alpha = k / (k - 1) * (1 - parts / total)
            # undefined when the sum does not vary; rounding leaves such a variance near zero, not at it
            alpha = np.where(total > ALMOST_ZERO * parts, alpha, np.nan)
            bases = mm.min(axis=(1, 2)) if unweighted else cells.count[:, list(factor.items)].min(axis=1)
            metrics.append(Metric("factor", factor.id, "alpha", alpha, bases))
        return metrics


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(AlphaScorer)
