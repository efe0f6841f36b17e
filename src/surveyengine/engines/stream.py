"""A study's summary from an engine that runs in this process (DuckDB): its rows streamed as Arrow batches
through the same checks as files (``data.RowChecks``) and the numpy pass, merged by addition. Spark runs the
same in its Python workers, a partition each (:func:`summarise_partitions`), and only their statistics
come back.

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

Two rules need a value over all rows before any row can be counted, and each takes one more pass over
the source, checking its rows the same way: the speeding check (the median duration of the kept rows) and
raking (the margins of the kept rows: the joint cells of the raking variables, as an engine rakes in SQL,
``summary._rake``; the last pass gives each row its cell's factor).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
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
PROGRESS_SECONDS = 5.0


def speeding(study: Study) -> bool:
    quality = study.config.quality
    return quality.speeding != "off" and bool(quality.duration_column)


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
    seen so far: each table is added and the rest cut off. A comment's place in the data is its position,
    file index * 2^32 + row."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.table: CommentTable | None = None
        self.position = np.zeros(0, dtype=np.int64)

    def _order(self, table: CommentTable, position: np.ndarray, waves: _Codes) -> np.ndarray:
        _, rank = waves.sorted()
        wave_rank = np.where(table.wave >= 0, rank[np.maximum(table.wave, 0)], -1).astype(np.int64)
        return np.lexsort((table.item, position, -wave_rank))

    def add(self, table: CommentTable, position: np.ndarray, waves: _Codes) -> None:
        from ..comments import concatenate, take

        if self.table is not None and len(table):
            table, position = concatenate([self.table, table]), np.concatenate([self.position, position])
        elif self.table is not None:
            return
        if len(table) > self.limit:
            keep = self._order(table, position, waves)[:self.limit]
            table, position = take(table, keep), position[keep]
        self.table, self.position = table, position

    def result(self, waves: _Codes, segments: dict[str, _Codes]) -> CommentTable | None:
        from ..comments import take

        if self.table is None:
            return None
        order = self._order(self.table, self.position, waves)
        _, wave_rank = waves.sorted()
        table = self.table
        wave = np.where(table.wave >= 0, wave_rank[np.maximum(table.wave, 0)], -1).astype(np.int32)
        return take(replace(table, wave=wave, segments={s: segments[s].sorted()[1][codes] if codes.size else codes
                                                        for s, codes in table.segments.items()}), order)


def _recoded(stats: StudyStats, segments: dict[str, np.ndarray], waves: np.ndarray | None) -> StudyStats:
    """The statistics with units and waves coded anew (old code -> new code), cells and units merged in the
    order of the new codes."""
    from ..stats.numpy_backend import merge_all

    cells = replace(stats.cells, segment_codes={s: segments[s][c] for s, c in stats.cells.segment_codes.items()},
                    wave_codes=waves[stats.cells.wave_codes] if waves is not None else stats.cells.wave_codes)
    units = stats.units
    if units is not None:
        units = replace(units, segment_codes={s: segments[s][c] for s, c in units.segment_codes.items()})
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


def _repeated_sql(relation: str, id_text: str) -> str:
    return (f"SELECT id FROM (SELECT {id_text} AS id FROM {relation} AS source_rows) AS ids "
            "WHERE id <> '' GROUP BY id HAVING COUNT(*) > 1")


def _repeated_ids(engine: Engine, relation: str, id_text: str) -> Any:
    """The ids found on more than one row (one ``GROUP BY``, on a connection of its own: the hash table of ten
    million ids held 400 MB that DuckDB kept after the query)."""
    import pyarrow as pa

    apart = engine.apart() if hasattr(engine, "apart") else engine
    try:
        found = apart.arrow(_repeated_sql(relation, id_text))
    finally:
        if apart is not engine:
            engine.queries += apart.queries
            apart.close()
    return found.column("id").combine_chunks().cast(pa.string())


class _Raking:
    """Raking of streamed rows on their aggregated margins: :meth:`add` sums each batch's kept rows into the
    joint cells of the raking variables (and the ``within`` segment's units), :meth:`solve` rakes the cells
    (``raking.rake``, the code a build from files uses), :meth:`apply` gives each row its cell's factor and
    drops, listed, the rows that do not answer a raking item (as ``data._apply_raking`` does)."""

    def __init__(self, study: Study, checks: Any) -> None:
        from ..raking import within_segment

        q = study.questionnaire
        assert q.weights is not None
        self.study, self.weights = study, q.weights
        self.shown = study.display(study.questionnaire_path)
        self.within = within_segment(self.weights.rake, self.shown)
        self.items = {item.id: k for k, item in enumerate(checks.numeric)}
        self.labels = [[str(k) for k in t.shares] for t in self.weights.rake]
        self.groups = _Codes()
        self.cells: dict[tuple[int, ...], np.ndarray] = {}  # codes and group -> respondents, Σw, Σw²
        self.unknown: list[set[str]] = [set() for _ in self.weights.rake]
        self.factor: dict[tuple[int, ...], float] = {}
        self.report: dict[str, Any] = {}
        self.problem: Any = None

    def _keys(self, part: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(per row: each raking variable's target position, -1 for none, then the ``within`` unit; per row and
        raking item: answered), noting the answers that have no target share."""
        from ..data import rake_item_codes

        n = len(part["ids"])
        keys = np.zeros((n, len(self.labels) + 1), dtype=np.int64)
        answered = np.ones(n, dtype=bool)
        for v, (target, labels) in enumerate(zip(self.weights.rake, self.labels)):
            if target.variable in self.items:
                values = part["answers"][:, self.items[target.variable]]
                codes, unknown = rake_item_codes(self.study.questionnaire, target.variable, labels, values)
                answered &= ~np.isnan(values)
                self.unknown[v].update(unknown)
            else:
                units = part[f"seg:{target.variable}"]
                dictionary = [str(u) for u in units.dictionary.to_pylist()]
                lookup = np.array([labels.index(u) if u in labels else -1 for u in dictionary] or [0], dtype=np.int64)
                indices = units.indices.to_numpy(zero_copy_only=False)
                codes = lookup[indices]
                self.unknown[v].update(dictionary[i] for i in np.unique(indices[codes < 0]).tolist())
            keys[:, v] = codes
        if self.within:
            from ..data import _encode

            keys[:, -1] = self.groups.recode(*_encode(part[f"seg:{self.within}"]))
        return keys, answered

    def add(self, part: dict[str, Any]) -> None:
        keys, answered = self._keys(part)
        weights = part["weights"] if part["weights"] is not None else np.ones(len(part["ids"]))
        keys, weights = keys[answered], weights[answered]
        if not keys.shape[0]:
            return
        found, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        sums = np.stack([np.bincount(inverse, minlength=found.shape[0]).astype(float),
                         np.bincount(inverse, weights=weights, minlength=found.shape[0]),
                         np.bincount(inverse, weights=weights * weights, minlength=found.shape[0])], axis=1)
        for key, row in zip(map(tuple, found.tolist()), sums):
            self.cells[key] = self.cells[key] + row if key in self.cells else row

    def solve(self, answered_none: int) -> None:
        from ..errors import Location, Problem
        from ..raking import RakeVariable, rake

        for target, unknown in zip(self.weights.rake, self.unknown):
            if unknown:
                shown = ", ".join(repr(u) for u in sorted(unknown)) if target.variable not in self.items else \
                    ", ".join(sorted(unknown))
                raise DataError(f"cannot rake on '{target.variable}': no target share for {shown}", self.shown)
        if not self.cells:
            columns = self.study.columns()
            names = ", ".join(columns.get(t.variable, t.variable) for t in self.weights.rake
                              if t.variable in self.items)
            raise DataError(f"no usable responses: none of the {answered_none:,} rows used answers every raking "
                            f"variable ({names})")
        keys = sorted(self.cells)
        table = np.array(keys, dtype=np.int64)
        sums = np.array([self.cells[key] for key in keys])
        groups = group_labels = None
        if self.within:
            group_labels, rank = self.groups.sorted()
            groups = rank[table[:, -1]]
        variables = [RakeVariable(t.variable, table[:, v], labels, np.asarray(list(t.shares.values()), dtype=float))
                     for v, (t, labels) in enumerate(zip(self.weights.rake, self.labels))]
        result = rake(variables, base=sums[:, 1], max_iterations=self.weights.max_iterations,
                      tolerance=self.weights.tolerance, cap=self.weights.cap, groups=groups, where=self.within,
                      group_labels=group_labels, counts=sums[:, 0], squares=sums[:, 2])
        factor = np.divide(result.weights, sums[:, 1], out=np.zeros(len(keys)), where=sums[:, 1] > 0)
        self.factor = dict(zip(keys, factor.tolist()))
        self.report = {"method": "rake", **result.as_dict()}
        if not result.converged:
            self.problem = Problem(f"raking did not converge in {result.iterations} iterations (largest margin "
                                   f"error {result.max_error:.2g}); weights are approximate", Location(self.shown),
                                   "warning")

    def apply(self, part: dict[str, Any], flags: dict[str, np.ndarray], checks: Any, files: list[str]
              ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        from ..data import RULE_REASONS, Exclusion, _select

        keys, answered = self._keys(part)
        columns = self.study.columns()
        if not answered.all():
            rule = "missing_rake_variable"
            path = files[part["file"][0]]  # a piece's rows come from one file
            column_of = np.full(len(answered), None, dtype=object)
            for target in reversed(self.weights.rake):  # a row is named by its first unanswered variable
                if target.variable in self.items:
                    unanswered = np.isnan(part["answers"][:, self.items[target.variable]])
                    column = columns.get(target.variable, target.variable)
                    column_of[unanswered] = column
                    if self.study.config.validation.missing_rake_variable == "fail":
                        rows = part["rows"][unanswered]
                        checks.findings.add(rule, path, rows, column, [None] * rows.size, "fail", RULE_REASONS[rule],
                                            target.variable)
            for index in np.flatnonzero(~answered).tolist():
                column = column_of[index]
                checks.exclusions.append(Exclusion(path, int(part["rows"][index]), column,
                                                   f"{column}: {RULE_REASONS[rule]}", rule))
            part, keys = _select(part, answered), keys[answered]
            flags = {name: mask[answered] for name, mask in flags.items()}
        weights = part["weights"] if part["weights"] is not None else np.ones(len(part["ids"]))
        factor = np.array([self.factor[key] for key in map(tuple, keys.tolist())]) if keys.shape[0] else \
            np.zeros(0)
        part["weights"] = weights * factor
        return part, flags


def _pieces(engine: Engine, sql: str, files: list[str], checks: Any, repeated: Any
            ) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """The source in data order, a piece at a time (a batch, or its rows in one file): (file, rows read, the
    rows kept by the rules of one row and the duplicate ids), the findings and exclusions going to
    ``checks``."""
    import pyarrow as pa

    from ..data import RawTable

    seen: set[str] = set()
    last = (-1, -1)
    for batch in engine.batches(sql, BATCH_ROWS):
        if batch.num_rows == 0:
            continue
        file_of = batch.column("__file").to_numpy(zero_copy_only=False).astype(np.int64)
        row_of = batch.column("__row").to_numpy(zero_copy_only=False).astype(np.int64)
        file_step, row_step = np.diff(file_of), np.diff(row_of)
        backwards = np.any(file_step < 0) or np.any((row_step <= 0) & (file_step == 0))
        if (int(file_of[0]), int(row_of[0])) <= last or backwards:
            raise AssertionError("the engine returned rows out of order")  # a bug: the order is asked for
        steps = np.flatnonzero(file_step) + 1  # where a batch passes from one file to the next
        last = (int(file_of[-1]), int(row_of[-1]))
        table = pa.Table.from_batches([batch]).drop_columns(["__file", "__row"])
        for start, end in zip([0, *steps.tolist()], [*steps.tolist(), batch.num_rows]):
            file_index = int(file_of[start])
            path = files[file_index]
            part = checks.check(RawTable(table.slice(start, end - start), path,
                                         row_numbers=row_of[start:end].astype(np.int32)), file_index, header=False)
            if len(repeated) and len(part["ids"]):
                part = checks.drop_duplicates(part, _repeats(part["ids"], repeated, seen), files)
            yield path, end - start, part


def _source_checks(study: Study, schema: dict[str, str], files: list[str], source: Source) -> Any:
    """The rules of the study, with the source's columns checked once for every file it stands for (the rows
    then come with only the columns the study uses)."""
    from ..data import RowChecks

    checks = RowChecks(study)
    present = [c for c in schema if c not in ("__file", "__row", source.row_column)]
    for name in files:
        checks.header(name, present)
    return checks


def _source_sql(study: Study, relation: str, schema: dict[str, str], source: Source, ordered: bool = True
                ) -> tuple[str, str]:
    """(the respondent id as text in SQL, the query of the columns the study reads, in data order unless not
    ``ordered``)."""
    from ..stats.sql_backend import ident
    from .rules import _text, expected_columns

    id_text = _text(study.questionnaire.respondent_id, schema[study.questionnaire.respondent_id])
    wanted = ", ".join(ident(c) for c in expected_columns(study))
    if "__file" in schema:  # files: rows in file and row order as DuckDB scans them (the order is kept)
        return id_text, f"SELECT {wanted}, __file, __row FROM {relation} AS source_rows"
    row = (f"CAST({ident(source.row_column)} AS BIGINT)" if source.row_column
           else f"row_number() OVER (ORDER BY {id_text})")
    return id_text, (f"SELECT * FROM (SELECT {wanted}, 0 AS __file, {row} AS __row FROM {relation} AS source_rows) "
                     "AS numbered" + (" ORDER BY __row" if ordered else ""))


class _Gather:
    """The kept rows of a stream (or of one Spark partition), counted, gathered and passed over: the statistics
    merged by addition, units and waves coded as they are met, the row account, the first exclusions, the
    latest comments. :meth:`merge` adds another gather's (a partition's) into this one."""

    def __init__(self, study: Study, checks: Any, files: list[str], max_comments: int) -> None:
        from .. import stats
        from ..banners import banner_questions

        q = study.questionnaire
        self.study, self.checks, self.files = study, checks, files
        self.plan = stats.plan_for(q, tuple(i.id for i in checks.numeric))
        self.questions = banner_questions(study, self.plan)
        self.segments = {s.id: _Codes() for s in q.segments}
        self.waves = _Codes()
        self.comments = _Comments(max_comments)
        self.total: StudyStats | None = None
        self.rows_read = self.rows_used = self.bad_rows = 0
        self.exclusions: list[tuple[int, int, dict[str, Any]]] = []  # (file, row, exclusion): the first ones
        self.by_reason: Counter[str] = Counter()
        self.excluded_per_file: Counter[str] = Counter()
        self.used_per_file: Counter[str] = Counter()
        self.flagged: Counter[str] = Counter()
        self.pending: list[dict[str, Any]] = []  # checked rows waiting for the pass
        self.pending_rows = 0
        self.first = (len(files), 0)  # the first (file, row) seen: partitions merge in data order

    def take(self, path: str, part: dict[str, Any], flags: dict[str, np.ndarray]) -> bool:
        """One piece's kept rows (``part``, of the file ``path``) and its quality flags, after every rule: the
        exclusions the rules listed in ``checks`` are counted; True when a pass ran."""
        from ..cache import MAX_EXCLUSIONS_KEPT
        from ..data import _encode

        file_index = self.files.index(path)
        for exclusion in sorted(self.checks.exclusions, key=lambda e: e.row):
            self.by_reason[exclusion.reason] += 1
            self.excluded_per_file[exclusion.file] += 1
            self.bad_rows += exclusion.kind == "error"
            if len(self.exclusions) < MAX_EXCLUSIONS_KEPT:
                self.exclusions.append((file_index, exclusion.row, exclusion.as_dict()))
        self.checks.exclusions.clear()
        for name, mask in flags.items():
            self.flagged[name] += int(mask.sum())
        n = len(part["ids"])
        if n == 0 or self.checks.findings.failures:  # a failing build reads on only to count what fails
            return False
        self.rows_used += n
        self.used_per_file[path] += n
        for s in self.segments:
            part[f"code:{s}"] = self.segments[s].recode(*_encode(part.pop(f"seg:{s}")))
        if self.study.questionnaire.wave is not None:
            part["wave"] = self.waves.recode(*_encode(part["wave"]))
        self.pending.append(part)
        self.pending_rows += n
        if self.pending_rows < PASS_ROWS:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        """The pass over the gathered rows, merged into the running statistics; their comments, into the
        latest."""
        from ..comments import collect_rows
        from ..data import Responses, _concatenate
        from ..stats.numpy_backend import banner_cells, compute_all, merge_all

        if not self.pending or self.checks.findings.failures:
            return
        rows = _concatenate(self.pending)
        self.pending.clear()  # the checked parts, once copied: only one copy of the rows is held during the pass
        self.pending_rows = 0
        plan, q = self.plan, self.study.questionnaire
        responses = Responses(
            items=plan.items, answers=rows["answers"], ids=rows["ids"],
            segments={s: rows[f"code:{s}"] for s in self.segments},
            segment_labels={s: list(c.labels) for s, c in self.segments.items()}, wave=rows["wave"],
            wave_labels=list(self.waves.labels), weights=rows["weights"],
            text={i.id: rows[f"text:{i.id}"] for i in self.checks.texts}, source_file=rows["file"],
            source_row=rows["rows"], files=self.files, rows_read=len(rows["ids"]))
        result = compute_all(responses, plan)
        if self.questions:
            result = replace(result, banners={item: banner_cells(responses, plan, item) for item in self.questions})
        self.total = result if self.total is None else merge_all([self.total, result])
        table, at = collect_rows(responses, q)
        position = (responses.source_file[at].astype(np.int64) << 32) + responses.source_row[at].astype(np.int64)
        self.comments.add(table, position, self.waves)
        del responses, rows
        _give_back_memory()

    def merge(self, other: _Gather) -> None:
        """Another gather's rows (a partition's) added to this one's: its codes translated into this one's."""
        from ..cache import MAX_EXCLUSIONS_KEPT
        from ..data import MAX_FAIL_LISTED, MAX_FINDINGS_LISTED, _file_order
        from ..stats.numpy_backend import merge_all

        other.flush()
        segments = {s: self.segments[s].recode(np.arange(len(c.labels)), c.labels)
                    for s, c in other.segments.items()}
        waves = self.waves.recode(np.arange(len(other.waves.labels)), other.waves.labels) \
            if other.waves.labels else None
        if other.total is not None:
            recoded = _recoded(other.total, segments, waves)
            self.total = recoded if self.total is None else merge_all([self.total, recoded])
        table = other.comments.table
        if table is not None:  # even empty: a study with text items has a (maybe empty) comment table, as from files
            wave = np.where(table.wave >= 0, waves[np.maximum(table.wave, 0)], -1).astype(np.int32) \
                if waves is not None and len(table) else table.wave
            table = replace(table, wave=wave, segments={s: segments[s][c] if c.size else c
                                                        for s, c in table.segments.items()})
            self.comments.add(table, other.comments.position, self.waves)
        self.first = min(self.first, other.first)
        for name in ("rows_read", "rows_used", "bad_rows"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("by_reason", "excluded_per_file", "used_per_file", "flagged"):
            getattr(self, name).update(getattr(other, name))
        self.exclusions = sorted(self.exclusions + other.exclusions, key=lambda e: (e[0], e[1]))[:MAX_EXCLUSIONS_KEPT]
        findings, theirs = self.checks.findings, other.checks.findings
        findings.counts.update(theirs.counts)
        findings.answers_changed += theirs.answers_changed
        in_order = _file_order(self.files)
        findings.listed = sorted(findings.listed + theirs.listed, key=in_order)[:MAX_FINDINGS_LISTED]
        findings.failures = sorted(findings.failures + theirs.failures, key=in_order)[:MAX_FAIL_LISTED]
        for name, read in other.checks.read_per_file.items():
            self.checks.read_per_file[name] = self.checks.read_per_file.get(name, 0) + read

    def summary(self, raking: _Raking | None = None) -> Summary:
        from ..cache import MAX_EXCLUSIONS_KEPT, Summary
        from ..data import MAX_FAIL_LISTED, MAX_FINDINGS_LISTED, _file_order
        from ..views import Labels

        self.flush()
        findings, files = self.checks.findings, self.files
        findings.failures = sorted(findings.failures, key=_file_order(files))[:MAX_FAIL_LISTED]
        findings.raise_failures()
        if self.total is None:
            detail = ", ".join(f"{count:,} {reason}" for reason, count in self.by_reason.most_common(3))
            raise DataError(f"no usable responses: all {self.rows_read:,} rows were excluded ({detail})",
                            files[0] if len(files) == 1 else None)
        account = {
            "rows_read": self.rows_read, "rows_used": self.rows_used, "rows_excluded": sum(self.by_reason.values()),
            "excluded_by_reason": dict(sorted(self.by_reason.items())),
            "files": {name: {"read": int(self.checks.read_per_file.get(name, 0)), "used": self.used_per_file[name],
                             "excluded": self.excluded_per_file[name]} for name in files},
            "answers_set_missing": findings.answers_changed,
            "findings_by_rule": dict(sorted(findings.counts.items())),
            "flagged": {name: self.flagged[name] for name in sorted(self.flagged)},
            "weighting": raking.report if raking is not None else {},
        }
        if self.rows_used + account["rows_excluded"] != self.rows_read:
            raise AssertionError("row account does not add up")  # a bug, never bad input
        listed = sorted(findings.listed, key=_file_order(files))[:MAX_FINDINGS_LISTED]
        if raking is not None and raking.problem is not None:
            listed.append(raking.problem)
        exclusions = [e for _, _, e in sorted(self.exclusions, key=lambda e: (e[0], e[1]))][:MAX_EXCLUSIONS_KEPT]
        segments = {s: codes.sorted() for s, codes in self.segments.items()}
        labels = Labels({s: ordered for s, (ordered, _) in segments.items()}, self.waves.sorted()[0])
        stats = _recoded(self.total, {s: rank for s, (_, rank) in segments.items()},
                         self.waves.sorted()[1] if self.waves.labels else None)
        return Summary(stats, labels, account, exclusions, listed, findings.answers_changed, self.bad_rows,
                       self.comments.result(self.waves, self.segments))


def summarise(study: Study, engine: Engine, relation: str, files: list[str], schema: dict[str, str],
              source: Source, say: Any) -> Summary:
    from ..data import RowChecks

    q = study.questionnaire
    checks = _source_checks(study, schema, files, source)
    id_text, sql = _source_sql(study, relation, schema, source)
    repeated = _repeated_ids(engine, relation, id_text)
    engine.execute("SET preserve_insertion_order = true")  # batches in data order: the first duplicate is kept
    _map_big_blocks_apart()

    median = None
    if speeding(study):
        say(f"finding the median duration in {engine.name}")
        durations = []
        for _, _, part in _pieces(engine, sql, files, RowChecks(study), repeated):
            durations.append(part["duration"][np.isfinite(part["duration"])])
        found = np.concatenate(durations) if durations else np.zeros(0)
        median = float(np.median(found)) if found.size else None
        del durations, found
    raking = None
    if q.weights is not None and q.weights.rake:
        say(f"summing the raking margins in {engine.name}")
        probe = RowChecks(study)
        raking = _Raking(study, probe)
        kept = 0
        for _, _, part in _pieces(engine, sql, files, probe, repeated):
            part, _ = probe.drop_careless(part, files, median)
            kept += len(part["ids"])
            raking.add(part)
        raking.solve(kept)

    gather = _Gather(study, checks, files, source.max_comments)
    say(f"checking the rows and computing statistics in {engine.name}")
    told = time.monotonic()
    for path, read, part in _pieces(engine, sql, files, checks, repeated):
        gather.rows_read += read
        part, flags = checks.drop_careless(part, files, median)
        if raking is not None:
            part, flags = raking.apply(part, flags, checks, files)
        if gather.take(path, part, flags) and time.monotonic() - told > PROGRESS_SECONDS:
            say(f"{gather.rows_read:,} rows checked, {gather.rows_used:,} used so far")  # now and then
            told = time.monotonic()
    return gather.summary(raking)


# --------------------------------------------------------------------------- in the engine's own workers (Spark)

def _ordered(rows: dict[str, Any], order: np.ndarray) -> dict[str, Any]:
    """Checked rows (columns) in the given order."""
    import pyarrow as pa

    take = pa.array(order, type=pa.int64())
    return {key: None if value is None else value[order] if isinstance(value, np.ndarray) else value.take(take)
            for key, value in rows.items()}


WORKER_ROWS = 1 << 16  # Spark hands a worker batches of 10,000 rows; the checks cost less per row in larger ones


def _tables_of(batches: Iterator[Any], rows: int) -> Iterator[Any]:
    """Arrow record batches gathered into tables of at least ``rows`` rows (the last one: what is left)."""
    import pyarrow as pa

    held: list[Any] = []
    count = 0
    for batch in batches:
        if batch.num_rows:
            held.append(batch)
            count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(held)
            held, count = [], 0
    if held:
        yield pa.Table.from_batches(held)


def partition_payload(study: Study, files: list[str], repeated: list[str], max_comments: int,
                      batches: Iterator[Any]) -> Iterator[Any]:
    """One partition of the source, in a worker of the engine (Spark's ``mapInArrow``): its rows checked and
    passed over, returned as one pickled :class:`_Gather` (the statistics, the account, the first exclusions
    and findings, the latest comments) and the checked rows whose id the source repeats (few), which only
    the driver, seeing every partition, can settle."""

    import pyarrow as pa
    import pyarrow.compute as pc

    from ..data import RawTable, RowChecks, _select

    checks = RowChecks(study)
    gather = _Gather(study, checks, files, max_comments)
    repeated_ids = pa.array(repeated, type=pa.string())
    aside: list[dict[str, Any]] = []
    _map_big_blocks_apart()
    for table in _tables_of(batches, WORKER_ROWS):
        gather.rows_read += table.num_rows
        file_of = table.column("__file").to_numpy().astype(np.int64)
        row_of = table.column("__row").to_numpy().astype(np.int64)
        table = table.drop_columns(["__file", "__row"])
        for file_index in np.unique(file_of).tolist():
            rows = np.flatnonzero(file_of == file_index)
            rows = rows[np.argsort(row_of[rows], kind="stable")]
            path = files[file_index]
            gather.first = min(gather.first, (file_index, int(row_of[rows[0]])))
            part = checks.check(RawTable(table.take(pa.array(rows)), path, row_numbers=row_of[rows].astype(np.int32)),
                                file_index, header=False)
            if len(repeated_ids) and len(part["ids"]):
                again = np.asarray(pc.is_in(part["ids"], value_set=repeated_ids))
                if again.any():
                    aside.append(_select(part, again))
                    part = _select(part, ~again)
            part, flags = checks.drop_careless(part, files)
            gather.take(path, part, flags)
    gather.flush()
    yield _payload_batch(gather, aside)


def _payload_batch(gather: _Gather, aside: list[dict[str, Any]]) -> Any:
    """A partition's payload as the one row a worker returns. Compressed: sums of whole answers are whole numbers,
    and the 500-dealer study's statistics went from 121 MB to 24 MB (zlib level 1, 0.6 s), which the JVM holds."""
    import pickle
    import zlib

    import pyarrow as pa

    payload = zlib.compress(pickle.dumps((gather, aside), protocol=5), 1)
    return pa.record_batch([pa.array([gather.first[0]], type=pa.int64()), pa.array([gather.first[1]], type=pa.int64()),
                            pa.array([payload], type=pa.binary())], names=["first_file", "first_row", "payload"])


def _unpacked(payload: bytes) -> tuple[_Gather, list[dict[str, Any]]]:
    import pickle
    import zlib

    return pickle.loads(zlib.decompress(payload))


def merge_payloads(batches: Iterator[Any]) -> Iterator[Any]:
    """Partitions' payloads (``partition_payload``), given one at a time in data order, merged into one, in a
    worker of the engine: the driver then holds one study's statistics, whatever the number of partitions."""
    merged: _Gather | None = None
    aside: list[dict[str, Any]] = []
    for batch in batches:
        for payload in batch.column("payload").to_pylist():
            gather, rows = _unpacked(payload)
            if merged is None:
                merged = gather
            else:
                merged.merge(gather)
            aside.extend(rows)
            del gather, rows
    if merged is not None:
        yield _payload_batch(merged, aside)


def summarise_partitions(study: Study, engine: Any, relation: str, files: list[str], schema: dict[str, str],
                         source: Source, say: Any) -> Summary:
    """A study's summary with the checks and the pass in the engine's workers, partition by partition; only
    the partitions' statistics come back (``partition_payload``), merged in data order."""
    from functools import partial

    from ..data import _concatenate, _duplicates, _select

    checks = _source_checks(study, schema, files, source)
    id_text, sql = _source_sql(study, relation, schema, source, ordered=False)
    repeated = engine.arrow(_repeated_sql(relation, id_text)).column("id").to_pylist()
    say(f"checking the rows and computing statistics in {engine.name}'s workers")
    payloads = engine.map_partitions(sql, partial(partition_payload, study, files, [str(i) for i in repeated],
                                                  source.max_comments), merge_payloads)
    parts = [_unpacked(payload) for payload in payloads]  # in data order: the same sums on every run
    gather = _Gather(study, checks, files, source.max_comments)
    aside: list[dict[str, Any]] = []
    for other, rows in parts:
        gather.merge(other)
        aside.extend(rows)
    if aside:  # the rows whose id the source repeats: in file and row order, the first kept one of each is used
        rows = _concatenate(aside)
        rows = _ordered(rows, np.lexsort((rows["rows"], rows["file"])))
        duplicate = _duplicates(rows["ids"])
        if duplicate is not None:
            rows = checks.drop_duplicates(rows, duplicate, files)
        rows, flags = checks.drop_careless(rows, files)
        for file_index in np.unique(rows["file"]).tolist():
            mine = rows["file"] == file_index
            gather.take(files[file_index], _select(rows, mine), {k: v[mine] for k, v in flags.items()})
        if not len(rows["ids"]):
            gather.take(files[0], rows, flags)  # the exclusions are counted all the same
    return gather.summary()

