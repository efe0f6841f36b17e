"""Excel workbooks (.xlsx): a named sheet (``sheet:`` in the study config) or the first one.

Row 1 is the header, as Excel shows it. Needs the ``xlsx`` extra (openpyxl).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from surveyengine import DataError, hookimpl
from surveyengine.data import RawTable


class XlsxReader:
    id = "xlsx"
    description = "Excel .xlsx workbooks, one sheet (openpyxl; pip install 'surveyengine[xlsx]')."
    extensions = (".xlsx", ".xlsm")

    def read(self, path: Path, options: dict[str, Any]) -> RawTable:
        try:
            import openpyxl
        except ImportError:
            raise DataError("reading .xlsx needs openpyxl: pip install 'surveyengine[xlsx]'", str(path)) from None
        import pyarrow as pa

        try:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several unrelated types for a damaged file
            raise DataError(f"not a readable .xlsx workbook: {exc}", str(path)) from None
        try:
            name = options.get("sheet") or workbook.sheetnames[0]
            if name not in workbook.sheetnames:
                raise DataError(f"no sheet '{name}'; the workbook has: {', '.join(workbook.sheetnames)}", str(path))
            rows = workbook[name].iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                raise DataError(f"sheet '{name}' is empty", str(path))
            names = [str(h).strip() if h is not None else "" for h in header]
            while names and names[-1] == "":
                names.pop()
            for index, column in enumerate(names):
                if column == "":
                    raise DataError("empty column header", str(path), row=1, column=_column_letter(index))
            columns: list[list[Any]] = [[] for _ in names]
            blank = 0  # empty rows so far: kept when a filled row follows, so rows keep Excel's numbers
            for row in rows:
                if row is None or all(v is None for v in row[: len(names)]):
                    blank += 1
                    continue
                for index in range(len(names)):
                    columns[index].extend([None] * blank)
                blank = 0
                for index in range(len(names)):
                    columns[index].append(row[index] if index < len(row) else None)
        finally:
            workbook.close()
        arrays = [_to_arrow(values) for values in columns]
        return RawTable(pa.table(dict(zip(names, arrays))), str(path), first_row=2)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _to_arrow(values: list[Any]) -> Any:
    import pyarrow as pa

    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
        return pa.array(values, type=pa.float64())
    out = []
    for value in values:
        if value is None:
            out.append("")
        elif isinstance(value, _dt.datetime):
            out.append(value.date().isoformat() if value.time() == _dt.time() else value.isoformat())
        elif isinstance(value, _dt.date):
            out.append(value.isoformat())
        elif isinstance(value, float) and value.is_integer():
            out.append(str(int(value)))
        else:
            out.append(str(value))
    return pa.array(out, type=pa.string())


@hookimpl
def surveyengine_register_readers(registry):
    registry.add(XlsxReader)


@hookimpl(trylast=True)
def surveyengine_detect_reader(path):
    return "xlsx" if path.suffix.lower() in XlsxReader.extensions else None
