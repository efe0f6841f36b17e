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
