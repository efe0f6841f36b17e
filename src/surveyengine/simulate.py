"""Deterministic synthetic responses that follow a questionnaire, with known true driver weights.

The generating model: each top-level driver factor has a latent score
(correlated across factors, shifted by a unit effect per leaf segment unit and
a small trend over waves); each item is its factor's latent plus noise, mapped
onto its scale; overall satisfaction is the weighted sum of the factors' item
composites with the *true weights* written to the truth file, plus noise.
Recommendation, repurchase and complaints follow satisfaction. Answers go
missing, respondents say "don't know", a few straight-line a grid, a quarter
leave a comment (in the questionnaire's languages, a few of them hostile).
Same questionnaire, n and seed: the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import conditions
from .model import Factor, Item, Questionnaire
from .writers import write_csv  # noqa: F401  (moved to writers; importable here as before)

MISSING_RATE = 0.04
DONT_KNOW_RATE = 0.015
STRAIGHTLINER_RATE = 0.02
COMMENT_RATE = 0.25
HOSTILE_RATE = 0.01
FIRST_WAVE = (2025, 11)

HOSTILE_COMMENTS = (
    "<script>alert('xss')</script> great service",
    '"><img src=x onerror=alert(1)> the car was fine',
    "=HYPERLINK(\"http://example.invalid\",\"click\") fix your website",
    "+cmd|' /C calc'!A0 waited too long",
    "@SUM(1+1) staff were rude",
    "<a href=\"javascript:alert(1)\">see my complaint</a>",
    "</textarea><svg onload=alert(1)> 服务很差",
    "-2+3 {{ 7*7 }} ${7*7} <b>bold</b> <!-- comment",
)

COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "praise": (
            "The staff were friendly and explained everything clearly.",
            "Quick service, the car was ready when promised.",
            "Very clean showroom and a pleasant waiting area.",
            "Great value for money, I will come back.",
            "The salesperson knew the product very well.",
            "Repair fixed the problem the first time.",
        ),
        "complaint": (
            "I waited over an hour although I had an appointment.",
            "The price was higher than the quote.",
            "Nobody called me back about my complaint.",
            "The repair did not fix the problem, I had to come back.",
            "Staff were impolite and seemed uninterested.",
            "The invoice was confusing and had errors.",
        ),
    },
    "zh": {
        "praise": (
            "员工很热情，解释得很清楚。",
            "服务很快，车按时交付。",
            "展厅很干净，休息区很舒适。",
            "性价比很高，下次还会再来。",
            "销售顾问对产品非常了解。",
            "一次就修好了，很满意。",
        ),
        "complaint": (
            "预约了还是等了一个多小时。",
            "价格比报价高。",
            "投诉之后没有人回电话。",
            "没有修好，只好再来一次。",
            "员工态度不好，不耐烦。",
            "发票看不懂，还有错误。",
        ),
    },
}


# what a comment says when it says nothing a codeframe codes: an empty remark, or a theme no codeframe
# has (parking, online booking, opening hours: what theme discovery should find)
UNCODED_COMMENTS = {
    "en": ("Nothing else to add.", "No comment.", "All as expected.", "n/a", "See my answers above."),
    "zh": ("没有了。", "无。", "一切照常。", "没什么要说的。", "见上面的回答。"),
}
OFF_FRAME_COMMENTS = {
    "en": ("Parking nearby was hard to find.", "Not enough parking spaces for customers.",
           "The car park was full again.", "The online booking form kept failing.",
           "The app would not let me book a slot.", "Booking online was a pain, the website crashed.",
           "Please open on Sundays.", "Opening hours are too short.", "Closes too early on weekdays."),
    "zh": ("附近很难找到停车位。", "客户停车位不够。", "停车场又满了。", "网上预约总是失败。", "手机应用没法预约。",
           "预约网站老是崩溃。", "希望周日也营业。", "营业时间太短。", "工作日关门太早。"),
}
OFF_FRAME_RATE = 0.5  # share of the comments without a code that raise a theme no codeframe has
# details that make most simulated comments distinct without touching their codes: a date, a time,
# a name, an amount, a reference number; and, in English, a typo now and then
DETAIL_RATE = 0.85  # share of coded-item comments with at least one detail
TYPO_RATE = 0.08
_NAMES = {"en": ("Anna", "Ben", "Chen", "David", "Emma", "Li Wei", "Maria", "Mr Zhang", "Ms Wang", "Tom", "Sophie",
                 "Kevin", "Lucy", "Mark", "Nina", "Peter", "Rosa", "Sam", "Wang Fang", "Zoe"),
          "zh": ("张", "王", "李", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何",
                 "郭", "马", "罗")}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
OPENERS = {"en": ("", "", "Honestly, ", "Overall: ", "To be fair, ", "Well, "),
           "zh": ("", "", "说实话，", "总的来说，", "老实讲，", "嗯，")}
CODED_NONE_RATE = 0.1  # share of coded-item comments that carry no code
CODED_TWO_RATE = 0.3  # share that carry two codes


def _leaf_factor_groups(q: Questionnaire) -> list[tuple[Factor, list[Item]]]:
    return [(factor, list(factor.all_items())) for factor in q.factors]


UNIT_PROFILE_SD = 0.3  # spread of each unit's strength on one factor against its others (latent sd units)


def _units(q: Questionnaire, rng: np.random.Generator, n: int,
           counts: Mapping[str, int]) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
    """Segment labels per respondent (children nested in parents) and each leaf unit's effect.

    A segment has the units its questionnaire labels; ``counts`` (e.g. dealer=500) overrides that
    with generated codes, a child's nested in its parent's (R7 -> R7-01, R7-02, ...).
    """
    labels: dict[str, np.ndarray] = {}
    unit_of_parent: dict[str, list[list[str]]] = {}
    ordered = sorted(q.segments, key=lambda s: _depth(q, s.id))
    leaf_index = np.zeros(n, dtype=np.int64)
    leaf_names: list[str] = []
    for segment in ordered:
        names = [str(code) for code in segment.labels] if segment.id not in counts else None
        if segment.parent is None:
            names = names or [f"{segment.id[:1].upper()}{i + 1}" for i in range(counts.get(segment.id, 4))]
            probabilities = rng.dirichlet(np.full(len(names), 8.0))
            choice = rng.choice(len(names), size=n, p=probabilities)
            labels[segment.id] = np.asarray(names, dtype=object)[choice]
            unit_of_parent[segment.id] = [[name] for name in names]
            continue
        parent_values = labels[segment.parent]
        parent_names = sorted(set(parent_values.tolist()))
        groups: list[list[str]] = [[] for _ in parent_names]
        if names is None:  # generated codes, nested in the parent's code
            total = counts.get(segment.id, 3 * len(parent_names))
            for p_index, parent in enumerate(parent_names):
                share = total // len(parent_names) + (1 if p_index < total % len(parent_names) else 0)
                groups[p_index] = [f"{parent}-{i + 1:02d}" for i in range(max(share, 1))]
        else:
            for i, name in enumerate(names):
                groups[i % len(parent_names)].append(name)
        out = np.empty(n, dtype=object)
        for p_index, parent in enumerate(parent_names):
            members = groups[p_index] or [f"{parent}-{segment.id}"]
            rows = np.flatnonzero(parent_values == parent)
            weights = rng.dirichlet(np.full(len(members), 6.0))
            out[rows] = np.asarray(members, dtype=object)[rng.choice(len(members), size=rows.size, p=weights)]
        labels[segment.id] = out
    leaf = ordered[-1].id if ordered else None
    effects: dict[str, float] = {}
    unit_effect = np.zeros(n)
    if leaf is not None:
        leaf_names = sorted(set(labels[leaf].tolist()))
        values = rng.normal(0.0, 0.3, size=len(leaf_names))
        effects = {name: round(float(v), 4) for name, v in zip(leaf_names, values)}
        lookup = {name: i for i, name in enumerate(leaf_names)}
        leaf_index = np.fromiter((lookup[v] for v in labels[leaf]), dtype=np.int64, count=n)
        unit_effect = values[leaf_index]
    return labels, unit_effect, {"segment": leaf, "effects": effects, "leaf_index": leaf_index}


def _depth(q: Questionnaire, segment_id: str) -> int:
    by_id = {s.id: s for s in q.segments}
    depth, current = 0, by_id[segment_id].parent
    while current is not None and depth < len(by_id):
        depth, current = depth + 1, by_id[current].parent if current in by_id else None
    return depth


def _waves(q: Questionnaire, rng: np.random.Generator, n: int) -> tuple[np.ndarray | None, np.ndarray]:
    if q.wave is None:
        return None, np.zeros(n)
    count = {"month": 12, "quarter": 8, "year": 3}[q.wave.frequency]
    year, month = FIRST_WAVE
    labels = []
    for i in range(count):
        if q.wave.frequency == "month":
            m = (month - 1 + i) % 12 + 1
            y = year + (month - 1 + i) // 12
            labels.append(f"{y:04d}-{m:02d}")
        elif q.wave.frequency == "quarter":
            quarter = i % 4 + 1
            labels.append(f"{year + i // 4:04d}-Q{quarter}")
        else:
            labels.append(f"{year + i:04d}")
    index = rng.integers(0, count, size=n)
    trend = (index / max(count - 1, 1) - 0.5) * 0.25
    return np.asarray(labels, dtype=object)[index], trend


def _to_scale(latent: np.ndarray, lo: int, hi: int) -> np.ndarray:
    share = 1.0 / (1.0 + np.exp(-(1.0 + 1.1 * latent)))
    return np.clip(np.rint(lo + share * (hi - lo)), lo, hi)


CEILING_SHIFT = 2.5  # latent sd units added to a planted ceiling item: some 99% in the top box
DUPLICATE_NOISE = 0.1  # sd of what a planted near-duplicate adds to the item it copies
FAULTS = ("wrong-factor", "noise", "near-duplicate", "ceiling")


def plan_faults(q: Questionnaire) -> dict[str, dict[str, str]]:
    """Which items ``simulate(..., faults=True)`` turns faulty: with F driver factors of four or more rating
    items, an item of the first generated from the second factor (wrong factor), one of the second answered at
    random (noise), one of the third (or first) copying its predecessor (near-duplicate), and the last item of
    the last factor with nearly every answer in the top box (ceiling). Empty when fewer than two such factors."""
    groups = [(f, [i for i in items if i.question_type == "rating" and i.scale])
              for f, items in _leaf_factor_groups(q) if f.id in q.driver_ids()]
    groups = [(f, items) for f, items in groups if len(items) >= 4]
    if len(groups) < 2:
        return {}
    count = len(groups)
    first, second, third, last = groups[0], groups[1], groups[2 % count], groups[-1]
    planted = {
        "wrong-factor": {"item": first[1][1].id, "factor": first[0].id, "generated_from": second[0].id},
        "noise": {"item": second[1][2].id, "factor": second[0].id},
        "near-duplicate": {"item": third[1][-3].id, "factor": third[0].id, "of": third[1][-4].id},
        "ceiling": {"item": last[1][-1].id, "factor": last[0].id},
    }
    return planted


def simulate(q: Questionnaire, n: int, seed: int = 0, units: Mapping[str, int] | None = None,
             faults: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Columns (data column name -> values, NaN or '' for missing) and the truth about how they were made.

    ``units`` sets how many units a segment has (e.g. ``{"dealer": 500, "region": 50}``). ``faults`` plants
    faulty items (``plan_faults``); the truth file lists them under ``planted``. Faulty items other than the
    ceiling item do not enter overall satisfaction (true item weight 0).
    """
    planted = plan_faults(q) if faults else {}
    role = {entry["item"]: kind for kind, entry in planted.items()}
    fault_rng = np.random.default_rng([seed, 2])
    rng = np.random.default_rng(seed)
    counts = dict(units or {})
    unknown = sorted(set(counts) - {s.id for s in q.segments})
    if unknown:
        raise ValueError(f"no segment {', '.join(unknown)} in questionnaire '{q.id}'")
    columns: dict[str, np.ndarray] = {}
    columns[q.respondent_id] = np.asarray([f"R{i + 1:07d}" for i in range(n)], dtype=object)
    segment_labels, unit_effect, unit_truth = _units(q, rng, n, counts)
    for segment in q.segments:
        columns[segment.data_column] = segment_labels[segment.id]
    wave_labels, trend = _waves(q, rng, n)
    if wave_labels is not None and q.wave is not None:
        columns[q.wave.column] = wave_labels

    groups = [(f, items) for f, items in _leaf_factor_groups(q) if f.id in q.driver_ids()]
    extra_groups = [(f, items) for f, items in _leaf_factor_groups(q) if f.id not in q.driver_ids()]
    n_factors = len(groups)
    factor_corr = np.full((n_factors, n_factors), 0.45) + np.eye(n_factors) * 0.55
    latent = rng.multivariate_normal(np.zeros(n_factors), factor_corr, size=n) if n_factors else np.zeros((n, 0))
    latent += (unit_effect + trend)[:, None]
    # each unit is stronger on some factors than on others (a dealer with a fine showroom and a poor
    # workshop), so that weighting the factors by their importance reorders the units: the fallacy
    # of the simple average made visible. A stream of its own leaves every other draw unchanged.
    leaf_index = unit_truth.pop("leaf_index", None)
    if leaf_index is not None and n_factors and unit_truth["effects"]:
        units = len(unit_truth["effects"])
        profile = np.random.default_rng([seed, 1]).normal(0.0, UNIT_PROFILE_SD, size=(units, n_factors))
        latent += profile[leaf_index]
        unit_truth["profiles"] = {name: [round(float(v), 4) for v in row]
                                  for name, row in zip(unit_truth["effects"], profile)}

    raw_weights = np.linspace(1.0, 0.3, n_factors) if n_factors else np.zeros(0)
    rng.shuffle(raw_weights)
    factor_weights = raw_weights / raw_weights.sum() if n_factors else raw_weights
    item_latent: dict[str, np.ndarray] = {}
    levels: dict[str, float] = {}
    truth_items: dict[str, dict[str, float]] = {}
    loadings: dict[str, float] = {}
    composite = np.zeros((n, n_factors))
    for f_index, (factor, items) in enumerate(groups + extra_groups):
        base = latent[:, f_index] if f_index < n_factors else rng.normal(size=n) + unit_effect
        item_weights = np.linspace(1.0, 0.4, len(items))
        rng.shuffle(item_weights)
        item_weights = item_weights / item_weights.sum()
        truth_items[factor.id] = {item.id: round(float(w), 6) for item, w in zip(items, item_weights)}
        specific = rng.normal(size=n)  # what the factor's items share beyond the driver latent
        factor_level = rng.normal(0.0, 0.3)  # factors and items differ in how well they perform
        for item, weight in zip(items, item_weights):
            loading = float(rng.uniform(0.65, 0.85))
            loadings[item.id] = round(loading, 4)
            noise = np.sqrt(1 - loading**2) * (0.6 * rng.normal(size=n) + 0.4 * specific)
            item_latent[item.id] = loading * base + noise
            levels[item.id] = factor_level + rng.normal(0.0, 0.3)
            kind = role.get(item.id)
            if kind == "wrong-factor":
                other = [g[0].id for g in groups].index(planted[kind]["generated_from"])
                item_latent[item.id] = loading * latent[:, other] + np.sqrt(1 - loading**2) * fault_rng.normal(size=n)
            elif kind == "noise":
                item_latent[item.id] = fault_rng.normal(size=n)
            elif kind == "near-duplicate":
                source = planted[kind]["of"]
                item_latent[item.id] = item_latent[source] + DUPLICATE_NOISE * fault_rng.normal(size=n)
                levels[item.id] = levels[source]
            elif kind == "ceiling":
                levels[item.id] += CEILING_SHIFT
            if kind in ("wrong-factor", "noise", "near-duplicate"):
                truth_items[factor.id][item.id] = 0.0
                continue
            if f_index < n_factors:
                composite[:, f_index] += weight * item_latent[item.id]
    if n_factors:
        composite = (composite - composite.mean(axis=0)) / composite.std(axis=0)
    satisfaction = composite @ factor_weights if n_factors else np.zeros(n)
    satisfaction = satisfaction / (satisfaction.std() or 1.0)
    satisfaction = 0.8 * satisfaction + 0.6 * rng.normal(size=n) + unit_effect + trend

    values: dict[str, np.ndarray] = {}
    for item_id, z in item_latent.items():
        item = q.item(item_id)
        scale = q.scales[item.scale] if item.scale else None
        if scale is not None:
            values[item_id] = _to_scale(z + levels[item_id], scale.min, scale.max)

    outcomes = q.outcomes
    outcome_ids = set(outcomes.overall)
    for item_id in outcomes.overall:
        scale = q.scale_of(q.item(item_id))
        if scale is not None:
            values[item_id] = _to_scale(satisfaction + 0.25 * rng.normal(size=n), scale.min, scale.max)
    for item_id in (outcomes.recommend, outcomes.repurchase):
        if item_id is None:
            continue
        outcome_ids.add(item_id)
        item = q.item(item_id)
        if item.scale:
            scale = q.scales[item.scale]
            values[item_id] = _to_scale(0.9 * satisfaction + 0.5 * rng.normal(size=n) + 0.3, scale.min, scale.max)

    complained = None
    if outcomes.complaint is not None:
        c = outcomes.complaint
        probability = 1.0 / (1.0 + np.exp(2.4 + 1.1 * satisfaction))
        complained = rng.random(n) < probability
        outcome_ids.update(x for x in (c.item, c.resolved, c.handling) if x)
        values[c.item] = _yes_no(q, q.item(c.item), complained, c.yes)
        if c.resolved:
            resolved = rng.random(n) < 0.6
            values[c.resolved] = _yes_no(q, q.item(c.resolved), resolved, c.resolved_yes)
        if c.handling:
            scale = q.scale_of(q.item(c.handling))
            if scale is not None:
                values[c.handling] = _to_scale(satisfaction - 0.6 + 0.6 * rng.normal(size=n), scale.min, scale.max)

    expectation_of = {item.expectation: item for item in q.all_items() if item.expectation}
    for item in q.all_items():
        if item.id in values or item.question_type not in ("rating", "single", "number"):
            continue
        scale = q.scale_of(item)
        if item.id in expectation_of and scale is not None:
            perception = item_latent.get(expectation_of[item.id].id, rng.normal(size=n))
            values[item.id] = _to_scale(0.6 * perception + 0.8 * rng.normal(size=n) + 0.35, scale.min, scale.max)
        elif scale is not None:
            values[item.id] = _to_scale(0.5 * satisfaction + rng.normal(size=n), scale.min, scale.max)
        elif item.choices:
            codes = [code for code in q.choices[item.choices].options]
            values[item.id] = np.asarray(codes, dtype=object)[rng.integers(0, len(codes), size=n)]
        else:
            values[item.id] = rng.integers(18, 80, size=n).astype(float)

    straightliners = rng.random(n) < STRAIGHTLINER_RATE
    grid = [i for _, items in groups for i in items if i.id in values and i.scale]
    if grid:
        scale = q.scales[grid[0].scale]  # type: ignore[index]
        level = np.where(rng.random(n) < 0.7, scale.max, rng.integers(scale.min, scale.max + 1, size=n))
        for item in grid:
            if q.scales[item.scale] == scale:  # type: ignore[index]
                values[item.id] = np.where(straightliners, level, values[item.id])

    for item_id, array in list(values.items()):
        item = q.item(item_id)
        if array.dtype == object:
            continue
        array = array.astype(float)
        if item_id not in outcome_ids:  # outcomes are rarely skipped; drivers often are
            blank = rng.random(n) < MISSING_RATE
            array[blank] = np.nan
        scale = q.scale_of(item)
        if scale is not None and scale.missing:
            dont_know = rng.random(n) < DONT_KNOW_RATE
            array[dont_know & ~np.isnan(array)] = float(min(scale.missing))
        values[item_id] = array

    comment_truth: dict[str, dict[str, list[str]]] = {}
    text_values = _texts(q, rng, n, satisfaction, complained, np.random.default_rng([seed, 2]), comment_truth)
    _apply_conditions(q, values, text_values)

    for item in q.all_items():
        if item.id in values:
            columns[item.data_column] = values[item.id]
        elif item.id in text_values:
            columns[item.data_column] = text_values[item.id]
    if q.weights is not None and q.weights.column:
        columns[q.weights.column] = np.round(rng.lognormal(0.0, 0.35, size=n), 4)

    truth = {
        "generator": "surveyengine simulate",
        "questionnaire": q.id,
        "n": n,
        "seed": seed,
        "outcome": q.outcome_id(),
        "factor_weights": {f.id: round(float(w), 6) for (f, _), w in zip(groups, factor_weights)},
        "item_weights": truth_items,
        "loadings": loadings,
        "unit_effects": unit_truth,
        "straightliners": int(straightliners.sum()),
        "complainers": int(complained.sum()) if complained is not None else 0,
    }
    if faults:
        truth["planted"] = planted
    if q.codeframes:
        # the true codes of every comment on a coded item (respondent id -> codes), as `surveyengine code`
        # should find them; the answers not asked (conditions) are blank and have none
        ids = columns[q.respondent_id]
        truth["comment_codes"] = {
            item_id: {ids[row]: codes for row, codes in sorted(rows.items()) if text_values[item_id][row] != ""}
            for item_id, rows in comment_truth.items()}
    return columns, truth


def _yes_no(q: Questionnaire, item: Item, yes: np.ndarray, yes_codes: tuple[Any, ...]) -> np.ndarray:
    codes = list(q.choices[item.choices].options) if item.choices else [1, 2]
    yes_code = yes_codes[0]
    no_code = next((c for c in codes if c not in yes_codes), 2)
    out = np.where(yes, yes_code, no_code)
    return out.astype(float) if all(isinstance(c, (int, float)) for c in (yes_code, no_code)) else out.astype(object)


def _texts(q: Questionnaire, rng: np.random.Generator, n: int, satisfaction: np.ndarray,
           complained: np.ndarray | None, code_rng: np.random.Generator | None = None,
           truth: dict[str, dict[int, list[str]]] | None = None) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    languages = [lang for lang in q.languages if lang in COMMENTS] or ["en"]
    language_share = np.array([0.7] + [0.3 / max(len(languages) - 1, 1)] * (len(languages) - 1))
    language_share = language_share / language_share.sum()
    language = rng.choice(len(languages), size=n, p=language_share)
    complaint_description = q.outcomes.complaint.description if q.outcomes.complaint else None
    for item in q.all_items():
        if item.question_type == "multiple" and item.choices:
            codes = [str(c) for c in q.choices[item.choices].options]
            picks = rng.random((n, len(codes))) < 0.3
            out[item.id] = np.asarray([";".join(c for c, p in zip(codes, row) if p) for row in picks], dtype=object)
            continue
        if item.question_type != "text":
            continue
        is_complaint = item.id == complaint_description
        writes = (complained if (is_complaint and complained is not None) else rng.random(n) < COMMENT_RATE)
        negative = is_complaint | (satisfaction < rng.normal(-0.2, 0.5, size=n))
        texts = np.full(n, "", dtype=object)
        for l_index, lang in enumerate(languages):
            bank = COMMENTS[lang]
            for tone, mask in (("complaint", negative), ("praise", ~negative)):
                rows = np.flatnonzero(writes & mask & (language == l_index))
                phrases = np.asarray(bank[tone], dtype=object)
                first = phrases[rng.integers(0, len(phrases), size=rows.size)]
                second = phrases[rng.integers(0, len(phrases), size=rows.size)]
                joiner = "" if lang == "zh" else " "
                two = rng.random(rows.size) < 0.3
                texts[rows] = np.where(two, first + joiner + second, first)
        hostile = writes & (rng.random(n) < HOSTILE_RATE)
        coded = q.codeframe_of(item.id)
        if coded is not None and code_rng is not None and truth is not None:
            # comments written from the codeframe (a stream of its own: the other columns stay as they were)
            truth[item.id] = _coded_texts(coded[1], texts, writes & ~hostile, negative, is_complaint, language,
                                          languages, code_rng)
            truth[item.id].update({int(row): [] for row in np.flatnonzero(hostile)})
        texts[hostile] = np.asarray(HOSTILE_COMMENTS, dtype=object)[rng.integers(0, len(HOSTILE_COMMENTS),
                                                                                 size=int(hostile.sum()))]
        multiline = writes & (rng.random(n) < 0.02)
        texts[multiline] = texts[multiline] + "\nP.S. " + np.where(language[multiline] == 0, "thanks", "谢谢")
        out[item.id] = texts
    return out


def _coded_texts(frame: Any, texts: np.ndarray, writes: np.ndarray, negative: np.ndarray, is_complaint: bool,
                 language: np.ndarray, languages: list[str], rng: np.random.Generator) -> dict[int, list[str]]:
    """Write a comment from the codeframe's examples into ``texts`` for every writer; their true codes by row.

    A comment has no code (an empty remark), one, or two; a complaint description and an unhappy
    customer's comment take complaint and neutral codes, a happy one's praise and neutral codes.
    """
    codes = list(frame.codes)
    truth: dict[int, list[str]] = {}
    for row in np.flatnonzero(writes).tolist():
        lang = languages[language[row]]
        if is_complaint:
            pool = [c for c in codes if c.polarity in ("complaint", "neutral", None)]
        else:
            wanted = "complaint" if negative[row] else "praise"
            pool = [c for c in codes if c.polarity in (wanted, "neutral", None)]
        pool = pool or codes
        draw = rng.random()
        count = 0 if (draw < CODED_NONE_RATE and not is_complaint) else (2 if draw > 1 - CODED_TWO_RATE else 1)
        count = min(count, len(pool))
        chosen = [pool[k] for k in sorted(rng.choice(len(pool), size=count, replace=False))] if count else []
        if not chosen:
            bank = (OFF_FRAME_COMMENTS if rng.random() < OFF_FRAME_RATE else UNCODED_COMMENTS)
            remarks = bank.get(lang, bank["en"])
            phrases = [remarks[rng.integers(len(remarks))]]
        else:
            phrases = []
            for code in chosen:
                bank = code.examples.get(lang) or code.examples.get(languages[0]) or (_label(code.label, lang),)
                phrases.append(bank[rng.integers(len(bank))])
        opener = OPENERS.get(lang, ("",))[rng.integers(len(OPENERS.get(lang, ("",))))]
        text = ("" if lang == "zh" else " ").join(phrases)
        if opener and text[1:2].islower():
            text = text[0].lower() + text[1:]
        texts[row] = _with_details(opener + text, lang, rng)
        truth[row] = [c.id for c in chosen]
    return truth


def _with_details(text: str, lang: str, rng: np.random.Generator) -> str:
    """The comment with details that no code depends on (so most comments are distinct, as real ones are)."""
    if rng.random() >= DETAIL_RATE:
        return text
    zh = lang == "zh"
    day, month = int(rng.integers(1, 29)), int(rng.integers(12))
    name = _NAMES["zh" if zh else "en"][rng.integers(20)]
    kind = rng.integers(6)
    if zh:
        details = (f"{month + 1}月{day}日去的。", f"{int(rng.integers(8, 18))}点{int(rng.integers(60)):02d}分到的。",
                   f"负责的是{name}{'先生' if rng.random() < 0.5 else '女士'}。",
                   f"一共{int(rng.integers(80, 9000))}元。",
                   f"单号{int(rng.integers(10000, 999999))}。", f"（{month + 1}月{day}日，{name}经理）")
        extra = details[kind]
        return extra + text if kind in (0, 1) and rng.random() < 0.5 else text + extra
    details = (f"Visited on {day} {_MONTHS[month]}.",
               f"Arrived at {int(rng.integers(8, 18))}:{int(rng.integers(60)):02d}.",
               f"Served by {name}.", f"Total {int(rng.integers(80, 9000)):,}.{int(rng.integers(100)):02d}.",
               f"Ref {int(rng.integers(10000, 999999))}.", f"({name}, {day} {_MONTHS[month][:3]})")
    if rng.random() < TYPO_RATE:
        text = _typo(text, rng)
    return f"{details[kind]} {text}" if kind in (0, 1) and rng.random() < 0.5 else f"{text} {details[kind]}"


def _typo(text: str, rng: np.random.Generator) -> str:
    """One typing slip in a word of four or more letters: two letters swapped, one dropped or one doubled."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long:
        return text
    i = long[rng.integers(len(long))]
    word, at = words[i], int(rng.integers(1, len(words[i]) - 1))
    slip = rng.integers(3)
    words[i] = (word[:at] + word[at + 1] + word[at] + word[at + 2:] if slip == 0 else
                word[:at] + word[at + 1:] if slip == 1 else word[:at] + word[at] + word[at:])
    return " ".join(words)


def _label(text: Any, lang: str) -> str:
    from .model import text_in

    return text_in(text, lang)


def _apply_conditions(q: Questionnaire, values: dict[str, np.ndarray], texts: dict[str, np.ndarray]) -> None:
    """Blank every answer whose item was not asked (its condition false), in questionnaire order."""
    for _ in range(3):  # conditions may chain; three rounds settle any realistic questionnaire
        for item in q.all_items():
            if item.when is None:
                continue
            condition = conditions.parse(item.when)
            env = {name: values[name] if name in values else texts.get(name, np.full(1, np.nan))
                   for name in condition.names}
            asked = np.asarray(condition.evaluate(env), dtype=bool)
            if item.id in values:
                values[item.id] = np.where(asked, values[item.id], np.nan if values[item.id].dtype != object else "")
            elif item.id in texts:
                texts[item.id] = np.where(asked, texts[item.id], "")


def write_truth(truth: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(truth, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")

