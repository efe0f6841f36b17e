"""Safe YAML reading that remembers where every value came from.

Plain scalars follow YAML 1.2's core schema where YAML 1.1 surprises people:
``Yes``/``No``/``on``/``off`` are text, only ``true``/``false`` are booleans,
``12:30`` is text, not a base-60 number, and ``010`` is ten, not octal eight
(``09`` is nine, not text).

Untrusted YAML stays inert: only the YAML core types are constructed (no
``!!python/...`` tags), a duplicate key is an error, and both nesting depth and
the number of nodes an alias may expand to are bounded, so a "billion laughs"
document fails fast instead of eating memory.

Mappings and sequences come back as :class:`YMap` and :class:`YList`, which
behave like ``dict`` and ``list`` but also carry the file and the 1-based line
and column of each key and value. :func:`locate` turns a key path (as in a
pydantic error) back into a :class:`~surveyengine.errors.Location`.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import Location, QuestionnaireError

try:  # the C parser is much faster; both give the same marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml is in every PyYAML wheel
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_BYTES = 16 * 1024 * 1024
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
)
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class YMap(dict):
    """A mapping read from YAML, with the location of each key and value."""

    file: str | None
    start: Location
    key_locations: dict[Any, Location]
    value_locations: dict[Any, Location]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.file = None
        self.start = Location()
        self.key_locations = {}
        self.value_locations = {}


class YList(list):
    """A sequence read from YAML, with the location of each element."""

    file: str | None
    start: Location
    item_locations: list[Location]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.file = None
        self.start = Location()
        self.item_locations = []


def _loc(path: str, mark: Any) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, path: str, text: str = "") -> None:
        self.path = path
        self.text = text
        self.nodes = 0
        self.constructor = yaml.SafeLoader("")  # only its scalar constructors are used
        self.built: set[int] = set()  # collections built once already: meeting one again is an alias
        self.stack: list[yaml.Node] = []  # the collections being built, outermost first

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise QuestionnaireError(
                f"YAML nested deeper than {MAX_DEPTH} levels (or a recursive alias)",
                self.path, node.start_mark.line + 1, node.start_mark.column + 1)
        if self.nodes > MAX_NODES:
            alias_use = self._outermost_alias_use()
            where = alias_use or node
            why = "; aliases are expanded too many times" if alias_use is not None else ""
            raise QuestionnaireError(f"YAML expands to more than {MAX_NODES} values{why}",
                                     self.path, where.start_mark.line + 1, where.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        expected = _MAP_TAG if isinstance(node, yaml.MappingNode) else _SEQ_TAG
        if node.tag != expected:
            raise QuestionnaireError(f"YAML tag '{_shown(node.tag)}' is not allowed; write a plain value",
                                     self.path, node.start_mark.line + 1, node.start_mark.column + 1)
        self.stack.append(node)
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, depth)
            out = YList()
            out.file = self.path
            out.start = _loc(self.path, node.start_mark)
            for child in node.value:
                out.append(self.build(child, depth + 1))
                out.item_locations.append(_loc(self.path, child.start_mark))
            return out
        finally:
            self.stack.pop()
            self.built.add(id(node))

    def _explicit_tag(self, node: yaml.ScalarNode) -> bool:
        """Whether the scalar carries a tag such as ``!!str`` (its marks span the tag; marks count characters)."""
        prefix = self.text[node.start_mark.index: node.end_mark.index - len(node.value)]
        return "!" in prefix

    def _outermost_alias_use(self) -> yaml.Node | None:
        """The collection holding the outermost alias being expanded (an alias has no mark of its own)."""
        for parent, child in zip(self.stack, self.stack[1:]):
            if id(child) in self.built:
                return parent
        return None

    def _mapping(self, node: yaml.MappingNode, depth: int) -> YMap:
        out = YMap()
        out.file = self.path
        out.start = _loc(self.path, node.start_mark)
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise QuestionnaireError(
                    "merge keys ('<<') are not supported; use include or write the keys out",
                    self.path, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            key = self.build(key_node, depth + 1)
            if isinstance(key, (YMap, YList)):
                raise QuestionnaireError("a mapping key must be a plain value", self.path,
                                         key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                first = out.key_locations[key]
                raise QuestionnaireError(
                    f"duplicate key {key!r} (first defined at line {first.line})",
                    self.path, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, depth + 1)
            out.key_locations[key] = _loc(self.path, key_node.start_mark)
            out.value_locations[key] = _loc(self.path, value_node.start_mark)
        return out

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if not node.style and _is_yaml11_only(node):
            return node.value  # YAML 1.2 reads 'Yes', 'on', '12:30' as text; so do we
        if node.tag not in _SCALAR_TAGS:
            raise QuestionnaireError(f"YAML tag '{_shown(node.tag)}' is not allowed; write a plain value",
                                     self.path, node.start_mark.line + 1, node.start_mark.column + 1)
        if _LEADING_ZERO.fullmatch(node.value) and (
                node.tag == "tag:yaml.org,2002:int" or (not node.style and not self._explicit_tag(node))):
            return int(node.value, 10)  # YAML 1.2: '010' is ten, '09' nine (YAML 1.1: octal eight, and text)
        try:
            value = self.constructor.construct_object(node)
        except yaml.constructor.ConstructorError as exc:
            raise QuestionnaireError(str(exc.problem), self.path, node.start_mark.line + 1,
                                     node.start_mark.column + 1) from None
        except (ValueError, KeyError, AttributeError):  # an explicit tag on a value that does not fit, '!!int x'
            raise QuestionnaireError(f"{node.value!r} is not a valid {_shown(node.tag)}", self.path,
                                     node.start_mark.line + 1, node.start_mark.column + 1) from None
        if isinstance(value, (_dt.date, _dt.datetime)):
            return value.isoformat()  # dates stay text: a wave label, not a timestamp
        return value


def _shown(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


def _is_yaml11_only(node: yaml.ScalarNode) -> bool:
    if node.tag == "tag:yaml.org,2002:timestamp":
        return True  # dates stay text, as written: a wave label, not a timestamp
    if node.tag == "tag:yaml.org,2002:bool":
        return node.value.lower() not in ("true", "false")
    if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        return ":" in node.value or "_" in node.value  # YAML 1.1 only: base 60, digit separators
    return node.tag == "tag:yaml.org,2002:value"  # a lone '=' is text


def _check_depth(text: str, path: str) -> None:
    """Refuse deep nesting before composing: libyaml's composer recurses and would crash the process."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise QuestionnaireError(f"YAML nested deeper than {MAX_DEPTH} levels",
                                         path, mark.line + 1, mark.column + 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def loads(text: str, path: str = "<string>") -> Any:
    """Parse one YAML document from ``text``; errors name ``path``, line and column."""
    try:
        _check_depth(text, path)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        problem = exc.problem or "invalid YAML"
        context = ""
        if exc.context and exc.context not in problem:
            started = exc.context_mark
            at = f" at line {started.line + 1}" if started and mark and started.line != mark.line else ""
            context = f" ({exc.context}{at})"
        raise QuestionnaireError(f"YAML syntax error: {problem}{context}", path, line, column) from None
    except yaml.YAMLError as exc:
        raise QuestionnaireError(f"YAML syntax error: {exc}", path) from None
    if node is None:
        return None
    return _Builder(path, text).build(node)


def load_file(path: Path | str, display: str | None = None) -> Any:
    """Read and parse a YAML file; a missing file, a wrong encoding or bad YAML is a QuestionnaireError."""
    path = Path(path)
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise QuestionnaireError(f"file is {size} bytes; YAML files larger than {MAX_BYTES} are refused", shown)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise QuestionnaireError("file not found", shown) from None
    except IsADirectoryError:
        raise QuestionnaireError("is a directory, expected a YAML file", shown) from None
    except OSError as exc:
        raise QuestionnaireError(f"cannot read file: {exc.strerror}", shown) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise QuestionnaireError(
            "file is not UTF-8 (byte 0x%02x); save YAML files as UTF-8" % raw[exc.start], shown, line, column
        ) from None
    return loads(text, shown)


def locate(root: Any, path: Sequence[Any], *, key: bool = False) -> Location:
    """The location of the value at ``path`` below ``root`` (or of its key, with ``key=True``).

    Path elements that do not exist in the data (pydantic adds union member
    names such as ``'str'``) are skipped; when the path leaves the data, the
    deepest location found is returned.
    """
    node = root
    found = getattr(root, "start", Location())
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, YMap):
            candidates = [part]
            if isinstance(part, str) and part.lstrip("-").isdigit():
                candidates.append(int(part))
            match = next((c for c in candidates if c in node), None)
            if match is None:
                continue
            found = node.key_locations[match] if (key and last) else node.value_locations[match]
            node = node[match]
        elif isinstance(node, YList) and isinstance(part, int) and 0 <= part < len(node):
            found = node.item_locations[part]
            node = node[part]
        else:
            continue
    return found
