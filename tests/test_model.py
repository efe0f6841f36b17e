"""The questionnaire models: helpers, defaults and the rules a schema can state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from surveyengine.model import (
    Block,
    ChoiceList,
    Factor,
    Index,
    Item,
    Library,
    Questionnaire,
    Scale,
    Segment,
    StudyConfig,
    Weighting,
    text_in,
)


def make(**changes: object) -> Questionnaire:
    data: dict[str, object] = {
        "id": "dealer",
        "title": {"en": "Dealer survey", "zh": "经销商调查"},
        "languages": ["en", "zh"],
        "scales": {"sat5": {"min": 1, "max": 5}},
        "factors": [
            {"id": "product", "kind": "product", "label": "Product",
             "factors": [{"id": "hardware", "kind": "product", "label": "Hardware",
                          "items": [{"id": "p_build", "text": "Build", "scale": "sat5"}]}]},
            {"id": "service", "kind": "service", "label": "Service",
             "items": [{"id": "s_wait", "text": "Waiting", "scale": "sat5"}]},
        ],
        "questions": [
            {"id": "overall", "text": "Overall", "scale": "sat5"},
            {"id": "value", "text": "Value", "scale": "sat5"},
            {"id": "comment", "text": "Comment", "type": "text"},
        ],
        "outcomes": {"overall": ["overall", "value"]},
    }
    data.update(changes)
    return Questionnaire.model_validate(data)


# --------------------------------------------------------------------------- Scale

@pytest.mark.parametrize(("lo", "hi", "points", "top"), [
    (1, 2, 2, 2), (1, 5, 5, 2), (1, 7, 7, 2), (0, 7, 8, 3), (1, 10, 10, 3), (0, 10, 11, 3),
])
def test_scale_default_top_box(lo: int, hi: int, points: int, top: int) -> None:
    scale = Scale(min=lo, max=hi)
    assert scale.points == points
    assert scale.top_box_size == top
    assert scale.bottom_box_size == top  # defaults to the top box


def test_scale_explicit_boxes() -> None:
    scale = Scale(min=1, max=7, top_box=3, bottom_box=1)
    assert (scale.top_box_size, scale.bottom_box_size) == (3, 1)
    assert Scale(min=1, max=5, top_box=1).bottom_box_size == 1


@pytest.mark.parametrize(("lo", "hi", "value", "expected"), [
    (1, 5, 1, 0.0), (1, 5, 5, 100.0), (1, 5, 3, 50.0), (1, 5, 2, 25.0), (1, 5, 4.5, 87.5),
    (0, 10, 7, 70.0), (0, 10, 0, 0.0), (1, 10, 10, 100.0), (1, 10, 4, 100 / 3),
])
def test_scale_rescale(lo: int, hi: int, value: float, expected: float) -> None:
    assert Scale(min=lo, max=hi).rescale(value) == pytest.approx(expected)


@given(lo=st.integers(-5, 5), span=st.integers(1, 20), t=st.floats(0, 1))
def test_rescale_is_linear_from_0_to_100(lo: int, span: int, t: float) -> None:
    scale = Scale(min=lo, max=lo + span)
    assert scale.rescale(lo) == 0.0
    assert scale.rescale(lo + span) == 100.0
    assert scale.rescale(lo + t * span) == pytest.approx(100 * t)


def test_scale_box_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        Scale(min=1, max=5, top_box=0)


def test_scale_labels_keys_are_codes() -> None:
    scale = Scale.model_validate({"min": 1, "max": 5, "labels": {"1": "Bad", 5: "Good"}, "missing": {9: "DK"}})
    assert scale.labels == {1: "Bad", 5: "Good"}
    assert scale.missing == {9: "DK"}


# --------------------------------------------------------------------------- text_in

@pytest.mark.parametrize(("text", "language", "fallback", "expected"), [
    (None, "en", None, ""),
    ("Price", "zh", "en", "Price"),
    ({"en": "Price", "zh": "价格"}, "zh", "en", "价格"),
    ({"en": "Price", "zh": "价格"}, "fr", "en", "Price"),  # the fallback language
    ({"en": "Price", "zh": "价格"}, "fr", "zh", "价格"),
    ({"zh": "价格", "de": "Preis"}, "fr", "en", "价格"),  # neither: the first given
    ({"zh": "价格"}, "fr", None, "价格"),
    ({}, "en", "en", ""),
])
def test_text_in(text: object, language: str, fallback: str | None, expected: str) -> None:
    assert text_in(text, language, fallback) == expected  # type: ignore[arg-type]


def test_questionnaire_text_falls_back_to_first_language() -> None:
    q = make()
    assert q.language == "en"
    assert q.text(q.title) == "Dealer survey"
    assert q.text(q.title, "zh") == "经销商调查"
    assert q.text({"zh": "只有中文"}, "en") == "只有中文"
    assert q.text(None) == ""


# --------------------------------------------------------------------------- Questionnaire

def test_driver_ids_default_to_top_level_factors() -> None:
    assert make().driver_ids() == ("product", "service")  # not the sub-factor 'hardware'


def test_driver_ids_from_index() -> None:
    assert make(index={"drivers": ["service"]}).driver_ids() == ("service",)


def test_outcome_id_defaults_to_first_overall_item() -> None:
    assert make().outcome_id() == "overall"
    assert make(index={"outcome": "value"}).outcome_id() == "value"


def test_items_factors_and_scales() -> None:
    q = make()
    assert [i.id for i in q.all_items()] == ["p_build", "s_wait", "overall", "value", "comment"]
    assert [f.id for f in q.walk_factors()] == ["product", "hardware", "service"]
    assert [i.id for i in q.factor("product").all_items()] == ["p_build"]
    assert q.item("s_wait").scale == "sat5"
    assert q.scale_of(q.item("s_wait")) == Scale(min=1, max=5)
    assert q.scale_of(q.item("comment")) is None
    with pytest.raises(KeyError):
        q.item("nope")
    with pytest.raises(KeyError):
        q.factor("nope")


def test_questionnaire_defaults() -> None:
    q = make()
    assert q.surveyengine == 1
    assert q.version == "1"
    assert q.respondent_id == "respondent_id"
    assert q.index == Index()
    assert (q.index.method, q.index.item_method, q.index.min_base, q.index.privacy_min) == \
        ("relative-weights", None, 30, 5)
    assert q.wave is None and q.weights is None and q.segments == ()


def test_models_are_frozen_and_strict_about_keys() -> None:
    q = make()
    with pytest.raises(ValidationError):
        q.id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError) as info:
        make(colour="blue")
    assert info.value.errors()[0]["type"] == "extra_forbidden"


@pytest.mark.parametrize("changes", [
    {"factors": []},
    {"languages": []},
    {"outcomes": {"overall": []}},
    {"id": "Dealer"},
    {"surveyengine": 2},
    {"languages": ["EN"]},
])
def test_questionnaire_rejects(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make(**changes)


# --------------------------------------------------------------------------- Item, Factor, Segment

@pytest.mark.parametrize(("fields", "kind"), [
    ({"scale": "sat5"}, "rating"),
    ({"choices": "yesno"}, "single"),
    ({}, "text"),
    ({"type": "number"}, "number"),
    ({"type": "multiple", "choices": "brands"}, "multiple"),
    ({"type": "rating", "choices": "yesno"}, "rating"),
])
def test_item_question_type(fields: dict[str, str], kind: str) -> None:
    assert Item(id="q1", text="Q", **fields).question_type == kind


def test_item_data_column() -> None:
    assert Item(id="q1", text="Q").data_column == "q1"
    assert Item(id="q1", text="Q", column="Q1_a").data_column == "Q1_a"
    assert Segment(id="region", label="Region").data_column == "region"
    assert Segment(id="region", label="Region", column="REG").data_column == "REG"


@pytest.mark.parametrize("bad", ["1st", "a-b", "a b", "", "x" * 65, "é"])
def test_item_id_pattern(bad: str) -> None:
    with pytest.raises(ValidationError):
        Item(id=bad, text="Q")


def test_item_ids_accepted() -> None:
    for good in ("q1", "Q1_a", "x" * 64, "p_quality"):
        assert Item(id=good, text="Q").id == good


def test_factor_walk_and_all_items() -> None:
    factor = Factor.model_validate({
        "id": "product", "kind": "product", "label": "Product",
        "items": [{"id": "a", "text": "A", "scale": "s"}],
        "factors": [{"id": "sub", "kind": "my-kind", "label": "Sub",
                     "items": [{"id": "b", "text": "B", "scale": "s"}],
                     "factors": [{"id": "subsub", "kind": "product", "label": "X",
                                  "items": [{"id": "c", "text": "C", "scale": "s"}]}]}],
    })
    assert [f.id for f in factor.walk()] == ["product", "sub", "subsub"]
    assert [i.id for i in factor.all_items()] == ["a", "b", "c"]


def test_factor_kind_pattern() -> None:
    with pytest.raises(ValidationError):
        Factor(id="f", kind="Product", label="F")


# --------------------------------------------------------------------------- Weighting, Index, others

def test_weighting_needs_exactly_one_source() -> None:
    assert Weighting(column="w").column == "w"
    assert Weighting.model_validate({"rake": [{"variable": "region", "shares": {1: 0.5, 2: 0.5}}]}).rake
    with pytest.raises(ValidationError, match="give exactly one of 'column' or 'rake'"):
        Weighting()
    with pytest.raises(ValidationError, match="give exactly one of 'column' or 'rake'"):
        Weighting.model_validate({"column": "w", "rake": [{"variable": "region", "shares": {1: 1.0}}]})


def test_weighting_bounds() -> None:
    with pytest.raises(ValidationError):
        Weighting(column="w", cap=1)
    with pytest.raises(ValidationError):
        Weighting(column="w", tolerance=0)
    with pytest.raises(ValidationError):
        Weighting(column="w", max_iterations=0)


def test_index_privacy_min_not_above_min_base() -> None:
    assert Index(min_base=10, privacy_min=10).privacy_min == 10
    with pytest.raises(ValidationError, match=r"privacy_min \(11\) is larger than min_base \(10\)"):
        Index(min_base=10, privacy_min=11)


def test_index_method_pattern() -> None:
    assert Index(method="shapley", item_method="beta").item_method == "beta"
    with pytest.raises(ValidationError):
        Index(method="Shapley")


def test_choice_list_codes() -> None:
    choices = ChoiceList.model_validate({"options": {1: "Yes", "other": "Other"}, "missing": {99: "Refused"}})
    assert choices.options == {1: "Yes", "other": "Other"}
    assert choices.missing == {99: "Refused"}


def test_block_and_library() -> None:
    block = Block.model_validate({"items": [{"id": "a", "text": "A", "scale": "sat5"}]})
    assert block.label is None and block.items[0].id == "a"
    library = Library.model_validate({"scales": {"sat5": {"min": 1, "max": 5}}, "blocks": {"staff": block}})
    assert library.include == () and set(library.blocks) == {"staff"}
    with pytest.raises(ValidationError):
        Library.model_validate({"factors": []})  # a library holds no factors


def test_study_config_data_files() -> None:
    config = StudyConfig.model_validate({"data": ["data/*.csv", {"path": "extra.xlsx", "sheet": "Wave 2"}]})
    files = config.data_files()
    assert [(f.path, f.sheet) for f in files] == [("data/*.csv", None), ("extra.xlsx", "Wave 2")]
    assert config.questionnaire == "questionnaire.yaml"
    assert config.output.dir == "site"


def test_json_schema_has_descriptions() -> None:
    schema = Questionnaire.model_json_schema()
    assert schema["additionalProperties"] is False
    assert "factors" in schema["required"]
    assert "Scale" in schema["$defs"] and "description" in schema["$defs"]["Scale"]["properties"]["max"]
