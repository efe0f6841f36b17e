"""Sample weighter: all importance goes to the first driver."""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl


class FirstDriverWeighter:
    id = "sample-first-driver"
    description = "Gives the first driver all the importance (a sample plugin for the tests)."

    def fit(self, corr, target, drivers):
        drivers = list(drivers)
        corr = np.asarray(corr, dtype=float)
        self.importance_ = np.zeros(len(drivers))
        if drivers:
            self.importance_[0] = 1.0
        self.r2_ = float(corr[drivers[0], target] ** 2) if drivers else 0.0
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(FirstDriverWeighter)
