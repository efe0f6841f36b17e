"""The JSON Schema of questionnaires, with the installed weighting methods listed."""

from __future__ import annotations

from typing import Any

from .model import Questionnaire


def questionnaire_schema(pm: Any | None = None) -> dict[str, Any]:
    schema = Questionnaire.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    schema["title"] = "surveyengine questionnaire"
    if pm is not None:
        methods = sorted(pm.registry("weighters"))
        index = schema["$defs"]["Index"]["properties"]
        for key in ("method", "item_method"):
            prop = index[key]
            target = prop
            if "anyOf" in prop:
                target = next(p for p in prop["anyOf"] if p.get("type") == "string")
            target["enum"] = methods
            target.pop("pattern", None)
    return schema
