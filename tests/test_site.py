"""The report site: deterministic, atomic, themable, bilingual, and escaping what it must."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from surveyengine.cli import cli
from surveyengine.errors import QuestionnaireError
from surveyengine.site.builder import _json_for_script, render_markdown
from surveyengine.site.themes import load_theme


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    assert invoke("init", str(folder), "--n", "400").exit_code == 0
    return folder


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_builds_are_byte_identical(study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")
    assert invoke("build", str(study), "--out", str(tmp_path / "a"), "-q").exit_code == 0
    assert invoke("build", str(study), "--out", str(tmp_path / "b"), "-q").exit_code == 0
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert "2026-05-28" in (tmp_path / "a" / "index.html").read_text(encoding="utf-8")


def test_failed_build_leaves_previous_site(study: Path) -> None:
    assert invoke("build", str(study), "-q").exit_code == 0
    before = tree_digest(study / "site")
    override = study / "theme" / "templates"
    override.mkdir(parents=True)
    (override / "index.html").write_text("{% extends 'base.html' %}{% block content %}{{ no_such_value }}"
                                         "{% endblock %}", encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", str(study), "-q"])
    assert result.exit_code == 1
    assert f"Error: {override / 'index.html'}:1: template error in 'index.html': 'no_such_value' is undefined" \
        in result.output
    assert "Traceback" not in result.output
    assert tree_digest(study / "site") == before
    leftovers = [p.name for p in study.iterdir() if p.name.startswith(".site-")]
    assert leftovers == []


def test_study_theme_overrides_one_template_and_extends_the_default(study: Path) -> None:
    override = study / "theme" / "templates"
    override.mkdir(parents=True)
    (override / "base.html").write_text(
        '{% extends "!default/base.html" %}{% block title %}Acme CSI · {{ super() }}{% endblock %}',
        encoding="utf-8")
    static = study / "theme" / "static"
    static.mkdir()
    (static / "extra.css").write_text("body { color: black }", encoding="utf-8")
    assert invoke("build", str(study), "-q").exit_code == 0
    index = (study / "site" / "index.html").read_text(encoding="utf-8")
    assert "<title>Acme CSI · Dealer sales and service satisfaction survey</title>" in index
    assert (study / "site" / "static" / "extra.css").is_file()
    assert (study / "site" / "static" / "style.css").is_file()


def test_unknown_theme_lists_installed(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError, match="unknown theme 'fancy'; installed themes: default"):
        load_theme("fancy", tmp_path)


def test_chinese_site(study: Path) -> None:
    config = study / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "language: zh\n", encoding="utf-8")
    assert invoke("build", str(study), "-q").exit_code == 0
    index = (study / "site" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in index
    assert "顾客满意度指数" in index
    assert "经销商销售与服务满意度调查" in index or "满意度" in index


def test_links_are_relative_and_resolve(study: Path) -> None:
    assert invoke("build", str(study), "-q").exit_code == 0
    import re

    site = study / "site"
    for page in site.rglob("*.html"):
        for link in re.findall(r'(?:href|src)="([^"]+)"', page.read_text(encoding="utf-8")):
            assert not link.startswith(("/", "http:", "https:", "//")), (page, link)
            if link.startswith("#"):
                continue
            assert (page.parent / link.split("#")[0]).resolve().is_file(), (page, link)


def test_commentary_markdown_is_rendered(study: Path) -> None:
    (study / "commentary.md").write_text("# Our reading\n\nService **improved**.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
                                         encoding="utf-8")
    assert invoke("build", str(study), "-q").exit_code == 0
    page = (study / "site" / "pages" / "commentary.html").read_text(encoding="utf-8")
    assert "<strong>improved</strong>" in page
    assert "<table>" in page
    index = (study / "site" / "index.html").read_text(encoding="utf-8")
    assert 'href="pages/commentary.html">Our reading</a>' in index


def test_json_for_script_cannot_close_the_script() -> None:
    text = str(_json_for_script({"comment": "</script><script>alert(1)</script>&\u2028"}))
    assert "</script>" not in text and "<" not in text and "&" not in text
    assert "\\u003c/script\\u003e" in text


def test_markdown_is_for_authored_text_only() -> None:
    assert str(render_markdown("**bold**")) == "<p><strong>bold</strong></p>"


# --------------------------------------------------------------------------- every page, from the results tree

import copy
import json
import re
from html.parser import HTMLParser

from markupsafe import escape

from surveyengine.build import build as run_build
from surveyengine.plugins import get_plugin_manager
from surveyengine.results import Comment
from surveyengine.site import builder as site_builder
from surveyengine.site.builder import build_site, unit_slug
from surveyengine.study import load_study

HOSTILE = [
    "<script>alert('xss')</script> great service",
    '"><img src=x onerror=alert(1)> the car was fine',
    '<a href="javascript:alert(1)">see my complaint</a>',
    "</script><script>alert(2)</script>",
    "<b>broken <i>markup <!-- never closed",
    "{{ 7*7 }} ${7*7} {% raw %}",
    "\u2028line separator</script >",
]
HOSTILE_CODE = '"><script>alert(3)</script>'
HOSTILE_LABEL = "<img src=x onerror=alert(4)>"


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of every <script>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parse(path: Path) -> _Tags:
    parser = _Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """The auto-dealer demo with a privacy minimum high enough that some dealers are hidden and some small."""
    folder = tmp_path_factory.mktemp("demo") / "study"
    assert invoke("init", str(folder), "--n", "600").exit_code == 0
    path = folder / "questionnaire.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("min_base: 30 ", "min_base: 60 ").replace("privacy_min: 5 ", "privacy_min: 30 ")
    path.write_text(text, encoding="utf-8")
    pm = get_plugin_manager()
    study = load_study(folder, pm)
    report = run_build(study, pm, folder / "site", ("html", "json", "csv"))
    return folder, report


def _hidden_units(results) -> list:
    return [u for s in results.segments for u in s.units if u.suppressed]


def test_every_page_is_built(demo) -> None:
    folder, report = demo
    site = folder / "site"
    results = report.results
    expected = {"index.html", "factors.html", "drivers.html", "waves.html", "complaints.html", "comments.html",
                "methodology.html", "downloads.html", "pages/commentary.html", "segments/region.html",
                "segments/dealer.html", "results.json", "static/style.css"}
    built = {str(p) for p in report.files}
    assert expected <= built
    for segment in results.segments:
        for unit in segment.units:
            page = site / "segments" / segment.id / f"{unit.key['unit']}.html"
            assert page.is_file() == (not unit.suppressed), page
    downloads = (site / "downloads.html").read_text(encoding="utf-8")
    assert 'href="results.json"' in downloads and 'href="tables/metrics.csv"' in downloads
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert html.count("<main") == 1 and "<nav" in html and "<h1" in html, page


def test_pages_show_the_results_tree(demo) -> None:
    folder, report = demo
    site, results = folder / "site", report.results
    index = (site / "index.html").read_text(encoding="utf-8")
    csi = results.total.headline["csi"]["csi"].value
    assert f'data-kpi="csi">{csi:,.1f}<' in index
    last = results.waves[-1].comparison["previous_wave"]["csi_change"]
    assert f"{abs(last):.1f} vs {results.waves[-2].label}" in index
    dealer = next(u for u in results.segment("dealer").units if not u.suppressed)
    page = (site / "segments" / "dealer" / f"{dealer.key['unit']}.html").read_text(encoding="utf-8")
    assert f'data-kpi="csi">{dealer.headline["csi"]["csi"].value:,.1f}<' in page
    assert "All respondents" in page and 'id="unit-trend"' in page
    waves = (site / "waves.html").read_text(encoding="utf-8")
    assert all(f'<th scope="row">{w.label}' in waves for w in results.waves)


def test_suppressed_units_never_appear(demo) -> None:
    folder, report = demo
    hidden = _hidden_units(report.results)
    assert hidden, "the fixture must hide some dealers"
    for page in (folder / "site").rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for unit in hidden:
            assert str(escape(unit.label)) not in html, (page, unit.label)
            code = unit.key["unit"]
            for trace in (f'data-unit-dealer="{code}"', f'value="{code}"', f"/{code}.html"):
                assert trace not in html, (page, trace)
    for comment in report.results.comments:
        assert all(comment.units.get("dealer") != u.key["unit"] for u in hidden)


def test_small_bases_are_marked(demo) -> None:
    folder, report = demo
    small = [u for u in report.results.segment("dealer").units if "small-base" in u.flags]
    assert small, "the fixture must have small dealers"
    league = (folder / "site" / "segments" / "dealer.html").read_text(encoding="utf-8")
    for unit in small:
        row = re.search(r'<tr class="[^"]*small">(?:(?!</tr>).)*?' + re.escape(str(escape(unit.label))) + r"(?:(?!</tr>).)*</tr>",
                        league, re.S)
        assert row and "small base" in row.group(0), unit.label
        page = (folder / "site" / "segments" / "dealer" / f"{unit.key['unit']}.html").read_text(encoding="utf-8")
        assert '<span class="flag">small base</span>' in page.split("</h1>")[0]


def _with_drivers(results):
    results = copy.deepcopy(results)

    def model(ids, base=812):
        drivers = [{"id": d, "importance": 0.3 - 0.1 * k, "ci_low": 0.25 - 0.1 * k, "ci_high": 0.35 - 0.1 * k,
                    "weight": 0.5 - 0.15 * k, "rank": k + 1, "tied": False, "performance": 60.0 + 8 * k,
                    "quadrant": ("concentrate-here", "keep-up", "low-priority")[k % 3]}
                   for k, d in enumerate(ids)]
        return {"outcome": "overall", "method": "relative-weights", "source": "own", "borrowed_from": None,
                "base": base, "r2": 0.53, "warnings": ["a <b>warning</b>"], "drivers": drivers}

    analysis = {"factors": model(["product", "service", "image"]),
                "items": {"hardware": model(["hw_quality", "hw_price", "hw_safety"])},
                "priorities": [{"level": "item", "id": "hw_quality", "factor": "hardware", "importance": 0.3,
                                "weight": 0.5, "performance": 60.0, "gain": 1.8, "quadrant": "concentrate-here"}]}
    results.total.drivers = analysis
    results.index.update({"method": "relative-weights", "weights": {"product": 0.5, "service": 0.35, "image": 0.15},
                          "equal_weights": {"product": 0.333, "service": 0.333, "image": 0.333}, "note": ""})
    for segment in results.segments:
        for rank, unit in enumerate(u for u in segment.units if not u.suppressed):
            unit.ranks = {"csi": rank + 1, "csi_equal": rank + 2}
    first = next(u for u in results.segment("dealer").units if not u.suppressed)
    first.drivers = {**analysis, "factors": {**analysis["factors"], "source": f"parent:{first.key['parent']}"}}
    return results, first


def test_drivers_page_from_the_drivers_shape(demo, tmp_path: Path) -> None:
    folder, report = demo
    results, unit = _with_drivers(report.results)
    study = load_study(folder, get_plugin_manager())
    build_site(results, study, tmp_path)
    page = (tmp_path / "drivers.html").read_text(encoding="utf-8")
    assert 'id="total-f-importance"' in page and 'id="total-f-matrix"' in page and 'id="total-i1-matrix"' in page
    for word in ("Concentrate here", "Keep up the good work", "Low priority", "Possible overkill"):
        assert word in page
    assert page.count('class="cut"') == 4  # two lines in each of two matrices
    assert "Johnson&#39;s relative weights" in page and "R² 0.53" in page
    assert "a &lt;b&gt;warning&lt;/b&gt;" in page
    assert re.search(r"<th scope=\"row\">How satisfied are you with the build quality[^<]*</th><td>Hardware value</td>"
                     r"<td class=\"num\">0.300</td><td class=\"num\">60.0</td><td class=\"num\">1.80</td>", page)
    unit_page = (tmp_path / "segments" / "dealer" / f"{unit.key['unit']}.html").read_text(encoding="utf-8")
    assert 'id="unit-f-matrix"' in unit_page and "borrowed from the parent unit" in unit_page
    region = results.segment("region").units
    assert next(u.label for u in region if u.key["unit"] == unit.key["parent"]) in unit_page.split("borrowed")[1][:200]
    league = (tmp_path / "segments" / "dealer.html").read_text(encoding="utf-8")
    assert re.search(r'<td class="num">1</td>\s*<th scope="row"><a href="../segments/dealer/', league)


def test_drivers_page_from_the_real_analysis(demo) -> None:
    folder, report = demo
    analysis = report.results.total.drivers
    assert analysis.get("factors"), "the demo weights its CSI by importance"
    page = (folder / "site" / "drivers.html").read_text(encoding="utf-8")
    assert 'id="total-f-matrix"' in page and "Priorities" in page
    top = analysis["priorities"][0]
    label = next(i.label for i in report.results.items if i.id == top["id"])
    assert re.search(r'<td class="num">1</td><th scope="row">' + re.escape(str(escape(label))), page)


def test_drivers_page_without_drivers(demo, tmp_path: Path) -> None:
    folder, report = demo
    results = copy.deepcopy(report.results)
    for group in [results.total, *results.waves, *(u for s in results.segments for u in [*s.units, *s.trend])]:
        group.drivers = {}
    build_site(results, load_study(folder, get_plugin_manager()), tmp_path)
    page = (tmp_path / "drivers.html").read_text(encoding="utf-8")
    assert "No driver analysis in these results" in page
    assert 'id="csi-weighting"' in page  # the weighted and equal-weight CSI side by side all the same
    assert "-matrix\"" not in page and "class=\"cut\"" not in page


def _hostile(results):
    results = copy.deepcopy(results)
    dealers = results.segment("dealer")
    template = next(u for u in dealers.units if not u.suppressed)
    evil = copy.deepcopy(template)
    evil.key = {**evil.key, "unit": HOSTILE_CODE}
    evil.label = HOSTILE_LABEL
    dealers.units.append(evil)
    region = template.key.get("parent")
    results.comments = [Comment("comment", text, results.waves[-1].label,
                                {"dealer": HOSTILE_CODE, **({"region": region} if region else {})}, 3, True)
                        for text in HOSTILE] + results.comments
    return results


def test_hostile_comments_are_inert(demo, tmp_path: Path) -> None:
    folder, report = demo
    results = _hostile(report.results)
    study = load_study(folder, get_plugin_manager())
    files = build_site(results, study, tmp_path)
    evil_page = [f for f in files if str(f).startswith("segments/dealer/") and not (
        tmp_path / "segments" / "dealer" / f"{f.stem}.html").read_text(encoding="utf-8").find(
        "&lt;img src=x") < 0]
    assert len(evil_page) == 1 and re.fullmatch(r"u\d+", evil_page[0].stem)
    for page in tmp_path.rglob("*.html"):
        tags = parse(page)
        for tag, attrs in tags.tags:
            assert tag not in ("img", "iframe", "object", "embed", "a") or tag == "a", (page, tag)
            for name, value in attrs.items():
                assert not name.startswith("on"), (page, tag, name)
                if name in ("href", "src", "action", "formaction"):
                    assert not (value or "").strip().lower().startswith("javascript:"), (page, value)
            if tag == "a":
                assert not attrs.get("href", "").startswith("javascript")
        for script in tags.scripts:
            assert "alert" not in script, page
        assert len(tags.scripts) <= 2
    comments = (tmp_path / "comments.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; great service" in comments
    assert "{{ 7*7 }} ${7*7} {% raw %}" in comments  # respondent text is never a template
    assert '&lt;a href=&#34;javascript:alert(1)&#34;&gt;see my complaint&lt;/a&gt;' in comments
    tags = parse(tmp_path / "comments.html")
    assert (  # the hostile code round-trips through attributes as data, not markup
        sum(1 for tag, attrs in tags.tags if tag == "li" and attrs.get("data-unit-dealer") == HOSTILE_CODE)
        == len(HOSTILE))
    assert any(tag == "option" and attrs.get("value") == HOSTILE_CODE for tag, attrs in tags.tags)
    config = json.loads(tags.scripts[0])
    assert config == {"segments": ["region", "dealer"]}
    unit_page = (tmp_path / evil_page[0]).read_text(encoding="utf-8")
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in unit_page


def test_embedded_json_cannot_break_out() -> None:
    for text in HOSTILE + [HOSTILE_CODE]:
        embedded = str(_json_for_script({"x": text}))
        assert "<" not in embedded and ">" not in embedded and "\u2028" not in embedded
        assert json.loads(embedded) == {"x": text}


def test_unit_slugs_are_never_paths() -> None:
    taken: set[str] = set()
    assert unit_slug("101", taken) == "101"
    assert unit_slug("../../etc/passwd", taken) == "u1"
    assert unit_slug(HOSTILE_CODE, taken) == "u2"
    assert unit_slug("101", taken) == "u3"  # a clash never overwrites a page
    assert unit_slug("A", {"a"}) != "A"  # nor does a clash of case on a case-insensitive disk


def test_comments_page_is_capped(demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, report = demo
    monkeypatch.setattr(site_builder, "COMMENTS_PAGE_MAX", 10)
    monkeypatch.setattr(site_builder, "UNIT_COMMENTS_MAX", 3)
    build_site(report.results, load_study(folder, get_plugin_manager()), tmp_path)
    page = (tmp_path / "comments.html").read_text(encoding="utf-8")
    total = len(report.results.comments)
    assert total > 10
    assert page.count('<li data-wave="') == 10
    assert f"10 of {total:,} comments shown." in page
    unit = next(u for u in report.results.segment("dealer").units if not u.suppressed)
    unit_page = (tmp_path / "segments" / "dealer" / f"{unit.key['unit']}.html").read_text(encoding="utf-8")
    assert unit_page.count('<blockquote class="comment-text">') == 3


def test_catalogues_have_the_same_words() -> None:
    theme = load_theme("default")
    assert set(theme.messages["en"]) == set(theme.messages["zh"])
    assert all(theme.messages["zh"][key] for key in theme.messages["en"])


def test_chinese_pages_carry_chinese_words(study: Path) -> None:
    config = study / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "language: zh\n", encoding="utf-8")
    assert invoke("build", str(study), "-q").exit_code == 0
    theme = load_theme("default")
    english = {theme.messages["en"][k] for k in ("overview", "factors_items", "drivers", "methodology",
                                                 "downloads", "comments", "complaints", "waves")}
    for page in (study / "site").rglob("*.html"):
        if page.parent.name == "pages":
            continue  # the commentary is the consultant's own text
        html = page.read_text(encoding="utf-8")
        assert '<html lang="zh-CN">' in html
        assert "概览" in html and "研究方法" in html  # the navigation
        for word in english:
            assert f">{word}<" not in html, (page, word)
    assert "商品" in (study / "site" / "factors.html").read_text(encoding="utf-8")  # questionnaire labels in zh
    assert "华北区" in (study / "site" / "segments" / "region.html").read_text(encoding="utf-8")


def _check_ids(folder: Path) -> None:
    """Every id unique in its page; every aria reference and in-page link points at one."""
    from collections import Counter

    for page in folder.rglob("*.html"):
        tags = parse(page).tags
        ids = Counter(attrs["id"] for _, attrs in tags if attrs.get("id"))
        assert [i for i, n in ids.items() if n > 1] == [], page
        for _, attrs in tags:
            for key in ("aria-labelledby", "aria-describedby"):
                for ref in (attrs.get(key) or "").split():
                    assert ref in ids, (page, key, ref)
            if (attrs.get("href") or "").startswith("#"):
                assert attrs["href"][1:] in ids, (page, attrs["href"])
            if _ == "img":
                assert attrs.get("alt") is not None, page


def test_ids_are_unique_and_references_resolve(demo, tmp_path: Path) -> None:
    folder, report = demo
    _check_ids(folder / "site")
    results, _ = _with_drivers(report.results)
    build_site(results, load_study(folder, get_plugin_manager()), tmp_path)
    _check_ids(tmp_path)
