"""The simple average as an explicit weighting method: every driver counts the same.

Kept so that a report can show what the naive average would have said next to
regression-derived importance (the fallacy of the simple average). Its ``r2_``
is the R² of the outcome on the plain sum of the drivers.
"""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.regression import blocks


class EqualWeighter:
    id = "equal"
    description = "Every driver weighs the same: the naive baseline, what the simple average says."
    stacks = True  # fit takes (..., k, k) stacks of matrices

    def fit(self, corr, target, drivers):
        rxx, rxy = blocks(corr, target, drivers)
        count = rxy.shape[-1]
        self.importance_ = np.full(rxy.shape, 1.0 / count) if count else np.zeros(rxy.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            sum_variance = rxx.sum(axis=(-1, -2))
            self.r2_ = np.where(sum_variance > 0, rxy.sum(axis=-1) ** 2 / np.where(sum_variance > 0, sum_variance, 1),
                                0.0)
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(EqualWeighter)
