"""Apache Parquet files (a data team's export), read with pyarrow. Row 1 is the first record.

Read a batch of rows at a time: columns that the questionnaire says hold small
codes are narrowed to int16 as they arrive (when every value fits), so a file
of 64-bit integers never sits in memory at full width. Text columns of segments
and waves are read dictionary-encoded, as Parquet usually stores them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from surveyengine import DataError, hookimpl
from surveyengine.data import RawTable

_BATCH_ROWS = 131_072


class ParquetReader:
    id = "parquet"
    description = "Apache Parquet files (pyarrow), streamed by row group."
    extensions = (".parquet", ".pq")

    def read(self, path: Path, options: dict[str, Any]) -> RawTable:
        import pyarrow as pa
        import pyarrow.parquet as pq

        hints = options.get("column_types") or {}
        try:
            schema = pq.read_schema(path)
            labels = [field.name for field in schema if hints.get(field.name) == "label"
                      and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type))]
            source = pq.ParquetFile(path, read_dictionary=labels)
            batches = [_narrow(batch, hints) for batch in source.iter_batches(batch_size=_BATCH_ROWS)]
            table = pa.Table.from_batches(_unify(batches, source.schema_arrow)) if batches else \
                source.schema_arrow.empty_table()
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"not a readable Parquet file: {exc}", str(path)) from None
        return RawTable(table, str(path), first_row=1)


def _narrow(batch: Any, hints: dict[str, str]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for name, column in zip(batch.schema.names, batch.columns):
        if hints.get(name) == "code" and pa.types.is_integer(column.type) and column.type.bit_width > 16:
            bounds = pc.min_max(column).as_py()
            low, high = bounds["min"], bounds["max"]
            if low is None or (-32768 <= low and high <= 32767):
                column = pc.cast(column, pa.int16())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _unify(batches: list[Any], schema: Any) -> list[Any]:
    """Where batches were narrowed differently (one held a code beyond int16), widen that column back."""
    import pyarrow as pa

    mixed = {name for position, name in enumerate(schema.names)
             if len({batch.column(position).type for batch in batches}) > 1}
    if not mixed:
        return batches
    out = []
    for batch in batches:
        columns = [column.cast(schema.field(name).type) if name in mixed else column
                   for name, column in zip(batch.schema.names, batch.columns)]
        out.append(pa.RecordBatch.from_arrays(columns, names=batch.schema.names))
    return out


@hookimpl
def surveyengine_register_readers(registry):
    registry.add(ParquetReader)


@hookimpl(trylast=True)
def surveyengine_detect_reader(path):
    return "parquet" if path.suffix.lower() in ParquetReader.extensions else None
