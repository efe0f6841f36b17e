"""What every questionnaire exporter needs: the questionnaire in asking order, names, options, conditions.

The order is the screening questions (those the factors' conditions name), the
factors depth-first (a factor is a group or page holding its items and
sub-factors), then the other standalone questions. A platform stores each
answer under the item's data column (``column:`` or the id), so the responses
it exports read back into the study unchanged; conditions are translated with
those names (:func:`surveyengine.conditions.translate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import conditions
from .errors import QuestionnaireError
from .model import Factor, Item, Questionnaire

_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Option:
    code: Any
    text: Any  # Text: a string or {language: string}
    missing: bool  # don't know, refused, not applicable: an answer that counts as missing


def walk(q: Questionnaire) -> Iterator[tuple[str, Factor | Item]]:
    """("begin", factor), ("item", item), ("end", factor) in asking order; then ("item", question) for the rest.

    Screening questions come first: a standalone question that a factor item's
    condition names (``serviced`` in ``when: serviced == 1``) must be answered
    before the item it routes, so it is asked before the factors.
    """
    routed = {name for factor in q.factors for item in factor.all_items() if item.when
              for name in conditions.parse(item.when).names}
    screening = [item for item in q.questions if item.id in routed]
    for item in screening:
        yield "item", item

    def factor_events(factor: Factor) -> Iterator[tuple[str, Factor | Item]]:
        yield "begin", factor
        for item in factor.items:
            yield "item", item
        for sub in factor.factors:
            yield from factor_events(sub)
        yield "end", factor

    for factor in q.factors:
        yield from factor_events(factor)
    for item in q.questions:
        if item not in screening:
            yield "item", item


def variable_names(q: Questionnaire) -> dict[str, str]:
    """Item and segment id -> the name the platform stores the answer under (the data column)."""
    names = {item.id: item.data_column for item in q.all_items()}
    names.update({segment.id: segment.data_column for segment in q.segments})
    return names


def check_names(q: Questionnaire, what: str) -> None:
    """Every data column must be a valid variable name on the platform (XML names: letters, digits, _ . -)."""
    bad = [name for name in variable_names(q).values() if not _XML_NAME.match(name)]
    if bad:
        raise QuestionnaireError(f"{what} needs data columns that are valid names (a letter or _, then letters, "
                                 f"digits, _ . -); not: {', '.join(repr(b) for b in bad)}")


def relevance(q: Questionnaire, item: Item, dialect: conditions.Dialect, names: dict[str, str] | None = None) -> str:
    """The item's ``when:`` condition in a platform's syntax, or '' when it is always asked.

    Items are named by ``names`` (id -> name), by default their data columns.
    """
    if not item.when:
        return ""
    return conditions.translate(conditions.parse(item.when), dialect, {**variable_names(q), **(names or {})})


def options(q: Questionnaire, list_id: str | None) -> list[Option]:
    """The answer options of a choice list (of a single or multiple choice item), missing codes last."""
    choices = q.choices.get(list_id or "")
    if choices is None:
        return []
    return ([Option(code, text, False) for code, text in choices.options.items()]
            + [Option(code, text, True) for code, text in choices.missing.items()])


def scale_points(q: Questionnaire, item: Item) -> list[Option]:
    """Every point of a rating item's scale (labelled or not), then its missing codes."""
    scale = q.scale_of(item)
    if scale is None:
        return []
    return ([Option(v, scale.labels.get(v, str(v)), False) for v in range(scale.min, scale.max + 1)]
            + [Option(code, text, True) for code, text in scale.missing.items()])


def languages(q: Questionnaire, language: str | None) -> list[str]:
    """The questionnaire's languages with the chosen one first; an unknown one is an error."""
    chosen = language or q.language
    if chosen not in q.languages:
        raise QuestionnaireError(f"language '{chosen}' is not one of the questionnaire's ({', '.join(q.languages)})")
    return [chosen] + [lang for lang in q.languages if lang != chosen]


def choice_lists(q: Questionnaire) -> list[str]:
    """Ids of the choice lists that single and multiple choice items use, in first-use order."""
    return list(dict.fromkeys(item.choices for item in q.all_items()
                              if item.choices and item.question_type in ("single", "multiple")))
