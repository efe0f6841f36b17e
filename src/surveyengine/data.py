"""Response data: runs reader plugins, checks every row, returns :class:`Responses`.

In-memory layout, designed for the statistics pass (nothing after that pass
touches rows):

- ``answers``: one 2-D ``float32`` array, respondents x numeric items (rating,
  single choice, number), in ``items`` order. NaN means missing: not asked,
  skipped, a don't-know / refused code, or a value set missing by a rule.
  Answers are small integers, exact in float32; statistics sum in float64.
  A choice list with text codes (``{Y: Yes, N: No}``) stores each code's
  1-based position in the list.
- ``segments``: per segment id an ``int32`` code array into ``segment_labels``
  (sorted unit codes as text).
- ``wave``: an ``int32`` code array into ``wave_labels`` (sorted periods), or None.
- ``weights``: ``float64`` respondent weights (a weight column, or raking), or None.
- ``ids`` and ``text``: respondent ids and open answers as Arrow string arrays
  ('' = no answer), kept apart from the numbers.
- ``source_file`` / ``source_row``: provenance of each row: index into
  ``files``, and the row as the user sees it in that file (CSV and Excel:
  header = row 1; Parquet, SPSS, JSON Lines: first record = row 1).
- ``flags``: per quality check, a boolean array of flagged respondents.

Every row read is either used or listed in ``exclusions`` with its reason;
every answer changed by a rule is counted, and the first ones listed as
findings naming file, row, column, value and rule. The policy of each rule
(fail / exclude / missing / warn) comes from the study config's
``validation`` section; see ``docs/data.md``.

The heavy lifting is vectorised: readers hand over Arrow tables, columns are
converted and checked a column at a time with numpy and Arrow compute, and
only the offending rows (bounded) ever become Python objects.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import glob
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import conditions
from .errors import DataError, Location, Problem
from .questionnaire import did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

    from .model import Item, Questionnaire
    from .plugins import PluginManager
    from .study import Study

MAX_FINDINGS_LISTED = 1000
MAX_FAIL_LISTED = 20
_RELEASE_EVERY = 6  # items converted between returns of freed Arrow memory to the system
_GRAIN = {"day": 0, "month": 1, "quarter": 2, "year": 3}
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"

RULE_REASONS = {
    "not_a_number": "not a number",
    "out_of_range": "outside the scale",
    "unknown_code": "not a code of the choice list",
    "not_asked": "answered although not asked",
    "required_missing": "required answer missing",
    "duplicate_id": "duplicate respondent id",
    "missing_id": "missing respondent id",
    "bad_wave": "wave is not a date or a period",
    "missing_segment": "no segment",
    "bad_weight": "weight missing or not positive",
    "missing_rake_variable": "no answer to a raking variable",
    "unexpected_column": "column not in the questionnaire",
}


@dataclass
class RawTable:
    """What a reader returns: a table of named columns and where its rows came from."""

    table: pa.Table
    path: str
    first_row: int = 2  # the row number, as the user sees it, of the first data row
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)  # column -> code -> label (SPSS)
    row_numbers: np.ndarray | None = None  # int32 per row, when not consecutive from first_row (engine sources)


@dataclass(frozen=True)
class Exclusion:
    file: str
    row: int
    column: str | None
    reason: str
    rule: str = field(default="", compare=False)
    kind: str = field(default="error", compare=False)  # "error" (bad data) or "quality" (a careless respondent)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason,
                "rule": self.rule, "kind": self.kind}


@dataclass
class Responses:
    items: tuple[str, ...]
    answers: np.ndarray
    ids: Any
    segments: dict[str, np.ndarray]
    segment_labels: dict[str, list[str]]
    wave: np.ndarray | None
    wave_labels: list[str]
    weights: np.ndarray | None
    text: dict[str, Any]
    source_file: np.ndarray
    source_row: np.ndarray
    files: list[str]
    rows_read: int
    exclusions: list[Exclusion] = field(default_factory=list)
    findings: list[Problem] = field(default_factory=list)
    findings_total: int = 0
    rule_counts: dict[str, int] = field(default_factory=dict)
    read_per_file: dict[str, int] = field(default_factory=dict)
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    weighting: dict[str, Any] = field(default_factory=dict)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.answers.shape[0])

    def column(self, item_id: str) -> np.ndarray:
        return self.answers[:, self.items.index(item_id)]

    def account(self) -> dict[str, Any]:
        """Rows read = rows used + rows excluded, per reason and per file; answers changed per rule."""
        by_reason = Counter(e.reason for e in self.exclusions)
        excluded_per_file = Counter(e.file for e in self.exclusions)
        per_file: dict[str, dict[str, int]] = {}
        for index, name in enumerate(self.files):
            read = int(self.read_per_file.get(name, 0))
            per_file[name] = {"read": read, "used": int(np.count_nonzero(self.source_file == index)),
                              "excluded": int(excluded_per_file.get(name, 0))}
        return {
            "rows_read": self.rows_read,
            "rows_used": self.n,
            "rows_excluded": len(self.exclusions),
            "excluded_by_reason": dict(sorted(by_reason.items())),
            "files": per_file,
            "answers_set_missing": self.findings_total,
            "findings_by_rule": dict(sorted(self.rule_counts.items())),
            "flagged": {name: int(mask.sum()) for name, mask in sorted(self.flags.items())},
            "weighting": self.weighting,
        }

    def texts(self, item_id: str) -> list[str]:
        return self.text[item_id].to_pylist()


# --------------------------------------------------------------------------- files and readers

def resolve_files(study: Study) -> list[tuple[Path, dict[str, Any]]]:
    """The study's data files (globs expanded, sorted, each once) with their reader options."""
    files: list[tuple[Path, dict[str, Any]]] = []
    seen: set[Path] = set()
    for spec in study.config.data_files():
        pattern = str(study.root / spec.path)
        if glob.has_magic(pattern):
            matches = [m for m in sorted(Path(p) for p in glob.glob(pattern, recursive=True)) if m.is_file()]
        else:
            matches = [Path(pattern)]
        if not matches:
            raise DataError(f"no data file matches '{spec.path}'", str(study.config_path))
        options = spec.model_dump(exclude={"path"}, exclude_none=True)
        for match in matches:
            key = match.resolve()
            if key not in seen:
                seen.add(key)
                files.append((match, options))
    if not files:
        raise DataError("the study config names no data files ('data:')", str(study.config_path))
    return files


def column_hints(study: Study) -> dict[str, str]:
    """Data column -> 'code' (a small whole number), 'number', 'label' (short text repeated across rows: a
    segment, a wave) or 'text', so readers can parse while reading.

    A hint is a hint: a reader may return any type, and a value that does not
    fit its hint must still be read (as text), so that the rules can name it.
    """
    q = study.questionnaire
    columns = study.columns()
    hints = {q.respondent_id: "text"}
    for item in q.all_items():
        integer_codes = item.question_type == "single" and item.choices in q.choices and all(
            isinstance(c, int) for c in q.choices[item.choices].options)
        if item.question_type == "rating" or integer_codes:
            hints[columns[item.id]] = "code"
        elif item.question_type == "number":
            hints[columns[item.id]] = "number"
        else:
            hints[columns[item.id]] = "text"
    for segment in q.segments:
        hints[columns[segment.id]] = "label"
    if q.wave is not None:
        hints[columns["wave"]] = "label"
    if q.weights is not None and q.weights.column:
        hints[q.weights.column] = "number"
    if study.config.quality.duration_column:
        hints[study.config.quality.duration_column] = "number"
    return hints


def read_tables(study: Study, pm: PluginManager) -> list[RawTable]:
    import pyarrow as pa

    from .plugins import plugin_errors

    readers = pm.registry("readers")
    hints = column_hints(study)
    tables = []
    for path, options in resolve_files(study):
        shown = study.display(path)
        if not path.is_file():
            raise DataError("data file not found", shown)
        reader_id = options.get("format") or pm.call("surveyengine_detect_reader", path=path, options=options)
        if reader_id is None:
            raise DataError(f"no reader for '{path.suffix}' files; declare 'format' (installed: "
                            f"{', '.join(readers)})", shown)
        reader = readers.get(reader_id)()
        try:
            with plugin_errors(f"reader '{reader_id}'", readers.owner(reader_id)):
                raw = reader.read(path, {**options, "column_types": hints})
        except DataError as error:  # name the file as every other message does
            if error.location.path == str(path):
                error.location = dataclasses.replace(error.location, path=shown)
            raise
        raw.path = shown
        renames = platform_columns(raw.table.column_names, hints)
        if renames:
            raw.table = raw.table.rename_columns([renames.get(name, name) for name in raw.table.column_names])
        tables.append(raw)
        pa.default_memory_pool().release_unused()  # what parsing left behind goes back before the checks
    return tables


_GROUP_PATH = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_.]*[/\-])+")


def platform_columns(present: list[str], wanted: Iterable[str]) -> dict[str, str]:
    """Present column -> the column the study reads, for the group paths of form platforms.

    KoboToolbox exports a question inside groups as ``product/hardware/hw_quality``
    and ODK Central as ``product-hardware-hw_quality``. A column the study wants
    that is not present is taken from the one present column that is the wanted
    name behind such a path; none or several: nothing is renamed (and the
    missing column is reported as before).
    """
    names = set(present)
    candidates: dict[str, list[str]] = {}
    for column in present:
        match = _GROUP_PATH.match(column)
        if match is not None and column[match.end():]:
            candidates.setdefault(column[match.end():], []).append(column)
    return {found[0]: name for name in wanted if name not in names
            for found in [candidates.get(name, [])] if len(found) == 1}


def load_responses(study: Study, pm: PluginManager) -> Responses:
    """Read every data file of the study and check it against the questionnaire."""
    return build_responses(study, read_tables(study, pm))


# --------------------------------------------------------------------------- checking

class _Findings:
    """Counts every finding per rule; keeps the first ones as Problems; applies 'fail'."""

    def __init__(self, rules: Any) -> None:
        self.rules = rules
        self.listed: list[Problem] = []
        self.counts: Counter[str] = Counter()
        self.answers_changed = 0
        self.failures: list[Problem] = []

    def add(self, rule: str, path: str, rows: np.ndarray, column: str | None, values: Sequence[Any],
            action: str, detail: str = "", key_path: str = "") -> None:
        count = int(rows.size)
        if not count:
            return
        self.counts[rule] += count
        if action == "missing":
            self.answers_changed += count
        consequence = {"missing": "answer set missing", "warn": "kept", "exclude": "row excluded",
                       "fail": "not allowed"}[action]
        target = self.failures if action == "fail" else self.listed
        limit = MAX_FAIL_LISTED if action == "fail" else MAX_FINDINGS_LISTED
        room = max(0, limit - len(target))
        for row, value in zip(rows[:room].tolist(), list(values)[:room]):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            shown = "" if value is None else f"{value!r} "
            message = f"{shown}{detail or RULE_REASONS[rule]}; {consequence}"
            severity = "error" if action == "fail" else "warning"
            target.append(Problem(message, Location(path, row=int(row), column=column), severity, key_path))

    def raise_failures(self) -> None:
        if self.failures:
            listed = "\n".join(str(p) for p in self.failures)
            more = sum(self.counts.values()) - len(self.failures)
            raise DataError(f"the data breaks rules set to 'fail':\n{listed}"
                            + (f"\n(and possibly {more} more findings)" if more > 0 else ""))


def _item_codes(q: Questionnaire, item: Item, extra_missing: set[Any]) -> tuple[Any, ...]:
    """(valid check, missing codes, description) for a numeric item."""
    missing: set[Any] = {c for c in extra_missing if isinstance(c, (int, float))}
    if item.scale:
        scale = q.scales[item.scale]
        missing |= set(scale.missing)
        return ("range", scale.min, scale.max), missing, f"outside scale {scale.min}-{scale.max}", "out_of_range"
    if item.choices:
        choice_list = q.choices[item.choices]
        codes = list(choice_list.options)
        if all(isinstance(c, int) for c in codes):
            missing |= {c for c in choice_list.missing if isinstance(c, int)}
            return ("codes", codes), missing, f"not a code of choice list '{item.choices}'", "unknown_code"
        return ("positions", codes, list(choice_list.missing)), missing, \
            f"not a code of choice list '{item.choices}'", "unknown_code"
    return ("any",), missing, "", "out_of_range"


@dataclass
class _Parsed:
    values: np.ndarray  # floats (NaN for empty), or the integers of an integer-typed column
    bad: np.ndarray | None  # cells that hold something that is not a number
    whole: bool = False  # every value is a whole number (the source column was integer-typed)
    low: float | None = None  # smallest and largest value, when known without a pass
    high: float | None = None
    absent: np.ndarray | None = None  # integers only: the empty cells (their values are arbitrary)

    def floats(self, dtype: Any = np.float64) -> np.ndarray:
        """The values as floats, NaN for empty."""
        if self.values.dtype.kind == "f" and self.absent is None:
            return self.values
        values = self.values.astype(dtype)
        if self.absent is not None:
            values[self.absent] = np.nan
        return values


def _integers(column: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """An integer Arrow array as a numpy view of its values, and the mask of its nulls (None without nulls).

    Read from the Arrow buffers: no copy, and no float detour for a column with nulls.
    """
    values = np.frombuffer(column.buffers()[1], dtype=column.type.to_pandas_dtype(),
                           count=column.offset + len(column))[column.offset:]
    if not column.null_count:
        return values, None
    valid = np.unpackbits(np.frombuffer(column.buffers()[0], dtype=np.uint8), count=column.offset + len(column),
                          bitorder="little")[column.offset:].view(bool)
    return values, ~valid


def _numeric(column: Any, dtype: Any = np.float64) -> _Parsed:
    """A column as numbers; text that is not a number is flagged, never guessed.

    An integer column stays integers (see ``_Parsed.absent``): checks run on the
    narrow codes, and the only conversion to floats is the caller's.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = column.type
    if pa.types.is_null(kind):
        return _Parsed(np.full(len(column), np.nan, dtype=dtype), None)
    if pa.types.is_boolean(kind):
        column = pc.cast(column, pa.int8())
        kind = column.type
    if pa.types.is_integer(kind):
        values, absent = _integers(column)
        low = high = None
        if absent is None:  # an empty column lies inside any range
            low, high = (int(values.min()), int(values.max())) if values.size else (np.inf, -np.inf)
        return _Parsed(values, None, True, low, high, absent)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = np.array(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=dtype)
        if pa.types.is_floating(kind):
            not_finite = ~np.isfinite(values) & ~np.asarray(column.is_null())
            if not_finite.any():
                values[not_finite] = np.nan
                return _Parsed(values, not_finite)
        return _Parsed(values, None)
    text = pc.utf8_trim_whitespace(pc.cast(column, pa.string()))
    empty = pc.equal(text, "")
    as_null = pc.if_else(empty, pa.scalar(None, pa.string()), text)
    try:
        values = np.array(pc.cast(as_null, pa.float64()).to_numpy(zero_copy_only=False), dtype=dtype)
        if np.isfinite(values[~np.isnan(values)]).all() and not pc.any(
                pc.match_substring_regex(as_null, r"(?i)(nan|inf)")).as_py():
            return _Parsed(values, None)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    is_number = pc.fill_null(pc.match_substring_regex(as_null, _NUMBER), False)
    numbers = pc.if_else(is_number, as_null, pa.scalar(None, pa.string()))
    values = np.array(pc.cast(numbers, pa.float64()).to_numpy(zero_copy_only=False), dtype=dtype)
    bad = ~np.asarray(is_number) & ~np.asarray(pc.fill_null(empty, True))
    return _Parsed(values, bad)


def _text(column: Any) -> Any:
    """A column as a trimmed Arrow string array, '' for empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_floating(column.type):  # 101.0 from a reader that typed codes as floats reads as 101
        values = column.to_numpy(zero_copy_only=False)
        whole = np.isfinite(values) & (values == np.round(values))
        if whole[~np.isnan(values)].all():
            column = pc.cast(column, pa.int64())
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    if column.null_count:
        column = pc.fill_null(column, "")
    return pc.utf8_trim_whitespace(column)


def _labels(column: Any) -> Any:
    """Short text repeated across rows (a segment, a wave) as a dictionary array of trimmed labels, '' for empty.

    A reader may hand such a column over dictionary-encoded already (the CSV reader
    does): then only the distinct values are trimmed.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()  # one dictionary for all chunks
    if pa.types.is_dictionary(column.type) and not column.null_count:
        return pa.DictionaryArray.from_arrays(column.indices, _text(column.dictionary))
    return pc.dictionary_encode(_text(column))


def _empty_labels(labels: Any) -> np.ndarray:
    """Mask of the rows whose label (see ``_labels``) is ''."""
    empty = _empty(labels.dictionary)
    return empty[labels.indices.to_numpy(zero_copy_only=False)]


def _empty(strings: Any) -> np.ndarray:
    """Mask of empty strings, read from the Arrow offsets buffer (no compute kernel needed)."""
    import pyarrow as pa

    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(strings.buffers()[1], dtype=width)[strings.offset:strings.offset + len(strings) + 1]
    empty = offsets[1:] == offsets[:-1]
    if strings.null_count:
        empty |= np.asarray(strings.is_null())
    return empty


def _answer_text(column: Any) -> Any:
    """Respondent text as written ('' for empty or only white space): never trimmed or altered."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    if column.null_count:
        column = pc.fill_null(column, "")
    blank = pc.utf8_is_space(column)
    return pc.if_else(blank, "", column) if pc.any(blank).as_py() else column


def _take(array: Any, rows: np.ndarray) -> list[Any]:
    import pyarrow as pa

    if isinstance(array, np.ndarray):
        return array[rows].tolist()
    return array.take(pa.array(rows, type=pa.int64())).to_pylist()


NUMERIC_TYPES = ("rating", "single", "number")  # stored in the answers array
# The columns a form platform adds to its exports (KoboToolbox: _id, _uuid, _submission_time, _index, ...;
# ODK: meta/instanceID, meta-instanceID; older Kobo: formhub/uuid, __version__). Item ids start with a letter,
# so none of them can be a question: they are not reported as unexpected.
PLATFORM_METADATA = re.compile(r"^(_|(meta|formhub)[/-])")

TEXT_TYPES = ("text", "multiple")  # kept apart as text


def split_items(q: Questionnaire) -> tuple[list[Item], list[Item]]:
    """The questionnaire's items as the data layer stores them: numeric answers, then text."""
    items = list(q.all_items())
    return ([i for i in items if i.question_type in NUMERIC_TYPES], [i for i in items if i.question_type in TEXT_TYPES])


class RowChecks:
    """The data rules of a study, applied to one table of rows at a time: a whole file, or a batch of rows that
    an engine streams (``engines/stream.py``). Each table's kept rows come back as columns; the findings, the
    exclusions and the rows read of every table accumulate here, and the rules that need every row (duplicate
    ids, the quality checks, raking) run on the kept rows afterwards."""

    def __init__(self, study: Study) -> None:
        q = study.questionnaire
        config = study.config
        self.study = study
        self.rules = config.validation
        self.columns = study.columns()
        self.numeric, self.texts = split_items(q)
        self.findings = _Findings(self.rules)
        self.exclusions: list[Exclusion] = []
        self.read_per_file: dict[str, int] = {}
        self.value_labels: dict[str, dict[str, str]] = {}
        extra_missing = set(config.missing_codes)
        self.text_missing = {str(c) for c in config.missing_codes if isinstance(c, str)}
        self.code_missing = {_code_text(c) for c in config.missing_codes}  # text codes compare as text
        self.key_of = {item.id: item.id for item in self.numeric}
        self.checks = {item.id: _item_codes(q, item, extra_missing) for item in self.numeric}
        self.used_columns = set(column_hints(study)) | {c for c in config.columns.values()}
        if q.weights is not None:
            self.used_columns |= {t.variable for t in q.weights.rake if t.variable not in self.key_of}

    def header(self, path: str, present: list[str]) -> None:
        """A table's columns: every one the study reads must be there; the others are findings."""
        q, config, rules, columns = self.study.questionnaire, self.study.config, self.rules, self.columns
        numeric, texts, findings, used_columns = self.numeric, self.texts, self.findings, self.used_columns
        needed = [columns[i.id] for i in numeric + texts] + [columns[s.id] for s in q.segments]
        needed.append(q.respondent_id)
        if q.wave is not None:
            needed.append(columns["wave"])
        if q.weights is not None and q.weights.column:
            needed.append(q.weights.column)
        if config.quality.duration_column:
            needed.append(config.quality.duration_column)
        absent = [c for c in dict.fromkeys(needed) if c not in present]
        if absent:
            raise DataError("; ".join(f"missing column '{c}'{did_you_mean(c, present)}" for c in absent),
                            path, row=1, column=absent[0])
        if rules.unexpected_column != "ignore":
            for name in present:
                if name not in used_columns and not PLATFORM_METADATA.match(name):
                    findings.add("unexpected_column", path, np.array([1]), name, [None],
                                 "fail" if rules.unexpected_column == "fail" else "warn",
                                 "column not in the questionnaire")

    def drop_duplicates(self, rows: dict[str, Any], duplicate: np.ndarray, files: list[str]) -> dict[str, Any]:
        """The kept ``rows`` (columns, as ``check`` returns them) without the ``duplicate`` ones, each listed as
        excluded, or as failing when the rule says so."""
        q = self.study.questionnaire
        hits = np.flatnonzero(duplicate)
        for index, ident in zip(hits.tolist(), _take(rows["ids"], hits)):
            path, row = files[rows["file"][index]], int(rows["rows"][index])
            if self.rules.duplicate_id == "fail":
                self.findings.add("duplicate_id", path, np.array([row]), q.respondent_id, [ident], "fail",
                                  "duplicate respondent id")
            self.exclusions.append(Exclusion(path, row, q.respondent_id, f"duplicate respondent id {ident!r}",
                                             "duplicate_id"))
        return _select(rows, ~duplicate) if hits.size else rows

    def drop_careless(self, rows: dict[str, Any], files: list[str], duration_median: float | None = None
                      ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The quality checks of the kept ``rows``: the rows without those a check set to 'exclude' finds (each
        listed as excluded), and every check's flags of the rows left (``_quality_flags``)."""
        quality = self.study.config.quality
        flags = _quality_flags(self.study.questionnaire, quality, self.numeric, rows["answers"], rows["duration"],
                               duration_median)
        excluding = [name for name in flags if getattr(quality, name) == "exclude"]
        out = np.zeros(len(rows["ids"]), dtype=bool)
        for name in excluding:
            out |= flags[name]
        if not out.any():
            return rows, flags
        for index in np.flatnonzero(out).tolist():
            which = [name for name in excluding if flags[name][index]]
            self.exclusions.append(Exclusion(files[rows["file"][index]], int(rows["rows"][index]), None,
                                             f"quality: {', '.join(which)}", which[0], "quality"))
        return _select(rows, ~out), {name: mask[~out] for name, mask in flags.items()}

    def check(self, raw: RawTable, file_index: int, header: bool = True) -> dict[str, Any]:
        """The rules that look at one row at a time, over one table; returns its kept rows as columns.
        ``header``: check the table's columns too (a stream checks its source's columns once)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        q, config, rules, columns = self.study.questionnaire, self.study.config, self.rules, self.columns
        numeric, texts, findings, exclusions = self.numeric, self.texts, self.findings, self.exclusions
        read_per_file, value_labels, checks, key_of = self.read_per_file, self.value_labels, self.checks, self.key_of
        text_missing, code_missing = self.text_missing, self.code_missing
        table, raw.table = raw.table, None  # columns are dropped once converted, to bound peak memory
        n = table.num_rows
        read_per_file[raw.path] = read_per_file.get(raw.path, 0) + n
        rows = (raw.row_numbers if raw.row_numbers is not None
                else np.arange(raw.first_row, raw.first_row + n, dtype=np.int32))
        if header:
            self.header(raw.path, table.column_names)
        for column, labels in raw.value_labels.items():
            value_labels.setdefault(column, {}).update({_code_text(k): v for k, v in labels.items()})

        keep = np.ones(n, dtype=bool)
        reasons: dict[int, tuple[str, str | None, str, str]] = {}

        def exclude(mask: np.ndarray, rule: str, column: str | None, reason: str, kind: str = "error") -> None:
            action = getattr(rules, rule) if kind == "error" else "exclude"
            hits = np.flatnonzero(mask & keep)
            if not hits.size:
                return
            if action == "fail":
                findings.add(rule, raw.path, rows[hits], column, [None] * hits.size, "fail", reason)
                return
            for index in hits.tolist():
                reasons[index] = (rule, column, reason, kind)
            keep[hits] = False

        ids = _text(table.column(q.respondent_id))
        exclude(_empty(ids), "missing_id", q.respondent_id, "missing respondent id")

        values = np.empty((n, len(numeric)), dtype=np.float32, order="F")  # column-major: one item = one run
        kept_columns = {columns[i.id] for i in texts} | {columns[s.id] for s in q.segments} | {
            q.respondent_id, columns.get("wave"), config.quality.duration_column,
            q.weights.column if q.weights is not None else None}
        kept_columns |= {columns[name] for i in numeric + texts if i.when
                         for name in conditions.parse(i.when).names if name not in key_of}
        coded_answers: dict[str, np.ndarray] = {}  # don't know / refused: answered, but missing to statistics
        for k, item in enumerate(numeric):
            column = columns[item.id]
            check, missing, detail, rule = checks[item.id]
            unknown_text = None
            if check[0] == "positions":  # text codes: their position in the list
                result = _positions(table.column(column), check[1], check[2], code_missing)
                unknown_text, result.bad = result.bad, None  # not in the list: an unknown code, not 'not a number'
                check = ("range", 1, len(check[1]))
            else:
                result = _numeric(table.column(column), np.float32)
            bad = result.bad
            if bad is not None and bad.any() and text_missing:
                declared = np.asarray(pc.is_in(_text(table.column(column)),
                                               value_set=pa.array(sorted(text_missing), type=pa.string())))
                bad &= ~declared
            if bad is not None and bad.any():
                action = rules.not_a_number
                hits = np.flatnonzero(bad)
                findings.add("not_a_number", raw.path, rows[hits], column, _take(table.column(column), hits),
                             action, key_path=item.id)
                if action == "exclude":
                    exclude(bad, "not_a_number", column, f"{column}: not a number")
            if unknown_text is not None and unknown_text.any():
                action = rules.unknown_code
                hits = np.flatnonzero(unknown_text)
                findings.add("unknown_code", raw.path, rows[hits], column, _take(_text(table.column(column)), hits),
                             action, detail, item.id)
                if action == "exclude":
                    exclude(unknown_text, "unknown_code", column, f"{column}: {detail}")
            invalid, coded, blank = _classify(result, check, missing)
            if invalid.size:
                action = getattr(rules, rule)
                shown = result.values[invalid].astype(np.float32).tolist()  # as the answers array would hold them
                findings.add(rule, raw.path, rows[invalid], column, shown, action, detail, item.id)
                if action == "exclude":
                    exclude(_mask(n, invalid), rule, column, f"{column}: {detail}")
                else:
                    blank = _either(blank, _mask(n, invalid))
            if coded is not None:
                blank = _either(blank, coded)
                if item.when is not None or item.required:  # what the conditions check reads
                    coded_answers[item.id] = coded
            _store(values[:, k], result.values, blank)
            if column not in kept_columns:
                table = table.drop_columns([column])
            if k % _RELEASE_EVERY == _RELEASE_EVERY - 1:  # the dropped columns' memory goes back as the answers grow
                pa.default_memory_pool().release_unused()
        pa.default_memory_pool().release_unused()
        # findings listed in file order whatever the column order
        blanked = _check_conditions(q, numeric, texts, values, coded_answers, table, columns, raw.path, rows,
                                    findings, rules, exclude)

        segment_text = {}
        for segment in q.segments:
            column = columns[segment.id]
            labels = _labels(table.column(column))
            exclude(_empty_labels(labels), "missing_segment", column, f"no {segment.id}")
            segment_text[segment.id] = labels

        wave_text = None
        if q.wave is not None:
            column = columns["wave"]
            wave_text = _periods(_labels(table.column(column)), q.wave.frequency)
            exclude(_empty_labels(wave_text), "bad_wave", column, f"wave is not a date or a {q.wave.frequency}")

        weights = None
        if q.weights is not None and q.weights.column:
            parsed_weights = _numeric(table.column(q.weights.column))
            weights, bad_weight = parsed_weights.floats(), parsed_weights.bad
            invalid_weight = ~(weights > 0) | (bad_weight if bad_weight is not None else False)
            exclude(invalid_weight, "bad_weight", q.weights.column, "weight missing or not positive")

        duration = None
        if config.quality.duration_column:
            duration = _numeric(table.column(config.quality.duration_column)).floats()

        for index, (rule, column, reason, kind) in sorted(reasons.items()):
            exclusions.append(Exclusion(raw.path, int(rows[index]), column, reason, rule, kind))
        part: dict[str, Any] = {
            "rows": rows,
            "file": np.full(n, file_index, dtype=np.int32),
            "ids": ids,
            "answers": values,
            "duration": duration,
            "weights": weights,
            "wave": wave_text,
        }
        for segment_id, labels in segment_text.items():
            part[f"seg:{segment_id}"] = labels
        for item in texts:
            answer = _answer_text(table.column(columns[item.id]))
            if item.id in blanked:  # answered although not asked, set missing by the rule
                answer = pc.if_else(pa.array(blanked[item.id]), "", answer)
            part[f"text:{item.id}"] = answer
        return part if keep.all() else _select(part, keep)


def build_responses(study: Study, tables: list[RawTable]) -> Responses:
    q = study.questionnaire
    numeric, texts = split_items(q)
    row_checks = RowChecks(study)
    parts = [row_checks.check(raw, file_index) for file_index, raw in enumerate(tables)]
    findings, exclusions, read_per_file = row_checks.findings, row_checks.exclusions, row_checks.read_per_file
    value_labels = row_checks.value_labels

    findings.raise_failures()  # every file checked: all offending cells listed at once
    merged = _concatenate(parts)
    files = [t.path for t in tables]
    rows_read = sum(read_per_file.values())
    if merged["ids"] is None or len(merged["ids"]) == 0:
        reasons = Counter(e.reason for e in exclusions).most_common(3)
        detail = ", ".join(f"{count:,} {reason}" for reason, count in reasons)
        raise DataError(f"no usable responses: all {rows_read:,} rows were excluded ({detail})",
                        tables[0].path if len(tables) == 1 else None)

    duplicate = _duplicates(merged["ids"])
    if duplicate is not None:
        merged = row_checks.drop_duplicates(merged, duplicate, files)
        findings.raise_failures()
    merged, flags = row_checks.drop_careless(merged, files)
    answers = merged["answers"]
    if answers.shape[0] == 0:
        raise DataError(f"no usable responses: all {rows_read:,} rows were excluded (quality checks)")

    segments, segment_labels = {}, {}
    for segment in q.segments:
        codes, labels = _encode(merged[f"seg:{segment.id}"])
        segments[segment.id] = codes
        segment_labels[segment.id] = labels
    wave, wave_labels = (None, [])
    if q.wave is not None:
        wave, wave_labels = _encode(merged["wave"])

    responses = Responses(
        items=tuple(i.id for i in numeric),
        answers=answers,
        ids=merged["ids"],
        segments=segments,
        segment_labels=segment_labels,
        wave=wave,
        wave_labels=wave_labels,
        weights=merged["weights"],
        text={i.id: merged[f"text:{i.id}"] for i in texts},
        source_file=merged["file"],
        source_row=merged["rows"],
        files=files,
        rows_read=rows_read,
        exclusions=sorted(exclusions, key=lambda e: (files.index(e.file), e.row)),
        findings=sorted(findings.listed, key=_file_order(files)),
        findings_total=findings.answers_changed,
        rule_counts=dict(findings.counts),
        read_per_file=read_per_file,
        flags=flags,
        value_labels=value_labels,
    )
    if q.weights is not None and q.weights.rake:
        _apply_raking(study, responses)
    if responses.n + len(responses.exclusions) != rows_read:
        raise AssertionError("row account does not add up")  # a bug, never bad input
    return responses


def _file_order(files: list[str]) -> Any:
    def key(problem: Problem) -> tuple[int, int, str]:
        loc = problem.location
        return (files.index(loc.path) if loc.path in files else -1, loc.row or 0, str(loc.column))
    return key


def _code_text(code: Any) -> str:
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def _positions(column: Any, codes: list[Any], missing_codes: list[Any], text_missing: set[str]) -> _Parsed:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _text(column)
    known = [str(c) for c in codes]
    position = pc.index_in(text, value_set=pa.array(known, type=pa.string()))
    values = np.array(pc.add(pc.cast(position, pa.float64()), 1.0).to_numpy(zero_copy_only=False), dtype=np.float32)
    blank = np.asarray(pc.equal(text, ""))
    missing = np.asarray(pc.is_in(text, value_set=pa.array([str(c) for c in missing_codes] + sorted(text_missing),
                                                            type=pa.string())))
    bad = np.isnan(values) & ~blank & ~missing
    return _Parsed(values, bad, True)


def _classify(parsed: _Parsed, check: tuple[Any, ...], missing: set[Any]) -> tuple[Any, ...]:
    """(positions of the answers that break the item's rule, mask of the don't-know / refused codes, mask of
    the empty cells of an integer column); the masks None when empty.

    Whole-column masks only (a few vectorised comparisons, integers compared as
    they are); positions are found only for the rare answers that break the rule.
    """
    values, absent = parsed.values, parsed.absent
    missing_codes = sorted(missing)
    outside = None  # answers that are not valid: each is a missing code or breaks the rule
    if check[0] == "any":
        valid_codes = []
        if missing_codes:
            outside = _isin(values, missing_codes)
    elif check[0] == "range":
        lo, hi = check[1], check[2]
        valid_codes = [m for m in missing_codes if lo <= m <= hi]
        inside = False
        if absent is None:
            low, high = parsed.low, parsed.high
            if low is None or high is None:
                low, high = float(np.nanmin(values, initial=np.inf)), float(np.nanmax(values, initial=-np.inf))
            inside = low >= lo and high <= hi and (parsed.whole or np.array_equal(values, np.rint(values),
                                                                                   equal_nan=True))
        if not inside:
            outside = (values < lo) | (values > hi)
            if not parsed.whole:
                outside |= ~np.isnan(values) & (values != np.rint(values))
    else:
        valid_codes = [m for m in missing_codes if m in check[1]]
        outside = ~_isin(values, check[1])
        if values.dtype.kind == "f":
            outside &= ~np.isnan(values)
    if outside is not None and absent is not None:
        outside &= ~absent
    invalid, coded = np.empty(0, dtype=np.intp), None
    if outside is not None and outside.any():
        coded = outside & _isin(values, missing_codes) if missing_codes else None
        broken = outside & ~coded if coded is not None else outside
        invalid = np.flatnonzero(broken) if broken.any() else invalid
    if valid_codes:  # a missing code that is also a valid answer (declared in the study config): a full pass
        inside_codes = _isin(values, valid_codes)
        if absent is not None:
            inside_codes &= ~absent
        coded = inside_codes if coded is None else coded | inside_codes
    return invalid, (coded if coded is not None and coded.any() else None), absent


def _isin(values: np.ndarray, codes: Sequence[Any]) -> np.ndarray:
    """``np.isin`` for a short list of codes: a comparison per code is many times faster."""
    if len(codes) > 16:
        return np.isin(values, codes)
    found = np.zeros(values.shape, dtype=bool)
    for code in codes:
        found |= values == code
    return found


_ONE_BITS, _NAN_BITS = np.uint32(0x3F800000), np.uint32(0x7FC00000)  # float32 1.0 and NaN


def _store(out: np.ndarray, values: np.ndarray, blank: np.ndarray | None) -> None:
    """Write ``values`` to the float32 column ``out``, NaN where ``blank``.

    Without finding the blank cells' positions (the slow part of ``out[blank] = nan``):
    the values are multiplied by a factor of 1.0, or NaN where blank (anything times
    NaN is that NaN), the factor's bits made from the mask in two integer passes.
    """
    np.copyto(out, values, casting="unsafe")
    if blank is not None:
        factor = blank.astype(np.uint32)
        factor *= _NAN_BITS - _ONE_BITS
        factor += _ONE_BITS
        out *= factor.view(np.float32)


def _mask(n: int, positions: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return mask


def _either(mask: np.ndarray | None, other: np.ndarray) -> np.ndarray:
    return other if mask is None else mask | other


def _check_conditions(q: Questionnaire, numeric: list[Item], texts: list[Item], values: np.ndarray,
                      coded_answers: dict[str, np.ndarray], table: Any,
                      columns: dict[str, str], path: str, rows: np.ndarray, findings: _Findings, rules: Any,
                      exclude: Any) -> dict[str, np.ndarray]:
    """Answers to items that their condition says were not asked; required answers that are missing.

    Returns, per open (text) item, the mask of answers that the rule sets missing.
    """
    import pyarrow.compute as pc

    index = {item.id: k for k, item in enumerate(numeric)}
    text_columns: dict[str, np.ndarray] = {}
    blanked: dict[str, np.ndarray] = {}
    for item in list(numeric) + list(texts):
        if item.when is None and not item.required:
            continue
        asked = np.ones(values.shape[0], dtype=bool)
        if item.when is not None:
            condition = conditions.parse(item.when)
            env = {}
            for name in condition.names:
                if name in index:
                    env[name] = values[:, index[name]]
                else:
                    if name not in text_columns:
                        text_columns[name] = np.asarray(
                            _text(table.column(columns[name])).to_numpy(zero_copy_only=False), dtype=object)
                    env[name] = text_columns[name]
            asked = np.asarray(condition.evaluate(env), dtype=bool)
        column = columns[item.id]
        if item.id in index:
            answered = ~np.isnan(values[:, index[item.id]])
            if item.id in coded_answers:
                answered = answered | coded_answers[item.id]
        else:
            answered = np.asarray(pc.not_equal(_answer_text(table.column(column)), ""))
        extra = answered & ~asked
        if extra.any():
            action = rules.not_asked
            hits = np.flatnonzero(extra)
            shown = values[hits, index[item.id]].tolist() if item.id in index else _take(table.column(column), hits)
            findings.add("not_asked", path, rows[hits], column, shown, action,
                         f"answered although not asked (when: {item.when})", item.id)
            if action == "missing" and item.id in index:
                values[hits, index[item.id]] = np.nan
            elif action == "missing":
                blanked[item.id] = extra
            elif action == "exclude":
                exclude(extra, "not_asked", column, f"{column}: answered although not asked")
        if item.required:
            lacking = asked & ~answered
            if lacking.any():
                action = rules.required_missing
                hits = np.flatnonzero(lacking)
                findings.add("required_missing", path, rows[hits], column, [None] * hits.size, action,
                             "required answer missing", item.id)
                if action == "exclude":
                    exclude(lacking, "required_missing", column, f"{column}: required answer missing")
    return blanked


def _concatenate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    import pyarrow as pa

    merged: dict[str, Any] = {}
    for key in parts[0]:
        pieces = [p[key] for p in parts]
        if pieces[0] is None:
            merged[key] = None
        elif isinstance(pieces[0], np.ndarray):
            merged[key] = (np.concatenate(pieces) if len(pieces) > 1 else pieces[0]) if pieces[0].ndim == 1 else (
                np.asfortranarray(np.concatenate(pieces)) if len(pieces) > 1 else pieces[0])
        else:
            merged[key] = pa.concat_arrays(pieces) if len(pieces) > 1 else pieces[0]
    return merged


def _select(merged: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    import pyarrow as pa

    take = pa.array(np.flatnonzero(mask), type=pa.int64())
    out = {}
    for key, value in merged.items():
        if value is None:
            out[key] = None
        elif isinstance(value, np.ndarray):
            out[key] = value[mask] if value.ndim == 1 else np.asfortranarray(value[mask])
        else:
            out[key] = value.take(take)
    return out


def _duplicates(ids: Any) -> np.ndarray | None:
    """Mask of rows whose id was seen in an earlier row (files in order), or None when all are distinct.

    A stable sort puts equal ids next to each other in row order, so every id
    equal to its predecessor in sorted order is a repeat of an earlier row.
    Ids already in increasing order (as exports usually are) are distinct
    without a sort.
    """
    import pyarrow.compute as pc

    if len(ids) < 2:
        return None
    if pc.all(pc.greater(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py():
        return None
    order = pc.sort_indices(ids)
    ordered = ids.take(order)
    repeat = np.asarray(pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1)))
    if not repeat.any():
        return None
    duplicate = np.zeros(len(ids), dtype=bool)
    duplicate[order.to_numpy()[1:][repeat]] = True
    return duplicate


def _encode(labels: Any) -> tuple[np.ndarray, list[str]]:
    """Labels (a dictionary array, see ``_labels``) as int32 codes into their sorted distinct values in use."""
    indices = labels.indices.to_numpy(zero_copy_only=False)
    dictionary = labels.dictionary.to_pylist()
    used = np.bincount(indices, minlength=len(dictionary)) > 0  # rows taken out leave entries behind
    distinct = sorted({dictionary[i] for i in np.flatnonzero(used).tolist()})
    position = {label: code for code, label in enumerate(distinct)}
    remap = np.array([position.get(label, -1) for label in dictionary], dtype=np.int32)
    return remap[indices], distinct


def _quality_flags(q: Questionnaire, quality: Any, numeric: list[Item], answers: np.ndarray,
                   duration: np.ndarray | None, duration_median: float | None = None) -> dict[str, np.ndarray]:
    """Careless respondents: straight-lining across the rating grid, speeding, too many missing answers.

    Speeding compares with the median of ``duration``, or with ``duration_median`` when given (the median of
    every kept row, when the rows come in batches).

    Column by column (``answers`` is column-major), never a copy of the grid; one
    pass finds each column's missing answers for both the grid and the missing check.
    """
    n = answers.shape[0]
    index = {item.id: k for k, item in enumerate(numeric)}
    flags: dict[str, np.ndarray] = {}
    grid: set[int] = set()
    if quality.straightlining != "off":
        grid = {index[i.id] for factor in q.factors for i in factor.all_items() if i.id in index}
        if len(grid) < quality.straightlining_min_items:
            flags["straightlining"] = np.zeros(n, dtype=bool)
            grid = set()
    rating: set[int] = set()
    if quality.missing != "off":
        rating = {index[i.id] for i in numeric if i.question_type == "rating" and i.when is None}
    low = np.full(n, np.inf, dtype=np.float32)
    high = np.full(n, -np.inf, dtype=np.float32)
    counter = np.min_scalar_type(max(len(grid), len(rating)))  # the narrowest counts: fewer bytes to add
    grid_unanswered = np.zeros(n, dtype=counter)
    unanswered = np.zeros(n, dtype=counter)
    empty = np.empty(n, dtype=bool)
    for k in sorted(grid | rating):
        column = answers[:, k]
        np.isnan(column, out=empty)
        if k in grid:
            np.fmin(low, column, out=low)
            np.fmax(high, column, out=high)
            grid_unanswered += empty
        if k in rating:
            unanswered += empty
    if grid:
        flags["straightlining"] = (low == high) & (len(grid) - grid_unanswered >= quality.straightlining_min_items)
    if quality.speeding != "off" and duration is not None:
        if duration_median is None:
            valid = duration[np.isfinite(duration)]
            duration_median = float(np.median(valid)) if valid.size else None
        limit = quality.speeding_share_of_median * duration_median if duration_median is not None else 0.0
        flags["speeding"] = np.isfinite(duration) & (duration < limit)
    if rating:
        flags["missing"] = unanswered > quality.max_missing_share * len(rating)
    return flags


def rake_item_codes(q: Questionnaire, variable: str, labels: list[str], values: np.ndarray
                    ) -> tuple[np.ndarray, list[str]]:
    """Per stored answer of a raking item (NaN: none): the position of its target label, -1 when it has none;
    and the answered codes without a target share, as messages show them."""
    answered = ~np.isnan(values)
    item = q.item(variable)
    options = list(q.choices[item.choices].options) if item.choices in q.choices else []
    text_codes = [_code_text(c) for c in options] if any(isinstance(c, str) for c in options) else None
    codes = np.full(values.size, -1, dtype=np.int64)
    for position, label in enumerate(labels):
        if text_codes is not None:  # text codes are stored as their 1-based position in the list
            if label in text_codes:
                codes[values == text_codes.index(label) + 1] = position
            continue
        try:
            codes[values == float(label)] = position
        except ValueError:
            continue
    found = np.unique(values[answered & (codes < 0)])
    unknown = sorted(text_codes[int(v) - 1] if text_codes is not None else _code_text(float(v)) for v in found)
    return codes, unknown


def _apply_raking(study: Study, responses: Responses) -> None:
    from .raking import RakeVariable, rake, within_segment

    q = study.questionnaire
    weights = q.weights
    assert weights is not None
    columns = study.columns()
    shown = study.display(study.questionnaire_path)  # as in every other message: relative to the working folder
    keep = np.ones(responses.n, dtype=bool)
    unanswered: list[tuple[str, str, np.ndarray]] = []  # (variable, data column, rows without an answer)
    variables = []
    for target in weights.rake:
        labels = [str(k) for k in target.shares]
        shares = np.asarray(list(target.shares.values()), dtype=float)
        if target.variable in responses.segments:
            unit_labels = responses.segment_labels[target.variable]
            lookup = np.array([labels.index(u) if u in labels else -1 for u in unit_labels], dtype=np.int64)
            codes = lookup[responses.segments[target.variable]]
            unknown = sorted({u for u in unit_labels if u not in labels})
            if unknown:
                raise DataError(f"cannot rake on '{target.variable}': no target share for "
                                f"{', '.join(repr(u) for u in unknown)}", shown)
        else:
            values = responses.column(target.variable)
            answered = ~np.isnan(values)
            if not answered.all():
                unanswered.append((target.variable, columns.get(target.variable, target.variable), ~answered))
            keep &= answered
            codes, unknown = rake_item_codes(q, target.variable, labels, values)
            if unknown:
                raise DataError(f"cannot rake on '{target.variable}': no target share for "
                                f"{', '.join(unknown)}", shown)
        variables.append((target, labels, shares, codes))
    if not keep.all():
        column_of = np.full(responses.n, None, dtype=object)
        for _, column, mask in reversed(unanswered):  # a row is named by its first unanswered variable
            column_of[mask] = column
        if study.config.validation.missing_rake_variable == "fail":
            findings = _Findings(study.config.validation)
            for variable, column, mask in unanswered:
                for file_index, name in enumerate(responses.files):
                    rows = responses.source_row[mask & (responses.source_file == file_index)]
                    findings.add("missing_rake_variable", name, rows, column, [None] * rows.size, "fail",
                                 RULE_REASONS["missing_rake_variable"], variable)
            findings.raise_failures()
        if not keep.any():
            raise DataError(f"no usable responses: none of the {responses.n:,} rows used answers every raking "
                            f"variable ({', '.join(column for _, column, _ in unanswered)})")
        _drop_rows(responses, keep, "missing_rake_variable", RULE_REASONS["missing_rake_variable"], column_of)
        variables = [(t, labels, shares, codes[keep]) for t, labels, shares, codes in variables]
    segment_id = within_segment(weights.rake, shown)
    result = rake([RakeVariable(t.variable, codes, labels, shares) for t, labels, shares, codes in variables],
                  base=responses.weights, max_iterations=weights.max_iterations, tolerance=weights.tolerance,
                  cap=weights.cap, groups=responses.segments[segment_id] if segment_id else None, where=segment_id,
                  group_labels=responses.segment_labels[segment_id] if segment_id else None)
    responses.weights = result.weights
    responses.weighting = {"method": "rake", **result.as_dict()}
    if not result.converged:
        responses.findings.append(Problem(
            f"raking did not converge in {result.iterations} iterations (largest margin error "
            f"{result.max_error:.2g}); weights are approximate", Location(shown), "warning"))


def _drop_rows(responses: Responses, keep: np.ndarray, rule: str, reason: str,
               columns: np.ndarray | None = None) -> None:
    """Drop rows after the checks (a rule found them late), listing each as an Exclusion.

    ``columns`` names, per row, the data column at fault; the reason then starts with it.
    """
    import pyarrow as pa

    for index in np.flatnonzero(~keep).tolist():
        column = columns[index] if columns is not None else None
        responses.exclusions.append(Exclusion(responses.files[responses.source_file[index]],
                                              int(responses.source_row[index]), column,
                                              f"{column}: {reason}" if column else reason, rule))
    take = pa.array(np.flatnonzero(keep), type=pa.int64())
    responses.answers = np.asfortranarray(responses.answers[keep])
    responses.ids = responses.ids.take(take)
    responses.segments = {k: v[keep] for k, v in responses.segments.items()}
    responses.wave = responses.wave[keep] if responses.wave is not None else None
    responses.weights = responses.weights[keep] if responses.weights is not None else None
    responses.text = {k: v.take(take) for k, v in responses.text.items()}
    responses.source_file = responses.source_file[keep]
    responses.source_row = responses.source_row[keep]
    responses.flags = {k: v[keep] for k, v in responses.flags.items()}
    responses.exclusions.sort(key=lambda e: (responses.files.index(e.file), e.row))


def _periods(labels: Any, frequency: str) -> Any:
    """Dates or periods (a dictionary array) as period labels ('2026-03', '2026-Q1', '2026'); '' where
    unparseable or coarser. Each distinct value is parsed once."""
    import pyarrow as pa

    periods = pa.array([_period_label(v, frequency) for v in labels.dictionary.to_pylist()], type=pa.string())
    return pa.DictionaryArray.from_arrays(labels.indices, periods)


def _period_label(value: str, frequency: str) -> str:
    text = value.strip()
    year = month = None
    grain = "day"
    try:
        quarter = text.upper().replace(" ", "")
        if len(quarter) in (6, 7) and quarter[4:].lstrip("-").startswith("Q"):
            year, month, grain = int(quarter[:4]), (int(quarter[-1]) - 1) * 3 + 1, "quarter"
            if not 1 <= int(quarter[-1]) <= 4:
                return ""
        elif len(text) == 7 and text[4] in "-/":
            year, month, grain = int(text[:4]), int(text[5:7]), "month"
        elif len(text) >= 10:
            day = _dt.date.fromisoformat(text[:10])
            year, month, grain = day.year, day.month, "day"
        elif len(text) == 4:
            year, month, grain = int(text), 1, "year"
    except ValueError:
        return ""
    if year is None or month is None or not 1 <= month <= 12:
        return ""
    if _GRAIN[grain] > _GRAIN[frequency]:
        return ""  # a quarter cannot be placed in a month
    if frequency == "month":
        return f"{year:04d}-{month:02d}"
    if frequency == "quarter":
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}"
