"""Sample scorer: adds the metric ``sample_base`` (answers counted per item) to every item."""

from __future__ import annotations

from surveyengine import hookimpl


class SampleBaseScorer:
    id = "sample-base"
    description = "Number of answers per item (a sample plugin for the tests)."

    def score(self, stats, study):
        return {item_id: {"sample_base": float(stats.count[0, index])} for index, item_id in enumerate(stats.items)}


@hookimpl
def surveyengine_register_scorers(registry):
    registry.add(SampleBaseScorer)
