"""The plugin manager: built-in plugins, entry points, a study's own plugins folder.

Registration order is built-ins, then the ``surveyengine`` entry-point group,
then ``*.py`` files of plugin folders; pluggy calls the plugin registered last
first, so a study's plugin can override a built-in. ``SURVEYENGINE_DISABLE_PLUGINS``
(comma-separated names) blocks plugins by name. Nothing is loaded at import time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

import pluggy

from . import __version__, hookspecs
from .errors import PluginError, SurveyEngineError
from .resources import resource_dir

DEFAULT_PLUGINS: tuple[str, ...] = (
    "csv_reader",
    "parquet_reader",
    "jsonl_reader",
    "xlsx_reader",
    "spss_reader",
    "equal_weighter",
    "relative_weights",
    "shapley",
    "betas",
    "ridge",
    "pls_model",
    "mean_scorer",
    "box_scorer",
    "nps_scorer",
    "gap_scorer",
    "complaint_scorer",
    "alpha_scorer",
    "html_output",
    "json_output",
    "csv_output",
    "md_output",
    "xlsx_output",
    "review_output",
    "pdf_output",
    "xlsform_export",
    "surveyjs_export",
    "html_export",
)
ENTRY_POINT_GROUP = "surveyengine"
DISABLE_ENV = "SURVEYENGINE_DISABLE_PLUGINS"

_CODE_OWNERS: dict[CodeType, str] = {}


@dataclass
class PluginInfo:
    name: str
    source: str  # "built-in", "entry point", "plugins folder" or "registered"
    version: str | None = None
    path: str | None = None
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "version": self.version, "path": self.path,
                "hooks": self.hooks}


class PluginManager(pluggy.PluginManager):
    """pluggy's manager that also remembers where each plugin came from."""

    def __init__(self) -> None:
        super().__init__("surveyengine")
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, PluginInfo] = {}
        self._registries: dict[str, Any] = {}

    def register(self, plugin: object, name: str | None = None, *, source: str = "registered",
                 version: str | None = None, path: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        if registered is None:
            return None
        self.origins[registered] = PluginInfo(registered, source, version, path)
        for caller in self.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    _CODE_OWNERS[impl.function.__code__] = registered
        self._registries.clear()
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        if name is None and plugin is not None:
            name = self.get_name(plugin)  # before pluggy forgets it
        removed = super().unregister(plugin, name)
        if removed is not None and name is not None:
            self.origins.pop(name, None)
        self._registries.clear()
        return removed

    def plugin_infos(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in self.list_name_plugin():
            if plugin is None:  # blocked (SURVEYENGINE_DISABLE_PLUGINS): pluggy keeps the name, not a plugin
                continue
            info = self.origins.get(name) or PluginInfo(name, "registered")
            info.hooks = sorted(caller.name for caller in self.get_hookcallers(plugin) or [])
            infos.append(info)
        return infos

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call a hook; an exception in a plugin becomes a PluginError naming the plugin and the hook."""
        with plugin_errors(hook):
            return getattr(self.hook, hook)(**kwargs)

    def registry(self, kind: str) -> Any:
        """The registry of ``kind`` (readers, scorers, weighters, models, outputs, exporters), filled once per
        manager."""
        if kind not in self._registries:
            from . import interfaces
            from .registry import Registry

            protocol = {"readers": interfaces.Reader, "scorers": interfaces.Scorer,
                        "weighters": interfaces.Weighter, "models": interfaces.StructuralModel,
                        "outputs": interfaces.Output, "exporters": interfaces.Exporter}[kind]
            registry: Registry[Any] = Registry(kind[:-1], protocol)
            self.call(f"surveyengine_register_{kind}", registry=registry)
            self._registries[kind] = registry
        return self._registries[kind]


def plugin_for_code(code: CodeType) -> str | None:
    return _CODE_OWNERS.get(code)


def _plugin_in_traceback(tb: Any) -> str | None:
    owner = None
    for frame, _ in traceback.walk_tb(tb):
        owner = _CODE_OWNERS.get(frame.f_code, owner)
    return owner


@contextlib.contextmanager
def plugin_errors(what: str, owner: str | None = None) -> Iterator[None]:
    """Turn an unexpected exception raised by plugin code into a PluginError naming the plugin."""
    try:
        yield
    except SurveyEngineError:
        raise
    except Exception as exc:
        name = _plugin_in_traceback(exc.__traceback__) or owner
        if name is None:
            raise
        detail = str(exc) or type(exc).__name__
        raise PluginError(f"plugin {name} failed in {what}: {type(exc).__name__}: {detail}") from exc


def _load_module(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError("cannot load plugin", str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        line = None
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == str(path):
                line = lineno
        if isinstance(exc, SyntaxError):
            line = exc.lineno
        raise PluginError(f"plugin failed to import: {type(exc).__name__}: {exc}", str(path), line) from exc
    return module


def load_builtin(pm: PluginManager, names: Iterable[str] = DEFAULT_PLUGINS) -> None:
    folder = resource_dir("plugins")
    for stem in names:
        if pm.is_blocked(stem):
            continue
        module = _load_module(folder / f"{stem}.py", f"surveyengine.builtins.{stem}")
        pm.register(module, stem, source="built-in", version=__version__, path=str(folder / f"{stem}.py"))


def load_entry_points(pm: PluginManager) -> None:
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
            continue
        dist = getattr(ep, "dist", None)
        dist_name = f"{dist.name} {dist.version}" if dist else ep.value
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin '{ep.name}' from {dist_name} failed to import: "
                              f"{type(exc).__name__}: {exc}") from exc
        pm.register(plugin, ep.name, source="entry point", version=dist.version if dist else None,
                    path=dist.name if dist else ep.value)


def load_directory(pm: PluginManager, folder: Path) -> None:
    if not folder.is_dir():
        raise PluginError("plugins folder not found", str(folder))
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_") or pm.is_blocked(path.stem):
            continue
        module = _load_module(path, f"surveyengine_plugins_dir.{path.stem}")
        if pm.has_plugin(path.stem):
            raise PluginError(f"a plugin named '{path.stem}' is already loaded "
                              f"({pm.origins[path.stem].source}); rename the file", str(path))
        pm.register(module, path.stem, source="plugins folder", path=str(path))


def get_plugin_manager(plugins_dirs: Iterable[Path] = (), *, entry_points: bool = True,
                       builtins: bool = True) -> PluginManager:
    """A new manager with built-ins, entry points and the given plugin folders registered."""
    pm = PluginManager()
    for name in filter(None, (n.strip() for n in os.environ.get(DISABLE_ENV, "").split(","))):
        pm.set_blocked(name)
    if builtins:
        load_builtin(pm)
    if entry_points:
        load_entry_points(pm)
    for folder in plugins_dirs:
        load_directory(pm, Path(folder))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or exc.plugin
        raise PluginError(f"plugin {name} implements an unknown hook: {exc}") from exc
    return pm
