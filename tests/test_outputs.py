"""Outputs of ``surveyengine build``: results.json, the tidy CSV tables, and the cached rebuild.

Every test runs the real command line (click's CliRunner) on a study made by
``surveyengine init``, copied into the test's own folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from surveyengine.cli import cli
from surveyengine.results import RESULTS_SCHEMA_VERSION
from surveyengine.tables import METRIC_COLUMNS

EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01
CACHED = "statistics unchanged: using the cache"
READING = "reading responses"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def initialised(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("init") / "study"
    result = run("init", str(folder), "--n", "400")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def study(initialised: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "study"
    shutil.copytree(initialised, folder)
    return folder


def build(folder: Path, *extra: str) -> Result:
    result = run("build", str(folder), "--format", "json,csv", *extra, env=EPOCH)
    assert result.exit_code == 0, result.output
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def edit_rows(path: Path, change) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    change(rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


# ------------------------------------------------------------------------------ results.json


def test_build_writes_results_json_and_the_tables(study: Path) -> None:
    result = build(study)
    assert "built 8 files into" in result.stdout  # the demo study declares banners: tables/banners.csv
    site = study / "site"
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()) == [
        "results.json", "tables/account.csv", "tables/banners.csv", "tables/distributions.csv", "tables/exclusions.csv",
        "tables/importance.csv", "tables/metrics.csv", "tables/priorities.csv"]
    data = json.loads((site / "results.json").read_text(encoding="utf-8"))
    assert data["schema_version"] == RESULTS_SCHEMA_VERSION == 3
    assert set(data) == {"schema_version", "study", "account", "respondents", "index", "factors", "items", "total",
                         "waves", "segments", "warnings", "exclusions", "model", "measurement", "diagnostics", "generated",
                         "comments", "coding", "banners"}
    assert data["generated"] == "2026-01-01"
    assert data["study"]["id"] == "auto-dealer"
    assert data["respondents"] == data["account"]["rows_used"] == data["total"]["base"]
    assert data["account"]["rows_read"] == 400
    assert set(data["index"]) == {"method", "item_method", "weights", "equal_weights", "r2", "csi_weights", "drivers",
                                  "outcome", "model_min_base", "bootstrap", "seed", "min_base", "privacy_min", "note"}
    assert sum(data["index"]["weights"].values()) == pytest.approx(1, abs=1e-5)
    assert data["index"]["drivers"] == ["product", "service", "image"]
    group_keys = {"key", "label", "base", "base_eff", "flags", "headline", "factors", "items", "comparison", "drivers",
                  "ranks", "model"}
    total = data["total"]
    assert set(total) == group_keys and total["key"] == {"level": "total"}
    assert set(total["headline"]) == {"csi", "nps", "complaint"}
    assert set(total["headline"]["csi"]["csi"]) == {"value", "base", "ci_low", "ci_high", "p"}
    assert total["headline"]["csi"]["csi"]["ci_low"] < total["headline"]["csi"]["csi"]["value"]
    assert {"score", "alpha"} <= set(total["factors"]["hardware"])
    assert {"mean", "sd", "score", "top_box", "bottom_box", "distribution", "gap", "expectation_met",
            "expectation_mean"} == set(total["items"]["hw_quality"])
    assert len(total["items"]["hw_quality"]["distribution"]["value"]) == 10
    assert [w["key"]["wave"] for w in data["waves"]] == sorted(w["key"]["wave"] for w in data["waves"])
    assert sum(w["base"] for w in data["waves"]) == data["respondents"]
    assert "previous_wave" in data["waves"][1]["comparison"]
    segments = {s["id"]: s for s in data["segments"]}
    assert set(segments) == {"region", "dealer"} and segments["dealer"]["parent"] == "region"
    for segment in segments.values():
        assert set(segment) == {"id", "label", "parent", "units", "trend"}
        assert sum(u["base"] for u in segment["units"]) == data["respondents"]
        assert sum(g["base"] for g in segment["trend"]) == data["respondents"]
        for unit in segment["units"]:
            assert set(unit) == group_keys and unit["key"]["segment"] == segment["id"]
        for group in segment["trend"]:
            assert set(group["key"]) >= {"segment", "unit", "wave"} and group["items"] == {}
    dealer = next(u for u in segments["dealer"]["units"] if "suppressed" not in u["flags"])
    assert dealer["comparison"]["against"] == "rest of its region"
    assert {"against", "product", "service", "image", "overall", "csi"} == set(dealer["comparison"])


def number(text: str) -> Any:
    return None if text == "" else float(text)


def test_the_tables_hold_every_value_of_results_json(study: Path) -> None:
    build(study)
    data = json.loads((study / "site" / "results.json").read_text(encoding="utf-8"))
    rows = read_csv(study / "site" / "tables" / "metrics.csv")
    with (study / "site" / "tables" / "metrics.csv").open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(METRIC_COLUMNS)
    table = {(r["level"], r["unit"], r["wave"], r["kind"], r["target"], r["metric"]): r for r in rows}
    assert len(table) == len(rows)  # one row per group, target and metric
    shares = read_csv(study / "site" / "tables" / "distributions.csv")
    distributions = {(r["level"], r["unit"], r["wave"], r["item"]): r for r in shares}
    assert len(distributions) == len(shares)  # one row per group and rating item
    scales = {item["id"]: item["scale"] for item in data["items"]}

    def groups():
        yield "total", data["total"]
        for group in data["waves"]:
            yield "wave", group
        for segment in data["segments"]:
            for group in segment["units"]:
                yield "segment", group
            for group in segment["trend"]:
                yield "segment-wave", group

    seen = distributed = 0
    for level, group in groups():
        for kind, section in (("headline", "headline"), ("factor", "factors"), ("item", "items")):
            for target, metrics in group[section].items():
                for name, value in metrics.items():
                    key = (level, group["key"].get("unit", ""), group["key"].get("wave", ""), kind, target)
                    if name == "distribution":  # a column per scale point
                        row = distributions[(*key[:3], target)]
                        low, high = scales[target]
                        wanted = value["value"] or [None] * (high - low + 1)  # hidden: empty cells
                        assert [number(row[str(point)]) for point in range(low, high + 1)] == wanted
                        assert number(row["base"]) == value["base"] and row["flags"] == " ".join(group["flags"])
                        distributed += 1
                        continue
                    row = table[(*key, name)]
                    for field in ("value", "ci_low", "ci_high", "base", "p"):
                        assert number(row[field]) == value[field], (key, name, field)
                    assert row["flags"] == " ".join(group["flags"])
                    seen += 1
    assert seen == len(rows) and distributed == len(shares)


def test_account_and_exclusions_tables(study: Path) -> None:
    edit_rows(study / "data" / "responses.csv", lambda rows: rows[3].__setitem__(rows[0].index("region"), ""))
    build(study)
    data = json.loads((study / "site" / "results.json").read_text(encoding="utf-8"))
    account = data["account"]
    table = {(r["measure"], r["detail"]): int(r["count"]) for r in read_csv(study / "site" / "tables" /
                                                                           "account.csv")}
    assert table["rows_read", ""] == account["rows_read"] == 400
    assert table["rows_used", ""] == account["rows_used"] == 400 - account["rows_excluded"]
    assert table["rows_excluded", ""] == account["rows_excluded"] >= 1
    assert table["excluded", "no region"] == account["excluded_by_reason"]["no region"] == 1
    name = "study/data/responses.csv"  # as the user names it (from the working directory)
    for measure in ("read", "used", "excluded"):
        assert table[f"file {measure}", name] == account["files"][name][measure]
    for reason, count in account["excluded_by_reason"].items():
        assert table["excluded", reason] == count
    for check, count in account["flagged"].items():
        assert table["flagged", check] == count
    exclusions = read_csv(study / "site" / "tables" / "exclusions.csv")
    assert exclusions == [{k: "" if v is None else str(v) for k, v in e.items()} for e in data["exclusions"]]
    assert {"file": name, "row": "4", "column": "region", "reason": "no region", "rule": "missing_segment",
            "kind": "error"} in exclusions


def test_formula_looking_text_is_escaped_and_numbers_stay_numbers(study: Path) -> None:
    def change(rows: list[list[str]]) -> None:
        header = rows[0]
        dealer, overall = header.index("dealer"), header.index("overall")
        header[overall] = "@overall"  # the data column of 'overall' (mapped in the config below)
        for row in rows[1:]:
            if row[dealer] == "101":
                row[dealer] = '=HYPERLINK("http://example.invalid","x")'
            elif row[dealer] in ("202", "303", "403"):
                row[dealer] = {"202": "@202", "303": "+A303", "403": "-403"}[row[dealer]]
        rows[5][overall] = "55"  # outside the 1-10 scale: excluded, by the rule below

    edit_rows(study / "data" / "responses.csv", change)
    config = study / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "columns:\n  overall: '@overall'\n"
                      "validation:\n  out_of_range: exclude\n", encoding="utf-8")
    build(study)
    tables = study / "site" / "tables"
    data = json.loads((study / "site" / "results.json").read_text(encoding="utf-8"))
    units = {u["key"]["unit"] for u in data["segments"][1]["units"]}
    assert {'=HYPERLINK("http://example.invalid","x")', "@202", "+A303", "-403"} <= units  # JSON keeps the text
    rows = read_csv(tables / "metrics.csv")
    shown = {r["unit"] for r in rows if r["segment"] == "dealer"}
    assert {"'=HYPERLINK(\"http://example.invalid\",\"x\")", "'@202", "'+A303", "'-403"} <= shown
    assert not any(r[c].startswith(("=", "+", "-", "@")) and not re.fullmatch(r"-\d+(\.\d+)?(e-?\d+)?", r[c])
                   for r in rows for c in ("unit", "unit_label", "parent", "target", "metric", "flags"))
    distributions = read_csv(tables / "distributions.csv")
    assert {"'=HYPERLINK(\"http://example.invalid\",\"x\")", "'@202", "'+A303", "'-403"} <= {
        r["unit"] for r in distributions}
    labels = {r["unit_label"] for r in rows if r["unit"] == "'+A303"}
    assert labels == {"'+A303"}  # no label in the questionnaire: the code is the label, escaped too
    negative = [r for r in rows if r["value"].startswith("-")]
    assert negative and all(math.isfinite(float(r["value"])) for r in negative)
    assert not any(r[c].startswith("'") for r in rows for c in ("value", "ci_low", "ci_high", "base", "p"))
    exclusions = read_csv(tables / "exclusions.csv")
    assert [(e["column"], e["reason"]) for e in exclusions if e["row"] == "6"] == [
        ("'@overall", "'@overall: outside scale 1-10")]
    assert [e["reason"] for e in data["exclusions"] if e["row"] == 6] == ["@overall: outside scale 1-10"]


# ------------------------------------------------------------------------------------ cache


def test_a_rebuild_with_unchanged_data_uses_the_cache(study: Path) -> None:
    first = build(study)
    assert READING in first.stderr and CACHED not in first.stderr
    results = (study / "site" / "results.json").read_bytes()
    metrics = (study / "site" / "tables" / "metrics.csv").read_bytes()
    second = build(study)
    assert CACHED in second.stderr and READING not in second.stderr
    assert (study / "site" / "results.json").read_bytes() == results
    assert (study / "site" / "tables" / "metrics.csv").read_bytes() == metrics
    assert first.stdout == second.stdout


def test_changing_the_data_invalidates_the_cache(study: Path) -> None:
    build(study)
    before = json.loads((study / "site" / "results.json").read_text(encoding="utf-8"))
    edit_rows(study / "data" / "responses.csv", lambda rows: rows.pop())  # one respondent fewer
    changed = build(study)
    assert READING in changed.stderr and CACHED not in changed.stderr
    after = json.loads((study / "site" / "results.json").read_text(encoding="utf-8"))
    assert after["respondents"] == before["respondents"] - 1 and after["account"]["rows_read"] == 399
    assert CACHED in build(study).stderr  # the new data is cached in turn


def test_changing_the_questionnaire_invalidates_the_cache(study: Path) -> None:
    build(study)
    questionnaire = study / "questionnaire.yaml"
    questionnaire.write_text(questionnaire.read_text(encoding="utf-8").replace("privacy_min: 5", "privacy_min: 6"),
                             encoding="utf-8")
    result = build(study)
    assert READING in result.stderr and CACHED not in result.stderr


def test_no_cache_recomputes_the_same_results(study: Path) -> None:
    build(study)
    cached = (study / "site" / "results.json").read_bytes()
    fresh = build(study, "--no-cache")
    assert READING in fresh.stderr and CACHED not in fresh.stderr
    assert (study / "site" / "results.json").read_bytes() == cached
    assert CACHED in build(study).stderr  # --no-cache neither reads nor replaces the cache


def test_a_cache_of_another_format_is_not_used(study: Path) -> None:
    build(study)
    for meta in (study / ".surveyengine-cache").glob("summary-*.json"):
        content = json.loads(meta.read_text(encoding="utf-8"))
        meta.write_text(json.dumps({**content, "format": content["format"] - 1}), encoding="utf-8")
    result = build(study)
    assert READING in result.stderr and CACHED not in result.stderr


def test_changing_the_studys_own_plugins_invalidates_the_cache(study: Path) -> None:
    (study / "plugins").mkdir()
    plugin = study / "plugins" / "local.py"
    plugin.write_text('"""A study plugin (a reader would change what the data say)."""\n', encoding="utf-8")
    config = study / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "plugins: plugins\n", encoding="utf-8")
    build(study)
    assert CACHED in build(study).stderr
    plugin.write_text('"""A study plugin, changed."""\n', encoding="utf-8")
    result = build(study)
    assert READING in result.stderr and CACHED not in result.stderr
