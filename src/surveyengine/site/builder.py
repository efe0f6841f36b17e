"""Render :class:`~surveyengine.results.Results` into a static site.

Output is deterministic: the same input gives byte-identical files (the date shown
honours ``SOURCE_DATE_EPOCH``). Links are relative, so the folder works from
any static host, under any subpath, and straight from disk.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from ..errors import ThemeError
from .themes import Theme, load_theme

if TYPE_CHECKING:
    from ..results import Results
    from ..study import Study


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
    env.filters["tojson_safe"] = _json_for_script
    return env


class _Empty:
    value = None


_EMPTY = _Empty()


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _json_for_script(value: Any) -> Markup:
    """JSON safe inside <script>: '<', '>', '&' and line separators escaped."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return Markup(text)


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


def build_site(results: Results, study: Study, out_dir: Path, *, base_url: str = "") -> list[Path]:
    """Render every page and copy the theme's assets into ``out_dir``; returns the files written (relative)."""
    theme = load_theme(study.config.theme, study.root)
    env = _environment(theme)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _render_all(env, theme, results, study, out_dir, base_url)


def _pages(study: Study) -> list[dict[str, Any]]:
    pages = []
    for name in study.config.pages:
        path = study.root / name
        text = path.read_text(encoding="utf-8")
        title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("# ")), path.stem)
        pages.append({"slug": path.stem, "title": title, "body": render_markdown(text),
                      "url": f"pages/{path.stem}.html"})
    return pages


def _render_all(env: jinja2.Environment, theme: Theme, results: Results, study: Study, out: Path,
                base_url: str) -> list[Path]:
    q = study.questionnaire
    language = study.language
    words = theme.gettext(language)
    pages = _pages(study)
    common = {
        "results": results,
        "study": results.study,
        "questionnaire": q,
        "description": render_markdown(q.text(q.description, language)) if q.description else "",
        "language": language,
        "t": words,
        "pages": pages,
        "base_url": base_url.rstrip("/") + "/" if base_url else "",
        "generated": results.generated,
        "version": __import__("surveyengine").__version__,
    }
    written: list[Path] = []

    def render(template: str, target: str, **context: Any) -> None:
        depth = target.count("/")
        try:
            html = env.get_template(template).render(**common, root="../" * depth, page_url=target, **context)
        except jinja2.TemplateError as exc:
            raise _theme_error(exc, template) from exc
        path = out / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        written.append(Path(target))

    total = results.total
    factor_rows = []
    for factor in results.factors:
        score = total.factors.get(factor.id, {}).get("score")
        factor_rows.append({"id": factor.id, "label": factor.label, "sub": factor.parent is not None,
                            "value": score.value if score else None, "base": score.base if score else None,
                            "ci_low": score.ci_low if score else None, "ci_high": score.ci_high if score else None,
                            "alpha": (total.factors.get(factor.id, {}).get("alpha") or _EMPTY).value,
                            "flag": total.suppressed})
    render("index.html", "index.html", factor_rows=factor_rows, total=total)
    for page in pages:
        render("page.html", page["url"], page=page)
    for static_dir in reversed(theme.static_dirs()):
        for source in sorted(static_dir.rglob("*")):
            if source.is_file():
                target = out / "static" / source.relative_to(static_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    written.extend(sorted(p.relative_to(out) for p in (out / "static").rglob("*") if p.is_file()))
    return sorted(set(written))
