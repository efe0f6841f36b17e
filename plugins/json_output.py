"""``results.json``: every result of the build, in the documented layout of docs/results.md."""

from __future__ import annotations

from surveyengine import hookimpl


class JsonOutput:
    id = "json"
    description = "results.json: the whole results tree (schema_version says its layout; docs/results.md)."
    depends_only_on_results = True  # its files are copied from the cache when the results are unchanged

    def write(self, results, study, out_dir):
        import orjson  # serialises the dataclasses directly: a second for a million respondents' results

        path = out_dir / "results.json"
        path.write_bytes(orjson.dumps(results, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
        return [path.relative_to(out_dir)]


@hookimpl
def surveyengine_register_outputs(registry):
    registry.add(JsonOutput)
