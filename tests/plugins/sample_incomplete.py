"""Sample plugin registering a scorer that lacks the ``score`` method of the Scorer protocol."""

from __future__ import annotations

from surveyengine import hookimpl


class NoScoreScorer:
    id = "sample-incomplete"
    description = "Has no score() method (a sample plugin for the tests)."


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(NoScoreScorer)
