"""The build pipeline: study -> responses -> cell statistics -> results -> outputs.

Each stage has its own module; this one only runs them in order. The
statistics (with the row account and the label tables) are cached on disk,
keyed by the content of the data files and the questionnaire, so a rebuild
with unchanged data skips reading and the pass. Outputs are written into a
staging folder beside the target and swapped in at the end, so a failed or
interrupted build leaves the previous site untouched.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .plugins import plugin_errors
from .results import collector_paused

if TYPE_CHECKING:
    from .cache import Summary
    from .plugins import PluginManager
    from .results import Results
    from .study import Study


@dataclass
class BuildReport:
    out_dir: Path
    files: list[Path]
    results: Results
    summary: Summary
    cached: bool


def summarise(study: Study, pm: PluginManager, say: Callable[[str], None], use_cache: bool = True) -> tuple[Any, bool]:
    """Read, validate and pass over the data once; or take the cached summary of the same inputs."""
    from . import cache, comments, stats
    from .banners import banner_questions
    from .data import load_responses, resolve_files
    from .engines.summary import summarise as summarise_in_engine

    source = engine_source(study)
    if source is not None and study.config.source is not None:
        # a table, a view or a query may change at any time: no cache
        say(f"reading {source.engine} source")
        return summarise_in_engine(study, source, say), False
    engine = source.engine if source is not None else "memory"  # files, read in memory or by DuckDB
    key = cache.key_for(study, [path for path, _ in resolve_files(study)], engine) if use_cache else None
    if key is not None:
        summary = cache.load(study, key)
        if summary is not None:
            say("statistics unchanged: using the cache")
            summary.key = key
            return summary, True
    if source is not None:
        say(f"reading the Parquet files through {source.engine}")
        summary = summarise_in_engine(study, source, say)
    else:
        say("reading responses")
        responses = load_responses(study, pm)
        say(f"computing statistics for {responses.n:,} respondents")
        plan = stats.plan_for(study.questionnaire, responses.items)
        questions = banner_questions(study, plan)
        scores = stats.factor_scores(responses, plan) if questions else None  # once, for every pass below
        study_stats = stats.compute_all(responses, plan, scores)
        if questions:
            say(f"computing banner cells by {', '.join(questions)}")
            study_stats = replace(study_stats, banners={q: stats.banner_cells(responses, plan, q, scores)
                                                        for q in questions})
        summary = cache.Summary.from_responses(responses, study_stats,
                                               comments.collect(responses, study.questionnaire))
    if key is not None:
        cache.save(study, key, summary)
        summary.key = key
    return summary, False


AUTO_DUCKDB_BYTES = 100 * 2**20  # Parquet files larger than this go through DuckDB (--engine auto)


def engine_source(study: Study) -> Any:
    """The engine source the pass runs in: the study's ``source:``, or its Parquet files read by DuckDB when
    ``study.engine`` is ``duckdb`` (``--engine duckdb``), or ``auto`` and :func:`big_parquet` says so."""
    from .errors import DataError
    from .model import Source

    if study.config.source is not None:
        return study.config.source
    if study.engine == "auto" and big_parquet(study):
        return Source(engine="duckdb", path=study.config.data_files()[0].path)
    if study.engine != "duckdb":
        return None
    specs = study.config.data_files()
    if len(specs) != 1 or not specs[0].path.lower().endswith(".parquet"):
        raise DataError("--engine duckdb reads Parquet files named by one 'data' entry (a path or a glob)",
                        str(study.config_path))
    return Source(engine="duckdb", path=specs[0].path)


def big_parquet(study: Study) -> bool:
    """Whether the study's data are Parquet files (one ``data`` entry) of more than ``AUTO_DUCKDB_BYTES`` and
    DuckDB is installed: in memory, such a study needs about 15 times its Parquet size (5 GiB for the
    10-million-respondent benchmark), through DuckDB 1.3 GiB whatever its size, and builds faster."""
    import importlib.util

    from .data import resolve_files
    from .errors import DataError

    specs = study.config.data_files()
    if len(specs) != 1 or not specs[0].path.lower().endswith(".parquet"):
        return False
    if importlib.util.find_spec("duckdb") is None:
        return False
    try:
        size = sum(path.stat().st_size for path, _ in resolve_files(study))
    except (OSError, DataError):
        return False  # the build names the missing file
    return size > AUTO_DUCKDB_BYTES


def build(study: Study, pm: PluginManager, out_dir: Path, formats: tuple[str, ...] = ("html",),
          progress: Callable[[str], None] | None = None, use_cache: bool = True) -> BuildReport:
    from . import cache, scoring

    say = progress or (lambda message: None)
    outputs = pm.registry("outputs")
    writers = [(fmt, outputs.get(fmt)) for fmt in formats]  # unknown formats fail before any work
    # the site last: its downloads page links to the files the other outputs wrote
    writers.sort(key=lambda writer: writer[0] == "html")
    for fmt, writer in writers:  # what an output needs (a library) is missing: say so before any work
        check = getattr(writer, "check", None)
        if check is not None:
            with plugin_errors(f"output '{fmt}'", outputs.owner(fmt)):
                check(study)
    summary, cached = summarise(study, pm, say, use_cache)
    results_key = cache.results_key(study, summary.key, pm) if summary.key is not None else None
    # The collector pauses while the results are made (results.collector_paused), then leaves them out of its
    # walks (gc.freeze) until the outputs, which make many objects of their own, are written.
    with collector_paused():
        results = cache.load_results(study, results_key) if results_key is not None else None
        cached_results = results is not None
        if cached_results:
            say("results unchanged: using the cache")
            results.generated = scoring.build_date()
        else:
            say("scoring")
            results = _score(study, pm, summary, say)
    saved = cache.save_results(study, results_key, results) if results_key is not None and not cached_results \
        else (lambda: None)
    gc.freeze()

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    files: list[Path] = []
    try:
        for fmt, writer in writers:
            say(f"writing {fmt}")
            # an output of the results alone (not of the theme) is copied from the last build of the same results
            reusable = results_key is not None and getattr(writer, "depends_only_on_results", False)
            output_key = f"{results_key} {results.generated}"
            written = cache.load_output(study, fmt, output_key, staging) if reusable else None
            if written is None:
                with plugin_errors(f"output '{fmt}'", outputs.owner(fmt)):
                    written = list(writer().write(results, study, staging))
                if reusable:
                    cache.save_output(study, fmt, output_key, staging, written)
            files.extend(written)
        _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        saved()
        gc.unfreeze()
    return BuildReport(out_dir, sorted(set(files)), results, summary, cached)


def _score(study: Study, pm: PluginManager, summary: Summary, say: Callable[[str], None]) -> Results:
    from . import comments, scoring

    results = scoring.score(study, summary.stats, summary.labels, summary.account, pm, summary.exclusions)
    results.comments = comments.publish(summary.comments, summary.labels, results)
    if study.questionnaire.codeframes and summary.comments is not None:
        from . import coding

        say("coding comments")
        coded = coding.for_build(study.root, summary.comments, study.questionnaire, say)
        if coded is not None:
            for comment, codes in zip(results.comments, coded.codes):
                comment.codes = codes
            results.coding = coding.analyse(study.questionnaire, summary.comments, coded, summary.labels, results)
    return results


def _swap_in(staging: Path, out_dir: Path) -> None:
    staging.chmod(0o755)
    if out_dir.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-old-", dir=out_dir.parent))
        retired.rmdir()
        out_dir.rename(retired)
        staging.rename(out_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(out_dir)
