"""Johnson's relative weights (Johnson 2000, Multivariate Behavioral Research 35:1).

From the correlation matrix R of the drivers and r of drivers with the outcome:
``R = V diag(λ) V'``, ``Λ = V diag(√λ) V'``, ``β = Λ⁻¹ r``, ``ε_j = Σ_k Λ_jk² β_k²``.
The ε sum to the model R² and, unlike betas, stay positive and stable when
drivers are correlated, which satisfaction drivers always are.
"""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl


class RelativeWeightsWeighter:
    id = "relative-weights"
    description = "Johnson's relative weights: each driver's share of R², robust to correlated drivers."

    def fit(self, corr, target, drivers):
        corr = np.asarray(corr, dtype=float)
        drivers = list(drivers)
        rxx = corr[np.ix_(drivers, drivers)]
        rxy = corr[drivers, target]
        eigenvalues, vectors = np.linalg.eigh(rxx)
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        lam = vectors @ np.diag(np.sqrt(eigenvalues)) @ vectors.T
        beta = np.linalg.lstsq(lam, rxy, rcond=None)[0]
        self.raw_weights_ = (lam**2) @ (beta**2)
        self.r2_ = float(self.raw_weights_.sum())
        self.importance_ = self.raw_weights_
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(RelativeWeightsWeighter)
