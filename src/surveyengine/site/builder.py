"""Render :class:`~surveyengine.results.Results` into a static site.

Output is deterministic: the same input gives byte-identical files (the date shown
honours ``SOURCE_DATE_EPOCH``). Links are relative, so the folder works from
any static host, under any subpath, and straight from disk.

Every number on a page comes from the results tree; this module only selects,
orders and lays out (chart geometry in :mod:`.charts`). What each template
receives is documented in ``docs/themes.md``.

Comments (respondent text) are untrusted. Templates are autoescaped, comment
text never goes through Markdown, and JSON inside ``<script>`` goes through
``tojson_safe``. For a large study the comments are capped per page (see
``COMMENTS_PAGE_MAX`` and ``UNIT_COMMENTS_MAX``); every comment is in
``results.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from ..errors import ThemeError
from ..workers import in_background, worker_count
from . import charts
from .themes import Theme, load_theme

if TYPE_CHECKING:
    from ..results import Comment, Group, Results, SegmentResults
    from ..study import Study

COMMENTS_PAGE_MAX = 2_000  # the all-comments page: the most recent ones (about 1 MB of HTML)
UNIT_COMMENTS_MAX = 20  # a segment unit's page: its most recent comments
COMPLAINT_COMMENTS_MAX = 300  # the complaints page: complainers' most recent comments
UNIT_PRIORITIES_MAX = 10  # a segment unit's page: its first priorities (the drivers page lists all of the total's)
SAFE_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def render_markdown(text: str) -> Markup:
    """The consultant's Markdown (trusted, authored) as HTML; never used for respondent text."""
    import markdown

    return Markup(markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"],
                                    output_format="html"))


def _environment(theme: Theme) -> jinja2.Environment:
    default_dir = next(d for d in reversed(theme.folders)) / "templates"
    loader = jinja2.ChoiceLoader([
        jinja2.PrefixLoader({"!default": jinja2.FileSystemLoader(str(default_dir))}, delimiter="/"),
        jinja2.FileSystemLoader([str(d) for d in theme.template_dirs()]),
    ])
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["markdown"] = render_markdown
    env.filters["number"] = _number
    env.filters["signed"] = _signed
    env.filters["tojson_safe"] = _json_for_script
    env.filters["cells"] = _cells
    return env


class _Empty:
    value = None
    base = None
    ci_low = None
    ci_high = None
    p = None


EMPTY = _Empty()


_number = charts.number


def _cells(row: dict[str, Any], columns: list[dict[str, Any]]) -> list[str]:
    """A data-table row's extra cells as text: numbers formatted with the column's ``digits``."""
    out = []
    for column in columns:
        cell = row.get(column["key"])
        if cell is None:
            out.append("–")
        elif "digits" in column and isinstance(cell, (int, float)) and not isinstance(cell, bool):
            out.append(_number(cell, column["digits"]))
        else:
            out.append(str(cell))
    return out


def _signed(value: Any, digits: int = 1) -> str:
    """A change: '+2.3', '−1.0' (a real minus sign), '±0.0'."""
    if value is None:
        return "–"
    text = f"{abs(value):,.{digits}f}"
    if float(text.replace(",", "")) == 0:
        return f"±{text}"
    return f"+{text}" if value > 0 else f"\u2212{text}"


def _json_for_script(value: Any) -> Markup:
    """JSON safe inside <script>: '<', '>', '&' and line separators escaped."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return Markup(text)


_CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_CSS_VAR = re.compile(r"var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*?))?\s*\)")
_CSS_AT_BLOCK = re.compile(r"@[^{}]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}")
_CSS_PROPERTY = re.compile(r"(--[\w-]+|font-family)\s*:\s*([^;]+)")


def svg_stylesheet(css: str, font_family: str | None = None) -> str:
    """The rules of the site's stylesheet that draw its SVG charts, made to work inside an SVG.

    WeasyPrint styles an inline SVG only from a ``<style>`` inside it, and resolves no custom
    properties there: so the top-level rules whose selectors name an SVG (``.chart-svg``,
    ``svg.inline-bar``) or a colour class (``.c0``…) are kept, with every ``var(--x)`` replaced by the
    value ``:root`` gives it, and ``font_family`` (else the root's). WeasyPrint draws SVG text in the
    first family of the list only (or fontconfig's substitute for it), with no fallback per character: a
    Chinese report names a CJK font first.
    """
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = _CSS_AT_BLOCK.sub("", css)  # @media blocks: the printed page is neither a phone nor a screen
    root: dict[str, str] = {}
    rules = []
    for selector, body in _CSS_RULE.findall(css):
        selector = " ".join(selector.split())
        if selector == ":root":
            root.update((name, " ".join(value.split())) for name, value in _CSS_PROPERTY.findall(body))
        elif any("svg" in part or re.fullmatch(r"\.c\d+", part.strip()) for part in selector.split(",")):
            rules.append((selector, body))

    def resolve(match: re.Match[str]) -> str:
        return root.get(match.group(1)) or match.group(2) or "initial"

    font_family = font_family or root.get("font-family")
    text = [f"svg {{ font-family: {font_family}; }}"] if font_family else []
    text += [f"{selector} {{ {' '.join(_CSS_VAR.sub(resolve, body).split())} }}" for selector, body in rules]
    return "\n".join(text)


def _theme_error(exc: jinja2.TemplateError, template: str) -> ThemeError:
    """Name the template file and line where rendering failed."""
    import traceback

    path, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.endswith((".html", ".xml", ".txt", ".svg")):
            path, line = filename, lineno
    return ThemeError(f"template error in '{template}': {exc.message or type(exc).__name__}", path or template,
                      line)


MIN_PAGES_PER_WORKER = 100


def render_jobs(pages: int) -> int:
    """How many processes render ``pages`` unit pages: ``worker_count()``, but one where the system cannot fork,
    and one per ``MIN_PAGES_PER_WORKER`` pages at most (a worker costs a fork and a wait)."""
    if not hasattr(os, "fork"):
        return 1
    wanted = worker_count()
    return max(1, min(wanted, pages // MIN_PAGES_PER_WORKER))


def build_site(results: Results, study: Study, out_dir: Path, *, base_url: str = "") -> list[Path]:
    """Render every page and copy the theme's assets into ``out_dir``; returns the files written (relative).

    Files that other outputs already wrote into ``out_dir`` (``results.json``,
    ``tables/*.csv``) are linked from the downloads page.
    """
    theme = load_theme(study.config.theme, study.root)
    env = _environment(theme)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return SiteBuilder(env, theme, results, study, out_dir, base_url).build()


def render_report(results: Results, study: Study, unit_segments: Collection[str] = ()) -> str:
    """The study's printable report as one HTML document (see :meth:`SiteBuilder.report`)."""
    theme = load_theme(study.config.theme, study.root)
    return SiteBuilder(_environment(theme), theme, results, study, Path("."), "").report(unit_segments)


# --------------------------------------------------------------------------- helpers the pages share

def value(group: Group | None, section: str, target: str, name: str) -> Any:
    """The Value at ``group.<section>[target][name]``, or an empty one."""
    if group is None:
        return EMPTY
    return getattr(group, section).get(target, {}).get(name) or EMPTY


def drivers_of(group: Group | None) -> dict[str, Any]:
    """The group's driver analysis (``Group.drivers``), or ``{}`` where there is none."""
    return (getattr(group, "drivers", None) or {}) if group is not None else {}


def ranks_of(group: Group) -> dict[str, Any]:
    return getattr(group, "ranks", None) or {}


def unit_slug(code: str, taken: set[str]) -> str:
    """A file name for a unit code: the code itself when it is plain, else ``u<n>``; never a path."""
    slug = code if SAFE_SLUG.match(code) and code.lower() not in {s.lower() for s in taken} else ""
    if not slug:
        n = len(taken)
        while f"u{n}".lower() in {s.lower() for s in taken}:
            n += 1
        slug = f"u{n}"
    taken.add(slug)
    return slug


class SiteBuilder:
    def __init__(self, env: jinja2.Environment, theme: Theme, results: Results, study: Study, out: Path,
                 base_url: str) -> None:
        self.env, self.theme, self.results, self.study, self.out = env, theme, results, study, out
        self.base_url = base_url
        self.q = study.questionnaire
        self.language = study.language
        self.t = theme.gettext(self.language)
        self.written: list[Path] = []
        self.factor_label = {f.id: f.label for f in results.factors}
        self.item_info = {i.id: i for i in results.items}
        self.wave_labels = [w.label for w in results.waves]
        self._segment_parent: str | None = None
        self.trend_of: dict[tuple[str, str], dict[str, Group]] = {}  # (segment, unit) -> wave -> group
        for segment in results.segments:
            for g in segment.trend:
                self.trend_of.setdefault((segment.id, g.key.get("unit", "")), {})[g.key.get("wave", "")] = g
        self.unit_urls: dict[tuple[str, str], str] = {}
        self.unit_groups: dict[tuple[str, str], Group] = {}
        for segment in results.segments:
            taken: set[str] = set()
            for unit in segment.units:
                code = unit.key["unit"]
                self.unit_groups[(segment.id, code)] = unit
                if not unit.suppressed:
                    self.unit_urls[(segment.id, code)] = f"segments/{segment.id}/{unit_slug(code, taken)}.html"

    # ----------------------------------------------------------------------- rendering
    def render(self, template: str, target: str, **context: Any) -> None:
        depth = target.count("/")
        try:
            html = self.env.get_template(template).render(**self.common, root="../" * depth, page_url=target,
                                                          **context)
        except jinja2.TemplateError as exc:
            raise _theme_error(exc, template) from exc
        path = self.out / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        self.written.append(Path(target))

    def prepare(self) -> None:
        """The navigation and what every template receives (``self.common``)."""
        results, t = self.results, self.t
        pages = self._pages()
        self.methodology_page = next((p for p in pages if p["slug"] == "methodology"), None)
        pages = self.site_pages = [p for p in pages if p is not self.methodology_page]
        self.has_complaints = bool(results.total.headline.get("complaint"))
        nav = [{"url": "index.html", "title": t["overview"]}, {"url": "factors.html", "title": t["factors_items"]},
               {"url": "drivers.html", "title": t["drivers"]}]
        nav += [{"url": f"segments/{s.id}.html", "title": s.label} for s in results.segments]
        if results.waves:
            nav.append({"url": "waves.html", "title": t["waves"]})
        if self.has_complaints:
            nav.append({"url": "complaints.html", "title": t["complaints"]})
        self.has_model = bool(results.model.get("estimated"))
        if self.has_model:
            nav.append({"url": "model.html", "title": t["model"]})
        self.has_codes = bool(results.coding.get("analysis"))
        if self.has_codes:
            nav.append({"url": "say.html", "title": t["what_customers_say"]})
        if results.banners:
            nav.append({"url": "banners.html", "title": t["banners"]})
        nav += [{"url": "comments.html", "title": t["comments"]},
                {"url": "methodology.html", "title": t["methodology"]},
                {"url": "downloads.html", "title": t["downloads"]}]
        nav += [{"url": p["url"], "title": p["title"]} for p in pages]
        q = self.q
        self.common = {
            "results": results,
            "study": results.study,
            "questionnaire": q,
            "description": render_markdown(q.text(q.description, self.language)) if q.description else "",
            "language": self.language,
            "t": t,
            "nav": nav,
            "pages": pages,
            "base_url": self.base_url.rstrip("/") + "/" if self.base_url else "",
            "generated": results.generated,
            "version": __import__("surveyengine").__version__,
            "value": value,
            "drivers_of": drivers_of,
            "ranks_of": ranks_of,
            "unit_urls": self.unit_urls,
            "factor_label": self.factor_label,
            "item_label": {i.id: i.label for i in results.items},
        }

    def build(self) -> list[Path]:
        self.prepare()
        results, pages = self.results, self.site_pages
        has_complaints, has_model, has_codes = self.has_complaints, self.has_model, self.has_codes
        methodology_page = self.methodology_page
        self.render("index.html", "index.html", **self.overview())
        self.render("factors.html", "factors.html", **self.factors(results.total))
        self.render("drivers.html", "drivers.html", **self.drivers(results.total))
        comments_by_unit = self._comments_by_unit()
        units = []
        for segment in results.segments:
            self.render("segment.html", f"segments/{segment.id}.html", **self.league(segment))
            units += [(segment, unit, url) for unit in segment.units
                      if (url := self.unit_urls.get((segment.id, unit.key["unit"]))) is not None]
        self._render_units(units, comments_by_unit)
        if results.waves:
            self.render("waves.html", "waves.html", **self.waves())
        if has_complaints:
            self.render("complaints.html", "complaints.html", **self.complaints())
        if has_model:
            self.render("model.html", "model.html", **self.model())
        if has_codes:
            self.render("say.html", "say.html", **self.what_customers_say())
        if results.banners:
            self.render("banners.html", "banners.html", banners=self.banners())
        self.render("comments.html", "comments.html", **self.comments())
        self.render("methodology.html", "methodology.html", consultant=methodology_page, **self.methodology())
        if results.diagnostics.get("reliability"):
            self.render("quality.html", "quality.html", **self.quality())
        self.render("downloads.html", "downloads.html", downloads=self.downloads())
        for page in pages:
            self.render("page.html", page["url"], page=page)
        self._copy_static()
        return sorted(set(self.written))

    def _render_units(self, units: list[tuple[SegmentResults, Group, str]],
                      comments_by_unit: dict[tuple[str, str], tuple[list[Comment], int]]) -> None:
        """The unit pages, most of a large site: shared among forked worker processes where the system forks
        (each renders every n-th page into the same folder; the pages are independent files, so the site is
        the same byte for byte); in this process alone otherwise."""
        jobs = render_jobs(len(units))
        if jobs == 1:
            for segment, unit, url in units:
                self.render("unit.html", url, **self.unit(segment, unit, comments_by_unit))
            return
        def share(worker: int) -> bytes:
            """Every ``jobs``-th page from ``worker`` on, and the files written, as JSON. In a forked worker;
            in this process again if the worker failed, so that its error is raised here."""
            start = len(self.written)
            for segment, unit, url in units[worker::jobs]:
                self.render("unit.html", url, **self.unit(segment, unit, comments_by_unit))
            return json.dumps([str(p) for p in self.written[start:]]).encode()

        pending = [in_background(lambda worker=worker: share(worker)) for worker in range(1, jobs)]
        try:
            share(0)
        finally:
            for wait in pending:
                self.written.extend(Path(p) for p in json.loads(wait()))

    def report(self, unit_segments: Collection[str] = ()) -> str:
        """The printable report (``report.html`` of the theme) as one HTML document, for the PDF output.

        Cover, contents, the overview, the drivers of the total and a league table per segment; with a
        section per unit of each segment named in ``unit_segments`` (its headline, factors and first
        priorities; no comments). Links point inside the document, or nowhere.
        """
        self.prepare()
        results = self.results
        anchors = {key: "unit-" + url.removeprefix("segments/").removesuffix(".html").replace("/", "-")
                   for key, url in self.unit_urls.items() if key[0] in unit_segments}
        leagues = []
        for segment in results.segments:
            league = self.league(segment)
            for row in league["rows"]:
                anchor = anchors.get((segment.id, row["group"].key["unit"]))
                row["url"] = f"#{anchor}" if anchor else None
                parent = row["parent"]
                parent_anchor = anchors.get((segment.parent, parent.key["unit"])) if parent is not None else None
                row["parent_url"] = f"#{parent_anchor}" if parent_anchor else None
            units = []
            for unit in segment.units:
                anchor = anchors.get((segment.id, unit.key["unit"]))
                if anchor is not None:
                    units.append({"anchor": anchor, **self.unit(segment, unit, {})})
            leagues.append({**league, "units": units})
        waves = results.waves
        stylesheet = next((d / "style.css" for d in self.theme.static_dirs() if (d / "style.css").is_file()), None)
        css = stylesheet.read_text(encoding="utf-8") if stylesheet else ""  # the theme's own: trusted
        try:
            return self.env.get_template("report.html").render(
                **self.common, root="", page_url="report.pdf", site_css=Markup(css),
                svg_style=Markup(svg_stylesheet(css, self.t.get("report_chart_font"))), overview=self.overview(),
                drivers=self.drivers(results.total), leagues=leagues,
                wave=waves[-1].label if waves else "")
        except jinja2.TemplateError as exc:
            raise _theme_error(exc, "report.html") from exc

    def _pages(self) -> list[dict[str, Any]]:
        pages = []
        for name in self.study.config.pages:
            path = self.study.root / name
            text = path.read_text(encoding="utf-8")
            title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("# ")),
                         path.stem)
            pages.append({"slug": path.stem, "title": title, "body": render_markdown(text),
                          "url": f"pages/{path.stem}.html"})
        return pages

    def _copy_static(self) -> None:
        for static_dir in reversed(self.theme.static_dirs()):
            for source in sorted(static_dir.rglob("*")):
                if source.is_file():
                    target = self.out / "static" / source.relative_to(static_dir)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
        self.written.extend(sorted(p.relative_to(self.out) for p in (self.out / "static").rglob("*")
                                   if p.is_file()))

    # ----------------------------------------------------------------------- pieces
    def headline_trend(self, target: str, name: str, groups: Iterable[Group] | None = None) -> list[Any]:
        """One value per wave (None where hidden or absent), for ``groups`` aligned to the waves."""
        return [value(g, "headline", target, name).value for g in (groups if groups is not None
                                                                   else self.results.waves)]

    def kpi(self, target: str, name: str) -> dict[str, Any]:
        """A headline figure of the total, its trend over the waves and its change since the previous wave."""
        current = value(self.results.total, "headline", target, name)
        series = self.headline_trend(target, name)
        change = None
        significant = None
        waves = self.results.waves
        if len(waves) >= 2:
            last, before = waves[-1], waves[-2]
            if target == "csi" and name == "csi":
                previous = last.comparison.get("previous_wave") or {}
                change, significant = previous.get("csi_change"), previous.get("significant")
            else:  # the difference of two shown values; results test only the CSI's change
                now, then = value(last, "headline", target, name).value, value(before, "headline", target,
                                                                                 name).value
                change = None if now is None or then is None else now - then
        chart = charts.trend(self.wave_labels, [{"name": self.t.get(f"kpi_{target}", target), "values": series}],
                             width=360, height=120) if waves else None
        return {"value": current, "change": change, "significant": significant, "trend": chart,
                "last_wave": waves[-1].label if waves else None,
                "previous_wave": waves[-2].label if len(waves) >= 2 else None}

    def factor_rows(self, group: Group, reference: Group | None = None) -> list[dict[str, Any]]:
        rows = []
        for factor in self.results.factors:
            score = value(group, "factors", factor.id, "score")
            rows.append({"id": factor.id, "label": factor.label, "sub": factor.parent is not None,
                         "value": score.value, "ci_low": score.ci_low, "ci_high": score.ci_high, "base": score.base,
                         "alpha": value(group, "factors", factor.id, "alpha").value, "driver": factor.driver,
                         "reference": value(reference, "factors", factor.id, "score").value if reference else None})
        return rows

    def scale_categories(self, item_id: str) -> list[str]:
        info = self.item_info[item_id]
        if not info.scale:
            return []
        item = self.q.item(item_id)
        scale = self.q.scale_of(item)
        labels = scale.labels if scale is not None else {}
        out = []
        for point in range(info.scale[0], info.scale[1] + 1):
            label = labels.get(point)
            out.append(f"{point} {self.q.text(label, self.language)}" if label else str(point))
        return out

    # ----------------------------------------------------------------------- pages
    def overview(self) -> dict[str, Any]:
        results = self.results
        total = results.total
        kpis = [{"id": "csi", "label": self.t["csi"], **self.kpi("csi", "csi")}]
        if total.headline.get("nps"):
            kpis.append({"id": "nps", "label": self.t["nps"], **self.kpi("nps", "nps")})
        if total.headline.get("complaint"):
            kpis.append({"id": "complaint-rate", "label": self.t["complaint_rate"], "percent": True,
                         **self.kpi("complaint", "rate")})
        rows = self.factor_rows(total)
        return {"total": total, "kpis": kpis,
                "factor_chart": charts.bars(rows, low=0, high=100)}

    def factors(self, group: Group) -> dict[str, Any]:
        results = self.results
        rows = self.factor_rows(group)
        sections = []
        for factor in results.factors:
            items = [i for i in results.items if i.factor == factor.id and i.type == "rating"]
            if not items:
                continue
            item_rows, dist_rows, categories = [], [], None
            for info in items:
                mean = value(group, "items", info.id, "mean")
                item_rows.append({"id": info.id, "label": info.label, "mean": mean,
                                  "score": value(group, "items", info.id, "score"),
                                  "top_box": value(group, "items", info.id, "top_box"),
                                  "bottom_box": value(group, "items", info.id, "bottom_box")})
                distribution = value(group, "items", info.id, "distribution").value
                dist_rows.append({"label": info.label, "shares": distribution})
                categories = categories or self.scale_categories(info.id)
            sections.append({"factor": factor, "items": item_rows,
                             "distribution": charts.stacked(dist_rows, categories or [])})
        gaps = []
        for info in results.items:
            if not info.expectation:
                continue
            gap = value(group, "items", info.id, "gap")
            gaps.append({"label": info.label, "value": gap.value, "ci_low": gap.ci_low, "ci_high": gap.ci_high,
                         "base": gap.base, "perception": value(group, "items", info.id, "mean").value,
                         "expectation": value(group, "items", info.id, "expectation_mean").value,
                         "met": value(group, "items", info.id, "expectation_met").value,
                         "flag": "negative" if gap.value is not None and gap.value < 0 else ""})
        return {"group": group, "factor_rows": rows, "factor_chart": charts.bars(rows, low=0, high=100),
                "sections": sections, "gap_chart": charts.bars(gaps, digits=2) if gaps else None, "gaps": gaps}

    def driver_model(self, model: dict[str, Any], level: str, labels: dict[str, str]) -> dict[str, Any]:
        """A driver model's bars (importance with its interval) and its importance-performance matrix."""
        drivers = model.get("drivers") or []
        rows = [{"label": labels.get(d["id"], d["id"]), "value": d.get("importance"), "ci_low": d.get("ci_low"),
                 "ci_high": d.get("ci_high"), "weight": d.get("weight"), "rank": d.get("rank"),
                 "tied": d.get("tied"), "performance": d.get("performance"), "quadrant": d.get("quadrant") or "",
                 "quadrant_label": self.t.get(f"quadrant_{(d.get('quadrant') or '').replace('-', '_')}", ""),
                 "flag": "concentrate" if d.get("quadrant") == "concentrate-here" else ""}
                for d in drivers]
        importance = [d.get("importance") for d in drivers if d.get("importance") is not None]
        performance = [d.get("performance") for d in drivers if d.get("performance") is not None]
        points = [{"label": r["label"], "x": r["performance"], "y": r["value"], "quadrant": r["quadrant"]}
                  for r in rows]
        # the cut lines are the model's own: the mean importance and mean performance of its drivers
        cut_y = sum(importance) / len(importance) if importance else None
        cut_x = sum(performance) / len(performance) if performance else None
        words = {q: self.t.get(f"quadrant_{q.replace('-', '_')}", q) for q in charts.QUADRANTS}
        meta = {key: model.get(key) for key in ("outcome", "method", "source", "base", "r2", "repaired")}
        meta["warnings"] = list(model.get("warnings") or [])
        # "own", "parent:<unit code>", "total" or "none": whose model this is
        kind, _, code = str(model.get("source") or "own").partition(":")
        meta["source_kind"] = kind
        meta["source_label"] = ""
        if kind == "parent" and self._segment_parent is not None:
            parent = self.unit_groups.get((self._segment_parent, code))
            meta["source_label"] = parent.label if parent is not None and not parent.suppressed else ""
        return {"level": level, "model": meta, "rows": rows, "bars": charts.bars(rows, digits=3),
                "scatter": charts.scatter(points, cut_x=cut_x, cut_y=cut_y, quadrant_labels=words)
                if points and cut_x is not None else None}

    def drivers(self, group: Group, parent_segment: str | None = None, with_items: bool = True) -> dict[str, Any]:
        self._segment_parent = parent_segment  # where a borrowed "parent:<code>" model comes from
        analysis = drivers_of(group)
        factor_model = None
        if analysis.get("factors"):
            factor_model = self.driver_model(analysis["factors"], "factor", self.factor_label)
        item_models = []
        item_labels = {i.id: i.label for i in self.results.items}
        for factor_id, model in (analysis.get("items") or {}).items() if with_items else ():
            item_models.append({"factor": factor_id, "label": self.factor_label.get(factor_id, factor_id),
                                **self.driver_model(model, "item", item_labels)})
        priorities = []
        for p in analysis.get("priorities") or []:
            label = (self.factor_label if p.get("level") == "factor" else item_labels).get(p.get("id"), p.get("id"))
            p = {key: p.get(key) for key in ("level", "id", "factor", "importance", "weight", "performance", "gain",
                                             "quadrant")}
            priorities.append({**p, "label": label, "factor_label": self.factor_label.get(p.get("factor"), ""),
                               "quadrant_label": self.t.get(f"quadrant_{(p.get('quadrant') or '').replace('-', '_')}",
                                                            "")})
        csi = value(group, "headline", "csi", "csi")
        equal = value(group, "headline", "csi", "csi_equal")
        compare = charts.bars([{"label": self.t["csi_weighted"], "value": csi.value, "ci_low": csi.ci_low,
                                "ci_high": csi.ci_high},
                               {"label": self.t["csi_equal"], "value": equal.value}], low=0, high=100)
        weights = self.results.index.get("weights") or {}
        equal_weights = self.results.index.get("equal_weights") or {}
        weight_rows = [{"id": d, "label": self.factor_label.get(d, d), "weight": w, "equal": equal_weights.get(d)}
                       for d, w in weights.items()]
        return {"group": group, "analysis": analysis, "factor_model": factor_model, "item_models": item_models,
                "priorities": priorities, "priorities_total": len(priorities), "csi": csi, "csi_equal": equal,
                "csi_chart": compare,
                "weight_rows": weight_rows}

    def league(self, segment: SegmentResults) -> dict[str, Any]:
        total_csi = value(self.results.total, "headline", "csi", "csi").value
        visible = [u for u in segment.units if not u.suppressed]
        ordered = sorted(visible, key=lambda u: (value(u, "headline", "csi", "csi").value is None,
                                                 -(value(u, "headline", "csi", "csi").value or 0), u.label))
        parents = {}
        if segment.parent:
            parents = {u.key["unit"]: u for u in self.results.segment(segment.parent).units}
        rows = []
        for unit in ordered:
            csi = value(unit, "headline", "csi", "csi")
            test = unit.comparison.get("csi") or {}
            parent = parents.get(unit.key.get("parent", ""))
            rows.append({"group": unit, "url": self.unit_urls[(segment.id, unit.key["unit"])], "csi": csi,
                         "csi_equal": value(unit, "headline", "csi", "csi_equal"),
                         "ranks": ranks_of(unit), "test": test,
                         "nps": value(unit, "headline", "nps", "nps"),
                         "parent": parent if parent is not None and not parent.suppressed else None,
                         "parent_url": self.unit_urls.get((segment.parent, parent.key["unit"]))
                         if parent is not None and segment.parent else None,
                         "bar": _inline_bar(csi.value, csi.ci_low, csi.ci_high, total_csi)})
        hidden = len(segment.units) - len(visible)
        return {"segment": segment, "rows": rows, "hidden": hidden, "average": total_csi,
                "against": self.t["against_parent"].format(parent=self.results.segment(segment.parent).label)
                if segment.parent else self.t["against_total"]}

    def unit(self, segment: SegmentResults, unit: Group,
             comments_by_unit: dict[tuple[str, str], tuple[list[Comment], int]]) -> dict[str, Any]:
        results, t = self.results, self.t
        code = unit.key["unit"]
        parent = None
        parent_segment = None
        if segment.parent and unit.key.get("parent") is not None:
            parent_segment = results.segment(segment.parent)
            candidate = self.unit_groups.get((segment.parent, unit.key["parent"]))
            parent = candidate if candidate is not None and not candidate.suppressed else None
        csi = value(unit, "headline", "csi", "csi")
        bars = [{"label": unit.label, "value": csi.value, "ci_low": csi.ci_low, "ci_high": csi.ci_high,
                 "base": unit.base, "flag": "self"}]
        if parent is not None:
            p = value(parent, "headline", "csi", "csi")
            bars.append({"label": parent.label, "value": p.value, "ci_low": p.ci_low, "ci_high": p.ci_high,
                         "base": parent.base})
        total = value(results.total, "headline", "csi", "csi")
        bars.append({"label": t["average_total"], "value": total.value, "ci_low": total.ci_low,
                     "ci_high": total.ci_high, "base": results.total.base})
        trend_groups = self.trend_of.get((segment.id, code), {})
        aligned = [trend_groups.get(w) for w in self.wave_labels]
        trend = None
        if self.wave_labels:
            series = [{"name": unit.label, "values": [None if g is None or g.suppressed else
                                                      value(g, "headline", "csi", "csi").value for g in aligned],
                       "flags": ["small-base" if g is not None and "small-base" in g.flags else "" for g in aligned]}]
            if parent is not None:
                parent_trend = self.trend_of.get((segment.parent, parent.key["unit"]), {})  # type: ignore[arg-type]
                series.append({"name": parent.label, "values": [
                    value(parent_trend.get(w), "headline", "csi", "csi").value for w in self.wave_labels]})
            series.append({"name": t["average_total"], "values": self.headline_trend("csi", "csi")})
            trend = charts.trend(self.wave_labels, series)
        children = []
        for other in results.segments:
            if other.parent == segment.id:
                for child in other.units:
                    if child.key.get("parent") == code and not child.suppressed:
                        children.append({"segment": other, "group": child,
                                         "url": self.unit_urls[(other.id, child.key["unit"])],
                                         "csi": value(child, "headline", "csi", "csi")})
        rows = self.factor_rows(unit, results.total)
        drivers = None
        if drivers_of(unit):
            # the unit's factor model and first priorities; its item models stay in results.json (on 500
            # unit pages they would be 1,500 more charts: the budget of the whole site)
            drivers = self.drivers(unit, segment.parent, with_items=False)
            drivers["priorities_total"] = len(drivers["priorities"])
            drivers["priorities"] = drivers["priorities"][:UNIT_PRIORITIES_MAX]
        unit_comments, comments_total = comments_by_unit.get((segment.id, code), ([], 0))
        against = (t["rest_of_parent"].format(parent=results.segment(segment.parent).label) if segment.parent
                   else t["rest_of_total"])  # the results' own words are English: "rest of its region"
        return {"segment": segment, "group": unit, "parent": parent, "parent_segment": parent_segment,
                "against": against,
                "parent_url": self.unit_urls.get((segment.parent, parent.key["unit"])) if parent is not None
                and segment.parent else None,
                "csi": csi, "csi_chart": charts.bars(bars, low=0, high=100), "trend": trend,
                "trend_rows": [(w, g) for w, g in zip(self.wave_labels, aligned) if g is not None],
                "factor_rows": rows, "factor_chart": charts.bars(rows, low=0, high=100),
                "driver_view": drivers, "children": children,
                "comments": self.comment_views(unit_comments), "comments_total": comments_total,
                "comment_labels": self.comment_labels()}

    def waves(self) -> dict[str, Any]:
        results, t = self.results, self.t
        headline = [("csi", "csi", t["csi"], 0, 100), ("nps", "nps", t["nps"], None, None),
                    ("complaint", "rate", t["complaint_rate"], 0, None)]
        charts_out = []
        for target, name, label, low, high in headline:
            if not results.total.headline.get(target):
                continue
            series = [{"name": label, "values": self.headline_trend(target, name)}]
            charts_out.append({"id": f"trend-{target}", "title": label,
                               "chart": charts.trend(self.wave_labels, series, low=low, high=high)})
        factor_series = [{"name": f.label, "values": [value(w, "factors", f.id, "score").value for w in results.waves]}
                         for f in results.factors if f.parent is None]
        factor_chart = charts.trend(self.wave_labels, factor_series)
        return {"headline_charts": charts_out, "factor_chart": factor_chart, "waves": results.waves}

    def complaints(self) -> dict[str, Any]:
        results, t = self.results, self.t
        total = results.total
        c = total.headline["complaint"]
        sat = [{"label": t["complainers"], "value": (c.get("complainers_satisfaction") or EMPTY).value,
                "ci_low": (c.get("complainers_satisfaction") or EMPTY).ci_low,
                "ci_high": (c.get("complainers_satisfaction") or EMPTY).ci_high,
                "base": (c.get("complainers_satisfaction") or EMPTY).base, "flag": "self"},
               {"label": t["non_complainers"], "value": (c.get("others_satisfaction") or EMPTY).value,
                "ci_low": (c.get("others_satisfaction") or EMPTY).ci_low,
                "ci_high": (c.get("others_satisfaction") or EMPTY).ci_high,
                "base": (c.get("others_satisfaction") or EMPTY).base}]
        outcome = results.index.get("outcome") or ""
        scale = (self.item_info[outcome].scale if outcome in self.item_info else None) or [None, None]
        series = [{"name": t["complaint_rate"], "values": self.headline_trend("complaint", "rate")},
                  {"name": t["resolved"], "values": self.headline_trend("complaint", "resolved")}]
        complaint = self.q.outcomes.complaint
        handling = value(total, "items", complaint.handling, "mean") if complaint and complaint.handling else EMPTY
        complainers = [c_ for c_ in results.comments if c_.complained]
        by_segment = []
        for segment in results.segments[:1]:
            rows = [{"label": u.label, "value": value(u, "headline", "complaint", "rate").value,
                     "ci_low": value(u, "headline", "complaint", "rate").ci_low,
                     "ci_high": value(u, "headline", "complaint", "rate").ci_high,
                     "base": value(u, "headline", "complaint", "rate").base,
                     "flag": "small" if "small-base" in u.flags else ""}
                    for u in segment.units if not u.suppressed]
            by_segment.append({"segment": segment, "chart": charts.bars(rows, low=0)})
        return {"c": c, "satisfaction_chart": charts.bars(sat, low=scale[0] if scale[0] is not None else 0,
                                                          high=scale[1], digits=2),
                "trend": charts.trend(self.wave_labels, series, low=0) if self.wave_labels else None,
                "handling": handling, "handling_item": complaint.handling if complaint else None,
                "by_segment": by_segment,
                "comments": self.comment_views(complainers[:COMPLAINT_COMMENTS_MAX]),
                "comments_total": len(complainers), "complaint_codes": results.coding.get("complaints") or {},
                "comment_labels": self.comment_labels()}

    def what_customers_say(self) -> dict[str, Any]:
        """The code table of each codeframe (total, trend over waves, by unit), what each code costs, examples.

        Example comments of a code are shown only where at least the privacy minimum of respondents
        mention it; they are the most recent comments carrying the code (the comment text is escaped).
        """
        coding, privacy = self.results.coding, self.q.index.privacy_min
        frames = []
        for frame_id, analysis in coding.get("analysis", {}).items():
            groups = analysis["groups"]
            total = groups[0]
            waves = [g for g in groups if g["level"] == "wave"]
            shown_waves = [g for g in waves if not g["suppressed"]]
            segment_id = self.results.segments[0].id if self.results.segments else None
            units = [g for g in groups if g["level"] == segment_id and not g["suppressed"]]
            examples: dict[str, list[Comment]] = {c["id"]: [] for c in analysis["codes"]}
            members = {c["id"]: set(c["codes"]) for c in analysis["codes"]}
            for comment in self.results.comments:
                if comment.item not in analysis["items"] or not comment.codes:
                    continue
                for code_id, codes in members.items():
                    if len(examples[code_id]) < 3 and codes.intersection(comment.codes):
                        examples[code_id].append(comment)
            rows = []
            for code in analysis["codes"]:
                entry = total["codes"].get(code["id"], {}) if not total["suppressed"] else {}
                mentioners = entry.get("respondents") or 0
                trend = [{"wave": g["label"], "share": g["codes"][code["id"]]["share_respondents"],
                          "p": g["codes"][code["id"]].get("p_vs_previous"),
                          "change": g["codes"][code["id"]].get("change")} for g in shown_waves]
                rows.append({**code, **entry, "impact": analysis["impact"].get(code["id"], {}),
                             "trend": trend, "last": trend[-1] if trend else None,
                             "examples": self.comment_views(examples[code["id"]]) if mentioners >= privacy else [],
                             "examples_hidden": 0 < mentioners < privacy})
            frames.append({"id": frame_id, "items": [self.comment_labels()["items"].get(i, i) for i in analysis["items"]],
                           "total": total, "rows": rows, "units": units, "segment": segment_id and
                           self.results.segment(segment_id), "waves": shown_waves})
        return {"frames": frames, "quality": coding.get("quality", {}), "coded": coding.get("coded", {}),
                "themes": self.discovered_themes()}

    def discovered_themes(self) -> dict[str, Any]:
        """The topics of the uncoded comments that ``surveyengine code --themes`` found (results.json
        ``coding.themes``; privacy-filtered there), grouped by language in the order of their comment counts."""
        themes = self.results.coding.get("themes") or {}
        languages: dict[str, list[dict[str, Any]]] = {}
        for topic in themes.get("topics", []):
            languages.setdefault(str(topic.get("language", "")), []).append(topic)
        return {"uncoded": themes.get("uncoded"), "topics": themes.get("topics", []),
                "languages": [{"language": lang, "name": self.t.get(f"language_{lang}", lang), "topics": topics}
                              for lang, topics in languages.items()]}

    def comment_views(self, comments: Iterable[Comment]) -> list[dict[str, Any]]:
        """What the comment list shows of each comment, worked out once per comment for every page."""
        if not hasattr(self, "_comment_views"):
            self._comment_views: dict[int, dict[str, Any]] = {}
            self._code_labels = {c["id"]: c["label"] for frame in self.results.coding.get("codeframes", [])
                                 for c in frame["codes"]}
            labels = self.comment_labels()
            self._places = {(s, code): (labels["segments"][s], label, self.unit_urls.get((s, code)))
                            for s, units in labels["units"].items() for code, label in units.items()}
        views, cache, places, items = [], self._comment_views, self._places, self.comment_labels()["items"]
        for c in comments:
            view = cache.get(id(c))
            if view is None:
                view = cache[id(c)] = {
                    "text": c.text, "item": items.get(c.item, c.item), "wave": c.wave, "units": c.units,
                    "score": c.score, "complained": c.complained,
                    "codes": [self._code_labels.get(code, code) for code in c.codes],
                    "places": [places.get((s, code), (s, code, None)) for s, code in c.units.items()]}
            views.append(view)
        return views

    def comment_labels(self) -> dict[str, Any]:
        """What a comment's codes mean: unit labels per segment, item labels."""
        if not hasattr(self, "_comment_labels"):
            self._comment_labels = {
                "units": {s.id: {u.key["unit"]: u.label for u in s.units if not u.suppressed}
                          for s in self.results.segments},
                "segments": {s.id: s.label for s in self.results.segments},
                "items": {i.id: i.label for i in self.results.items},
            }
        return self._comment_labels

    def _comments_by_unit(self) -> dict[tuple[str, str], tuple[list[Comment], int]]:
        """Per (segment, unit code): its first (most recent) comments, up to the cap, and how many it has."""
        shown: dict[tuple[str, str], list[Comment]] = {}
        counts: dict[tuple[str, str], int] = {}
        for comment in self.results.comments:
            for key in comment.units.items():
                n = counts.get(key, 0)
                counts[key] = n + 1
                if n < UNIT_COMMENTS_MAX:
                    shown.setdefault(key, []).append(comment)
        return {key: (shown[key], n) for key, n in counts.items()}

    def banners(self) -> list[dict[str, Any]]:
        """Each banner table with its notes: the test level and correction in words, digits per row."""
        t, out = self.t, []
        for banner in self.results.banners:
            significance = banner["significance"]
            correction = t["banner_correction_" + significance["correction"].replace("-", "_")]
            level = f"{significance['level'] * 100:g}"
            columns = [{**c, "label": t["banner_total"] if c["key"] == "total" else c["label"]}
                       for c in banner["columns"]]
            rows = [{**row, "digits": 0 if row["statistic"] == "base" else 2 if row["kind"] == "item" and
                     row["statistic"] == "mean" else 1, "statistic_label": t["banner_stat_" + row["statistic"]]}
                    for row in banner["rows"]]
            groups: list[dict[str, Any]] = []  # a row's statistics under one heading (SPSS's nested rows)
            for row in rows:
                if not groups or (groups[-1]["kind"], groups[-1]["id"]) != (row["kind"], row["id"]):
                    groups.append({"kind": row["kind"], "id": row["id"], "label": row["label"], "rows": []})
                groups[-1]["rows"].append(row)
            out.append({**banner, "columns": columns, "rows": rows, "groups": groups,
                        "intro": t["banners_intro"].format(level=level, correction=correction),
                        "tests": t["banners_tests"].format(n=significance["min_base"]),
                        "small": t["banner_small"].format(n=significance["min_base"])})
        return out

    def comments(self) -> dict[str, Any]:
        results = self.results
        outcome = results.index.get("outcome") or ""
        scale = self.item_info[outcome].scale if outcome in self.item_info else None
        shown = results.comments[:COMMENTS_PAGE_MAX]
        used_waves = sorted({c.wave for c in shown if c.wave is not None}, reverse=True)
        filters = [{"segment": s, "units": [u for u in s.units if not u.suppressed]} for s in results.segments]
        return {"comments": self.comment_views(shown), "comments_total": len(results.comments), "filters": filters,
                "filter_waves": used_waves, "score_points": list(range(scale[0], scale[1] + 1)) if scale else [],
                "comment_labels": self.comment_labels(),
                "script_config": {"segments": [s.id for s in results.segments]}}

    def methodology(self) -> dict[str, Any]:
        q, language = self.q, self.language
        factors = []
        for factor in q.walk_factors():
            items = []
            for item in factor.items:
                scale = q.scale_of(item)
                items.append({"id": item.id, "text": q.text(item.text, language),
                              "scale": f"{scale.min}–{scale.max}" if scale else "",
                              "expectation": item.expectation})
            factors.append({"id": factor.id, "label": q.text(factor.label, language), "kind": factor.kind,
                            "description": render_markdown(q.text(factor.description, language))
                            if factor.description else "",
                            "items": items, "driver": factor.id in (self.results.index.get("drivers") or []),
                            "weight": (self.results.index.get("weights") or {}).get(factor.id),
                            "depth": 0 if any(f.id == factor.id for f in q.factors) else 1})
        outcomes = []
        o = q.outcomes
        for role, ids in (("overall", o.overall), ("recommend", [o.recommend] if o.recommend else []),
                          ("repurchase", [o.repurchase] if o.repurchase else []),
                          ("comments_items", o.comments)):
            for item_id in ids:
                outcomes.append({"role": role, "id": item_id, "text": q.text(q.item(item_id).text, language)})
        index = self.results.index
        return {"factors": factors, "outcomes": outcomes, "index": index,
                "method_text": self.t.get("method_" + str(index.get("method", "")).replace("-", "_"), ""),
                "item_method_text": self.t.get("method_" + str(index.get("item_method") or "").replace("-", "_"),
                                               "") if index.get("item_method") else "",
                "complaint": q.outcomes.complaint, "wave": q.wave,
                "wave_label": q.text(q.wave.label, language) if q.wave and q.wave.label else "",
                "segments": q.segments, "weights_config": q.weights,
                "has_quality": bool(self.results.diagnostics.get("reliability"))}

    def quality(self) -> dict[str, Any]:
        """The questionnaire quality page: ``results.diagnostics`` with the factor labels and the advice in the
        report's language. Only authored text and numbers: no respondent text."""
        report = self.results.diagnostics
        language = self.language
        flags = [{**flag, "text": flag["advice"].get(language) or next(iter(flag["advice"].values()))}
                 for flag in report.get("flags", [])]
        efa = report.get("efa") or {}
        return {"reliability": report.get("reliability", []), "cfa": report.get("cfa", {}), "efa": efa,
                "efa_rows": efa.get("items", []), "flags": flags,
                "flagged": set(report.get("flagged_items", []))}

    def model(self) -> dict[str, Any]:
        """The structural model page: the path diagram, paths, constructs, outer model, measurement quality."""
        from . import charts

        model = self.results.model
        labels = {c["id"]: c["label"] for c in model["constructs"]}
        indices = self.results.total.model.get("indices", {})
        nodes = [{"id": c["id"], "label": c["label"], "r2": c["r2"]} for c in model["constructs"]]
        edges = [{"from": p["from"], "to": p["to"], "value": p["coefficient"],
                  "significant": p.get("ci_low") is not None and (p["ci_low"] > 0 or p["ci_high"] < 0)}
                 for p in model["paths"]]
        paths = [{**p, "from_label": labels[p["from"]], "to_label": labels[p["to"]], "significant": e["significant"]}
                 for p, e in zip(model["paths"], edges)]
        constructs = [{**c, "index": indices.get(c["id"])} for c in model["constructs"]]
        quality = self.results.measurement
        waves = [{"label": g.label, "indices": g.model.get("indices", {})} for g in self.results.waves if g.model]
        return {"model": model, "diagram": charts.path_diagram(nodes, edges), "paths": paths,
                "constructs": constructs, "construct_label": labels,
                "quality": quality, "quality_labels": {**{f.id: f.label for f in self.results.factors}, **labels},
                "model_waves": waves}

    def downloads(self) -> list[dict[str, Any]]:
        """The files other outputs wrote into the site folder before it: results.json, tables/*.csv."""
        out = []
        json_path = self.out / "results.json"
        if json_path.is_file():
            out.append({"url": "results.json", "name": "results.json", "kind": "json",
                        "bytes": json_path.stat().st_size})
        pdf_path = self.out / "report.pdf"
        if pdf_path.is_file():
            out.append({"url": "report.pdf", "name": "report.pdf", "kind": "pdf", "bytes": pdf_path.stat().st_size})
        tables = self.out / "tables"
        if tables.is_dir():
            for path in sorted(tables.glob("*.csv")):
                out.append({"url": f"tables/{path.name}", "name": path.name, "kind": path.stem,
                            "bytes": path.stat().st_size})
        return out


def _inline_bar(value_: float | None, low: float | None, high: float | None, average: float | None
                ) -> dict[str, Any] | None:
    """A league-table row's bar on a 0-100 axis: the value, its interval, the average."""
    if value_ is None:
        return None

    def clamp(v: float | None) -> float | None:
        return None if v is None else round(min(max(v, 0.0), 100.0), 1)

    return {"w": clamp(value_), "lo": clamp(low), "hi": clamp(high), "avg": clamp(average)}
