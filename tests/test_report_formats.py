"""The short and client-facing result formats: ``md``, ``xlsx`` and ``review`` (the ISO 9001 pack).

Each output is opened by an independent reader: the Markdown rendered by
``markdown`` and parsed by ``html.parser``, the workbook by openpyxl, the review
page by ``html.parser``. Hostile unit codes and labels (formula-looking text,
Markdown and HTML markup) come from the data and the questionnaire.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import markdown
import openpyxl
import pytest
from click.testing import CliRunner, Result

from surveyengine.build import build
from surveyengine.cli import cli
from surveyengine.plugins import get_plugin_manager
from surveyengine.resources import resource_dir
from surveyengine.study import load_study
from test_plugins import load_module

EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01
HOSTILE_LABEL = '*x*|y <img src=x onerror=alert(1)> [a](javascript:alert(1)) `c`'
HOSTILE_CODE = '=HYPERLINK("http://example.invalid","x")'


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env=EPOCH, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def plugin(name: str):
    return load_module(resource_dir("plugins") / f"{name}.py", "surveyengine_test_outputs")


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def names(self) -> set[str]:
        return {tag for tag, _ in self.tags}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A demo study whose dealer 101 has a formula for a code and dealer 102 a hostile label, built in every format."""
    folder = tmp_path_factory.mktemp("formats") / "study"
    assert run("init", str(folder), "--n", "400").exit_code == 0
    data = folder / "data" / "responses.csv"
    quoted = '"' + HOSTILE_CODE.replace('"', '""') + '"'
    text = data.read_text(encoding="utf-8")
    assert ',"101",' in text
    data.write_text(text.replace(',"101",', f",{quoted},"), encoding="utf-8")
    questionnaire = folder / "questionnaire.yaml"
    text = questionnaire.read_text(encoding="utf-8")
    questionnaire.write_text(text.replace("{en: Ruifeng Motors Beijing Yizhuang,", f"{{en: {json.dumps(HOSTILE_LABEL)},"),
                             encoding="utf-8")
    result = run("build", str(folder), "--format", "json,md,xlsx,review")
    assert result.exit_code == 0, result.output
    return folder / "site"


@pytest.fixture(scope="module")
def results(built: Path):
    """The Results object of the same study (built again in-process, from the cache)."""
    pm = get_plugin_manager(entry_points=False)
    return build(load_study(built.parent, pm), pm, built.parent / "again", ("json",)).results


def with_hostile_flag(results):
    """The results with the hostile-labelled dealer flagged below average, so every short output shows it."""
    changed = copy.deepcopy(results)
    dealer = next(u for u in changed.segment("dealer").units if u.label == HOSTILE_LABEL)
    dealer.flags = [*dealer.flags, "below-average"]
    return changed


# ------------------------------------------------------------------------------------ md


def test_md_summary_shows_the_headline_numbers_of_results_json(built: Path) -> None:
    data = json.loads((built / "results.json").read_text(encoding="utf-8"))
    text = (built / "summary.md").read_text(encoding="utf-8")
    page = Tags(markdown.markdown(text, extensions=["tables"]))
    assert {"h1", "h2", "table"} <= page.names()
    csi = data["total"]["headline"]["csi"]
    assert f"| CSI (weighted) | {csi['csi']['value']:.1f} |" in text
    assert f"| CSI (equal weights) | {csi['csi_equal']['value']:.1f} |" in text
    change = data["waves"][-1]["comparison"]["previous_wave"]
    assert f"**Change since {change['wave']}**" in text
    assert f"{change['csi_change']:+.1f} CSI points, {'significant' if change['significant'] else 'not significant'}" \
        in text
    flagged = [u for s in data["segments"] for u in s["units"] if {"below-average", "above-average"} & set(u["flags"])]
    assert text.count("below average |") + text.count("above average |") == len(flagged)
    top = data["total"]["drivers"]["priorities"][:5]
    assert [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| ") and " | 0." in line][-5:] == [
        f"| {p['priority']}" for p in top]
    assert f"{data['account']['rows_read']:,} rows read" in text
    comments = data["items"]  # respondent text never appears: no comment of the data is in the summary
    assert all(item["type"] != "text" or item["label"] not in text for item in comments)


def test_md_escapes_labels_so_markup_stays_text(results) -> None:
    md_output = plugin("md_output")
    from surveyengine.summary import summarise

    text = md_output.render(summarise(with_hostile_flag(results)))
    page = Tags(markdown.markdown(text, extensions=["tables"]))
    assert not {"img", "em", "a", "code", "script"} & page.names()
    assert HOSTILE_LABEL in " ".join("".join(page.text).split())  # shown as text, whole
    row = next(line for line in text.splitlines() if "img" in line)
    assert row.count(" | ") == 6  # the '|' of the label did not split the row: 7 cells


def test_md_text_escapes_markdown_and_html() -> None:
    md_text = plugin("md_output").md_text
    assert md_text("*x*|y") == r"\*x\*\|y"
    assert md_text("<img src=x>") == "&lt;img src=x&gt;"
    assert md_text("a\nb") == "a b"


# ------------------------------------------------------------------------------------ xlsx


def test_xlsx_workbook_sheets_formats_and_values(built: Path) -> None:
    data = json.loads((built / "results.json").read_text(encoding="utf-8"))
    workbook = openpyxl.load_workbook(built / "results.xlsx")
    assert workbook.sheetnames == ["League Region", "League Dealer", "Drivers", "Priorities", "Items", "Account",
                                   "Banner by_region", "Banner by_satisfaction"]  # the demo's banners
    league = workbook["League Dealer"]
    header = [c.value for c in league[1]]
    assert header[:3] == ["unit", "unit_label", "parent"] and {"csi", "csi_equal", "rank_csi", "rank_csi_equal",
                                                               "flags", "p"} <= set(header)
    assert league.freeze_panes == "C2" and league[1][0].font.bold
    assert league.column_dimensions["B"].width > 10
    rows = [dict(zip(header, (c.value for c in row))) for row in league.iter_rows(min_row=2)]
    units = data["segments"][1]["units"]
    assert len(rows) == len(units)
    for row, unit in zip(rows, units):
        assert row["csi"] == unit["headline"]["csi"]["csi"]["value"]
        assert row["rank_csi"] == unit["ranks"].get("csi")
    csi_cell = league.cell(2, header.index("csi") + 1)
    assert csi_cell.number_format == "0.0" and isinstance(csi_cell.value, float)
    drivers = workbook["Drivers"]
    assert [c.value for c in drivers[1]][7:10] == ["model", "outcome", "method"]
    items = workbook["Items"]
    assert items.max_row - 1 == len(data["total"]["items"])
    account = {r[0]: r[2] for r in workbook["Account"].iter_rows(min_row=2, values_only=True)}
    assert account["rows_read"] == data["account"]["rows_read"]


def test_xlsx_text_is_never_a_formula(built: Path) -> None:
    workbook = openpyxl.load_workbook(built / "results.xlsx")
    cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert not [c.value for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))]
    units = {row[0] for row in workbook["League Dealer"].iter_rows(min_row=2, values_only=True)}
    assert "'" + HOSTILE_CODE in units
    labels = {row[1] for row in workbook["League Dealer"].iter_rows(min_row=2, values_only=True)}
    assert HOSTILE_LABEL in labels


def test_xlsx_without_openpyxl_is_a_clear_error(built: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl raises ImportError
    # --no-cache: a rebuild of unchanged results would place the last build's workbook without openpyxl
    result = run("build", str(built.parent), "--format", "xlsx", "--out", str(built.parent / "no-xlsx"), "--no-cache")
    assert result.exit_code == 1
    assert "writing .xlsx needs openpyxl: pip install 'surveyengine[xlsx]'" in result.output
    assert not (built.parent / "no-xlsx").exists()


# ------------------------------------------------------------------------------------ review


def test_review_pack_maps_results_to_iso_clauses(built: Path) -> None:
    data = json.loads((built / "results.json").read_text(encoding="utf-8"))
    text = (built / "management-review.html").read_text(encoding="utf-8")
    page = Tags(text)
    ids = {attrs.get("id") for _, attrs in page.tags}
    assert {"c9-1-2", "c9-1-3", "c9-3-2", "c10-2", "priorities", "account"} <= ids
    words = " ".join(page.text)
    for clause in ("9.1.2", "9.1.3", "9.3.2", "10.2"):
        assert clause in words
    assert f"{data['total']['headline']['csi']['csi']['value']:.1f}" in words
    assert f"{data['total']['headline']['complaint']['rate']['value']:.1f}" in words
    priorities = [attrs for tag, attrs in page.tags if tag == "section" and attrs.get("id") == "priorities"]
    assert priorities and words.count("open") >= min(10, len(data["total"]["drivers"]["priorities"]))
    assert "@page" in text and "@media print" in text


def test_review_pack_is_self_contained(built: Path) -> None:
    page = Tags((built / "management-review.html").read_text(encoding="utf-8"))
    assert not {"script", "link", "img", "iframe", "object"} & page.names()
    for _, attrs in page.tags:
        for name in ("src", "href"):
            assert attrs.get(name) in (None,) or attrs[name].startswith("#"), attrs


def test_review_pack_escapes_labels(results) -> None:
    review = plugin("review_output")
    text = review.render(with_hostile_flag(results))
    page = Tags(text)
    assert "img" not in page.names() and "script" not in page.names()
    assert HOSTILE_LABEL in "".join(page.text)


def test_review_pack_speaks_the_studys_language(built: Path, tmp_path: Path) -> None:
    study = tmp_path / "study"
    shutil.copytree(built.parent, study, ignore=shutil.ignore_patterns("site", "again"))
    config = study / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "language: zh\n", encoding="utf-8")
    result = run("build", str(study), "--format", "review")
    assert result.exit_code == 0, result.output
    text = (study / "site" / "management-review.html").read_text(encoding="utf-8")
    assert '<html lang="zh">' in text and "管理评审资料" in text and "顾客满意的监视" in text
    assert "Monitoring of customer satisfaction" not in text


def test_md_lists_the_most_extreme_flagged_units_and_counts_the_rest(results) -> None:
    """With hundreds of flagged dealers the CI comment lists the 20 furthest from their rest and counts the others."""
    from dataclasses import replace

    from surveyengine.summary import FlaggedUnit, summarise

    md_output = plugin("md_output")
    units = [FlaggedUnit("Dealer", f"D{k:03d}", "below-average" if k % 3 else "above-average", 120, 60.0,
                         -float(k) if k % 3 else float(k), 0.001, "rest of its region") for k in range(1, 61)]
    lines = md_output.render(replace(summarise(results), flagged=units)).splitlines()
    rows = [line for line in lines if line.startswith("| Dealer")]
    assert len(rows) == md_output.MAX_FLAGGED
    assert "D059" in rows[0]  # the furthest below first
    assert any("… and 40 more flagged units (40 below and 20 above average in all" in line for line in lines)
