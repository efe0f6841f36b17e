"""SPSS .sav files from panel companies, with their value labels. Row 1 is the first case.

Codes stay codes (the questionnaire's scales and choice lists give them
meaning); value labels name segment units that the questionnaire leaves
unlabelled. Needs the ``spss`` extra (pyreadstat).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from surveyengine import DataError, hookimpl
from surveyengine.data import RawTable


class SpssReader:
    id = "sav"
    description = "SPSS .sav files with value labels (pyreadstat; pip install 'surveyengine[spss]')."
    extensions = (".sav", ".zsav")

    def read(self, path: Path, options: dict[str, Any]) -> RawTable:
        try:
            import pyreadstat
        except ImportError:
            raise DataError("reading .sav needs pyreadstat: pip install 'surveyengine[spss]'", str(path)) from None
        import pyarrow as pa

        try:
            frame, meta = pyreadstat.read_sav(str(path), apply_value_formats=False,
                                              encoding=options.get("encoding"))
        except Exception as exc:  # pyreadstat.ReadstatError and OSError subclasses
            raise DataError(f"not a readable SPSS file: {exc}", str(path)) from None
        table = pa.Table.from_pandas(frame, preserve_index=False)
        labels = {column: {code: str(label) for code, label in mapping.items()}
                  for column, mapping in (meta.variable_value_labels or {}).items()}
        return RawTable(table, str(path), first_row=1, value_labels=labels)


@hookimpl
def surveyengine_register_readers(registry):
    registry.add(SpssReader)


@hookimpl(trylast=True)
def surveyengine_detect_reader(path):
    return "sav" if path.suffix.lower() in SpssReader.extensions else None
