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
    (("items: [comment]", "items: [overall]"), "item 'overall' is rating, expected text",
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


def test_match_many_answers_as_match_does() -> None:
    """The RE2 first pass never loses a match Python's re finds: Unicode classes, boundaries, ends, long texts."""
    from surveyengine.simulate import HOSTILE_COMMENTS

    patterns = [r"\bnot (fixed|repaired)", r"\w{2}é\b", r"\bété", r"colou?r$", r"[^\w]x", r"(?i:straße)",
                r"\d+ ?km", r"a{,2}b\s\S", r"^ok\b", r"\bneed\B", "等了", r"\Btest"]
    rules = coderules.CompiledRules([f"c{i}" for i in range(len(patterns))],
                                    [coderules.compile_pattern(p) for p in patterns])
    texts = list(HOSTILE_COMMENTS) + [
        "Not fixed", "café été", "un été", "L'été", "the colour\n", "colour", "colour!", "a x", "éx", "STRASSE",
        "Straße", "١٢ km", "12km", "b\u3000x", "ab\u00a0y", "OK then", "ok_then", "needless", "need", "我等了很久",
        "ſtest", "x" * 1999 + "等了", "x" * 2000 + "等了", "Ｎot fixed", "\u212aolour", "contest", "test"]
    assert rules.match_many(texts) == [tuple(rules.match(t)) for t in texts]
    assert coderules.re2_superset(r"[^\w]x") is None  # a negated class of categories: Python only
    assert rules.match_many([]) == [] and coderules.CompiledRules([], []).match_many(["x"]) == [()]


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


# --------------------------------------------------------------------------- coding from the command line

import csv  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402

from click.testing import CliRunner  # noqa: E402

from surveyengine.cli import cli  # noqa: E402


def run(*args: str) -> object:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in (result.output + (result.stderr if result.stderr_bytes is not None else ""))
    return result


@pytest.fixture(scope="module", params=["auto-dealer", "hotel"])
def study(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("coding") / request.param
    result = run("init", str(folder), "--example", request.param, "--n", "4000")
    assert result.exit_code == 0, result.output
    return folder


def truth_of(study: Path) -> dict[tuple[str, str], list[str]]:
    truth = json.loads((study / "data" / "responses.truth.json").read_text(encoding="utf-8"))["comment_codes"]
    return {(rid, item): codes for item, by_id in truth.items() for rid, codes in by_id.items()}


def write_hand(path: Path, keys: list[tuple[str, str]], truth: dict[tuple[str, str], list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["respondent_id", "item", "codes"])
        for rid, item in keys:
            writer.writerow([rid, item, ";".join(truth[(rid, item)]) or "-"])
    return path


def read_codes(study: Path) -> dict[tuple[str, str], dict[str, str]]:
    with (study / "coding" / "codes.csv").open(encoding="utf-8") as handle:
        return {(row["respondent_id"], row["item"]): row for row in csv.DictReader(handle)}


def macro_f1_by_language(study: Path, truth: dict[tuple[str, str], list[str]]) -> dict[str, float]:
    from sklearn.metrics import f1_score

    import numpy as np

    data = {row["respondent_id"]: row for row in csv.DictReader(
        (study / "data" / "responses.csv").open(encoding="utf-8"))}
    codes = read_codes(study)
    all_codes = sorted({c for v in truth.values() for c in v})
    out = {}
    for lang in ("en", "zh"):
        y, p = [], []
        for key, true in truth.items():
            row = codes[key]
            if row["source"] == "hand":
                continue
            is_zh = bool(re.search("[\u4e00-\u9fff]", data[key[0]][key[1]]))
            if is_zh != (lang == "zh"):
                continue
            got = set(filter(None, row["codes"].split(";")))
            y.append([c in true for c in all_codes])
            p.append([c in got for c in all_codes])
        out[lang] = float(f1_score(np.array(y), np.array(p), average="macro", zero_division=0))
    return out


def test_hand_coding_300_reaches_macro_f1_in_each_language(study: Path, tmp_path: Path) -> None:
    truth = truth_of(study)
    keys = sorted(truth)
    random.Random(7).shuffle(keys)
    hand = write_hand(tmp_path / "hand-300.csv", keys[:300], truth)
    result = run("code", str(study), "--import", str(hand), "--full")
    assert result.exit_code == 0, result.output
    f1 = macro_f1_by_language(study, truth)
    print(f"\n{study.name}: macro-F1 on the {len(truth) - 300:,} comments not hand-coded: "
          + ", ".join(f"{lang} {value:.3f}" for lang, value in f1.items()))
    assert min(f1.values()) >= 0.85, f1
    quality = json.loads((study / "coding" / "quality.json").read_text(encoding="utf-8"))
    frame = next(v for k, v in quality.items() if k != "model_key")
    assert frame["hand_coded"] == 300 and set(frame["languages"]) == {"en", "zh"}
    assert all(entry["method"] in ("rule", "model") for entry in frame["codes"].values())
    assert "macro-F1" in result.output and "precision" in result.output
    assert "model probabilities, cross-validated: Brier" in result.output
    assert frame["calibration"]["decisions"] > 0 and frame["calibration"]["ece"] <= 0.05
    assert any(entry["calibrated"] for entry in frame["codes"].values())


def test_probabilities_are_calibrated_on_held_out_comments(study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Of the decisions the model makes at about p, about p are right: trained on 300 comments, read on the rest."""
    import numpy as np

    from surveyengine import coding
    from surveyengine.questionnaire import load as load_questionnaire

    frame = next(iter(load_questionnaire(study / "questionnaire.yaml").questionnaire.codeframes.values()))
    code_ids = [c.id for c in frame.codes]
    modelled = [c.id for c in frame.codes if not c.has_rules]
    truth = truth_of(study)
    data = {row["respondent_id"]: row for row in csv.DictReader(
        (study / "data" / "responses.csv").open(encoding="utf-8"))}
    keys = sorted(truth)
    random.Random(7).shuffle(keys)
    texts = [data[rid][item] for rid, item in keys]
    labels = np.array([[c in truth[k] for c in code_ids] for k in keys], dtype=bool)

    def held_out(calibrate: bool) -> dict[str, object]:
        monkeypatch.setattr(coding, "CALIBRATION_MIN", coding.CALIBRATION_MIN if calibrate else 10**9)
        model = coding.train(texts[:300], labels[:300], code_ids, [c in modelled for c in code_ids], 0.5)
        assert model.codes and all(model.calibrated) == calibrate
        columns = [code_ids.index(c) for c in model.codes]
        return coding.calibration(model.probabilities(texts[300:]), labels[300:, columns])

    calibrated, raw = held_out(True), held_out(False)
    print(f"\n{study.name}: on {len(keys) - 300:,} held-out comments, calibrated: Brier {calibrated['brier']:.4f}, "
          f"ECE {calibrated['ece']:.4f}; class-weighted only: Brier {raw['brier']:.4f}, ECE {raw['ece']:.4f}")
    assert calibrated["ece"] <= 0.03 and calibrated["ece"] < raw["ece"]
    assert calibrated["brier"] <= raw["brier"]


def test_platt_fits_the_sigmoid_scikit_learn_fits() -> None:
    import numpy as np

    from surveyengine.coding import platt

    reference = getattr(pytest.importorskip("sklearn.calibration"), "_SigmoidCalibration", None)
    if reference is None:
        pytest.skip("scikit-learn's sigmoid calibration moved")
    rng = np.random.default_rng(0)
    for n, separation in [(300, 1.0), (300, 4.0), (50, 10.0), (1000, 0.3)]:
        y = rng.random(n) < 0.15
        scores = rng.normal(size=n) + separation * y
        fitted = reference().fit(scores, y)  # P = expit(-(a * score + b))
        assert platt(scores, y) == pytest.approx((-fitted.a_, -fitted.b_), abs=1e-5)


def test_round_trip_code_export_import_recode_build(study: Path, tmp_path: Path) -> None:
    truth = truth_of(study)
    assert run("code", str(study)).exit_code == 0
    review = tmp_path / "review.xlsx"
    result = run("code", str(study), "--export", str(review), "--export-n", "50")
    assert result.exit_code == 0, result.output
    import openpyxl

    sheet = openpyxl.load_workbook(review).worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["respondent_id", "item", "comment", "suggested"] and header[-1] == "codes"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 50
    confidences = [row[header.index("confidence")] for row in rows]
    assert confidences == sorted(confidences)  # the least certain first
    codes_at = header.index("codes") + 1
    for number, row in enumerate(rows[:40], start=2):  # the consultant codes 40 of them, leaves 10
        sheet.cell(number, codes_at).value = ";".join(truth[(row[0], row[1])]) or "-"
    sheet.parent.save(review)
    result = run("code", str(study), "--import", str(review))
    assert result.exit_code == 0, result.output
    assert (study / "coding" / "hand" / "review.xlsx").exists()
    codes = read_codes(study)
    for row in rows[:40]:
        assert codes[(row[0], row[1])]["source"] == "hand"
        assert codes[(row[0], row[1])]["codes"] == ";".join(truth[(row[0], row[1])])
    result = run("build", str(study), "--format", "json,html", "-q")
    assert result.exit_code == 0, result.output
    results = json.loads((study / "site" / "results.json").read_text(encoding="utf-8"))
    assert results["coding"]["coded"]["new"] == 0  # the build took every code from the codes file
    assert sum(bool(c["codes"]) for c in results["comments"]) > len(results["comments"]) / 2
    methodology = (study / "site" / "methodology.html").read_text(encoding="utf-8")
    assert "m-coding" in methodology and 'data-calibration="' in methodology


def test_site_builds_when_too_few_hand_codes_to_cross_validate(tmp_path: Path) -> None:
    """No hand codes: the quality has a note and no calibration; the methodology page says what it has."""
    folder = tmp_path / "s"
    assert run("init", str(folder), "--n", "1000").exit_code == 0
    assert run("code", str(folder)).exit_code == 0
    result = run("build", str(folder), "--format", "html", "-q")
    assert result.exit_code == 0, result.output
    methodology = (folder / "site" / "methodology.html").read_text(encoding="utf-8")
    assert "m-coding" in methodology and "data-calibration" not in methodology


def test_export_is_formula_safe(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    assert run("init", str(folder), "--n", "3000").exit_code == 0
    result = run("code", str(folder), "--export", str(tmp_path / "review.csv"), "--export-n", "5000")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "review.csv").read_text(encoding="utf-8")
    assert "=HYPERLINK" in text and ",\"=HYPERLINK" not in text and "\"'=HYPERLINK" in text


@pytest.mark.parametrize(("content", "message"), [
    ("respondent_id,item,codes\nR0000001,comment,waiting_tim\n", "row 2: unknown code 'waiting_tim' (did you mean "
                                                                   "'waiting_time'?)"),
    ("respondent_id,item,codes\nR0000001,overall,price\n", "row 2: item 'overall' has no codeframe"),
    ("respondent,item,codes\nR0000001,comment,price\n", "no 'respondent_id' column"),
    ("respondent_id,codes\nR0000001,price\n", "no 'item' column, and 3 items are coded"),
    ("", "the file is empty"),
])
def test_bad_hand_codes_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    folder = tmp_path / "s"
    assert run("init", str(folder), "--n", "300").exit_code == 0
    bad = tmp_path / "hand.csv"
    bad.write_text(content, encoding="utf-8")
    result = run("code", str(folder), "--import", str(bad))
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert not (folder / "coding" / "hand" / "hand.csv").exists()


def test_wrong_file_type_and_no_codeframe(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    assert run("init", str(folder), "--example", "acsi", "--n", "300").exit_code == 0
    result = run("code", str(folder))
    assert result.exit_code != 0 and "no codeframes" in result.output


def test_too_few_examples_are_not_predicted_and_said_so(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    assert run("init", str(folder), "--n", "3000").exit_code == 0
    truth = truth_of(folder)
    keys = [k for k in sorted(truth) if truth[k] and truth[k][0] == "facilities"][:3]
    keys += [k for k in sorted(truth) if truth[k] and truth[k][0] == "price"][:12]
    result = run("code", str(folder), "--import", str(write_hand(tmp_path / "h.csv", keys, truth)))
    assert result.exit_code == 0, result.output
    assert "not predicted: 3 hand-coded examples, needs 5 (or a rule)" in result.output
    codes = read_codes(folder)
    assert not any("facilities" in row["codes"] for row in codes.values() if row["source"] != "hand")


def test_build_codes_only_new_comments(tmp_path: Path) -> None:
    """A rebuild takes the codes file's codes; a new or edited comment is coded, the rest are not."""
    from surveyengine import coding
    from surveyengine.build import summarise
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    folder = tmp_path / "s"
    assert run("init", str(folder), "--n", "2000").exit_code == 0
    assert run("code", str(folder)).exit_code == 0
    pm = get_plugin_manager(entry_points=False)
    loaded = load_study(folder, pm)
    table = summarise(loaded, pm, lambda m: None)[0].comments
    first = coding.for_build(folder, table, loaded.questionnaire)
    assert first is not None and first.new == 0
    coded_rows = [r for r, s in enumerate(first.source) if s]
    table.text[coded_rows[0]] = "The invoice was wrong."  # an edited comment
    again = coding.for_build(folder, table, loaded.questionnaire)
    assert again is not None and again.new == 1 and again.codes[coded_rows[0]] == ("invoice",)


# --------------------------------------------------------------------------- analysis and report


def test_two_proportions_matches_the_chi_square_test() -> None:
    import numpy as np
    from scipy.stats import chi2_contingency

    from surveyengine.estimates import two_proportions

    for x1, n1, x2, n2 in [(30, 200, 50, 220), (5, 40, 2, 60), (100, 1000, 100, 1000)]:
        expected = chi2_contingency(np.array([[x1, n1 - x1], [x2, n2 - x2]]), correction=False)[1]
        assert float(two_proportions(x1, n1, x2, n2)) == pytest.approx(expected, rel=1e-9)
    assert np.isnan(two_proportions(1, 0, 2, 10))


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A coded study built with a hostile comment that a rule codes, in the most recent wave."""
    folder = tmp_path_factory.mktemp("report") / "s"
    assert run("init", str(folder), "--n", "3000").exit_code == 0
    data = folder / "data" / "responses.csv"
    with data.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    latest = max(row["month"] for row in rows)
    rows[0]["comment"] = "<script>alert(1)</script> the invoice was wrong"
    rows[0]["month"] = latest
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    truth = truth_of(folder)
    keys = sorted(truth)
    random.Random(3).shuffle(keys)
    hand = write_hand(folder.parent / "hand.csv", [k for k in keys if k[0] != rows[0]["respondent_id"]][:300], truth)
    assert run("code", str(folder), "--import", str(hand)).exit_code == 0
    result = run("build", str(folder), "--format", "json,review,html", "-q")
    assert result.exit_code == 0, result.output
    return folder


def test_results_carry_the_code_analysis(reported: Path) -> None:
    import numpy as np

    results = json.loads((reported / "site" / "results.json").read_text(encoding="utf-8"))
    analysis = results["coding"]["analysis"]["feedback"]
    total = analysis["groups"][0]
    assert total["level"] == "total" and total["respondents"] == results["respondents"]
    # recount from the codes file and the data
    data = {row["respondent_id"]: row for row in csv.DictReader(
        (reported / "data" / "responses.csv").open(encoding="utf-8"))}
    codes = read_codes(reported)
    mentioners = {rid for (rid, item), row in codes.items() if "invoice" in row["codes"].split(";")}
    commenters = {rid for rid, item in codes}
    entry = total["codes"]["invoice"]
    assert entry["respondents"] == len(mentioners)
    assert entry["share_respondents"] == pytest.approx(len(mentioners) / results["respondents"], rel=1e-5)
    assert entry["mentions"] == sum("invoice" in row["codes"].split(";") for row in codes.values())
    assert total["commenters"] == len(commenters)
    def answers(ids: set[str]) -> list[float]:  # valid answers on the 1-10 scale (99: don't know)
        values = [float(data[rid]["overall"]) for rid in ids if data[rid]["overall"] not in ("", "nan")]
        return [v for v in values if 1 <= v <= 10]

    scores, others = answers(mentioners), answers(commenters - mentioners)
    impact = analysis["impact"]["invoice"]["satisfaction"]
    assert impact["mentioners"] == pytest.approx(np.mean(scores), rel=1e-5)
    assert impact["others"] == pytest.approx(np.mean(others), rel=1e-5)
    assert impact["p"] < 0.05 and impact["difference"] < 0  # a complaint code costs satisfaction
    # a net counts a respondent once however many of its codes they mention
    money = total["codes"]["money"]
    assert money["respondents"] <= sum(total["codes"][c]["respondents"] for c in ("value_money", "price", "invoice"))
    waves = [g for g in analysis["groups"] if g["level"] == "wave"]
    assert len(waves) == len(results["waves"]) and "p_vs_previous" in waves[1]["codes"]["invoice"]
    assert "p_vs_previous" not in waves[0]["codes"]["invoice"]
    # units: every shown group has its test against the rest; suppressed ones show nothing
    dealers = [g for g in analysis["groups"] if g["level"] == "dealer"]
    assert dealers and all(g["suppressed"] or g["codes"]["invoice"]["p_vs_rest"] is not None for g in dealers)
    complaints = results["coding"]["complaints"]
    assert complaints["item"] == "complaint_text" and complaints["codes"]
    assert all(w["mentions"] >= results["index"]["privacy_min"] for c in complaints["codes"] for w in c["where"])
    assert all(c["codes"] == [] or isinstance(c["codes"], list) for c in results["comments"])


def test_privacy_minimum_hides_cells(reported: Path, tmp_path: Path) -> None:
    """With a privacy minimum above a group's commenters, that group's codes are not shown."""
    from surveyengine.analysis_codes import code_analysis
    from surveyengine import coding
    from surveyengine.build import summarise
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study
    from surveyengine.scoring import score

    pm = get_plugin_manager(entry_points=False)
    loaded = load_study(reported, pm)
    summary = summarise(loaded, pm, lambda m: None)[0]
    q = loaded.questionnaire
    strict = q.model_copy(update={"index": q.index.model_copy(update={"privacy_min": 150, "min_base": 150})})
    results = score(loaded, summary.stats, summary.labels, summary.account, pm, summary.exclusions)
    coded = coding.for_build(reported, summary.comments, q)
    analysis = code_analysis(strict, summary.comments, coded, summary.labels, results)["feedback"]
    hidden = [g for g in analysis["groups"] if g["suppressed"]]
    assert hidden and all(g["codes"] == {} and g["commenters"] is None for g in hidden)
    assert all(g["commenters"] >= 150 for g in analysis["groups"] if not g["suppressed"])


def test_say_page_escapes_comments_and_shows_codes(reported: Path) -> None:
    site = reported / "site"
    say = (site / "say.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in say
    assert "&lt;script&gt;alert(1)&lt;/script&gt; the invoice was wrong" in say
    assert 'data-table="codes-feedback"' in say and "Invoice errors" in say
    assert 'href="say.html"' in (site / "index.html").read_text(encoding="utf-8")
    complaints = (site / "complaints.html").read_text(encoding="utf-8")
    assert 'data-table="complaint-codes"' in complaints
    review = (site / "management-review.html").read_text(encoding="utf-8")
    assert "What went wrong, how often, where" in review


def test_say_page_in_chinese(reported: Path, tmp_path: Path) -> None:
    config = reported / "surveyengine.yaml"
    original = config.read_text(encoding="utf-8")
    try:
        config.write_text(original + "language: zh\n", encoding="utf-8")
        result = run("build", str(reported), "--format", "html", "--out", str(tmp_path / "zh"), "-q")
        assert result.exit_code == 0, result.output
    finally:
        config.write_text(original, encoding="utf-8")
    say = (tmp_path / "zh" / "say.html").read_text(encoding="utf-8")
    assert "客户心声" in say and "发票问题" in say


# --------------------------------------------------------------------------- theme discovery


def test_discover_finds_the_themes_a_codeframe_misses() -> None:
    from surveyengine.themes_discovery import discover, discover_by_language

    rng = random.Random(1)
    parking = ["Parking was impossible near the dealer", "No parking spaces left at all", "Parking lot far too small"]
    coffee = ["The coffee machine in the lounge was broken", "No coffee or water offered", "Coffee was cold"]
    texts = [rng.choice(parking) for _ in range(60)] + [rng.choice(coffee) for _ in range(40)]
    topics = discover(texts, topics=2)
    chinese = [rng.choice(["停车位太少，停车很难。", "停车场太小了。", "休息区的咖啡机坏了。", "咖啡是凉的。"])
               for _ in range(40)]
    assert len(topics) == 2 and topics[0]["comments"] >= topics[1]["comments"]
    found = [set(t["terms"]) for t in topics]
    assert any({"parking"} <= f for f in found) and any({"coffee"} <= f for f in found)
    assert all(len(set(t["examples"])) == len(t["examples"]) for t in topics)
    assert discover(texts[:5], topics=8) == []  # too few comments: nothing, not an error
    by_language = discover_by_language(texts + chinese, ["en", "zh"], topics=2)
    assert {t["language"] for t in by_language} == {"en", "zh"}


def test_theme_examples_reach_the_terminal_on_one_line_without_escapes() -> None:
    from surveyengine.cli import one_line

    assert one_line("\x1b[2J\x1b[31mred\nP.S. 谢谢\r\x07", 100) == " [2J [31mred P.S. 谢谢  "
    assert one_line("x" * 200, 100) == "x" * 100


def test_code_themes_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    assert run("init", str(folder), "--n", "2000").exit_code == 0
    truth = truth_of(folder)
    keys = sorted(truth)
    random.Random(7).shuffle(keys)
    hand = write_hand(tmp_path / "hand.csv", keys[:300], truth)
    result = run("code", str(folder), "--import", str(hand), "--themes", "4")
    assert result.exit_code == 0, result.output
    themes = json.loads((folder / "coding" / "themes.json").read_text(encoding="utf-8"))
    assert themes["uncoded"] > 0 and 1 <= len(themes["topics"]) <= 8  # up to 4 per language
    assert "themes in the comments without a code" in result.output
    # the simulated comments without a code include themes no codeframe has: parking, online booking, hours
    terms = {lang: {term for t in themes["topics"] if t["language"] == lang for term in t["terms"]}
             for lang in ("en", "zh")}
    assert terms["en"] & {"parking", "park", "booking", "book", "app", "hours", "sundays"}, themes["topics"]
    assert any(word in term for term in terms["zh"] for word in ("停车", "预约", "营业")), themes["topics"]
    # the site shows them, escaped, from results.json (a hostile example planted in themes.json)
    themes["topics"][0]["examples"].append("<script>alert('theme')</script> parking")
    (folder / "coding" / "themes.json").write_text(json.dumps(themes, ensure_ascii=False), encoding="utf-8")
    assert run("build", str(folder), "--format", "json,html", "-q").exit_code == 0
    results = json.loads((folder / "site" / "results.json").read_text(encoding="utf-8"))
    assert results["coding"]["themes"]["uncoded"] == themes["uncoded"]
    say = (folder / "site" / "say.html").read_text(encoding="utf-8")
    assert 'data-table="themes-en"' in say and 'data-table="themes-zh"' in say and "What the codeframe misses" in say
    assert "<script>alert('theme')" not in say and "&lt;script&gt;alert(&#39;theme&#39;)&lt;/script&gt; parking" in say
    shown = [t for t in themes["topics"] if t["comments"] >= 5]  # the study's privacy minimum
    assert say.count("<tr><th scope=\"row\">") >= len(shown)
    config = folder / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "language: zh\n", encoding="utf-8")
    assert run("build", str(folder), "--format", "html", "--out", str(tmp_path / "zh"), "-q").exit_code == 0
    say_zh = (tmp_path / "zh" / "say.html").read_text(encoding="utf-8")
    assert "编码框架未涵盖的内容" in say_zh and "未编码意见中的主题，中文" in say_zh


def test_say_page_without_themes_says_how_to_find_them(reported: Path) -> None:
    say = (reported / "site" / "say.html").read_text(encoding="utf-8")
    assert "What the codeframe misses" in say and "surveyengine code --themes 8" in say
