"""Sample structural-model estimator: PLS with the centroid scheme whatever the questionnaire says."""

from __future__ import annotations

from surveyengine import hookimpl
from surveyengine.pls import fit_pls


class CentroidModel:
    id = "sample-centroid"
    description = "PLS path modelling, always with the centroid scheme (a sample plugin for the tests)."

    def __init__(self, scheme="path", tolerance=1e-7, max_iterations=300):
        self.tolerance = tolerance
        self.max_iterations = max_iterations

    def fit(self, corr, blocks, paths):
        return fit_pls(corr, blocks, paths, "centroid", self.tolerance, self.max_iterations)


@hookimpl
def surveyengine_register_models(registry):
    registry.add(CentroidModel)
