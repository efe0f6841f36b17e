"""Tidy tables of the results, for CSV and spreadsheets: built column by column.

- ``metrics``: one row per (group, target, metric);
- ``distributions``: one row per (group, item), a column per scale point (% of answers);
- ``importance``: one row per (group, model, driver): importance, interval, weight, rank, quadrant;
- ``priorities``: one row per (group, driver) of each group's improvement plan;
- ``account``: the account of every row.

Text that came from respondents or data files (unit codes, reasons naming
ids) is untrusted: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return would run as a formula in Excel or LibreOffice, so such
text is prefixed with an apostrophe. Numbers stay numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .results import Group, Results

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_PATTERN = r"^[=+\-@\t\r]"
GROUP_COLUMNS = ("level", "segment", "unit", "unit_label", "parent", "wave", "flags")
METRIC_COLUMNS = GROUP_COLUMNS + ("kind", "target", "metric", "value", "ci_low", "ci_high", "base", "p")


def safe_cell(value: Any) -> Any:
    """A value safe to put in a spreadsheet cell (formula-looking text is neutralised)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _levels(results: Results) -> Iterator[tuple[str, Group]]:
    yield "total", results.total
    for group in results.waves:
        yield "wave", group
    for segment in results.segments:
        for group in segment.units:
            yield "segment", group
        for group in segment.trend:
            yield "segment-wave", group


def _group_cells(level: str, group: Group) -> tuple[Any, ...]:
    key = group.key
    return (level, key.get("segment", ""), key.get("unit", ""), group.label if level != "total" else "",
            key.get("parent", ""), key.get("wave", ""), " ".join(group.flags))


def metric_table(results: Results) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in METRIC_COLUMNS}
    group_lists = [columns[name] for name in GROUP_COLUMNS]
    kind_list, target_list, metric_list = columns["kind"], columns["target"], columns["metric"]
    value_list, low_list, high_list = columns["value"], columns["ci_low"], columns["ci_high"]
    base_list, p_list = columns["base"], columns["p"]
    for level, group in _levels(results):
        cells = _group_cells(level, group)
        for kind, section in (("headline", group.headline), ("factor", group.factors), ("item", group.items)):
            for target, metrics in section.items():
                for name, value in metrics.items():
                    if name == "distribution" or isinstance(value.value, list):
                        continue  # distributions have their own table (a hidden one too: value None)
                    for position, cell in enumerate(cells):
                        group_lists[position].append(cell)
                    kind_list.append(kind)
                    target_list.append(target)
                    metric_list.append(name)
                    value_list.append(value.value)
                    low_list.append(value.ci_low)
                    high_list.append(value.ci_high)
                    base_list.append(value.base)
                    p_list.append(value.p)
    return columns


def distribution_table(results: Results) -> dict[str, list[Any]]:
    """Per group and rating item: the % of answers at each scale point (columns named by the point)."""
    scales = {item.id: item.scale for item in results.items if item.scale}
    points = sorted({v for low, high in scales.values() for v in range(low, high + 1)})
    columns: dict[str, list[Any]] = {name: [] for name in (*GROUP_COLUMNS, "item", "base", *map(str, points))}
    for level, group in _levels(results):
        cells = _group_cells(level, group)
        for item_id, metrics in group.items.items():
            value = metrics.get("distribution")
            if value is None or item_id not in scales:
                continue
            for name, cell in zip(GROUP_COLUMNS, cells):
                columns[name].append(cell)
            columns["item"].append(item_id)
            columns["base"].append(value.base)
            low, high = scales[item_id]
            shares = value.value if isinstance(value.value, list) else []
            for point in points:
                offset = point - low
                columns[str(point)].append(shares[offset] if 0 <= offset < len(shares) and point <= high else None)
    return columns


IMPORTANCE_COLUMNS = ("model", "outcome", "method", "source", "model_base", "r2", "driver", "importance", "ci_low",
                      "ci_high", "weight", "rank", "tied", "performance", "quadrant")
PRIORITY_COLUMNS = ("priority", "driver_level", "driver", "factor", "importance", "weight", "performance", "gain",
                    "quadrant")


def importance_table(results: Results) -> dict[str, list[Any]]:
    """Every group's importance models, a row per driver (model ``index`` is the factors of the CSI)."""
    columns: dict[str, list[Any]] = {name: [] for name in (*GROUP_COLUMNS, *IMPORTANCE_COLUMNS)}
    for level, group in _levels(results):
        models = group.drivers
        if not models:
            continue
        cells = _group_cells(level, group)
        for node, model in [("index", models.get("factors")), *models.get("items", {}).items()]:
            if not model:
                continue
            for driver in model["drivers"]:
                for name, cell in zip(GROUP_COLUMNS, cells):
                    columns[name].append(cell)
                for name, value in (("model", node), ("outcome", model["outcome"]), ("method", model["method"]),
                                    ("source", model["source"]), ("model_base", model["base"]), ("r2", model["r2"]),
                                    ("driver", driver["id"])):
                    columns[name].append(value)
                for name in IMPORTANCE_COLUMNS[7:]:
                    columns[name].append(driver.get(name))
    return columns


def priority_table(results: Results) -> dict[str, list[Any]]:
    """Every group's improvement priorities, in order."""
    columns: dict[str, list[Any]] = {name: [] for name in (*GROUP_COLUMNS, *PRIORITY_COLUMNS)}
    for level, group in _levels(results):
        cells = _group_cells(level, group)
        for entry in group.drivers.get("priorities", []) if group.drivers else []:
            for name, cell in zip(GROUP_COLUMNS, cells):
                columns[name].append(cell)
            columns["driver_level"].append(entry["level"])
            columns["driver"].append(entry["id"])
            for name in ("priority", "factor", "importance", "weight", "performance", "gain", "quadrant"):
                columns[name].append(entry.get(name))
    return columns


LEAGUE_COLUMNS = ("unit", "unit_label", "parent", "base", "base_eff", "csi", "ci_low", "ci_high", "csi_equal",
                  "rank_csi", "rank_csi_equal", "rank_change", "vs_rest", "p", "significant", "flags")
ITEM_METRICS = ("mean", "sd", "score", "top_box", "bottom_box", "gap", "expectation_met")


def league_table(results: Results, segment_id: str) -> dict[str, list[Any]]:
    """A segment's units, one row each in results order: both CSIs, ranks, the test against the rest, flags."""
    columns: dict[str, list[Any]] = {name: [] for name in LEAGUE_COLUMNS}
    for group in results.segment(segment_id).units:
        csi = group.headline.get("csi", {}).get("csi")
        equal = group.headline.get("csi", {}).get("csi_equal")
        test = group.comparison.get("csi", {})
        row = (group.key.get("unit", ""), group.label, group.key.get("parent", ""), group.base, group.base_eff,
               csi.value if csi else None, csi.ci_low if csi else None, csi.ci_high if csi else None,
               equal.value if equal else None, group.ranks.get("csi"), group.ranks.get("csi_equal"),
               group.ranks.get("change"), test.get("difference"), test.get("p"),
               test.get("significant") if test else None, " ".join(group.flags))
        for name, value in zip(LEAGUE_COLUMNS, row):
            columns[name].append(value)
    return columns


def item_table(results: Results, group: Group | None = None) -> dict[str, list[Any]]:
    """One row per item of a group (the total by default): its label, factor, base and metrics."""
    group = group or results.total
    columns: dict[str, list[Any]] = {name: [] for name in ("item", "label", "factor", "type", "base", *ITEM_METRICS)}
    for info in results.items:
        metrics = group.items.get(info.id)
        if not metrics:
            continue
        bases = [v.base for v in metrics.values() if v.base is not None]
        for name, value in (("item", info.id), ("label", info.label), ("factor", info.factor or ""),
                            ("type", info.type), ("base", max(bases) if bases else None)):
            columns[name].append(value)
        for name in ITEM_METRICS:
            value = metrics.get(name)
            columns[name].append(value.value if value is not None else None)
    return columns


def account_table(results: Results) -> dict[str, list[Any]]:
    rows: list[tuple[str, str, Any]] = []
    account = results.account
    for key in ("rows_read", "rows_used", "rows_excluded", "answers_set_missing"):
        rows.append((key, "", account.get(key)))
    for reason, count in account.get("excluded_by_reason", {}).items():
        rows.append(("excluded", reason, count))
    for rule, count in account.get("findings_by_rule", {}).items():
        rows.append(("finding", rule, count))
    for check, count in account.get("flagged", {}).items():
        rows.append(("flagged", check, count))
    for name, counts in account.get("files", {}).items():
        for measure, count in counts.items():
            rows.append((f"file {measure}", name, count))
    return {"measure": [r[0] for r in rows], "detail": [r[1] for r in rows], "count": [r[2] for r in rows]}


def exclusion_table(results: Results) -> dict[str, list[Any]]:
    names = ("file", "row", "column", "reason", "rule", "kind")
    return {name: [e.get(name) for e in results.exclusions] for name in names}


BANNER_COLUMNS = ("banner", "row_kind", "row", "row_label", "statistic", "column", "column_label", "block", "letter",
                  "value", "base", "letters", "flags")


def banner_table(results: Results) -> dict[str, list[Any]]:
    """One row per (banner, row, statistic, column): the value, its base and its significance letters; the
    columns' own bases are the rows with statistic ``respondents`` and ``weighted``."""
    columns: dict[str, list[Any]] = {name: [] for name in BANNER_COLUMNS}

    def add(*values: Any) -> None:
        for name, value in zip(BANNER_COLUMNS, values):
            columns[name].append(value)

    for banner in results.banners:
        heads = banner["columns"]
        for head in heads:
            for statistic, value in (("respondents", head["base"]), ("weighted", head["base_weighted"])):
                add(banner["id"], "column", "", "", statistic, head["key"], head["label"], head["block"],
                    head["letter"] or "", value, head["base"], "", " ".join(head["flags"]))
        for row in banner["rows"]:
            for head, cell in zip(heads, row["cells"]):
                add(banner["id"], row["kind"], row["id"], row["label"], row["statistic"], head["key"], head["label"],
                    head["block"], head["letter"] or "", cell["value"], cell["base"], cell["letters"],
                    " ".join(cell["flags"]))
    return columns


def banner_grid(banner: dict[str, Any], base_labels: tuple[str, str] = ("Base (respondents)", "Base (weighted)")
                ) -> dict[str, list[Any]]:
    """A banner as its crosstab: a row per table row (the bases first), per banner column its values and, for a
    tested column, its letters beside them (header ``sig (A)``)."""
    heads = banner["columns"]
    grid: dict[str, list[Any]] = {"row": list(base_labels), "statistic": ["", ""]}
    for row in banner["rows"]:
        grid["row"].append(row["label"])
        grid["statistic"].append(row["statistic"])
    for position, head in enumerate(heads):
        label = safe_cell(head["label"])  # a header is data text too (a unit or group label)
        name = f"{label} ({head['letter']})" if head["letter"] else label
        grid[name] = [head["base"], head["base_weighted"]] + [row["cells"][position]["value"] for row in banner["rows"]]
        if head["letter"]:
            grid[f"sig ({head['letter']})"] = ["", ""] + [row["cells"][position]["letters"] for row in banner["rows"]]
    return grid


def to_arrow(columns: dict[str, list[Any]]) -> Any:
    """The table as Arrow, with formula-looking text neutralised in every text column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = {}
    for name, values in columns.items():
        array = pa.array(values) if values else pa.array([], type=pa.string())
        if pa.types.is_null(array.type):
            array = array.cast(pa.string())
        if pa.types.is_string(array.type):
            risky = pc.fill_null(pc.match_substring_regex(array, FORMULA_PATTERN), False)
            if pc.any(risky).as_py():
                array = pc.if_else(risky, pc.binary_join_element_wise("'", array, ""), array)
        arrays[name] = array
    return pa.table(arrays)
