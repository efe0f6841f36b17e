"""Chart geometry (surveyengine.site.charts) and the macros that draw it."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import jinja2
import pytest

from surveyengine.site import charts
from surveyengine.site.builder import _environment
from surveyengine.site.themes import load_theme


def test_nice_ticks_cover_the_range_in_round_steps() -> None:
    assert charts.nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert charts.nice_ticks(-3.2, 7.9) == [-4, -2, 0, 2, 4, 6, 8]
    assert charts.nice_ticks(61.3, 67.9)[0] <= 61.3 and charts.nice_ticks(61.3, 67.9)[-1] >= 67.9


def test_fit_counts_cjk_as_double_width() -> None:
    assert charts.text_units("abc") == 3
    assert charts.text_units("服务") == 4
    assert charts.fit("short", 100) == "short"
    cut = charts.fit("经销商销售与服务满意度调查", 70)  # 10 units: 4 characters and the ellipsis
    assert cut.endswith("…") and charts.text_units(cut[:-1]) <= 9


def test_bars_scale_values_and_whiskers() -> None:
    chart = charts.bars([{"label": "half", "value": 50.0, "ci_low": 40.0, "ci_high": 60.0},
                         {"label": "full", "value": 100.0}, {"label": "none", "value": None}],
                        low=0, high=100, reference=25.0, reference_label="avg", width=720, label_width=260)
    left, right = chart.plot_left, chart.plot_right
    half, full, empty = chart.bars
    assert half["x"] == left and half["w"] == pytest.approx((right - left) / 2, abs=0.1)
    assert full["w"] == pytest.approx(right - left, abs=0.1)
    assert half["ci"][0] == pytest.approx(left + 0.4 * (right - left), abs=0.1)
    assert half["ci"][1] == pytest.approx(left + 0.6 * (right - left), abs=0.1)
    assert half["text_x"] > half["ci"][1]  # the value is written beyond the whisker
    assert empty["x"] is None and empty["value"] is None
    assert chart.reference["x"] == pytest.approx(left + 0.25 * (right - left), abs=0.1)
    assert [t["label"] for t in chart.ticks] == ["0", "20", "40", "60", "80", "100"]


def test_negative_bars_grow_left_from_zero() -> None:
    chart = charts.bars([{"label": "gap", "value": -1.0}, {"label": "gain", "value": 2.0}], low=-2, high=2)
    negative, positive = chart.bars
    assert chart.zero == pytest.approx((chart.plot_left + chart.plot_right) / 2, abs=0.1)
    assert negative["x"] + negative["w"] == pytest.approx(chart.zero, abs=0.1)
    assert negative["w"] == pytest.approx((chart.zero - chart.plot_left) / 2, abs=0.2)
    assert positive["x"] == chart.zero and negative["anchor"] == "end"


def test_stacked_shares_fill_the_width_in_category_order() -> None:
    chart = charts.stacked([{"label": "q1", "shares": [10.0, 30.0, 60.0]}, {"label": "q2", "shares": None}],
                           ["low", "mid", "high"], width=600)
    segments = chart.rows[0]["segments"]
    assert [s["w"] for s in segments] == [60.0, 180.0, 360.0]
    assert [s["x"] for s in segments] == [0.0, 60.0, 240.0]
    assert [s["c"] for s in segments] == [0, 5, 10]  # the diverging ramp's ends and middle
    assert chart.rows[1]["segments"] == []
    assert [k["label"] for k in chart.legend] == ["low", "mid", "high"]


def test_trend_breaks_the_line_at_a_missing_wave() -> None:
    chart = charts.trend(["w1", "w2", "w3", "w4", "w5"], [{"name": "csi", "values": [60, 62, None, 65, None]}],
                         low=50, high=70)
    series = chart.series[0]
    assert len(series["paths"]) == 1 and series["paths"][0].count("L") == 1  # w1-w2; w4 stands alone
    assert len(series["points"]) == 3
    left, top, right, bottom = chart.plot
    y60 = next(p["y"] for p in series["points"] if p["value"] == 60)
    assert y60 == pytest.approx(bottom - (bottom - top) / 2, abs=0.1)
    xs = [p["x"] for p in series["points"]]
    assert xs == sorted(xs)


def test_scatter_places_drivers_in_their_quadrants() -> None:
    points = [{"label": "weak but important", "x": 60, "y": 0.30, "quadrant": "concentrate-here"},
              {"label": "strong and important", "x": 80, "y": 0.28, "quadrant": "keep-up"},
              {"label": "weak, minor", "x": 62, "y": 0.05, "quadrant": "low-priority"},
              {"label": "strong, minor", "x": 82, "y": 0.06, "quadrant": "possible-overkill"}]
    chart = charts.scatter(points, cut_x=71.0, cut_y=0.1725, quadrant_labels={"keep-up": "Keep up"})
    by_label = {p["label"]: p for p in chart.points}
    for p in points:
        drawn = by_label[p["label"]]
        left_of_cut = drawn["x"] < chart.cut_x
        above_cut = drawn["y"] < chart.cut_y  # SVG y grows downwards
        expected = {(True, True): "concentrate-here", (False, True): "keep-up", (True, False): "low-priority",
                    (False, False): "possible-overkill"}[(left_of_cut, above_cut)]
        assert expected == p["quadrant"]
    assert {q["id"] for q in chart.quadrants} == set(charts.QUADRANTS)
    assert next(q for q in chart.quadrants if q["id"] == "keep-up")["label"] == "Keep up"
    assert chart.y_ticks[0]["label"] == "0"  # importance has no negative axis


def test_scatter_labels_do_not_overlap() -> None:
    points = [{"label": f"driver {k}", "x": 70.0, "y": 0.2} for k in range(4)]
    chart = charts.scatter(points, cut_x=70.0, cut_y=0.2)
    ys = sorted(p["text_y"] for p in chart.points)
    assert all(b - a >= 13 for a, b in zip(ys, ys[1:]))


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return _environment(load_theme("default"))


def _render_macro(env: jinja2.Environment, call: str, **context: object) -> str:
    template = env.from_string('{% from "_charts.html" import bar_chart, stacked_chart, trend_chart, '
                               'scatter_chart with context %}' + call)
    return template.render(t=load_theme("default").gettext("en"), **context)


def _svg(html: str) -> ElementTree.Element:
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    return ElementTree.fromstring(svg.replace('role="img"', 'role="img" xmlns="http://www.w3.org/2000/svg"', 1))


def test_bar_macro_draws_title_description_and_data_table(env: jinja2.Environment) -> None:
    chart = charts.bars([{"label": "Service <b>", "value": 70.0, "ci_low": 68.0, "ci_high": 72.0, "base": 812}],
                        low=0, high=100)
    html = _render_macro(env, "{{ bar_chart('c1', 'Scores', 'What it shows', chart, 'Score', "
                              "[{'header': 'Base', 'key': 'base', 'digits': 0}]) }}", chart=chart)
    svg = _svg(html)
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.find(f"{ns}title").text == "Scores" and svg.find(f"{ns}desc").text == "What it shows"
    assert svg.get("aria-labelledby") == "c1-t c1-d"
    rect = svg.find(f"{ns}rect")
    assert float(rect.get("width")) == pytest.approx(chart.bars[0]["w"])
    assert "Service &lt;b&gt;" in html and "<b>" not in html
    assert re.search(r"<td class=\"num\">70\.0</td><td class=\"num\">68\.0–72\.0</td><td class=\"num\">812</td>", html)


def test_trend_and_scatter_macros_are_valid_svg(env: jinja2.Environment) -> None:
    trend = charts.trend(["2026-01", "2026-02"], [{"name": "CSI", "values": [60.0, 61.5]}])
    scatter = charts.scatter([{"label": "a", "x": 60, "y": 0.3, "quadrant": "concentrate-here"}], cut_x=60, cut_y=0.3)
    html = _render_macro(env, "{{ trend_chart('t1', 'Trend', 'd', trend) }}", trend=trend)
    assert _svg(html).find("{http://www.w3.org/2000/svg}path").get("d").startswith("M")
    assert "<th scope=\"row\">2026-02</th><td class=\"num\">61.5</td>" in html
    html = _render_macro(env, "{{ scatter_chart('s1', 'Matrix', 'd', scatter, rows) }}", scatter=scatter,
                         rows=[{"label": "a", "value": 0.3, "performance": 60.0, "quadrant_label": "Concentrate"}])
    svg = _svg(html)
    assert len([e for e in svg.iter() if e.get("class") == "cut"]) == 2
    assert "Concentrate" in html


def test_default_theme_templates_parse(env: jinja2.Environment) -> None:
    folder = Path(load_theme("default").folders[-1]) / "templates"
    for path in folder.glob("*.html"):
        env.get_template(path.name)
