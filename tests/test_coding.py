"""Coding comments: the codeframe in the questionnaire, its rules, simulated comments, the classifier."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from surveyengine import coderules
from surveyengine.errors import QuestionnaireError
from surveyengine.questionnaire import load

DATA = Path(__file__).parent / "data" / "questionnaires" / "valid"
REPO = Path(__file__).resolve().parent.parent

CODEFRAME = """
codeframes:
  feedback:
    items: [comment]
    codes:
      - id: wait
        label: {en: Waiting, zh: 等待}
        polarity: complaint
        keywords: {en: [wait, queue], zh: [等了]}
      - id: staff
        label: {en: Staff, zh: 员工}
        patterns: {en: ['\\bstaff\\b']}
        examples: {en: [Nice staff], zh: [员工很好]}
    nets:
      - {id: service, label: {en: Service, zh: 服务}, codes: [wait, staff]}
"""


def write(tmp_path: Path, codeframe: str) -> Path:
    shutil.copy(DATA / "lib.yaml", tmp_path / "lib.yaml")
    path = tmp_path / "q.yaml"
    path.write_text((DATA / "questionnaire.yaml").read_text(encoding="utf-8") + codeframe, encoding="utf-8")
    return path


def problems(tmp_path: Path, codeframe: str) -> list[str]:
    with pytest.raises(QuestionnaireError) as caught:
        load(write(tmp_path, codeframe))
    return [str(p) for p in caught.value.problems if p.severity == "error"]


def test_codeframe_loads(tmp_path: Path) -> None:
    q = load(write(tmp_path, CODEFRAME)).questionnaire
    frame_id, frame = q.codeframe_of("comment")  # type: ignore[misc]
    assert frame_id == "feedback" and [c.id for c in frame.codes] == ["wait", "staff"]
    assert frame.nets[0].codes == ("wait", "staff") and frame.code("wait").polarity == "complaint"
    rules = coderules.compile_rules(frame.codes)
    assert rules.match("I waited an hour, the STAFF shrugged") == ["wait", "staff"]
    assert rules.match("await the staffing report") == []  # keywords at a word start; patterns as written
    assert rules.match("排队等了很久") == ["wait"]


def test_example_questionnaires_have_bilingual_codeframes() -> None:
    for name in ("auto-dealer", "hotel"):
        loaded = load(REPO / "questionnaires" / name / "questionnaire.yaml")
        assert not loaded.warnings
        for frame in loaded.questionnaire.codeframes.values():
            for code in frame.codes:
                assert set(code.examples) == {"en", "zh"} and all(len(v) >= 3 for v in code.examples.values())


@pytest.mark.parametrize(("change", "message", "line_text"), [
    (("items: [comment]", "items: [coment]"), "codeframe 'feedback': unknown item 'coment' (did you mean 'comment'?)",
     "items: [coment]"),
    (("items: [comment]", "items: [overall]"), "item 'overall' is rating; only text items are coded",
     "items: [overall]"),
    (("- id: staff", "- id: wait"), "duplicate code id 'wait' in codeframe 'feedback'", "- id: wait\n        label: {en: Staff"),
    (("codes: [wait, staff]", "codes: [wait, staf]"), "net 'service': unknown code 'staf' (did you mean 'staff'?)",
     "codes: [wait, staf]"),
    (("{id: service", "{id: staff"), "net id 'staff' is used twice", "{id: staff"),
    (("'\\bstaff\\b'", "'(staff'"), "code 'staff': pattern does not compile: missing ), unterminated subpattern",
     "'(staff'"),
    (("'\\bstaff\\b'", "'(\\w+\\s?)+x'"), "unsafe pattern: nested repetition", "'(\\w+"),
    (("'\\bstaff\\b'", "'(a|ab)*c'"), "unsafe pattern: alternation inside a repetition", "'(a|ab)"),
    (("'\\bstaff\\b'", "'(a)\\1'"), "unsafe pattern: a backreference", "'(a)"),
    (("'\\bstaff\\b'", "'staff(?=x)'"), "unsafe pattern: a lookahead", "'staff"),
    (("[wait, queue]", "[wait, '']"), "code 'wait': empty keyword", "[wait, ''"),
])
def test_codeframe_problems_are_located(tmp_path: Path, change: tuple[str, str], message: str, line_text: str) -> None:
    text = CODEFRAME.replace(*change)
    assert text != CODEFRAME
    found = problems(tmp_path, text)
    assert any(message in p for p in found), found
    problem = next(p for p in found if message in p)
    source = (tmp_path / "q.yaml").read_text(encoding="utf-8")
    line = source[: source.index(line_text)].count("\n") + 1
    assert problem.startswith(f"{tmp_path / 'q.yaml'}:{line}:")


def test_bad_pattern_column_points_into_the_pattern(tmp_path: Path) -> None:
    found = problems(tmp_path, CODEFRAME.replace("'\\bstaff\\b'", "'ab(cd'"))
    source = (tmp_path / "q.yaml").read_text(encoding="utf-8").splitlines()
    problem = next(p for p in found if "does not compile" in p)
    line, column = (int(x) for x in problem.split(":")[1:3])
    assert source[line - 1][column - 1] == "("


def test_an_item_coded_twice_is_an_error(tmp_path: Path) -> None:
    twice = CODEFRAME + "  other:\n    items: [comment]\n    codes: [{id: x, label: X}]\n"
    assert any("coded by codeframes 'feedback' and 'other'" in p for p in problems(tmp_path, twice))


def test_rule_language_not_declared_is_a_warning(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, CODEFRAME.replace("zh: [等了]", "fr: [attente]")))
    assert any("keywords in 'fr'" in str(w) for w in loaded.warnings)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a*)*b", "(a|a)*b", "(.*a){20}", "(x+x+)+y", "((ab)*)+c"])
def test_catastrophic_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(coderules.RuleError, match="unsafe pattern"):
        coderules.compile_pattern(pattern)


@pytest.mark.parametrize("pattern", [r"\bnot (fixed|repaired)", r"wait(ed|ing)? \d+ (min|hour)s?", r"[a-z]+ing\b",
                                     r"(ab)+", r"colou?r", r"\w{2,5} \w{1,3}"])
def test_ordinary_patterns_are_accepted_and_fast(pattern: str) -> None:
    coderules.compile_pattern(pattern)
    rules = coderules.CompiledRules(["x"], [coderules.compile_pattern(pattern)])
    start = time.perf_counter()
    rules.match("a" * 100_000 + "!")  # rules read the first MAX_RULE_TEXT characters: at worst quadratic in that
    assert time.perf_counter() - start < 0.5


# --------------------------------------------------------------------------- simulate


def test_simulate_writes_coded_comments_and_their_truth() -> None:
    import re

    from surveyengine.simulate import simulate

    q = load(REPO / "questionnaires" / "auto-dealer" / "questionnaire.yaml").questionnaire
    columns, truth = simulate(q, 3000, seed=1)
    frame = q.codeframes["feedback"]
    codes = truth["comment_codes"]
    assert set(codes) == {"comment", "low_reason", "complaint_text"}
    ids = list(columns[q.respondent_id])
    sizes = {0: 0, 1: 0, 2: 0}
    chinese = 0
    for item_id, by_id in codes.items():
        texts = columns[q.item(item_id).data_column]
        written = {ids[row] for row, text in enumerate(texts) if text != ""}
        assert set(by_id) == written  # every comment on a coded item has its truth, and only those
        for rid, true_codes in by_id.items():
            sizes[len(true_codes)] += 1
            text = texts[ids.index(rid)] if len(by_id) < 50 else None
            chinese += bool(text and re.search("[\u4e00-\u9fff]", text))
            if item_id == "complaint_text":
                assert all(frame.code(c).polarity == "complaint" for c in true_codes)
    assert sizes[0] > 20 and sizes[1] > 300 and sizes[2] > 100
    # several phrasings per code in each language
    example = frame.code("waiting_time").examples
    for lang in ("en", "zh"):
        seen = {p for p in example[lang] for texts in (columns["comment"], columns["complaint_text"]) for t in texts
                if p in t}
        assert len(seen) >= 2


def test_simulate_keeps_uncoded_columns_unchanged() -> None:
    """The codeframe's comments come from a stream of their own: every other column is as before."""
    from surveyengine import model
    from surveyengine.simulate import simulate

    q = load(REPO / "questionnaires" / "auto-dealer" / "questionnaire.yaml").questionnaire
    plain = model.Questionnaire.model_validate({**q.model_dump(), "codeframes": {}})
    a, _ = simulate(q, 500, seed=3)
    b, _ = simulate(plain, 500, seed=3)
    for name in a:
        if name not in ("comment", "low_reason", "complaint_text"):
            assert list(map(str, a[name])) == list(map(str, b[name])), name
