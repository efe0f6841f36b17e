"""The structural model on the site: the model page (path diagram, paths, constructs, outer model, measurement
quality) and the construct indices on unit pages; the path diagram's geometry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from surveyengine.cli import cli
from surveyengine.site.charts import path_diagram


@pytest.fixture(scope="module")
def acsi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("acsi") / "study"
    assert CliRunner().invoke(cli, ["init", str(folder), "--example", "acsi", "--n", "1200"]).exit_code == 0
    result = CliRunner().invoke(cli, ["build", str(folder), "--quiet", "--format", "html,json"])
    assert result.exit_code == 0, result.output
    return folder


def test_the_model_page_shows_every_path_and_construct(acsi: Path) -> None:
    results = json.loads((acsi / "site" / "results.json").read_text(encoding="utf-8"))
    page = (acsi / "site" / "model.html").read_text(encoding="utf-8")
    assert page.count('class="path-edge') == len(results["model"]["paths"]) == 12
    for path in results["model"]["paths"]:
        assert f"{path['coefficient']:.3f}" in page
    for construct in results["model"]["constructs"]:
        assert construct["label"] in page
    assert "HTMT" in page and "Composite reliability" in page
    index = (acsi / "site" / "index.html").read_text(encoding="utf-8")
    assert 'href="model.html"' in index
    unit = next((acsi / "site" / "segments" / "operator").glob("*.html")).read_text(encoding="utf-8")
    assert "Construct indices" in unit


def test_the_model_page_speaks_chinese(acsi: Path) -> None:
    config = acsi / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "language: zh\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", str(acsi), "--quiet", "--out", str(acsi / "zh")])
    assert result.exit_code == 0, result.output
    page = (acsi / "zh" / "model.html").read_text(encoding="utf-8")
    assert "结构方程模型" in page and "路径系数" in page and "顾客满意度" in page


def test_a_study_without_a_model_has_no_model_page(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    assert CliRunner().invoke(cli, ["init", str(folder), "--n", "300"]).exit_code == 0
    assert CliRunner().invoke(cli, ["build", str(folder), "--quiet"]).exit_code == 0
    assert not (folder / "site" / "model.html").exists()
    assert 'href="model.html"' not in (folder / "site" / "index.html").read_text(encoding="utf-8")


def test_path_diagram_layers_constructs_and_arcs_over_the_boxes_it_skips() -> None:
    nodes = [{"id": c, "label": c.title(), "r2": None if c == "a" else 0.5} for c in "abcd"]
    edges = [{"from": "a", "to": "b", "value": 0.5, "significant": True},
             {"from": "b", "to": "c", "value": 0.4}, {"from": "c", "to": "d", "value": 0.3},
             {"from": "a", "to": "d", "value": 0.1}]
    chart = path_diagram(nodes, edges, width=600)
    x = {n["id"]: n["x"] for n in chart["nodes"]}
    assert x["a"] < x["b"] < x["c"] < x["d"]  # one column per step of the longest path
    straight, skipping = chart["edges"][0], chart["edges"][3]
    assert straight["d"].startswith("M") and " L" in straight["d"] and straight["significant"]
    assert " Q" in skipping["d"]  # a curve, not a line through b and c
    top = min(n["y"] for n in chart["nodes"])
    control_y = float(skipping["d"].split(" Q")[1].split(",")[1].split(" ")[0])
    assert control_y < top  # it goes over the boxes
    assert chart["height"] > max(n["y"] + n["h"] for n in chart["nodes"])
    assert all(n["r2"] is None for n in chart["nodes"] if n["id"] == "a")  # exogenous: no R²
    long = path_diagram([{"id": "x", "label": "Customer expectations of the brand", "r2": 0.2},
                         {"id": "y", "label": "顾客满意度与忠诚度综合评价指标", "r2": 0.3}],
                        [{"from": "x", "to": "y", "value": 0.2}], width=300)
    assert all(1 <= len(n["lines"]) <= 2 for n in long["nodes"])
