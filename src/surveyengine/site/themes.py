"""Themes: ``themes/<name>/`` with ``theme.yaml`` (``extends: default``), ``templates/``,
``static/`` and ``messages.yaml`` (the site's own words per language).

Templates are looked up in the study's own ``theme/`` folder, then the theme,
then its ``extends`` chain, then ``default`` (as in MkDocs). An override can
extend the template it replaces with ``{% extends "!default/base.html" %}``.
Third-party themes register under the entry-point group ``surveyengine.themes``
(the entry point's value is the theme folder's package).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import QuestionnaireError
from ..resources import resource_dir
from ..yamlio import load_file

ENTRY_POINT_GROUP = "surveyengine.themes"
MAX_EXTENDS = 8


@dataclass
class Theme:
    name: str
    folders: list[Path]  # most specific first; the study override folder may lead
    messages: dict[str, dict[str, str]] = field(default_factory=dict)

    def template_dirs(self) -> list[Path]:
        return [folder / "templates" for folder in self.folders if (folder / "templates").is_dir()]

    def static_dirs(self) -> list[Path]:
        return [folder / "static" for folder in self.folders if (folder / "static").is_dir()]

    def gettext(self, language: str) -> dict[str, str]:
        words = dict(self.messages.get("en", {}))
        words.update(self.messages.get(language, {}))
        return words


def installed_themes() -> dict[str, Path]:
    themes = {p.name: p for p in sorted(resource_dir("themes").iterdir()) if (p / "theme.yaml").is_file()}
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        module = ep.load()
        themes.setdefault(ep.name, Path(module.__file__).parent)
    return themes


def _read_theme_yaml(folder: Path) -> dict[str, Any]:
    path = folder / "theme.yaml"
    data = load_file(path) if path.is_file() else {}
    return dict(data or {})


def load_theme(name: str, study_root: Path | None = None) -> Theme:
    """The theme called ``name`` (installed, or a folder relative to the study), with its chain."""
    installed = installed_themes()
    candidate = (study_root / name) if study_root is not None else None
    if candidate is not None and (candidate / "theme.yaml").is_file():
        folder = candidate
    elif name in installed:
        folder = installed[name]
    else:
        raise QuestionnaireError(f"unknown theme '{name}'; installed themes: {', '.join(sorted(installed))}")
    folders = [folder]
    config = _read_theme_yaml(folder)
    while config.get("extends"):
        parent = str(config["extends"])
        if parent not in installed or len(folders) > MAX_EXTENDS or installed[parent] in folders:
            raise QuestionnaireError(f"theme '{folders[-1].name}' extends unknown or circular theme '{parent}'",
                                     str(folders[-1] / "theme.yaml"))
        folders.append(installed[parent])
        config = _read_theme_yaml(installed[parent])
    if installed["default"] not in folders:
        folders.append(installed["default"])
    if study_root is not None and (study_root / "theme").is_dir() and (study_root / "theme") != folder:
        folders.insert(0, study_root / "theme")
    messages: dict[str, dict[str, str]] = {}
    for theme_folder in reversed(folders):
        path = theme_folder / "messages.yaml"
        if path.is_file():
            for language, words in (load_file(path) or {}).items():
                messages.setdefault(language, {}).update(words or {})
    return Theme(name, folders, messages)
