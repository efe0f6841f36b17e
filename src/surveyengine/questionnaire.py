"""Questionnaire YAML to :class:`~surveyengine.model.Questionnaire`, with every problem located.

Steps: read the YAML safely (:mod:`surveyengine.yamlio`), pull in the scales,
choices and blocks of ``include``\\ d library files, expand ``- block: id``
references, validate the structure with pydantic, then check what a schema
cannot: references, duplicate ids, conditions, expectation pairs, segment
hierarchy and labels per language. All problems are collected and raised
together as one :class:`~surveyengine.errors.QuestionnaireError`; warnings are
returned with the model.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import conditions, model
from .errors import Location, Problem, QuestionnaireError
from .yamlio import YList, YMap, load_file, locate

MAX_INCLUDE_DEPTH = 8
_TEXT_FIELDS = frozenset({"title", "description", "text", "label", "note"})
_TEXT_MAPS = frozenset({"labels", "missing", "options"})


def did_you_mean(name: object, candidates: Iterable[object]) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or ''."""
    names = [str(c) for c in candidates]
    match = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


@dataclass
class Loaded:
    """A validated questionnaire with its warnings and its source files."""

    questionnaire: model.Questionnaire
    warnings: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    raw: YMap | None = None

    def locate(self, *path: Any, key: bool = False) -> Location:
        return locate(self.raw, path, key=key) if self.raw is not None else Location()


class _Collector:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def add(self, message: str, path: Sequence[Any], *, key: bool = False, severity: str = "error",
            column_offset: int = 0) -> None:
        loc = locate(self.root, path, key=key)
        if column_offset and loc.column is not None:
            loc = Location(loc.path, loc.line, int(loc.column) + column_offset)
        problem = Problem(message, loc, severity, format_key_path(self.root, path))
        # a block placed in a factor is checked twice, under both key paths: report it once
        if not any((p.message, p.location, p.severity) == (message, loc, severity) for p in self.problems):
            self.problems.append(problem)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def format_key_path(root: Any, path: Sequence[Any]) -> str:
    """``factors[service].items[s_wait].scale``: list elements shown by their id where they have one."""
    out = ""
    node = root
    for part in path:
        if isinstance(node, list) and isinstance(part, int):
            element = node[part] if 0 <= part < len(node) else None
            ident = element.get("id") if isinstance(element, dict) else None
            out += f"[{ident}]" if isinstance(ident, str) else f"[{part}]"
            node = element
        elif isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
        elif isinstance(node, dict) or node is None or isinstance(node, list):
            if isinstance(part, str) and not isinstance(node, list):
                out += f".{part}" if out else part
            node = None
    return out


# --------------------------------------------------------------------------- loading

def load(path: Path | str, *, known_weighters: Iterable[str] | None = None,
         known_models: Iterable[str] | None = None) -> Loaded:
    """Load and validate a questionnaire file; raises QuestionnaireError with every problem. ``known_weighters``
    and ``known_models``: the installed plugin ids that ``index.method`` and ``model.method`` may name."""
    path = Path(path)
    raw = load_file(path)
    if not isinstance(raw, YMap):
        raise QuestionnaireError("a questionnaire must be a YAML mapping (key: value)", str(path), 1, 1)
    files = [path]
    collector = _Collector(raw)
    raw = _merge_includes(raw, path, collector, files, depth=0, chain=(path.resolve(),))
    collector.root = raw
    _expand_blocks(raw, collector)
    questionnaire = _validate_model(model.Questionnaire, raw, collector)
    if questionnaire is not None:
        _check_semantics(questionnaire, collector, known_weighters, known_models)
    if collector.errors:
        raise QuestionnaireError(sorted(collector.problems, key=_reading_order))
    assert questionnaire is not None
    return Loaded(questionnaire, collector.warnings, files, raw)


def _reading_order(problem: Problem) -> tuple[str, int, int]:
    loc = problem.location
    column = loc.column if isinstance(loc.column, int) else 0
    return (loc.path or "", loc.line or 0, column)


def _merge_includes(raw: YMap, path: Path, collector: _Collector, files: list[Path], depth: int,
                    chain: tuple[Path, ...]) -> YMap:
    includes = raw.get("include") or []
    if not isinstance(includes, list):
        return raw  # the model reports the type error
    for index, name in enumerate(includes):
        if not isinstance(name, str):
            continue
        target = (path.parent / name)
        where = locate(raw, ["include", index])
        if depth >= MAX_INCLUDE_DEPTH:
            collector.problems.append(Problem(f"includes nested deeper than {MAX_INCLUDE_DEPTH} files", where))
            continue
        if target.resolve() in chain:
            collector.problems.append(Problem(f"include '{name}' includes itself (a cycle)", where))
            continue
        try:
            library = load_file(target, display=str(target))
        except QuestionnaireError as exc:
            if exc.message == "file not found":
                collector.problems.append(Problem(f"included file '{name}' not found", where))
            elif exc.location.line is None:  # the file as a whole: point at the include
                collector.problems.append(Problem(f"included file '{name}': {exc.message}", where))
            else:
                collector.problems.extend(exc.problems)
            continue
        if not isinstance(library, YMap):
            collector.problems.append(Problem("a library must be a YAML mapping", Location(str(target), 1, 1)))
            continue
        files.append(target)
        library = _merge_includes(library, target, collector, files, depth + 1, chain + (target.resolve(),))
        lib_collector = _Collector(library)
        _validate_model(model.Library, library, lib_collector)
        collector.problems.extend(p for p in lib_collector.problems if p not in collector.problems)
        for section in ("scales", "choices", "blocks"):
            entries = library.get(section)
            if not isinstance(entries, YMap):
                continue
            own = raw.get(section)
            if own is None:
                own = YMap()
                own.file, own.start = entries.file, entries.start
                raw[section] = own
                raw.key_locations[section] = library.key_locations[section]
                raw.value_locations[section] = library.value_locations[section]
            if not isinstance(own, YMap):
                continue
            for key, value in entries.items():
                if key in own:
                    first = own.key_locations[key]
                    collector.problems.append(Problem(
                        f"{section[:-1]} '{key}' is defined twice: here and at {first}",
                        entries.key_locations[key]))
                    continue
                own[key] = value
                own.key_locations[key] = entries.key_locations[key]
                own.value_locations[key] = entries.value_locations[key]
    return raw


def _expand_blocks(raw: YMap, collector: _Collector) -> None:
    blocks = raw.get("blocks") if isinstance(raw.get("blocks"), YMap) else YMap()

    def expand(items: Any, path: list[Any]) -> None:
        if not isinstance(items, YList):
            return
        expanded = YList()
        expanded.file, expanded.start = items.file, items.start
        for index, element in enumerate(items):
            if isinstance(element, YMap) and "block" in element:
                name = element["block"]
                if set(element) != {"block"}:
                    collector.add("a block reference takes only 'block: <id>'", path + [index])
                    continue
                block = blocks.get(name) if isinstance(name, str) else None
                block_items = block.get("items") if isinstance(block, YMap) else None
                if block is None:
                    collector.add(f"unknown block '{name}'{did_you_mean(name, blocks)}", path + [index, "block"])
                    continue
                if isinstance(block_items, YList):
                    expanded.extend(block_items)
                    expanded.item_locations.extend(block_items.item_locations)
                continue
            expanded.append(element)
            expanded.item_locations.append(items.item_locations[index])
        parent = raw
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = expanded

    def walk_factors(factors: Any, path: list[Any]) -> None:
        if not isinstance(factors, YList):
            return
        for index, factor in enumerate(factors):
            if isinstance(factor, YMap):
                expand(factor.get("items"), path + [index, "items"])
                walk_factors(factor.get("factors"), path + [index, "factors"])

    walk_factors(raw.get("factors"), ["factors"])
    expand(raw.get("questions"), ["questions"])


_FIELD_NAMES: set[str] = set()


def _all_field_names() -> set[str]:
    if not _FIELD_NAMES:
        for cls in vars(model).values():
            if isinstance(cls, type) and issubclass(cls, BaseModel) and cls.__module__ == model.__name__:
                _FIELD_NAMES.update(cls.model_fields)
    return _FIELD_NAMES


def _validate_model(cls: type[BaseModel], raw: YMap, collector: _Collector) -> Any:
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        for path, message, key in _friendly(exc.errors(include_url=False), raw):
            collector.add(message, path, key=key)
        return None


def _strip_union_parts(root: Any, loc: Sequence[Any]) -> list[Any]:
    """Drop loc parts that name union members (e.g. 'str', 'dict[...]') rather than data."""
    node, out = root, []
    for part in loc:
        if isinstance(node, dict) and (part in node or (isinstance(part, str) and part.isdigit() and int(part) in node)):
            key = part if part in node else int(part)
            out.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and not any(ch in str(part) for ch in "[]-") and str(part) not in ("str", "int"):
            out.append(part)  # a key that is missing or unknown
            node = None
    return out


def _node_at(root: Any, path: Sequence[Any]) -> Any:
    """The data at ``path`` below ``root``, or None."""
    node = root
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_EXPECTED = {
    "string_type": "text",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
}


_PATTERN_RULES = {  # the patterns of model.py, in words
    r"^[A-Za-z][A-Za-z0-9_]*$": "an id is a letter followed by letters, digits or underscores",
    r"^[a-z][a-z0-9-]*$": "use lower-case letters, digits and hyphens, starting with a letter",
    r"^[a-z][a-z0-9_-]*$": "use lower-case letters, digits, '_' and '-', starting with a letter",
    r"^[a-z0-9][a-z0-9_-]*$": "use lower-case letters, digits, '_' and '-'",
    r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$": "a language code is lower-case, e.g. en, zh or pt-BR",
}


def _friendly(errors: list[dict[str, Any]], root: Any) -> Iterator[tuple[list[Any], str, bool]]:
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for error in errors:
        path = tuple(_strip_union_parts(root, error["loc"]))
        grouped.setdefault(path, []).append(error)
    for path, group in grouped.items():
        types = {e["type"] for e in group}
        nested = any(len(other) > len(path) and other[: len(path)] == path for other in grouped)
        if types <= {"string_type", "dict_type"} and nested:
            continue  # a text mapping with a bad entry: report the entry, not the union
        if types == {"too_short"} and nested:
            continue  # pydantic counts only the valid elements; the invalid one is reported already
        first = group[0]
        value = first.get("input")
        if "extra_forbidden" in types:
            name = path[-1] if path else "?"
            yield list(path), f"unknown key '{name}'{did_you_mean(name, _all_field_names())}", True
        elif "missing" in types:
            yield list(path[:-1]), f"missing required key '{path[-1]}'", True  # at the key that lacks it
        elif types == {"string_type", "dict_type"}:
            yield list(path), f"expected text or a mapping of language to text, found {_describe(value)}", False
        elif types <= set(_EXPECTED):
            expected = " or ".join(sorted({_EXPECTED[t] for t in types}))
            yield list(path), f"expected {expected}, found {_describe(value)}", False
        elif "string_pattern_mismatch" in types:
            pattern = first.get("ctx", {}).get("pattern", "")
            rule = _PATTERN_RULES.get(pattern, f"does not match {pattern}")
            is_key = any(e["loc"][-1:] == ("[key]",) for e in group)  # a bad key of a mapping, e.g. a language
            yield list(path), f"invalid value {_describe(value)}: {rule}", is_key
        elif "literal_error" in types:
            yield list(path), f"found {_describe(value)}, expected {first['ctx']['expected']}", False
        elif "too_short" in types:
            yield list(path), "must not be empty", False
        elif "value_error" in types:
            message = str(first["msg"]).removeprefix("Value error, ")
            node = _node_at(root, path)
            subject = message.split(" ", 1)[0]
            if isinstance(node, dict) and subject in node:
                path += (subject,)  # "privacy_min (50) is larger ...": point at privacy_min
            yield list(path), message, False
        else:
            yield list(path), f"{first['msg']} (found {_describe(value)})", False


# --------------------------------------------------------------------------- semantic checks

def _iter_factors(factors: Sequence[model.Factor], path: list[Any]) -> Iterator[tuple[model.Factor, list[Any]]]:
    for index, factor in enumerate(factors):
        here = path + [index]
        yield factor, here
        yield from _iter_factors(factor.factors, here + ["factors"])


def iter_items(questionnaire: model.Questionnaire) -> Iterator[tuple[model.Item, list[Any], model.Factor | None]]:
    """Every item with its key path and its factor (None for questions)."""
    for factor, path in _iter_factors(questionnaire.factors, ["factors"]):
        for index, item in enumerate(factor.items):
            yield item, path + ["items", index], factor
    for index, item in enumerate(questionnaire.questions):
        yield item, ["questions", index], None


def _check_semantics(q: model.Questionnaire, out: _Collector, known_weighters: Iterable[str] | None,
                     known_models: Iterable[str] | None = None) -> None:
    items: dict[str, tuple[model.Item, list[Any]]] = {}
    columns: dict[str, list[Any]] = {}
    for item, path, factor in iter_items(q):
        if item.id in items:
            out.add(f"duplicate item id '{item.id}' (first defined at {locate(out.root, items[item.id][1] + ['id'])})",
                    path + ["id"])
            continue
        items[item.id] = (item, path)
        column = item.data_column
        if column in columns:
            out.add(f"item '{item.id}' reads column '{column}', which item "
                    f"'{format_key_path(out.root, columns[column])}' reads too", path)
        columns.setdefault(column, path)

    factors: dict[str, list[Any]] = {}
    for factor, path in _iter_factors(q.factors, ["factors"]):
        if factor.id in factors:
            out.add(f"duplicate factor id '{factor.id}'", path + ["id"])
        factors.setdefault(factor.id, path)
        if not factor.items and not factor.factors:
            out.add(f"factor '{factor.id}' has no items", path + ["items"])
        if factor.kind not in model.FACTOR_KINDS and len(path) == 2:
            pass  # user-defined kinds are allowed by design

    for scale_id, scale in q.scales.items():
        where = ["scales", scale_id]
        if scale.min >= scale.max:
            out.add(f"scale '{scale_id}': min ({scale.min}) must be below max ({scale.max})", where)
            continue
        for code in scale.labels:
            if not scale.min <= code <= scale.max:
                out.add(f"scale '{scale_id}': label for {code}, outside {scale.min}-{scale.max}",
                        where + ["labels", code], key=True)
        for code in scale.missing:
            if scale.min <= code <= scale.max:
                out.add(f"scale '{scale_id}': missing code {code} is a valid answer ({scale.min}-{scale.max})",
                        where + ["missing", code], key=True)
        for box in ("top_box", "bottom_box"):
            size = getattr(scale, box)
            if size is not None and size >= scale.points:
                out.add(f"scale '{scale_id}': {box} {size} covers the whole {scale.points}-point scale",
                        where + [box])

    for item, path, factor in iter_items(q):
        kind = item.question_type
        if item.scale is not None and item.scale not in q.scales:
            out.add(f"unknown scale '{item.scale}'{did_you_mean(item.scale, q.scales)}", path + ["scale"])
        if item.choices is not None and item.choices not in q.choices:
            out.add(f"unknown choice list '{item.choices}'{did_you_mean(item.choices, q.choices)}",
                    path + ["choices"])
        if kind == "rating" and item.scale is None:
            out.add(f"rating item '{item.id}' needs a scale", path)
        if kind in ("single", "multiple") and item.choices is None:
            out.add(f"{kind} choice item '{item.id}' needs choices", path)
        if kind in ("text", "number") and (item.scale or item.choices):
            out.add(f"{kind} item '{item.id}' takes no scale or choices", path + ["type"])
        if factor is not None and kind != "rating":
            out.add(f"item '{item.id}' in factor '{factor.id}' must be a rating item, not {kind}", path)
        if item.expectation is not None and kind != "rating":
            out.add(f"only rating items have an expectation; '{item.id}' is {kind}", path + ["expectation"])
        elif item.expectation is not None:
            _check_expectation(q, item, path, items, out)
        if item.when is not None:
            _check_condition(item.when, item.id, path + ["when"], items, out)

    _check_outcomes(q, items, out)
    _check_segments(q, out)
    _check_index(q, items, factors, out, known_weighters)
    _check_model(q, items, factors, out, known_models)
    _check_weights(q, out)
    _check_codeframes(q, items, out)
    _check_languages(q, out)


def _check_expectation(q: model.Questionnaire, item: model.Item, path: list[Any],
                       items: dict[str, tuple[model.Item, list[Any]]], out: _Collector) -> None:
    target = items.get(item.expectation or "")
    if target is None:
        out.add(f"unknown expectation item '{item.expectation}'{did_you_mean(item.expectation, items)}",
                path + ["expectation"])
        return
    expectation, _ = target
    if expectation.id == item.id:
        out.add(f"item '{item.id}' names itself as its expectation", path + ["expectation"])
        return
    mine, theirs = q.scales.get(item.scale or ""), q.scales.get(expectation.scale or "")
    if mine is None or theirs is None:
        if expectation.question_type != "rating":
            out.add(f"expectation item '{expectation.id}' must be a rating item", path + ["expectation"])
        return
    if (mine.min, mine.max) != (theirs.min, theirs.max):
        out.add(f"expectation item '{expectation.id}' is on scale '{expectation.scale}' ({theirs.min}-{theirs.max}) "
                f"but '{item.id}' is on scale '{item.scale}' ({mine.min}-{mine.max}); a gap needs the same range",
                path + ["expectation"])


def _check_condition(source: str, item_id: str, path: list[Any], items: dict[str, Any], out: _Collector) -> None:
    try:
        condition = conditions.parse(source)
    except conditions.ConditionError as exc:
        out.add(str(exc), path, column_offset=exc.offset)
        return
    for name in sorted(condition.names):
        if name not in items:
            out.add(f"condition names unknown item '{name}'{did_you_mean(name, items)}", path,
                    column_offset=source.find(name))
        elif name == item_id:
            out.add(f"item '{item_id}' cannot depend on its own answer", path)
        elif items[name][0].question_type == "multiple":
            # its answer is a set of codes ('1 3'): '==' and 'in' would compare the set, never one code
            out.add(f"a condition cannot test the multiple choice item '{name}' (its answer is a set of codes); "
                    "ask a single choice question to route on", path, column_offset=source.find(name))


def _item_of_kind(items: dict[str, tuple[model.Item, list[Any]]], item_id: str | None, kinds: tuple[str, ...],
                  role: str, path: list[Any], out: _Collector) -> model.Item | None:
    """The item ``item_id`` that ``role`` names, when it exists and is of one of ``kinds`` (else a problem)."""
    if item_id is None:
        return None
    found = items.get(item_id)
    if found is None:
        out.add(f"{role}: unknown item '{item_id}'{did_you_mean(item_id, items)}", path)
        return None
    if found[0].question_type not in kinds:
        out.add(f"{role}: item '{item_id}' is {found[0].question_type}, expected {' or '.join(kinds)}", path)
        return None
    return found[0]


def _check_outcomes(q: model.Questionnaire, items: dict[str, tuple[model.Item, list[Any]]], out: _Collector) -> None:
    def need(item_id: str | None, path: list[Any], kinds: tuple[str, ...], role: str) -> model.Item | None:
        return _item_of_kind(items, item_id, kinds, role, path, out)

    o = q.outcomes
    for index, item_id in enumerate(o.overall):
        need(item_id, ["outcomes", "overall", index], ("rating",), "overall satisfaction")
    recommend = need(o.recommend, ["outcomes", "recommend"], ("rating",), "recommend")
    scale = q.scale_of(recommend) if recommend else None
    if scale is not None and (scale.min, scale.max) != (0, 10):
        out.add(f"recommend: NPS needs a 0-10 scale, '{recommend.id}' is on {scale.min}-{scale.max}",  # type: ignore[union-attr]
                ["outcomes", "recommend"])
    need(o.repurchase, ["outcomes", "repurchase"], ("rating", "single"), "repurchase")
    if o.complaint is not None:
        base = ["outcomes", "complaint"]
        need(o.complaint.item, base + ["item"], ("single", "rating"), "complaint")
        for code_key, item_key in (("yes", "item"), ("resolved_yes", "resolved")):
            asked = q.item(getattr(o.complaint, item_key)) if getattr(o.complaint, item_key) in items else None
            options = q.choices[asked.choices].options if asked and asked.choices in q.choices else None
            for position, code in enumerate(getattr(o.complaint, code_key)):
                if options is not None and code not in options:
                    out.add(f"complaint {code_key}: {code!r} is not a code of choice list '{asked.choices}' "
                            f"({', '.join(map(str, options))})", base + [code_key, position])
        need(o.complaint.resolved, base + ["resolved"], ("single", "rating"), "complaint resolved")
        need(o.complaint.handling, base + ["handling"], ("rating",), "complaint handling")
        need(o.complaint.description, base + ["description"], ("text",), "complaint description")
    for index, item_id in enumerate(o.comments):
        need(item_id, ["outcomes", "comments", index], ("text",), "comments")


def _check_segments(q: model.Questionnaire, out: _Collector) -> None:
    if q.wave is not None:
        for index, segment in enumerate(q.segments):
            if segment.data_column == q.wave.column:
                out.add(f"segment '{segment.id}' reads column '{segment.data_column}', which is the wave column",
                        ["segments", index])
    ids: dict[str, int] = {}
    for index, segment in enumerate(q.segments):
        if segment.id in ids:
            out.add(f"duplicate segment id '{segment.id}'", ["segments", index, "id"])
        ids.setdefault(segment.id, index)
    for index, segment in enumerate(q.segments):
        if segment.parent is None:
            continue
        if segment.parent not in ids:
            out.add(f"unknown parent segment '{segment.parent}'{did_you_mean(segment.parent, ids)}",
                    ["segments", index, "parent"])
            continue
        seen, current = {segment.id}, segment.parent
        while current is not None:
            if current in seen:
                out.add(f"segment '{segment.id}': parents form a cycle", ["segments", index, "parent"])
                break
            seen.add(current)
            current = q.segments[ids[current]].parent if current in ids else None


def _check_index(q: model.Questionnaire, items: dict[str, Any], factors: dict[str, Any], out: _Collector,
                 known_weighters: Iterable[str] | None) -> None:
    for index, driver in enumerate(q.index.drivers):
        if driver not in factors:
            out.add(f"unknown driver factor '{driver}'{did_you_mean(driver, factors)}", ["index", "drivers", index])
    _item_of_kind(items, q.index.outcome, ("rating",), "index outcome", ["index", "outcome"], out)
    if known_weighters is not None:
        known = sorted(known_weighters)
        for key in ("method", "item_method"):
            value = getattr(q.index, key)
            if value is not None and value not in known:
                out.add(f"unknown weighting method '{value}'{did_you_mean(value, known)}; installed: {', '.join(known)}",
                        ["index", key])


def _check_model(q: model.Questionnaire, items: dict[str, Any], factors: dict[str, Any], out: _Collector,
                 known_models: Iterable[str] | None = None) -> None:
    """The structural model: an installed method; known constructs, factors and rating items; every construct
    measured; no cycle."""
    if q.model is None:
        return
    if known_models is not None:
        known = sorted(known_models)
        if q.model.method not in known:
            out.add(f"unknown structural-model method '{q.model.method}'{did_you_mean(q.model.method, known)}; "
                    f"installed: {', '.join(known)}", ["model", "method"])
    ids: dict[str, int] = {}
    for index, construct in enumerate(q.model.constructs):
        where = ["model", "constructs", index]
        if construct.id in ids:
            out.add(f"duplicate construct id '{construct.id}'", where + ["id"])
        ids.setdefault(construct.id, index)
        if construct.factor is not None and construct.factor not in factors:
            out.add(f"construct '{construct.id}': unknown factor '{construct.factor}'"
                    f"{did_you_mean(construct.factor, factors)}", where + ["factor"])
        for position, item_id in enumerate(construct.items):
            _item_of_kind(items, item_id, ("rating",), f"construct '{construct.id}'", where + ["items", position], out)
        if construct.factor is None and not construct.items:
            out.add(f"construct '{construct.id}' has no items: give it a factor or items", where)
    for source, targets in q.model.paths.items():
        if source not in ids:
            out.add(f"path from unknown construct '{source}'{did_you_mean(source, ids)}", ["model", "paths", source],
                    key=True)
        for position, target in enumerate(targets):
            if target not in ids:
                out.add(f"path to unknown construct '{target}'{did_you_mean(target, ids)}",
                        ["model", "paths", source, position])
            elif target == source:
                out.add(f"construct '{source}' cannot drive itself", ["model", "paths", source, position])
    edges = {source: [t for t in targets if t in ids and t != source]
             for source, targets in q.model.paths.items() if source in ids}
    cycle = _find_cycle(edges)
    if cycle:
        out.add("the paths form a cycle: " + " -> ".join(cycle), ["model", "paths"])
    linked = {source for source, targets in edges.items() if targets} | {t for ts in edges.values() for t in ts}
    for construct in q.model.constructs:
        if construct.id in ids and construct.id not in linked:
            out.add(f"construct '{construct.id}' has no path to or from another construct",
                    ["model", "constructs", ids[construct.id], "id"])


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A cycle in a directed graph (its nodes, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in edges:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def _check_weights(q: model.Questionnaire, out: _Collector) -> None:
    if q.weights is None:
        return
    segments = {s.id: s for s in q.segments}
    items = {item.id: item for item in q.all_items()}
    for index, target in enumerate(q.weights.rake):
        where = ["weights", "rake", index]
        if target.variable in segments:
            known_codes = {str(code) for code in segments[target.variable].labels}
        elif target.variable in items and items[target.variable].question_type == "single":
            known_codes = {str(code) for code in q.choices[items[target.variable].choices].options} \
                if items[target.variable].choices in q.choices else set()
        else:
            candidates = list(segments) + [i for i, item in items.items() if item.question_type == "single"]
            out.add(f"rake variable '{target.variable}' is neither a segment nor a single choice item"
                    f"{did_you_mean(target.variable, candidates)}", where + ["variable"])
            known_codes = set()
        for code in target.shares:
            if known_codes and str(code) not in known_codes:
                out.add(f"'{code}' is not a category of '{target.variable}' "
                        f"({', '.join(sorted(known_codes))})", where + ["shares", code], key=True)
        total = sum(target.shares.values())
        if abs(total - 1.0) > 1e-6:
            out.add(f"shares of '{target.variable}' sum to {total:g}, not 1", where + ["shares"])
        if any(share <= 0 for share in target.shares.values()):
            out.add(f"shares of '{target.variable}' must be positive", where + ["shares"])
        if target.within is not None and target.within not in segments:
            out.add(f"unknown segment '{target.within}'{did_you_mean(target.within, segments)}", where + ["within"])


def _check_codeframes(q: model.Questionnaire, items: dict[str, tuple[model.Item, list[Any]]],
                      out: _Collector) -> None:
    """Codeframes: text items coded once, unique code and net ids, nets of known codes, safe rules."""
    from . import coderules

    coded_by: dict[str, str] = {}
    for frame_id, frame in q.codeframes.items():
        base = ["codeframes", frame_id]
        for position, item_id in enumerate(frame.items):
            coded = _item_of_kind(items, item_id, ("text",), f"codeframe '{frame_id}'", base + ["items", position],
                                  out)
            if coded is not None and item_id in coded_by:
                out.add(f"item '{item_id}' is coded by codeframes '{coded_by[item_id]}' and '{frame_id}'; "
                        "give it one", base + ["items", position])
            coded_by.setdefault(item_id, frame_id)
        codes: dict[str, int] = {}
        for index, code in enumerate(frame.codes):
            where = base + ["codes", index]
            if code.id in codes:
                out.add(f"duplicate code id '{code.id}' in codeframe '{frame_id}'", where + ["id"])
            codes.setdefault(code.id, index)
            for field_name in ("keywords", "patterns", "examples"):
                for lang, phrases in getattr(code, field_name).items():
                    if lang not in q.languages:
                        out.add(f"{field_name} in '{lang}', which is not a declared language "
                                f"({', '.join(q.languages)})", where + [field_name, lang], key=True,
                                severity="warning")
                    for position, phrase in enumerate(phrases):
                        try:
                            if field_name == "keywords":
                                coderules.keyword_pattern(phrase)
                            elif field_name == "patterns":
                                coderules.compile_pattern(phrase)
                        except coderules.RuleError as exc:
                            path = where + [field_name, lang, position]
                            out.add(f"code '{code.id}': {exc}", path,
                                    column_offset=exc.offset + _quote_width(locate(out.root, path)))
        nets: dict[str, int] = {}
        for index, net in enumerate(frame.nets):
            where = base + ["nets", index]
            if net.id in nets or net.id in codes:
                out.add(f"net id '{net.id}' is used twice in codeframe '{frame_id}' (codes and nets share ids)",
                        where + ["id"])
            nets.setdefault(net.id, index)
            for position, code_id in enumerate(net.codes):
                if code_id not in codes:
                    out.add(f"net '{net.id}': unknown code '{code_id}'{did_you_mean(code_id, codes)}",
                            where + ["codes", position])


def _quote_width(loc: Location) -> int:
    """1 where the scalar at ``loc`` is quoted (its text starts a column later), else 0."""
    try:
        with open(str(loc.path), encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if number == loc.line:
                    return int(line[int(loc.column or 1) - 1: int(loc.column or 1)] in ("'", '"'))
    except (OSError, ValueError, TypeError):
        pass
    return 0


def _check_languages(q: model.Questionnaire, out: _Collector) -> None:
    declared = set(q.languages)

    def check_text(value: Any, path: list[Any]) -> None:
        if not isinstance(value, dict):
            return
        missing = [lang for lang in q.languages if lang not in value]
        if missing:
            out.add(f"no {', '.join(missing)} text (declared languages: {', '.join(q.languages)})", path,
                    severity="warning")
        from_library = locate(out.root, path).path != getattr(out.root, "file", None)
        for lang in value:
            if lang not in declared and not from_library:  # a library serves questionnaires in many languages
                out.add(f"text in '{lang}', which is not a declared language ({', '.join(q.languages)})",
                        path + [lang], key=True, severity="warning")

    def walk(obj: Any, path: list[Any]) -> None:
        if isinstance(obj, BaseModel):
            for name in type(obj).model_fields:
                value = getattr(obj, name)
                if name in _TEXT_FIELDS:
                    check_text(value, path + [name])
                elif name in _TEXT_MAPS and isinstance(value, dict):
                    for code, text in value.items():
                        check_text(text, path + [name, code])
                else:
                    walk(value, path + [name])
        elif isinstance(obj, tuple):
            for index, element in enumerate(obj):
                walk(element, path + [index])
        elif isinstance(obj, dict):
            for key, element in obj.items():
                walk(element, path + [key])

    walk(q, [])
