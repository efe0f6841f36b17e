"""Excel workbooks written with openpyxl (the ``xlsx`` extra): formatted sheets of columns, never a formula.

openpyxl stores any string that starts with ``=`` as a formula. Every text cell
written here is a string cell (``data_type = "s"``), and text that starts like
a formula (``=``, ``+``, ``-``, ``@``, a tab, a carriage return) also gets
Excel's quote prefix, so editing the cell in Excel keeps it text. Outputs that
hold data text pass ``text=tables.safe_cell`` as well, which adds the visible
apostrophe the CSV tables use, so the cell stays inert after a save as CSV.
Control characters Excel cannot store are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import SurveyEngineError
from .tables import FORMULA_STARTS
from .writers import _ILLEGAL_IN_EXCEL as _ILLEGAL
_MAX_WIDTH = 60


def openpyxl_module() -> Any:
    try:
        import openpyxl
    except ImportError:
        raise SurveyEngineError("writing .xlsx needs openpyxl: pip install 'surveyengine[xlsx]'") from None
    return openpyxl


def new_workbook() -> Any:
    """An empty workbook (no default sheet)."""
    workbook = openpyxl_module().Workbook()
    workbook.remove(workbook.active)
    return workbook


def sheet_title(name: str, taken: Sequence[str] = ()) -> str:
    """A valid, unique sheet name: at most 31 characters, none of ``[]:*?/\\``."""
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip().strip("'")[:31] or "Sheet"
    title, number = base, 2
    while title.lower() in {t.lower() for t in taken}:
        suffix = f" {number}"
        title, number = base[: 31 - len(suffix)] + suffix, number + 1
    return title


def add_sheet(workbook: Any, name: str, columns: Mapping[str, Sequence[Any]], *,
              formats: Mapping[str, str] | None = None, text: Callable[[Any], Any] = lambda v: v,
              freeze: str = "A2", styled: bool = True) -> Any:
    """A sheet of ``columns`` (header row, then one row per value), text safe, numbers formatted by column name."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(sheet_title(name, workbook.sheetnames))
    names = list(columns)
    formats = formats or {}
    widths = [len(str(n)) for n in names]
    for col, header in enumerate(names, start=1):
        write_cell(sheet, 1, col, header)
        if styled:
            cell = sheet.cell(1, col)
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="305496")
            cell.alignment = Alignment(vertical="center", wrap_text=False)
    rows = len(next(iter(columns.values()), []))
    for col, header in enumerate(names, start=1):
        number_format = formats.get(header)
        for row, value in enumerate(columns[header], start=2):
            value = text(value) if isinstance(value, str) else value
            cell = write_cell(sheet, row, col, value)
            if number_format and isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.number_format = number_format
            widths[col - 1] = max(widths[col - 1], len(str(value)) if value is not None else 0)
    if styled:
        for col, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(col)].width = min(width + 2, _MAX_WIDTH)
        if freeze and rows:
            sheet.freeze_panes = freeze
        if rows:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(names))}{rows + 1}"
    return sheet


def write_cell(sheet: Any, row: int, col: int, value: Any) -> Any:
    """Put one value in a cell; text is always a string cell, never a formula."""
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
    cell = sheet.cell(row, col)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(FORMULA_STARTS):
            cell.quotePrefix = True
    return cell


def save(workbook: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
