"""``report.pdf``: the report as a paginated PDF (needs the ``pdf`` extra, WeasyPrint).

The theme's ``report.html`` (cover, contents with page numbers, the overview,
the drivers, a league table per segment and, with ``output.pdf.segments``, a
section per unit) is rendered by the site's builder from the same results,
charts and macros as the site, then laid out in A4 pages by WeasyPrint: running
headers, "page n / N" footers, table headers repeated on every page a table
spans. The document holds no respondent text and no script; every label is
autoescaped by the template.

Reproducible: with ``SOURCE_DATE_EPOCH`` set, the PDF's creation and
modification dates are the build date and two builds give the same bytes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from surveyengine import hookimpl
from surveyengine.errors import DataError

FILE_NAME = "report.pdf"


def unit_segments(results, study) -> tuple[str, ...]:
    """The segments whose units get a section of their own: ``output.pdf.segments`` (true: every segment)."""
    chosen = study.config.output.pdf.segments
    if chosen is True:
        return tuple(segment.id for segment in results.segments)
    return tuple(chosen or ())


@contextlib.contextmanager
def engine_warnings_quiet() -> Iterator[None]:
    """WeasyPrint logs the theme's screen-only CSS it ignores (a warning per rule, per build): not the user's
    concern, so only its errors are shown."""
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _weasyprint(shown: str):
    try:
        import weasyprint
    except (ImportError, OSError):  # OSError: the package is there but the Pango system library is not
        raise DataError("writing .pdf needs WeasyPrint and Pango: pip install 'surveyengine[pdf]' "
                        "(and the system's Pango, e.g. apt-get install libpango-1.0-0 libpangoft2-1.0-0)",
                        shown) from None
    return weasyprint


def write_pdf(html: str, path) -> None:
    weasyprint = _weasyprint(str(path))
    with engine_warnings_quiet():
        weasyprint.HTML(string=html, base_url=str(path.parent)).write_pdf(path)


class PdfOutput:
    id = "pdf"
    description = ("report.pdf: the report as a paginated PDF (cover, contents, overview, drivers, league tables; "
                   "a section per unit with output.pdf.segments), by WeasyPrint.")

    @staticmethod
    def check(study):
        _weasyprint(FILE_NAME)

    def write(self, results, study, out_dir):
        from surveyengine.site.builder import render_report

        html = render_report(results, study, unit_segments(results, study))
        path = out_dir / FILE_NAME
        write_pdf(html, path)
        return [path.relative_to(out_dir)]


@hookimpl
def surveyengine_register_outputs(registry):
    registry.add(PdfOutput)
