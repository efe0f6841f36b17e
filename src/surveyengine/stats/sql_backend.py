"""The statistics pass as SQL, for a database engine (the definition is in ``plan.py``).

Two ``GROUP BY`` queries, whatever the number of segments, waves and items: one per
cell (moments, frequencies, gaps, complaint splits and the factor block's
cross-products), one per unit (the item block's cross-products). Both read a
relation with one row per used respondent and the columns

- ``s0, s1, ...``: each segment's unit label (text), ``wave``: the wave label (text), when the study has one;
- ``w``: the respondent weight (DOUBLE; 1 when unweighted); ``id``: the respondent id (text);
- ``x0, x1, ...``: each numeric item's answer (DOUBLE holding the float32 value; NULL when missing).

The SQL is written once, in DuckDB's dialect, and transpiled by sqlglot for other engines. Each aggregate
is a plain ``SUM`` of a product of per-row columns, the form that every engine measured runs fastest (no
``FILTER``, no ``CASE`` inside an aggregate): as in the numpy pass, each variable gets its zero-filled value
``z``, its answered indicator ``m``, and their weighted forms, computed once per row in a subquery.

Factor scores are computed per row in FLOAT (float32) arithmetic, in the numpy pass's order of operations,
so they equal its scores bit for bit; every sum is accumulated in DOUBLE. The numpy pass accumulates its
cross-products from float32 products, so covariances involving factor scores or weights agree to about
1e-7 relative, while counts and sums of whole answers agree exactly.

A third query, when the plan has replicate groups (the nonparametric bootstrap of the total), sums the
replicate block per group; a respondent's group is the first byte of ``md5(id)`` modulo the number of
groups, in SQL as in numpy (``numpy_backend.replicate_groups``), so every backend forms the same groups.

An engine that runs in this process (DuckDB) need not aggregate in SQL at all: ``stream_stats`` reads the
used rows as Arrow batches and runs the numpy pass on each, merging the batches by addition. On 2 cores
DuckDB's grouped ``SUM`` runs at tens of millions of row-aggregates per second, and the statistics set of a
48-item study is about 9,000 aggregates per row (7,252 of them the per-unit cross-products), which numpy
forms as a few matrix products and ``bincount`` calls (docs/warehouse.md has the measurements).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .cells import CellStats, UnitCross
from .numpy_backend import StudyStats, with_answer_slots
from .plan import StatsPlan, answer_slots, banner_plan


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else f"{float(value):.1f}"


@dataclass(frozen=True)
class Relation:
    """The rows the pass reads (a table name or a parenthesised query) and their key columns."""

    sql: str
    segments: int  # number of segment label columns s0..
    wave: bool  # has a 'wave' label column


def _keys(rel: Relation, wave: bool = True) -> list[str]:
    return [f"s{i}" for i in range(rel.segments)] + (["wave"] if rel.wave and wave else [])


def factor_expressions(plan: StatsPlan) -> list[str]:
    """Per factor: its score in FLOAT arithmetic, as numpy computes it (NULL when no item is answered)."""
    out = []
    for factor in plan.factors:
        total = "CAST(0 AS FLOAT)"
        answered = []
        for k, low, high in zip(factor.items, factor.low, factor.high):
            scale = repr(float(np.float32(100.0 / (high - low))))
            term = (f"COALESCE((CAST(x{k} AS FLOAT) - CAST({_number(low)} AS FLOAT)) * CAST({scale} AS FLOAT), "
                    f"CAST(0 AS FLOAT))")
            total = f"({total} + {term})"
            answered.append(f"(CASE WHEN x{k} IS NULL THEN 0 ELSE 1 END)")
        count = " + ".join(answered)
        out.append(f"CASE WHEN ({count}) > 0 THEN CAST({total} / CAST({count} AS FLOAT) AS DOUBLE) END")
    return out


def replicate_sql(groups: int) -> str:
    """A respondent's replicate group from their ``id``: the first byte of its MD5 (two hex digits) modulo
    ``groups`` (see ``numpy_backend.replicate_groups``); MD5, SUBSTRING and STRPOS exist in every engine."""
    digits = "'0123456789abcdef'"
    high, low = (f"(STRPOS({digits}, SUBSTRING(MD5(id), {k}, 1)) - 1)" for k in (1, 2))
    return f"(({high} * 16 + {low}) % {groups})"


def _rows(plan: StatsPlan, rel: Relation, variables: list[int], keys: list[str] | None = None) -> str:
    """Per row: keys, w, and for each needed variable z (zero-filled), m (answered), wz = w*z, wm = w*m."""
    items = len(plan.items)
    scores = factor_expressions(plan)
    keys = _keys(rel) if keys is None else keys
    inner = ", ".join(keys + ["w"] + [f"x{k}" for k in range(items)]
                      + [f"{expr} AS x{items + f}" for f, expr in enumerate(scores)])
    cols = keys + ["w"]
    for v in variables:
        cols += [f"COALESCE(x{v}, 0.0) AS z{v}", f"(CASE WHEN x{v} IS NULL THEN 0.0 ELSE 1.0 END) AS m{v}",
                 f"w * COALESCE(x{v}, 0.0) AS wz{v}", f"(CASE WHEN x{v} IS NULL THEN 0.0 ELSE w END) AS wm{v}"]
    extra = [f"x{k}" for k in _raw_needed(plan)]
    return f"SELECT {', '.join(cols + extra)} FROM (SELECT {inner} FROM {rel.sql} AS used_rows) AS scored"


def _raw_needed(plan: StatsPlan) -> list[int]:
    """Items read as values (frequencies, gaps, complaint splits), besides their z/m columns."""
    needed = set(plan.discrete) | {k for pair in plan.gaps for k in pair} | set(plan.outcomes)
    if plan.complaint is not None:
        needed.add(plan.complaint[0])
    return sorted(needed)


PACK = 1000  # aggregates per array column: engines cap the number of columns (PostgreSQL: 1664)


def _packed(keys: list[str], aggregates: list[str], source: str) -> str:
    """SELECT keys and the aggregates, packed into DOUBLE arrays ``p0, p1, ...`` in order."""
    exprs = [a.rsplit(" AS ", 1)[0] for a in aggregates]
    packs = [f"[{', '.join(f'CAST({e} AS DOUBLE)' for e in exprs[i:i + PACK])}] AS p{i // PACK}"
             for i in range(0, len(exprs), PACK)]
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    return f"SELECT {', '.join(keys + packs)} FROM ({source}) AS r{group}"


def _unpack(table: Any, aggregates: list[str]) -> dict[str, np.ndarray]:
    """Each aggregate's column (one value per result row) by its name."""
    out: dict[str, np.ndarray] = {}
    names = [a.rsplit(" AS ", 1)[1] for a in aggregates]
    for i in range(0, len(names), PACK):
        column = table.column(f"p{i // PACK}").combine_chunks()
        chunk = names[i:i + PACK]
        values = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        values = np.nan_to_num(values.reshape(table.num_rows, len(chunk)), nan=0.0)  # SUM over no rows is NULL
        out.update({name: values[:, j] for j, name in enumerate(chunk)})
    return out


def _cross(block: tuple[int, ...], prefix: str) -> list[str]:
    """The four pairwise cross-products of a block; xx and mm are symmetric (upper triangle only)."""
    out = []
    for a, i in enumerate(block):
        for b, j in enumerate(block):
            if b >= a:
                out.append(f"SUM(z{i} * wz{j}) AS {prefix}xx_{a}_{b}")
                out.append(f"SUM(m{i} * wm{j}) AS {prefix}mm_{a}_{b}")
            out.append(f"SUM(z{i} * wm{j}) AS {prefix}xm_{a}_{b}")
            out.append(f"SUM(z{i} * z{i} * wm{j}) AS {prefix}x2m_{a}_{b}")
    return out


def cell_query(plan: StatsPlan, rel: Relation) -> str:
    """One row per cell: every cell statistic of the plan."""
    return _packed(_keys(rel), cell_aggregates(plan), _rows(plan, rel, list(range(len(plan.variables)))))


def cell_aggregates(plan: StatsPlan) -> list[str]:
    variables = len(plan.variables)
    aggregates = ["COUNT(*) AS n", "SUM(w) AS sum_w", "SUM(w * w) AS sum_w2"]
    for v in range(variables):
        aggregates += [f"SUM(m{v}) AS count_{v}", f"SUM(wm{v}) AS wsum_{v}", f"SUM(w * wm{v}) AS wsum2_{v}",
                       f"SUM(wz{v}) AS sum_{v}", f"SUM(wz{v} * z{v}) AS sumsq_{v}"]
    for d, (k, low) in enumerate(zip(plan.discrete, plan.discrete_low)):
        for slot in range(plan.values):
            hit = f"CAST(x{k} = {low + slot} AS INTEGER)"
            aggregates += [f"SUM(w * {hit}) AS freq_{d}_{slot}", f"SUM({hit}) AS freqn_{d}_{slot}"]
    for g, (p, e) in enumerate(plan.gaps):
        both = f"(m{p} * wm{e})"  # w where both are answered
        gap = f"(z{p} - z{e})"
        aggregates += [f"SUM(m{p} * m{e}) AS gap_count_{g}", f"SUM({both}) AS gap_wsum_{g}",
                       f"SUM({both} * {both}) AS gap_wsum2_{g}", f"SUM({both} * {gap}) AS gap_sum_{g}",
                       f"SUM({both} * {gap} * {gap}) AS gap_sumsq_{g}",
                       f"SUM({both} * CAST(x{p} >= x{e} AS INTEGER)) AS gap_met_{g}"]
    if plan.complaint is not None:
        k, yes = plan.complaint
        codes = ", ".join(_number(c) for c in yes)
        groups = [f"(CASE WHEN x{k} IN ({codes}) THEN 1.0 ELSE 0.0 END)",
                  f"(CASE WHEN x{k} IS NOT NULL AND x{k} NOT IN ({codes}) THEN 1.0 ELSE 0.0 END)"]
        for g, member in enumerate(groups):
            for o, v in enumerate(plan.outcomes):
                wp = f"({member} * wm{v})"
                aggregates += [f"SUM({member} * m{v}) AS split_count_{g}_{o}", f"SUM({wp}) AS split_wsum_{g}_{o}",
                               f"SUM({wp} * {wp}) AS split_wsum2_{g}_{o}", f"SUM({wp} * z{v}) AS split_sum_{g}_{o}",
                               f"SUM({wp} * z{v} * z{v}) AS split_sumsq_{g}_{o}"]
    return aggregates + _cross(plan.factor_block, "f")


def unit_query(plan: StatsPlan, rel: Relation) -> str | None:
    """One row per unit (segment units pooled over waves): the item block's cross-products."""
    if not plan.item_block:
        return None
    return _packed(_keys(rel, wave=False), _cross(plan.item_block, "u"),
                   _rows(plan, rel, sorted(set(plan.item_block))))


def replicate_query(plan: StatsPlan, rel: Relation) -> str | None:
    """One row per replicate group: the replicate block's cross-products."""
    if not plan.replicates or not plan.replicate_block:
        return None
    grouped = Relation(f"(SELECT *, {replicate_sql(plan.replicates)} AS g FROM {rel.sql} AS grouped_rows)",
                       rel.segments, rel.wave)
    return _packed(["g"], _cross(plan.replicate_block, "r"),
                   _rows(plan, grouped, sorted(set(plan.replicate_block)), keys=["g"]))


def _column(table: dict[str, np.ndarray], name: str, order: np.ndarray) -> np.ndarray:
    return table[name][order]


def _block(table: dict[str, np.ndarray], block: tuple[int, ...], prefix: str, order: np.ndarray) -> dict[str, np.ndarray]:
    size = len(block)
    out = {name: np.zeros((order.size, size, size)) for name in ("xx", "xm", "x2m", "mm")}
    for a in range(size):
        for b in range(size):
            out["xm"][:, a, b] = _column(table, f"{prefix}xm_{a}_{b}", order)
            out["x2m"][:, a, b] = _column(table, f"{prefix}x2m_{a}_{b}", order)
            if b >= a:
                for name in ("xx", "mm"):
                    out[name][:, a, b] = out[name][:, b, a] = _column(table, f"{prefix}{name}_{a}_{b}", order)
    return out


def _labels(values: list[Any]) -> list[str]:
    return sorted({str(v) for v in values})


def to_stats(plan: StatsPlan, segment_ids: list[str], wave: bool, cells: Any, units: Any | None,
             replicates: Any | None = None) -> tuple[StudyStats, dict[str, list[str]], list[str]]:
    """The fetched query results (Arrow tables) as the numpy pass's StudyStats, with the label tables.

    Labels are sorted here, in Python, as the data layer sorts them (engines collate text differently);
    cells are numbered unit-major, units by their mixed-radix key, exactly as ``numpy_backend.cell_keys``.
    """
    segment_labels = {s: _labels(cells.column(f"s{i}").to_pylist()) for i, s in enumerate(segment_ids)}
    wave_labels = _labels(cells.column("wave").to_pylist()) if wave else []

    def unit_keys(table: Any) -> tuple[np.ndarray, np.ndarray]:
        key = np.zeros(table.num_rows, dtype=np.int64)
        codes = np.zeros((table.num_rows, len(segment_ids)), dtype=np.int64)
        for i, s in enumerate(segment_ids):
            position = {label: k for k, label in enumerate(segment_labels[s])}
            codes[:, i] = [position[str(v)] for v in table.column(f"s{i}").to_pylist()]
            key = key * len(segment_labels[s]) + codes[:, i]
        return key, codes

    cell_unit, cell_codes = unit_keys(cells)
    cell_values = _unpack(cells, cell_aggregates(plan))
    unit_values = _unpack(units, _cross(plan.item_block, "u")) if units is not None else {}
    wave_index = {label: k for k, label in enumerate(wave_labels)}
    cell_wave = (np.array([wave_index[str(v)] for v in cells.column("wave").to_pylist()], dtype=np.int64)
                 if wave else np.zeros(cells.num_rows, dtype=np.int64))
    order = np.lexsort((cell_wave, cell_unit))
    unit_key_sorted = cell_unit[order]
    _, unit_of_cell = np.unique(unit_key_sorted, return_inverse=True)
    variables = len(plan.variables)

    def matrix(name: str, width: int) -> np.ndarray:
        return np.stack([_column(cell_values, f"{name}_{v}", order) for v in range(width)], axis=1) if width else \
            np.zeros((order.size, 0))

    moments = {name: matrix(name, variables) for name in ("count", "wsum", "wsum2", "sum", "sumsq")}
    freq = np.zeros((order.size, len(plan.discrete), plan.values))
    freq_n = np.zeros_like(freq)
    for d in range(len(plan.discrete)):
        for slot in range(plan.values):
            freq[:, d, slot] = _column(cell_values, f"freq_{d}_{slot}", order)
            freq_n[:, d, slot] = _column(cell_values, f"freqn_{d}_{slot}", order)
    gaps = {name: matrix(name, len(plan.gaps)) for name in ("gap_count", "gap_wsum", "gap_wsum2", "gap_sum",
                                                           "gap_sumsq", "gap_met")}
    splits = {name: np.zeros((order.size, 2, len(plan.outcomes)))
              for name in ("split_count", "split_wsum", "split_wsum2", "split_sum", "split_sumsq")}
    if plan.complaint is not None:
        for name, values in splits.items():
            for g in range(2):
                for o in range(len(plan.outcomes)):
                    values[:, g, o] = _column(cell_values, f"{name}_{g}_{o}", order)
    cell_stats = CellStats(
        items=plan.items,
        segment_codes={s: cell_codes[order, i].astype(np.int32) for i, s in enumerate(segment_ids)},
        wave_codes=cell_wave[order].astype(np.int32),
        n=_column(cell_values, "n", order), sum_w=_column(cell_values, "sum_w", order), sum_w2=_column(cell_values, "sum_w2", order),
        plan=plan, freq=freq, freq_n=freq_n, **moments, **gaps, **splits,
        **_block(cell_values, plan.factor_block, "f", order))
    unit_cross = None
    if units is not None:
        key, codes = unit_keys(units)
        unit_order = np.argsort(key, kind="stable")
        unit_cross = UnitCross(plan.item_block, {s: codes[unit_order, i].astype(np.int32)
                                                 for i, s in enumerate(segment_ids)},
                               **_block(unit_values, plan.item_block, "u", unit_order))
    replicate_cross = None
    if replicates is not None:
        groups = np.array(replicates.column("g").to_pylist(), dtype=np.int64)
        fetched = _block(_unpack(replicates, _cross(plan.replicate_block, "r")), plan.replicate_block, "r",
                         np.arange(groups.size))
        full = {name: np.zeros((plan.replicates,) + block.shape[1:]) for name, block in fetched.items()}
        for name, block in fetched.items():
            full[name][groups] = block  # a group nobody fell into stays zero, as in numpy
        replicate_cross = UnitCross(plan.replicate_block, {}, **full)
    return (StudyStats(cell_stats, unit_cross, unit_of_cell.astype(np.int64), replicate_cross), segment_labels,
            wave_labels)


def banner_query(plan: StatsPlan, source: str, item_id: str) -> str:
    """One row per answer of ``item_id``: the banner cells (``plan.banner_plan``), from ``source``, a relation
    with the columns ``w`` and ``x0, x1, ...`` described above."""
    k = plan.items.index(item_id)
    answers = ", ".join(f"x{i}" for i in range(len(plan.items)))
    rel = Relation(f"(SELECT x{k} AS s0, w, {answers} FROM {source} AS b WHERE x{k} IS NOT NULL)", 1, False)
    return cell_query(banner_plan(plan), rel)


def banner_stats(plan: StatsPlan, item_id: str, table: Any) -> CellStats:
    """The fetched banner query as the numpy pass's banner cells: one cell per answer slot."""
    stats, labels, _ = to_stats(banner_plan(plan), [item_id], False, table, None)
    low, slots = answer_slots(plan, item_id)
    cells = stats.cells
    slot = np.array([round(float(labels[item_id][code])) - low for code in cells.segment_codes[item_id]],
                    dtype=np.int64)
    return with_answer_slots(cells, item_id, slot, slots)
