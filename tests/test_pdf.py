"""The ``pdf`` output: ``report.pdf`` made by WeasyPrint from the theme's ``report.html``.

Every PDF is opened by an independent reader, pypdf: its pages, text, metadata and
embedded fonts. The demo study has a dealer with a hostile label (HTML, Markdown) and
hostile comments in its data; the report shows the label as text and no comment.
WeasyPrint needs Pango (Debian's libpango-1.0-0, libpangoft2-1.0-0); without it these
tests skip, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from test_report_formats import HOSTILE_LABEL, Tags, run

from surveyengine.plugins import get_plugin_manager
from surveyengine.site.builder import render_report, svg_stylesheet
from surveyengine.study import load_study

pypdf = pytest.importorskip("pypdf")


def _weasyprint_or_skip() -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        message = f"WeasyPrint cannot load ({exc}): pip install 'surveyengine[pdf]' and Debian's libpango-1.0-0"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)


def text_of(reader) -> list[str]:
    """Each page's text, runs of white space made one space."""
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def squashed(text: str) -> str:
    """Text without white space: a label wrapped in a narrow table cell comes out with a space at the break."""
    return "".join(text.split())


def configure(folder: Path, extra: str) -> None:
    config = folder / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")


def study_with_pdf_config(study: Path, folder: Path, pdf: str, extra: str) -> Path:
    """A copy of the study with ``pdf`` (YAML lines of ``output``) put before its formats, ``extra`` appended."""
    shutil.copytree(study, folder, ignore=shutil.ignore_patterns("site", "again", "json-only", ".surveyengine*"))
    configure(folder, extra)
    config = folder / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("  formats:", pdf + "  formats:"), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The demo study (400 responses) with dealer 'Ruifeng Motors Beijing Yizhuang' renamed to a hostile label."""
    _weasyprint_or_skip()
    folder = tmp_path_factory.mktemp("pdf") / "study"
    assert run("init", str(folder), "--n", "400").exit_code == 0
    questionnaire = folder / "questionnaire.yaml"
    text = questionnaire.read_text(encoding="utf-8")
    assert "{en: Ruifeng Motors Beijing Yizhuang," in text
    questionnaire.write_text(text.replace("{en: Ruifeng Motors Beijing Yizhuang,",
                                          f"{{en: {json.dumps(HOSTILE_LABEL)},"), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def built(study: Path) -> Path:
    result = run("build", str(study), "--format", "json,pdf,html")
    assert result.exit_code == 0, result.output
    return study / "site"


def test_the_report_has_its_chapters_figures_and_league_tables(built: Path) -> None:
    data = json.loads((built / "results.json").read_text(encoding="utf-8"))
    reader = pypdf.PdfReader(built / "report.pdf")
    pages = text_of(reader)
    assert len(pages) > 10
    words = " ".join(pages)
    assert f"{data['total']['headline']['csi']['csi']['value']:.1f}" in words
    assert f"{data['total']['headline']['nps']['nps']['value']:.1f}" in words
    assert f"{data['total']['headline']['complaint']['rate']['value']:.1f}%" in words
    assert f"{data['account']['rows_read']:,}" in words
    for segment in data["segments"]:
        shown = [u for u in segment["units"] if "suppressed" not in u["flags"]]
        assert shown
        for unit in shown:
            assert squashed(unit["label"]) in squashed(words), unit["label"]
    # the cover, then contents whose page numbers point at the pages their chapters start on
    assert data["study"]["title"] in pages[0] and "2026-01-01" in pages[0]
    assert pages[1].startswith("Contents") and data["study"]["title"] in pages[1]  # the running header
    entries = re.findall(r"([A-Z][\w :]+?) \.{3,} ?(\d+)", pages[1].removeprefix("Contents "))
    titles = [title.strip() for title, _ in entries]
    assert titles == ["Overview", "Drivers", "Region: league table", "Dealer: league table"], entries
    for title, number in entries:
        page = pages[int(number) - 1]
        assert page.startswith(title.strip()) and page.count(title.strip()) >= 2, (title, page[:200])  # + header


def test_every_page_but_the_cover_is_numbered_n_of_N(built: Path) -> None:
    pages = text_of(pypdf.PdfReader(built / "report.pdf"))
    assert f"1 / {len(pages)}" not in pages[0]
    for number, page in enumerate(pages[1:], start=2):
        assert f"{number} / {len(pages)}" in page


def test_a_long_table_repeats_its_header_on_every_page(built: Path) -> None:
    """The drivers' priorities span pages: each of them starts again with the table's column headers."""
    pages = text_of(pypdf.PdfReader(built / "report.pdf"))
    header = "# Driver Factor Importance Performance Gain Quadrant"
    holding = [p for p in pages if "How satisfied" in p and "Concentrate here" in p and header in p]
    assert len(holding) >= 2


def test_the_report_is_reproducible(built: Path, study: Path) -> None:
    reader = pypdf.PdfReader(built / "report.pdf")
    assert reader.metadata["/CreationDate"] == reader.metadata["/ModDate"] == "D:20260101"  # SOURCE_DATE_EPOCH
    assert reader.metadata["/Title"] == json.loads((built / "results.json").read_text("utf-8"))["study"]["title"]
    result = run("build", str(study), "--format", "pdf", "--out", str(study / "again"))
    assert result.exit_code == 0, result.output
    assert (study / "again" / "report.pdf").read_bytes() == (built / "report.pdf").read_bytes()


def test_the_downloads_page_links_the_pdf(built: Path) -> None:
    page = Tags((built / "downloads.html").read_text(encoding="utf-8"))
    assert ("a", {"href": "report.pdf", "download": None}) in page.tags


def test_labels_are_text_and_no_comment_or_markup_reaches_the_report(built: Path, study: Path) -> None:
    words = " ".join(text_of(pypdf.PdfReader(built / "report.pdf")))
    assert squashed(HOSTILE_LABEL) in squashed(words)
    pm = get_plugin_manager(entry_points=False)
    from surveyengine.build import build

    results = build(load_study(study, pm), pm, study / "json-only", ("json",)).results
    assert results.comments
    for comment in results.comments:  # every comment hostile, and marked to be found
        comment.text = "<script>alert('pdf')</script><img src=x onerror=alert(1)> hostile-comment-marker"
    html = render_report(results, load_study(study, pm), ("region", "dealer"))
    page = Tags(html)
    assert not {"script", "img", "iframe", "object", "link"} & page.names()
    assert HOSTILE_LABEL in "".join(page.text)
    for _, attrs in page.tags:
        assert attrs.get("href") is None or attrs["href"].startswith("#"), attrs
    assert "hostile-comment-marker" not in html  # the report shows no respondent text at all


def test_a_section_per_unit_when_asked_in_chinese(study: Path, tmp_path: Path) -> None:
    folder = study_with_pdf_config(study, tmp_path / "zh", "  pdf: {segments: [region]}\n", "language: zh\n")
    result = run("build", str(folder), "--format", "json,pdf")
    assert result.exit_code == 0, result.output
    data = json.loads((folder / "site" / "results.json").read_text(encoding="utf-8"))
    reader = pypdf.PdfReader(folder / "site" / "report.pdf")
    pages = text_of(reader)
    assert data["study"]["title"] == "汽车经销商销售与服务满意度调查"
    assert data["study"]["title"] in pages[0] and "顾客满意度报告" in pages[0]
    assert "目录" in pages[1] and "大区：各单位分述" in pages[1]
    regions = [u["label"] for u in data["segments"][0]["units"] if "suppressed" not in u["flags"]]
    for label in regions:  # listed in the contents, each with a page that starts with its name
        number = re.search(re.escape(label) + r" \.{3,} ?(\d+)", pages[1])
        assert number, label
        assert label in pages[int(number.group(1)) - 1]
    fonts = {str(font.get_object()["/BaseFont"]) for page in reader.pages
             for font in (page["/Resources"].get("/Font") or {}).values()}
    assert any("CJK-SC" in name for name in fonts), fonts  # the charts too: no Japanese glyph shapes
    assert not any("CJK-JP" in name for name in fonts), fonts


def test_an_unknown_segment_for_unit_sections_names_the_config_line(study: Path, tmp_path: Path) -> None:
    folder = study_with_pdf_config(study, tmp_path / "bad", "  pdf:\n    segments: [regoin]\n", "\n")
    rows = (folder / "surveyengine.yaml").read_text(encoding="utf-8").splitlines()
    line = next(n for n, row in enumerate(rows, 1) if "regoin" in row)
    result = run("build", str(folder), "--format", "pdf")
    assert result.exit_code == 2
    assert f"surveyengine.yaml:{line}:" in result.output
    assert "output.pdf.segments: unknown segment 'regoin' (did you mean 'region'?)" in result.output
    assert not (folder / "site").exists()


def test_without_weasyprint_the_error_names_the_extra_before_any_work(study: Path, monkeypatch) -> None:
    from surveyengine import build

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint raises ImportError
    monkeypatch.setattr(build, "summarise", lambda *args: pytest.fail("the data were read before the check"))
    result = run("build", str(study), "--quiet", "--format", "pdf", "--out", str(study / "no-pdf"))
    assert result.exit_code == 1
    assert "writing .pdf needs WeasyPrint and Pango: pip install 'surveyengine[pdf]'" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (study / "no-pdf").exists()


def test_svg_stylesheet_resolves_custom_properties_and_drops_media_blocks() -> None:
    css = """:root { --accent: #123456; --ink: #000;
               font-family: Arial,
                 sans-serif; }
             /* a comment { } */
             .chart-svg .bar { fill: var(--accent); }
             .chart-svg .ci { stroke: var(--missing, #abc); }
             p { color: var(--ink); }
             .c3 { fill: #eee; }
             @media print { .chart-svg .bar { fill: red; } }"""
    assert svg_stylesheet(css).splitlines() == [
        "svg { font-family: Arial, sans-serif; }",
        ".chart-svg .bar { fill: #123456; }",
        ".chart-svg .ci { stroke: #abc; }",
        ".c3 { fill: #eee; }",
    ]
    assert svg_stylesheet(css, '"Noto Sans CJK SC"').splitlines()[0] == 'svg { font-family: "Noto Sans CJK SC"; }'
