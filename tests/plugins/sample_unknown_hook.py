"""Sample plugin implementing a hook that does not exist (a misspelt name)."""

from __future__ import annotations

from surveyengine import hookimpl


@hookimpl
def surveyengine_register_scorer(registry):  # the real hook is surveyengine_register_scorers
    pass
