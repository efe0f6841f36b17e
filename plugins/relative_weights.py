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
from surveyengine.regression import EIGEN_FLOOR, blocks


class RelativeWeightsWeighter:
    id = "relative-weights"
    description = "Johnson's relative weights: each driver's share of R², robust to correlated drivers (default)."
    stacks = True  # fit takes (..., k, k) stacks of matrices

    def fit(self, corr, target, drivers):
        rxx, rxy = blocks(corr, target, drivers)
        eigenvalues, vectors = np.linalg.eigh(rxx)
        floor = EIGEN_FLOOR * eigenvalues[..., -1:]
        root = np.sqrt(np.where(eigenvalues > floor, eigenvalues, 0.0))
        inverse_root = np.where(eigenvalues > floor, 1.0 / np.where(root > 0, root, 1.0), 0.0)
        transposed = np.swapaxes(vectors, -1, -2)
        lam = (vectors * root[..., None, :]) @ transposed  # Λ = R^½
        # β = Λ⁻¹ r (pseudo-inverse on the span of the drivers when they are collinear)
        beta = ((vectors * inverse_root[..., None, :]) @ transposed @ rxy[..., None])[..., 0]
        self.importance_ = np.einsum("...jk,...k->...j", lam**2, beta**2)
        self.r2_ = self.importance_.sum(axis=-1)
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(RelativeWeightsWeighter)
