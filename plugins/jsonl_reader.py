"""JSON Lines: one JSON object per line, as survey platforms' APIs export them. Row = line number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from surveyengine import DataError, hookimpl
from surveyengine.data import RawTable


class JsonLinesReader:
    id = "jsonl"
    description = "JSON Lines, one flat object per respondent (pyarrow)."
    extensions = (".jsonl", ".ndjson")

    def read(self, path: Path, options: dict[str, Any]) -> RawTable:
        import pyarrow as pa
        import pyarrow.json as pajson

        try:
            table = pajson.read_json(path, read_options=pajson.ReadOptions(block_size=1 << 24))
        except pa.ArrowInvalid as exc:
            message = str(exc)
            line = None
            if "row " in message:
                digits = message.split("row ", 1)[1].split()[0].strip(":,")
                line = int(digits) + 1 if digits.isdigit() else None
            raise DataError(f"not valid JSON Lines: {message}", str(path), row=line) from None
        nested = [f.name for f in table.schema if pa.types.is_nested(f.type)]
        if nested:
            raise DataError(f"nested values in column(s) {', '.join(nested)}; flatten them to one value per key",
                            str(path), row=1, column=nested[0])
        return RawTable(table, str(path), first_row=1)


@hookimpl
def surveyengine_register_readers(registry):
    registry.add(JsonLinesReader)


@hookimpl(trylast=True)
def surveyengine_detect_reader(path):
    return "jsonl" if path.suffix.lower() in JsonLinesReader.extensions else None
