"""CSV and TSV files, read with pyarrow (multi-line quoted comments included).

Encoding: UTF-8 (with or without BOM) unless declared; a file that is not
UTF-8 is retried as GB18030 (a superset of GBK, what Excel on a Chinese
Windows machine writes). The delimiter is sniffed from the header line unless
declared. Every column is read as text (ids and codes keep leading zeros); the
data layer parses the numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Any

from surveyengine import DataError, hookimpl
from surveyengine.data import RawTable

_CANDIDATE_DELIMITERS = ",;\t|"


class CsvReader:
    id = "csv"
    description = "Comma, semicolon or tab separated text (UTF-8, UTF-8 with BOM, GB18030/GBK)."
    extensions = (".csv", ".tsv", ".txt")

    def read(self, path: Path, options: dict[str, Any]) -> RawTable:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        raw = path.read_bytes()
        encoding = options.get("encoding") or _detect_encoding(raw, str(path))
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            position = getattr(exc, "start", 0)
            line = raw[:position].count(b"\n") + 1
            raise DataError(f"cannot decode as {encoding}: {exc}; declare the file's 'encoding'", str(path),
                            line=line) from None
        text = text.lstrip("\ufeff")
        first_line = text.split("\n", 1)[0]
        delimiter = options.get("delimiter") or _sniff_delimiter(first_line, path)
        # every column as text: the data layer parses numbers itself, and ids or codes keep leading zeros
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        try:
            table = pacsv.read_csv(
                io.BytesIO(text.encode("utf-8")),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                     column_types={name: pa.string() for name in header}),
            )
        except pa.ArrowInvalid as exc:
            raise DataError(f"not a valid CSV file: {exc}", str(path)) from None
        return RawTable(table, str(path), first_row=2)


def _detect_encoding(raw: bytes, shown: str) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        raw.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        raise DataError("file is neither UTF-8 nor GB18030; declare its 'encoding' in the study config",
                        shown) from None


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
