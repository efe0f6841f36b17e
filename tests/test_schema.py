"""The committed JSON Schema is the generated one, and it accepts every example questionnaire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from surveyengine.cli import cli
from surveyengine.plugins import get_plugin_manager
from surveyengine.schema import questionnaire_schema
from surveyengine.yamlio import load_file

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "schema" / "questionnaire.schema.json"
EXAMPLES = sorted((REPO / "questionnaires").glob("*/questionnaire.yaml"))


def _plain(value: Any) -> Any:
    """YAML data as JSON sees it: mapping keys are strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_committed_schema_is_up_to_date() -> None:
    generated = questionnaire_schema(get_plugin_manager(entry_points=False))
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == generated, \
        "run: surveyengine schema --out schema/questionnaire.schema.json"


def test_schema_command_prints_it() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$defs"]["Index"]["properties"]["method"]["enum"] == ["betas", "equal", "pratt", "relative-weights",
                                                                         "ridge", "shapley"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_validate_against_the_schema(path: Path) -> None:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(_plain(load_file(path)))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_point_editors_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("=", 1)[1]).resolve()
    assert target == COMMITTED.resolve()


def test_schema_rejects_an_unknown_key() -> None:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    data = _plain(load_file(EXAMPLES[0]))
    data["factors"][0]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(data)
