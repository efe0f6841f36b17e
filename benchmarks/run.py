"""surveyengine benchmarks: ``python benchmarks/run.py [NAME ...]``.

Each measurement runs in a fresh child process, so its peak memory (max RSS)
is its own; times are the best of ``--repeat`` runs in that child. Ratios are
always between measurements of the same run. Data are simulated once into
``benchmarks/.cache/`` (1,000,000 respondents: 48 rating items in 3 factors,
500 dealers in 50 regions, 12 monthly waves). Results print as a Markdown
table to paste into docs/benchmarks.md, with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
QUESTIONNAIRE = HERE / "questionnaire.yaml"
N = 1_000_000
UNITS = {"region": 50, "dealer": 500}

BENCHMARKS: dict[str, Callable[[], list[dict[str, Any]]]] = {}
ON_REQUEST = {"build_10m", "build_10m_spark"}  # minutes of simulation and 15 GiB the first time: run by name only


def benchmark(function: Callable[[], list[dict[str, Any]]]) -> Callable[[], list[dict[str, Any]]]:
    BENCHMARKS[function.__name__] = function
    return function


def best_of(repeat: int, function: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None  # free the previous run's result, so the peak is one run's
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- data

def study_dir(fmt: str = "csv") -> Path:
    """A study folder over the simulated benchmark data (written once, then reused)."""
    root = CACHE / f"study-{fmt}"
    data = root / "data" / f"responses.{fmt}"
    if not data.is_file():
        from surveyengine import questionnaire, simulate, writers

        q = questionnaire.load(QUESTIONNAIRE).questionnaire
        columns, truth = simulate.simulate(q, N, seed=2026, units=UNITS)
        data.parent.mkdir(parents=True, exist_ok=True)
        writers.write(columns, data)
        simulate.write_truth(truth, data.with_suffix(".truth.json"))
        (root / "questionnaire.yaml").write_text(QUESTIONNAIRE.read_text(encoding="utf-8"), encoding="utf-8")
        (root / "surveyengine.yaml").write_text(
            f"questionnaire: questionnaire.yaml\ndata: [data/responses.{fmt}]\n", encoding="utf-8")
    return root


def _load(root: Path) -> Any:
    from surveyengine.data import load_responses
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    pm = get_plugin_manager()
    study = load_study(root, pm)
    return lambda: load_responses(study, pm)


@benchmark
def read_csv_bare() -> list[dict[str, Any]]:
    """pyarrow's own read of the same CSV. Its defaults fail on this file (comments span lines), so the
    baseline is read_csv with newlines_in_values=True and type inference."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = study_dir("csv") / "data" / "responses.csv"
    try:
        pacsv.read_csv(path)
        defaults = "read"
    except pa.ArrowInvalid:
        defaults = "fails (multi-line comments)"
    seconds, table = best_of(3, lambda: pacsv.read_csv(
        path, parse_options=pacsv.ParseOptions(newlines_in_values=True)))
    return [{"name": "pyarrow read_csv, newlines_in_values=True", "seconds": seconds, "rows": table.num_rows,
             "columns": table.num_columns, "megabytes": path.stat().st_size / 2**20, "defaults": defaults}]


@benchmark
def read_csv_validate() -> list[dict[str, Any]]:
    """surveyengine: read + validate the CSV into the response arrays (all rules, quality flags)."""
    load = _load(study_dir("csv"))
    seconds, responses = best_of(3, load)
    final = (responses.answers.nbytes + responses.ids.nbytes + sum(v.nbytes for v in responses.text.values())
             + sum(v.nbytes for v in responses.segments.values()) + responses.source_row.nbytes
             + responses.source_file.nbytes + (responses.wave.nbytes if responses.wave is not None else 0))
    return [{"name": "surveyengine read + validate CSV", "seconds": seconds, "final_arrays_mb": final / 2**20,
             "rows_used": responses.n}]


@benchmark
def read_csv_paired() -> list[dict[str, Any]]:
    """The bare read and surveyengine's read + validate taking turns in one process, five times each, so that
    on a shared machine both see the same load; also the validation's CPU time, which load barely moves.
    (Peak memory is the bare read's here: read_csv_validate measures ours alone.)"""
    import pyarrow.csv as pacsv

    from surveyengine.data import build_responses, read_tables
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    root = study_dir("csv")
    path = root / "data" / "responses.csv"
    pm = get_plugin_manager()
    study = load_study(root, pm)
    bare, ours, validate_cpu = [], [], []
    for _ in range(5):
        start = time.perf_counter()
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        bare.append(time.perf_counter() - start)
        table = None
        start = time.perf_counter()
        tables = read_tables(study, pm)
        cpu = time.process_time()
        responses = build_responses(study, tables)
        validate_cpu.append(time.process_time() - cpu)
        ours.append(time.perf_counter() - start)
        tables = responses = None
    return [{"name": "pyarrow read_csv (turns with ours)", "seconds": min(bare)},
            {"name": "surveyengine read + validate CSV (turns with the bare read)", "seconds": min(ours),
             "ratio": min(ours) / min(bare), "validate_cpu_seconds": min(validate_cpu)}]


@benchmark
def read_parquet_validate() -> list[dict[str, Any]]:
    """The same data from Parquet: pyarrow's bare read and surveyengine's read + validate."""
    import pyarrow.parquet as pq

    root = study_dir("parquet")
    path = root / "data" / "responses.parquet"
    bare, _ = best_of(3, lambda: pq.read_table(path))
    load = _load(root)
    seconds, _ = best_of(3, load)
    return [{"name": "pyarrow read_table (Parquet)", "seconds": bare},
            {"name": "surveyengine read + validate Parquet", "seconds": seconds}]


def _responses(fmt: str = "parquet") -> tuple[Any, Any]:
    from surveyengine.data import load_responses
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    pm = get_plugin_manager()
    study = load_study(study_dir(fmt), pm)
    return study, load_responses(study, pm)


def numpy_lower_bound(responses: Any, block: list[int]) -> float:
    """The same three kinds of sums, written as bare numpy with no abstraction: grouped sums per
    cell (count, sum, sum of squares), value counts per cell, and per-unit pairwise cross-products
    (xx, xm, x2m, mm) of the item block by a stable sort and float32 matrix products."""
    import numpy as np

    start = time.perf_counter()
    dealer = responses.segments["dealer"].astype(np.int64)
    wave = responses.wave.astype(np.int64)
    waves = len(responses.wave_labels)
    key = dealer * waves + wave
    used = np.bincount(key, minlength=(int(dealer.max()) + 1) * waves) > 0
    lookup = np.cumsum(used) - 1
    cell = lookup[key]
    cells = int(used.sum())
    answers = responses.answers
    for k in range(answers.shape[1]):
        x = answers[:, k]
        present = ~np.isnan(x)
        slot = np.where(present, x, 0).astype(np.int64)
        counts = np.bincount(np.where(present, cell * 11 + slot, cells * 11), minlength=cells * 11 + 1)
        counts = counts[:-1].reshape(cells, 11)
        values = np.arange(11.0)
        _ = counts.sum(axis=1), counts @ values, counts @ (values * values)
    order = np.argsort(dealer, kind="stable")
    bounds = np.searchsorted(dealer[order], np.arange(int(dealer.max()) + 2))
    for u in range(bounds.size - 1):
        rows = order[bounds[u]:bounds[u + 1]]
        x = np.empty((rows.size, len(block)), dtype=np.float32, order="F")
        for j, k in enumerate(block):
            x[:, j] = answers[rows, k]
        m = ~np.isnan(x)
        xz = np.where(m, x, np.float32(0))
        mf = m.astype(np.float32)
        _ = xz.T @ xz, xz.T @ mf, (xz * xz).T @ mf, mf.T @ mf
    return time.perf_counter() - start


@benchmark
def statistics_pass() -> list[dict[str, Any]]:
    """The statistics pass against the bare numpy lower bound, on the same responses in the same process."""
    from surveyengine import stats

    study, responses = _responses()
    plan = stats.plan_for(study.questionnaire, responses.items)
    block = [v for v in plan.item_block if v < len(plan.items)]
    bare = min(numpy_lower_bound(responses, block) for _ in range(3))
    seconds, summary = best_of(3, lambda: stats.compute_all(responses, plan))
    return [{"name": "bare numpy lower bound (sums, value counts, per-dealer cross-products)", "seconds": bare},
            {"name": "surveyengine statistics pass", "seconds": seconds, "ratio": seconds / bare,
             "cells": summary.cells.cells, "units": summary.units.units if summary.units else 0,
             "respondents": responses.n}]


@benchmark
def engine_pass() -> list[dict[str, Any]]:
    """The whole summary (rules, row account, statistics, comments) of the Parquet study: in memory (read,
    validate, numpy pass) against DuckDB reading the same file (engines/summary.py), taking turns in one
    process, best of 2. Each run's statistics stage (from the 'computing statistics' message to the end:
    the pass and the bounded comments) is timed apart, so the ratio of the statistics set is in the same run."""
    import duckdb

    from surveyengine.build import summarise
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    pm = get_plugin_manager()
    study = load_study(study_dir("parquet"), pm)
    best: dict[str | None, dict[str, float]] = {}
    respondents = 0
    for _ in range(2):
        for engine in (None, "duckdb"):
            study.engine = engine
            marks: dict[str, tuple[float, float]] = {}

            def say(message: str, marks: dict[str, tuple[float, float]] = marks) -> None:
                # from files the pass follows the checks; through DuckDB the rows stream through both at once
                if message.startswith(("computing statistics", "checking the rows and computing statistics")):
                    marks["statistics"] = (time.perf_counter(), time.process_time())

            start, cpu = time.perf_counter(), time.process_time()
            summary = summarise(study, pm, say, use_cache=False)[0]
            end, end_cpu = time.perf_counter(), time.process_time()
            run = {"seconds": end - start, "cpu": end_cpu - cpu, "statistics_seconds": end - marks["statistics"][0],
                   "statistics_cpu": end_cpu - marks["statistics"][1]}
            respondents = summary.account["rows_used"]
            summary = None
            if engine not in best or run["seconds"] < best[engine]["seconds"]:
                best[engine] = run
    memory, engine_run = best[None], best["duckdb"]
    return [{"name": "summary in memory (read Parquet, rules, numpy pass)", "seconds": memory["seconds"],
             "cpu_seconds": memory["cpu"], "respondents": respondents},
            {"name": "of which the statistics pass (numpy, and the comments)", "seconds": memory["statistics_seconds"],
             "cpu_seconds": memory["statistics_cpu"]},
            {"name": f"summary in DuckDB {duckdb.__version__} from the Parquet file", "seconds": engine_run["seconds"],
             "cpu_seconds": engine_run["cpu"], "ratio": engine_run["seconds"] / memory["seconds"]},
            {"name": "of which the checks and statistics (file checks and numpy pass over DuckDB's Arrow batches, "
                     "and the comments)",
             "seconds": engine_run["statistics_seconds"], "cpu_seconds": engine_run["statistics_cpu"],
             "ratio": engine_run["statistics_seconds"] / memory["statistics_seconds"],
             "cpu_ratio": engine_run["statistics_cpu"] / memory["statistics_cpu"],
             "load_average": os.getloadavg()[0]}]


def study_10m() -> tuple[Path, Path]:
    """The 10,000,000-respondent study (``surveyengine simulate``, once: about 2 minutes and 15 GiB), as two
    study folders over the same Parquet file: one reads it in memory, one through DuckDB with a 1 GB limit."""
    memory, engine = CACHE / "study-10m", CACHE / "study-10m-duckdb"
    data = memory / "data" / "responses.parquet"
    if not data.is_file():
        data.parent.mkdir(parents=True, exist_ok=True)
        (memory / "questionnaire.yaml").write_text(QUESTIONNAIRE.read_text(encoding="utf-8"), encoding="utf-8")
        subprocess.run(["surveyengine", "simulate", "questionnaire.yaml", "--n", "10000000", "--seed", "2026",
                        "--units", "region=50,dealer=500", "--out", "data/responses.parquet"], cwd=memory, check=True)
    (memory / "surveyengine.yaml").write_text("questionnaire: questionnaire.yaml\ndata: [data/responses.parquet]\n",
                                              encoding="utf-8")
    engine.mkdir(exist_ok=True)
    (engine / "questionnaire.yaml").write_text(QUESTIONNAIRE.read_text(encoding="utf-8"), encoding="utf-8")
    (engine / "surveyengine.yaml").write_text("questionnaire: questionnaire.yaml\nsource:\n  engine: duckdb\n"
                                              "  path: ../study-10m/data/responses.parquet\n  memory_limit: 1GB\n",
                                              encoding="utf-8")
    return memory, engine


def _whole_build(root: Path, *options: str) -> dict[str, float]:
    """``surveyengine build --no-cache`` of a study as its own process: wall seconds, CPU seconds, peak RSS."""
    start = time.perf_counter()
    process = subprocess.Popen(["surveyengine", "build", str(root), "--no-cache", "--quiet", *options])
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"surveyengine build {root} failed")
    return {"seconds": time.perf_counter() - start, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024}


@benchmark
def build_10m() -> list[dict[str, Any]]:
    """The 10,000,000-respondent study built end to end, read to site, as ``surveyengine build`` processes:
    through DuckDB (``memory_limit: 1GB``, rows streamed through the checks and the pass) and in memory, one
    after the other. Not run by default (``python benchmarks/run.py build_10m``)."""
    memory, engine = study_10m()
    through_duckdb = _whole_build(engine)
    in_memory = _whole_build(memory, "--engine", "memory")  # auto would choose DuckDB at this size
    return [{"name": "10M build through DuckDB (memory_limit 1GB), whole process", **through_duckdb,
             "load_average": os.getloadavg()[0]},
            {"name": "10M build in memory, whole process", **in_memory, "load_average": os.getloadavg()[0]}]


def _spark_session(conf: dict[str, str] | None = None) -> tuple[Any, float, Callable[[], float]]:
    """The local Spark session the engine uses (local[2]), the seconds its JVM took to start, and a clock of
    the JVM's CPU seconds (the JVM is a child process: this process's CPU time does not include it)."""
    from surveyengine.engines.spark import local_session

    start = time.perf_counter()
    session = local_session("local[2]", conf)
    session.sql("SELECT 1").collect()
    started = time.perf_counter() - start
    pid = session._jvm.java.lang.ProcessHandle.current().pid()
    ticks = os.sysconf("SC_CLK_TCK")

    def jvm_cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return session, started, jvm_cpu


@benchmark
def engine_forms_spark() -> list[dict[str, Any]]:
    """The conditional sums of the statistics pass in each SQL form, on Spark local[2]: 2,000,000 rows
    (materialised once), 500 groups, 20 value frequencies (w where x = v, and counts: 40 aggregates; the
    mask products: 20). engines/spark.py writes the fastest forms; best of 3 after a warm-up run, each form
    measured twice in turn (A B C D E A B C D E) so that the JVM's warming up favours none."""
    session, started, jvm_cpu = _spark_session()
    rows = 2_000_000
    session.sql(f"SELECT id % 500 AS g, CASE WHEN id % 7 = 0 THEN NULL ELSE CAST((id * 2654435761) % 10 + 1 "
                f"AS DOUBLE) END AS x, CASE WHEN id % 7 = 0 THEN NULL ELSE CAST((id * 40503) % 7 + 1 AS DOUBLE) "
                f"END AS y, 0.5 + id % 3 AS w FROM range({rows})").localCheckpoint(eager=True) \
        .createOrReplaceTempView("forms")
    values = [(c, v) for c in ("x", "y") for v in range(1, 11)]
    forms = {
        "SUM(w * CAST(x = v AS INT)), SUM(CAST(x = v AS INT)) (DuckDB's SQL as transpiled)":
            lambda c, v: [f"SUM(w * CAST({c} = {v} AS INT))", f"SUM(CAST({c} = {v} AS INT))"],
        "SUM(CASE WHEN x = v THEN w ELSE 0 END), SUM(CASE WHEN x = v THEN 1 ELSE 0 END)":
            lambda c, v: [f"SUM(CASE WHEN {c} = {v} THEN w ELSE 0 END)", f"SUM(CASE WHEN {c} = {v} THEN 1 ELSE 0 END)"],
        "SUM(w) FILTER (WHERE x = v), COUNT_IF(x = v) (Ibis's form; engines/spark.py)":
            lambda c, v: [f"SUM(w) FILTER (WHERE {c} = {v})", f"COUNT_IF({c} = {v})"],
        "SUM(m * wm) with 1.0 (DECIMAL) masks": lambda c, v: [
            f"SUM((CASE WHEN {c} = {v} THEN 1.0 ELSE 0.0 END) * (CASE WHEN {c} IS NULL THEN 0.0 ELSE w END))"],
        "SUM(m * wm) with DOUBLE masks (engines/spark.py)": lambda c, v: [
            f"SUM((CASE WHEN {c} = {v} THEN CAST(1.0 AS DOUBLE) ELSE CAST(0.0 AS DOUBLE) END) * "
            f"(CASE WHEN {c} IS NULL THEN CAST(0.0 AS DOUBLE) ELSE w END))"],
    }
    out: list[dict[str, Any]] = [{"name": "JVM start-up and first query (once per process)", "seconds": started}]
    for turn in (1, 2):
        for name, form in forms.items():
            sql = f"SELECT g, {', '.join(a for c, v in values for a in form(c, v))} FROM forms GROUP BY g"
            session.sql(sql).toArrow()
            cpu = jvm_cpu()
            seconds, _ = best_of(3, lambda: session.sql(sql).toArrow())
            out.append({"name": f"{name}, turn {turn}", "seconds": seconds, "jvm_cpu_s_3_runs": jvm_cpu() - cpu,
                        "rows": rows, "load": os.getloadavg()[0]})
    return out


@benchmark
def engine_pass_spark() -> list[dict[str, Any]]:
    """The whole summary of the Parquet study through Spark local[2] (1 GB driver heap) reading the same file
    (engines/spark.py), the JVM's start-up timed apart; the in-memory summary beside it, same process. One run
    each."""
    import pyspark

    from surveyengine.build import summarise
    from surveyengine.model import Source
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    pm = get_plugin_manager()
    study = load_study(study_dir("parquet"), pm)
    cpu = time.process_time()
    memory, summary = best_of(1, lambda: summarise(study, pm, lambda message: None, use_cache=False)[0])
    memory_cpu = time.process_time() - cpu
    session, started, jvm_cpu = _spark_session()  # the default 1 GB heap (the SQL aggregates needed 4 GB)
    study.config = study.config.model_copy(update={"source": Source(engine="spark", path="data/responses.parquet")})
    cpu, jvm = time.process_time(), jvm_cpu()
    engine, _ = best_of(1, lambda: summarise(study, pm, lambda message: None, use_cache=False)[0])
    return [{"name": "summary in memory (read Parquet, rules, numpy pass)", "seconds": memory,
             "cpu_s": memory_cpu, "respondents": summary.account["rows_used"]},
            {"name": "Spark JVM start-up (once per process)", "seconds": started},
            {"name": f"summary in Spark {pyspark.__version__} local[2] from the Parquet file", "seconds": engine,
             "ratio": engine / memory, "python_cpu_s": time.process_time() - cpu, "jvm_cpu_s": jvm_cpu() - jvm,
             "load": os.getloadavg()[0]}]


@benchmark
def build_10m_spark() -> list[dict[str, Any]]:
    """The 10,000,000-respondent study (``study_10m``) built end to end, read to site, through Spark local[2]
    (1 GB driver heap) reading its Parquet file, the JVM's start-up timed apart. Not run by default."""
    import pyspark

    from surveyengine.build import build
    from surveyengine.model import Source
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    memory, _ = study_10m()
    session, started, jvm_cpu = _spark_session()  # the default 1 GB heap
    pm = get_plugin_manager()
    study = load_study(memory, pm)
    study.config = study.config.model_copy(update={"source": Source(engine="spark", path="data/responses.parquet")})
    out = CACHE / "site-10m-spark"
    cpu, jvm, start = time.process_time(), jvm_cpu(), time.perf_counter()
    report = build(study, pm, out)
    seconds = time.perf_counter() - start
    return [{"name": "Spark JVM start-up (once per process)", "seconds": started},
            {"name": f"10M build through Spark {pyspark.__version__} local[2] (read to site, JVM started)",
             "seconds": seconds, "respondents": report.summary.account["rows_used"],
             "python_cpu_s": time.process_time() - cpu, "jvm_cpu_s": jvm_cpu() - jvm, "load": os.getloadavg()[0]}]


@benchmark
def scoring_stage() -> list[dict[str, Any]]:
    """The whole scoring stage: pass, roll-ups, every scorer, comparisons, base rules."""
    from surveyengine import scoring, stats
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.views import labels_of

    study, responses = _responses()
    pm = get_plugin_manager()
    plan = stats.plan_for(study.questionnaire, responses.items)
    account = responses.account()

    def stage() -> Any:
        summary = stats.compute_all(responses, plan)
        return scoring.score(study, summary, labels_of(responses), account, pm)

    stage()
    first_peak = peak_mb()  # reading the data and one scoring stage: the study's peak; later runs hold more
    seconds, results = best_of(3, stage)
    summary = stats.compute_all(responses, plan)
    results = None
    scoring_only, _ = best_of(3, lambda: scoring.score(study, summary, labels_of(responses), account, pm))
    cpu = []  # CPU time: what a busy machine leaves comparable
    for _ in range(5):
        results = None
        start = time.process_time()
        results = scoring.score(study, summary, labels_of(responses), account, pm)
        cpu.append(time.process_time() - start)
    return [{"name": "scoring stage: pass + roll-ups + scorers + comparisons (+ weighting, model, diagnostics)",
             "seconds": seconds, "segment_units": sum(len(s.units) for s in results.segments),
             "peak_mb": first_peak},
            {"name": "of which roll-ups, scorers and comparisons (+ weighting, model, diagnostics)",
             "seconds": scoring_only, "cpu_seconds": min(cpu)}]


@benchmark
def banner_tables() -> list[dict[str, Any]]:
    """Banner tables over the million: the banner cells by two answer questions (the pass's cost per declared
    question), and scoring with three banners (regions, waves, answers; every rating item) against without."""
    from dataclasses import replace

    from surveyengine import scoring, stats
    from surveyengine.model import Banner
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.views import labels_of

    study, responses = _responses()
    pm = get_plugin_manager()
    plan = stats.plan_for(study.questionnaire, responses.items)
    questions = ["overall", "complained"]
    scores = stats.factor_scores(responses, plan)  # as the build shares them with the main pass
    cells_seconds, banner_cells = best_of(3, lambda: {q: stats.banner_cells(responses, plan, q, scores)
                                                      for q in questions})
    summary = replace(stats.compute_all(responses, plan), banners=banner_cells)
    labels, account = labels_of(responses), responses.account()
    banners = (Banner.model_validate({"id": "regions", "columns": [{"segment": "region"}]}),
               Banner.model_validate({"id": "waves", "columns": [{"wave": True}]}),
               Banner.model_validate({"id": "answers", "columns": [
                   {"question": "overall", "groups": [{"label": "top", "codes": [9, 10]},
                                                      {"label": "others", "codes": list(range(1, 9))}]},
                   {"question": "complained"}]}))
    with_banners = replace(study, config=study.config.model_copy(update={"banners": banners}))
    without, _ = best_of(3, lambda: scoring.score(study, summary, labels, account, pm))
    seconds, results = best_of(3, lambda: scoring.score(with_banners, summary, labels, account, pm))
    rows = sum(len(b["rows"]) for b in results.banners)
    columns = sum(len(b["columns"]) for b in results.banners)
    return [{"name": "banner cells by 2 answer questions (overall, complained)", "seconds": cells_seconds},
            {"name": "scoring without banners", "seconds": without},
            {"name": "scoring with 3 banners", "seconds": seconds, "banner_rows": rows, "banner_columns": columns}]


@benchmark
def diagnostics() -> list[dict[str, Any]]:
    """Every questionnaire diagnostic (reliability of every factor for the total and per dealer and region, CFA,
    EFA hint, item flags) after the statistics pass and scoring: what ``surveyengine diagnose`` adds."""
    from surveyengine import scoring, stats
    from surveyengine.diagnostics import diagnose
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.views import build_views, labels_of

    started = time.perf_counter()
    import semopy  # noqa: F401  (the optional extra: imported once per process)

    imported = time.perf_counter() - started
    study, responses = _responses()
    pm = get_plugin_manager()
    summary = stats.compute_all(responses, stats.plan_for(study.questionnaire, responses.items))
    labels = labels_of(responses)
    results = scoring.score(study, summary, labels, responses.account(), pm)
    views = build_views(study.questionnaire, summary, labels)
    groups = {s.id: s.units for s in results.segments}
    seconds, report = best_of(3, lambda: diagnose(views, study.questionnaire, results, segment_groups=groups))
    without_cfa, _ = best_of(3, lambda: diagnose(views, study.questionnaire, results, with_cfa=False,
                                                 segment_groups=groups))
    units = sum(len(s["units"]) for s in report["segments"])
    return [{"name": "every diagnostic after the statistics pass", "seconds": seconds,
             "units_with_reliability": units, "items": len(report["items"]), "flags": len(report["flags"])},
            {"name": "of which without the CFA", "seconds": without_cfa},
            {"name": "importing semopy (once per process, not in the above)", "seconds": imported}]


@benchmark
def build_cached() -> list[dict[str, Any]]:
    """surveyengine build from the Parquet file: first build, a rebuild with the data unchanged, and a rebuild
    after a template edit (the study's theme overrides base.html)."""
    import shutil

    from surveyengine.build import build
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    root = study_dir("parquet")
    override = root / "theme" / "templates" / "base.html"
    shutil.rmtree(root / ".surveyengine-cache", ignore_errors=True)
    shutil.rmtree(root / "theme", ignore_errors=True)
    pm = get_plugin_manager()
    out = CACHE / "site"
    formats = ("html", "json", "csv")
    first, _ = best_of(1, lambda: build(load_study(root, pm), pm, out, formats))
    again, report = best_of(1, lambda: build(load_study(root, pm), pm, out, formats))
    override.parent.mkdir(parents=True)
    override.write_text('{% extends "!default/base.html" %}{% block title %}Edited · {{ super() }}{% endblock %}',
                        encoding="utf-8")
    try:
        edited, _ = best_of(1, lambda: build(load_study(root, pm), pm, out, formats))
    finally:
        shutil.rmtree(root / "theme", ignore_errors=True)
    return [{"name": "build (read, validate, pass, score, write)", "seconds": first},
            {"name": "rebuild, data unchanged (cache)", "seconds": again, "cached": str(report.cached)},
            {"name": "rebuild after a template edit (cache)", "seconds": edited}]


def _scored() -> tuple[Any, Any]:
    """The benchmark study scored, with its comments: what the site renders."""
    from surveyengine import comments, scoring, stats
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.views import labels_of

    study, responses = _responses()
    pm = get_plugin_manager()
    summary = stats.compute_all(responses, stats.plan_for(study.questionnaire, responses.items))
    labels = labels_of(responses)
    results = scoring.score(study, summary, labels, responses.account(), pm)
    results.comments = comments.publish(comments.collect(responses, study.questionnaire), labels, results)
    return study, results


@benchmark
def render_site() -> list[dict[str, Any]]:
    """The site for 550 segment units (500 dealers, 50 regions), after scoring: every page, every chart."""
    import shutil
    import tempfile

    from surveyengine.site import build_site

    study, results = _scored()
    folders: list[Path] = []

    def render() -> Any:
        folders.append(Path(tempfile.mkdtemp(dir=CACHE)))
        return build_site(results, study, folders[-1])

    cpu = time.process_time()
    seconds, files = best_of(3, render)
    cpu = (time.process_time() - cpu) / 3
    size = sum(p.stat().st_size for p in folders[-1].rglob("*") if p.is_file())
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return [{"name": "render the site (after scoring)", "seconds": seconds, "cpu_mean": cpu, "files": len(files),
             "megabytes": size / 2**20, "comments": len(results.comments),
             "segment_units": sum(len(s.units) for s in results.segments)}]


@benchmark
def chart_library() -> list[dict[str, Any]]:
    """The charts of 500 segment pages (factor bars, CSI against parent and average, a 12-wave trend of three
    lines), drawn by the site's SVG helpers and macros and by pygal, a well-kept SVG charting library."""
    import random

    from surveyengine.site import charts
    from surveyengine.site.builder import _environment
    from surveyengine.site.themes import load_theme

    rng = random.Random(1)
    waves = [f"2026-{m:02d}" for m in range(1, 13)]
    pages = [{"factors": [{"label": f, "value": rng.uniform(50, 90), "ci_low": None, "ci_high": None}
                          for f in ("Product", "Service", "Corporate image")],
              "csi": [{"label": name, "value": rng.uniform(55, 80)} for name in ("Dealer", "Region", "All")],
              "trend": [{"name": name, "values": [rng.uniform(55, 80) for _ in waves]}
                        for name in ("Dealer", "Region", "All")]} for _ in range(500)]
    theme = load_theme("default")
    env = _environment(theme)
    template = env.from_string(
        '{% from "_charts.html" import bar_chart, trend_chart with context %}'
        "{{ bar_chart('f', 'Factors', 'd', factors, 'Score') }}{{ bar_chart('c', 'CSI', 'd', csi, 'CSI') }}"
        "{{ trend_chart('t', 'Trend', 'd', trend) }}")
    words = theme.gettext("en")

    def ours() -> int:
        size = 0
        for page in pages:
            size += len(template.render(t=words, factors=charts.bars(page["factors"], low=0, high=100),
                                        csi=charts.bars(page["csi"], low=0, high=100),
                                        trend=charts.trend(waves, page["trend"])))
        return size

    rows = []
    seconds, size = best_of(3, ours)
    rows.append({"name": "surveyengine SVG helpers + jinja2 macros (with data tables)", "seconds": seconds,
                 "megabytes": size / 2**20})
    try:
        import pygal
    except ImportError:
        rows.append({"name": "pygal (not installed: pip install pygal)", "seconds": float("nan")})
        return rows
    config = pygal.Config(disable_xml_declaration=True, js=[], show_legend=True)

    def theirs() -> int:
        size = 0
        for page in pages:
            bar = pygal.HorizontalBar(config, range=(0, 100), title="Factors")
            for row in page["factors"]:
                bar.add(row["label"], row["value"])
            size += len(bar.render())
            bar = pygal.HorizontalBar(config, range=(0, 100), title="CSI")
            for row in page["csi"]:
                bar.add(row["label"], row["value"])
            size += len(bar.render())
            line = pygal.Line(config, title="Trend", x_labels=waves)
            for series in page["trend"]:
                line.add(series["name"], series["values"])
            size += len(line.render())
        return size

    seconds, size = best_of(1, theirs)
    rows.append({"name": f"pygal {pygal.__version__} (no data tables, no scripts)", "seconds": seconds,
                 "megabytes": size / 2**20})
    return rows


@benchmark
def weighting_stage() -> list[dict[str, Any]]:
    """Every importance model (index and item level) for the total, each wave and every segment unit, with the
    default method and bootstrap; and exact Shapley per segment unit at 12 drivers."""

    from surveyengine import stats
    from surveyengine.importance import fit_study
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.regression import model_matrix
    from surveyengine.stats import pairwise_corr
    from surveyengine.views import build_views, labels_of

    study, responses = _responses()
    pm = get_plugin_manager()
    plan = stats.plan_for(study.questionnaire, responses.items)
    summary = stats.compute_all(responses, plan)
    labels = labels_of(responses)
    views = build_views(study.questionnaire, summary, labels)
    seconds, (specs, fits) = best_of(3, lambda: fit_study(study, pm, views, summary, labels))
    groups = sum(view.groups for name, view in views.items() if name in fits)
    index = study.questionnaire.index
    # exact Shapley at 12 drivers for every unit at once: the first 12 items of a factor on the outcome
    units = views["segment:dealer"].cross
    assert units is not None
    twelve = [k for k, v in enumerate(units.variables) if v < len(plan.items)][:12]
    outcome = units.variables.index(plan.outcomes[0])
    corr = pairwise_corr(*(getattr(units, name) for name in ("xx", "xm", "x2m", "mm")))
    matrices = model_matrix(corr, outcome, twelve)
    shapley = pm.registry("weighters").get("shapley")()
    exact, _ = best_of(3, lambda: shapley.fit(matrices, 12, list(range(12))))
    return [{"name": f"weighting: {len(specs)} models x every group, {index.method}, bootstrap {index.bootstrap}",
             "seconds": seconds, "groups": groups},
            {"name": "exact Shapley, 12 drivers, every dealer at once", "seconds": exact, "units": units.units}]


@benchmark
def pls_model() -> list[dict[str, Any]]:
    """PLS path modelling: the ECSI mobile-phone model on its 250 respondents with 500 bootstrap draws; and a
    whole build of the ACSI example with 100,000 simulated respondents (model, 500 draws, everything else)."""
    import numpy as np

    from surveyengine import questionnaire, simulate, writers
    from surveyengine.build import build
    from surveyengine.importance import wishart_correlations
    from surveyengine.pls import fit_pls
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.study import load_study

    rows = []
    mobi = HERE.parent.parent / "shared" / "reference-data" / "ecsi-mobi.csv"
    if mobi.exists():
        import csv

        with mobi.open(encoding="utf-8") as handle:
            table = list(csv.reader(handle))
        header, body = table[0][1:], np.array([[float(v) for v in r[1:]] for r in table[1:]])
        order = ["IMAG", "CUEX", "PERQ", "PERV", "CUSA", "CUSCO", "CUSL"]
        columns = [c for name in order for c in header if c.rstrip("0123456789") == name]
        data = body[:, [header.index(c) for c in columns]]
        blocks, start = [], 0
        for name in order:
            size = sum(1 for c in columns if c.rstrip("0123456789") == name)
            blocks.append(list(range(start, start + size)))
            start += size
        paths = np.zeros((7, 7), dtype=bool)
        for a, bs in {0: [1, 4, 6], 1: [2, 3, 4], 2: [3, 4], 3: [4], 4: [5, 6], 5: [6]}.items():
            paths[a, bs] = True

        def mobi_model() -> Any:
            corr = np.corrcoef(data, rowvar=False)
            fit = fit_pls(corr, blocks, paths)
            draws = wishart_correlations(corr[None], np.array([len(data) - 1.0]), 500, np.random.default_rng(1))
            return fit, fit_pls(draws[0], blocks, paths)

        seconds, _ = best_of(3, mobi_model)
        rows.append({"name": "ECSI mobi model, 250 respondents, + 500 bootstrap draws", "seconds": seconds})
    root = CACHE / "acsi-100k"
    if not (root / "data" / "responses.csv").is_file():
        source = HERE.parent / "questionnaires"
        q = questionnaire.load(source / "acsi" / "questionnaire.yaml").questionnaire
        columns_, truth = simulate.simulate(q, 100_000, seed=7)
        (root / "data").mkdir(parents=True, exist_ok=True)
        writers.write(columns_, root / "data" / "responses.csv")
        (root / "library").mkdir(exist_ok=True)
        (root / "library" / "common.yaml").write_text((source / "library" / "common.yaml").read_text("utf-8"), "utf-8")
        text = (source / "acsi" / "questionnaire.yaml").read_text("utf-8").replace("../library/", "library/")
        (root / "questionnaire.yaml").write_text(text, "utf-8")
        (root / "surveyengine.yaml").write_text("questionnaire: questionnaire.yaml\ndata: [data/responses.csv]\n",
                                                "utf-8")
    pm = get_plugin_manager()
    study = load_study(root, pm)
    seconds, report = best_of(1, lambda: build(study, pm, CACHE / "acsi-site", ("json",), use_cache=False))
    model = report.results.model
    rows.append({"name": "ACSI example, 100,000 respondents: whole build with the model and 500 draws",
                 "seconds": seconds, "iterations": model["iterations"],
                 "draws_converged": model["bootstrap"]["converged"]})
    again, _ = best_of(1, lambda: build(study, pm, CACHE / "acsi-site", ("json",)))
    rows.append({"name": "the same, statistics from the cache (model + everything after the pass)", "seconds": again})
    return rows


DOMINANCE_VENV = CACHE / "dominance-venv"
DOMINANCE_SCRIPT = """
import sys, time, json
import bokeh.io, plotly.offline  # dominance-analysis opens a notebook display on import: silence it
bokeh.io.output_notebook = lambda *a, **k: None
plotly.offline.init_notebook_mode = lambda *a, **k: None
import io, contextlib
import numpy as np, pandas as pd
from dominance_analysis import Dominance
corr = np.load(sys.argv[1])
names = [f"x{i}" for i in range(corr.shape[0] - 1)] + ["y"]
frame = pd.DataFrame(corr, index=names, columns=names)
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    shares = Dominance(data=frame, target="y", data_format=1).incremental_rsquare()
print(json.dumps({"seconds": time.perf_counter() - start, "shares": [shares[n] for n in names[:-1]]}))
"""


def _dominance_analysis(corr: Any) -> dict[str, Any] | None:
    """The dominance-analysis package (PyPI) on the same matrix, in its own venv (it needs numpy < 2 and
    bokeh 2.4): made once under benchmarks/.cache; None where it cannot be installed."""
    import numpy as np

    python = DOMINANCE_VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(DOMINANCE_VENV)], check=False).returncode == 0 and \
            subprocess.run([str(python), "-m", "pip", "install", "-q", "dominance-analysis", "numpy<2"],
                           check=False, capture_output=True).returncode == 0
        if not made:
            return None
    matrix = CACHE / "dominance-corr.npy"
    np.save(matrix, corr)
    done = subprocess.run([str(python), "-c", DOMINANCE_SCRIPT, str(matrix)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


@benchmark
def shapley_exact() -> list[dict[str, Any]]:
    """Exact Shapley / LMG from a correlation matrix: surveyengine at 12, 15 and 20 drivers; the
    dominance-analysis package and a plain all-subsets loop (one solve per subset) on the same matrices."""
    import numpy as np

    from surveyengine.plugins import get_plugin_manager

    shapley = get_plugin_manager().registry("weighters").get("shapley")()
    rng = np.random.default_rng(7)
    rows = []
    for p in (12, 15, 20):
        data = rng.normal(size=(5000, p + 1))
        data[:, :p] += data[:, :1]
        data[:, p] += data[:, :p] @ np.linspace(0.5, 0.05, p)
        corr = np.corrcoef(data, rowvar=False)
        seconds, model = best_of(3, lambda: shapley.fit(corr, p, list(range(p))))
        row: dict[str, Any] = {"name": f"surveyengine exact Shapley, {p} drivers", "seconds": seconds,
                               "subsets": 2**p}
        rows.append(row)
        if p <= 15:
            loop, phi = best_of(1, lambda: _plain_all_subsets(corr, p))
            assert np.allclose(phi, model.importance_, atol=1e-10)
            rows.append({"name": f"plain all-subsets loop, {p} drivers", "seconds": loop,
                         "ratio": loop / seconds})
        if p == 12:
            other = _dominance_analysis(corr)
            if other is not None:
                assert np.allclose(other["shares"], model.importance_, atol=1e-8)
                rows.append({"name": "dominance-analysis 1.1.9 (PyPI), 12 drivers, from the correlation matrix",
                             "seconds": other["seconds"], "ratio": other["seconds"] / seconds})
    return rows


def _plain_all_subsets(corr: Any, p: int) -> Any:
    """Shapley values the textbook way: R² of each subset by its own solve, then the weighted increments."""
    from itertools import combinations
    from math import factorial

    import numpy as np

    r2 = {(): 0.0}
    for size in range(1, p + 1):
        for subset in combinations(range(p), size):
            s = list(subset)
            r2[subset] = float(corr[s, p] @ np.linalg.solve(corr[np.ix_(s, s)], corr[s, p]))
    phi = np.zeros(p)
    for subset, value in r2.items():
        for j in subset:
            rest = tuple(k for k in subset if k != j)
            size = len(rest)
            phi[j] += factorial(size) * factorial(p - size - 1) / factorial(p) * (value - r2[rest])
    return phi


# --------------------------------------------------------------------------- runner

CODEFRAME_SOURCE = HERE.parent / "questionnaires" / "auto-dealer" / "questionnaire.yaml"


def coding_study() -> Path:
    """The 1,000,000-respondent benchmark study, in English and Chinese, with the dealer codeframe on its comment
    item, simulated with it (so every comment has its true codes, and most comments are distinct), and 300 of
    its comments hand-coded from that truth (a seeded sample).
    """
    import yaml

    root = CACHE / "study-coding"
    data = root / "data" / "responses.parquet"
    frame = yaml.safe_load(CODEFRAME_SOURCE.read_text(encoding="utf-8"))["codeframes"]["feedback"]
    frame["items"] = ["comment"]
    questionnaire = QUESTIONNAIRE.read_text(encoding="utf-8").replace("languages: [en]", "languages: [en, zh]", 1)
    questionnaire += "\n" + yaml.safe_dump({"codeframes": {"feedback": frame}}, allow_unicode=True, sort_keys=False)
    path = root / "questionnaire.yaml"
    if not data.is_file() or path.read_text(encoding="utf-8") != questionnaire:
        import shutil

        from surveyengine import questionnaire as questionnaire_module
        from surveyengine import simulate, writers

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(questionnaire, encoding="utf-8")
        q = questionnaire_module.load(path).questionnaire
        columns, truth = simulate.simulate(q, N, seed=2026, units=UNITS)
        data.parent.mkdir(parents=True, exist_ok=True)
        if data.is_symlink():
            data.unlink()
        writers.write(columns, data)
        simulate.write_truth(truth, data.with_suffix(".truth.json"))
        shutil.rmtree(root / "coding", ignore_errors=True)  # the hand codes and codes of the old data
    (root / "surveyengine.yaml").write_text("questionnaire: questionnaire.yaml\ndata: [data/responses.parquet]\n",
                                            encoding="utf-8")
    hand = root / "coding" / "hand" / "hand-300.csv"
    if not hand.exists():
        import csv
        import random

        truth = _comment_truth(root)
        keys = sorted(truth)
        random.Random(7).shuffle(keys)
        hand.parent.mkdir(parents=True, exist_ok=True)
        with hand.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["respondent_id", "item", "codes"])
            for rid in sorted(keys[:300]):
                writer.writerow([rid, "comment", ";".join(truth[rid]) or "-"])
    return root


def _comment_truth(root: Path) -> dict[str, list[str]]:
    truth = json.loads((root / "data" / "responses.truth.json").read_text(encoding="utf-8"))
    return truth["comment_codes"]["comment"]


def _macro_f1_by_language(table: Any, coded: Any, truth: dict[str, list[str]]) -> dict[str, float]:
    """Macro-F1 against the simulated truth of the comments the model or the rules coded (not the hand codes)."""
    import re

    import numpy as np
    from sklearn.metrics import f1_score

    code_ids = sorted({c for codes in truth.values() for c in codes})
    out: dict[str, float] = {}
    for lang in ("en", "zh"):
        y, p = [], []
        for r, rid in enumerate(table.ids):
            if not coded.source[r] or coded.source[r] == "hand" or rid not in truth:
                continue
            if bool(re.search("[\u4e00-\u9fff]", table.text[r])) != (lang == "zh"):
                continue
            y.append([c in truth[rid] for c in code_ids])
            p.append([c in coded.codes[r] for c in code_ids])
        out[lang] = round(float(f1_score(np.array(y), np.array(p), average="macro", zero_division=0)), 3)
    return out


@benchmark
def coding() -> list[dict[str, Any]]:
    """surveyengine code on the 1M study's comments (first time), theme discovery, and what a build adds with the
    codes file. CPU seconds are given as well: on a shared machine they say more than the wall clock."""
    from surveyengine import coding as coding_module
    from surveyengine.build import summarise
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.scoring import score
    from surveyengine.study import load_study
    from surveyengine.themes_discovery import discover_by_language

    root = coding_study()
    pm = get_plugin_manager()
    study = load_study(root, pm)
    summary, _ = summarise(study, pm, lambda m: None)  # the statistics cache, warm for every measurement
    table = summary.comments
    rows = []

    def timed(repeat: int, function: Callable[[], Any]) -> tuple[float, float, Any]:
        """Best wall and best CPU seconds of ``repeat`` runs, and the last result."""
        walls, cpus = [], []
        result = None
        for _ in range(repeat):
            result = None
            cpu, wall = time.process_time(), time.perf_counter()
            result = function()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        return min(walls), min(cpus), result

    def first() -> Any:
        (root / "coding" / "codes.csv").unlink(missing_ok=True)
        return coding_module.code_study(study, pm)

    seconds, cpu, report = timed(1, first)
    f1 = _macro_f1_by_language(table, report.coded, _comment_truth(root))
    rows.append({"name": "surveyengine code, first time (reading the cached summary, hand codes, rules, classifier, "
                         "cross-validation, writing codes.csv)", "seconds": seconds, "cpu_seconds": cpu,
                 "comments": report.comments, "distinct": len(set(table.text)),
                 "cv_macro_f1": report.coded.quality["feedback"].get("macro_f1"),
                 "cv_ece": report.coded.quality["feedback"]["calibration"]["ece"],
                 "true_macro_f1_en": f1["en"], "true_macro_f1_zh": f1["zh"]})
    hand = coding_module.read_hand_codes(coding_module.hand_files(root), study.questionnaire)
    seconds, cpu, coded = timed(1, lambda: coding_module.code_comments(table, study.questionnaire, hand, None,
                                                                        cross_validate=False))
    rows.append({"name": "of which hand codes + rules + classifier", "seconds": seconds, "cpu_seconds": cpu})
    uncoded = [table.text[r] for r in range(len(table)) if coded.source[r] and not coded.codes[r]]
    seconds, cpu, topics = timed(1, lambda: discover_by_language(uncoded, study.questionnaire.languages, 8))
    rows.append({"name": "theme discovery (code --themes 8): NMF per language, at most 20,000 uncoded comments each",
                 "seconds": seconds, "cpu_seconds": cpu, "uncoded": len(uncoded), "topics": len(topics)})
    results = score(study, summary.stats, summary.labels, summary.account, pm, summary.exclusions)

    def rebuild_part() -> Any:
        coded = coding_module.for_build(root, table, study.questionnaire)
        return coding_module.analyse(study.questionnaire, table, coded, summary.labels, results), coded

    seconds, cpu, coded = timed(3, lambda: coding_module.for_build(root, table, study.questionnaire))
    rows.append({"name": "rebuild: codes from codes.csv (nothing new)", "seconds": seconds, "cpu_seconds": cpu,
                 "new": coded.new})
    seconds, cpu, _ = timed(3, rebuild_part)
    rows.append({"name": "rebuild: codes from codes.csv + code analysis (what a build adds)", "seconds": seconds,
                 "cpu_seconds": cpu})
    return rows


def _pdf_facts(path: Path, title: str) -> dict[str, Any]:
    """What a reader sees in a printed report: pages, contents page numbers, running headers, header rows."""
    import re

    import pypdf

    pages = [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages]
    contents = next((p for p in pages if "Contents" in p), "")
    header = "# Driver Factor Importance Performance Gain Quadrant"
    return {"pages": len(pages), "kilobytes": path.stat().st_size / 1024,
            "contents_page_numbers": len(re.findall(r"\.{3,} ?\d+", contents)),
            "pages_with_running_title": sum(title in p for p in pages[2:]),
            "priority_pages_with_header_row": sum(header in p for p in pages if "Concentrate here" in p)}


@benchmark
def pdf_engines() -> list[dict[str, Any]]:
    """The printed report of the demo study (3,000 respondents, a section per region) as a PDF: WeasyPrint (the
    pdf output) against headless Chromium printing the same HTML. CPU seconds of each engine, best of 2."""
    import resource
    import shutil
    import tempfile

    import weasyprint

    from surveyengine.build import build
    from surveyengine.plugins import get_plugin_manager
    from surveyengine.scaffold import scaffold
    from surveyengine.site.builder import render_report
    from surveyengine.study import load_study

    root = CACHE / "study-pdf"
    if not (root / "surveyengine.yaml").is_file():
        scaffold(root, "auto-dealer", 3000)
    pm = get_plugin_manager()
    study = load_study(root, pm)
    results = build(study, pm, CACHE / "site-pdf", ("json",)).results
    html = render_report(results, study, ("region",))
    work = Path(tempfile.mkdtemp(dir=CACHE))
    (work / "report.html").write_text(html, encoding="utf-8")

    def weasy() -> None:
        weasyprint.HTML(string=html, base_url=str(work)).write_pdf(work / "weasyprint.pdf")

    cpu = time.process_time()
    seconds, _ = best_of(2, weasy)
    weasy_cpu = (time.process_time() - cpu) / 2
    rows = [{"name": "WeasyPrint: report.html to PDF", "seconds": seconds, "cpu_mean": weasy_cpu,
             **_pdf_facts(work / "weasyprint.pdf", results.study["title"])}]
    chromium = os.environ.get("SURVEYENGINE_CHROMIUM") or shutil.which("chromium")
    if chromium:
        def chrome() -> None:
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                            f"--print-to-pdf={work / 'chromium.pdf'}", (work / "report.html").as_uri()],
                           check=True, capture_output=True)

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds, _ = best_of(2, chrome)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        chrome_cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / 2
        first = (work / "chromium.pdf").read_bytes()
        chrome()
        rows.append({"name": "headless Chromium --print-to-pdf, same HTML", "seconds": seconds,
                     "cpu_mean": chrome_cpu, "same_bytes_twice": first == (work / "chromium.pdf").read_bytes(),
                     **_pdf_facts(work / "chromium.pdf", results.study["title"])})
    shutil.rmtree(work, ignore_errors=True)
    return rows


def machine() -> dict[str, Any]:
    import numpy
    import pyarrow

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "cores": os.cpu_count(), "memory": memory,
            "python": platform.python_version(), "numpy": numpy.__version__, "pyarrow": pyarrow.__version__}


def run_child(name: str) -> list[dict[str, Any]]:
    """Run one benchmark in a new process; add its peak memory to each row."""
    process = subprocess.Popen([sys.executable, __file__, "--child", name], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"benchmark {name} failed")
    rows = json.loads(output.strip().splitlines()[-1])
    for row in rows:
        row.setdefault("peak_mb", usage.ru_maxrss / 1024)  # a benchmark may report the peak of its first run
        row["benchmark"] = name
    return rows


def _number(value: Any) -> str:
    if isinstance(value, float) and abs(value) < 100:
        return f"{value:.3g}"
    if isinstance(value, (int, float)):
        return f"{value:,.0f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.child:
        import numpy  # noqa: F401  (the libraries every benchmark loads count as baseline)
        import pyarrow  # noqa: F401

        import surveyengine.data  # noqa: F401

        baseline = peak_mb()
        rows = BENCHMARKS[args.child]()
        for row in rows:
            row["baseline_mb"] = baseline
        print(json.dumps(rows))
        return
    names = args.names or [name for name in BENCHMARKS if name not in ON_REQUEST]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    # simulate the data before anything is timed
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); import run; "
                    "run.study_dir('csv'); run.study_dir('parquet')" % str(HERE)], check=True)
    info = machine()
    results = [row for name in names for row in run_child(name)]
    print(f"\n{info['date']} · {info['cpu']} · {info['cores']} cores · {info['memory']} · Python {info['python']} · "
          f"numpy {info['numpy']} · pyarrow {info['pyarrow']}\n")
    print("| benchmark | measurement | seconds | peak RSS (MiB) | growth over baseline (MiB) | notes |")
    print("|---|---|---:|---:|---:|---|")
    for row in results:
        notes = ", ".join(f"{k} {_number(v)}" for k, v in row.items()
                          if k not in ("name", "seconds", "peak_mb", "benchmark", "baseline_mb"))
        growth = row["peak_mb"] - row["baseline_mb"]
        print(f"| {row['benchmark']} | {row['name']} | {row['seconds']:.3f} | {row['peak_mb']:,.0f} | "
              f"{growth:,.0f} | {notes} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
