"""PLS path modelling (Wold; Lohmöller): the estimator of ACSI/ECSI structural models.

Mode A (reflective) outer estimation; the inner weighting scheme, convergence
tolerance and iteration limit come from the questionnaire's ``model`` section.
The algorithm (``surveyengine.pls``) works from correlation matrices, so the
model is estimated from merged statistics, per segment unit, and with
respondent weights (weighted correlations): weighted PLS.
"""

from __future__ import annotations

from surveyengine import hookimpl
from surveyengine.pls import fit_pls


class PLSModel:
    id = "pls"
    description = "PLS path modelling (mode A; path, centroid or factorial scheme), weighted, from correlations."

    def __init__(self, scheme: str = "path", tolerance: float = 1e-7, max_iterations: int = 300):
        self.scheme = scheme
        self.tolerance = float(tolerance)
        self.max_iterations = int(max_iterations)

    def fit(self, corr, blocks, paths):
        return fit_pls(corr, blocks, paths, self.scheme, self.tolerance, self.max_iterations)


@hookimpl
def surveyengine_register_models(registry):
    registry.add(PLSModel)
