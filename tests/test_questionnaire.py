"""The questionnaire loader: every broken fixture is reported with its exact ``file:line:column``."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveyengine import questionnaire as qmod
from surveyengine.errors import ExitCode, Location, Problem, QuestionnaireError
from surveyengine.questionnaire import Loaded, did_you_mean, format_key_path, iter_items, load
from surveyengine.yamlio import YMap, loads

DATA = Path(__file__).parent / "data" / "questionnaires"


@pytest.fixture
def in_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tests/data/questionnaires so that messages name 'broken/x.yaml', as the user typed it."""
    monkeypatch.chdir(DATA)
    return DATA


def problems_of(path: str | Path, **kwargs: object) -> list[Problem]:
    """The errors of a questionnaire that fails, or the warnings of one that loads."""
    try:
        loaded = load(path, **kwargs)  # type: ignore[arg-type]
    except QuestionnaireError as exc:
        return exc.problems
    return loaded.warnings


# --------------------------------------------------------------------------- broken fixtures

# fixture -> every problem reported, in order, exactly as the CLI prints them
BROKEN: dict[str, list[str]] = {
    "yaml_syntax_error.yaml": [
        "broken/yaml_syntax_error.yaml:6:1: YAML syntax error: did not find expected ',' or '}' "
        "(while parsing a flow mapping at line 5)",
    ],
    "unknown_key.yaml": [
        "broken/unknown_key.yaml:15:9: unknown key 'scael' (did you mean 'scale'?) "
        "[factors[service].items[s_wait].scael]",
    ],
    "duplicate_key.yaml": [
        "broken/duplicate_key.yaml:15:9: duplicate key 'scale' (first defined at line 14)",
    ],
    "duplicate_item_id.yaml": [
        "broken/duplicate_item_id.yaml:14:13: duplicate item id 's_wait' "
        "(first defined at broken/duplicate_item_id.yaml:11:13) [factors[service].items[s_wait].id]",
    ],
    "unknown_scale.yaml": [
        "broken/unknown_scale.yaml:13:16: unknown scale 'sat05' (did you mean 'sat5'?) "
        "[factors[service].items[s_wait].scale]",
    ],
    "unknown_choices.yaml": [
        "broken/unknown_choices.yaml:19:14: unknown choice list 'yesno' [questions[complained].choices]",
    ],
    "unknown_expectation.yaml": [
        "broken/unknown_expectation.yaml:14:22: unknown expectation item 'e_wiat' (did you mean 'e_wait'?) "
        "[factors[service].items[s_wait].expectation]",
    ],
    "expectation_scale_range.yaml": [
        "broken/expectation_scale_range.yaml:15:22: expectation item 'e_wait' is on scale 'exp10' (1-10) "
        "but 's_wait' is on scale 'sat5' (1-5); a gap needs the same range "
        "[factors[service].items[s_wait].expectation]",
    ],
    "empty_factor.yaml": [
        "broken/empty_factor.yaml:15:12: factor 'image' has no items [factors[image].items]",
    ],
    "condition_unknown_item.yaml": [
        "broken/condition_unknown_item.yaml:20:11: condition names unknown item 'complaned' "
        "(did you mean 'complained'?) [questions[handling].when]",
    ],
    "condition_syntax_error.yaml": [  # column 22 is the '=' in 'when: complained = 1'
        "broken/condition_syntax_error.yaml:20:22: condition is not valid: compare with '==', not '=' "
        "[questions[handling].when]",
    ],
    "unknown_parent_segment.yaml": [
        "broken/unknown_parent_segment.yaml:18:41: unknown parent segment 'regoin' (did you mean 'region'?) "
        "[segments[dealer].parent]",
    ],
    "segment_cycle.yaml": [
        "broken/segment_cycle.yaml:19:13: segment 'region': parents form a cycle [segments[region].parent]",
        "broken/segment_cycle.yaml:22:13: segment 'dealer': parents form a cycle [segments[dealer].parent]",
    ],
    "unknown_block.yaml": [
        "broken/unknown_block.yaml:18:16: unknown block 'staf' (did you mean 'staff'?) "
        "[factors[service].items[1].block]",
    ],
    "include_missing.yaml": [
        "broken/include_missing.yaml:5:5: included file 'common/scales.yaml' not found",
        # what the missing library would have defined is reported too
        "broken/include_missing.yaml:11:49: unknown scale 'sat5' [factors[service].items[s_wait].scale]",
        "broken/include_missing.yaml:13:54: unknown scale 'sat5' [questions[overall].scale]",
    ],
    "include_library_error.yaml": [  # the location is in the library, not in the questionnaire
        "broken/_lib_unknown_key.yaml:6:5: unknown key 'lables' (did you mean 'labels'?) [scales.sat5.lables]",
    ],
    "include_library_block.yaml": [  # an item of a library block, placed in a factor
        "broken/_lib_block_scale.yaml:9:16: unknown scale 'sat05' (did you mean 'sat5'?) "
        "[factors[service].items[st_friendly].scale]",
    ],
    "include_cycle.yaml": [
        "broken/include_cycle.yaml:4:11: include 'include_cycle.yaml' includes itself (a cycle)",
    ],
    "python_tag.yaml": [
        "broken/python_tag.yaml:3:8: YAML tag '!!python/object/apply:os.system' is not allowed; write a plain value",
    ],
    "merge_key.yaml": [
        "broken/merge_key.yaml:7:5: merge keys ('<<') are not supported; use include or write the keys out",
    ],
    "alias_bomb.yaml": [  # line 9 holds the first alias ('f: &f [*e, ...') that expands too far
        "broken/alias_bomb.yaml:9:4: YAML expands to more than 200000 values; aliases are expanded too many times",
    ],
    "not_utf8.yaml": [  # 经 is 0xbe 0xad in GB18030
        "broken/not_utf8.yaml:3:8: file is not UTF-8 (byte 0xbe); save YAML files as UTF-8",
    ],
    "scale_min_ge_max.yaml": [
        "broken/scale_min_ge_max.yaml:6:5: scale 'sat5': min (5) must be below max (1) [scales.sat5]",
    ],
    "nps_not_0_10.yaml": [
        "broken/nps_not_0_10.yaml:18:14: recommend: NPS needs a 0-10 scale, 'recommend' is on 1-10 "
        "[outcomes.recommend]",
    ],
    "label_missing_language.yaml": [  # a warning: the questionnaire loads
        "broken/label_missing_language.yaml:10:12: warning: no zh text (declared languages: en, zh) "
        "[factors[service].label]",
    ],
    "rake_shares.yaml": [
        "broken/rake_shares.yaml:21:15: shares of 'region' sum to 0.9, not 1 [weights.rake[0].shares]",
    ],
    "privacy_min.yaml": [
        "broken/privacy_min.yaml:18:16: privacy_min (50) is larger than min_base (30) [index.privacy_min]",
    ],
    "several_problems.yaml": [
        "broken/several_problems.yaml:16:16: unknown scale 'sat05' (did you mean 'sat5'?) "
        "[factors[product].items[p_quality].scale]",
        "broken/several_problems.yaml:17:22: unknown expectation item 'e_qualty' (did you mean 'e_quality'?) "
        "[factors[product].items[p_quality].expectation]",
        "broken/several_problems.yaml:21:12: factor 'service' has no items [factors[service].items]",
        "broken/several_problems.yaml:30:11: condition names unknown item 'complaned' (did you mean 'complained'?) "
        "[questions[handling].when]",
        "broken/several_problems.yaml:33:14: recommend: NPS needs a 0-10 scale, 'recommend' is on 1-10 "
        "[outcomes.recommend]",
        "broken/several_problems.yaml:37:41: unknown parent segment 'regoin' (did you mean 'region'?) "
        "[segments[dealer].parent]",
    ],
}
WARNINGS_ONLY = {"label_missing_language.yaml"}

# (fixture, file, line, column, message) of the first problem: the location as numbers, not only as text
FIRST = [
    ("yaml_syntax_error.yaml", "broken/yaml_syntax_error.yaml", 6, 1,
     "YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping at line 5)"),
    ("unknown_key.yaml", "broken/unknown_key.yaml", 15, 9, "unknown key 'scael' (did you mean 'scale'?)"),
    ("duplicate_key.yaml", "broken/duplicate_key.yaml", 15, 9, "duplicate key 'scale' (first defined at line 14)"),
    ("unknown_scale.yaml", "broken/unknown_scale.yaml", 13, 16, "unknown scale 'sat05' (did you mean 'sat5'?)"),
    ("condition_syntax_error.yaml", "broken/condition_syntax_error.yaml", 20, 22,
     "condition is not valid: compare with '==', not '='"),
    ("include_library_error.yaml", "broken/_lib_unknown_key.yaml", 6, 5,
     "unknown key 'lables' (did you mean 'labels'?)"),
    ("include_library_block.yaml", "broken/_lib_block_scale.yaml", 9, 16,
     "unknown scale 'sat05' (did you mean 'sat5'?)"),
    ("not_utf8.yaml", "broken/not_utf8.yaml", 3, 8, "file is not UTF-8 (byte 0xbe); save YAML files as UTF-8"),
    ("alias_bomb.yaml", "broken/alias_bomb.yaml", 9, 4,
     "YAML expands to more than 200000 values; aliases are expanded too many times"),
    ("label_missing_language.yaml", "broken/label_missing_language.yaml", 10, 12,
     "no zh text (declared languages: en, zh)"),
]


@pytest.mark.parametrize("fixture", sorted(BROKEN))
def test_broken_fixture_reports_exact_problems(in_data: Path, fixture: str) -> None:
    problems = problems_of(f"broken/{fixture}")
    assert [str(p) for p in problems] == BROKEN[fixture]


@pytest.mark.parametrize("fixture", sorted(set(BROKEN) - WARNINGS_ONLY))
def test_broken_fixture_raises_questionnaire_error(in_data: Path, fixture: str) -> None:
    with pytest.raises(QuestionnaireError) as info:
        load(f"broken/{fixture}")
    exc = info.value
    assert exc.exit_code == ExitCode.INVALID_INPUT
    assert all(p.severity == "error" for p in exc.problems)
    # the exception itself carries the first problem, for callers that print one line
    assert exc.message == exc.problems[0].message
    assert exc.location == exc.problems[0].location
    assert str(exc) == "\n".join(BROKEN[fixture])


@pytest.mark.parametrize(("fixture", "file", "line", "column", "message"), FIRST, ids=[f[0] for f in FIRST])
def test_broken_fixture_first_problem_location(in_data: Path, fixture: str, file: str, line: int, column: int,
                                               message: str) -> None:
    problem = problems_of(f"broken/{fixture}")[0]
    assert (problem.location.path, problem.location.line, problem.location.column) == (file, line, column)
    assert problem.message == message


def test_every_broken_fixture_has_expectations() -> None:
    on_disk = {p.name for p in (DATA / "broken").glob("*.yaml") if not p.name.startswith("_")}
    assert on_disk == set(BROKEN)
    assert len(on_disk) >= 16


def test_locations_follow_the_path_given(in_data: Path) -> None:
    absolute = DATA / "broken" / "unknown_scale.yaml"
    (problem,) = problems_of(absolute)
    assert problem.location == Location(str(absolute), 13, 16)


def test_label_missing_language_is_a_warning_not_an_error(in_data: Path) -> None:
    loaded = load("broken/label_missing_language.yaml")
    (warning,) = loaded.warnings
    assert warning.severity == "warning"
    assert warning.as_dict() == {
        "severity": "warning", "message": "no zh text (declared languages: en, zh)",
        "file": "broken/label_missing_language.yaml", "line": 10, "column": 12, "row": None,
        "key_path": "factors[service].label",
    }
    assert loaded.questionnaire.factor("service").label == {"en": "Service"}


def test_several_problems_are_reported_at_once(in_data: Path) -> None:
    with pytest.raises(QuestionnaireError) as info:
        load("broken/several_problems.yaml")
    assert len(info.value.problems) == 6
    assert {p.location.line for p in info.value.problems} == {16, 17, 21, 30, 33, 37}


def test_structural_problems_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(VALID_TEXT.replace("scale: sat5\n        expectation", "scael: sat5\n        expectation")
                    .replace("- block: staff", "- block: staf")
                    .replace("kind: service", "kind: Service"), encoding="utf-8")
    shutil.copy(DATA / "valid" / "lib.yaml", tmp_path / "lib.yaml")
    problems = [f"{p.location.line}:{p.location.column}: {p.message}" for p in problems_of(path)]
    assert problems == [
        "18:9: unknown key 'scael' (did you mean 'scale'?)",
        "20:16: unknown block 'staf' (did you mean 'staff'?)",
        "22:11: invalid value 'Service': use lower-case letters, digits, '_' and '-', starting with a letter",
    ]


def test_not_utf8_fixture_is_gb18030(in_data: Path) -> None:
    raw = (DATA / "broken" / "not_utf8.yaml").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "经销商服务调查" in raw.decode("gb18030")


def test_not_utf8_written_by_a_test(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_bytes("id: q\n# 备注\ntitle: 满意度\n".encode("gb18030"))
    (problem,) = problems_of(path)
    assert problem.location == Location(str(path), 2, 3)
    assert problem.message == "file is not UTF-8 (byte 0xb1); save YAML files as UTF-8"


def test_alias_bomb_fails_fast(in_data: Path) -> None:
    started = time.perf_counter()
    with pytest.raises(QuestionnaireError):
        load("broken/alias_bomb.yaml")
    assert time.perf_counter() - started < 5


def test_python_tag_is_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    for tagged in (f'!!python/object/apply:os.system ["touch {marker}"]',
                   f"!!python/object/apply:pathlib.Path.touch [{marker}]",
                   f"!!python/object/new:pathlib.Path [{marker}]"):
        path = tmp_path / "q.yaml"
        path.write_text(f"id: q\ntitle: {tagged}\n", encoding="utf-8")
        (problem,) = problems_of(path)
        assert problem.location.line == 2 and problem.location.column == 8
        assert problem.message.startswith("YAML tag '!!python/object/")
        assert not marker.exists()


# --------------------------------------------------------------------------- the valid questionnaire

VALID_TEXT = (DATA / "valid" / "questionnaire.yaml").read_text(encoding="utf-8")


def test_valid_questionnaire_loads_without_warnings(in_data: Path) -> None:
    loaded = load("valid/questionnaire.yaml")
    assert isinstance(loaded, Loaded)
    assert loaded.warnings == []
    assert loaded.files == [Path("valid/questionnaire.yaml"), Path("valid/lib.yaml")]
    q = loaded.questionnaire
    assert q.id == "mini"
    assert q.languages == ("en", "zh")
    assert q.text(q.title, "zh") == "迷你研究"


def test_include_merges_scales_choices_and_blocks(in_data: Path) -> None:
    loaded = load("valid/questionnaire.yaml")
    q = loaded.questionnaire
    assert set(q.scales) == {"sat5", "nps11"}
    assert (q.scales["nps11"].min, q.scales["nps11"].max) == (0, 10)
    assert q.choices["yesno"].options == {1: {"en": "Yes", "zh": "是"}, 2: {"en": "No", "zh": "否"}}
    # '- block: staff' is replaced by the block's items, in place
    assert [i.id for i in q.factor("product").items] == ["p_quality", "st_friendly"]
    # locations of merged entries point into the library
    assert loaded.locate("scales", "nps11") == Location("valid/lib.yaml", 2, 10)
    assert loaded.locate("factors", 0, "items", 1, "id") == Location("valid/lib.yaml", 9, 13)
    assert loaded.locate("factors", 0, "items", 0, "scale") == Location("valid/questionnaire.yaml", 18, 16)
    assert loaded.locate("segments", 1, "parent", key=True) == Location("valid/questionnaire.yaml", 55, 33)


def test_valid_questionnaire_items(in_data: Path) -> None:
    q = load("valid/questionnaire.yaml").questionnaire
    assert [(item.id, factor.id if factor else None) for item, _, factor in iter_items(q)] == [
        ("p_quality", "product"), ("st_friendly", "product"), ("s_wait", "service"), ("e_quality", None),
        ("overall", None), ("nps", None), ("complained", None), ("handling", None), ("comment", None),
    ]
    assert q.item("handling").when == "complained == 1"
    assert q.item("complained").question_type == "single"
    assert q.item("comment").question_type == "text"
    assert q.item("p_quality").expectation == "e_quality"
    assert q.outcomes.complaint is not None and q.outcomes.complaint.handling == "handling"
    assert [(s.id, s.parent) for s in q.segments] == [("region", None), ("dealer", "region")]
    assert q.wave is not None and q.wave.column == "month"


def test_full_questionnaire_loads(in_data: Path) -> None:
    loaded = load("valid/full.yaml", known_weighters=["relative-weights", "shapley"])
    assert loaded.warnings == []
    q = loaded.questionnaire
    assert q.version == "2026.1"
    assert [f.id for f in q.walk_factors()] == ["product", "hardware", "software", "service", "image"]
    assert [i.id for i in q.factor("service").all_items()] == ["s_wait", "st_friendly", "c_phone", "c_mail"]
    assert q.item("c_mail").data_column == "Q7_mail"
    assert q.choices["yesno"].options == {1: "Yes", 2: "No"}  # YAML 1.2: Yes is text
    assert q.choices["visit"].options["Other"] == "Something else"
    assert q.driver_ids() == ("service", "product")
    assert q.outcome_id() == "overall_value"
    assert q.weights is not None and q.weights.rake[0].shares == {1: 0.4, 2: 0.6}
    assert q.index.min_base == 50 and q.index.privacy_min == 10


def test_unknown_weighting_method_lists_installed(in_data: Path) -> None:
    (problem,) = problems_of("valid/full.yaml", known_weighters=["relative-weights", "shapely"])
    assert str(problem) == ("valid/full.yaml:105:16: unknown weighting method 'shapley' (did you mean 'shapely'?); "
                            "installed: relative-weights, shapely [index.item_method]")


def test_questionnaire_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text("- id: q\n", encoding="utf-8")
    (problem,) = problems_of(path)
    assert str(problem) == f"{path}:1:1: a questionnaire must be a YAML mapping (key: value)"
    path.write_text("", encoding="utf-8")
    assert problems_of(path)[0].message == "a questionnaire must be a YAML mapping (key: value)"


def test_missing_questionnaire_file(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError) as info:
        load(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: file not found"


# --------------------------------------------------------------------------- more checks, on small variations

def _write(tmp_path: Path, text: str, name: str = "q.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    if name == "q.yaml" and not (tmp_path / "lib.yaml").exists():
        shutil.copy(DATA / "valid" / "lib.yaml", tmp_path / "lib.yaml")
    return path


def _short(tmp_path: Path, text: str) -> list[str]:
    """'line:column: message' of every problem."""
    return [f"{p.location.line}:{p.location.column}: {p.message}" for p in problems_of(_write(tmp_path, text))]


# (text in the valid questionnaire, its replacement, every problem as 'line:column: message')
VARIATIONS = [
    ("scale: nps11", "scale: sat5",  # the recommend item on 1-5
     "50:14: recommend: NPS needs a 0-10 scale, 'nps' is on 1-5"),
    ("recommend: nps", "recommend: comment",
     "50:14: recommend: item 'comment' is text, expected rating"),
    ("overall: [overall]", "overall: [overal]",
     "49:13: overall satisfaction: unknown item 'overal' (did you mean 'overall'?)"),
    ("comments: [comment]", "comments: [overall]",
     "52:14: comments: item 'overall' is rating, expected text"),
    ("    min: 1\n    max: 5\n", "    min: 1\n    max: 5\n    top_box: 5\n",
     "9:14: scale 'sat5': top_box 5 covers the whole 5-point scale"),
    ("missing: {9:", "missing: {5:",
     "10:15: scale 'sat5': missing code 5 is a valid answer (1-5)"),
    ("labels: {1:", "labels: {0:",
     "9:14: scale 'sat5': label for 0, outside 1-5"),
    ("    when: complained == 1", "    when: handling == 1",
     "44:11: item 'handling' cannot depend on its own answer"),
    ("    choices: yesno\n  - id: handling", "    choices: yesno\n    type: multiple\n  - id: handling",
     ["45:11: a condition cannot test the multiple choice item 'complained' (its answer is a set of codes); "
      "ask a single choice question to route on",
      "52:21: complaint: item 'complained' is multiple, expected single or rating"]),
    ("    when: complained == 1", "    when: complained == 1 and visits >= 2",
     "44:31: condition names unknown item 'visits'"),
    ("    when: complained == 1", "    when: complained",
     "44:11: 'complained' is not a comparison; write e.g. 'complained == 1'"),
    ("    when: complained == 1", "    when: complained >= 1 and",  # no "use '=='" hint for '>='
     "44:30: condition is not valid: it ends too early"),
    ("    when: complained == 1", "    when: __import__('os')",
     "44:11: '__import__('os')' is not allowed in a condition; use item ids, numbers, comparisons, "
     "'in [..]', and, or, not"),
    ("expectation: e_quality", "expectation: p_quality",
     "19:22: item 'p_quality' names itself as its expectation"),
    ("expectation: e_quality", "expectation: comment",
     "19:22: expectation item 'comment' must be a rating item"),
    ("    type: text", "    type: text\n    scale: sat5",
     "47:11: text item 'comment' takes no scale or choices"),
    ("      - id: s_wait\n", "      - id: s_wait\n        column: overall\n",  # the second reader is flagged
     "33:5: item 'overall' reads column 'overall', which item 'factors[service].items[s_wait]' reads too"),
    ("  - id: service\n", "  - id: product\n", "21:9: duplicate factor id 'product'"),
    ("  - {id: dealer, label: Dealer, parent: region}", "  - {id: region, label: Dealer}",
     "55:10: duplicate segment id 'region'"),
    ("wave: {column: month}", "wave: {column: month, frequency: weekly}",
     "56:34: found 'weekly', expected 'month', 'quarter' or 'year'"),
    ("id: mini", "id: Mini Study", "1:5: invalid value 'Mini Study': use lower-case letters, digits, '_' and '-'"),
    ("  - id: e_quality", "  - id: 2nd_quality",
     "29:9: invalid value '2nd_quality': an id is a letter followed by letters, digits or underscores"),
    ("    kind: service", "    kind: Service",
     "22:11: invalid value 'Service': use lower-case letters, digits, '_' and '-', starting with a letter"),
    ("languages: [en, zh]", "languages: [en, ZH]",
     "3:17: invalid value 'ZH': a language code is lower-case, e.g. en, zh or pt-BR"),
    ("title: {en: Mini study, zh: 迷你研究}", "title: {en: Mini study, ZH: 迷你研究}",  # points at the key
     "2:25: invalid value 'ZH': a language code is lower-case, e.g. en, zh or pt-BR"),
    ("    min: 1\n", "    min: one\n", "7:10: expected a whole number, found 'one'"),
    ("title: {en: Mini study, zh: 迷你研究}", "title: [Mini study]",
     "2:8: expected text or a mapping of language to text, found a list"),
    ("title: {en: Mini study, zh: 迷你研究}", "title: {en: Mini study, zh: [迷你研究]}",
     "2:29: expected text, found a list"),
    ("title: {en: Mini study, zh: 迷你研究}", "title: {en: Mini study, zh: 迷你研究, fr: Mini étude}",
     "2:35: text in 'fr', which is not a declared language (en, zh)"),
    ("outcomes:\n  overall: [overall]\n", "outcomes:\n",  # at the key of the mapping that lacks it
     "48:1: missing required key 'overall'"),
    ("outcomes:\n  overall: [overall]\n", "outcomes:\n  overall: []\n", "49:12: must not be empty"),
    ("  - {id: region, label: Region}", "  - {id: region}", "54:5: missing required key 'label'"),
    ("wave: {column: month}", "wave: {column: month}\nweights: {column: w, rake: [{variable: region, shares: {1: 1}}]}",
     "57:10: give exactly one of 'column' or 'rake'"),
    ("wave: {column: month}",
     "wave: {column: month}\nweights:\n  rake:\n    - {variable: region, shares: {1: 1.5, 2: -0.5}, within: dealr}",
     ["59:34: shares of 'region' must be positive",
      "59:61: unknown segment 'dealr' (did you mean 'dealer'?)"]),
    ("wave: {column: month}", "wave: {column: month}\nindex: {drivers: [servise], outcome: comment}",
     ["57:19: unknown driver factor 'servise' (did you mean 'service'?)",
      "57:38: index outcome: item 'comment' is text, expected rating"]),
    ("wave: {column: month}", "wave: {column: month}\nindex: {outcome: overal}",
     "57:18: index outcome: unknown item 'overal' (did you mean 'overall'?)"),
    ("      - block: staff", "      - {block: staff, scale: sat5}",
     "20:9: a block reference takes only 'block: <id>'"),
    ("include: [lib.yaml]", "include: [lib.yaml, '']", "4:21: included file '': is a directory, expected a YAML file"),
    ("include: [lib.yaml]", "include: lib.yaml",  # not included, so the block is unknown too
     ["4:10: expected a list, found 'lib.yaml'", "20:16: unknown block 'staff'"]),
]


@pytest.mark.parametrize(("old", "new", "expected"), VARIATIONS)
def test_checks_on_variations_of_the_valid_questionnaire(tmp_path: Path, old: str, new: str,
                                                         expected: str | list[str]) -> None:
    assert VALID_TEXT.count(old) == 1, "the test's anchor text must occur once in the valid questionnaire"
    assert _short(tmp_path, VALID_TEXT.replace(old, new)) == ([expected] if isinstance(expected, str) else expected)


def test_unknown_parent_and_rake_within(tmp_path: Path) -> None:
    text = VALID_TEXT.replace(
        "wave: {column: month}",
        "wave: {column: month}\nweights:\n  rake:\n    - {variable: region, shares: {1: 0.5, 2: 0.5}, within: dealr}")
    (problem,) = problems_of(_write(tmp_path, text))
    assert str(problem) == (f"{tmp_path / 'q.yaml'}:59:60: unknown segment 'dealr' (did you mean 'dealer'?) "
                            "[weights.rake[0].within]")


def test_scale_defined_in_library_and_questionnaire(tmp_path: Path) -> None:
    text = VALID_TEXT.replace("scales:\n  sat5:", "scales:\n  nps11: {min: 0, max: 10}\n  sat5:")
    (problem,) = problems_of(_write(tmp_path, text))
    assert str(problem) == (f"{tmp_path / 'lib.yaml'}:2:3: scale 'nps11' is defined twice: "
                            f"here and at {tmp_path / 'q.yaml'}:6:3")


def test_library_syntax_error_points_into_the_library(tmp_path: Path) -> None:
    _write(tmp_path, "scales:\n  nps11: {min: 0, max: 10\n", "lib.yaml")
    problem = problems_of(_write(tmp_path, VALID_TEXT))[0]
    assert problem.location == Location(str(tmp_path / "lib.yaml"), 3, 1)
    assert problem.message.startswith("YAML syntax error: ")


def test_library_must_be_a_mapping(tmp_path: Path) -> None:
    _write(tmp_path, "- nps11\n", "lib.yaml")
    problem = problems_of(_write(tmp_path, VALID_TEXT))[0]
    assert str(problem) == f"{tmp_path / 'lib.yaml'}:1:1: a library must be a YAML mapping"


def test_nested_includes_are_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    _write(tmp_path, "include: [common/scales.yaml]\nchoices:\n  yesno: {options: {1: Yes, 2: No}}\n"
           "blocks:\n  staff: {items: [{id: st_friendly, text: Friendly, scale: sat5}]}\n", "lib.yaml")
    _write(tmp_path, "scales:\n  nps11: {min: 0, max: 10}\n", "common/scales.yaml")
    loaded = load(_write(tmp_path, VALID_TEXT))
    assert loaded.files == [tmp_path / "q.yaml", tmp_path / "lib.yaml", tmp_path / "common" / "scales.yaml"]
    assert loaded.locate("scales", "nps11") == Location(str(tmp_path / "common" / "scales.yaml"), 2, 10)


def test_include_depth_is_bounded(tmp_path: Path) -> None:
    for i in range(qmod.MAX_INCLUDE_DEPTH + 1):
        _write(tmp_path, f"include: [lib{i + 1}.yaml]\n", f"lib{i}.yaml")
    _write(tmp_path, "{}\n", f"lib{qmod.MAX_INCLUDE_DEPTH + 1}.yaml")
    path = _write(tmp_path, VALID_TEXT.replace("include: [lib.yaml]", "include: [lib0.yaml]"))
    messages = [p.message for p in problems_of(path)]
    assert f"includes nested deeper than {qmod.MAX_INCLUDE_DEPTH} files" in messages


def test_block_item_warning_reported_once(tmp_path: Path) -> None:
    """A block placed in a factor is checked as a block and as factor items; its warning appears once."""
    shutil.copy(DATA / "valid" / "lib.yaml", tmp_path / "lib.yaml")
    lib = tmp_path / "lib.yaml"
    lib.write_text(lib.read_text(encoding="utf-8").replace(", zh: 员工友好}", "}"), encoding="utf-8")
    warnings = [str(w) for w in problems_of(_write(tmp_path, VALID_TEXT))]
    assert [w for w in warnings if "no zh text" in w] == [
        f"{lib}:10:15: warning: no zh text (declared languages: en, zh) [blocks.staff.items[st_friendly].text]"]


def test_library_text_in_other_languages_is_not_a_warning(tmp_path: Path) -> None:
    """A bilingual library serves an English-only questionnaire without warnings about its Chinese."""
    text = VALID_TEXT.replace("languages: [en, zh]", "languages: [en]")
    warnings = [str(w) for w in problems_of(_write(tmp_path, text))]
    assert warnings and all(str(tmp_path / "q.yaml") in w for w in warnings)
    assert not any("lib.yaml" in w for w in warnings)


def test_required_keys_missing(tmp_path: Path) -> None:
    problems = problems_of(_write(tmp_path, "id: q\ntitle: Q\n"))
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'q.yaml'}:1:1: missing required key 'factors'",
        f"{tmp_path / 'q.yaml'}:1:1: missing required key 'outcomes'",
    ]


# --------------------------------------------------------------------------- helpers

def test_did_you_mean() -> None:
    assert did_you_mean("scael", ["scale", "choices"]) == " (did you mean 'scale'?)"
    assert did_you_mean("xyz", ["scale", "choices"]) == ""
    assert did_you_mean(10, [1, 10, 100]) == " (did you mean '10'?)"
    assert did_you_mean("a", []) == ""


def test_format_key_path() -> None:
    raw = loads("factors:\n  - id: service\n    items:\n      - {id: s_wait, scale: sat5}\n      - {scale: x}\n")
    assert format_key_path(raw, ["factors", 0, "items", 0, "scale"]) == "factors[service].items[s_wait].scale"
    assert format_key_path(raw, ["factors", 0, "items", 1, "scale"]) == "factors[service].items[1].scale"
    assert format_key_path(raw, ["factors", 0, "label"]) == "factors[service].label"
    assert format_key_path(raw, []) == ""


def test_loaded_locate_without_raw() -> None:
    loaded = Loaded(questionnaire=None, raw=None)  # type: ignore[arg-type]
    assert loaded.locate("factors", 0) == Location()


# --------------------------------------------------------------------------- robustness

_BASE = yaml.load(VALID_TEXT, Loader=yaml.CSafeLoader)


def _paths(node: object, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, path + (index,))
    return out


_PATHS = _paths(_BASE)[1:]
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 12), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "sat5", "nps11", "overall", "complained == 1", "a = 1", "x in y", "staff", "en", "0-10"]),
    st.lists(st.sampled_from(["overall", 1, "lib.yaml"]), max_size=2),
    st.dictionaries(st.sampled_from(["en", "zh", "id", "block", "min", "items", 1]),
                    st.sampled_from(["x", 1, "staff"]), max_size=2),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(_PATHS), value=_VALUES, delete=st.booleans())
def test_any_change_loads_or_raises_a_located_questionnaire_error(target: tuple, value: object, delete: bool) -> None:
    doc = yaml.safe_load(yaml.safe_dump(_BASE))
    parent = doc
    for part in target[:-1]:
        parent = parent[part]
    if delete and isinstance(parent, dict):
        del parent[target[-1]]
    else:
        parent[target[-1]] = value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        shutil.copy(DATA / "valid" / "lib.yaml", Path(tmp) / "lib.yaml")
        try:
            loaded = load(path)
        except QuestionnaireError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.location.path is not None
                assert problem.location.line is not None, str(problem)
                assert problem.message and "Traceback" not in problem.message
        else:
            assert isinstance(loaded.raw, YMap)
