"""Sample plugin registering a scorer with the id ``mean``, which the built-in mean_scorer owns."""

from __future__ import annotations

from surveyengine import hookimpl


class OtherMeanScorer:
    id = "mean"
    description = "A second scorer claiming the id 'mean' (a sample plugin for the tests)."

    def score(self, stats, study):
        return {}


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(OtherMeanScorer)
