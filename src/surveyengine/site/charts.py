"""Chart geometry for the site's inline SVG charts: plain numbers, no markup.

Each function takes the values to draw (already computed: nothing here is a
statistic) and returns the coordinates a template macro in
``themes/default/templates/_charts.html`` turns into SVG, one macro per chart
type. Keeping the arithmetic here makes it testable and keeps the templates
free of it; keeping the markup in templates lets a theme restyle a chart
without touching Python. Coordinates are rounded to 0.1 px, so the output is
short and byte-identical from build to build.

Text is never measured (no fonts on a build server): widths are estimated
from the character count, a CJK character counting double, and long labels are
cut with an ellipsis (the full text is in the data table under every chart).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CHAR_WIDTH = 7.0  # px per Latin character at the charts' 13 px font; a wide (CJK) character counts double
QUADRANTS = ("concentrate-here", "keep-up", "low-priority", "possible-overkill")


def number(value: Any, digits: int = 1) -> str:
    """How the site writes a number: thousands separators, ``digits`` decimals for floats, '–' for none."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _r(value: float) -> float:
    """0.1 px: short, deterministic output."""
    return round(value + 0.0, 1) + 0.0


def text_units(text: str) -> int:
    """Width of ``text`` in Latin-character units: East Asian wide and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def fit(text: str, width: float) -> str:
    """``text`` cut (with an ellipsis) to about ``width`` px."""
    units = width / CHAR_WIDTH
    if text_units(text) <= units:
        return text
    out, used = [], 1
    for c in text:
        w = 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
        if used + w > units:
            break
        out.append(c)
        used += w
    return "".join(out).rstrip() + "…"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    # the round step whose number of intervals comes closest to ``count``
    step = min((m * power for m in (1, 2, 5, 10)),
               key=lambda st: (abs(math.ceil(high / st - 1e-9) - math.floor(low / st + 1e-9) - count), -st))
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    ticks = [round(k * step, 10) + 0.0 for k in range(first, last + 1)]
    return ticks


def domain(values: Sequence[float | None], *, floor: float | None = None, ceiling: float | None = None,
           pad: float = 0.0, minimum: float | None = None) -> tuple[float, float]:
    """The nice-rounded range of ``values`` (None ignored), widened to include ``floor``/``ceiling``;
    never below ``minimum`` (an importance axis does not go negative)."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    low = min(present, default=0.0)
    high = max(present, default=1.0)
    if floor is not None:
        low = min(low, floor)
    if ceiling is not None:
        high = max(high, ceiling)
    span = (high - low) or 1.0
    low, high = low - span * pad, high + span * pad
    if minimum is not None:
        low = max(low, minimum)
    ticks = nice_ticks(low, high)
    return (ticks[0], ticks[-1]) if ticks else (low, high)


def _scale(d0: float, d1: float, r0: float, r1: float) -> Any:
    span = (d1 - d0) or 1.0

    def to(value: float) -> float:
        return _r(r0 + (value - d0) / span * (r1 - r0))
    return to


# --------------------------------------------------------------------------- bars

@dataclass
class BarChart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    zero: float
    bars: list[dict[str, Any]]
    ticks: list[dict[str, Any]]
    reference: dict[str, Any] | None = None


def bars(rows: Sequence[dict[str, Any]], *, low: float | None = None, high: float | None = None,
         reference: float | None = None, reference_label: str = "", width: int = 720,
         label_width: int = 260, bar_height: int = 24, digits: int = 1) -> BarChart:
    """Horizontal bars, one per row ``{"label", "value", "ci_low", "ci_high", "flag"}``.

    The axis runs from ``low`` to ``high`` (default: the data's nice range, always
    including 0); negative values grow left from zero. Optional confidence
    whiskers, and a vertical ``reference`` line (an average).
    """
    values: list[float | None] = []
    for row in rows:
        values += [row.get("value"), row.get("ci_low"), row.get("ci_high")]
    lo, hi = domain(values + [reference], floor=0.0, ceiling=0.0)
    lo = lo if low is None else low
    hi = hi if high is None else high
    left, right = label_width + 4.0, width - 56.0
    x = _scale(lo, hi, left, right)
    zero = x(min(max(0.0, lo), hi))
    out = []
    for k, row in enumerate(rows):
        y = 6 + k * bar_height
        value = row.get("value")
        bar: dict[str, Any] = {"label": fit(str(row.get("label", "")), label_width - 8), "y": y,
                               "text_y": _r(y + bar_height * 0.62), "flag": row.get("flag") or "",
                               "value": value, "text": number(value, digits), "x": None, "w": None, "ci": None,
                               "row": row}
        if value is not None:
            end = x(min(max(value, lo), hi))
            bar["x"], bar["w"] = min(zero, end), _r(abs(end - zero))
            bar["h"] = bar_height - 8
            bar["bar_y"] = y + 4
            if row.get("ci_low") is not None and row.get("ci_high") is not None:
                bar["ci"] = (x(max(row["ci_low"], lo)), x(min(row["ci_high"], hi)), _r(y + bar_height / 2 - 1))
            # the value is written beyond the bar and its whisker
            outer_right = max(zero, end, bar["ci"][1] if bar["ci"] else zero)
            outer_left = min(zero, end, bar["ci"][0] if bar["ci"] else zero)
            bar["text_x"] = _r(outer_right + 5) if value >= 0 else _r(outer_left - 5)
            bar["anchor"] = "start" if value >= 0 else "end"
            if value < 0 and bar["text_x"] < left + 30:  # no room left of the bar: write it right of zero
                bar["text_x"], bar["anchor"] = _r(zero + 5), "start"
        out.append(bar)
    height = 6 + len(rows) * bar_height + 22
    ticks = [{"x": x(t), "label": _tick_label(t)} for t in nice_ticks(lo, hi) if lo <= t <= hi]
    ref = None
    if reference is not None and lo <= reference <= hi:
        ref = {"x": x(reference), "label": reference_label, "value": reference}
    return BarChart(width, height, left, right, zero, out, ticks, ref)


def _tick_label(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------- stacked distributions

@dataclass
class StackedChart:
    width: int
    height: int
    rows: list[dict[str, Any]]
    legend: list[dict[str, Any]]
    categories: int


def stacked(rows: Sequence[dict[str, Any]], categories: Sequence[str], *, width: int = 720,
            row_height: int = 40) -> StackedChart:
    """100% stacked bars, one per row ``{"label", "shares": [% per category, lowest first] or None}``.

    Each row gets a label line above its bar, so long question texts fit. Colour
    classes run ``c0`` (lowest) to ``c<n-1>`` (highest) on a diverging ramp.
    """
    n = len(categories)
    out = []
    for k, row in enumerate(rows):
        y = 4 + k * row_height
        segments = []
        shares = row.get("shares")
        if shares:
            total = sum(s for s in shares if s is not None) or 1.0
            position = 0.0
            for c, share in enumerate(shares):
                share = share or 0.0
                w = share / total * width
                if w > 0:
                    segments.append({"x": _r(position), "w": _r(w), "share": share, "c": _ramp(c, n),
                                     "category": categories[c] if c < len(categories) else str(c),
                                     "show": w >= 24, "text_x": _r(position + w / 2)})
                position += w
        out.append({"row": row, "label": fit(str(row.get("label", "")), width), "label_y": y + 12, "bar_y": y + 16,
                    "h": row_height - 20, "text_y": y + 16 + (row_height - 20) / 2 + 4, "segments": segments})
    legend = []
    x = 0.0
    legend_y = 4 + len(rows) * row_height + 6
    for c, name in enumerate(categories):
        label = fit(str(name), 150)
        legend.append({"x": _r(x), "y": legend_y, "c": _ramp(c, n), "label": label})
        x += 22 + text_units(label) * CHAR_WIDTH + 12
        if x > width - 60:
            x = 0.0
            legend_y += 18
    height = legend_y + 22
    return StackedChart(width, height, out, legend, n)


def _ramp(category: int, count: int) -> int:
    """Colour class 0-10 for category ``category`` of ``count``, spread over the diverging ramp."""
    if count <= 1:
        return 10
    return round(category / (count - 1) * 10)


# --------------------------------------------------------------------------- trend lines

@dataclass
class TrendChart:
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    labels: list[str]
    series: list[dict[str, Any]]
    x_labels: list[dict[str, Any]]
    ticks: list[dict[str, Any]]


def trend(labels: Sequence[str], series: Sequence[dict[str, Any]], *, low: float | None = None,
          high: float | None = None, width: int = 720, height: int = 240, digits: int = 1) -> TrendChart:
    """Lines over the periods ``labels``; each series ``{"name", "values": [v or None per period]}``.

    A missing value breaks the line (no interpolation across a hidden or empty
    period); a lone point is drawn as a dot. Flags in ``"flags"`` (per period)
    mark points, e.g. a small base.
    """
    values = [v for s in series for v in s["values"]]
    lo, hi = domain(values, pad=0.08)
    lo = lo if low is None else low
    hi = hi if high is None else high
    left, top, right, bottom = 44.0, 12.0, width - 12.0, height - 40.0
    n = len(labels)
    x = (lambda k: _r(left + (right - left) * (k + 0.5) / n)) if n else (lambda k: left)
    y = _scale(lo, hi, bottom, top)
    out = []
    for s_index, s in enumerate(series):
        points = []
        segments: list[list[tuple[float, float]]] = []
        current: list[tuple[float, float]] = []
        flags = s.get("flags") or [""] * n
        for k, v in enumerate(s["values"]):
            if v is None:
                if current:
                    segments.append(current)
                current = []
                continue
            point = (x(k), y(min(max(v, lo), hi)))
            current.append(point)
            points.append({"x": point[0], "y": point[1], "value": v, "text": number(v, digits), "label": labels[k],
                           "flag": flags[k] or ""})
        if current:
            segments.append(current)
        paths = ["M" + " L".join(f"{px:g},{py:g}" for px, py in seg) for seg in segments if len(seg) > 1]
        out.append({"name": s["name"], "index": s_index, "paths": paths, "points": points,
                    "values": list(s["values"]), "texts": [number(v, digits) for v in s["values"]],
                    "flags": list(flags)})
    every = max(1, math.ceil(n / max(1, int((right - left) // 56))))  # room for about 8 characters a label
    x_labels = [{"x": x(k), "label": fit(str(label), 56 * every - 4)} for k, label in enumerate(labels)
                if k % every == 0]
    ticks = [{"y": y(t), "label": _tick_label(t)} for t in nice_ticks(lo, hi) if lo <= t <= hi]
    return TrendChart(width, height, (left, top, right, bottom), list(labels), out, x_labels, ticks)


# --------------------------------------------------------------------------- importance-performance

@dataclass
class ScatterChart:
    width: int
    height: int
    plot: tuple[float, float, float, float]
    points: list[dict[str, Any]]
    cut_x: float | None
    cut_y: float | None
    x_ticks: list[dict[str, Any]]
    y_ticks: list[dict[str, Any]]
    quadrants: list[dict[str, Any]] = field(default_factory=list)


def scatter(points: Sequence[dict[str, Any]], *, cut_x: float | None, cut_y: float | None,
            quadrant_labels: dict[str, str] | None = None, width: int = 720, height: int = 440) -> ScatterChart:
    """Importance-performance matrix: ``points`` ``{"label", "x": performance, "y": importance, "quadrant"}``.

    ``cut_x`` / ``cut_y`` are the quadrant lines (the mean performance and mean
    importance of the model's drivers, as given). Quadrants, clockwise from top
    left: concentrate here (important, weak), keep up the good work, possible
    overkill, low priority. Labels sit right of their point, or left near the
    right edge; a label that would overlap one already placed moves down.
    """
    xs = [p["x"] for p in points if p.get("x") is not None] + ([cut_x] if cut_x is not None else [])
    ys = [p["y"] for p in points if p.get("y") is not None] + ([cut_y] if cut_y is not None else [])
    x_lo, x_hi = domain(xs, pad=0.1)
    y_lo, y_hi = domain(ys, floor=0.0, pad=0.1, minimum=0.0)
    left, top, right, bottom = 52.0, 14.0, width - 14.0, height - 44.0
    sx, sy = _scale(x_lo, x_hi, left, right), _scale(y_lo, y_hi, bottom, top)
    placed: list[tuple[float, float, float]] = []  # label x0, x1, y
    out = []
    for k, p in enumerate(sorted(points, key=lambda p: (-(p.get("y") or 0), str(p.get("label"))))):
        if p.get("x") is None or p.get("y") is None:
            continue
        px, py = sx(p["x"]), sy(p["y"])
        label = fit(str(p.get("label", "")), 150)
        w = text_units(label) * CHAR_WIDTH
        anchor, tx = ("start", px + 7) if px + 7 + w < width else ("end", px - 7)
        x0, x1 = (tx, tx + w) if anchor == "start" else (tx - w, tx)
        ty = py + 4
        while any(a < x1 and x0 < b and abs(ty - yy) < 13 for a, b, yy in placed):
            ty += 13
        placed.append((x0, x1, ty))
        out.append({"x": px, "y": py, "label": label, "text_x": _r(tx), "text_y": _r(ty), "anchor": anchor,
                    "quadrant": p.get("quadrant") or "", "number": k + 1})
    words = quadrant_labels or {}
    quadrants = []
    cx = sx(cut_x) if cut_x is not None else None
    cy = sy(cut_y) if cut_y is not None else None
    if cx is not None and cy is not None:
        quadrants = [
            {"id": "concentrate-here", "x": _r(left + 6), "y": _r(top + 14), "anchor": "start"},
            {"id": "keep-up", "x": _r(right - 6), "y": _r(top + 14), "anchor": "end"},
            {"id": "low-priority", "x": _r(left + 6), "y": _r(bottom - 8), "anchor": "start"},
            {"id": "possible-overkill", "x": _r(right - 6), "y": _r(bottom - 8), "anchor": "end"},
        ]
        for q in quadrants:
            q["label"] = words.get(q["id"], q["id"])
    x_ticks = [{"x": sx(t), "label": _tick_label(t)} for t in nice_ticks(x_lo, x_hi) if x_lo <= t <= x_hi]
    y_ticks = [{"y": sy(t), "label": _tick_label(t)} for t in nice_ticks(y_lo, y_hi) if y_lo <= t <= y_hi]
    return ScatterChart(width, height, (left, top, right, bottom), out, cx, cy, x_ticks, y_ticks, quadrants)


def _two_lines(text: str, width: float) -> list[str]:
    """``text`` on at most two lines of about ``width`` px, broken between words (CJK: anywhere)."""
    if text_units(text) * CHAR_WIDTH <= width:
        return [text]
    words = text.split(" ")
    if len(words) == 1:  # no spaces (Chinese): cut in the middle
        half = len(text) // 2
        return [fit(text[:half], width), fit(text[half:], width)]
    first: list[str] = []
    while words and text_units(" ".join(first + words[:1])) * CHAR_WIDTH <= width:
        first.append(words.pop(0))
    if not first:
        first.append(words.pop(0))
    return [fit(" ".join(first), width), fit(" ".join(words), width)] if words else [fit(" ".join(first), width)]


def path_diagram(nodes: Sequence[dict[str, Any]], edges: Sequence[dict[str, Any]], *, width: int = 980,
                 box_height: float = 62.0, row_gap: float = 24.0, column_gap: float = 46.0) -> dict[str, Any]:
    """A structural model as boxes and arrows: constructs in columns by their depth in the paths (exogenous
    first). An arrow to the next column is straight; one that skips columns arcs above or below the boxes,
    higher the more it skips, so no arrow crosses a box. ``nodes``: {"id", "label", "r2"}; ``edges``:
    {"from", "to", "value", "significant"}."""
    ids = [n["id"] for n in nodes]
    depth = {i: 0 for i in ids}
    for _ in ids:  # longest path from an exogenous construct (the model has no cycle)
        for e in edges:
            depth[e["to"]] = max(depth[e["to"]], depth[e["from"]] + 1)
    columns = max(depth.values(), default=0) + 1
    per_column: dict[int, list[str]] = {}
    for i in ids:
        per_column.setdefault(depth[i], []).append(i)
    rows = max((len(v) for v in per_column.values()), default=1)
    box_width = min(160.0, (width - column_gap * (columns - 1)) / columns)
    spans = [depth[e["to"]] - depth[e["from"]] for e in edges]
    arc = 26.0  # px of height per skipped column
    margin = arc * max([s for s in spans if s > 1] + [0]) / 2 + 30  # the highest arc, its label, and air
    body = rows * (box_height + row_gap) - row_gap
    height = body + 2 * margin
    step = box_width + column_gap
    placed: dict[str, dict[str, Any]] = {}
    for column, members in per_column.items():
        offset = margin + (body - (len(members) * (box_height + row_gap) - row_gap)) / 2
        for k, node_id in enumerate(members):
            node = next(n for n in nodes if n["id"] == node_id)
            x, y = column * step, offset + k * (box_height + row_gap)
            lines = _two_lines(str(node["label"]), box_width - 10)
            top = y + (22 if len(lines) == 2 else 28) - (0 if node.get("r2") is not None else -6)
            placed[node_id] = {"id": node_id, "lines": [{"text": line, "y": _r(top + 15 * k)}
                                                        for k, line in enumerate(lines)],
                               "full_label": node["label"], "x": _r(x), "y": _r(y), "w": _r(box_width),
                               "h": box_height, "cx": _r(x + box_width / 2),
                               "r2": None if node.get("r2") is None else f"R² {node['r2']:.2f}",
                               "r2_y": _r(top + 15 * len(lines))}
    arrows = []
    skipping = 0
    for e, span in zip(edges, spans):
        a, b = placed[e["from"]], placed[e["to"]]
        if span <= 1 and abs(a["y"] - b["y"]) < box_height:
            x1, y1, x2, y2 = a["x"] + box_width, a["y"] + box_height / 2, b["x"] - 2, b["y"] + box_height / 2
            path = f"M{_r(x1)},{_r(y1)} L{_r(x2)},{_r(y2)}"
            label_x, label_y = (x1 + x2) / 2, (y1 + y2) / 2 - 5
        else:  # over the top (or under the bottom, alternately) of the boxes in between
            above = skipping % 2 == 0
            skipping += 1
            lift = arc * span / 2 + 10
            x1, x2 = a["cx"], b["cx"]
            y1 = a["y"] if above else a["y"] + box_height
            y2 = (b["y"] if above else b["y"] + box_height) - (2 if above else -2)
            control_y = min(y1, y2) - 2 * lift if above else max(y1, y2) + 2 * lift
            path = f"M{_r(x1)},{_r(y1)} Q{_r((x1 + x2) / 2)},{_r(control_y)} {_r(x2)},{_r(y2)}"
            label_x, label_y = (x1 + x2) / 2, 0.25 * y1 + 0.5 * control_y + 0.25 * y2 + (-4 if above else 12)
        arrows.append({"from": e["from"], "to": e["to"], "d": path, "label_x": _r(label_x),
                       "label_y": _r(label_y), "text": number(e["value"], 2),
                       "significant": bool(e.get("significant"))})
    return {"width": width, "height": _r(height), "nodes": list(placed.values()), "edges": arrows}
