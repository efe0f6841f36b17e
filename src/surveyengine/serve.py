"""``surveyengine serve``: build the site, serve it on a loopback port, rebuild when an input changes.

A background thread polls the stamps (modification time and size) of what a
build reads: the study config, the questionnaire and the files it includes,
the data files (globs expanded again on every poll, so a new file counts), the
Markdown pages, the study's plugins and every file of the theme folders. A
change starts a rebuild once the files have stopped changing for one interval.
Polling needs no dependency and behaves the same on every system, network
drives and editors that replace a file on save included; a study has tens of
files, so a poll every half second costs next to nothing.

The site is built into a temporary folder (the study's own output folder is
left alone) with the same atomic swap as ``surveyengine build``, so a failed
rebuild leaves the previous site being served.
"""

from __future__ import annotations

import errno
import glob
import html
import ipaddress
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SurveyEngineError

if TYPE_CHECKING:
    from .plugins import PluginManager
    from .study import Study

Stamp = tuple[int, int]
DEFAULT_INTERVAL = 0.5


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


@dataclass
class Inputs:
    """What a build reads: single files, glob patterns and folders (taken whole)."""

    files: set[Path] = field(default_factory=set)
    patterns: set[str] = field(default_factory=set)
    folders: set[Path] = field(default_factory=set)

    def __or__(self, other: Inputs) -> Inputs:
        return Inputs(self.files | other.files, self.patterns | other.patterns, self.folders | other.folders)

    def snapshot(self) -> dict[Path, Stamp | None]:
        """Each watched path's stamp (None: it does not exist)."""
        paths = set(self.files)
        for pattern in self.patterns:
            paths.update(Path(p) for p in glob.glob(pattern, recursive=True))
        for folder in self.folders:
            for parent, dirs, names in os.walk(folder):
                dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
                paths.update(Path(parent) / name for name in names if not name.startswith("."))
        stamps: dict[Path, Stamp | None] = {}
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                stamps[path] = None
            else:
                stamps[path] = (stat.st_mtime_ns, stat.st_size)
        return stamps


def inputs_of(target: Path, study: Study | None) -> Inputs:
    """The inputs of a build of ``target``: all of them when the study loaded, what the config names otherwise."""
    from .study import CONFIG_NAME, load_config

    target = Path(target)
    inputs = Inputs(files={target / CONFIG_NAME if target.is_dir() else target})
    try:
        root, config_path, config, _ = load_config(target)
    except SurveyEngineError:
        return inputs
    inputs.files.update({config_path, root / config.questionnaire})
    inputs.files.update(root / page for page in config.pages)
    for spec in config.data_files():
        pattern = str(root / spec.path)
        if glob.has_magic(pattern):
            inputs.patterns.add(pattern)
        else:
            inputs.files.add(Path(pattern))
    if config.plugins:
        inputs.folders.add(root / config.plugins)
    inputs.folders.add(root / "theme")  # a study's overrides, watched before the folder exists
    try:
        from .site.themes import load_theme

        inputs.folders.update(load_theme(config.theme, root).folders)
    except SurveyEngineError:
        inputs.folders.add(root / config.theme)
    if study is not None:
        inputs.files.update(study.files)  # the questionnaire's includes
    return inputs


def changed(before: dict[Path, Stamp | None], after: dict[Path, Stamp | None]) -> list[Path]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


class Preview:
    """Builds the site of one study into ``out_dir`` and remembers what to watch."""

    def __init__(self, target: Path, out_dir: Path, load: Callable[[], tuple[Study, PluginManager]],
                 say: Callable[[str], None], report_error: Callable[[SurveyEngineError], None]) -> None:
        self.target = Path(target)
        self.out_dir = out_dir
        self.load = load
        self.say = say
        self.report_error = report_error
        self.inputs = Inputs()
        self.built = False

    def build(self) -> bool:
        """One build; on failure the error is reported and the previous site stays. True when it succeeded."""
        from .build import build

        started = time.monotonic()
        study = None
        ok = False
        try:
            study, pm = self.load()
            report = build(study, pm, self.out_dir, study.config.output.formats)
            ok = True
        except SurveyEngineError as error:
            self.report_error(error)
        except Exception:  # noqa: BLE001 (a bug: keep its traceback, and keep serving)
            self.say(traceback.format_exc().rstrip())
        # What failed to load is watched as far as it is known, with what was watched before.
        self.inputs = inputs_of(self.target, study) | (Inputs() if study is not None else self.inputs)
        if ok:
            self.built = True
            findings = len(report.summary.findings) + len(study.warnings)
            note = f", {findings:,} warnings and findings (surveyengine validate lists them)" if findings else ""
            self.say(f"built {len(report.files)} files from {report.results.account['rows_used']:,} responses "
                     f"in {time.monotonic() - started:.1f} s{note}")
        elif self.built:
            self.say("the previous site is still served")
        else:
            self.say("nothing to serve until a build succeeds")
            self._placeholder()
        return ok

    def _placeholder(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "index.html").write_text(
            "<!doctype html><meta charset=utf-8><title>surveyengine serve</title>"
            f"<p>The site of {html.escape(str(self.target))} did not build: the terminal running "
            "<code>surveyengine serve</code> says why. Fix the study and reload this page.</p>\n", encoding="utf-8")


class Watcher(threading.Thread):
    """Polls the preview's inputs and rebuilds when one changes (after they stay unchanged for one interval)."""

    def __init__(self, preview: Preview, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__(name="surveyengine-serve-watcher", daemon=True)
        self.preview = preview
        self.interval = interval
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        seen = self.preview.inputs.snapshot()
        while not self.stopping.wait(self.interval):
            now = self.preview.inputs.snapshot()
            if now == seen:
                continue
            while not self.stopping.wait(self.interval):  # an editor or a copy may still be writing
                settled = self.preview.inputs.snapshot()
                if settled == now:
                    break
                now = settled
            if self.stopping.is_set():
                return
            names = changed(seen, now)
            shown = ", ".join(self._display(p) for p in names[:5]) + (f" and {len(names) - 5} more"
                                                                       if len(names) > 5 else "")
            self.preview.say(f"changed: {shown}; rebuilding")
            self.preview.build()
            # A file changed during the build keeps the stamp it had before, so the next poll sees the change;
            # files watched only from now on (a new include) count as seen.
            fresh = self.preview.inputs.snapshot()
            seen = {path: now.get(path, stamp) for path, stamp in fresh.items()}

    def _display(self, path: Path) -> str:
        root = self.preview.target if self.preview.target.is_dir() else self.preview.target.parent
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)


class _Handler(SimpleHTTPRequestHandler):
    """Serves the current site; nothing cached, so a reload always shows the last build; no request log."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def make_server(host: str, port: int, out_dir: Path) -> ThreadingHTTPServer:
    """An HTTP server for ``out_dir`` on ``host``:``port`` (0: a free port). OSError when the port is taken."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    server_class = type("_PreviewServer", (_Server,), {"address_family": family})
    return server_class((host, port), partial(_Handler, directory=str(out_dir)))


def serve(target: Path, host: str, port: int, load: Callable[[], tuple[Study, PluginManager]],
          say: Callable[[str], None], announce: Callable[[str], None],
          report_error: Callable[[SurveyEngineError], None], interval: float = DEFAULT_INTERVAL) -> None:
    """Build, serve and rebuild until Ctrl-C (or SIGTERM); returns normally then."""
    import signal

    workdir = Path(tempfile.mkdtemp(prefix="surveyengine-serve-"))
    out_dir = workdir / "site"
    server = None
    watcher = None
    previous_sigterm = None
    try:
        try:
            server = make_server(host, port, out_dir)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {host} is in use; pick another with --port") from None
            raise
        preview = Preview(target, out_dir, load, say, report_error)
        preview.build()
        watcher = Watcher(preview, interval)
        watcher.start()
        if threading.current_thread() is threading.main_thread():
            previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        bound_host, bound_port = server.server_address[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        announce(f"serving the site of {target} at http://{shown}:{bound_port}/ (Ctrl-C to stop)")
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        say("stopped")
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        if watcher is not None:
            watcher.stop()
            watcher.join(timeout=2)
        if server is not None:
            server.server_close()
        shutil.rmtree(workdir, ignore_errors=True)


class PortInUse(OSError):
    pass


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
