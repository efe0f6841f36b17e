"""Cronbach's alpha of each factor's items, from the pairwise item covariances of the item block."""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.results import Metric
from surveyengine.stats import pairwise

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
            columns = [position[k] for k in factor.items if k in position]
            if len(columns) < 2:
                continue
            values = np.full(cross.units, np.nan)
            bases = np.zeros(cross.units)
            for g in range(cross.units):
                block = np.ix_(columns, columns)
                estimate = pairwise(cross.xx[g][block], cross.xm[g][block], cross.x2m[g][block], cross.mm[g][block])
                cov = estimate["cov"]
                k = len(columns)
                total, parts = cov.sum(), np.trace(cov)
                # undefined when the sum does not vary; rounding leaves such a variance near zero, not at it
                with np.errstate(invalid="ignore", divide="ignore"):
                    values[g] = k / (k - 1) * (1 - parts / total) if total > ALMOST_ZERO * parts else np.nan
                bases[g] = estimate["n"].min() if unweighted else cells.count[g, list(factor.items)].min()
            metrics.append(Metric("factor", factor.id, "alpha", values, bases))
        return metrics


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(AlphaScorer)
