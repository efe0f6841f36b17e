"""Response files in every format the reader plugins read: CSV/TSV, Parquet, JSON Lines, Excel, SPSS.

``write(columns, path)`` picks the format from the file's extension. The
columns are what :func:`surveyengine.simulate.simulate` returns: data column
name -> numpy array, NaN (numbers) or '' (text) for missing.

What every format keeps the same:

- A column of numbers that are all whole is written as integers (``5``, not
  ``5.0``); other numbers as floats; missing numbers as the format's empty or
  null value.
- Text stays text, so respondent ids and segment codes keep their leading
  zeros (``'007'``, ``'0101'``). An object column is numeric only when its
  values are Python numbers (and '' or None for missing); strings are never
  parsed as numbers.
- The same columns give the same bytes. Excel and SPSS files carry a creation
  time; it is fixed (1980-01-01), so they are byte-for-byte reproducible too.

Heavy libraries are imported inside the functions that use them.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:
    from .model import Questionnaire

PARQUET_ROW_GROUP = 100_000  # rows per Parquet row group: engines scan row groups in parallel
EXCEL_MAX_ROWS = 1_048_576  # an Excel sheet's rows, the header included
SHEET_NAME = "responses"
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_FIXED_W3CDTF = "1980-01-01T00:00:00Z"
_SAV_TIMESTAMP = slice(92, 109)  # "dd mmm yy" + "hh:mm:ss" in the SPSS file header
_ILLEGAL_IN_EXCEL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

Columns = dict[str, np.ndarray]


# --------------------------------------------------------------------------- columns as typed values

def _prepare(values: np.ndarray) -> tuple[str, np.ndarray]:
    """('text', object array of str, '' for missing) or ('int' | 'float', float64 array, NaN for missing)."""
    values = np.asarray(values)
    if values.dtype == object or values.dtype.kind in "US":
        listed = values.tolist()
        blank = [v is None or v == "" or (isinstance(v, float) and math.isnan(v)) for v in listed]
        numbers = [v for v, b in zip(listed, blank) if not b]
        if numbers and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                           for v in numbers):
            values = np.array([math.nan if b else float(v) for v, b in zip(listed, blank)], dtype=np.float64)
        else:
            return "text", np.array(["" if b else str(v) for v, b in zip(listed, blank)], dtype=object)
    values = values.astype(np.float64)
    present = values[~np.isnan(values)]
    if np.isfinite(present).all() and np.array_equal(present, np.round(present)) and (
            present.size == 0 or np.abs(present).max() < 2**53):
        return "int", values
    return "float", values


def _prepared(columns: Columns) -> list[tuple[str, str, np.ndarray]]:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    return [(name, *_prepare(values)) for name, values in columns.items()]


def _arrow_table(columns: Columns) -> Any:
    import pyarrow as pa

    arrays = {}
    for name, kind, values in _prepared(columns):
        if kind == "text":
            arrays[name] = pa.array(values.tolist(), type=pa.string())
        else:
            missing = np.isnan(values)
            if kind == "int":
                arrays[name] = pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing)
            else:
                arrays[name] = pa.array(values, mask=missing)
    return pa.table(arrays)


def _python_values(kind: str, values: np.ndarray) -> list[Any]:
    """Python values, None for missing: int for whole numbers, float otherwise, str for text."""
    if kind == "text":
        return [v if v != "" else None for v in values.tolist()]
    missing = np.isnan(values).tolist()
    if kind == "int":
        return [None if m else v for v, m in zip(np.where(np.isnan(values), 0, values).astype(np.int64).tolist(),
                                                   missing)]
    return [None if m else v for v, m in zip(values.tolist(), missing)]


# --------------------------------------------------------------------------- one function per format

def write_csv(columns: Columns, path: Path, encoding: str = "utf-8", delimiter: str = ",") -> None:
    """CSV (integers without decimals, missing as empty, text quoted) in any encoding Python knows.

    ``utf-8-sig`` writes UTF-8 with a byte order mark (what Excel looks for).
    """
    import pyarrow.csv as pacsv

    path = Path(path)
    codec = _codec(encoding, path)
    table = _arrow_table(columns)
    options = pacsv.WriteOptions(delimiter=delimiter)
    path.parent.mkdir(parents=True, exist_ok=True)
    if codec in ("utf-8", "utf-8-sig"):
        with path.open("wb") as handle:
            if codec == "utf-8-sig":
                handle.write(codecs.BOM_UTF8)
            pacsv.write_csv(table, handle, options)
        return
    import io

    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, options)
    text = buffer.getvalue().decode("utf-8")
    try:
        data = text.encode(codec)
    except UnicodeEncodeError as exc:
        raise DataError(f"cannot write {exc.object[exc.start]!r} in encoding '{encoding}'; "
                        "use utf-8 or gb18030", str(path)) from None
    path.write_bytes(data)


def write_tsv(columns: Columns, path: Path, encoding: str = "utf-8") -> None:
    """Tab-separated text: CSV with tabs."""
    write_csv(columns, path, encoding, delimiter="\t")


def write_parquet(columns: Columns, path: Path) -> None:
    """Apache Parquet (pyarrow, snappy), in row groups of :data:`PARQUET_ROW_GROUP` rows."""
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(_arrow_table(columns), path, row_group_size=PARQUET_ROW_GROUP)


def write_jsonl(columns: Columns, path: Path) -> None:
    """JSON Lines, UTF-8: one flat object per respondent; missing numbers are null, empty text is ""."""
    path = Path(path)
    fragments: list[list[str]] = []
    for name, kind, values in _prepared(columns):
        key = json.dumps(name, ensure_ascii=False) + ":"
        if kind == "text":
            cache: dict[str, str] = {}
            fragments.append([key + (cache.get(v) or cache.setdefault(v, json.dumps(v, ensure_ascii=False)))
                              for v in values.tolist()])
            continue
        if np.isinf(values).any():
            raise DataError(f"column '{name}' holds an infinite number, which JSON cannot write", str(path))
        fragments.append([key + ("null" if v is None else json.dumps(v)) for v in _python_values(kind, values)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines("{" + ",".join(parts) + "}\n" for parts in zip(*fragments))


def write_xlsx(columns: Columns, path: Path) -> None:
    """An Excel workbook with one sheet named ``responses`` (openpyxl, write-only mode).

    Text is written as text cells, also when it begins with '=' (a comment is
    never a formula); empty answers are empty cells.
    """
    try:
        import openpyxl
        from openpyxl.cell import WriteOnlyCell
    except ImportError:
        raise DataError("writing .xlsx needs openpyxl: pip install 'surveyengine[xlsx]'", str(path)) from None

    path = Path(path)
    n = len(next(iter(columns.values()))) if columns else 0
    if n + 1 > EXCEL_MAX_ROWS:
        raise DataError(f"{n:,} rows do not fit in an Excel sheet ({EXCEL_MAX_ROWS - 1:,} at most); "
                        "write .parquet or .csv", str(path))
    prepared = _prepared(columns)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_NAME)

    def text_cell(value: str, column: str, row: int) -> Any:
        if _ILLEGAL_IN_EXCEL.search(value):
            raise DataError(f"{value!r} holds a control character that Excel cannot store", str(path),
                            row=row, column=column)
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula
        return cell

    sheet.append([text_cell(name, name, 1) for name, _, _ in prepared])
    cells = []
    for name, kind, values in prepared:
        listed = _python_values(kind, values)
        if kind == "text":
            listed = [None if v is None else text_cell(v, name, row) for row, v in enumerate(listed, start=2)]
        cells.append(listed)
    for row in zip(*cells):
        sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.properties.created = _fixed_datetime()
    workbook.save(path)
    _fix_zip_times(path)


def write_sav(columns: Columns, path: Path, questionnaire: Questionnaire | None = None) -> None:
    """An SPSS .sav file (pyreadstat, row-compressed as SPSS writes them), labelled from the questionnaire.

    Value labels: segment columns get their units' ``labels``, rating items
    their scale's labelled points and missing codes, single choice items with
    number codes their options. Labels are in the questionnaire's first language.
    """
    try:
        import pandas as pd
        import pyreadstat
    except ImportError:
        raise DataError("writing .sav needs pyreadstat and pandas: pip install 'surveyengine[spss]'",
                        str(path)) from None

    path = Path(path)
    prepared = _prepared(columns)
    data: dict[str, Any] = {}
    formats: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for name, kind, values in prepared:
        kinds[name] = kind
        if kind == "text":
            data[name] = pd.Series(values, dtype=object)
        else:
            data[name] = values
            if kind == "int":
                present = values[~np.isnan(values)]
                digits = len(str(int(np.abs(present).max()))) + int((present < 0).any()) if present.size else 1
                formats[name] = f"F{digits}.0"
    value_labels, variable_labels = _sav_labels(questionnaire, kinds) if questionnaire is not None else ({}, {})
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        pyreadstat.write_sav(pd.DataFrame(data), str(path), row_compress=True,
                             column_labels=variable_labels or None, variable_value_labels=value_labels or None,
                             variable_format=formats or None)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as exc:  # e.g. a name SPSS does not allow
        path.unlink(missing_ok=True)
        raise DataError(f"cannot write an SPSS file: {exc}", str(path)) from None
    with path.open("r+b") as handle:  # the header's creation time, fixed so that same columns give same bytes
        head = handle.read(_SAV_TIMESTAMP.stop)
        if head[:4] in (b"$FL2", b"$FL3"):
            handle.seek(_SAV_TIMESTAMP.start)
            handle.write(b"01 Jan 8000:00:00")


# --------------------------------------------------------------------------- dispatch

WRITERS: dict[str, Callable[..., None]] = {
    ".csv": write_csv,
    ".tsv": write_tsv,
    ".parquet": write_parquet,
    ".jsonl": write_jsonl,
    ".xlsx": write_xlsx,
    ".sav": write_sav,
}
_TEXT_FORMATS = (".csv", ".tsv")


def writer_for(path: Path, encoding: str = "utf-8") -> Callable[..., None]:
    """The writer of ``path``'s extension; a DataError for an unknown one or an encoding it cannot use."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        raise DataError(f"cannot write {shown} files; the extension picks the format, one of: "
                        f"{', '.join(WRITERS)}", str(path))
    codec = _codec(encoding, path)
    if suffix not in _TEXT_FORMATS and codec != "utf-8":
        raise DataError(f"the encoding '{encoding}' applies to {' and '.join(_TEXT_FORMATS)} files only; "
                        f"{suffix} files are written in UTF-8", str(path))
    return WRITERS[suffix]


def write(columns: Columns, path: Path, encoding: str = "utf-8",
          questionnaire: Questionnaire | None = None) -> None:
    """Write ``columns`` in the format of ``path``'s extension (see :data:`WRITERS`).

    ``encoding`` is for CSV and TSV; ``questionnaire`` gives an SPSS file its labels.
    """
    path = Path(path)
    writer = writer_for(path, encoding)
    if writer in (write_csv, write_tsv):
        writer(columns, path, encoding)
    elif writer is write_sav:
        writer(columns, path, questionnaire)
    else:
        writer(columns, path)


# --------------------------------------------------------------------------- helpers

def _codec(encoding: str, path: Path) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'", str(path)) from None


def _fixed_datetime() -> Any:
    import datetime as _dt

    return _dt.datetime(*_FIXED_ZIP_TIME)


def _fix_zip_times(path: Path) -> None:
    """Rewrite a zip package (xlsx) with fixed entry times and a fixed 'modified' property."""
    import shutil
    import tempfile
    import zipfile

    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as temporary:
        temp_path = Path(temporary.name)
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(temp_path, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
                fixed.compress_type = zipfile.ZIP_DEFLATED
                fixed.external_attr = info.external_attr
                fixed.file_size = info.file_size  # so that zip64 records are used only when needed
                if info.filename == "docProps/core.xml":
                    xml = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + _FIXED_W3CDTF.encode(),
                                 source.read(info))
                    target.writestr(fixed, xml)
                    continue
                with source.open(info) as reader, target.open(fixed, "w") as writer:
                    shutil.copyfileobj(reader, writer, 1 << 20)
        shutil.copymode(path, temp_path)
        temp_path.replace(path)
    finally:
        temp_path.unlink(missing_ok=True)


def _sav_labels(q: Questionnaire, kinds: dict[str, str]) -> tuple[dict[str, dict[Any, str]], dict[str, str]]:
    """(value labels, variable labels) of the columns in ``kinds`` ('text', 'int' or 'float')."""

    def key(code: Any, column: str) -> Any:
        if kinds[column] == "text":
            return str(code)
        if isinstance(code, bool) or not isinstance(code, (int, float)):
            return None  # a text code cannot label a number
        return float(code)

    def labelled(mapping: dict[Any, Any], column: str) -> dict[Any, str]:
        out = {}
        for code, text in mapping.items():
            k = key(code, column)
            if k is not None:
                out[k] = q.text(text)
        return out

    value_labels: dict[str, dict[Any, str]] = {}
    variable_labels: dict[str, str] = {}
    for segment in q.segments:
        column = segment.data_column
        if column in kinds:
            variable_labels[column] = q.text(segment.label)
            if segment.labels and (mapping := labelled(dict(segment.labels), column)):
                value_labels[column] = mapping
    if q.wave is not None and q.wave.column in kinds and q.wave.label is not None:
        variable_labels[q.wave.column] = q.text(q.wave.label)
    for item in q.all_items():
        column = item.data_column
        if column not in kinds:
            continue
        variable_labels[column] = q.text(item.text)
        if kinds[column] == "text":
            continue
        mapping = {}
        if item.scale and item.scale in q.scales:
            scale = q.scales[item.scale]
            mapping = {**scale.labels, **scale.missing}
        elif item.choices and item.choices in q.choices and item.question_type == "single":
            choice_list = q.choices[item.choices]
            mapping = {**choice_list.options, **choice_list.missing}
        if mapping and (labels := labelled(mapping, column)):
            value_labels[column] = labels
    return value_labels, variable_labels
