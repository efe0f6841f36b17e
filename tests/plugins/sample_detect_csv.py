"""Sample plugin that claims ``*.csv`` files for another reader, overriding the built-in detector.

A plugins-folder plugin is registered after the built-ins, so it is asked first.
"""

from __future__ import annotations

from surveyengine import hookimpl


@hookimpl
def surveyengine_detect_reader(path):
    if path.suffix.lower() == ".csv":
        return "sample-csv-claimed"
    return None
