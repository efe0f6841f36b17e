"""The validation rules of the study config: every rule under every policy it allows.

Each case makes one small bad file from the mini study (tests/data/data/) and checks
the exact file, row and column named, and the consequence of the policy:

- ``missing``: the row is used, the answer is set missing, a warning names the cell;
- ``exclude``: the row is left out, listed as an Exclusion with the rule as its reason;
- ``warn``: the row and the value are kept, a warning names the cell;
- ``ignore``: nothing is reported;
- ``fail``: ``DataError`` listing every offending cell, and ``surveyengine build`` exits 1.

The policies are read from ``model.ValidationRules``, so a new policy or a new rule
without a case here fails ``test_every_rule_has_a_case``.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from surveyengine.data import MAX_FAIL_LISTED, Exclusion
from surveyengine.errors import DataError
from surveyengine.model import ValidationRules

FILE = "data/responses.csv"
ROW_RULES = ("duplicate_id", "missing_id", "bad_wave", "missing_segment", "bad_weight", "missing_rake_variable")


def rules_questionnaire(studies: Any) -> dict[str, Any]:
    """The mini questionnaire plus what the rules need: a condition, a required item, text choice codes."""
    q = studies.questionnaire()
    q["choices"]["member"] = {"options": {"Y": "Yes", "N": "No"}, "missing": {"DK": "Don't know"}}
    questions = q["questions"]
    questions[0]["required"] = True  # overall
    position = next(k for k, item in enumerate(questions) if item["id"] == "complained") + 1
    questions[position:position] = [
        {"id": "handling", "text": "How was your complaint handled?", "scale": "sat5", "when": "complained == 1"},
        {"id": "complaint_text", "text": "What was it about?", "type": "text", "when": "complained == 1"},
        {"id": "member", "text": "Are you a club member?", "choices": "member"},
    ]
    return q


def rules_rows(studies: Any) -> list[list[str]]:
    """The mini sample plus the new columns; R2 and R3 complained (complained == 1)."""
    rows = studies.rows()
    rows = studies.add_column(rows, "handling", {"R2": "3", "R3": "2"})
    rows = studies.add_column(rows, "complaint_text", {"R2": "Waited an hour"})
    return studies.add_column(rows, "member", {"R1": "Y", "R2": "N", "R3": "", "R4": "Y", "R5": "N"})


def with_weight_column(q: dict[str, Any]) -> dict[str, Any]:
    q["weights"] = {"column": "weight"}
    return q


def with_raking(q: dict[str, Any]) -> dict[str, Any]:
    q["weights"] = {"rake": [{"variable": "complained", "shares": {1: 0.4, 2: 0.6}}]}
    return q


@dataclass(frozen=True)
class Case:
    """One bad cell (or column) and what every policy must say about it."""

    rule: str
    cell: tuple[str, str, str] | None  # (respondent, column, bad value); None: the sample as it is
    row: int  # the row named, as the user sees it in the file (header = row 1)
    column: str
    finding: str  # the message before '; <consequence>'
    reason: str = ""  # Exclusion.reason under 'exclude'
    item: str | None = None  # the answer that 'missing' blanks and 'warn' keeps
    kept: Any = None  # the value 'warn' keeps
    questionnaire: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda q: q)
    extra_column: tuple[str, str] | None = None  # (name, value in every row)
    id: str = ""

    def rows(self, studies: Any) -> list[list[str]]:
        rows = rules_rows(studies)
        if self.extra_column:
            rows = studies.add_column(rows, self.extra_column[0], default=self.extra_column[1])
        if self.cell:
            rows = studies.set_cell(rows, *self.cell)
        return rows


CASES = [
    Case("not_a_number", ("R2", "staff", "abc"), 3, "staff", "'abc' not a number", "staff: not a number",
         item="staff"),
    Case("out_of_range", ("R2", "staff", "7"), 3, "staff", "7 outside scale 1-5", "staff: outside scale 1-5",
         item="staff"),
    Case("unknown_code", ("R1", "complained", "3"), 2, "complained", "3 not a code of choice list 'yesno'",
         "complained: not a code of choice list 'yesno'", item="complained", id="integer codes"),
    Case("unknown_code", ("R4", "member", "X"), 5, "member", "'X' not a code of choice list 'member'",
         "member: not a code of choice list 'member'", item="member", id="text codes"),
    Case("not_asked", ("R1", "handling", "4"), 2, "handling",
         "4 answered although not asked (when: complained == 1)", "handling: answered although not asked",
         item="handling", kept=4.0, id="rating"),
    Case("not_asked", ("R4", "complaint_text", "The paint"), 5, "complaint_text",
         "'The paint' answered although not asked (when: complained == 1)",
         "complaint_text: answered although not asked", item="complaint_text", kept="The paint", id="open answer"),
    Case("required_missing", ("R4", "overall", ""), 5, "overall", "required answer missing",
         "overall: required answer missing", item="overall"),
    Case("duplicate_id", ("R4", "respondent_id", "R2"), 5, "respondent_id", "'R2' duplicate respondent id",
         "duplicate respondent id 'R2'"),
    Case("missing_id", ("R3", "respondent_id", ""), 4, "respondent_id", "missing respondent id",
         "missing respondent id"),
    Case("bad_wave", ("R3", "date", "2026-Q1"), 4, "date", "wave is not a date or a month",
         "wave is not a date or a month", id="a quarter is coarser than a month"),
    Case("bad_wave", ("R3", "date", "someday"), 4, "date", "wave is not a date or a month",
         "wave is not a date or a month", id="not a date"),
    Case("missing_segment", ("R5", "region", ""), 6, "region", "no region", "no region"),
    Case("bad_weight", ("R2", "weight", "0"), 3, "weight", "weight missing or not positive",
         "weight missing or not positive", questionnaire=with_weight_column, extra_column=("weight", "1.5")),
    # R5 answered complained with 9, the choice list's "don't remember": no answer to rake on
    Case("missing_rake_variable", None, 6, "complained", "no answer to a raking variable",
         "complained: no answer to a raking variable", questionnaire=with_raking),
    Case("unexpected_column", None, 1, "notes", "column not in the questionnaire",
         extra_column=("notes", "called back")),
]


def policies(rule: str) -> tuple[str, ...]:
    return typing.get_args(ValidationRules.model_fields[rule].annotation)


def test_every_rule_has_a_case() -> None:
    assert {case.rule for case in CASES} == set(ValidationRules.model_fields)
    assert set(ROW_RULES) < set(ValidationRules.model_fields)


@pytest.mark.parametrize(("case", "policy"), [
    pytest.param(case, policy, id=f"{case.rule}-{policy}" + (f"-{case.id}" if case.id else ""))
    for case in CASES for policy in policies(case.rule)])
def test_rule_policy(studies, case: Case, policy: str) -> None:
    config = {"validation": {case.rule: policy}}
    root = studies.write(case.questionnaire(rules_questionnaire(studies)), case.rows(studies), config=config)
    where = f"{FILE}, row {case.row}, column {case.column}"
    if policy == "fail":
        with pytest.raises(DataError) as caught:
            studies.read(root)
        message = str(caught.value)
        assert message.startswith("the data breaks rules set to 'fail':\n")
        listed = message.splitlines()[1:]
        assert listed[0].startswith(f"{where}: {case.finding}; not allowed"), message
        assert "Traceback" not in message
        return

    responses = studies.read(root)
    studies.assert_account_adds_up(responses)
    account = responses.account()
    found = [(p.location.path, p.location.row, p.location.column, p.message, p.severity)
             for p in responses.findings]
    used_rows = responses.source_row.tolist()
    if policy == "ignore":
        assert found == [] and responses.exclusions == [] and account["findings_by_rule"] == {}
        return
    if policy == "exclude":
        (exclusion,) = responses.exclusions
        assert exclusion == Exclusion(FILE, case.row, case.column, case.reason)
        assert (exclusion.rule, exclusion.kind) == (case.rule, "error")
        assert case.row not in used_rows and responses.n == 4
        assert account["excluded_by_reason"] == {case.reason: 1}
        if case.rule in ROW_RULES:
            assert found == []  # the exclusion is the report
        else:
            assert found == [(FILE, case.row, case.column, f"{case.finding}; row excluded", "warning")]
            assert account["answers_set_missing"] == 0
        return

    # missing or warn: the row is used
    assert responses.exclusions == [] and responses.n == 5
    consequence = {"missing": "answer set missing", "warn": "kept"}[policy]
    assert found == [(FILE, case.row, case.column, f"{case.finding}; {consequence}", "warning")]
    assert str(responses.findings[0]).startswith(f"{where}: warning: {case.finding}")
    assert account["findings_by_rule"] == {case.rule: 1}
    assert account["answers_set_missing"] == (1 if policy == "missing" else 0)
    if case.item is None:
        return
    index = used_rows.index(case.row)
    if case.item in responses.items:
        value = responses.column(case.item)[index]
        if policy == "missing" or case.kept is None:
            assert np.isnan(value)
        else:
            assert value == case.kept
    else:  # an open answer
        assert responses.texts(case.item)[index] == ("" if policy == "missing" else case.kept)


def test_defaults_set_bad_answers_missing_and_exclude_bad_rows(studies) -> None:
    """With no 'validation' section: missing, missing, missing, missing, warn, exclude ..., warn."""
    rules = ValidationRules()
    assert (rules.not_a_number, rules.out_of_range, rules.unknown_code, rules.not_asked) == ("missing",) * 4
    assert rules.required_missing == "warn" and rules.unexpected_column == "warn"
    assert all(getattr(rules, rule) == "exclude" for rule in ROW_RULES)
    rows = studies.set_cell(rules_rows(studies), "R1", "staff", "abc")
    rows = studies.set_cell(rows, "R3", "region", "")
    responses = studies.read(studies.write(rules_questionnaire(studies), rows))
    assert [(p.location.row, p.location.column) for p in responses.findings] == [(2, "staff")]
    assert [(e.row, e.column, e.rule) for e in responses.exclusions] == [(4, "region", "missing_segment")]
    studies.assert_account_adds_up(responses)


# ------------------------------------------------------------------------------------------- fail


def test_fail_lists_every_offending_cell_of_every_file(studies) -> None:
    """Every file is checked before the build stops, so one run names every cell to fix."""
    a = studies.set_cell(rules_rows(studies), "R1", "quality", "good")
    a = studies.set_cell(a, "R3", "price", "")  # empty is missing, not a finding
    a = studies.set_cell(a, "R4", "speed", "n/a")
    b = [a[0]] + [["S" + row[0][1:]] + row[1:] for row in rules_rows(studies)[1:3]]
    b = studies.set_cell(b, "S2", "staff", "x")
    root = studies.write(rules_questionnaire(studies), files={"a.csv": a, "b.csv": b},
                         config={"validation": {"not_a_number": "fail"}})
    with pytest.raises(DataError) as caught:
        studies.read(root)
    listed = str(caught.value).splitlines()[1:]
    assert listed == [
        "data/a.csv, row 2, column quality: 'good' not a number; not allowed [quality]",
        "data/a.csv, row 5, column speed: 'n/a' not a number; not allowed [speed]",
        "data/b.csv, row 3, column staff: 'x' not a number; not allowed [staff]",
    ]


def test_fail_lists_a_bounded_number_of_cells(studies) -> None:
    header = rules_rows(studies)[0]
    template = rules_rows(studies)[1]
    rows = [header] + [[f"P{k}"] + template[1:] for k in range(MAX_FAIL_LISTED + 5)]
    rows = [rows[0]] + [row[:3] + ["bad"] + row[4:] for row in rows[1:]]  # quality
    root = studies.write(rules_questionnaire(studies), rows, config={"validation": {"not_a_number": "fail"}})
    with pytest.raises(DataError) as caught:
        studies.read(root)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + MAX_FAIL_LISTED + 1
    assert lines[1].startswith(f"{FILE}, row 2, column quality: ")
    assert lines[-1] == "(and possibly 5 more findings)"


@pytest.mark.parametrize("value", ["0", "-1", "", "abc"])
def test_bad_weight_values(studies, value: str) -> None:
    rows = studies.set_cell(studies.add_column(rules_rows(studies), "weight", default="2"), "R3", "weight", value)
    responses = studies.read(studies.write(with_weight_column(rules_questionnaire(studies)), rows))
    assert [(e.row, e.column, e.rule) for e in responses.exclusions] == [(4, "weight", "bad_weight")]
    assert responses.weights is not None and responses.weights.tolist() == [2.0] * 4
    studies.assert_account_adds_up(responses)


# ----------------------------------------------------------------------------------- text codes


def test_text_choice_codes_are_stored_as_positions(studies) -> None:
    """A choice list {Y: Yes, N: No} stores Y as 1 and N as 2; its own and the config's missing codes are NaN."""
    rows = studies.set_cell(rules_rows(studies), "R3", "member", "DK")
    rows = studies.set_cell(rows, "R5", "member", "-1")
    root = studies.write(rules_questionnaire(studies), rows, config={"missing_codes": [-1]})
    responses = studies.read(root)
    member = responses.column("member").tolist()
    assert member[:2] + [member[3]] == [1.0, 2.0, 1.0]
    assert np.isnan(member[2]) and np.isnan(member[4])
    assert responses.findings == []


def test_a_bad_text_code_is_an_unknown_code(studies) -> None:
    rows = studies.set_cell(rules_rows(studies), "R2", "member", "y")  # codes are case-sensitive
    responses = studies.read(studies.write(rules_questionnaire(studies), rows))
    (problem,) = responses.findings
    assert (problem.location.row, problem.location.column) == (3, "member")
    assert problem.message == "'y' not a code of choice list 'member'; answer set missing"
    assert responses.account()["findings_by_rule"] == {"unknown_code": 1}


# -------------------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("case", [pytest.param(case, id=case.rule + (f"-{case.id}" if case.id else ""))
                                  for case in CASES])
def test_build_stops_on_a_rule_set_to_fail(studies, case: Case) -> None:
    config = {"validation": {case.rule: "fail"}}
    studies.write(case.questionnaire(rules_questionnaire(studies)), case.rows(studies), config=config)
    result = studies.cli("build", ".")
    assert result.exit_code == 1, result.output
    assert "Error: the data breaks rules set to 'fail':\n" in result.stderr
    assert f"\n{FILE}, row {case.row}, column {case.column}: {case.finding}; not allowed" in result.stderr
    assert "Traceback" not in result.output
    assert not (studies.root / "site").exists()
    result = studies.cli("validate", ".")
    assert result.exit_code == 1, result.output
    assert f"row {case.row}, column {case.column}" in result.stderr and "Traceback" not in result.output


def test_build_strict_fails_on_a_finding(studies) -> None:
    studies.write(rules_questionnaire(studies), studies.set_cell(rules_rows(studies), "R2", "price", "7"))
    assert studies.cli("build", ".").exit_code == 0  # set missing and reported, not fatal
    result = studies.cli("build", ".", "--strict")
    assert result.exit_code == 2, result.output
    assert f"{FILE}, row 3, column price: warning: 7 outside scale 1-5; answer set missing" in result.stderr
    assert "--strict: 1 findings and 0 rows excluded for bad data" in result.stderr
    assert "Traceback" not in result.output


def test_build_strict_fails_on_a_row_excluded_for_bad_data(studies) -> None:
    studies.write(rules_questionnaire(studies), studies.set_cell(rules_rows(studies), "R3", "region", ""))
    assert studies.cli("build", ".").exit_code == 0
    result = studies.cli("build", ".", "--strict")
    assert result.exit_code == 2, result.output
    assert "--strict: 0 findings and 1 rows excluded for bad data" in result.stderr


def test_build_strict_passes_rows_excluded_by_a_quality_check(studies) -> None:
    """A straight-liner left out by a configured check is the consultant's decision, not bad data."""
    rows = rules_rows(studies)
    for column in ("quality", "price", "staff", "speed"):
        rows = studies.set_cell(rows, "R4", column, "4")
    config = {"quality": {"straightlining": "exclude", "straightlining_min_items": 4}}
    studies.write(rules_questionnaire(studies), rows, config=config)
    result = studies.cli("build", ".", "--strict")
    assert result.exit_code == 0, result.output
    assert "from 4 responses (1 rows excluded)" in result.stdout
    responses = studies.read()
    assert [(e.row, e.kind, e.reason) for e in responses.exclusions] == [(5, "quality", "quality: straightlining")]
    result = studies.cli("validate", ".", "--strict")
    assert result.exit_code == 0, result.output
    assert "excluded: 1 quality: straightlining" in result.stdout


def test_validate_json_lists_findings_and_exclusions(studies) -> None:
    import json

    rows = studies.set_cell(rules_rows(studies), "R1", "handling", "5")
    rows = studies.set_cell(rows, "R5", "respondent_id", "R1")
    studies.write(rules_questionnaire(studies), rows)
    result = studies.cli("validate", ".", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (problem,) = report["problems"]
    assert {k: problem[k] for k in ("file", "row", "column", "severity", "key_path")} == {
        "file": FILE, "row": 2, "column": "handling", "severity": "warning", "key_path": "handling"}
    assert re.match(r"5 answered although not asked", problem["message"])
    account = report["account"]
    assert account["exclusions"] == [{"file": FILE, "row": 6, "column": "respondent_id",
                                      "reason": "duplicate respondent id 'R1'", "rule": "duplicate_id",
                                      "kind": "error"}]
    assert account["rows_read"] == account["rows_used"] + account["rows_excluded"] == 5
    assert account["answers_set_missing"] == 1 and account["findings_by_rule"] == {"not_asked": 1}
    result = studies.cli("validate", ".", "--format", "json", "--strict")
    assert result.exit_code == 2 and json.loads(result.stdout)["valid"] is False
