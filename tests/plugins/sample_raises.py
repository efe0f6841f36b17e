"""Sample plugin whose hook raises an unexpected exception."""

from __future__ import annotations

from surveyengine import hookimpl


@hookimpl
def surveyengine_register_scorers(registry):
    raise RuntimeError("sample failure inside the hook")
