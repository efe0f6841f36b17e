"""Apache Parquet files (a data team's export), read with pyarrow. Row 1 is the first record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from surveyengine import DataError, hookimpl
from surveyengine.data import RawTable


class ParquetReader:
    id = "parquet"
    description = "Apache Parquet files (pyarrow)."
    extensions = (".parquet", ".pq")

    def read(self, path: Path, options: dict[str, Any]) -> RawTable:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"not a readable Parquet file: {exc}", str(path)) from None
        return RawTable(table, str(path), first_row=1)


@hookimpl
def surveyengine_register_readers(registry):
    registry.add(ParquetReader)


@hookimpl(trylast=True)
def surveyengine_detect_reader(path):
    return "parquet" if path.suffix.lower() in ParquetReader.extensions else None
