"""The few facts a short report leads with, read from the results tree (nothing is recomputed).

The Markdown summary and the management-review pack show the same things: the
CSI (weighted and equal-weight), its change since the previous wave with the
test, the units flagged below (or above) average, the top improvement
priorities and the account of rows. This module picks them out of
:class:`~surveyengine.results.Results` once, as plain values; each output only
formats them. Labels are returned as they are: escaping is the output's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .results import Group, Results, Value


@dataclass
class Change:
    """A group's CSI against the previous wave (``comparison.previous_wave``)."""

    wave: str  # the wave compared
    previous: str  # the wave it is compared with
    change: float | None
    p: float | None
    significant: bool


@dataclass
class FlaggedUnit:
    segment: str  # segment label
    unit: str  # unit label
    flag: str  # below-average or above-average
    base: int
    csi: float | None
    difference: float | None  # CSI minus the rest of its parent
    p: float | None
    against: str


@dataclass
class Priority:
    priority: int
    level: str  # item or factor
    id: str
    label: str
    factor: str  # label of the model it belongs to ('' for the index model)
    weight: float | None
    performance: float | None
    gain: float | None
    quadrant: str


@dataclass
class Summary:
    title: str
    language: str
    generated: str
    respondents: int
    csi: Value | None
    csi_equal: Value | None
    nps: Value | None
    complaint: dict[str, Value]
    change: Change | None
    waves: list[tuple[str, Value | None, Change | None]]  # every wave: label, CSI, change vs the one before
    flagged: list[FlaggedUnit]
    priorities: list[Priority]
    account: dict[str, Any]
    index: dict[str, Any]
    drivers: list[dict[str, Any]] = field(default_factory=list)  # the total's index model, labels added


def wave_change(group: Group) -> Change | None:
    change = group.comparison.get("previous_wave") if group.comparison else None
    if not change:
        return None
    return Change(group.key.get("wave", group.label), change["wave"], change.get("csi_change"), change.get("p"),
                  bool(change.get("significant")))


def labels(results: Results) -> dict[str, str]:
    """Factor and item id -> label (the question text for an item), in the report's language."""
    names = {item.id: item.label for item in results.items}
    names.update({factor.id: factor.label for factor in results.factors})
    return names


def flagged_units(results: Results, flags: tuple[str, ...] = ("below-average", "above-average")) -> list[FlaggedUnit]:
    """Segment units flagged as significantly below (or above) the rest of their parent, in segment order."""
    found = []
    for segment in results.segments:
        for unit in segment.units:
            for flag in flags:
                if flag not in unit.flags:
                    continue
                csi = unit.comparison.get("csi", {})
                found.append(FlaggedUnit(segment.label, unit.label, flag, unit.base, unit.headline_value("csi", "csi"),
                                         csi.get("difference"), csi.get("p"), unit.comparison.get("against", "")))
    return found


def priorities(results: Results, group: Group | None = None, top: int = 5) -> list[Priority]:
    """The first ``top`` improvement priorities of a group (the total by default)."""
    names = labels(results)
    entries = ((group or results.total).drivers or {}).get("priorities", [])[:top]
    return [Priority(e["priority"], e["level"], e["id"], names.get(e["id"], e["id"]),
                     names.get(e.get("factor") or "", ""), e.get("weight"), e.get("performance"), e.get("gain"),
                     e.get("quadrant") or "") for e in entries]


def summarise(results: Results, top: int = 5) -> Summary:
    total = results.total
    headline = total.headline
    waves = [(w.label, headline_of(w, "csi", "csi"), wave_change(w)) for w in results.waves]
    names = labels(results)
    model = (total.drivers or {}).get("factors") or {}
    drivers = [{**d, "label": names.get(d["id"], d["id"])} for d in model.get("drivers", [])]
    return Summary(
        title=results.study.get("title", ""), language=results.study.get("language", "en"),
        generated=results.generated, respondents=results.respondents,
        csi=headline.get("csi", {}).get("csi"), csi_equal=headline.get("csi", {}).get("csi_equal"),
        nps=headline.get("nps", {}).get("nps"), complaint=dict(headline.get("complaint", {})),
        change=waves[-1][2] if waves else None, waves=waves, flagged=flagged_units(results),
        priorities=priorities(results, top=top), account=results.account, index=results.index, drivers=drivers)


def headline_of(group: Group, target: str, name: str) -> Value | None:
    return group.headline.get(target, {}).get(name)


def number(value: float | None, digits: int = 1, sign: bool = False) -> str:
    """A value as short reports print it: thousands separated, ``–`` when there is none."""
    if value is None:
        return "–"
    return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"


def p_text(p: float | None) -> str:
    if p is None:
        return ""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
