"""Sample exporter: the questionnaire's item ids, one per line (a third-party export format)."""

from __future__ import annotations

from surveyengine import hookimpl


class ItemListExporter:
    id = "sample-items"
    description = "Item ids and question texts, tab-separated (a sample plugin for the tests)."
    extension = ".items.txt"

    def export(self, questionnaire, language):
        lines = [f"{item.id}\t{questionnaire.text(item.text, language)}" for item in questionnaire.all_items()]
        return ("\n".join(lines) + "\n").encode("utf-8")


@hookimpl
def surveyengine_register_exporters(registry):
    registry.add(ItemListExporter)
