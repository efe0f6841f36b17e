"""Safe YAML reading with locations: YAML 1.2 scalars, refusals, limits, locate()."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from surveyengine import yamlio
from surveyengine.errors import Location, QuestionnaireError
from surveyengine.yamlio import YList, YMap, load_file, loads, locate


def error_of(text: str, path: str = "f.yaml") -> str:
    with pytest.raises(QuestionnaireError) as info:
        loads(text, path)
    return str(info.value)


# --------------------------------------------------------------------------- scalars: YAML 1.2, not 1.1

@pytest.mark.parametrize("word", ["Yes", "No", "yes", "no", "YES", "on", "off", "On", "OFF", "y", "n"])
def test_yaml11_booleans_stay_text(word: str) -> None:
    assert loads(f"a: {word}") == {"a": word}


@pytest.mark.parametrize(("word", "value"), [("true", True), ("True", True), ("TRUE", True),
                                             ("false", False), ("False", False)])
def test_yaml12_booleans(word: str, value: bool) -> None:
    assert loads(f"a: {word}")["a"] is value


def test_quoted_true_is_text() -> None:
    assert loads("a: 'true'\nb: \"Yes\"") == {"a": "true", "b": "Yes"}


def test_labels_yes_no_stay_text() -> None:
    assert loads("options: {1: Yes, 2: No, 3: Don't know}") == {"options": {1: "Yes", 2: "No", 3: "Don't know"}}


@pytest.mark.parametrize("text", ["12:30", "1:30:00", "190:20:30.15", "-1:30", "1_000", "0_10", "1_0.5"])
def test_sexagesimal_and_digit_separators_stay_text(text: str) -> None:
    assert loads(f"a: {text}") == {"a": text}


@pytest.mark.parametrize(("text", "value"), [("010", 10), ("0123", 123), ("09", 9), ("-007", -7), ("00", 0),
                                             ("+010", 10), ("!!int 010", 10), ("!!int '010'", 10)])
def test_leading_zero_numbers_are_decimal(text: str, value: int) -> None:
    """YAML 1.2: 010 is ten and 09 nine; YAML 1.1 reads 010 as octal eight and 09 as text."""
    result = loads(f"a: {text}")["a"]
    assert result == value and type(result) is int


@pytest.mark.parametrize("text", ["'010'", '"09"', "!!str 09", "!!str 010", "&code !!str 010", "0o17"])
def test_leading_zero_text_when_asked_for(text: str) -> None:
    assert isinstance(loads(f"a: {text}")["a"], str)


def test_leading_zero_codes_as_keys_after_text() -> None:
    """Marks count characters, so a tag after non-ASCII text is still seen."""
    assert loads("title: 迷你研究 😀\nlabels: {01: 北, 02: !!str 02}\nb: !!str 09") == \
        {"title": "迷你研究 😀", "labels": {1: "北", 2: "02"}, "b": "09"}


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("10", 10), ("-3", -3), ("0x1F", 31), ("1.5", 1.5),
                                             ("-0.25", -0.25), ("1000000", 1000000)])
def test_numbers(text: str, value: object) -> None:
    result = loads(f"a: {text}")["a"]
    assert result == value and type(result) is type(value)


def test_special_floats() -> None:
    data = loads("a: .inf\nb: -.inf\nc: .nan")
    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])


@pytest.mark.parametrize("text", ["2026-03-01", "2026-03", "2026-3-1", "2026-03-01 10:00:00", "2026-03-01T10:00:00Z"])
def test_dates_stay_text_as_written(text: str) -> None:
    assert loads(f"wave: {text}") == {"wave": text}


@pytest.mark.parametrize("text", ["a: ~", "a: null", "a: Null", "a:"])
def test_null(text: str) -> None:
    assert loads(text) == {"a": None}


def test_lone_equals_sign_is_text() -> None:
    assert loads("labels: {1: '-', 2: =, 3: +}") == {"labels": {1: "-", 2: "=", 3: "+"}}


def test_explicit_core_tags() -> None:
    assert loads("a: !!str 1\nb: !!int '3'\nc: !!float 1\nd: !!str true") == {"a": "1", "b": 3, "c": 1.0,
                                                                              "d": "true"}


@pytest.mark.parametrize(("text", "expected"), [
    ("a: !!int abc", "f.yaml:1:4: 'abc' is not a valid !!int"),
    ("a: !!float x", "f.yaml:1:4: 'x' is not a valid !!float"),
    ("a: !!timestamp 'x'", "f.yaml:1:4: 'x' is not a valid !!timestamp"),
])
def test_explicit_tag_on_a_value_that_does_not_fit(text: str, expected: str) -> None:
    assert error_of(text) == expected


def test_empty_document_is_none() -> None:
    assert loads("") is None
    assert loads("# only a comment\n") is None
    assert loads("---\n...\n") is None


# --------------------------------------------------------------------------- refusals

def test_merge_key_refused() -> None:
    text = "base: &b {min: 1, max: 5}\nsat5:\n  <<: *b\n  labels: {}\n"
    assert error_of(text) == "f.yaml:3:3: merge keys ('<<') are not supported; use include or write the keys out"


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert loads('"<<": 1') == {"<<": 1}


def test_duplicate_key() -> None:
    text = "scales:\n  sat5: {min: 1, max: 5}\n  sat10: {min: 1, max: 10}\n  sat5: {min: 0, max: 4}\n"
    assert error_of(text) == "f.yaml:4:3: duplicate key 'sat5' (first defined at line 2)"


def test_duplicate_key_in_flow_mapping() -> None:
    assert error_of("a: {x: 1, y: 2, x: 3}") == "f.yaml:1:17: duplicate key 'x' (first defined at line 1)"


def test_int_and_text_keys_differ() -> None:
    assert loads("1: a\n'1': b") == {1: "a", "1": "b"}


def test_collection_as_key_refused() -> None:
    assert error_of("? [a, b]\n: 1") == "f.yaml:1:3: a mapping key must be a plain value"


@pytest.mark.parametrize(("text", "tag", "column"), [
    ("a: !!python/name:os.system", "!!python/name:os.system", 4),
    ("a: !!python/object/apply:os.system [echo]", "!!python/object/apply:os.system", 4),
    ("a: !!python/object:collections.OrderedDict {x: 1}", "!!python/object:collections.OrderedDict", 4),
    ("a: !!binary aGVsbG8=", "!!binary", 4),
    ("a: !!set {x, y}", "!!set", 4),
    ("a: !!omap [x: 1]", "!!omap", 4),
    ("a: !include other.yaml", "!include", 4),
    ("a: !custom {x: 1}", "!custom", 4),
    ("a: [1, !custom [2]]", "!custom", 8),
])
def test_tags_refused(text: str, tag: str, column: int) -> None:
    assert error_of(text) == f"f.yaml:1:{column}: YAML tag '{tag}' is not allowed; write a plain value"


def test_python_tag_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    with pytest.raises(QuestionnaireError):
        loads(f"a: !!python/object/apply:os.system ['touch {marker}']")
    with pytest.raises(QuestionnaireError):
        loads(f"a: !!python/object/apply:pathlib.Path.touch [{marker}]")
    assert not marker.exists()


# --------------------------------------------------------------------------- syntax errors

@pytest.mark.parametrize(("text", "expected"), [
    ("a: {b: 1\n\nc: 2", "f.yaml:3:2: YAML syntax error: did not find expected ',' or '}' "
                         "(while parsing a flow mapping at line 1)"),
    ("a: [1, 2\nb: 3", "f.yaml:2:2: YAML syntax error: did not find expected ',' or ']' "
                       "(while parsing a flow sequence at line 1)"),
    ("a:\n\tb: 1", "f.yaml:2:1: YAML syntax error: found character that cannot start any token "
                   "(while scanning for the next token)"),
    ('a: "abc', "f.yaml:1:8: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar)"),
    ("a: b: c", "f.yaml:1:5: YAML syntax error: mapping values are not allowed in this context"),
    ("- a\nb: 1", "f.yaml:2:1: YAML syntax error: did not find expected '-' indicator "
                  "(while parsing a block collection at line 1)"),
    ("a: &x 1\nb: *y", "f.yaml:2:4: YAML syntax error: found undefined alias"),
    ("a: 1\n---\nb: 2", "f.yaml:2:1: YAML syntax error: but found another document "
                        "(expected a single document in the stream at line 1)"),
])
def test_syntax_errors(text: str, expected: str) -> None:
    assert error_of(text) == expected


# --------------------------------------------------------------------------- limits

def _nested(levels: int) -> str:
    return "[" * levels + "x" + "]" * levels


def test_nesting_up_to_the_limit_is_read() -> None:
    data = loads(_nested(yamlio.MAX_DEPTH))
    for _ in range(yamlio.MAX_DEPTH):
        assert isinstance(data, YList) and len(data) == 1
        data = data[0]
    assert data == "x"


def test_nesting_beyond_the_limit_is_refused() -> None:
    column = yamlio.MAX_DEPTH + 1
    assert error_of(_nested(yamlio.MAX_DEPTH + 1)) == \
        f"f.yaml:1:{column}: YAML nested deeper than {yamlio.MAX_DEPTH} levels"


def test_block_nesting_beyond_the_limit_is_refused() -> None:
    text = "".join("  " * i + "a:\n" for i in range(yamlio.MAX_DEPTH + 1)) + "  " * (yamlio.MAX_DEPTH + 1) + "b: 1\n"
    assert error_of(text).startswith(f"f.yaml:{yamlio.MAX_DEPTH + 1}:")


def test_very_deep_nesting_does_not_crash_the_interpreter() -> None:
    """libyaml's composer recurses in C: 200,000 brackets used to end the process with SIGSEGV."""
    code = textwrap.dedent("""
        from surveyengine import yamlio
        from surveyengine.errors import QuestionnaireError
        try:
            yamlio.loads("[" * 200_000 + "]" * 200_000, "deep.yaml")
        except QuestionnaireError as exc:
            print(exc)
    """)
    src = Path(yamlio.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(src)})
    assert done.returncode == 0, done.stderr
    # our own limit, or (with a libyaml that has one, PyYAML 6.0.4) libyaml's: a located error, not a crash
    assert done.stdout.strip() in (
        f"deep.yaml:1:{yamlio.MAX_DEPTH + 1}: YAML nested deeper than {yamlio.MAX_DEPTH} levels",
        "deep.yaml:1:1001: YAML syntax error: exceeded maximum nesting depth (while increasing flow level)",
    )


def test_recursive_alias_refused() -> None:
    assert error_of("a: &a [*a]") == \
        f"f.yaml:1:4: YAML nested deeper than {yamlio.MAX_DEPTH} levels (or a recursive alias)"


BOMB = """\
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_billion_laughs_fails_fast_at_the_alias_that_expands() -> None:
    started = time.perf_counter()
    message = error_of(BOMB)
    assert time.perf_counter() - started < 5
    # a holds 10 values, b 91, c 820, d 7381, e 66430: f is the line that passes 200,000
    assert message == (f"f.yaml:6:4: YAML expands to more than {yamlio.MAX_NODES} values; "
                       "aliases are expanded too many times")


def test_node_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_NODES", 20)
    # the mapping, its key 'a' and the list are 3 values: 17 numbers fit, the 18th (column 56) does not
    assert loads("a: [" + ", ".join(["1"] * 17) + "]")["a"] == [1] * 17
    assert error_of("a: [" + ", ".join(["1"] * 18) + "]") == "f.yaml:1:56: YAML expands to more than 20 values"
    assert error_of("x: &x [1, 2, 3, 4]\ny: [*x, *x, *x, *x]") == \
        "f.yaml:2:4: YAML expands to more than 20 values; aliases are expanded too many times"


def test_aliases_within_the_limit_are_expanded() -> None:
    data = loads("x: &x [1, 2]\ny: [*x, *x]")
    assert data == {"x": [1, 2], "y": [[1, 2], [1, 2]]}


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 100, encoding="utf-8")
    monkeypatch.setattr(yamlio, "MAX_BYTES", 50)
    with pytest.raises(QuestionnaireError) as info:
        load_file(path, display="big.yaml")
    assert str(info.value) == "big.yaml: file is 103 bytes; YAML files larger than 50 are refused"


# --------------------------------------------------------------------------- files

def test_load_file_names_the_display_path(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text("a: [1\n", encoding="utf-8")
    with pytest.raises(QuestionnaireError) as info:
        load_file(path, display="study/q.yaml")
    assert info.value.location.path == "study/q.yaml"
    assert info.value.location.line == 2
    path.write_text("a: [1]\n", encoding="utf-8")
    assert load_file(path, display="study/q.yaml").value_locations["a"] == Location("study/q.yaml", 1, 4)


def test_load_file_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError) as info:
        load_file(tmp_path / "nope.yaml")
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: file not found"
    with pytest.raises(QuestionnaireError) as info:
        load_file(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, expected a YAML file"


def test_load_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_bytes("id: q\nlabels:\n  1: 非常满意\n".encode("gb18030"))
    with pytest.raises(QuestionnaireError) as info:
        load_file(path, display="q.yaml")
    assert str(info.value) == "q.yaml:3:6: file is not UTF-8 (byte 0xb7); save YAML files as UTF-8"


def test_load_file_accepts_a_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_bytes(b"\xef\xbb\xbfid: q\ntitle: \xe6\xbb\xa1\xe6\x84\x8f\n")
    data = load_file(path)
    assert data == {"id": "q", "title": "满意"}
    assert data.key_locations["title"] == Location(str(path), 2, 1)


# --------------------------------------------------------------------------- locations

DOC = """\
id: mini
scales:
  sat5:
    min: 1
    labels: {1: Bad, 5: Good}
factors:
  - id: service
    items:
      - id: s_wait
        scale: sat5
      - {id: s_staff, scale: sat5}
"""


def test_maps_and_lists_carry_locations() -> None:
    data = loads(DOC, "q.yaml")
    assert isinstance(data, YMap) and data.file == "q.yaml"
    assert data.start == Location("q.yaml", 1, 1)
    assert data.key_locations["scales"] == Location("q.yaml", 2, 1)
    assert data.value_locations["id"] == Location("q.yaml", 1, 5)
    factors = data["factors"]
    assert isinstance(factors, YList) and factors.file == "q.yaml"
    assert factors.item_locations == [Location("q.yaml", 7, 5)]
    items = factors[0]["items"]
    assert items.item_locations == [Location("q.yaml", 9, 9), Location("q.yaml", 11, 9)]
    # YMap and YList are a dict and a list
    assert data["scales"]["sat5"] == {"min": 1, "labels": {1: "Bad", 5: "Good"}}
    assert factors == [{"id": "service", "items": [{"id": "s_wait", "scale": "sat5"},
                                                   {"id": "s_staff", "scale": "sat5"}]}]


@pytest.mark.parametrize(("path", "key", "expected"), [
    ((), False, (1, 1)),
    (("id",), False, (1, 5)),
    (("id",), True, (1, 1)),
    (("scales", "sat5", "min"), False, (4, 10)),
    (("scales", "sat5", "min"), True, (4, 5)),
    (("scales", "sat5", "labels", 5), False, (5, 25)),
    (("scales", "sat5", "labels", 5), True, (5, 22)),
    (("scales", "sat5", "labels", "5"), True, (5, 22)),  # pydantic gives dict keys as text
    (("factors", 0), False, (7, 5)),
    (("factors", 0, "items", 1), False, (11, 9)),
    (("factors", 0, "items", 1, "scale"), False, (11, 30)),
    (("factors", 0, "items", 1, "scale"), True, (11, 23)),
    (("factors", 0, "items", 0, "scale"), False, (10, 16)),
    # parts that are not in the data (pydantic's union member names) are skipped
    (("factors", 0, "items", 0, "str", "scale"), False, (10, 16)),
    (("scales", "sat5", "labels", 5, "dict[constrained-str,str]"), False, (5, 25)),
    # a path that leaves the data gives the deepest location found
    (("factors", 0, "items", 0, "when"), False, (9, 9)),
    (("factors", 0, "items", 7), False, (9, 7)),
    (("factors", -1), False, (7, 3)),
    (("nothing", "here"), False, (1, 1)),
])
def test_locate(path: tuple, key: bool, expected: tuple[int, int]) -> None:
    data = loads(DOC, "q.yaml")
    assert locate(data, path, key=key) == Location("q.yaml", *expected)


def test_locate_on_plain_data() -> None:
    assert locate({"a": 1}, ["a"]) == Location()


# --------------------------------------------------------------------------- properties

_KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(["Yes", "No", "on", "12:30", "010", "2026-03-01", "=", "<<", "~", "1e3"]),
)
_DATA = st.recursive(_SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.one_of(_KEYS, st.integers(0, 99)), children, max_size=4)),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(_DATA)
def test_round_trip_of_dumped_data(data: object) -> None:
    """What yaml.safe_dump writes reads back unchanged (it quotes whatever YAML 1.1 would misread)."""
    assert loads(yaml.safe_dump(data, allow_unicode=True)) == data


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True), st.integers(0, 10**6),
                       min_size=1, max_size=6))
def test_value_locations_point_at_the_value(data: dict[str, int]) -> None:
    text = yaml.safe_dump(data, default_flow_style=False)
    loaded = loads(text, "p.yaml")
    lines = text.splitlines()
    for key, value in data.items():
        at = loaded.value_locations[key]
        assert lines[at.line - 1][at.column - 1:] == str(value)
        at = loaded.key_locations[key]
        # safe_dump quotes keys that YAML 1.1 would read as booleans ('no', 'on', ...)
        assert lines[at.line - 1][at.column - 1:].startswith((f"{key}:", f"'{key}':"))
