"""The summary of a study's data — everything downstream of the rows — and its on-disk cache.

The cache key hashes the content of the data files, of every questionnaire and
library file, of the study config, of the study's own plugin files, and the
surveyengine version: change any of them and the pass runs again (plugins
loaded with ``--plugins-dir`` or from entry points are not part of the key).
Hashing a large data file is itself a pass over its bytes (blake2b, about
1 GB/s), so each file's hash is remembered against its size and modification
time. The cache lives in the study folder, ``.surveyengine-cache/``, and
holds one summary (the latest).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .errors import Location, Problem
from .stats import CellStats, FactorScore, StatsPlan, StudyStats, UnitCross, banner_plan
from .views import Labels

if TYPE_CHECKING:
    from .comments import CommentTable
    from .data import Responses
    from .plugins import PluginManager
    from .study import Study

CACHE_DIR = ".surveyengine-cache"
FORMAT = 7  # 2: gap_wsum2 and split_wsum2; 3: comments; 4: replicate groups; 5: comment ids and recommend; 6: banners;
# 7: replicate groups by a hash of the id
MAX_EXCLUSIONS_KEPT = 10_000


@dataclass
class Summary:
    stats: StudyStats
    labels: Labels
    account: dict[str, Any]
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Problem] = field(default_factory=list)
    findings_total: int = 0
    bad_rows: int = 0  # rows excluded for bad data (not by a configured quality check)
    comments: CommentTable | None = None
    key: str | None = None  # the cache key of the inputs, when cached (not stored)

    @classmethod
    def from_responses(cls, responses: Responses, stats: StudyStats,
                       comments: CommentTable | None = None) -> Summary:
        from .views import labels_of

        return cls(stats, labels_of(responses), responses.account(),
                   [e.as_dict() for e in responses.exclusions[:MAX_EXCLUSIONS_KEPT]], list(responses.findings),
                   responses.findings_total, sum(1 for e in responses.exclusions if e.kind == "error"), comments)


def _file_hash(path: Path, memo: dict[str, Any]) -> str:
    stat = path.stat()
    entry = memo.get(str(path.resolve()))
    if entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
        return str(entry["hash"])
    digest = hashlib.blake2b(digest_size=20)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()
    memo[str(path.resolve())] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "hash": value}
    return value


def _files_key(study: Study, prefix: str, files: list[Path]) -> str:
    """A key over ``prefix`` and the content of ``files`` (each hash remembered against size and time)."""
    folder = study.root / CACHE_DIR
    memo_path = folder / "file-hashes.json"
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    digest = hashlib.blake2b(digest_size=20)
    digest.update(prefix.encode())
    for path in files:
        digest.update(str(path.name).encode())
        digest.update(_file_hash(path, memo).encode())
    try:
        folder.mkdir(exist_ok=True)
        memo_path.write_text(json.dumps(memo, sort_keys=True), encoding="utf-8")
    except OSError:
        pass  # a read-only study folder still builds, uncached
    return digest.hexdigest()


def key_for(study: Study, data_files: list[Path], engine: str = "memory") -> str:
    """The key of a summary of ``data_files``; ``engine``: where they were read (DuckDB keeps only the latest
    comments, so its summary is not the in-memory one)."""
    # the study's own plugins may read the data (readers): their code is an input too
    plugin_files = [path for folder in study.plugins_dirs() for path in sorted(folder.glob("*.py"))]
    prefix = f"surveyengine {__version__} cache {FORMAT}" + ("" if engine == "memory" else f" {engine}")
    return _files_key(study, prefix, [*study.files, *plugin_files, *data_files])


def _cell_arrays(cells: CellStats) -> dict[str, np.ndarray]:
    """A CellStats' arrays by field name (its segment codes apart)."""
    return {f.name: getattr(cells, f.name) for f in fields(cells) if isinstance(getattr(cells, f.name), np.ndarray)}


def save(study: Study, key: str, summary: Summary) -> None:
    folder = study.root / CACHE_DIR
    arrays: dict[str, np.ndarray] = {}
    cells = summary.stats.cells
    arrays.update({f"cells.{name}": values for name, values in _cell_arrays(cells).items()})
    for segment, codes in cells.segment_codes.items():
        arrays[f"cells.segment.{segment}"] = codes
    units = summary.stats.units
    if units is not None:
        for name in ("xx", "xm", "x2m", "mm"):
            arrays[f"units.{name}"] = getattr(units, name)
        for segment, codes in units.segment_codes.items():
            arrays[f"units.segment.{segment}"] = codes
    arrays["unit_of_cell"] = summary.stats.unit_of_cell
    replicates = summary.stats.replicates
    if replicates is not None:
        for name in ("xx", "xm", "x2m", "mm"):
            arrays[f"replicates.{name}"] = getattr(replicates, name)
    for question, banner in summary.stats.banners.items():
        arrays.update({f"banners.{question}.{name}": values for name, values in _cell_arrays(banner).items()})
        arrays[f"banners.{question}.segment"] = banner.segment_codes[question]
    comments = summary.comments
    if comments is not None:
        arrays.update({f"comments.{name}": values for name, values in comments.arrays().items()})
    meta = {
        "format": FORMAT,
        "key": key,
        "items": list(cells.items),
        "segments": list(cells.segment_codes),
        "plan": asdict(cells.plan) if cells.plan is not None else None,
        "unit_variables": list(units.variables) if units is not None else None,
        "replicate_variables": list(replicates.variables) if replicates is not None else None,
        "banners": list(summary.stats.banners),
        "labels": {"segments": summary.labels.segments, "waves": summary.labels.waves},
        "account": summary.account,
        "exclusions": summary.exclusions,
        "findings": [p.as_dict() for p in summary.findings],
        "findings_total": summary.findings_total,
        "bad_rows": summary.bad_rows,
        "comments": None if comments is None else {"items": comments.items, "text": comments.text,
                                                   "ids": comments.ids},
    }
    try:
        folder.mkdir(exist_ok=True)
        for old in folder.glob("summary-*"):
            old.unlink()
        np.savez(folder / f"summary-{key}.npz", **arrays)
        (folder / f"summary-{key}.json").write_text(json.dumps(meta), encoding="utf-8")
    except OSError:
        pass


def load(study: Study, key: str) -> Summary | None:
    folder = study.root / CACHE_DIR
    try:
        meta = json.loads((folder / f"summary-{key}.json").read_text(encoding="utf-8"))
        archive = np.load(folder / f"summary-{key}.npz")
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("key") != key:
        return None
    arrays = {name: archive[name] for name in archive.files}
    plan = None
    if meta["plan"] is not None:
        raw = meta["plan"]
        plan = StatsPlan(
            items=tuple(raw["items"]),
            factors=tuple(FactorScore(f["id"], tuple(f["items"]), tuple(f["low"]), tuple(f["high"]))
                          for f in raw["factors"]),
            discrete=tuple(raw["discrete"]), discrete_low=tuple(raw["discrete_low"]), values=raw["values"],
            gaps=tuple(tuple(g) for g in raw["gaps"]),
            complaint=(raw["complaint"][0], tuple(raw["complaint"][1])) if raw["complaint"] else None,
            outcomes=tuple(raw["outcomes"]), item_block=tuple(raw["item_block"]),
            factor_block=tuple(raw["factor_block"]), replicates=raw["replicates"],
            replicate_block=tuple(raw["replicate_block"]))
    cell_fields = {f.name for f in fields(CellStats)} - {"items", "segment_codes", "plan"}
    cells = CellStats(items=tuple(meta["items"]),
                      segment_codes={s: arrays[f"cells.segment.{s}"] for s in meta["segments"]},
                      plan=plan, **{name: arrays[f"cells.{name}"] for name in cell_fields})
    banners = {question: CellStats(items=cells.items, segment_codes={question: arrays[f"banners.{question}.segment"]},
                                   plan=banner_plan(plan) if plan is not None else None,
                                   **{name: arrays[f"banners.{question}.{name}"] for name in cell_fields})
               for question in meta["banners"]}
    units = None
    if meta["unit_variables"] is not None:
        units = UnitCross(tuple(meta["unit_variables"]),
                          {s: arrays[f"units.segment.{s}"] for s in meta["segments"]},
                          **{name: arrays[f"units.{name}"] for name in ("xx", "xm", "x2m", "mm")})
    replicates = None
    if meta["replicate_variables"] is not None:
        replicates = UnitCross(tuple(meta["replicate_variables"]), {},
                               **{name: arrays[f"replicates.{name}"] for name in ("xx", "xm", "x2m", "mm")})
    findings = [Problem(p["message"], Location(p["file"], p["line"], p["column"], p["row"]), p["severity"],
                        p["key_path"]) for p in meta["findings"]]
    comments = None
    if meta.get("comments") is not None:
        from .comments import CommentTable

        comments = CommentTable.from_arrays(meta["comments"]["items"], meta["comments"]["text"],
                                            {name.removeprefix("comments."): values for name, values in arrays.items()
                                             if name.startswith("comments.")}, meta["comments"].get("ids"))
    return Summary(StudyStats(cells, units, arrays["unit_of_cell"], replicates, banners),
                   Labels(meta["labels"]["segments"], meta["labels"]["waves"]), meta["account"], meta["exclusions"],
                   findings, meta["findings_total"], meta["bad_rows"], comments)


# --------------------------------------------------------------------------- the results and their outputs
#
# A rebuild whose statistics, questionnaire, codes and code are unchanged (say, after a template edit) takes
# the scored results from here instead of scoring again, and copies the files of the outputs that depend on
# the results alone (``results.json``, the CSV tables) instead of writing them again. The results are
# pickled; a pickle runs code when loaded, so each one is signed with a key that lives outside the study
# folder (``$XDG_CACHE_HOME/surveyengine/signing-key``, made on first use, readable by its owner only): a
# cache file that this user's surveyengine did not write (copied in, committed, edited) is ignored.

RESULTS_FORMAT = 1
_SIGNATURE_BYTES = 32


def results_key(study: Study, summary_key: str, pm: PluginManager) -> str:
    """The key of the results of a summary: its key, the codes and hand codes, and the code that scores
    (surveyengine's own modules and every registered plugin's module), so an edited plugin scores again."""
    import inspect

    from . import coding

    plugin_files = []
    for plugin in pm.get_plugins():
        module = plugin if inspect.ismodule(plugin) else inspect.getmodule(plugin)
        source = getattr(module, "__file__", None)
        if source:
            plugin_files.append(Path(source))

    coding_dir = study.root / coding.CODING_DIR
    coding_files = sorted(p for p in coding_dir.rglob("*") if p.is_file()) if coding_dir.is_dir() else []
    package = sorted(Path(__file__).parent.rglob("*.py"))
    return _files_key(study, f"results {RESULTS_FORMAT} of {summary_key}",
                      [*coding_files, *package, *sorted(set(plugin_files))])


def _signing_key() -> bytes | None:
    """This user's key for signing cached results; None when none can be kept (the build is then uncached)."""
    import os

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "surveyengine"
    path = base / "signing-key"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            key = path.read_bytes()
        except OSError:
            return None
        return key if len(key) == _SIGNATURE_BYTES else None
    except OSError:
        return None
    key = os.urandom(_SIGNATURE_BYTES)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


def _signature(key: bytes, payload: bytes | memoryview) -> bytes:
    return hashlib.blake2b(payload, key=key, digest_size=_SIGNATURE_BYTES).digest()


def save_results(study: Study, key: str, results: Any) -> Callable[[], Any]:
    """Write the results to the cache, in a forked process where the system forks (pickling a million
    respondents' results takes most of a second, which the build spends writing its outputs meanwhile).
    Returns the function that waits for it; the file appears whole (renamed into place) or not at all."""
    from .workers import in_background

    signing_key = _signing_key()
    if signing_key is None:
        return lambda: None
    return in_background(lambda: _write_results(study, key, results, signing_key) or b"")


def _write_results(study: Study, key: str, results: Any, signing_key: bytes) -> None:
    import os
    import pickle

    payload = pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)
    folder = study.root / CACHE_DIR
    target = folder / f"results-{key}.pickle"
    partial = folder / f".results-{key}.{os.getpid()}.partial"
    try:
        folder.mkdir(exist_ok=True)
        with partial.open("wb") as handle:
            handle.write(_signature(signing_key, payload))
            handle.write(payload)
        for old in folder.glob("results-*"):
            old.unlink()
        partial.replace(target)
    except OSError:
        partial.unlink(missing_ok=True)


def load_results(study: Study, key: str) -> Any:
    """The cached results of ``key``, or None when there are none, or they are not signed by this user."""
    import hmac
    import pickle

    signing_key = _signing_key()
    if signing_key is None:
        return None
    try:
        data = (study.root / CACHE_DIR / f"results-{key}.pickle").read_bytes()
    except OSError:
        return None
    view = memoryview(data)
    if not hmac.compare_digest(bytes(view[:_SIGNATURE_BYTES]), _signature(signing_key, view[_SIGNATURE_BYTES:])):
        return None
    return pickle.loads(view[_SIGNATURE_BYTES:])


def _output_folder(study: Study, fmt: str) -> Path:
    return study.root / CACHE_DIR / "outputs" / fmt


def _place(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (no copying of large files), or a copy across file systems."""
    import os
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def load_output(study: Study, fmt: str, key: str, out_dir: Path) -> list[Path] | None:
    """The cached files of output ``fmt`` made from the results of ``key``, placed into ``out_dir``; None when
    there are none, or when one was changed since (a hard link shares its edits with the published copy)."""
    folder = _output_folder(study, fmt) / "files"
    try:
        manifest = json.loads((_output_folder(study, fmt) / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("key") != key:
            return None
        files = {Path(name): tuple(stamp) for name, stamp in manifest["files"].items()}
        for name, stamp in files.items():
            stat = (folder / name).stat()
            if (stat.st_size, stat.st_mtime_ns) != stamp:
                return None
        for name in files:
            _place(folder / name, out_dir / name)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return list(files)


def save_output(study: Study, fmt: str, key: str, out_dir: Path, files: list[Path]) -> None:
    import shutil

    folder = _output_folder(study, fmt)
    try:
        shutil.rmtree(folder, ignore_errors=True)
        stamps = {}
        for name in files:
            _place(out_dir / name, folder / "files" / name)
            stat = (folder / "files" / name).stat()
            stamps[str(name)] = [stat.st_size, stat.st_mtime_ns]
        (folder / "manifest.json").write_text(json.dumps({"key": key, "files": stamps}), encoding="utf-8")
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
