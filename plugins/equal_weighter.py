"""The simple average as an explicit weighting method: every driver counts the same.

Kept so that a report can show what the naive average would have said next to
regression-derived importance (the fallacy of the simple average).
"""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl


class EqualWeighter:
    id = "equal"
    description = "Every driver weighs the same (the naive baseline)."

    def fit(self, corr, target, drivers):
        drivers = list(drivers)
        self.importance_ = np.full(len(drivers), 1.0 / len(drivers)) if drivers else np.zeros(0)
        r = np.asarray(corr)[np.ix_(drivers, [target])].ravel()
        self.r2_ = float(np.nan_to_num(np.sum(r) ** 2 / max(np.asarray(corr)[np.ix_(drivers, drivers)].sum(), 1e-12)))
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(EqualWeighter)
