"""The data rules of ``data.py`` as SQL: one table of checked rows, built inside the engine.

``clean_sql`` turns the source rows into the rows the statistics read, applying what
``data.build_responses`` applies, in the same order and with the same policies: respondent ids, numbers
parsed (text that is not a number flagged, never guessed), text codes stored as their positions, scales
and choice lists checked, don't-know and refused codes set missing, ``when:`` conditions (not asked,
required), segments, waves (each distinct value parsed once, in Python, and joined back), weights, then
duplicate ids and the quality checks. Every rule that finds something is a boolean column, so the row
account and the counts per rule are one aggregate query, and the first offending rows of each rule are
fetched (bounded) to name them. Answers are held as float32 values (``CAST(... AS FLOAT)``), as in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import conditions
from ..data import RULE_REASONS, _item_codes, _period_label, column_hints, split_items
from ..stats.sql_backend import ident

if TYPE_CHECKING:
    from ..model import Item
    from ..study import Study

NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def lit(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))


@dataclass
class Hit:
    """A rule's finding in one column: counted, listed (the first rows), maybe excluding or failing."""

    name: str  # its boolean column in the clean table
    rule: str
    column: str | None
    action: str  # missing, exclude, fail, warn
    detail: str
    key_path: str
    shown: str | None  # SQL of the value shown in its message, None: no value
    reason: str = ""  # the exclusion reason, when action is exclude


@dataclass
class Plan:
    """The clean table's SQL and what its columns mean."""

    sql: str = ""
    items: list[str] = field(default_factory=list)  # numeric item ids (x0, x1, ...)
    texts: list[str] = field(default_factory=list)  # text item ids (t0, t1, ...)
    segments: list[str] = field(default_factory=list)
    wave: bool = False
    weighted: bool = False
    hits: list[Hit] = field(default_factory=list)  # in the order data.py lists findings
    exclusions: list[Hit] = field(default_factory=list)  # row rules, in the order data.py applies them
    quality: dict[str, str] = field(default_factory=dict)  # check -> flag / exclude
    speeding: bool = False


def _text(column: str, kind: str) -> str:
    """A column as trimmed text, '' for empty (data._text): whole floats read as integers."""
    c = ident(column)
    if kind == "string":
        return f"COALESCE(TRIM({c}), '')"
    if kind == "float":
        return (f"COALESCE(CASE WHEN {c} = ROUND({c}) THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) "
                f"ELSE CAST({c} AS VARCHAR) END, '')")
    return f"COALESCE(TRIM(CAST({c} AS VARCHAR)), '')"


def _number(column: str, kind: str, text_missing: set[str]) -> tuple[str, str]:
    """(value as DOUBLE or NULL, the 'not a number' test) of a column (data._numeric)."""
    c = ident(column)
    if kind in ("integer", "boolean"):
        return f"CAST(CAST({c} AS INTEGER) AS DOUBLE)", "FALSE"
    if kind == "float":
        return f"CASE WHEN {c} - {c} = 0 THEN CAST({c} AS DOUBLE) END", f"({c} IS NOT NULL AND NOT ({c} - {c} = 0))"
    if kind == "null":
        return "CAST(NULL AS DOUBLE)", "FALSE"
    t = f"TRIM(CAST({c} AS VARCHAR))"
    number = f"regexp_matches({t}, {lit(NUMBER)})"
    declared = f" AND {t} NOT IN ({', '.join(lit(m) for m in sorted(text_missing))})" if text_missing else ""
    return (f"CASE WHEN {number} THEN CAST({t} AS DOUBLE) END",
            f"(COALESCE({t}, '') <> '' AND NOT {number}{declared})")


def _in(expr: str, values: list[Any]) -> str:
    return f"{expr} IN ({', '.join(lit(v) for v in values)})" if values else "FALSE"


def clean_sql(study: Study, schema: dict[str, str], relation: str, from_files: bool, row_column: str | None,
              wave_map: dict[str, str]) -> Plan:
    """The SELECT that makes the clean table from the source relation."""
    q = study.questionnaire
    config = study.config
    rules = config.validation
    columns = study.columns()
    numeric, texts = split_items(q)
    extra_missing = set(config.missing_codes)
    text_missing = {str(c) for c in config.missing_codes if isinstance(c, str)}
    plan = Plan(items=[i.id for i in numeric], texts=[i.id for i in texts], segments=[s.id for s in q.segments],
                wave=q.wave is not None, weighted=q.weights is not None and bool(q.weights.column))
    index = {item.id: k for k, item in enumerate(numeric)}
    kind = schema.get
    stages: list[str] = []

    # stage 1: parse every column once
    id_text = _text(q.respondent_id, kind(q.respondent_id) or "string")
    if from_files:
        where = "__file AS f, __row AS r"
    elif row_column:
        where = f"0 AS f, CAST({ident(row_column)} AS BIGINT) AS r"
    else:
        where = f"0 AS f, row_number() OVER (ORDER BY {id_text}) AS r"
    select = [where, f"{id_text} AS id"]
    classify = ["p.*"]  # the item rules read the parsed values (a second stage: engines differ on lateral aliases)
    for k, item in enumerate(numeric):
        column = columns[item.id]
        check, missing, detail, rule = _item_codes(q, item, extra_missing)
        if check[0] == "positions":
            text = _text(column, kind(column) or "string")
            known = [str(c) for c in check[1]]
            cases = " ".join(f"WHEN {lit(c)} THEN {p + 1}.0" for p, c in enumerate(known))
            select.append(f"CAST(CAST(CASE {text} {cases} END AS FLOAT) AS DOUBLE) AS v{k}")
            unknown_codes = [str(c) for c in check[2]] + sorted(text_missing)
            select.append(f"({text} <> '' AND NOT {_in(text, known)} AND NOT {_in(text, unknown_codes)}) AS unk{k}")
            select.append(f"{text} AS raw{k}")
            select.append(f"FALSE AS nan{k}")
            check = ("range", 1, len(known))
        else:
            value, bad = _number(column, kind(column) or "string", text_missing)
            select.append(f"CAST(CAST({value} AS FLOAT) AS DOUBLE) AS v{k}")
            select.append(f"FALSE AS unk{k}")
            select.append(f"{bad} AS nan{k}")
            select.append(f"CAST({ident(column)} AS VARCHAR) AS raw{k}")
        codes = sorted(float(m) for m in missing)
        coded = _in(f"v{k}", codes) if codes else "FALSE"
        if check[0] == "range":
            invalid = f"(v{k} < {lit(check[1])} OR v{k} > {lit(check[2])} OR v{k} <> ROUND(v{k}))"
        elif check[0] == "codes":
            invalid = f"NOT {_in(f'v{k}', list(check[1]))}"
        else:
            invalid = "FALSE"
        plan.hits.append(Hit(f"nan{k}", "not_a_number", column, rules.not_a_number, "", item.id, f"raw{k}",
                             f"{column}: not a number"))
        plan.hits.append(Hit(f"unk{k}", "unknown_code", column, rules.unknown_code, detail, item.id, f"raw{k}",
                             f"{column}: {detail}"))
        plan.hits.append(Hit(f"inv{k}", rule, column, getattr(rules, rule), detail, item.id, f"v{k}",
                             f"{column}: {detail}"))
        classify.append(f"COALESCE({coded}, FALSE) AS coded{k}")
        classify.append(f"COALESCE(NOT ({coded}) AND {invalid}, FALSE) AS inv{k}")
    condition_texts = {name for i in numeric + texts if i.when
                       for name in conditions.parse(i.when).names if name not in index}
    for name in sorted(condition_texts):
        select.append(f"{_text(columns[name], kind(columns[name]) or 'string')} AS {ident('c_' + name)}")
    for j, item in enumerate(texts):
        c = ident(columns[item.id])
        raw = f"CAST({c} AS VARCHAR)" if kind(columns[item.id]) != "string" else c
        select.append(f"CASE WHEN TRIM(COALESCE({raw}, '')) = '' THEN '' ELSE {raw} END AS t{j}")
    for i, segment in enumerate(q.segments):
        select.append(f"{_text(columns[segment.id], kind(columns[segment.id]) or 'string')} AS s{i}")
    if q.wave is not None:
        select.append(f"{_text(columns['wave'], kind(columns['wave']) or 'string')} AS wave_raw")
    if plan.weighted:
        assert q.weights is not None and q.weights.column
        value, bad = _number(q.weights.column, kind(q.weights.column) or "string", set())
        select.append(f"{value} AS w")
        select.append(f"COALESCE(NOT ({value} > 0) OR {bad}, TRUE) AS badw")
    else:
        select.append("1.0 AS w")
    duration = config.quality.duration_column
    if duration:
        select.append(f"{_number(duration, kind(duration) or 'string', set())[0]} AS dur")
    stages.append(f"SELECT {', '.join(select)} FROM {relation} AS source_rows")
    stages.append(f"SELECT {', '.join(classify)} FROM stage1 AS p")

    # stage 2: answers after the item rules; the wave labels
    select = ["p.*"]
    for k, item in enumerate(numeric):
        blank = f"coded{k}" + (" OR inv{k}".format(k=k) if getattr(rules, plan.hits[3 * k + 2].rule) == "missing"
                               else "")
        select.append(f"CASE WHEN {blank} THEN NULL ELSE v{k} END AS x{k}_0")
    join = ""
    if q.wave is not None:
        pairs = ", ".join(f"({lit(raw)}, {lit(label)})" for raw, label in wave_map.items()) or "('', '')"
        join = f" LEFT JOIN (VALUES {pairs}) AS wave_map(wave_raw_key, wave_label) ON p.wave_raw = wave_map.wave_raw_key"
        select.append("COALESCE(wave_map.wave_label, '') AS wave")
    stages.append(f"SELECT {', '.join(select)} FROM stage2 AS p{join}")

    # conditions, item by item (an answer set missing by one condition is missing to the next)
    current = {k: f"x{k}_0" for k in range(len(numeric))}
    text_blanks: dict[int, list[str]] = {}
    for step, item in enumerate([i for i in numeric + texts if i.when is not None or i.required]):
        column = columns[item.id]
        if item.when is not None:
            names = {}
            for name in conditions.parse(item.when).names:
                names[name] = current[index[name]] if name in index else ident("c_" + name)
            dialect = conditions.Dialect("%s", "NOT COALESCE((%s), FALSE)", "%s IS NOT NULL")
            asked = conditions.translate(conditions.parse(item.when), dialect, names)
            for name in names:  # text answers: 'answered' means not empty
                if name not in index:
                    asked = asked.replace(f"{names[name]} IS NOT NULL", f"{names[name]} <> ''")
            asked = f"COALESCE(({asked}), FALSE)"
        else:
            asked = "TRUE"
        if item.id in index:
            k = index[item.id]
            answered = f"({current[k]} IS NOT NULL OR coded{k})"
        else:
            j = [t.id for t in texts].index(item.id)
            answered = f"(t{j} <> '')"
        extra, lacking = f"na{step}", f"rq{step}"
        shown = current[index[item.id]] if item.id in index else f"ta{[t.id for t in texts].index(item.id)}"
        select = ["c.*", f"({answered} AND NOT {asked}) AS {extra}",
                  f"({'TRUE' if item.required else 'FALSE'} AND {asked} AND NOT {answered}) AS {lacking}"]
        plan.hits.append(Hit(extra, "not_asked", column, rules.not_asked,
                             f"answered although not asked (when: {item.when})", item.id, shown,
                             f"{column}: answered although not asked"))
        if item.required:
            plan.hits.append(Hit(lacking, "required_missing", column, rules.required_missing,
                                 "required answer missing", item.id, None, f"{column}: required answer missing"))
        stages.append(f"SELECT {', '.join(select)} FROM stage{len(stages)} AS c")
        if rules.not_asked == "missing":
            if item.id in index:
                k = index[item.id]
                new = f"x{k}_{step + 1}"
                stages.append(f"SELECT c.*, CASE WHEN {extra} THEN NULL ELSE {current[k]} END AS {new} "
                              f"FROM stage{len(stages)} AS c")
                current[k] = new
            else:
                text_blanks.setdefault([t.id for t in texts].index(item.id), []).append(extra)

    # row rules, in data.py's order: the first that applies names the exclusion
    row_rules: list[Hit] = [Hit("(id = '')", "missing_id", q.respondent_id, rules.missing_id, "", "", None,
                                "missing respondent id")]
    item_hits = {(h.rule, h.name[:3], h.key_path): h for h in plan.hits}
    for k, item in enumerate(numeric):
        for prefix in ("nan", "unk", "inv"):
            hit = next(h for h in plan.hits if h.name == f"{prefix}{k}")
            if hit.action == "exclude":
                row_rules.append(hit)
    del item_hits
    for hit in plan.hits:
        if hit.rule in ("not_asked", "required_missing") and hit.action == "exclude":
            row_rules.append(hit)
    for i, segment in enumerate(q.segments):
        row_rules.append(Hit(f"(s{i} = '')", "missing_segment", columns[segment.id], rules.missing_segment, "", "",
                             None, f"no {segment.id}"))
    if q.wave is not None:
        row_rules.append(Hit("(wave = '')", "bad_wave", columns["wave"], rules.bad_wave, "", "", None,
                             f"wave is not a date or a {q.wave.frequency}"))
    if plan.weighted:
        row_rules.append(Hit("badw", "bad_weight", q.weights.column, rules.bad_weight, "", "", None,  # type: ignore
                             "weight missing or not positive"))
    plan.exclusions = row_rules
    reason = " ".join(f"WHEN {h.name} THEN {n}" for n, h in enumerate(row_rules))
    final = ["f", "r", "id", f"CASE {reason} END AS reason", "w"]
    final += [f"{current[k]} AS x{k}" for k in range(len(numeric))]
    for j in range(len(texts)):
        blanks = text_blanks.get(j)
        final.append(f"CASE WHEN {' OR '.join(blanks)} THEN '' ELSE t{j} END AS t{j}" if blanks else f"t{j}")
    final += [f"s{i}" for i in range(len(q.segments))] + (["wave"] if q.wave is not None else [])
    final += [h.name for h in plan.hits] + [f"raw{k}" for k in range(len(numeric))]
    final += [f"v{k}" for k in range(len(numeric))] + [f"t{j} AS ta{j}" for j in range(len(texts))]
    final += [c for c in _shown_columns(plan) if c not in final and not c.startswith("ta")]
    if duration:
        final.append("dur")
    stages.append(f"SELECT {', '.join(dict.fromkeys(final))} FROM stage{len(stages)} AS c")
    last = len(stages)
    # duplicate ids among the rows kept so far: the first in file and row order is used
    stages.append(f"SELECT c.*, CASE WHEN reason IS NULL THEN row_number() OVER (PARTITION BY id, reason IS NULL "
                  f"ORDER BY f, r) > 1 ELSE FALSE END AS dup FROM stage{last} AS c")
    ctes = ", ".join(f"stage{n + 1} AS ({sql})" for n, sql in enumerate(stages[:-1]))
    plan.sql = f"WITH {ctes} {stages[-1]}"

    quality = config.quality
    grid = [index[i.id] for factor in q.factors for i in factor.all_items() if i.id in index]
    if quality.straightlining != "off":
        plan.quality["straightlining"] = quality.straightlining
    if quality.speeding != "off" and duration:
        plan.quality["speeding"] = quality.speeding
    rating = [index[i.id] for i in numeric if i.question_type == "rating" and i.when is None]
    if quality.missing != "off" and rating:
        plan.quality["missing"] = quality.missing
    plan.flag_sql = {}  # type: ignore[attr-defined]
    if "straightlining" in plan.quality:
        if len(grid) >= quality.straightlining_min_items:
            xs = ", ".join(f"x{k}" for k in grid)
            count = " + ".join(f"(CASE WHEN x{k} IS NULL THEN 0 ELSE 1 END)" for k in grid)
            plan.flag_sql["straightlining"] = (f"COALESCE(LEAST({xs}) = GREATEST({xs}) AND ({count}) >= "  # type: ignore
                                               f"{quality.straightlining_min_items}, FALSE)")
        else:
            plan.flag_sql["straightlining"] = "FALSE"  # type: ignore[attr-defined]
    if "speeding" in plan.quality:
        plan.flag_sql["speeding"] = (f"COALESCE(dur < {quality.speeding_share_of_median!r} * (SELECT MEDIAN(dur) "  # type: ignore
                                     f"FROM clean WHERE reason IS NULL AND NOT dup), FALSE)")
    if "missing" in plan.quality:
        unanswered = " + ".join(f"(CASE WHEN x{k} IS NULL THEN 1 ELSE 0 END)" for k in rating)
        plan.flag_sql["missing"] = f"(({unanswered}) > {quality.max_missing_share!r} * {len(rating)})"  # type: ignore
    return plan


def _shown_columns(plan: Plan) -> list[str]:
    return [h.shown for h in plan.hits if h.shown]


def wave_labels(values: list[Any], frequency: str) -> dict[str, str]:
    """Each distinct wave text -> its period label ('' when it is not a date or a period)."""
    return {str(v): _period_label(str(v), frequency) for v in values if v is not None}


def expected_columns(study: Study) -> list[str]:
    """The columns a source must have (as data.build_responses requires of a file)."""
    q = study.questionnaire
    columns = study.columns()
    needed = [columns[i.id] for i in q.all_items() if i.question_type in
              ("rating", "single", "number", "text", "multiple")] + [columns[s.id] for s in q.segments]
    needed.append(q.respondent_id)
    if q.wave is not None:
        needed.append(columns["wave"])
    if q.weights is not None and q.weights.column:
        needed.append(q.weights.column)
    if study.config.quality.duration_column:
        needed.append(study.config.quality.duration_column)
    return list(dict.fromkeys(needed))


def used_columns(study: Study) -> set[str]:
    config = study.config
    q = study.questionnaire
    used = set(column_hints(study)) | set(config.columns.values())
    if q.weights is not None:
        index = {i.id for i in q.all_items()}
        used |= {t.variable for t in q.weights.rake if t.variable not in index}
    return used


def item_of(study: Study, item_id: str) -> Item:
    return study.questionnaire.item(item_id)


__all__ = ["Hit", "Plan", "RULE_REASONS", "clean_sql", "expected_columns", "used_columns", "wave_labels"]
