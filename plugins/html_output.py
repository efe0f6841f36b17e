"""The report site (``--format html``, the default)."""

from __future__ import annotations

from surveyengine import hookimpl


class HtmlOutput:
    id = "html"
    description = "The static report site, built from the study's theme."

    def write(self, results, study, out_dir):
        from surveyengine.site import build_site

        return build_site(results, study, out_dir, base_url=study.config.output.base_url)


@hookimpl
def surveyengine_register_outputs(registry):
    registry.add(HtmlOutput)
