"""A study's summary from an engine that runs in this process (DuckDB): its rows streamed as Arrow batches
through the same checks as files (``data.RowChecks``) and the numpy pass, merged by addition.

DuckDB in this process hands its rows to Python without a network in between, so the checks do not need
to be SQL: the rules in numpy ran 15-20 times faster than the same rules as DuckDB expressions
(docs/benchmarks.md), and being the very code that checks files, they agree with it by construction.
Memory holds one batch, the running statistics and what the report keeps (the first exclusions and
findings, the latest comments), whatever the number of rows.

Rules that need every row at once are computed so that batches cannot change them:

- duplicate ids: DuckDB lists the ids that occur more than once (one ``GROUP BY``), and the stream keeps
  the first kept row of each in file and row order, as a build from files does;
- segment units and waves are coded in the order they are met and renumbered in sorted order at the end,
  so cells, units and comments come out as from files.

Two rules need a value over all rows before any row can be counted: the speeding check (the median
duration) and raking (the margins). Studies using them go through the engine's SQL checks
(``summary.py``) instead; :func:`streams` says which.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:
    from ..cache import Summary
    from ..comments import CommentTable
    from ..model import Source
    from ..stats.numpy_backend import StudyStats
    from ..study import Study
    from . import Engine

BATCH_ROWS = 1 << 18  # source rows per Arrow batch: about 130 MB of a 60-column source
# checked rows per pass: the pass has a cost per cell whatever its rows (the 6,000 cells of the benchmark study
# took 1.5 times as long in four passes of 250,000 rows as in one of a million, and as long in two of 500,000),
# and half a million checked rows of 48 items are about 100 MB
PASS_ROWS = 1 << 19


def streams(study: Study) -> bool:
    """Whether the study's checks can run batch by batch (no rule that needs every row first)."""
    q = study.questionnaire
    quality = study.config.quality
    speeding = quality.speeding != "off" and bool(quality.duration_column)
    return not speeding and not (q.weights is not None and q.weights.rake)


class _Codes:
    """Labels coded in the order they are met across batches; sorted (as files code them) at the end."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.position: dict[str, int] = {}

    def recode(self, codes: np.ndarray, labels: list[str]) -> np.ndarray:
        for label in labels:
            if label not in self.position:
                self.position[label] = len(self.labels)
                self.labels.append(label)
        lookup = np.array([self.position[label] for label in labels] or [0], dtype=np.int32)
        return lookup[codes]

    def sorted(self) -> tuple[list[str], np.ndarray]:
        """(the labels sorted, old code -> new code)."""
        ordered = sorted(self.labels)
        rank = {label: k for k, label in enumerate(ordered)}
        return ordered, np.array([rank[label] for label in self.labels] or [0], dtype=np.int32)


class _Comments:
    """The latest ``limit`` comments (most recent wave first, then data order, then item order) of the rows
    seen so far: each batch's table is added and the rest cut off."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.table: CommentTable | None = None
        self.batch = np.zeros(0, dtype=np.int64)  # the batch each kept comment came from (data order)

    def add(self, table: CommentTable, batch: int, waves: _Codes) -> None:
        from ..comments import concatenate, take

        if not len(table):
            if self.table is None:
                self.table = table
            return
        joined = concatenate([self.table, table]) if self.table is not None else table
        batches = np.concatenate([self.batch, np.full(len(table), batch, dtype=np.int64)])
        if len(joined) > self.limit:
            _, rank = waves.sorted()
            wave_rank = np.where(joined.wave >= 0, rank[np.maximum(joined.wave, 0)], -1).astype(np.int64)
            # within a batch the table is already in wave, row, item order: its position keeps that order
            order = np.lexsort((np.arange(len(joined)), batches, -wave_rank))[:self.limit]
            joined, batches = take(joined, order), batches[order]
        self.table, self.batch = joined, batches

    def result(self, waves: _Codes, segments: dict[str, _Codes]) -> CommentTable | None:
        from ..comments import take

        table = self.table
        if table is None:
            return None
        _, wave_rank = waves.sorted()
        wave = np.where(table.wave >= 0, wave_rank[np.maximum(table.wave, 0)], -1).astype(np.int32)
        order = np.lexsort((np.arange(len(table)), self.batch, -wave.astype(np.int64)))
        table = take(replace(table, wave=wave, segments={s: segments[s].sorted()[1][codes] if codes.size else codes
                                                         for s, codes in table.segments.items()}), order)
        return table


def _renumbered(stats: StudyStats, segments: dict[str, _Codes], waves: _Codes) -> StudyStats:
    """The statistics with units and waves coded in sorted label order, cells and units in that order."""
    from ..stats.numpy_backend import merge_all

    remap = {s: codes.sorted()[1] for s, codes in segments.items()}
    cells = replace(stats.cells, segment_codes={s: remap[s][c] for s, c in stats.cells.segment_codes.items()},
                    wave_codes=waves.sorted()[1][stats.cells.wave_codes] if waves.labels else stats.cells.wave_codes)
    units = stats.units
    if units is not None:
        units = replace(units, segment_codes={s: remap[s][c] for s, c in units.segment_codes.items()})
    return merge_all([replace(stats, cells=cells, units=units)])


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def _glibc() -> Any:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return library if library is not None and hasattr(library, "malloc_trim") else None


def _map_big_blocks_apart() -> None:
    """Keep glibc's malloc mapping blocks of 4 MB and more apart, so that memory freed goes back to the system.

    By default glibc raises that threshold to the size of each big block freed (up to 32 MB), after which the
    pass's temporaries come from the heap and stay there when freed: a 10-million-row stream held 300 MB more
    at each pass than with the threshold fixed (measured, docs/benchmarks.md). Other C libraries: nothing."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_THRESHOLD, 4 << 20)


def _repeats(ids: Any, repeated: Any, seen: set[str]) -> np.ndarray:
    """Which of a batch's ``ids`` were seen on an earlier kept row (``seen``, which this adds to); only the ids
    in ``repeated`` (found on several rows of the source) are looked at."""
    import pyarrow.compute as pc

    from ..data import _take

    duplicate = np.zeros(len(ids), dtype=bool)
    hits = np.flatnonzero(np.asarray(pc.is_in(ids, value_set=repeated)))
    for index, identifier in zip(hits.tolist(), _take(ids, hits)):
        if identifier in seen:
            duplicate[index] = True
        else:
            seen.add(identifier)
    return duplicate


def _give_back_memory() -> None:
    """Return the memory a pass freed to the system (Arrow's pool, glibc's heap)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _repeated_ids(engine: Engine, relation: str, id_text: str) -> Any:
    """The ids found on more than one row (one ``GROUP BY``, on a connection of its own: the hash table of ten
    million ids held 400 MB that DuckDB kept after the query)."""
    import pyarrow as pa

    apart = engine.apart() if hasattr(engine, "apart") else engine
    try:
        found = apart.arrow(f"SELECT id FROM (SELECT {id_text} AS id FROM {relation} AS source_rows) AS ids "
                            "WHERE id <> '' GROUP BY id HAVING COUNT(*) > 1")
    finally:
        if apart is not engine:
            engine.queries += apart.queries
            apart.close()
    return found.column("id").combine_chunks().cast(pa.string())


def summarise(study: Study, engine: Engine, relation: str, files: list[str], schema: dict[str, str],
              source: Source, say: Any) -> Summary:
    import pyarrow as pa

    from .. import stats
    from ..banners import banner_questions
    from ..cache import MAX_EXCLUSIONS_KEPT, Summary
    from ..comments import collect
    from ..data import (
        RawTable,
        Responses,
        RowChecks,
        _concatenate,
        _encode,
        _file_order,
    )
    from ..stats.numpy_backend import banner_cells, compute_all, merge_all
    from ..stats.sql_backend import ident
    from ..views import Labels
    from .rules import _text, expected_columns

    q = study.questionnaire
    checks = RowChecks(study)
    present = [c for c in schema if c not in ("__file", "__row")]
    for name in files:  # a stream reads only the columns the study uses: the source's columns are checked here
        checks.header(name, [c for c in present if c != source.row_column])
    numeric = checks.numeric
    plan = stats.plan_for(q, tuple(i.id for i in numeric))
    questions = banner_questions(study, plan)
    id_text = _text(q.respondent_id, schema[q.respondent_id])
    repeated = _repeated_ids(engine, relation, id_text)
    wanted = ", ".join(ident(c) for c in expected_columns(study))
    if "__file" in schema:  # files: rows in file and row order as DuckDB scans them (order kept, below)
        sql = f"SELECT {wanted}, __file, __row FROM {relation} AS source_rows"
    else:
        row = (f"CAST({ident(source.row_column)} AS BIGINT)" if source.row_column
               else f"row_number() OVER (ORDER BY {id_text})")
        sql = f"SELECT * FROM (SELECT {wanted}, 0 AS __file, {row} AS __row FROM {relation} AS source_rows) " \
              "AS numbered ORDER BY __row"
    engine.execute("SET preserve_insertion_order = true")  # batches in data order: the first duplicate is kept

    seen: set[str] = set()
    segments = {s.id: _Codes() for s in q.segments}
    waves = _Codes()
    comments = _Comments(source.max_comments)
    total: StudyStats | None = None
    rows_read = rows_used = bad_rows = 0
    kept_exclusions: list[dict[str, Any]] = []
    by_reason: Counter[str] = Counter()
    excluded_per_file: Counter[str] = Counter()
    used_per_file: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    last = (-1, -1)
    pending: list[dict[str, Any]] = []  # checked rows waiting for the pass
    pending_rows = 0
    passes = 0

    def add(parts: list[dict[str, Any]]) -> None:
        """The pass over checked rows, merged into the running statistics; their comments, into the latest."""
        nonlocal total, passes
        rows = _concatenate(parts)
        parts.clear()  # the checked parts, once copied: only one copy of the rows is held during the pass
        responses = Responses(
            items=plan.items, answers=rows["answers"], ids=rows["ids"],
            segments={s.id: rows[f"code:{s.id}"] for s in q.segments},
            segment_labels={s: list(c.labels) for s, c in segments.items()}, wave=rows["wave"],
            wave_labels=list(waves.labels), weights=rows["weights"],
            text={i.id: rows[f"text:{i.id}"] for i in checks.texts}, source_file=rows["file"],
            source_row=rows["rows"], files=files, rows_read=len(rows["ids"]))
        result = compute_all(responses, plan)
        if questions:
            result = replace(result, banners={item: banner_cells(responses, plan, item) for item in questions})
        total = result if total is None else merge_all([total, result])
        comments.add(collect(responses, q), passes, waves)
        passes += 1
        del responses, rows
        _give_back_memory()
    say(f"checking the rows and computing statistics in {engine.name}")
    _map_big_blocks_apart()
    for batch in engine.batches(sql, BATCH_ROWS):
        if batch.num_rows == 0:
            continue
        file_of = batch.column("__file").to_numpy(zero_copy_only=False).astype(np.int64)
        row_of = batch.column("__row").to_numpy(zero_copy_only=False).astype(np.int64)
        file_step, row_step = np.diff(file_of), np.diff(row_of)
        backwards = np.any(file_step < 0) or np.any((row_step <= 0) & (file_step == 0))
        if (int(file_of[0]), int(row_of[0])) <= last or backwards:
            raise AssertionError("the engine returned rows out of order")  # a bug: the order is asked for above
        steps = np.flatnonzero(file_step) + 1  # where a batch passes from one file to the next
        last = (int(file_of[-1]), int(row_of[-1]))
        table = pa.Table.from_batches([batch]).drop_columns(["__file", "__row"])
        rows_read += batch.num_rows
        for start, end in zip([0, *steps.tolist()], [*steps.tolist(), batch.num_rows]):
            file_index = int(file_of[start])
            path = files[file_index]
            before = len(checks.exclusions)
            part = checks.check(RawTable(table.slice(start, end - start), path,
                                         row_numbers=row_of[start:end].astype(np.int32)), file_index, header=False)
            if len(repeated) and len(part["ids"]):
                part = checks.drop_duplicates(part, _repeats(part["ids"], repeated, seen), files)
            part, flags = checks.drop_careless(part, files)
            new = checks.exclusions[before:]
            del checks.exclusions[before:]
            new.sort(key=lambda e: e.row)
            for exclusion in new:
                by_reason[exclusion.reason] += 1
                excluded_per_file[exclusion.file] += 1
                bad_rows += exclusion.kind == "error"
                if len(kept_exclusions) < MAX_EXCLUSIONS_KEPT:
                    kept_exclusions.append(exclusion.as_dict())
            for name, mask in flags.items():
                flagged[name] += int(mask.sum())
            n = len(part["ids"])
            if n == 0 or checks.findings.failures:  # a failing build reads on only to count what fails
                continue
            rows_used += n
            used_per_file[path] += n
            for s in q.segments:
                part[f"code:{s.id}"] = segments[s.id].recode(*_encode(part.pop(f"seg:{s.id}")))
            if q.wave is not None:
                part["wave"] = waves.recode(*_encode(part["wave"]))
            pending.append(part)
            pending_rows += n
            if pending_rows >= PASS_ROWS:
                add(pending)
                pending_rows = 0
    if pending and not checks.findings.failures:
        add(pending)
    checks.findings.raise_failures()
    if total is None:
        detail = ", ".join(f"{count:,} {reason}" for reason, count in by_reason.most_common(3))
        raise DataError(f"no usable responses: all {rows_read:,} rows were excluded ({detail})",
                        files[0] if len(files) == 1 else None)
    findings = checks.findings
    account = {
        "rows_read": rows_read, "rows_used": rows_used, "rows_excluded": sum(by_reason.values()),
        "excluded_by_reason": dict(sorted(by_reason.items())),
        "files": {name: {"read": int(checks.read_per_file.get(name, 0)), "used": used_per_file[name],
                         "excluded": excluded_per_file[name]} for name in files},
        "answers_set_missing": findings.answers_changed,
        "findings_by_rule": dict(sorted(findings.counts.items())),
        "flagged": {name: flagged[name] for name in sorted(flagged)},
        "weighting": {},
    }
    if rows_used + account["rows_excluded"] != rows_read:
        raise AssertionError("row account does not add up")  # a bug, never bad input
    labels = Labels({s: codes.sorted()[0] for s, codes in segments.items()}, waves.sorted()[0])
    return Summary(_renumbered(total, segments, waves), labels, account, kept_exclusions,
                   sorted(findings.listed, key=_file_order(files)), findings.answers_changed, bad_rows,
                   comments.result(waves, segments))
