"""The build pipeline: atomic (an interrupted build leaves the previous output) and deterministic with the cache too.

tests/test_site.py has the two builds that must be byte-identical and the build that fails on a template.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from surveyengine.build import build
from surveyengine.cli import cli
from surveyengine.plugins import get_plugin_manager
from surveyengine.study import load_study


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    result = CliRunner().invoke(cli, ["init", str(folder), "--n", "300"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder


def test_build_interrupted_half_way_leaves_the_previous_output(study: Path) -> None:
    pm = get_plugin_manager(entry_points=False)
    out = study / "site"
    build(load_study(study, pm), pm, out, ("html", "json", "csv"))
    before = tree_digest(out)
    (study / "commentary.md").write_text("# Changed\n", encoding="utf-8")

    def interrupt(message: str) -> None:
        if message == "writing csv":  # the site and results.json are already in the staging folder
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build(load_study(study, pm), pm, out, ("html", "json", "csv"), progress=interrupt)
    assert tree_digest(out) == before
    assert [p.name for p in study.iterdir() if p.name.startswith(".site-")] == []


def test_a_build_from_the_cache_is_byte_identical_to_a_fresh_one(study: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")
    pm = get_plugin_manager(entry_points=False)
    formats = ("html", "json", "csv")
    fresh = build(load_study(study, pm), pm, tmp_path / "fresh", formats, use_cache=False)
    build(load_study(study, pm), pm, tmp_path / "warm", formats)
    cached = build(load_study(study, pm), pm, tmp_path / "cached", formats)
    assert not fresh.cached and cached.cached
    assert tree_digest(tmp_path / "fresh") == tree_digest(tmp_path / "cached")


def _results_pickle(study: Path) -> Path:
    (found,) = (study / ".surveyengine-cache").glob("results-*.pickle")
    return found


def test_a_rebuild_after_a_template_edit_takes_the_results_and_their_files_from_the_cache(
        study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")
    pm = get_plugin_manager(entry_points=False)
    formats = ("html", "json", "csv", "md")
    build(load_study(study, pm), pm, tmp_path / "first", formats)
    override = study / "theme" / "templates"
    override.mkdir(parents=True)
    (override / "base.html").write_text(
        '{% extends "!default/base.html" %}{% block title %}Edited · {{ super() }}{% endblock %}', encoding="utf-8")
    said: list[str] = []
    build(load_study(study, pm), pm, tmp_path / "second", formats, progress=said.append)
    assert "results unchanged: using the cache" in said and "scoring" not in said
    fresh = build(load_study(study, pm), pm, tmp_path / "fresh", formats, use_cache=False)
    assert not fresh.cached
    first, second, uncached = (tree_digest(tmp_path / name) for name in ("first", "second", "fresh"))
    assert second == uncached  # the cached results and files are those a fresh build makes
    changed = {name for name in first if first[name] != second[name]}
    assert changed and all(name.endswith(".html") for name in changed)
    assert "<title>Edited · " in (tmp_path / "second" / "index.html").read_text(encoding="utf-8")


def test_cached_results_not_signed_by_this_user_are_never_unpickled(study: Path, tmp_path: Path) -> None:
    pm = get_plugin_manager(entry_points=False)
    build(load_study(study, pm), pm, tmp_path / "first", ("html", "json"))
    cached = _results_pickle(study)
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self) -> tuple:
            return (Path.touch, (marker,))

    import pickle

    cached.write_bytes(b"\0" * 32 + pickle.dumps(Payload()))  # as if committed or copied in by someone else
    said: list[str] = []
    report = build(load_study(study, pm), pm, tmp_path / "second", ("html", "json"), progress=said.append)
    assert not marker.exists()
    assert "scoring" in said  # the results were computed again ...
    assert report.results.total.base > 0
    assert _results_pickle(study).read_bytes() != cached  # ... and the cache rewritten, signed


def test_a_cached_output_edited_in_place_is_written_again(study: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")
    pm = get_plugin_manager(entry_points=False)
    build(load_study(study, pm), pm, tmp_path / "first", ("json",))
    original = (tmp_path / "first" / "results.json").read_bytes()
    with (tmp_path / "first" / "results.json").open("r+b") as handle:  # an edit through a shared hard link
        handle.write(b"[")
    build(load_study(study, pm), pm, tmp_path / "second", ("json",))
    assert (tmp_path / "second" / "results.json").read_bytes() == original


def test_unit_pages_rendered_by_forked_workers_are_the_pages_one_process_renders(
        study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from surveyengine.site import builder

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")
    monkeypatch.setattr(builder, "MIN_PAGES_PER_WORKER", 1)
    pm = get_plugin_manager(entry_points=False)
    monkeypatch.setenv("SURVEYENGINE_JOBS", "1")
    one = build(load_study(study, pm), pm, tmp_path / "one", ("html",))
    monkeypatch.setenv("SURVEYENGINE_JOBS", "3")
    assert builder.render_jobs(len(one.results.segments[0].units)) == 3
    three = build(load_study(study, pm), pm, tmp_path / "three", ("html",))
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "three")
    assert one.files == three.files and any(str(p).startswith("segments/") for p in three.files)


def test_a_template_error_in_a_page_worker_fails_the_build_like_one_in_the_main_process(
        study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from surveyengine.site import builder

    pm = get_plugin_manager(entry_points=False)
    report = build(load_study(study, pm), pm, study / "site", ("html",))
    before = tree_digest(study / "site")
    pages = [p for p in report.files if str(p).startswith("segments/") and str(p).count("/") == 2]
    first = report.results.segments[0].units[0].key["unit"]
    # the main process renders the first unit page only; every other one, each in a worker, fails
    monkeypatch.setattr(builder, "MIN_PAGES_PER_WORKER", 1)
    monkeypatch.setenv("SURVEYENGINE_JOBS", str(len(pages)))
    override = study / "theme" / "templates"
    override.mkdir(parents=True)
    (override / "unit.html").write_text(
        "{% extends 'base.html' %}{% block content %}{% if group.key.unit != '" + first + "' %}"
        "{{ no_such_value.x }}{% endif %}{% endblock %}", encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", str(study), "-q", "--format", "html"])
    assert result.exit_code == 1
    assert f"{override / 'unit.html'}:1: template error in 'unit.html': 'no_such_value' is undefined" \
        in result.output
    assert "Traceback" not in result.output
    assert tree_digest(study / "site") == before


def test_surveyengine_jobs_must_be_a_number(study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SURVEYENGINE_JOBS", "many")
    result = CliRunner().invoke(cli, ["build", str(study), "-q"])
    assert result.exit_code == 1
    assert "SURVEYENGINE_JOBS must be a whole number of processes, not 'many'" in result.output
