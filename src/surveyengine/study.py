"""A study folder: ``surveyengine.yaml``, the questionnaire it names, data, pages and plugins.

A study may also be just a questionnaire file: ``surveyengine build q.yaml``
uses the questionnaire's folder as the study and looks for data beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import questionnaire as qn
from .errors import Problem, QuestionnaireError
from .model import Questionnaire, StudyConfig
from .yamlio import YMap, load_file

if TYPE_CHECKING:
    from .plugins import PluginManager

CONFIG_NAME = "surveyengine.yaml"


@dataclass
class Study:
    root: Path
    config: StudyConfig
    config_path: Path
    questionnaire: Questionnaire
    questionnaire_path: Path
    warnings: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    loaded: qn.Loaded | None = None
    engine: str | None = None  # 'duckdb': Parquet files streamed by DuckDB; 'auto': when they are big (--engine)

    @property
    def language(self) -> str:
        return self.config.language or self.questionnaire.language

    @property
    def title(self) -> str:
        return self.questionnaire.text(self.config.title or self.questionnaire.title, self.language)

    def display(self, path: Path) -> str:
        """A path as the user should read it in messages: relative to the working directory when possible."""
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)

    def columns(self) -> dict[str, str]:
        """Item, segment and 'wave' id -> data column, with the config's ``columns`` applied."""
        mapping = {item.id: item.data_column for item in self.questionnaire.all_items()}
        mapping.update({segment.id: segment.data_column for segment in self.questionnaire.segments})
        if self.questionnaire.wave is not None:
            mapping["wave"] = self.questionnaire.wave.column
        mapping.update(self.config.columns)
        return mapping

    def plugins_dirs(self) -> list[Path]:
        return [self.root / self.config.plugins] if self.config.plugins else []


def find_config(target: Path) -> tuple[Path, Path | None]:
    """(study root, config path or None) for a folder, a config file or a questionnaire file."""
    if target.is_dir():
        config = target / CONFIG_NAME
        return target, config if config.is_file() else None
    if target.name == CONFIG_NAME:
        return target.parent, target
    return target.parent, None


def load_config(target: Path) -> tuple[Path, Path, StudyConfig, YMap | None]:
    """Read only the study config (to find plugins before validating the questionnaire)."""
    target = Path(target)
    if not target.exists():
        raise QuestionnaireError("no such file or folder", str(target))
    root, config_path = find_config(target)
    if config_path is None:
        if target.is_dir():
            raise QuestionnaireError(f"no {CONFIG_NAME} in this folder; run 'surveyengine init' to make one",
                                     str(target))
        guessed = [p.name for p in sorted(root.glob("*.csv"))]
        return root, target, StudyConfig(questionnaire=target.name, data=tuple(guessed)), None
    raw = load_file(config_path, display=str(config_path))
    if not isinstance(raw, YMap):
        raise QuestionnaireError("a study config must be a YAML mapping", str(config_path), 1, 1)
    collector = qn._Collector(raw)
    config = qn._validate_model(StudyConfig, raw, collector)
    if collector.errors:
        raise QuestionnaireError(collector.problems)
    return root, config_path, config, raw


def load_study(target: Path | str, pm: PluginManager | None = None) -> Study:
    """Load a study folder (or a questionnaire file); every problem is raised at once."""
    root, config_path, config, raw = load_config(Path(target))
    questionnaire_path = root / config.questionnaire
    known = list(pm.registry("weighters")) if pm is not None else None
    known_models = list(pm.registry("models")) if pm is not None else None
    problems: list[Problem] = []
    loaded = None
    try:
        loaded = qn.load(questionnaire_path, known_weighters=known, known_models=known_models)
    except QuestionnaireError as exc:
        problems.extend(exc.problems)
    if raw is not None:
        problems.extend(_check_config(config, root, raw, loaded))
    if any(p.severity == "error" for p in problems):
        raise QuestionnaireError(problems + (loaded.warnings if loaded else []))
    assert loaded is not None
    study = Study(root, config, config_path, loaded.questionnaire, questionnaire_path,
                  warnings=loaded.warnings + problems, files=loaded.files + ([config_path] if raw else []),
                  loaded=loaded)
    return study


def _check_config(config: StudyConfig, root: Path, raw: YMap, loaded: qn.Loaded | None) -> list[Problem]:
    collector = qn._Collector(raw)
    if not (root / config.questionnaire).is_file():
        collector.add(f"questionnaire file '{config.questionnaire}' not found", ["questionnaire"])
    for index, page in enumerate(config.pages):
        if not (root / page).is_file():
            collector.add(f"page '{page}' not found", ["pages", index])
    if config.plugins and not (root / config.plugins).is_dir():
        collector.add(f"plugins folder '{config.plugins}' not found", ["plugins"])
    if loaded is not None:
        q = loaded.questionnaire
        known: dict[str, Any] = {item.id: item for item in q.all_items()}
        known.update({segment.id: segment for segment in q.segments})
        known["wave"] = q.wave
        for key in config.columns:
            if key not in known:
                collector.add(f"columns: unknown item or segment '{key}'{qn.did_you_mean(key, known)}",
                              ["columns", key], key=True)
        segment_ids = [segment.id for segment in q.segments]
        pdf_segments = config.output.pdf.segments
        for index, segment_id in enumerate(() if isinstance(pdf_segments, bool) else pdf_segments):
            if segment_id not in segment_ids:
                collector.add(f"output.pdf.segments: unknown segment '{segment_id}'"
                              f"{qn.did_you_mean(segment_id, segment_ids)}", ["output", "pdf", "segments", index])
        _check_banners(config, q, collector)
        if config.language and config.language not in q.languages:
            collector.add(f"language '{config.language}' is not one of the questionnaire's "
                          f"({', '.join(q.languages)})", ["language"])
    return collector.problems


BANNER_QUESTION_TYPES = ("single", "rating")


def _check_banners(config: StudyConfig, q: Questionnaire, collector: qn._Collector) -> None:
    """Banners name segments, the wave, questions and rows that exist, with codes that exist."""
    seen: set[str] = set()
    factors = {f.id for f in q.walk_factors()}
    items = {i.id: i for i in q.all_items()}
    segments = {s.id: s for s in q.segments}
    for b, banner in enumerate(config.banners):
        where: list[Any] = ["banners", b]
        if banner.id in seen:
            collector.add(f"banner id '{banner.id}' is used twice", [*where, "id"])
        seen.add(banner.id)
        for c, block in enumerate(banner.columns):
            at = [*where, "columns", c]
            allowed: set[str] | None = None  # the codes a group may name, where they are known
            if block.segment is not None:
                segment = segments.get(block.segment)
                if segment is None:
                    collector.add(f"unknown segment '{block.segment}'{qn.did_you_mean(block.segment, segments)}",
                                  [*at, "segment"])
                elif segment.labels:
                    allowed = {str(code) for code in segment.labels}
            elif block.wave and q.wave is None:
                collector.add("wave columns need a 'wave' in the questionnaire", [*at, "wave"])
            elif block.question is not None:
                item = items.get(block.question)
                if item is None:
                    collector.add(f"unknown question '{block.question}'{qn.did_you_mean(block.question, items)}",
                                  [*at, "question"])
                elif item.question_type not in BANNER_QUESTION_TYPES:
                    collector.add(f"question '{block.question}' is a {item.question_type} question; banner columns "
                                  "need a single choice or rating question", [*at, "question"])
                elif item.question_type == "rating" and item.scale in q.scales:
                    scale = q.scales[item.scale]
                    allowed = {str(v) for v in range(scale.min, scale.max + 1)}
                elif item.choices in q.choices:
                    allowed = {str(code) for code in q.choices[item.choices].options}
            used: dict[str, int] = {}
            for g, group in enumerate(block.groups):
                for k, code in enumerate(group.codes):
                    text = str(code)
                    if allowed is not None and text not in allowed:
                        collector.add(f"code {code!r} is not one of {', '.join(sorted(allowed))}",
                                      [*at, "groups", g, "codes", k])
                    if text in used:
                        collector.add(f"code {code!r} is in groups {used[text] + 1} and {g + 1}: the columns of a "
                                      "block must not overlap", [*at, "groups", g, "codes", k])
                    used[text] = g
        for r, row in enumerate(banner.rows):
            if row == "csi" or row in factors:
                continue
            item = items.get(row)
            if item is None:
                collector.add(f"unknown row '{row}' (rows are 'csi', factor ids and rating item ids)"
                              f"{qn.did_you_mean(row, [*factors, *items, 'csi'])}", [*where, "rows", r])
            elif item.question_type != "rating":
                collector.add(f"row '{row}' is a {item.question_type} question; rows are rating items",
                              [*where, "rows", r])
