"""Sample scorer: adds the metric ``sample_base`` (answers counted per item) to every numeric item."""

from __future__ import annotations

from surveyengine import hookimpl
from surveyengine.results import Metric


class SampleBaseScorer:
    id = "sample-base"
    description = "Number of answers per item (a sample plugin for the tests)."

    def score(self, view, study):
        cells = view.cells
        return [Metric("item", item_id, "sample_base", cells.count[:, index], cells.count[:, index])
                for index, item_id in enumerate(cells.items)]


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(SampleBaseScorer)
