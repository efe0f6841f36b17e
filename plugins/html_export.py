"""A standalone, printable questionnaire in one language: ``surveyengine export q.yaml --to html``.

Numbered questions in asking order under a heading per factor; rating items
as a row of boxes from the scale's lowest to highest point with the labelled
points under them, then the missing codes (don't know ...); choice items as a
list of boxes with their codes; open questions as ruled lines. A ``when:``
condition is printed as a routing instruction with question numbers
("Ask only if Q42 = 1"). One HTML file with its CSS inside: no script, no
external file. jinja2 with autoescape: no questionnaire text can become markup.
"""

from __future__ import annotations

import jinja2

from surveyengine import hookimpl
from surveyengine.conditions import Dialect
from surveyengine.forms import check_names, languages, options, relevance, scale_points, walk

WORDS = {
    "en": {"ask_if": "Ask only if", "answered": "is answered", "note": "Note", "select_one": "Tick one box",
           "select_many": "Tick all that apply", "version": "Version", "number": "Number"},
    "zh": {"ask_if": "仅在以下情况询问:", "answered": "已回答", "note": "说明", "select_one": "请选择一项",
           "select_many": "可多选", "version": "版本", "number": "数字"},
}

TEMPLATE = """<!doctype html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
@page { size: A4; margin: 15mm; }
body { font-family: "Helvetica Neue", Arial, "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       max-width: 48rem; margin: 0 auto; padding: 1rem; font-size: 10.5pt; line-height: 1.4; color: #111; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; border-bottom: 1px solid #888; margin-top: 1.4rem; }
h3 { font-size: 11.5pt; }
.description { white-space: pre-line; color: #333; }
.q { break-inside: avoid; margin: .8rem 0; }
.q .n { font-weight: bold; margin-right: .3em; }
.route, .note, .how { font-size: 9pt; color: #555; font-style: italic; margin: .1rem 0; }
.scale { display: flex; flex-wrap: wrap; gap: .25rem; margin: .3rem 0; }
.point { border: 1px solid #333; min-width: 2.2rem; text-align: center; padding: .15rem .2rem; font-size: 9pt; }
.point small { display: block; color: #444; }
.point.missing { border-style: dashed; }
ul.options { list-style: none; padding-left: .5rem; margin: .3rem 0; }
ul.options li::before { content: "\\2610\\00a0"; }
.lines { border-bottom: 1px solid #999; height: 1.6rem; }
.box { display: inline-block; border: 1px solid #333; width: 8rem; height: 1.4rem; }
@media print { body { padding: 0; max-width: none; } }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="how">{{ t.version }} {{ version }}</p>
{% if description %}<p class="description">{{ description }}</p>{% endif %}
{% for entry in entries %}
{% if entry.kind == "heading" %}
<h{{ entry.level }}>{{ entry.text }}</h{{ entry.level }}>
{% else %}
<div class="q" id="q-{{ entry.name }}">
<p><span class="n">Q{{ entry.number }}.</span>{{ entry.text }}</p>
{% if entry.route %}<p class="route">{{ t.ask_if }} {{ entry.route }}</p>{% endif %}
{% if entry.type == "rating" %}
<div class="scale">{% for p in entry.points %}<span class="point{% if p.missing %} missing{% endif %}">{{ p.code }}{% if p.label %}<small>{{ p.label }}</small>{% endif %}</span>{% endfor %}</div>
{% elif entry.type in ("single", "multiple") %}
<p class="how">{{ t.select_one if entry.type == "single" else t.select_many }}</p>
<ul class="options">{% for p in entry.points %}<li>{{ p.label }} ({{ p.code }})</li>{% endfor %}</ul>
{% elif entry.type == "number" %}
<span class="box" aria-label="{{ t.number }}"></span>
{% else %}
<div class="lines"></div><div class="lines"></div>
{% endif %}
{% if entry.note %}<p class="note">{{ t.note }}: {{ entry.note }}</p>{% endif %}
</div>
{% endif %}
{% endfor %}
</body>
</html>
"""


class HtmlExporter:
    id = "html"
    description = "A standalone printable questionnaire (HTML with print CSS) in one language."
    extension = ".html"

    def export(self, questionnaire, language):
        q = questionnaire
        check_names(q, "the HTML questionnaire")
        lang = languages(q, language)[0]
        words = {**WORDS["en"], **WORDS.get(lang, {})}
        numbers = {}
        for event, node in walk(q):
            if event == "item":
                numbers[node.id] = len(numbers) + 1
        routing = Dialect(ref="%s", negate="not (%s)", answered=f"%s {words['answered']}")
        names = {item_id: f"Q{n}" for item_id, n in numbers.items()}
        entries, depth = [], 1
        for event, node in walk(q):
            if event == "begin":
                depth += 1
                entries.append({"kind": "heading", "level": min(depth, 4), "text": q.text(node.label, lang)})
            elif event == "end":
                depth -= 1
            else:
                kind = node.question_type
                points = scale_points(q, node) if kind == "rating" else options(q, node.choices)
                scale = q.scale_of(node)
                labelled = {**(scale.labels if scale else {}), **(scale.missing if scale else {})}
                entries.append({
                    "kind": "question", "number": numbers[node.id], "name": node.data_column, "type": kind,
                    "text": q.text(node.text, lang), "note": q.text(node.note, lang) if node.note else "",
                    "route": relevance(q, node, routing, names),
                    "points": [{"code": p.code, "missing": p.missing,
                                "label": q.text(p.text, lang) if kind != "rating" or p.code in labelled else ""}
                               for p in points]})
        environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                         lstrip_blocks=True)
        html = environment.from_string(TEMPLATE).render(
            language=lang, title=q.text(q.title, lang), version=q.version, t=words, entries=entries,
            description=q.text(q.description, lang) if q.description else "")
        return html.encode("utf-8")


@hookimpl
def surveyengine_register_exporters(registry):
    registry.add(HtmlExporter)
