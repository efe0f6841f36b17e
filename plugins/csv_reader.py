"""CSV and TSV files, read with pyarrow (multi-line quoted comments included).

Encoding: UTF-8 (with or without BOM) unless declared; a file that is not
UTF-8 is read as GB18030 (a superset of GBK, what Excel on a Chinese Windows
machine writes). The delimiter is sniffed from the header line unless
declared. Columns the questionnaire says hold codes or numbers are parsed while
reading (multi-threaded, in C++); ids, segments, waves and comments stay text,
so ids and dealer codes keep their leading zeros. Segments and waves, a few
values repeated on every row, are read dictionary-encoded. A column whose values
do not all parse is read again as text, so that the data layer can name each bad cell.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

from surveyengine import DataError, hookimpl
from surveyengine.data import RawTable

_CANDIDATE_DELIMITERS = ",;\t|"
_SNIFF_BYTES = 1 << 20
# Parsed in blocks of 4 MiB: as fast as 1 MiB, and a column's chunks are large enough that the memory of the
# item columns goes back to the system as the data layer drops them (1 MiB: 45 MiB higher peak; 16 MiB: more).
_BLOCK_BYTES = 4 << 20
_MAX_TYPED_RETRIES = 4
_FAILED_COLUMN = re.compile(r"In CSV column #(\d+)")


class CsvReader:
    id = "csv"
    description = "Comma, semicolon or tab separated text (UTF-8, UTF-8 with BOM, GB18030/GBK)."
    extensions = (".csv", ".tsv", ".txt")

    def read(self, path: Path, options: dict[str, Any]) -> RawTable:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        encoding = options.get("encoding") or _detect_encoding(head, str(path))
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"unknown encoding '{encoding}'", str(path)) from None
        header = _header_line(head, encoding)
        delimiter = options.get("delimiter") or _sniff_delimiter(header, path)
        hints = options.get("column_types") or {}
        types = {"code": pa.int16(), "number": pa.float64(), "label": pa.dictionary(pa.int32(), pa.string()),
                 "text": pa.string()}
        column_types = {name: types[kind] for name, kind in hints.items()}
        names = _header_names(header, delimiter)
        for name in names:
            column_types.setdefault(name, pa.string())
        read_options = pacsv.ReadOptions(encoding="utf8" if encoding.replace("-", "").lower() in (
            "utf8", "utf8sig") else encoding, block_size=_BLOCK_BYTES)
        parse_options = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
        for attempt in range(_MAX_TYPED_RETRIES + 2):
            convert = pacsv.ConvertOptions(column_types=column_types, null_values=[""], strings_can_be_null=False,
                                           quoted_strings_can_be_null=False)
            try:
                table = pacsv.read_csv(path, read_options=read_options, parse_options=parse_options,
                                       convert_options=convert)
                break
            except pa.ArrowInvalid as exc:
                message = str(exc)
                failed = _FAILED_COLUMN.search(message)
                if "conversion error" in message and failed and attempt < _MAX_TYPED_RETRIES:
                    index = int(failed.group(1))
                    if index < len(names):
                        column_types[names[index]] = pa.string()
                        continue
                if "conversion error" in message and attempt <= _MAX_TYPED_RETRIES:
                    column_types = {name: pa.string() for name in names}
                    continue
                if "invalid UTF8" in message and encoding.lower().startswith("utf"):
                    raise DataError("file is not valid UTF-8; declare its 'encoding' (e.g. gb18030) in the "
                                    "study config", str(path)) from None
                raise DataError(f"not a valid CSV file: {_first_line(message)}", str(path)) from None
            except UnicodeDecodeError as exc:
                raise DataError(f"cannot decode as {encoding}: {exc.reason}; declare the file's 'encoding'",
                                str(path)) from None
        return RawTable(table, str(path), first_row=2)


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else message


def _detect_encoding(head: bytes, shown: str) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
            return encoding
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 4 and len(head) == _SNIFF_BYTES:
                return encoding  # a character cut in two by the sniffing window
    raise DataError("file is neither UTF-8 nor GB18030; declare its 'encoding' in the study config", shown)


def _header_line(head: bytes, encoding: str) -> str:
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    return text.split("\n", 1)[0].rstrip("\r")


def _header_names(header: str, delimiter: str) -> list[str]:
    import csv

    return next(csv.reader([header], delimiter=delimiter), [])


def _sniff_delimiter(header: str, path: Path) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    counts = {d: header.count(d) for d in _CANDIDATE_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@hookimpl
def surveyengine_register_readers(registry):
    registry.add(CsvReader)


@hookimpl(trylast=True)
def surveyengine_detect_reader(path):
    if path.suffix.lower() in CsvReader.extensions:
        return "csv"
    return None
