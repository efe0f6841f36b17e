"""A study's summary (statistics, labels, row account, findings, comments) computed inside an engine.

An engine that runs in this process (DuckDB) streams its rows through the file checks and the numpy pass
(``stream.py``). Every other engine runs the rules and the statistics as SQL, a fixed number of statements
per build, whatever the number of segments, waves and items:

1. the source's columns (``LIMIT 0``), to check them as a file's header is checked;
2. the distinct wave values (when the study has waves), parsed to periods in Python;
3. ``CREATE TEMP TABLE clean``: every rule applied to every row, once (``rules.py``); no DROP before it,
   which in PostgreSQL could find a user's own table of that name;
4. the row account: per file, rows read and the count of every rule, exclusion and quality flag;
5. the first offending rows of each rule and the first excluded rows (only when there are any), bounded;
6. the statistics (``stats/sql_backend.py``): the cell statistics, the unit cross-products, with a
   bootstrap the replicate groups' cross-products, and one query of banner cells per question whose
   answers make banner columns (only when banners declare them), as SQL aggregates;
7. the latest open answers, bounded by ``max_comments``;

plus two ``CREATE TEMP VIEW`` statements that name the quality checks and the used rows. Only these
results travel back: kilobytes to megabytes, whatever the number of respondents."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..banners import banner_questions
from ..errors import DataError, Location, Problem
from ..questionnaire import did_you_mean
from . import connect, stream
from .rules import Plan, clean_sql, expected_columns, used_columns, wave_labels

if TYPE_CHECKING:
    from ..cache import Summary
    from ..model import Source
    from ..study import Study

MAX_FINDINGS_LISTED = 1000
MAX_FAIL_LISTED = 20


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value!r} "


def summarise(study: Study, source: Source, say: Any = None) -> Summary:
    from .. import stats
    from ..cache import MAX_EXCLUSIONS_KEPT, Summary
    from ..comments import CommentTable, _yes_values, text_items
    from ..data import MAX_FINDINGS_LISTED as _listed
    from ..stats import sql_backend
    from ..views import Labels

    del _listed
    say = say or (lambda message: None)
    q = study.questionnaire
    config = study.config
    engine, relation, files = connect(study, source)
    try:
        schema = engine.schema(relation)
        from_files = "__file" in schema  # rows read from files carry their file and row (engines.connect)
        present = [c for c in schema if c not in ("__file", "__row")]
        absent = [c for c in expected_columns(study) if c not in present]
        if source.row_column and source.row_column not in present:
            absent.append(source.row_column)
        if absent:
            raise DataError("; ".join(f"missing column '{c}'{did_you_mean(c, present)}" for c in absent),
                            files[0], row=1, column=absent[0])
        if engine.in_process:  # its rows reach Python without a network: the checks need not be SQL
            return stream.summarise(study, engine, relation, files, schema, source, say)
        if hasattr(engine, "map_partitions") and not stream.speeding(study) and not (
                q.weights is not None and q.weights.rake):  # the checks and the pass in the engine's workers
            return stream.summarise_partitions(study, engine, relation, files, schema, source, say)
        findings: list[Problem] = []
        counts: Counter[str] = Counter()
        used = used_columns(study) | ({source.row_column} if source.row_column else set())
        if config.validation.unexpected_column != "ignore":
            for name in files:
                for column in present:
                    if column not in used:
                        counts["unexpected_column"] += 1
                        if config.validation.unexpected_column == "fail":
                            raise DataError(f"the data breaks rules set to 'fail':\n{name}:1:{column}: "
                                            "column not in the questionnaire; not allowed")
                        findings.append(Problem("column not in the questionnaire; kept",
                                                Location(name, row=1, column=column), "warning"))
        waves: dict[str, str] = {}
        if q.wave is not None:
            column = study.columns()["wave"]
            from .rules import _text

            distinct = engine.arrow(f"SELECT DISTINCT {_text(column, schema[column])} AS v FROM {relation} AS s")
            waves = wave_labels(distinct.column("v").to_pylist(), q.wave.frequency)
        plan = clean_sql(study, schema, relation, from_files, source.row_column, waves)
        say(f"checking the rows in {engine.name}")
        # no DROP TABLE first: the connection is new, and in PostgreSQL an unqualified DROP would find a user's
        # own table 'clean' when no temporary one exists (Spark replaces its temporary view of that name)
        engine.execute(f"CREATE TEMP TABLE clean AS {plan.sql}")
        flags = plan.flag_sql  # type: ignore[attr-defined]
        flag_columns = ", ".join(f"{sql} AS q_{name}" for name, sql in flags.items())
        engine.execute("CREATE OR REPLACE TEMP VIEW flagged AS SELECT *" + (f", {flag_columns}" if flags else "")
                       + " FROM clean WHERE reason IS NULL AND NOT dup")
        excluding = [f"q_{name}" for name, action in plan.quality.items() if action == "exclude" and name in flags]
        quality_out = " OR ".join(excluding) if excluding else "FALSE"
        engine.execute(f"CREATE OR REPLACE TEMP VIEW used AS SELECT * FROM flagged WHERE NOT ({quality_out})")

        account, failures = _account(engine, plan, files, flags, quality_out, counts, findings, config)
        if failures:
            listed = "\n".join(str(p) for p in failures[:MAX_FAIL_LISTED])
            more = sum(counts.values()) - min(len(failures), MAX_FAIL_LISTED)
            raise DataError(f"the data breaks rules set to 'fail':\n{listed}"
                            + (f"\n(and possibly {more} more findings)" if more > 0 else ""))
        if account["rows_used"] == 0:
            raise DataError(f"no usable responses: all {account['rows_read']:,} rows were excluded", files[0])
        exclusions = _exclusions(engine, plan, files, flags, quality_out, excluding, MAX_EXCLUSIONS_KEPT,
                                 q.respondent_id)

        say(f"computing statistics in {engine.name}")
        splan = stats.plan_for(q, tuple(plan.items))
        weight = "w"
        keys = [f"s{i}" for i in range(len(plan.segments))] + (["wave"] if plan.wave else [])
        used_rows = "used"
        weighting: dict[str, Any] = {}
        if q.weights is not None and q.weights.rake:
            say(f"raking to the population targets in {engine.name}")
            used_rows, weighting = _rake(engine, study, plan, findings)
            weight = "raked_w AS w"
        rel_sql = (f"(SELECT {', '.join(keys + [weight, 'id'] + [f'x{k}' for k in range(len(plan.items))])} "
                   f"FROM {used_rows})")
        rel = sql_backend.Relation(rel_sql, len(plan.segments), plan.wave)
        questions = banner_questions(study, splan)
        cells = engine.arrow(sql_backend.cell_query(splan, rel))
        unit_sql = sql_backend.unit_query(splan, rel)
        units = engine.arrow(unit_sql) if unit_sql else None
        replicate_sql = sql_backend.replicate_query(splan, rel)
        replicates = engine.arrow(replicate_sql) if replicate_sql else None
        study_stats, segment_labels, wave_list = sql_backend.to_stats(splan, plan.segments, plan.wave, cells,
                                                                      units, replicates)
        banners = {item_id: sql_backend.banner_stats(splan, item_id, engine.arrow(
            sql_backend.banner_query(splan, "used", item_id))) for item_id in questions}
        if banners:
            study_stats = replace(study_stats, banners=banners)
        labels = Labels(segment_labels, wave_list)

        comments = None
        items = [i for i in text_items(q) if i in plan.texts]
        if items:
            comments = _comments(engine, plan, items, labels, q, source.max_comments, CommentTable, _yes_values)
        account["weighting"] = weighting
        findings.sort(key=lambda p: (files.index(p.location.path) if p.location.path in files else -1,
                                     p.location.row or 0, str(p.location.column)))
        bad_rows = account.pop("_bad_rows")
        return Summary(study_stats, labels, account, exclusions, findings, account["answers_set_missing"],
                       bad_rows, comments)
    finally:
        engine.close()


def _count(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _account(engine: Any, plan: Plan, files: list[str], flags: dict[str, str], quality_out: str,
             counts: Counter[str], findings: list[Problem], config: Any) -> tuple[dict[str, Any], list[Problem]]:
    hits = [_count(h.name) + f" AS h{n}" for n, h in enumerate(plan.hits)]
    reasons = [_count(f"reason = {n}") + f" AS e{n}" for n in range(len(plan.exclusions))]
    main = engine.arrow(f"SELECT f, COUNT(*) AS rows_read, {_count('dup')} AS dups, "
                        + ", ".join(hits + reasons) + " FROM clean GROUP BY f").to_pylist()
    flag_sums = [_count(f"q_{name}") + f" AS q_{name}" for name in flags]
    quality = engine.arrow(f"SELECT f, {_count('NOT (' + quality_out + ')')} AS used"
                           + "".join(", " + s for s in flag_sums)
                           + "".join(f", {_count(f'NOT ({quality_out}) AND q_{n}')} AS uq_{n}" for n in flags)
                           + " FROM flagged GROUP BY f").to_pylist()
    by_file = {row["f"]: row for row in main}
    used_by_file = {row["f"]: row for row in quality}
    hit_totals = [sum(int(row[f"h{n}"] or 0) for row in main) for n in range(len(plan.hits))]
    excl_totals = [sum(int(row[f"e{n}"] or 0) for row in main) for n in range(len(plan.exclusions))]
    answers_changed = 0
    failures: list[Problem] = []
    wanted: list[tuple[int, int]] = []  # (hit, rows to list)
    room = MAX_FINDINGS_LISTED - len(findings)
    fail_room = MAX_FAIL_LISTED
    for n, (hit, total) in enumerate(zip(plan.hits, hit_totals)):
        if not total:
            continue
        counts[hit.rule] += total
        if hit.action == "missing":
            answers_changed += total
        if hit.action == "fail":
            wanted.append((n, min(total, fail_room)))
            fail_room -= min(total, fail_room)
        else:
            wanted.append((n, min(total, room)))
            room -= min(total, room)
    row_fail = [n for n, h in enumerate(plan.exclusions) if h.action == "fail" and excl_totals[n]]
    for n in row_fail:
        counts[plan.exclusions[n].rule] += excl_totals[n]
    dups = sum(int(r["dups"] or 0) for r in main)
    if dups and config.validation.duplicate_id == "fail":
        counts["duplicate_id"] += dups
    parts = []
    for n, limit in wanted:
        hit = plan.hits[n]
        if limit <= 0:
            continue
        shown = f"CAST({hit.shown} AS VARCHAR)" if hit.shown else "CAST(NULL AS VARCHAR)"
        number = f"CAST({hit.shown} AS DOUBLE)" if hit.shown and hit.shown.startswith(("v", "x")) else \
            "CAST(NULL AS DOUBLE)"
        parts.append(f"(SELECT {n} AS hit, f, r, {shown} AS shown, {number} AS shown_number FROM clean "
                     f"WHERE {hit.name} ORDER BY f, r LIMIT {limit})")
    for n in row_fail:
        parts.append(f"(SELECT {1000 + n} AS hit, f, r, CAST(NULL AS VARCHAR) AS shown, CAST(NULL AS DOUBLE) AS "
                     f"shown_number FROM clean WHERE reason = {n} ORDER BY f, r LIMIT {MAX_FAIL_LISTED})")
    if dups and config.validation.duplicate_id == "fail":
        parts.append(f"(SELECT -1 AS hit, f, r, id AS shown, CAST(NULL AS DOUBLE) AS shown_number FROM clean "
                     f"WHERE dup ORDER BY f, r LIMIT {MAX_FAIL_LISTED})")
    if parts:
        for row in engine.arrow(" UNION ALL ".join(parts)).to_pylist():
            if row["hit"] == -1:
                failures.append(Problem(f"{row['shown']!r} duplicate respondent id; not allowed",
                                        Location(files[row["f"]], row=int(row["r"]),
                                                 column=config and None), "error"))
                continue
            hit = plan.hits[row["hit"]] if row["hit"] < 1000 else plan.exclusions[row["hit"] - 1000]
            value = row["shown_number"] if row["shown_number"] is not None else row["shown"]
            if hit.rule == "required_missing" or row["hit"] >= 1000:
                value = None
            consequence = {"missing": "answer set missing", "warn": "kept", "exclude": "row excluded",
                           "fail": "not allowed"}[hit.action]
            from ..data import RULE_REASONS

            message = f"{_shown(value)}{hit.detail or (hit.reason if row['hit'] >= 1000 else RULE_REASONS[hit.rule])}"
            problem = Problem(f"{message}; {consequence}", Location(files[row["f"]], row=int(row["r"]),
                                                                   column=hit.column),
                              "error" if hit.action == "fail" else "warning", hit.key_path)
            (failures if hit.action == "fail" else findings).append(problem)
    per_file = {}
    excluded_total = 0
    for index, name in enumerate(files):
        read = int(by_file.get(index, {}).get("rows_read") or 0)
        used = int(used_by_file.get(index, {}).get("used") or 0)
        per_file[name] = {"read": read, "used": used, "excluded": read - used}
        excluded_total += read - used
    rows_read = sum(int(r["rows_read"]) for r in main)
    rows_used = sum(int(r["used"] or 0) for r in quality)
    account = {"rows_read": rows_read, "rows_used": rows_used, "rows_excluded": excluded_total,
               "excluded_by_reason": {}, "files": per_file, "answers_set_missing": answers_changed,
               "findings_by_rule": dict(sorted((k, v) for k, v in counts.items() if v)),
               "flagged": {name: sum(int(r[f"uq_{name}"] or 0) for r in quality) for name in sorted(flags)},
               "weighting": {}}
    by_reason: Counter[str] = Counter()
    for n, total in enumerate(excl_totals):
        if total and plan.exclusions[n].action != "fail":
            by_reason[plan.exclusions[n].reason] += total
    account["_bad_rows"] = sum(by_reason.values()) + dups
    if dups:
        for row in engine.arrow("SELECT id, COUNT(*) AS n FROM clean WHERE dup GROUP BY id").to_pylist():
            by_reason[f"duplicate respondent id {row['id']!r}"] += int(row["n"])
    if quality_out != "FALSE":
        names = [name for name in flags if f"q_{name}" in quality_out]
        combos = engine.arrow(f"SELECT {', '.join('q_' + n for n in names)}, COUNT(*) AS n FROM flagged "
                              f"WHERE {quality_out} GROUP BY {', '.join('q_' + n for n in names)}").to_pylist()
        for row in combos:
            which = [n for n in flags if row.get(f"q_{n}")]
            by_reason[f"quality: {', '.join(which)}"] += int(row["n"])
    account["excluded_by_reason"] = dict(sorted(by_reason.items()))
    return account, failures


def _exclusions(engine: Any, plan: Plan, files: list[str], flags: dict[str, str], quality_out: str,
                excluding: list[str], limit: int, id_column: str) -> list[dict[str, Any]]:
    flag_names = list(flags)
    nulls = ", ".join(f"FALSE AS q_{n}" for n in flag_names)
    picks = ", ".join(f"q_{n}" for n in flag_names)
    sep = ", " if flag_names else ""
    sql = (f"SELECT * FROM (SELECT f, r, 0 AS kind, reason, id{sep}{nulls} FROM clean WHERE reason IS NOT NULL "
           f"UNION ALL SELECT f, r, 1 AS kind, NULL AS reason, id{sep}{nulls} FROM clean WHERE dup"
           + (f" UNION ALL SELECT f, r, 2 AS kind, NULL AS reason, id{sep}{picks} FROM flagged WHERE {quality_out}"
              if excluding else "") + f") AS x ORDER BY f, r LIMIT {limit}")
    out = []
    for row in engine.arrow(sql).to_pylist():
        name, number = files[row["f"]], int(row["r"])
        if row["kind"] == 0:
            hit = plan.exclusions[row["reason"]]
            if hit.action == "fail":
                continue
            out.append({"file": name, "row": number, "column": hit.column, "reason": hit.reason, "rule": hit.rule,
                        "kind": "error"})
        elif row["kind"] == 1:
            out.append({"file": name, "row": number, "column": id_column,
                        "reason": f"duplicate respondent id {row['id']!r}", "rule": "duplicate_id", "kind": "error"})
        else:
            which = [n for n in flag_names if row.get(f"q_{n}") and f"q_{n}" in excluding]
            out.append({"file": name, "row": number, "column": None, "reason": f"quality: {', '.join(which)}",
                        "rule": which[0], "kind": "quality"})
    return out


def _comments(engine: Any, plan: Plan, items: list[str], labels: Any, q: Any, limit: int, table_class: Any,
              yes_values: Any) -> Any:
    keys = [f"s{i}" for i in range(len(plan.segments))] + (["wave"] if plan.wave else ["'' AS wave"])
    outcome = q.outcomes.overall[0] if q.outcomes.overall else None
    score = f"x{plan.items.index(outcome)}" if outcome in plan.items else "CAST(NULL AS DOUBLE)"
    complaint = q.outcomes.complaint
    answer = f"x{plan.items.index(complaint.item)}" if complaint is not None and complaint.item in plan.items \
        else "CAST(NULL AS DOUBLE)"
    recommend_id = q.outcomes.recommend
    recommend = f"x{plan.items.index(recommend_id)}" if recommend_id in plan.items else "CAST(NULL AS DOUBLE)"
    parts = [f"SELECT {k} AS item, t{plan.texts.index(i)} AS text, {', '.join(keys)}, {score} AS score, "
             f"{answer} AS answer, {recommend} AS recommend, id, f, r FROM used WHERE t{plan.texts.index(i)} <> ''"
             for k, i in enumerate(items)]
    rows = engine.arrow(f"SELECT * FROM ({' UNION ALL '.join(parts)}) AS c ORDER BY wave DESC, f, r, item "
                        f"LIMIT {limit}")
    wave_index = {label: k for k, label in enumerate(labels.waves)}
    wave = np.array([wave_index.get(w, -1) for w in rows.column("wave").to_pylist()], dtype=np.int32)
    segments = {}
    for i, s in enumerate(plan.segments):
        position = {label: k for k, label in enumerate(labels.segments[s])}
        segments[s] = np.array([position.get(v, -1) for v in rows.column(f"s{i}").to_pylist()], dtype=np.int32)
    score_values = np.array([np.nan if v is None else v for v in rows.column("score").to_pylist()], dtype=np.float32)
    complained = np.full(rows.num_rows, -1, dtype=np.int8)
    if complaint is not None and complaint.item in plan.items:
        yes = yes_values(q)
        values = rows.column("answer").to_pylist()
        complained = np.array([-1 if v is None else int(v in yes) for v in values], dtype=np.int8)
    recommend_values = np.array([np.nan if v is None else v for v in rows.column("recommend").to_pylist()],
                                dtype=np.float32)
    return table_class(items, np.array(rows.column("item").to_pylist(), dtype=np.int16),
                       rows.column("text").to_pylist(), wave, segments, score_values, complained,
                       [str(v) for v in rows.column("id").to_pylist()], recommend_values)


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return f"CAST({float(value)!r} AS DOUBLE)"


def _rake(engine: Any, study: Study, plan: Plan, findings: list[Problem]) -> tuple[str, dict[str, Any]]:
    """Rake on the aggregated margins: one ``GROUP BY`` of the raking variables' joint cells (and the
    ``within`` segment's units) with their respondents, sums of base weights and of their squares; the
    iterations run on that table in numpy (``raking.rake``), and the rows get their cell's factor through
    a join. Returns the used rows with the raked weight ``w``, and the weighting report."""
    from ..data import rake_item_codes
    from ..raking import RakeVariable, rake, within_segment
    from ..stats.sql_backend import _labels

    q = study.questionnaire
    weights = q.weights
    assert weights is not None
    shown = study.display(study.questionnaire_path)
    segment_id = within_segment(weights.rake, shown)
    columns = [f"s{plan.segments.index(t.variable)}" if t.variable in plan.segments else
               f"x{plan.items.index(t.variable)}" for t in weights.rake]
    keys = list(dict.fromkeys(columns + ([f"s{plan.segments.index(segment_id)}"] if segment_id else [])))
    aliases = [f"k{n}" for n in range(len(keys))]
    cells = engine.arrow(f"SELECT {', '.join(f'{c} AS {a}' for c, a in zip(keys, aliases))}, COUNT(*) AS n, "
                         f"SUM(w) AS sw, SUM(w * w) AS sw2 FROM used GROUP BY {', '.join(keys)}")
    values = {a: cells.column(a).to_pylist() for a in aliases}
    unanswered = sum(int(n) for n, *row in zip(cells.column("n").to_pylist(), *values.values())
                     if any(v is None for v in row))
    if unanswered:
        names = ", ".join(t.variable for t in weights.rake if t.variable not in plan.segments)
        raise DataError(f"{unanswered:,} used rows have no answer to a raking variable ({names}); through an "
                        "engine, raking needs every used row to answer them: build from files, where such rows "
                        "are excluded and listed (see docs/warehouse.md)", shown)
    variables = []
    for target, column in zip(weights.rake, columns):
        labels = [str(k) for k in target.shares]
        shares = np.asarray(list(target.shares.values()), dtype=float)
        found = values[aliases[keys.index(column)]]
        if target.variable in plan.segments:
            unknown = sorted({str(v) for v in found if str(v) not in labels})
            codes = np.array([labels.index(str(v)) if str(v) in labels else -1 for v in found], dtype=np.int64)
            if unknown:
                raise DataError(f"cannot rake on '{target.variable}': no target share for "
                                f"{', '.join(repr(u) for u in unknown)}", shown)
        else:
            codes, unknown_codes = rake_item_codes(q, target.variable, labels, np.asarray(found, dtype=float))
            if unknown_codes:
                raise DataError(f"cannot rake on '{target.variable}': no target share for "
                                f"{', '.join(unknown_codes)}", shown)
        variables.append(RakeVariable(target.variable, codes, labels, shares))
    groups = group_labels = None
    if segment_id:
        group_labels = _labels(values[aliases[keys.index(f"s{plan.segments.index(segment_id)}")]])
        position = {label: k for k, label in enumerate(group_labels)}
        groups = np.array([position[str(v)] for v in values[aliases[keys.index(
            f"s{plan.segments.index(segment_id)}")]]], dtype=np.int64)
    base = np.asarray(cells.column("sw").to_pylist(), dtype=float)
    result = rake(variables, base=base, max_iterations=weights.max_iterations, tolerance=weights.tolerance,
                  cap=weights.cap, groups=groups, where=segment_id, group_labels=group_labels,
                  counts=np.asarray(cells.column("n").to_pylist(), dtype=float),
                  squares=np.asarray(cells.column("sw2").to_pylist(), dtype=float))
    factor = np.divide(result.weights, base, out=np.zeros_like(base), where=base > 0)
    rows = ", ".join("(" + ", ".join([_literal(values[a][c]) for a in aliases] + [_literal(float(factor[c]))]) + ")"
                     for c in range(cells.num_rows))
    join = " AND ".join(f"u.{key} = rk.{alias}" for key, alias in zip(keys, aliases))
    raked = (f"(SELECT u.*, u.w * rk.f AS raked_w FROM used AS u JOIN (VALUES {rows}) AS rk({', '.join(aliases)}, "
             f"f) ON {join}) AS raked")
    if not result.converged:
        findings.append(Problem(f"raking did not converge in {result.iterations} iterations (largest margin "
                                f"error {result.max_error:.2g}); weights are approximate", Location(shown),
                                "warning"))
    return raked, {"method": "rake", **result.as_dict()}
