"""Comments: collected from the text columns, carried through the cache, published without hidden units."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from surveyengine.build import build
from surveyengine.cli import cli
from surveyengine.plugins import get_plugin_manager
from surveyengine.study import load_study


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    assert CliRunner().invoke(cli, ["init", str(folder), "--n", "300"]).exit_code == 0
    return folder


def test_every_text_answer_becomes_a_comment_and_survives_the_cache(study: Path, tmp_path: Path) -> None:
    path = study / "questionnaire.yaml"  # nothing hidden: every comment keeps its wave and units
    path.write_text(path.read_text(encoding="utf-8").replace("privacy_min: 5 ", "privacy_min: 1 "), encoding="utf-8")
    with (study / "data" / "responses.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = sorted((row["month"], row[item], row["dealer"]) for row in rows
                      for item in ("low_reason", "complaint_text", "comment") if row[item].strip())
    pm = get_plugin_manager()
    first = build(load_study(study, pm), pm, tmp_path / "a")
    again = build(load_study(study, pm), pm, tmp_path / "b")
    assert not first.cached and again.cached
    for report in (first, again):
        comments = report.results.comments
        assert sorted((c.wave, c.text, c.units.get("dealer", "?")) for c in comments) == sorted(
            (w, t, d if any(u.key["unit"] == d and not u.suppressed for u in report.results.segment("dealer").units)
             else "?") for w, t, d in expected)
        waves = [c.wave for c in comments]
        assert waves == sorted(waves, reverse=True)  # most recent first
    assert [(c.item, c.text, c.score, c.complained) for c in first.results.comments] == [
        (c.item, c.text, c.score, c.complained) for c in again.results.comments]
    def answer(text: str) -> int | None:
        return int(text) if text not in ("", "97", "98", "99") else None

    assert sorted((c.wave, c.text, c.score, c.complained) for c in first.results.comments if c.item == "comment") \
        == sorted((row["month"], row["comment"], answer(row["overall"]), row["complained"] == "1")
                  for row in rows if row["comment"].strip())
    assert not any(hasattr(c, "respondent_id") for c in first.results.comments)


def test_a_suppressed_unit_is_left_out_of_its_comments(study: Path, tmp_path: Path) -> None:
    path = study / "questionnaire.yaml"
    text = path.read_text(encoding="utf-8").replace("min_base: 30 ", "min_base: 40 ")
    path.write_text(text.replace("privacy_min: 5 ", "privacy_min: 25 "), encoding="utf-8")
    pm = get_plugin_manager()
    report = build(load_study(study, pm), pm, tmp_path / "site", ("json",))
    hidden = {u.key["unit"] for u in report.results.segment("dealer").units if u.suppressed}
    assert hidden
    assert report.results.comments
    assert not any(c.units.get("dealer") in hidden for c in report.results.comments)
    assert any("dealer" not in c.units for c in report.results.comments)  # kept, without the unit


def test_a_comment_is_not_pinned_to_a_hidden_unit_month(study: Path, tmp_path: Path) -> None:
    path = study / "questionnaire.yaml"
    text = path.read_text(encoding="utf-8").replace("min_base: 30 ", "min_base: 40 ")
    path.write_text(text.replace("privacy_min: 5 ", "privacy_min: 12 "), encoding="utf-8")
    pm = get_plugin_manager()
    report = build(load_study(study, pm), pm, tmp_path / "site", ("json",))
    dealers = report.results.segment("dealer")
    hidden_cells = {(g.key["unit"], g.key["wave"]) for g in dealers.trend if g.suppressed}
    shown_units = {u.key["unit"] for u in dealers.units if not u.suppressed}
    assert any(unit in shown_units for unit, _ in hidden_cells), "the fixture must hide a month of a shown dealer"
    for c in report.results.comments:
        if "dealer" in c.units:
            assert (c.units["dealer"], c.wave) not in hidden_cells
    assert any(c.wave is None and "dealer" in c.units for c in report.results.comments)
