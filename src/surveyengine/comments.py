"""Open comments (verbatims): collected from the responses' text columns, carried in the cache, published.

Two steps, because the statistics are cached and the privacy rules come after scoring:

- :func:`collect` runs on the responses, once per data change: every non-empty
  answer to a ``text`` item, as columns (:class:`CommentTable`) so a million
  respondents' comments cost a few arrays and one list of strings, and the cache
  stores them as such.
- :func:`publish` runs after scoring: it turns the table into
  :class:`~surveyengine.results.Comment` objects with wave labels and unit codes,
  and drops the code of every unit the scoring suppressed (fewer respondents than
  the privacy minimum): a comment is never tied to a unit so small that its
  author could be recognised. Likewise its wave is left out where the wave, or
  its (shown) unit in that wave, is suppressed: a dealer with 200 respondents may
  have had three in March. The comment itself stays (the total counts it).

Published comments carry no respondent id: nothing in the report needs to join a
comment back to a row, and the ids are personal data. The table (and the cache)
keeps them for coding only: hand codes and the codes file are keyed by respondent
id and item (:mod:`surveyengine.coding`). The text is kept exactly as
written; it is untrusted and every output escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .results import collector_paused

if TYPE_CHECKING:
    from .data import Responses
    from .model import Questionnaire
    from .results import Comment, Results
    from .views import Labels


@dataclass
class CommentTable:
    """Every comment as columns; row order: most recent wave first, then data order, then item order."""

    items: list[str]  # the text item ids, questionnaire order
    item: np.ndarray  # int16: index into items
    text: list[str]
    wave: np.ndarray  # int32: index into the wave labels, -1 without a wave
    segments: dict[str, np.ndarray] = field(default_factory=dict)  # int32 codes into the segment labels
    score: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))  # overall answer, NaN: none
    complained: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))  # 1, 0, -1: not answered
    ids: list[str] = field(default_factory=list)  # respondent ids, for coding only (never published)
    recommend: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))  # 0-10 answer, NaN: none

    def __len__(self) -> int:
        return len(self.text)

    def arrays(self) -> dict[str, np.ndarray]:
        """The numeric columns by name (for the cache's archive)."""
        out = {"item": self.item, "wave": self.wave, "score": self.score, "complained": self.complained,
               "recommend": self.recommend}
        out.update({f"segment.{s}": codes for s, codes in self.segments.items()})
        return out

    @classmethod
    def from_arrays(cls, items: list[str], text: list[str], arrays: dict[str, np.ndarray],
                    ids: list[str] | None = None) -> CommentTable:
        segments = {name.removeprefix("segment."): codes for name, codes in arrays.items()
                    if name.startswith("segment.")}
        return cls(items, arrays["item"], text, arrays["wave"], segments, arrays["score"], arrays["complained"],
                   list(ids or []), arrays["recommend"])


def text_items(q: Questionnaire) -> list[str]:
    """The open items whose answers are comments: every ``text`` item, in questionnaire order."""
    return [item.id for item in q.all_items() if item.question_type == "text"]


def collect(responses: Responses, q: Questionnaire) -> CommentTable:
    """Every non-empty text answer, with its wave, segment codes, overall answer and complaint status."""
    return collect_rows(responses, q)[0]


def collect_rows(responses: Responses, q: Questionnaire) -> tuple[CommentTable, np.ndarray]:
    """:func:`collect`, and the position of each comment's row in ``responses``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    items = [i for i in text_items(q) if i in responses.text]
    rows_of, item_of, texts = [], [], []
    for k, item_id in enumerate(items):
        column = responses.text[item_id]
        if isinstance(column, np.ndarray):
            column = pa.array(column.tolist(), type=pa.string())
        present = np.flatnonzero(np.asarray(pc.not_equal(column, "").fill_null(False)))
        if present.size:
            rows_of.append(present)
            item_of.append(np.full(present.size, k, dtype=np.int16))
            texts.append(column.take(pa.array(present)))
    if not rows_of:
        empty = np.zeros(0, dtype=np.int32)
        return CommentTable(items, np.zeros(0, dtype=np.int16), [], empty,
                            {s: empty for s in responses.segments}, ids=[],
                            recommend=np.zeros(0, dtype=np.float32)), np.zeros(0, dtype=np.int64)
    rows = np.concatenate(rows_of)
    item = np.concatenate(item_of)
    wave_all = responses.wave if responses.wave is not None else np.full(responses.n, -1, dtype=np.int32)
    wave = wave_all[rows].astype(np.int32)
    # most recent wave first; within a wave the data order, then the questionnaire's item order
    order = np.lexsort((item, rows, -wave.astype(np.int64)))
    rows, item, wave = rows[order], item[order], wave[order]
    text = pa.concat_arrays([t if isinstance(t, pa.Array) else t.combine_chunks() for t in texts])
    text = text.take(pa.array(order)).to_pylist()
    segments = {s: codes[rows].astype(np.int32) for s, codes in responses.segments.items()}
    outcome = q.outcomes.overall[0]
    score = (responses.column(outcome)[rows].astype(np.float32) if outcome in responses.items
             else np.full(rows.size, np.nan, dtype=np.float32))
    complained = np.full(rows.size, -1, dtype=np.int8)
    complaint = q.outcomes.complaint
    if complaint is not None and complaint.item in responses.items:
        answer = responses.column(complaint.item)[rows]
        yes = _yes_values(q)
        complained = np.where(np.isnan(answer), -1, np.isin(answer, yes)).astype(np.int8)
    recommend_id = q.outcomes.recommend
    recommend = (responses.column(recommend_id)[rows].astype(np.float32) if recommend_id in responses.items
                 else np.full(rows.size, np.nan, dtype=np.float32))
    ids = responses.ids
    ids = ids.take(pa.array(rows)).to_pylist() if hasattr(ids, "take") else [ids[r] for r in rows.tolist()]
    return CommentTable(items, item, text, wave, segments, score, complained, [str(i) for i in ids],
                        recommend), rows


def take(table: CommentTable, index: np.ndarray) -> CommentTable:
    """The comments at ``index``, in that order."""
    positions = index.tolist()
    return CommentTable(table.items, table.item[index], [table.text[k] for k in positions], table.wave[index],
                        {s: codes[index] for s, codes in table.segments.items()}, table.score[index],
                        table.complained[index], [table.ids[k] for k in positions] if table.ids else [],
                        table.recommend[index])


def concatenate(tables: list[CommentTable]) -> CommentTable:
    """The comments of every table (of the same items and segments), one table after the other."""
    first = tables[0]
    return CommentTable(first.items, np.concatenate([t.item for t in tables]), [x for t in tables for x in t.text],
                        np.concatenate([t.wave for t in tables]),
                        {s: np.concatenate([t.segments[s] for t in tables]) for s in first.segments},
                        np.concatenate([t.score for t in tables]), np.concatenate([t.complained for t in tables]),
                        [x for t in tables for x in t.ids], np.concatenate([t.recommend for t in tables]))


def _yes_values(q: Questionnaire) -> list[float]:
    """The stored values of the complaint item that mean 'complained' (text codes are stored as positions)."""
    complaint = q.outcomes.complaint
    assert complaint is not None
    return [q.stored_value(complaint.item, code) for code in complaint.yes]


def publish(table: CommentTable | None, labels: Labels, results: Results) -> list[Comment]:
    """The comments as result objects; the code of a suppressed unit is left out, and so is the wave of a
    comment whose wave, or whose unit in that wave, is suppressed."""
    with collector_paused():  # a quarter of a million small objects
        return _publish(table, labels, results)


def _publish(table: CommentTable | None, labels: Labels, results: Results) -> list[Comment]:
    from .results import Comment

    if table is None or not len(table):
        return []
    hidden: dict[str, set[int]] = {}
    for segment in results.segments:
        codes = labels.segments.get(segment.id, [])
        position = {code: k for k, code in enumerate(codes)}
        hidden[segment.id] = {position[u.key["unit"]] for u in segment.units
                              if u.suppressed and u.key.get("unit") in position}
    columns = []  # per segment: each comment's unit code, None where the unit is hidden
    for segment_id, codes in table.segments.items():
        names = np.array(labels.segments.get(segment_id, []) + [None], dtype=object)
        blocked = np.array(sorted(hidden.get(segment_id, set())), dtype=np.int64)
        index = np.where(np.isin(codes, blocked) | (codes < 0) | (codes >= len(names) - 1), len(names) - 1, codes)
        columns.append((segment_id, names[index].tolist()))
    if columns:
        ids = [segment_id for segment_id, _ in columns]
        units = [{s: code for s, code in zip(ids, row) if code is not None}
                 for row in zip(*(codes for _, codes in columns))]
    else:
        units = [{} for _ in range(len(table))]
    # the wave too is left out where it would pin the comment to a hidden group: a wave, or a shown
    # unit in that wave, with fewer respondents than the privacy minimum
    wave_index = {label: k for k, label in enumerate(labels.waves)}
    dropped = np.zeros(len(table), dtype=bool)
    hidden_waves = [wave_index[w.key["wave"]] for w in results.waves
                    if w.suppressed and w.key.get("wave") in wave_index]
    if hidden_waves:
        dropped |= np.isin(table.wave, hidden_waves)
    for segment in results.segments:
        codes = labels.segments.get(segment.id, [])
        position = {code: k for k, code in enumerate(codes)}
        cells = [(position[g.key["unit"]], wave_index[g.key["wave"]]) for g in segment.trend
                 if g.suppressed and g.key.get("unit") in position and g.key.get("wave") in wave_index]
        if cells and segment.id in table.segments:
            unit_codes = table.segments[segment.id].astype(np.int64)
            key = unit_codes * (len(labels.waves) + 1) + table.wave
            blocked_cells = [u * (len(labels.waves) + 1) + w for u, w in cells]
            shown_unit = ~np.isin(unit_codes, sorted(hidden.get(segment.id, set())))
            dropped |= np.isin(key, blocked_cells) & shown_unit
    waves = np.array(list(labels.waves) + [None], dtype=object)
    wave_labels = waves[np.where((table.wave >= 0) & ~dropped, table.wave, len(waves) - 1)].tolist()
    scores = [None if s != s else _whole(s) for s in table.score.tolist()]
    complained = [None if c < 0 else c == 1 for c in table.complained.tolist()]
    item_ids = np.array(table.items, dtype=object)[table.item].tolist() if table.items else []
    return list(map(Comment, item_ids, table.text, wave_labels, units, scores, complained))


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)
