"""The build pipeline: study -> responses -> cell statistics -> results -> outputs.

Each stage has its own module; this one only runs them in order. Outputs are
written into a staging folder beside the target and swapped in at the end, so
a failed or interrupted build leaves the previous site untouched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .plugins import plugin_errors

if TYPE_CHECKING:
    from .data import Responses
    from .plugins import PluginManager
    from .results import Results
    from .study import Study


@dataclass
class BuildReport:
    out_dir: Path
    files: list[Path]
    results: Results
    responses: Responses


def build(study: Study, pm: PluginManager, out_dir: Path, formats: tuple[str, ...] = ("html",),
          progress: Callable[[str], None] | None = None) -> BuildReport:
    from . import scoring, stats
    from .data import load_responses

    say = progress or (lambda message: None)
    outputs = pm.registry("outputs")
    writers = [(fmt, outputs.get(fmt)) for fmt in formats]  # unknown formats fail before any work
    say("reading responses")
    responses = load_responses(study, pm)
    say(f"computing statistics for {responses.n:,} respondents")
    cell_stats = stats.compute(responses)
    say("scoring")
    results = scoring.score(study, responses, cell_stats, pm)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    files: list[Path] = []
    try:
        for fmt, writer in writers:
            say(f"writing {fmt}")
            with plugin_errors(f"output '{fmt}'", outputs.owner(fmt)):
                files.extend(writer().write(results, study, staging))
        _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildReport(out_dir, sorted(set(files)), results, responses)


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
