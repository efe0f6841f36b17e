"""SurveyJS form JSON: ``surveyengine export q.yaml --to surveyjs``.

A page per top-level factor (a panel per sub-factor), a first page with the
segments (dropdowns of the unit labels, else text) and the screening questions,
and a last page with the other questions. Rating items are ``rating`` (``rateMin``/``rateMax`` from the
scale, the end labels as ``minRateDescription``/``maxRateDescription``); single
choice is ``radiogroup``, multiple ``checkbox`` (missing codes such as "don't
know" are choices too), text ``comment``, number ``text`` with ``inputType:
number``. ``when:`` becomes ``visibleIf`` (``{complained} = 1``), ``required:
true`` ``isRequired``. Every string is localized: ``{"default": ..., "zh-cn": ...}``
with the chosen language as ``default``. Names are the data columns.
"""

from __future__ import annotations

import json

from surveyengine import hookimpl
from surveyengine.conditions import Dialect
from surveyengine.forms import check_names, languages, options, relevance, walk

SURVEYJS = Dialect(ref="{%s}", negate="!(%s)", answered="%s notempty")
LOCALES = {"zh": "zh-cn", "zh-Hans": "zh-cn", "zh-Hant": "zh-tw"}  # SurveyJS's names of these locales


class SurveyJsExporter:
    id = "surveyjs"
    description = "SurveyJS form JSON: pages per factor, localized strings, visibleIf from conditions."
    extension = ".surveyjs.json"

    def export(self, questionnaire, language):
        q = questionnaire
        check_names(q, "SurveyJS")
        langs = languages(q, language)

        def text(value):
            if value is None:
                return None
            return {("default" if lang == langs[0] else LOCALES.get(lang, lang)): q.text(value, lang) for lang in langs}

        first = {"name": "respondent", "elements": []}
        for segment in q.segments:
            element = {"type": "dropdown" if segment.labels else "text", "name": segment.data_column,
                       "title": text(segment.label), "isRequired": True}
            if segment.labels:
                element["choices"] = [{"value": code, "text": text(label)} for code, label in segment.labels.items()]
            first["elements"].append(element)
        pages = [first]
        stack: list[dict] = []
        for event, node in walk(q):
            if event == "begin":
                container = {"name": node.id, "title": text(node.label), "elements": []}
                if node.description:
                    container["description"] = text(node.description)
                if stack:
                    container["type"] = "panel"
                    stack[-1]["elements"].append(container)
                else:
                    pages.append(container)
                stack.append(container)
            elif event == "end":
                stack.pop()
            else:
                if stack:
                    target = stack[-1]
                elif len(pages) == 1:  # a screening question, before the factors
                    target = first
                else:
                    if pages[-1]["name"] != "questions":
                        pages.append({"name": "questions", "elements": []})
                    target = pages[-1]
                target["elements"].append(self._question(q, node, text))
        form = {"title": text(q.title), "pages": [page for page in pages if page["elements"]], "showQuestionNumbers": "on", "checkErrorsMode": "onValueChanged"}
        if langs[0] != "en":
            form["locale"] = LOCALES.get(langs[0], langs[0])
        if q.description:
            form["description"] = text(q.description)
        return (json.dumps(form, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    @staticmethod
    def _question(q, item, text):
        kind = item.question_type
        element = {"name": item.data_column, "title": text(item.text)}
        if kind == "rating":
            scale = q.scale_of(item)
            element.update(type="rating", rateMin=scale.min, rateMax=scale.max,
                           displayMode="buttons")
            if scale.min in scale.labels:
                element["minRateDescription"] = text(scale.labels[scale.min])
            if scale.max in scale.labels:
                element["maxRateDescription"] = text(scale.labels[scale.max])
        elif kind in ("single", "multiple"):
            element["type"] = "radiogroup" if kind == "single" else "checkbox"
            element["choices"] = [{"value": o.code, "text": text(o.text)} for o in options(q, item.choices)]
        elif kind == "number":
            element.update(type="text", inputType="number")
        else:
            element["type"] = "comment"
        if item.note:
            element["description"] = text(item.note)
        if item.required:
            element["isRequired"] = True
        condition = relevance(q, item, SURVEYJS)
        if condition:
            element["visibleIf"] = condition
        return element


@hookimpl
def surveyengine_register_exporters(registry):
    registry.add(SurveyJsExporter)
