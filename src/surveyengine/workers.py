"""How many workers (threads of the statistics pass, processes rendering the site) a build uses."""

from __future__ import annotations

import os

from .errors import SurveyEngineError


def worker_count() -> int:
    """``SURVEYENGINE_JOBS`` when set (``1``: the build works alone), else one per core this process may use."""
    setting = os.environ.get("SURVEYENGINE_JOBS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise SurveyEngineError(f"SURVEYENGINE_JOBS must be a whole number of processes, not {setting!r}")
        return int(setting)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
