"""Ridge regression importance for collinear drivers: ``b = (R + αI)⁻¹ r``.

When drivers are nearly collinear, OLS betas swing from sample to sample; the
ridge penalty ``alpha`` (on the correlation scale: 0.1 shrinks each
eigen-direction by λ/(λ+0.1)) trades a little bias for much less variance.
This is scikit-learn's ``Ridge`` on standardized drivers, written from the
correlation matrix because the weighting stage has sums, not rows: with n
rows, ``Ridge(alpha=n·α)`` on z-scores gives the same coefficients (the tests
check it against scikit-learn itself). Negative coefficients get no weight.
"""

from __future__ import annotations

import numpy as np

from surveyengine import hookimpl
from surveyengine.regression import blocks


class RidgeWeighter:
    id = "ridge"
    description = "Ridge-regression betas (alpha on the correlation scale, default 0.1), for collinear drivers."
    stacks = True  # fit takes (..., k, k) stacks of matrices

    def __init__(self, alpha: float = 0.1):
        if not alpha >= 0:
            raise TypeError(f"alpha must be zero or more, not {alpha!r}")
        self.alpha = float(alpha)

    def fit(self, corr, target, drivers):
        rxx, rxy = blocks(corr, target, drivers)
        penalised = rxx + self.alpha * np.eye(rxx.shape[-1])
        self.coef_ = np.linalg.solve(penalised, rxy[..., None])[..., 0]
        # the share of the outcome's variance the penalised fit explains: 2b'r − b'Rb
        explained = np.einsum("...i,...ij,...j->...", self.coef_, rxx, self.coef_)
        self.r2_ = 2 * np.einsum("...i,...i->...", self.coef_, rxy) - explained
        self.importance_ = self.coef_
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(RidgeWeighter)
