"""Roll-ups of the cell statistics that the report shows: a *view* is a set of groups of cells.

Every view is a merge of cells (and, for the item block, of units); none goes
back to the rows:

- ``total``: everything;
- ``wave``: one group per wave (all segments);
- ``segment:<id>``: one group per unit of that segment (all waves), e.g. per dealer, per region;
- ``segment:<id>:wave``: one group per unit and wave (the trend of each unit).

A view also knows each group's parent group in the segment hierarchy and the
'rest of the parent' (the parent minus the group), for comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .stats import CellStats, StudyStats, UnitCross

if TYPE_CHECKING:
    from .data import Responses
    from .model import Questionnaire


@dataclass
class View:
    name: str
    cells: CellStats  # one row per group
    cross: UnitCross | None  # the item block per group, where the view is a roll-up of units
    labels: list[str]  # a label per group
    codes: list[tuple[int, ...]] = field(default_factory=list)  # per group: (unit code) or (unit code, wave code)
    segment: str | None = None
    by_wave: bool = False
    replicates: UnitCross | None = None  # the total only: the item block per random group, for its bootstrap

    @property
    def groups(self) -> int:
        return self.cells.cells

    @property
    def item_metrics(self) -> bool:
        """Whether the results show item metrics for this view's groups: not for each unit per wave, whose trend
        shows headline and factor metrics alone. A scorer may leave its item metrics out where this is false."""
        return not (self.segment is not None and self.by_wave)


@dataclass
class Labels:
    segments: dict[str, list[str]]  # per segment: the codes as text, in code order
    waves: list[str]


def build_views(q: Questionnaire, stats: StudyStats, labels: Labels) -> dict[str, View]:
    cells, units = stats.cells, stats.units
    views: dict[str, View] = {}
    by_wave = cells.group(cells.wave_codes, len(labels.waves)) if labels.waves else None
    # the total is the merge of the waves: a dozen rows to add instead of every cell
    views["total"] = View("total", (by_wave if by_wave is not None else cells).total(),
                          units.total() if units is not None else None, ["total"], [()], replicates=stats.replicates)
    if by_wave is not None:
        views["wave"] = View("wave", by_wave, None, list(labels.waves), [(w,) for w in range(len(labels.waves))],
                             by_wave=True)
    for segment in q.segments:
        codes = cells.segment_codes[segment.id].astype(np.int64)
        count = len(labels.segments[segment.id])
        unit_labels = labels.segments[segment.id]
        cross = None
        if units is not None:
            cross = units.group(units.segment_codes[segment.id].astype(np.int64), count)
        views[f"segment:{segment.id}"] = View(f"segment:{segment.id}", cells.group(codes, count), cross,
                                              list(unit_labels), [(c,) for c in range(count)], segment.id)
        if labels.waves:
            wave_count = len(labels.waves)
            key = codes * wave_count + cells.wave_codes
            used = np.unique(key)
            remap = np.searchsorted(used, key)
            views[f"segment:{segment.id}:wave"] = View(
                f"segment:{segment.id}:wave", cells.group(remap, used.size), None,
                [f"{unit_labels[k // wave_count]} {labels.waves[k % wave_count]}" for k in used],
                [(int(k // wave_count), int(k % wave_count)) for k in used], segment.id, by_wave=True)
    return views


def labels_of(responses: Responses) -> Labels:
    return Labels(dict(responses.segment_labels), list(responses.wave_labels))


def parent_codes(q: Questionnaire, stats: StudyStats, segment_id: str) -> np.ndarray | None:
    """For each unit of ``segment_id``, the code of its unit in the parent segment (-1 if it spans several)."""
    segment = next(s for s in q.segments if s.id == segment_id)
    if segment.parent is None:
        return None
    cells = stats.cells
    child = cells.segment_codes[segment_id].astype(np.int64)
    parent = cells.segment_codes[segment.parent].astype(np.int64)
    count = int(child.max()) + 1 if child.size else 0
    low = np.full(count, np.iinfo(np.int64).max)
    high = np.full(count, -1)
    np.minimum.at(low, child, parent)
    np.maximum.at(high, child, parent)
    return np.where(low == high, high, -1)
