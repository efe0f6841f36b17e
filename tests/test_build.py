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
