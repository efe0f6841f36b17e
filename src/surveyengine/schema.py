"""The JSON Schema of questionnaires, with the installed weighting methods listed."""

from __future__ import annotations

from typing import Any

from .model import Questionnaire


def questionnaire_schema(pm: Any | None = None) -> dict[str, Any]:
    schema = Questionnaire.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    schema["title"] = "surveyengine questionnaire"
    _allow_block_references(schema)
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


def _allow_block_references(schema: dict[str, Any]) -> None:
    """Item lists may hold ``- block: id`` (expanded before validation, so the models do not say so)."""
    schema["$defs"]["BlockRef"] = {
        "type": "object",
        "description": "Place the items of a block from 'blocks' (or an included library) here.",
        "properties": {"block": {"type": "string", "description": "Id of a block."}},
        "required": ["block"],
        "additionalProperties": False,
    }
    either = {"anyOf": [{"$ref": "#/$defs/Item"}, {"$ref": "#/$defs/BlockRef"}]}
    schema["$defs"]["Factor"]["properties"]["items"]["items"] = either
    schema["properties"]["questions"]["items"] = either
