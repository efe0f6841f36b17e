"""Sample reader for a made-up format: ``*.sample`` files.

Line 1 is the magic line ``#surveyengine-sample``, line 2 the header, then one
respondent per line; fields are separated by ``|`` (quoted as in CSV).
"""

from __future__ import annotations

import io

from surveyengine import DataError, hookimpl
from surveyengine.data import RawTable

MAGIC = "#surveyengine-sample"


class SampleReader:
    id = "sample-pipe"
    description = "Pipe-separated text after a '#surveyengine-sample' line (a sample plugin for the tests)."
    extensions = (".sample",)

    def read(self, path, options):
        import pyarrow.csv as pacsv

        text = path.read_text(encoding="utf-8")
        first, _, rest = text.partition("\n")
        if first.strip() != MAGIC:
            raise DataError(f"a .sample file starts with '{MAGIC}'", str(path), line=1)
        table = pacsv.read_csv(
            io.BytesIO(rest.encode("utf-8")),
            parse_options=pacsv.ParseOptions(delimiter="|", newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
        return RawTable(table, str(path), first_row=3)


@hookimpl
def surveyengine_register_readers(registry):
    registry.add(SampleReader)


@hookimpl
def surveyengine_detect_reader(path, options):
    if path.suffix.lower() in SampleReader.extensions:
        return SampleReader.id
    return None
