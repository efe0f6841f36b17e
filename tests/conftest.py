"""Shared fixtures."""

from __future__ import annotations

import copy
import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner, Result

from surveyengine.plugins import PluginManager, get_plugin_manager

DATA = Path(__file__).parent / "data" / "data"
SCREENSHOTS = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def screenshot_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save screenshots: ``$SCREENSHOT_DIR``, or pytest's temporary folder.

    The folder is printed at the end of the run.
    """
    configured = os.environ.get("SCREENSHOT_DIR")
    folder = Path(configured).resolve() if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    request.config.stash[SCREENSHOTS] = folder
    return folder


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    folder = config.stash.get(SCREENSHOTS, None)
    if folder is not None:
        terminalreporter.write_line(f"browser screenshots: {folder}")


@pytest.fixture
def pm() -> PluginManager:
    """A new plugin manager with the built-in plugins and no entry points."""
    return get_plugin_manager(entry_points=False)


def _plain(value: Any) -> Any:
    """A value loaded by surveyengine.yamlio as plain dicts, lists and scalars (to edit and dump again)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


class Studies:
    """Study folders for the data tests, written under ``tmp_path`` and read as ``surveyengine build`` reads them.

    The starting point is the mini study of ``tests/data/data/``: its questionnaire
    as a dict to edit, its responses as rows of cells to edit. ``tmp_path`` is the
    working directory, so messages name the data file ``data/responses.csv``.
    """

    FILE = str(Path("data") / "responses.csv")

    def __init__(self, root: Path, pm: PluginManager) -> None:
        self.root = root
        self.pm = pm

    @staticmethod
    def questionnaire() -> dict[str, Any]:
        """The mini questionnaire (tests/data/data/questionnaire.yaml) as plain data, a new copy each time."""
        from surveyengine.yamlio import load_file

        return copy.deepcopy(_plain(load_file(DATA / "questionnaire.yaml")))

    @staticmethod
    def rows() -> list[list[str]]:
        """The mini sample (tests/data/data/responses.csv): a header and five respondents R1-R5."""
        with open(DATA / "responses.csv", encoding="utf-8", newline="") as handle:
            return [list(row) for row in csv.reader(handle)]

    @staticmethod
    def set_cell(rows: list[list[str]], respondent: str, column: str, value: str) -> list[list[str]]:
        rows = [list(r) for r in rows]
        index = rows[0].index(column)
        next(r for r in rows[1:] if r[0] == respondent)[index] = value
        return rows

    @staticmethod
    def add_column(rows: list[list[str]], name: str, values: dict[str, str] | None = None,
                   default: str = "") -> list[list[str]]:
        """A new column; ``values`` maps respondent id to cell, the others get ``default``."""
        values = values or {}
        return [row + [name] if k == 0 else row + [values.get(row[0], default)] for k, row in enumerate(rows)]

    @staticmethod
    def to_csv(rows: list[list[str]]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue()

    def write(self, questionnaire: dict[str, Any] | None = None, rows: list[list[str]] | None = None, *,
              config: dict[str, Any] | None = None, files: dict[str, list[list[str]]] | None = None,
              folder: str | None = None) -> Path:
        """Write a study folder (``tmp_path`` itself unless ``folder``): questionnaire, config and data files.

        ``config`` is merged into ``{questionnaire: questionnaire.yaml, data: [data/*.csv]}``;
        ``files`` (name -> rows) replaces the single ``data/responses.csv`` made of ``rows``.
        """
        root = self.root / folder if folder else self.root
        (root / "data").mkdir(parents=True, exist_ok=True)
        for old in (root / "data").iterdir():
            old.unlink()
        text = yaml.safe_dump(questionnaire or self.questionnaire(), allow_unicode=True, sort_keys=False)
        (root / "questionnaire.yaml").write_text(text, encoding="utf-8")
        settings = {"questionnaire": "questionnaire.yaml", "data": ["data/*.csv"], **(config or {})}
        (root / "surveyengine.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False),
                                                encoding="utf-8")
        for name, content in (files or {"responses.csv": rows if rows is not None else self.rows()}).items():
            (root / "data" / name).write_text(self.to_csv(content), encoding="utf-8", newline="")
        return root

    def read(self, root: Path | None = None) -> Any:
        """The study's Responses, read through the plugin manager's readers."""
        from surveyengine.data import load_responses
        from surveyengine.study import load_study

        study = load_study(root or self.root, self.pm)
        return load_responses(study, self.pm)

    @staticmethod
    def cli(*args: str) -> Result:
        """Run the real command line (in the working directory, ``tmp_path``)."""
        from surveyengine.cli import cli

        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    @staticmethod
    def assert_account_adds_up(responses: Any) -> None:
        """Rows read = rows used + rows excluded, in total and per file; every row is used or excluded once."""
        account = responses.account()
        assert account["rows_read"] == account["rows_used"] + account["rows_excluded"]
        assert account["rows_used"] == responses.n
        assert account["rows_excluded"] == len(responses.exclusions)
        assert sum(account["excluded_by_reason"].values()) == account["rows_excluded"]
        assert sum(f["read"] for f in account["files"].values()) == account["rows_read"]
        for name, per_file in account["files"].items():
            assert per_file["read"] == per_file["used"] + per_file["excluded"], name
        for index, name in enumerate(responses.files):
            used = responses.source_row[responses.source_file == index].tolist()
            excluded = [e.row for e in responses.exclusions if e.file == name]
            assert not set(used) & set(excluded), name
            assert len(used) + len(excluded) == account["files"][name]["read"], name
        if responses.weights is not None:
            assert responses.weights.shape == (responses.n,) and np.all(responses.weights > 0)


@pytest.fixture
def studies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pm: PluginManager) -> Studies:
    """Write and read study folders in ``tmp_path``, which is also the working directory."""
    monkeypatch.chdir(tmp_path)
    return Studies(tmp_path, pm)
