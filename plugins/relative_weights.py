"""Johnson's relative weights (Johnson 2000, Multivariate Behavioral Research 35:1, 1-19).

From the correlation matrix R of the drivers and r of drivers with the outcome:
``R = V diag(λ) V'``, ``Λ = V diag(√λ) V'``, ``β = Λ⁻¹ r``, ``ε_j = Σ_k Λ_jk² β_k²``.
The ε sum to the model R² and, unlike betas, stay positive and stable when
drivers are correlated, which satisfaction drivers always are. That is why it is
the default method: as good an approximation of Shapley / LMG as published
comparisons find (Johnson 2000; LeBreton et al. 2004), at the cost of one
eigen-decomposition instead of 2^p regressions.
"""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.regression import blocks, root_and_solve


class RelativeWeightsWeighter:
    id = "relative-weights"
    description = "Johnson's relative weights: each driver's share of R², robust to correlated drivers (default)."
    stacks = True  # fit takes (..., k, k) stacks of matrices

    def fit(self, corr, target, drivers):
        rxx, rxy = blocks(corr, target, drivers)
        lam, beta = root_and_solve(rxx, rxy)  # Λ = R^½, β = Λ⁻¹ r (on the span of the drivers if collinear)
        self.importance_ = np.einsum("...jk,...k->...j", lam**2, beta**2)
        self.r2_ = self.importance_.sum(axis=-1)
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(RelativeWeightsWeighter)
