"""Response data: runs reader plugins and returns :class:`Responses`.

In-memory layout, designed for the statistics pass (nothing after that pass
touches rows):

- ``answers``: one 2-D ``float64`` array, respondents x numeric items (rating,
  single choice, number), in ``items`` order. NaN means missing: not asked,
  skipped, a don't-know / refused code, or a value set missing by validation.
- ``segments``: per segment id an ``int32`` code array into ``segment_labels``.
- ``wave``: an ``int32`` code array into ``wave_labels`` (sorted periods), or None.
- ``weights``: ``float64`` respondent weights, or None.
- ``text``: per open item an object array of strings ('' = no answer), kept
  apart with ``ids`` (respondent ids) for the comment pages.
- ``source_file`` / ``source_row``: provenance of each row (index into
  ``files``; the row as the user sees it in that file, header = row 1).

Every row read is either used or listed in ``exclusions`` with its reason;
answers set to missing by validation are listed in ``findings``.
"""

from __future__ import annotations

import datetime as _dt
import glob
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, Location, Problem
from .questionnaire import did_you_mean

if TYPE_CHECKING:
    import pyarrow as pa

    from .plugins import PluginManager
    from .study import Study

MAX_FINDINGS_LISTED = 1000
_GRAIN = {"day": 0, "month": 1, "quarter": 2, "year": 3}


@dataclass
class RawTable:
    """What a reader returns: a table of named columns and where its rows came from."""

    table: pa.Table
    path: str
    first_row: int = 2  # the row number, as the user sees it, of the first data row
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)  # column -> code -> label (SPSS)


@dataclass(frozen=True)
class Exclusion:
    file: str
    row: int
    column: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class Responses:
    items: tuple[str, ...]
    answers: np.ndarray
    ids: np.ndarray
    segments: dict[str, np.ndarray]
    segment_labels: dict[str, list[str]]
    wave: np.ndarray | None
    wave_labels: list[str]
    weights: np.ndarray | None
    text: dict[str, np.ndarray]
    source_file: np.ndarray
    source_row: np.ndarray
    files: list[str]
    rows_read: int
    exclusions: list[Exclusion] = field(default_factory=list)
    findings: list[Problem] = field(default_factory=list)
    findings_total: int = 0

    @property
    def n(self) -> int:
        return int(self.answers.shape[0])

    def column(self, item_id: str) -> np.ndarray:
        return self.answers[:, self.items.index(item_id)]

    def account(self) -> dict[str, Any]:
        """Rows read = rows used + rows excluded, per reason and per file."""
        by_reason = Counter(e.reason for e in self.exclusions)
        per_file: dict[str, dict[str, int]] = {}
        for index, name in enumerate(self.files):
            read = int(self._read_per_file.get(name, 0)) if hasattr(self, "_read_per_file") else 0
            used = int(np.count_nonzero(self.source_file == index))
            per_file[name] = {"read": read, "used": used, "excluded": read - used}
        return {
            "rows_read": self.rows_read,
            "rows_used": self.n,
            "rows_excluded": len(self.exclusions),
            "excluded_by_reason": dict(sorted(by_reason.items())),
            "files": per_file,
            "answers_set_missing": self.findings_total,
        }


def resolve_files(study: Study) -> list[tuple[Path, dict[str, Any]]]:
    """The study's data files (globs expanded, sorted) with their reader options."""
    files: list[tuple[Path, dict[str, Any]]] = []
    for spec in study.config.data_files():
        pattern = str(study.root / spec.path)
        matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [
            Path(pattern)]
        matches = [m for m in matches if m.is_file()] if glob.has_magic(pattern) else matches
        if not matches:
            raise DataError(f"no data file matches '{spec.path}'", str(study.config_path))
        options = spec.model_dump(exclude={"path"}, exclude_none=True)
        named = {path.resolve() for path, _ in files}  # a file that two entries match is read once
        files.extend((m, options) for m in matches if m.resolve() not in named)
    if not files:
        raise DataError("the study config names no data files ('data:')", str(study.config_path))
    return files


def read_tables(study: Study, pm: PluginManager) -> list[RawTable]:
    readers = pm.registry("readers")
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
        from .plugins import plugin_errors

        with plugin_errors(f"reader '{reader_id}'", readers.owner(reader_id)):
            raw = reader.read(path, options)
        raw.path = shown
        tables.append(raw)
    return tables


def load_responses(study: Study, pm: PluginManager) -> Responses:
    """Read every data file of the study and check it against the questionnaire."""
    return build_responses(study, read_tables(study, pm))


def build_responses(study: Study, tables: list[RawTable]) -> Responses:
    import pyarrow as pa

    q = study.questionnaire
    columns = study.columns()
    numeric = [item for item in q.all_items() if item.question_type in ("rating", "single", "number")]
    texts = [item for item in q.all_items() if item.question_type in ("text", "multiple")]
    parts: list[dict[str, Any]] = []
    exclusions: list[Exclusion] = []
    findings: list[Problem] = []
    findings_total = 0
    read_per_file: dict[str, int] = {}
    missing_codes = {c for c in study.config.missing_codes if not isinstance(c, str)}
    text_missing_codes = sorted({c.strip() for c in study.config.missing_codes if isinstance(c, str)})

    for file_index, raw in enumerate(tables):
        table = raw.table
        n = table.num_rows
        read_per_file[raw.path] = n
        rows = np.arange(n, dtype=np.int64) + raw.first_row
        present = set(table.column_names)
        needed = [columns[i.id] for i in numeric + texts] + [columns[s.id] for s in q.segments]
        needed.append(q.respondent_id)
        if q.wave is not None:
            needed.append(columns["wave"])
        if q.weights is not None and q.weights.column:
            needed.append(q.weights.column)
        absent = [c for c in needed if c not in present]
        if absent:
            lines = [f"missing column '{c}'{did_you_mean(c, present)}" for c in absent]
            raise DataError("; ".join(lines), raw.path, row=1)
        keep = np.ones(n, dtype=bool)
        part: dict[str, Any] = {"rows": rows, "file": np.full(n, file_index, dtype=np.int32)}

        ids = _as_text(table.column(q.respondent_id), strip=True)
        part["ids"] = ids
        blank = ids == ""
        for index in np.flatnonzero(blank):
            exclusions.append(Exclusion(raw.path, int(rows[index]), q.respondent_id, "missing respondent id"))
        keep &= ~blank

        values = np.empty((n, len(numeric)), dtype=np.float64)
        for k, item in enumerate(numeric):
            column = columns[item.id]
            parsed, bad = _as_float(table.column(column))
            allowed_missing = set(missing_codes)
            if item.scale:
                scale = q.scales[item.scale]
                allowed_missing |= set(scale.missing)
                valid = (parsed >= scale.min) & (parsed <= scale.max) & (parsed == np.round(parsed))
                rule = f"outside scale {scale.min}-{scale.max}"
            elif item.choices:
                choice_list = q.choices[item.choices]
                codes = [c for c in choice_list.options if isinstance(c, (int, float))]
                allowed_missing |= {c for c in choice_list.missing if isinstance(c, (int, float))}
                valid = np.isin(parsed, codes)
                rule = "not a code of choice list '" + item.choices + "'"
            else:
                valid = ~np.isnan(parsed)
                rule = ""
            if allowed_missing:
                coded_missing = np.isin(parsed, sorted(allowed_missing))
                parsed[coded_missing] = np.nan
                valid |= coded_missing
            if text_missing_codes:  # codes such as 'NA' or '-' in the config's missing_codes
                coded_text = np.isin(_as_text(table.column(column), strip=True), text_missing_codes)
                parsed[coded_text] = np.nan
                bad &= ~coded_text
            invalid = ~valid & ~np.isnan(parsed)
            for mask, why in ((bad, "not a number"), (invalid, rule)):
                hits = np.flatnonzero(mask)
                findings_total += hits.size
                if hits.size and len(findings) < MAX_FINDINGS_LISTED:
                    raw_values = table.column(column).take(pa.array(hits[: MAX_FINDINGS_LISTED]))
                    for index, value in zip(hits[:MAX_FINDINGS_LISTED], raw_values.to_pylist()):
                        if mask is invalid:  # a number: shown as one (11, 3.5), whatever type the reader gave
                            number = float(parsed[index])
                            value = int(number) if number.is_integer() else number
                        findings.append(Problem(f"{value!r} {why}; answer set missing",
                                                Location(raw.path, row=int(rows[index]), column=column),
                                                "warning", item.id))
            parsed[invalid] = np.nan
            values[:, k] = parsed
        part["answers"] = values

        for segment in q.segments:
            column = columns[segment.id]
            labels = _as_text(table.column(column), strip=True)
            empty = labels == ""
            for index in np.flatnonzero(empty & keep):
                exclusions.append(Exclusion(raw.path, int(rows[index]), column, f"no {segment.id}"))
            keep &= ~empty
            part[f"seg:{segment.id}"] = labels

        if q.wave is not None:
            column = columns["wave"]
            periods = _periods(_as_text(table.column(column)), q.wave.frequency)
            bad_wave = periods == ""
            for index in np.flatnonzero(bad_wave & keep):
                exclusions.append(Exclusion(raw.path, int(rows[index]), column,
                                            f"wave is not a date or a {q.wave.frequency}"))
            keep &= ~bad_wave
            part["wave"] = periods

        if q.weights is not None and q.weights.column:
            weights, bad_weight = _as_float(table.column(q.weights.column))
            bad_weight |= ~(weights > 0)
            for index in np.flatnonzero(bad_weight & keep):
                exclusions.append(Exclusion(raw.path, int(rows[index]), q.weights.column,
                                            "weight missing or not positive"))
            keep &= ~bad_weight
            part["weights"] = weights

        for item in texts:
            part[f"text:{item.id}"] = _as_text(table.column(columns[item.id]))
        parts.append({key: value[keep] for key, value in part.items()})

    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    if merged["ids"].size == 0:
        reasons = Counter(e.reason for e in exclusions).most_common(3)
        detail = ", ".join(f"{count:,} {reason}" for reason, count in reasons)
        raise DataError(f"no usable responses: all {sum(read_per_file.values()):,} rows were excluded ({detail})",
                        tables[0].path if len(tables) == 1 else None)
    # duplicate respondent ids across all files: the first occurrence is used
    ids = merged["ids"]
    _, first = np.unique(ids, return_index=True)
    duplicate = np.ones(ids.size, dtype=bool)
    duplicate[first] = False
    files = [t.path for t in tables]
    for index in np.flatnonzero(duplicate):
        exclusions.append(Exclusion(files[merged["file"][index]], int(merged["rows"][index]), q.respondent_id,
                                    f"duplicate respondent id {ids[index]!r}"))
    merged = {key: value[~duplicate] for key, value in merged.items()}

    segments, segment_labels = {}, {}
    for segment in q.segments:
        labels, codes = np.unique(merged[f"seg:{segment.id}"], return_inverse=True)
        segments[segment.id] = codes.astype(np.int32)
        segment_labels[segment.id] = [str(v) for v in labels]
    wave = None
    wave_labels: list[str] = []
    if q.wave is not None:
        labels, codes = np.unique(merged["wave"], return_inverse=True)
        wave, wave_labels = codes.astype(np.int32), [str(v) for v in labels]

    rows_read = sum(read_per_file.values())
    responses = Responses(
        items=tuple(i.id for i in numeric),
        answers=merged["answers"],
        ids=merged["ids"],
        segments=segments,
        segment_labels=segment_labels,
        wave=wave,
        wave_labels=wave_labels,
        weights=merged.get("weights"),
        text={i.id: merged[f"text:{i.id}"] for i in texts},
        source_file=merged["file"],
        source_row=merged["rows"],
        files=files,
        rows_read=rows_read,
        exclusions=sorted(exclusions, key=lambda e: (files.index(e.file), e.row)),
        findings=findings,
        findings_total=findings_total,
    )
    responses._read_per_file = read_per_file  # type: ignore[attr-defined]
    assert responses.n + len(responses.exclusions) == rows_read, "row account does not add up"
    return responses


def _as_text(column: Any, strip: bool = False) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
    column = pc.fill_null(column, "")
    if strip:  # ids and codes: ' R1 ' is R1, and a blank cell is empty
        column = pc.utf8_trim_whitespace(column)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def _as_float(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """Values as float64 (NaN for empty or bad) and a mask of cells that held text that is not a number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        return np.where(np.isnan(values), np.nan, values), np.zeros(len(values), dtype=bool)
    text = pc.utf8_trim_whitespace(pc.cast(column, pa.string()))
    uniques = pc.unique(text).to_pylist()
    parsed_uniques = []
    bad_uniques = []
    for value in uniques:
        if value is None or value == "":
            parsed_uniques.append(np.nan)
            bad_uniques.append(False)
            continue
        try:
            number = float(value)
        except ValueError:
            number = np.nan
        finite = bool(np.isfinite(number))  # 'abc', but also 'nan' and 'inf', are not answers
        parsed_uniques.append(number if finite else np.nan)
        bad_uniques.append(not finite)
    position = pc.index_in(text, value_set=pa.array(uniques, type=pa.string())).to_numpy(zero_copy_only=False)
    position = np.where(np.isnan(position.astype(float)), uniques.index(None) if None in uniques else 0,
                        position).astype(np.int64)
    return np.asarray(parsed_uniques, dtype=np.float64)[position], np.asarray(bad_uniques, dtype=bool)[position]


def _periods(values: np.ndarray, frequency: str) -> np.ndarray:
    """Dates or periods as period labels ('2026-03', '2026-Q1', '2026'); '' where unparseable."""
    out = np.empty(values.size, dtype=object)
    uniques, inverse = np.unique(values, return_inverse=True)
    labels = np.array([_period_label(str(v), frequency) for v in uniques], dtype=object)
    out[:] = labels[inverse]
    return out


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
