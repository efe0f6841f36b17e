"""surveyengine: customer-satisfaction questionnaires as YAML, scored and published as static sites."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("surveyengine")
"""Marker for plugin hook implementations: ``@hookimpl def surveyengine_register_scorers(registry): ...``."""

from .errors import DataError, PluginError, QuestionnaireError, SurveyEngineError  # noqa: E402
from .model import Factor, Item, Questionnaire, Scale, Segment, StudyConfig, Wave  # noqa: E402

__all__ = [
    "DataError", "Factor", "Item", "PluginError", "Questionnaire", "QuestionnaireError", "Scale", "Segment",
    "StudyConfig", "SurveyEngineError", "Wave", "__version__", "hookimpl",
]
