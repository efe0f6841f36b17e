"""XLSForm (.xlsx) for ODK, KoboToolbox and SurveyCTO: ``surveyengine export q.yaml --to xlsform``.

- ``survey``: a group per factor (nested like the factors), then the other
  questions. Rating items are ``integer`` with a ``constraint`` from the scale's
  range and its missing codes (``(. >= 1 and . <= 10) or . = 99``) and a hint
  naming the labelled points; single and multiple choice items are
  ``select_one`` / ``select_multiple`` of the choice list; ``when:`` conditions
  become ``relevant`` (``${complained} = 1``); ``required: true`` becomes
  ``required: yes``. Segments with unit labels are ``select_one`` lists, others
  ``text``; the respondent id is ``once(uuid())`` and the wave the interview date
  (``today()``, bucketed by the wave's frequency when read back).
- ``choices``: the choice lists, missing codes included (they are answers that
  count as missing), and one list per labelled segment.
- ``settings``: ``form_title``, ``form_id`` (the questionnaire id), ``version``,
  ``default_language``.

Labels, hints and messages are given per language as ``label::English (en)``.
Every name is the item's data column, so the platform's export (Kobo prefixes
group names: ``product/hardware/hw_quality``) reads back into the study.
"""

from __future__ import annotations

import io

from surveyengine import hookimpl
from surveyengine.conditions import Dialect
from surveyengine.forms import check_names, choice_lists, languages, options, relevance, scale_points, walk
from surveyengine.workbook import add_sheet, new_workbook

XPATH = Dialect(ref="${%s}", negate="not(%s)", answered="%s != ''")
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "fr": "French", "de": "German", "es": "Spanish", "ja": "Japanese",
                  "ko": "Korean", "pt": "Portuguese", "it": "Italian", "ru": "Russian", "ar": "Arabic"}
ANSWER = {"en": "Answer {low}-{high}", "zh": "请回答 {low}-{high}"}
OR_CODES = {"en": ", or {codes}", "zh": ",或 {codes}"}
TYPES = {"text": "text", "number": "decimal"}


def language_label(code: str) -> str:
    """XLSForm's language column suffix: ``English (en)``."""
    return f"{LANGUAGE_NAMES.get(code.split('-')[0], code)} ({code})"


class XlsFormExporter:
    id = "xlsform"
    description = "XLSForm .xlsx for ODK / KoboToolbox: groups, choice lists, constraints, relevance, languages."
    extension = ".xlsx"

    def export(self, questionnaire, language):
        q = questionnaire
        check_names(q, "XLSForm")
        langs = languages(q, language)

        def texts(column, text):
            return {f"{column}::{language_label(lang)}": q.text(text, lang) for lang in langs}

        survey: list[dict[str, object]] = [
            {"type": "calculate", "name": q.respondent_id, "calculation": "once(uuid())"}]
        if q.wave is not None:
            survey.append({"type": "calculate", "name": q.wave.column, "calculation": "today()"})
        choices: list[dict[str, object]] = []
        for segment in q.segments:
            if segment.labels:
                list_name = f"segment_{segment.id}"
                choices += [{"list_name": list_name, "name": code, **texts("label", text)}
                            for code, text in segment.labels.items()]
                survey.append({"type": f"select_one {list_name}", "name": segment.data_column, "required": "yes",
                               **texts("label", segment.label)})
            else:
                survey.append({"type": "text", "name": segment.data_column, "required": "yes",
                               **texts("label", segment.label)})
        for list_name in choice_lists(q):
            choices += [{"list_name": list_name, "name": o.code, **texts("label", o.text)} for o in options(q, list_name)]
        for event, node in walk(q):
            if event == "begin":
                survey.append({"type": "begin_group", "name": node.id, **texts("label", node.label)})
            elif event == "end":
                survey.append({"type": "end_group", "name": node.id})
            else:
                survey.append(self._question(q, node, langs, texts))
        workbook = new_workbook()
        add_sheet(workbook, "survey", _columns(survey))
        add_sheet(workbook, "choices", _columns(choices))
        add_sheet(workbook, "settings", {"form_title": [q.text(q.title, langs[0])], "form_id": [q.id],
                                         "version": [q.version], "default_language": [language_label(langs[0])]})
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()

    @staticmethod
    def _question(q, item, langs, texts):
        kind = item.question_type
        row: dict[str, object] = {"name": item.data_column, **texts("label", item.text)}
        hints = {lang: q.text(item.note, lang) if item.note else "" for lang in langs}
        if kind == "rating":
            scale = q.scale_of(item)
            points = scale_points(q, item)
            missing = [p for p in points if p.missing]
            row["type"] = "integer"
            row["constraint"] = " or ".join([f"(. >= {scale.min} and . <= {scale.max})"]
                                            + [f". = {p.code}" for p in missing])
            labelled = [p for p in points if p.missing or p.code in scale.labels]
            for lang in langs:
                legend = " · ".join(f"{p.code} = {q.text(p.text, lang)}" for p in labelled)
                hints[lang] = " ".join(filter(None, (legend, hints[lang])))
                codes = ", ".join(str(p.code) for p in missing)
                message = ANSWER.get(lang, ANSWER["en"]).format(low=scale.min, high=scale.max)
                row[f"constraint_message::{language_label(lang)}"] = message + (
                    OR_CODES.get(lang, OR_CODES["en"]).format(codes=codes) if codes else "")
        elif kind in ("single", "multiple"):
            row["type"] = f"{'select_one' if kind == 'single' else 'select_multiple'} {item.choices}"
        else:
            row["type"] = TYPES[kind]
        if any(hints.values()):
            row.update({f"hint::{language_label(lang)}": hints[lang] for lang in langs})
        if item.required:
            row["required"] = "yes"
        condition = relevance(q, item, XPATH)
        if condition:
            row["relevant"] = condition
        return row


def _columns(rows: list[dict[str, object]]) -> dict[str, list[object]]:
    seen = list(dict.fromkeys(key for row in rows for key in row))
    header = [k for k in ("type", "list_name", "name") if k in seen] + [k for k in seen if k not in
                                                                       ("type", "list_name", "name")]
    return {name: [row.get(name) for row in rows] for name in header}


@hookimpl
def surveyengine_register_exporters(registry):
    registry.add(XlsFormExporter)
