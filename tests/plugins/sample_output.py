"""Sample output: writes the whole Results tree to ``sample-results.json``."""

from __future__ import annotations

import json

from surveyengine import hookimpl

FILE_NAME = "sample-results.json"


class SampleJsonOutput:
    id = "sample-dump"
    description = "The results as one JSON file (a sample plugin for the tests)."

    def write(self, results, study, out_dir):
        path = out_dir / FILE_NAME
        path.write_text(json.dumps(results.as_dict(), indent=1, default=str), encoding="utf-8")
        return [path.relative_to(out_dir)]  # paths relative to out_dir, as the html output returns


@hookimpl
def surveyengine_register_outputs(registry):
    registry.add(SampleJsonOutput)
