"""The command line, run for real in tmp_path with click's CliRunner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from surveyengine import __version__
from surveyengine.cli import cli

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (REPO / "questionnaires").iterdir() if (p / "questionnaire.yaml").is_file())


def run(*args: str, cwd: Path | None = None) -> "CliRunner.invoke":
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, list(args), catch_exceptions=False)
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "demo"
    result = run("init", str(folder), "--n", "600")
    assert result.exit_code == 0, result.output
    return folder


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("command", ["init", "validate", "schema", "simulate", "build", "code", "serve", "plugins"])
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_init_then_build(demo: Path) -> None:
    for name in ("surveyengine.yaml", "questionnaire.yaml", "data/responses.csv", "data/responses.truth.json",
                 "commentary.md", "questionnaire.schema.json"):
        assert (demo / name).is_file(), name
    result = run("build", str(demo))
    assert result.exit_code == 0, result.output
    index = (demo / "site" / "index.html").read_text(encoding="utf-8")
    assert "Dealer sales and service satisfaction survey" in index
    assert 'data-kpi="respondents">600<' in index
    assert (demo / "site" / "pages" / "commentary.html").is_file()
    assert "Traceback" not in result.output


def test_init_refuses_a_folder_that_is_not_empty(demo: Path) -> None:
    result = run("init", str(demo))
    assert result.exit_code == 2
    assert "is not empty" in result.output


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_validates_simulates_and_builds(example: str, tmp_path: Path) -> None:
    questionnaire = REPO / "questionnaires" / example / "questionnaire.yaml"
    result = run("validate", str(questionnaire), "--strict")
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output
    result = run("simulate", str(questionnaire), "--n", "300", "--seed", "3", "--out", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.truth.json").is_file()
    study = tmp_path / "study"
    assert run("init", str(study), "--example", example, "--n", "400").exit_code == 0
    result = run("build", str(study), "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert (study / "site" / "index.html").is_file()


def test_validate_reports_every_problem_with_line_and_column(tmp_path: Path) -> None:
    questionnaire = tmp_path / "q.yaml"
    questionnaire.write_text(
        "id: broken\n"
        "title: Broken\n"
        "scales:\n"
        "  sat5: {min: 1, max: 5}\n"
        "factors:\n"
        "  - id: service\n"
        "    kind: service\n"
        "    label: Service\n"
        "    items:\n"
        "      - id: s_wait\n"
        "        text: Waiting time\n"
        "        scael: sat5\n"
        "questions:\n"
        "  - id: overall\n"
        "    text: Overall\n"
        "    scale: sat5\n"
        "outcomes:\n"
        "  overall: [overall]\n"
        "  recommends: overall\n",
        encoding="utf-8",
    )
    result = run("validate", str(questionnaire))
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert f"{questionnaire}:12:9: unknown key 'scael' (did you mean 'scale'?) " \
           "[factors[service].items[s_wait].scael]" in lines
    assert any(line.startswith(f"{questionnaire}:19:3: unknown key 'recommends' (did you mean 'recommend'?)")
               for line in lines)
    assert lines[-1] == "2 errors, 0 warnings"
    assert "Traceback" not in result.output


def test_validate_json_reports_the_account(demo: Path) -> None:
    result = run("validate", str(demo), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["valid"] is True
    account = report["account"]
    assert account["rows_read"] == 600
    assert account["rows_read"] == account["rows_used"] + account["rows_excluded"]


def test_build_reports_bad_rows_and_strict_fails(demo: Path, tmp_path: Path) -> None:
    study = tmp_path / "bad"
    study.mkdir()
    for name in ("surveyengine.yaml", "questionnaire.yaml", "commentary.md"):
        (study / name).write_bytes((demo / name).read_bytes())
    (study / "library").mkdir()
    for lib in (demo / "library").iterdir():
        (study / "library" / lib.name).write_bytes(lib.read_bytes())
    lines = (demo / "data" / "responses.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    column = header.index('"hw_quality"')
    fields = lines[1].split(",")
    fields[column] = "11"  # outside the 1-10 scale
    lines[1] = ",".join(fields)
    lines.append(lines[2])  # a duplicate respondent
    (study / "data").mkdir()
    (study / "data" / "responses.csv").write_text("".join(lines), encoding="utf-8")

    result = run("build", str(study))
    assert result.exit_code == 0, result.output
    assert "data/responses.csv, row 2, column hw_quality: warning: 11 outside scale 1-10; answer set missing" \
        in result.output.replace(str(study) + "/", "")
    assert "(1 rows excluded)" in result.output

    result = run("build", str(study), "--strict", "--quiet")
    assert result.exit_code == 2
    assert "--strict" in result.output


def test_build_unknown_format_fails_cleanly(demo: Path) -> None:
    result = run("build", str(demo), "--format", "html,pdff")
    assert result.exit_code == 2  # a usage error, like 'export --to' with an unknown format
    assert "Invalid value for '--format': unknown format 'pdff'; installed: csv, html, json" in result.output
    assert "Traceback" not in result.output


def test_missing_study_folder(tmp_path: Path) -> None:
    result = run("build", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_folder_without_config(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path))
    assert result.exit_code == 2
    assert "no surveyengine.yaml in this folder" in result.output


def test_config_errors_name_line_and_column(demo: Path, tmp_path: Path) -> None:
    config = tmp_path / "surveyengine.yaml"
    config.write_text("questionnaire: questionnaire.yaml\ndata: [data/*.csv]\ntheme: default\noutput:\n  dri: site\n",
                      encoding="utf-8")
    result = run("validate", str(tmp_path))
    assert result.exit_code == 2
    assert f"{config}:5:3: unknown key 'dri' (did you mean 'dir'?) [output.dri]" in result.output


def test_simulate_is_deterministic(tmp_path: Path) -> None:
    questionnaire = REPO / "questionnaires" / "hotel" / "questionnaire.yaml"
    for name in ("a.csv", "b.csv"):
        assert run("simulate", str(questionnaire), "--n", "200", "--seed", "7", "--out",
                   str(tmp_path / name)).exit_code == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_simulate_gb18030(tmp_path: Path) -> None:
    questionnaire = REPO / "questionnaires" / "auto-dealer" / "questionnaire.yaml"
    out = tmp_path / "gbk.csv"
    result = run("simulate", str(questionnaire), "--n", "300", "--out", str(out), "--encoding", "gb18030")
    assert result.exit_code == 0
    raw = out.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "员工" in raw.decode("gb18030")


@pytest.mark.parametrize("command", ["validate", "serve"])
def test_help_does_not_import_heavy_libraries(command: str) -> None:
    code = ("import sys; from surveyengine.cli import cli; from click.testing import CliRunner; "
            f"CliRunner().invoke(cli, ['{command}', '--help']); "
            "print(','.join(m for m in ('sklearn', 'scipy', 'pyarrow', 'numpy', 'markdown', 'jinja2') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
