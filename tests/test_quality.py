"""Quality checks: straight-lining across the whole rating grid, speeding, too many missing answers.

A grid questionnaire of two factors with five 1-5 items each (the default
``straightlining_min_items`` is 10), an overall item, and a complaint-handling item
asked only of complainers. Twelve respondents answer with variety; each test changes
one or two of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from surveyengine.data import Exclusion, RawTable, build_responses
from surveyengine.model import QualityChecks
from surveyengine.study import load_study

FILE = "data/responses.csv"
GRID = [f"p{k}" for k in range(1, 6)] + [f"s{k}" for k in range(1, 6)]
RATING = GRID + ["overall"]  # the unconditional rating items; 'handling' is asked of complainers only
N = 12
REPO = Path(__file__).resolve().parents[1]


def grid_questionnaire() -> dict[str, Any]:
    def items(ids: list[str]) -> list[dict[str, str]]:
        return [{"id": i, "text": i.upper(), "scale": "sat5"} for i in ids]

    return {
        "surveyengine": 1, "id": "grid", "title": "Grid study",
        "scales": {"sat5": {"min": 1, "max": 5, "missing": {9: "Don't know"}}},
        "choices": {"yesno": {"options": {1: "Yes", 2: "No"}}},
        "factors": [{"id": "product", "kind": "product", "label": "Product", "items": items(GRID[:5])},
                    {"id": "service", "kind": "service", "label": "Service", "items": items(GRID[5:])}],
        "questions": [{"id": "overall", "text": "Overall", "scale": "sat5"},
                      {"id": "complained", "text": "Complained?", "choices": "yesno"},
                      {"id": "handling", "text": "Handling", "scale": "sat5", "when": "complained == 1"}],
        "outcomes": {"overall": ["overall"]},
        "segments": [{"id": "region", "label": "Region"}],
    }


def grid_rows(seconds: bool = False) -> list[list[str]]:
    """N respondents, none careless: answers vary within both factors; 600 s interviews."""
    header = ["respondent_id", "region", *RATING, "complained", "handling"] + (["seconds"] if seconds else [])
    rows = [header]
    for r in range(N):
        answers = [str((r + k) % 5 + 1) for k in range(len(RATING))]
        complained = "1" if r % 4 == 0 else "2"
        rows.append([f"R{r + 1}", ("North", "South")[r % 2], *answers, complained, "3" if complained == "1" else ""]
                    + (["600"] if seconds else []))
    return rows


def set_answers(studies: Any, rows: list[list[str]], respondent: str, values: dict[str, str]) -> list[list[str]]:
    for column, value in values.items():
        rows = studies.set_cell(rows, respondent, column, value)
    return rows


def row_of(respondent: str) -> int:
    return int(respondent[1:]) + 1


def flagged(responses: Any, check: str) -> list[str]:
    return [ident for ident, flag in zip(responses.ids.to_pylist(), responses.flags[check]) if flag]


def test_defaults() -> None:
    checks = QualityChecks()
    assert (checks.straightlining, checks.speeding, checks.missing) == ("flag", "flag", "flag")
    assert checks.straightlining_min_items == 10
    assert checks.speeding_share_of_median == 0.33 and checks.max_missing_share == 0.5
    assert checks.duration_column is None


def test_no_careless_respondent_in_the_base_sample(studies) -> None:
    responses = studies.read(studies.write(grid_questionnaire(), grid_rows()))
    assert responses.n == N and responses.exclusions == [] and responses.findings == []
    assert responses.account()["flagged"] == {"missing": 0, "straightlining": 0}
    assert "speeding" not in responses.flags  # no duration column, no speeding check


# ---------------------------------------------------------------------------------- straight-lining


def test_straightlining_across_the_whole_grid_is_flagged(studies) -> None:
    rows = set_answers(studies, grid_rows(), "R3", dict.fromkeys(GRID, "4"))
    # straight in one factor only: a consistent opinion of that factor, not careless
    rows = set_answers(studies, rows, "R5", {**dict.fromkeys(GRID[:5], "5"), **dict.fromkeys(GRID[5:], "2")})
    responses = studies.read(studies.write(grid_questionnaire(), rows))
    assert flagged(responses, "straightlining") == ["R3"]
    assert responses.account()["flagged"]["straightlining"] == 1
    assert responses.n == N and responses.exclusions == []  # flagged, still used
    assert responses.findings == []  # a flag is not a finding: --strict does not fail on it


def test_straightlining_needs_min_items_answered(studies) -> None:
    """Nine equal answers and one skipped (or don't know) is not enough evidence at the default of 10."""
    rows = set_answers(studies, grid_rows(), "R3", {**dict.fromkeys(GRID, "4"), "s5": ""})
    rows = set_answers(studies, rows, "R4", {**dict.fromkeys(GRID, "2"), "p1": "9"})
    rows = set_answers(studies, rows, "R6", dict.fromkeys(GRID, "1"))
    assert flagged(studies.read(studies.write(grid_questionnaire(), rows)), "straightlining") == ["R6"]
    config = {"quality": {"straightlining_min_items": 9}}
    responses = studies.read(studies.write(grid_questionnaire(), rows, config=config))
    assert flagged(responses, "straightlining") == ["R3", "R4", "R6"]


def test_straightlining_is_never_flagged_on_a_grid_smaller_than_min_items(studies) -> None:
    q = grid_questionnaire()
    q["factors"][1]["items"] = q["factors"][1]["items"][:4]  # a 9-item grid
    rows = set_answers(studies, grid_rows(), "R3", dict.fromkeys(GRID, "4"))
    responses = studies.read(studies.write(q, rows))
    assert flagged(responses, "straightlining") == []


def test_straightliners_are_excluded_when_configured(studies) -> None:
    rows = set_answers(studies, grid_rows(), "R3", dict.fromkeys(GRID, "4"))
    rows = set_answers(studies, rows, "R9", dict.fromkeys(GRID, "5"))
    config = {"quality": {"straightlining": "exclude"}}
    responses = studies.read(studies.write(grid_questionnaire(), rows, config=config))
    assert responses.exclusions == [Exclusion(FILE, 4, None, "quality: straightlining"),
                                     Exclusion(FILE, 10, None, "quality: straightlining")]
    assert all((e.kind, e.rule) == ("quality", "straightlining") for e in responses.exclusions)
    assert "R3" not in responses.ids.to_pylist() and responses.n == N - 2
    account = responses.account()
    assert account["excluded_by_reason"] == {"quality: straightlining": 2}
    assert account["flagged"]["straightlining"] == 0  # flags count the respondents used
    studies.assert_account_adds_up(responses)


# ------------------------------------------------------------------------------------------ speeding


def test_speeding_is_faster_than_a_share_of_the_median(studies) -> None:
    rows = grid_rows(seconds=True)
    rows = studies.set_cell(rows, "R2", "seconds", "197")
    rows = studies.set_cell(rows, "R7", "seconds", "199")
    rows = studies.set_cell(rows, "R8", "seconds", "")  # no duration: not judged
    config = {"quality": {"duration_column": "seconds"}}
    responses = studies.read(studies.write(grid_questionnaire(), rows, config=config))
    durations = [float(row[-1]) for row in rows[1:] if row[-1]]
    assert np.median(durations) == 600 and 0.33 * 600 == pytest.approx(198)  # 197 is faster, 199 is not
    assert flagged(responses, "speeding") == ["R2"]
    assert responses.account()["flagged"]["speeding"] == 1
    config = {"quality": {"duration_column": "seconds", "speeding_share_of_median": 0.5, "speeding": "exclude"}}
    responses = studies.read(studies.write(grid_questionnaire(), rows, config=config))
    assert [(e.row, e.kind, e.reason) for e in responses.exclusions] == [
        (3, "quality", "quality: speeding"), (8, "quality", "quality: speeding")]
    studies.assert_account_adds_up(responses)


def test_a_respondent_excluded_by_two_checks_names_both(studies) -> None:
    rows = studies.set_cell(grid_rows(seconds=True), "R4", "seconds", "60")
    rows = set_answers(studies, rows, "R4", dict.fromkeys(GRID, "3"))
    config = {"quality": {"duration_column": "seconds", "speeding": "exclude", "straightlining": "exclude"}}
    responses = studies.read(studies.write(grid_questionnaire(), rows, config=config))
    (exclusion,) = responses.exclusions
    assert (exclusion.row, exclusion.kind, exclusion.reason) == (5, "quality", "quality: straightlining, speeding")
    studies.assert_account_adds_up(responses)


# ----------------------------------------------------------------------------------- missing answers


def test_too_many_missing_answers(studies) -> None:
    """More than half of the 11 unconditional rating items unanswered (6 of 11) flags; 5 of 11 does not."""
    rows = set_answers(studies, grid_rows(), "R2", dict.fromkeys(RATING[:6], ""))
    rows = set_answers(studies, rows, "R3", dict.fromkeys(RATING[:5], ""))
    rows = set_answers(studies, rows, "R4", {**dict.fromkeys(RATING[:4], ""), "p5": "9", "handling": ""})
    responses = studies.read(studies.write(grid_questionnaire(), rows))
    assert flagged(responses, "missing") == ["R2"]  # R4: don't know counts as unanswered, handling does not count
    config = {"quality": {"max_missing_share": 0.4}}
    responses = studies.read(studies.write(grid_questionnaire(), rows, config=config))
    assert flagged(responses, "missing") == ["R2", "R3", "R4"]
    config = {"quality": {"missing": "exclude"}}
    responses = studies.read(studies.write(grid_questionnaire(), rows, config=config))
    assert [(e.row, e.kind, e.rule, e.reason) for e in responses.exclusions] == [
        (3, "quality", "missing", "quality: missing")]


# -------------------------------------------------------------------------------------------- off


@pytest.mark.parametrize("check", ["straightlining", "speeding", "missing"])
def test_off_disables_a_check(studies, check: str) -> None:
    rows = studies.set_cell(grid_rows(seconds=True), "R2", "seconds", "10")
    rows = set_answers(studies, rows, "R5", dict.fromkeys(GRID, "2"))
    rows = set_answers(studies, rows, "R8", dict.fromkeys(RATING[:8], ""))
    on = {"duration_column": "seconds", "straightlining": "exclude", "speeding": "exclude", "missing": "exclude"}
    responses = studies.read(studies.write(grid_questionnaire(), rows, config={"quality": on}))
    assert sorted(e.reason for e in responses.exclusions) == [
        "quality: missing", "quality: speeding", "quality: straightlining"]
    responses = studies.read(studies.write(grid_questionnaire(), rows, config={"quality": {**on, check: "off"}}))
    assert check not in responses.flags and check not in responses.account()["flagged"]
    assert f"quality: {check}" not in {e.reason for e in responses.exclusions}
    assert len(responses.exclusions) == 2
    studies.assert_account_adds_up(responses)


# ---------------------------------------------------------------------------------- simulated data


def test_straightlining_finds_the_planted_straightliners(tmp_path: Path, pm) -> None:
    """surveyengine.simulate plants straight-liners at STRAIGHTLINER_RATE (2%) across the whole grid.

    n = 5000: the planted count is Binomial(5000, 0.02), mean 100, sd sqrt(5000 x 0.02 x 0.98) = 9.9,
    so the flagged share must lie within 4 sd (0.8 points) of the rate. Against the truth file the
    check must be nearly exact: a planted straight-liner answers at least 10 of the 38 grid items
    (items go missing at 4%, don't know at 1.5%, 5 after-sales items are asked of serviced
    customers only), so none is missed; a real respondent giving the same point to 10+ items of a
    1-10 scale is rare, so at most 0.1% of n (5) more are flagged.
    """
    import pyarrow as pa

    from surveyengine.simulate import STRAIGHTLINER_RATE, simulate

    n = 5000
    questionnaire = REPO / "questionnaires" / "auto-dealer" / "questionnaire.yaml"
    (tmp_path / "surveyengine.yaml").write_text(f"questionnaire: {questionnaire.as_posix()}\ndata: [simulated.csv]\n",
                                                encoding="utf-8")
    study = load_study(tmp_path, pm)
    grid = [item for factor in study.questionnaire.factors for item in factor.all_items()]
    assert len(grid) == 38
    columns, truth = simulate(study.questionnaire, n, seed=11)
    table = pa.table({name: pa.array([str(v) for v in values.tolist()], type=pa.string()) if values.dtype == object
                      else pa.array(values, from_pandas=True) for name, values in columns.items()})
    responses = build_responses(study, [RawTable(table, "simulated.csv")])
    assert responses.n == n and responses.exclusions == []
    found = int(responses.flags["straightlining"].sum())
    tolerance = 4 * np.sqrt(STRAIGHTLINER_RATE * (1 - STRAIGHTLINER_RATE) / n)
    assert abs(found / n - STRAIGHTLINER_RATE) <= tolerance
    assert truth["straightliners"] <= found <= truth["straightliners"] + n // 1000
    # every flagged respondent gave one answer to every grid item answered
    answers = responses.answers[:, [responses.items.index(item.id) for item in grid]]
    rows = answers[responses.flags["straightlining"]]
    assert np.all(np.nanmin(rows, axis=1) == np.nanmax(rows, axis=1))
    assert np.all((~np.isnan(rows)).sum(axis=1) >= 10)
