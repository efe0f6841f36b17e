"""``surveyengine serve``: run for real as a subprocess, fetched over HTTP, its inputs changed under it."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import surveyengine
from surveyengine.cli import cli
from surveyengine.serve import Inputs, Preview, changed, inputs_of, is_loopback

# The subprocess imports the surveyengine these tests import (the checkout's src/ or the installed one).
SRC = Path(surveyengine.__file__).resolve().parents[1]


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    result = CliRunner().invoke(cli, ["init", str(folder), "--n", "300"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder


class Serving:
    """A ``surveyengine serve`` subprocess and everything it has printed so far."""

    def __init__(self, study: Path) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from surveyengine.cli import main; main()", "serve", str(study), "--port", "0",
             "--interval", "0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output = ""
        threading.Thread(target=self._read, daemon=True).start()
        match = self.wait_for(r"serving the site of .* at (http://\S+/) ")
        self.url = match.group(1)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Wait until the output printed from now on matches ``pattern``."""
        start = len(self.output)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.output += self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
            match = re.search(pattern, self.output[start:])
            if match:
                return match
        raise AssertionError(f"no '{pattern}' in the output of serve:\n{self.output}")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            return response.read().decode("utf-8")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        time.sleep(0.1)
        while not self.lines.empty():
            self.output += self.lines.get()
        return code


@pytest.fixture()
def serving(study: Path) -> Iterator[Serving]:
    server = Serving(study)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_serve_rebuilds_on_change_and_keeps_the_last_good_site(study: Path, serving: Serving) -> None:
    assert "Dealer sales and service satisfaction survey" in serving.get("index.html")
    assert "Write the consultant" in serving.get("pages/commentary.html")

    (study / "commentary.md").write_text("# Our reading\n\nService **improved** this wave.\n", encoding="utf-8")
    serving.wait_for(r"changed: commentary\.md; rebuilding\n.*built \d+ files")
    assert "Service <strong>improved</strong> this wave." in serving.get("pages/commentary.html")

    questionnaire = study / "questionnaire.yaml"
    good = questionnaire.read_text(encoding="utf-8")
    assert "scale: likely11" in good
    questionnaire.write_text(good.replace("scale: likely11", "scael: likely11", 1), encoding="utf-8")
    serving.wait_for(r"the previous site is still served")
    assert re.search(r"questionnaire\.yaml:\d+:\d+: unknown key 'scael' \(did you mean 'scale'\?\)",
                     serving.output), serving.output
    assert "Traceback" not in serving.output
    assert "Service <strong>improved</strong> this wave." in serving.get("pages/commentary.html")

    questionnaire.write_text(good, encoding="utf-8")
    (study / "commentary.md").write_text("# Our reading\n\nFixed again.\n", encoding="utf-8")
    serving.wait_for(r"built \d+ files")
    eventually(lambda: "Fixed again." in serving.get("pages/commentary.html"))

    assert serving.stop() == 0
    assert serving.output.rstrip().endswith("stopped")
    assert "Traceback" not in serving.output and "Aborted" not in serving.output


def test_serve_refuses_an_address_others_can_reach_without_public(study: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", str(study), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "0.0.0.0 is not a loopback address" in result.output and "--public" in result.output


def test_serve_says_when_the_port_is_taken(study: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", str(study), "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.output
    assert "Traceback" not in result.output


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("::")


def test_watched_inputs(study: Path) -> None:
    """A new data file, a theme override, an include and the pages are seen; the output folder is not."""
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    inputs = inputs_of(study, load_study(study, get_plugin_manager(entry_points=False)))
    before = inputs.snapshot()
    for name in ("surveyengine.yaml", "questionnaire.yaml", "library/common.yaml", "commentary.md",
                 "data/responses.csv"):
        assert study / name in before, name
    assert any(p.name == "base.html" for p in before)  # the default theme's templates
    (study / "data" / "more.csv").write_text("respondent_id\n", encoding="utf-8")
    (study / "theme" / "templates").mkdir(parents=True)
    (study / "theme" / "templates" / "page.html").write_text("x", encoding="utf-8")
    (study / "site").mkdir()
    (study / "site" / "index.html").write_text("x", encoding="utf-8")
    assert changed(before, inputs.snapshot()) == [study / "data" / "more.csv",
                                                  study / "theme" / "templates" / "page.html"]


def test_a_first_build_that_fails_serves_a_page_that_says_so(study: Path, tmp_path: Path) -> None:
    from surveyengine.cli import _study

    (study / "questionnaire.yaml").write_text("id: [broken\n", encoding="utf-8")
    said: list[str] = []
    errors: list[Exception] = []
    preview = Preview(study, tmp_path / "out", lambda: _study(study), said.append, errors.append)
    assert preview.build() is False
    assert errors and said == ["nothing to serve until a build succeeds"]
    assert "did not build" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert study / "questionnaire.yaml" in preview.inputs.snapshot()
    assert isinstance(preview.inputs, Inputs)
