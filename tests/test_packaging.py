"""The wheel carries the built-in plugins, themes, example questionnaires and schema, and works alone.

Builds the wheel, installs it into a fresh virtual environment and runs
``surveyengine init`` and ``build`` from there, as a consultant's machine would.
"""

from __future__ import annotations

import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
                   check=True)
    (built,) = out.glob("surveyengine-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "surveyengine/cli.py",
        "surveyengine/builtins/csv_reader.py",
        "surveyengine/builtins/html_output.py",
        "surveyengine/themes/default/theme.yaml",
        "surveyengine/themes/default/templates/base.html",
        "surveyengine/themes/default/static/style.css",
        "surveyengine/questionnaires/auto-dealer/questionnaire.yaml",
        "surveyengine/questionnaires/library/common.yaml",
        "surveyengine/schema/questionnaire.schema.json",
    }
    assert expected <= names, sorted(expected - names)
    assert not any(name.startswith("tests/") for name in names)


def test_installed_wheel_builds_a_site(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # the dependencies come from the environment running the tests (appended after the venv's own
    # site-packages, so the wheel's surveyengine wins); the wheel itself is installed into the venv
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    Path(own, "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True)
    where = subprocess.run([str(python), "-c", "import surveyengine.resources as r; print(r.resource_dir('plugins'))"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(env_dir)), where
    command = env_dir / "bin" / "surveyengine"
    subprocess.run([str(command), "init", "demo", "--n", "300"], check=True, cwd=tmp_path, capture_output=True)
    result = subprocess.run([str(command), "build", "demo"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "demo" / "site" / "index.html").is_file()
