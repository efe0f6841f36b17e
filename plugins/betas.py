"""Standardized OLS betas and Pratt's measure, with variance inflation factors.

Betas ``b = R⁻¹ r`` answer "what changes in the outcome when this driver moves
and the others stay put"; with correlated drivers they swing and can turn
negative (suppression), which is why they are not the default. Each fit reports
every driver's VIF and warns when one exceeds ``vif_warning`` (default 5).

Pratt's measure ``d_j = b_j · r_j`` (Pratt 1987; Thomas, Hughes & Zumbo 1998)
splits R² additively (the d sum to R²) but can be negative too.
"""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.regression import betas, blocks, variance_inflation


class _Regression:
    def __init__(self, vif_warning: float = 5.0):
        self.vif_warning = float(vif_warning)

    def _fit(self, corr, target, drivers):
        rxx, rxy = blocks(corr, target, drivers)
        self.coef_, self.r2_ = betas(rxx, rxy)
        self.vif_ = variance_inflation(rxx)
        self.diagnostics_ = {"vif": self.vif_}
        worst = np.nanmax(self.vif_, axis=-1) if self.vif_.shape[-1] else np.zeros(self.vif_.shape[:-1])
        collinear = worst > self.vif_warning
        self.warnings_ = [f"collinear drivers: a variance inflation factor of {float(np.max(worst)):.1f} "
                          f"exceeds {self.vif_warning:g}; betas are unstable, prefer relative-weights or shapley"
                          ] if np.any(collinear) else []
        return rxy


class BetasWeighter(_Regression):
    id = "betas"
    description = "Standardized OLS betas with VIF and a collinearity warning; negative betas get no weight."
    stacks = True  # fit takes (..., k, k) stacks of matrices

    def fit(self, corr, target, drivers):
        self._fit(corr, target, drivers)
        self.importance_ = self.coef_
        return self


class PrattWeighter(_Regression):
    id = "pratt"
    description = "Pratt's measure: beta times correlation, an additive split of R² (may be negative)."
    stacks = True  # fit takes (..., k, k) stacks of matrices

    def fit(self, corr, target, drivers):
        rxy = self._fit(corr, target, drivers)
        self.importance_ = self.coef_ * rxy
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(BetasWeighter)
    registry.add(PrattWeighter)
