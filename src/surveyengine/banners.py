"""Banner tables (crosstabs): rows of items, factors and the CSI by columns of units, waves or answers.

Every column is a merge of cells: segment units and waves merge the study's cells, answers of a
question merge the banner cells of that question (``stats.banner_cells``, computed in the same pass
only for questions that a banner declares). Nothing here reads response rows.

Significance letters, as SPSS Custom Tables and UNICOM Intelligence (Dimensions) show them: each
tested column has a letter; a cell lists the letters of the columns of its block that it is
significantly higher than. Only columns of one block are compared (columns of different blocks,
and the total, share respondents). Means (an item's mean, a factor score, the CSI) are compared by
Student's t with the pooled variance of the two columns, on effective bases (Kish) and weighted
variances; shares (top box, bottom box) by the pooled z test of two proportions on effective bases.
A column below the privacy minimum is hidden (and, when it is the only one of its block, the next
smallest too); a cell resting on fewer respondents than the study's ``min_base`` is shown, flagged
and not tested. See docs/banners.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError
from .estimates import pooled_t, two_proportions
from .results import clean_array
from .stats import FACTOR_PREFIX, CellStats, StatsPlan, answer_slots
from .stats.plan import MAX_DISCRETE_VALUES
from .views import Labels, View

if TYPE_CHECKING:
    from .model import Banner, BannerColumns, Questionnaire
    from .results import Results
    from .stats import StudyStats
    from .study import Study

MEANS = ("mean",)
SHARES = ("top_box", "bottom_box")


def banner_questions(study: Study, plan: StatsPlan) -> list[str]:
    """The questions whose answers make banner columns, in the order the banners name them."""
    questions: list[str] = []
    for banner in study.config.banners:
        for block in banner.columns:
            if block.question is None or block.question in questions:
                continue
            if block.question not in plan.items:
                raise DataError(f"banner '{banner.id}': question '{block.question}' has no column in the data",
                                str(study.config_path))
            if plan.items.index(block.question) not in plan.discrete:
                raise DataError(f"banner '{banner.id}': the answer codes of '{block.question}' span more than "
                                f"{MAX_DISCRETE_VALUES} values, too many for banner columns", str(study.config_path))
            questions.append(block.question)
    return questions


def letter(position: int) -> str:
    """A, B, ..., Z, AA, AB, ...: the letter of the tested column at ``position``."""
    out = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


@dataclass
class _Block:
    label: str
    cells: CellStats  # one cell per column
    labels: list[str]
    keys: list[str]
    hidden: list[bool]  # hidden whatever the base: units the results suppress


@dataclass
class _Row:
    kind: str  # "csi", "factor" or "item"
    id: str
    label: str
    variable: int | None  # the moment variable (None for the CSI)
    discrete: int | None  # the frequency table (rating items)
    top: int = 0  # slots counted in the top box and the bottom box
    bottom: int = 0
    points: int = 0


def _merge(cells: CellStats, code_of_cell: np.ndarray, codes: int, columns: list[list[int]]) -> CellStats:
    """One cell per column: the cells whose code is one of the column's codes, added."""
    column_of_code = np.full(codes + 1, len(columns), dtype=np.int64)
    for column, members in enumerate(columns):
        column_of_code[members] = column
    keys = column_of_code[np.where(code_of_cell >= 0, code_of_cell, codes)]
    merged = cells.group(keys, len(columns) + 1)
    return merged.select(np.arange(len(columns) + 1) < len(columns))


def _code_positions(texts: list[str], codes: tuple[Any, ...]) -> list[int]:
    return [texts.index(str(code)) for code in codes if str(code) in texts]


def _block(block: BannerColumns, q: Questionnaire, stats: StudyStats, labels: Labels, results: Results,
           language: str) -> _Block:
    """One block of columns, each column a merge of cells."""
    if block.segment is not None:
        return _segment_block(block, q, stats, labels, results, language)
    if block.wave:
        return _wave_block(block, q, stats, labels, language)
    return _question_block(block, q, stats, language)


def _segment_block(block: BannerColumns, q: Questionnaire, stats: StudyStats, labels: Labels, results: Results,
                   language: str) -> _Block:
    cells = stats.cells
    segment = next(s for s in q.segments if s.id == block.segment)
    texts = labels.segments[segment.id]  # unit codes, in code order
    units = {u.key["unit"]: u for u in results.segment(segment.id).units}
    if block.groups:
        columns = [_code_positions(texts, g.codes) for g in block.groups]
        names = [q.text(g.label, language) for g in block.groups]
    else:
        columns = [[k] for k in range(len(texts))]
        names = [units[t].label if t in units else t for t in texts]
    # a unit the report suppresses (complementary suppression too) stays hidden here, whatever its base
    hidden = [len(c) == 1 and texts[c[0]] in units and units[texts[c[0]]].suppressed for c in columns]
    keys = [f"{segment.id}:" + "+".join(texts[k] for k in c) for c in columns]
    merged = _merge(cells, cells.segment_codes[segment.id].astype(np.int64), len(texts), columns)
    return _Block(q.text(block.label or segment.label, language), merged, names, keys, hidden)


def _wave_block(block: BannerColumns, q: Questionnaire, stats: StudyStats, labels: Labels, language: str) -> _Block:
    cells = stats.cells
    texts = labels.waves  # periods, in order
    if block.groups:
        columns = [_code_positions(texts, g.codes) for g in block.groups]
        names = [q.text(g.label, language) for g in block.groups]
    else:
        shown = range(len(texts))[-block.last:] if block.last else range(len(texts))
        columns, names = [[k] for k in shown], [texts[k] for k in shown]
    label = block.label or (q.wave.label if q.wave is not None else None) or "Wave"
    keys = ["wave:" + "+".join(texts[k] for k in c) for c in columns]
    merged = _merge(cells, cells.wave_codes.astype(np.int64), len(texts), columns)
    return _Block(q.text(label, language), merged, names, keys, [False] * len(columns))


def _question_block(block: BannerColumns, q: Questionnaire, stats: StudyStats, language: str) -> _Block:
    item = q.item(block.question)  # type: ignore[arg-type]
    plan = stats.cells.plan
    assert plan is not None
    low, slots = answer_slots(plan, item.id)
    if item.question_type == "rating":
        scale = q.scales[item.scale]  # type: ignore[index]
        options: dict[Any, Any] = {point: scale.labels.get(point) for point in range(scale.min, scale.max + 1)}
    else:
        options = dict(q.choices[item.choices].options)  # type: ignore[index]

    def slot(code: Any) -> int:  # the banner cell of an answer code (text codes are stored as positions)
        return int(q.stored_value(item.id, code)) - low

    if block.groups:
        columns = [[slot(c) for c in g.codes] for g in block.groups]
        names = [q.text(g.label, language) for g in block.groups]
    else:
        columns = [[slot(code)] for code in options]
        names = [f"{code} {q.text(text, language)}" if item.question_type == "rating" and text else
                 q.text(text, language) if text else str(code) for code, text in options.items()]
    merged = _merge(stats.banners[item.id], np.arange(slots, dtype=np.int64), slots, columns)
    keys = [f"{item.id}:" + "+".join(str(low + k) for k in c) for c in columns]
    return _Block(q.text(block.label or item.text, language), merged, names, keys, [False] * len(columns))


def _rows(banner: Banner, q: Questionnaire, plan: StatsPlan, results: Results) -> list[_Row]:
    factor_label = {f.id: f.label for f in results.factors}
    item_label = {i.id: i.label for i in results.items}
    wanted = list(banner.rows)
    if not wanted:
        wanted = ["csi"]
        for factor in q.walk_factors():
            wanted.append(factor.id)
            wanted += [i.id for i in factor.items if i.question_type == "rating"]
        wanted += [o for o in (*q.outcomes.overall, q.outcomes.recommend, q.outcomes.repurchase)
                   if o is not None and q.item(o).question_type == "rating"]
    rows = []
    for row in dict.fromkeys(wanted):
        if row == "csi":
            rows.append(_Row("csi", "csi", "CSI", None, None))
        elif row in factor_label:
            name = FACTOR_PREFIX + row
            if name in plan.variables:
                rows.append(_Row("factor", row, factor_label[row], plan.variable(name), None))
        elif row in plan.items:
            k = plan.items.index(row)
            item = q.item(row)
            scale = q.scales[item.scale]  # type: ignore[index]
            discrete = plan.discrete.index(k) if k in plan.discrete else None
            rows.append(_Row("item", row, item_label.get(row, row), k, discrete, scale.top_box_size,
                             scale.bottom_box_size, scale.points))
    return rows


def _measures(cells: CellStats, rows: list[_Row], statistics: tuple[str, ...], drivers: list[str],
              weights: np.ndarray) -> list[tuple[_Row, str, dict[str, np.ndarray]]]:
    """Per (row, statistic): per column the value, base and what its test needs."""
    from .scoring import csi

    mean, variance, effective = cells.mean(), cells.variance(), cells.effective_base()
    wants_csi = drivers and any(row.kind == "csi" for row in rows)
    index = csi(View("banner", cells, None, [""] * cells.cells), drivers, weights) if wants_csi else None
    out = []
    for row in rows:
        if row.kind == "csi":
            if index is None:
                continue
            moments = {"value": index["value"], "variance": index["variance"], "n_eff": index["n_eff"],
                       "base": index["base"]}
        else:
            v = row.variable
            moments = {"value": mean[:, v], "variance": variance[:, v], "n_eff": effective[:, v],
                       "base": cells.count[:, v]}
        for statistic in statistics:
            if statistic == "mean":
                out.append((row, "mean", moments))
            elif statistic == "base":
                out.append((row, "base", {"value": moments["base"], "base": moments["base"]}))
            elif row.discrete is not None:
                freq = cells.freq[:, row.discrete, :row.points]
                answered = freq.sum(axis=1)
                box = freq[:, row.points - row.top:] if statistic == "top_box" else freq[:, :row.bottom]
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = np.where(answered > 0, box.sum(axis=1) / np.where(answered > 0, answered, 1), np.nan)
                out.append((row, statistic, {"value": share * 100, "share": share, "n_eff": moments["n_eff"],
                                             "base": moments["base"]}))
    return out


def _adjusted(p: np.ndarray, correction: str) -> np.ndarray:
    """The p-values of one family (a row's pairs within a block), adjusted for their number."""
    m = p.size
    if correction == "bonferroni":
        return np.minimum(p * m, 1.0)
    if correction == "benjamini-hochberg" and m:
        order = np.argsort(p)
        ranked = p[order] * m / np.arange(1, m + 1)
        adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
        out = np.empty(m)
        out[order] = np.minimum(adjusted, 1.0)
        return out
    return p


def pair_p_values(statistic: str, a: dict[str, np.ndarray], i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Two-sided p-values of columns ``i`` against columns ``j`` for one row's measure ``a``."""
    if statistic in SHARES:
        e = a["n_eff"]
        return two_proportions(a["share"][i] * e[i], e[i], a["share"][j] * e[j], e[j])
    return pooled_t(a["value"][i], a["variance"][i], a["n_eff"][i], a["value"][j], a["variance"][j], a["n_eff"][j])


def tabulate(study: Study, stats: StudyStats, labels: Labels, results: Results, drivers: list[str],
             weights: np.ndarray) -> list[dict[str, Any]]:
    """Every banner of the study config as a table of columns and rows (what ``results.banners`` holds)."""
    q = study.questionnaire
    plan = stats.cells.plan
    if plan is None:
        return []
    language = study.language
    min_base, privacy_min = q.index.min_base, q.index.privacy_min
    weighted = q.weights is not None
    tables = []
    for banner in study.config.banners:
        blocks = [_block(block, q, stats, labels, results, language) for block in banner.columns]
        if banner.total:
            total = _Block("", stats.cells.total(), ["Total"], ["total"], [False])
            blocks.insert(0, total)
        rows = _rows(banner, q, plan, results)
        columns: list[dict[str, Any]] = []
        measures: list[list[tuple[_Row, str, dict[str, np.ndarray]]]] = []
        tested = 0
        for b, block in enumerate(blocks):
            is_total = banner.total and b == 0
            n, sum_w = block.cells.n, block.cells.sum_w
            with np.errstate(invalid="ignore", divide="ignore"):
                effective = np.where(block.cells.sum_w2 > 0, sum_w**2 / block.cells.sum_w2, 0.0)
            hidden = [h or count < privacy_min for h, count in zip(block.hidden, n.tolist())]
            if hidden.count(True) == 1 and len(hidden) > 1:  # complementary: the hidden one cannot be recovered
                visible = sorted((count, k) for k, count in enumerate(n.tolist()) if not hidden[k])
                if visible:
                    hidden[visible[0][1]] = True
            for k in range(len(block.labels)):
                flags = ["suppressed"] if hidden[k] else ["small-base"] if n[k] < min_base else []
                columns.append({"key": block.keys[k], "label": block.labels[k], "block": b,
                                "letter": None if is_total else letter(tested),
                                "base": None if hidden[k] else int(n[k]),
                                "base_weighted": None if hidden[k] else clean_array(sum_w[k:k + 1])[0],
                                "base_eff": None if hidden[k] else clean_array(effective[k:k + 1])[0],
                                "flags": flags})
                tested += 0 if is_total else 1
            measures.append(_measures(block.cells, rows, banner.statistics, drivers, weights))
        table_rows = _table_rows(measures, blocks, columns, banner, min_base, privacy_min)
        title = banner.title and q.text(banner.title, language) or " · ".join(
            block.label for block in blocks if block.label)
        tables.append({"id": banner.id, "title": title, "weighted": weighted,
                       "significance": {"level": banner.significance.level,
                                        "correction": banner.significance.correction,
                                        "min_base": min_base, "privacy_min": privacy_min},
                       "blocks": [{"label": block.label, "columns": len(block.labels), "total": banner.total and b == 0}
                                  for b, block in enumerate(blocks)],
                       "columns": columns, "rows": table_rows})
    return tables


def _table_rows(measures: list[list[tuple[_Row, str, dict[str, np.ndarray]]]], blocks: list[_Block],
                columns: list[dict[str, Any]], banner: Banner, min_base: int, privacy_min: int
                ) -> list[dict[str, Any]]:
    alpha = 1 - banner.significance.level
    starts = np.cumsum([0] + [len(b.labels) for b in blocks])
    out = []
    for r, (row, statistic, _) in enumerate(measures[0]):
        cells: list[dict[str, Any]] = []
        for b, block in enumerate(blocks):
            measure = measures[b][r][2]
            values, bases = measure["value"], measure["base"]
            shown = np.array(["suppressed" not in columns[starts[b] + k]["flags"] for k in range(len(block.labels))])
            shown &= bases >= privacy_min
            small = bases < min_base
            value_list, base_list = clean_array(np.where(shown, values, np.nan)), clean_array(np.where(shown, bases,
                                                                                                       np.nan))
            letters: list[list[str]] = [[] for _ in block.labels]
            is_total = banner.total and b == 0
            if statistic != "base" and not is_total:
                testable = np.flatnonzero(shown & ~small & np.isfinite(values))
                i, j = np.triu_indices(testable.size, k=1)
                i, j = testable[i], testable[j]
                if i.size:
                    p = _adjusted(np.nan_to_num(pair_p_values(statistic, measure, i, j), nan=1.0),
                                  banner.significance.correction)
                    for a, c, significant in zip(i.tolist(), j.tolist(), (p < alpha).tolist()):
                        if significant:
                            high, low = (a, c) if values[a] > values[c] else (c, a)
                            letters[high].append(columns[starts[b] + low]["letter"])
            for k in range(len(block.labels)):
                flags = []
                if not shown[k]:
                    flags.append("suppressed")
                elif small[k]:
                    flags.append("small-base")
                cells.append({"value": value_list[k], "base": base_list[k],
                              "letters": "".join(sorted(letters[k], key=lambda x: (len(x), x))), "flags": flags})
        out.append({"kind": row.kind, "id": row.id, "label": row.label, "statistic": statistic, "cells": cells})
    return out
