"""Coding comments into the questionnaire's codeframes: hand codes, then rules, then a classifier.

For every comment on a coded item (see ``codeframes`` in the questionnaire):

1. the consultant's **hand codes** (``coding/hand/*.csv|xlsx``: respondent id, item, codes) always win;
2. otherwise each code with **rules** (keywords, patterns) is assigned when a rule matches;
3. each other code is predicted by a **classifier** trained on the hand-coded comments of its
   codeframe: character n-grams (1-3, of the lower-cased text padded with spaces; no word
   segmenter, so Chinese and English alike) hashed into 2^20 features of which those seen in
   training are kept, TF-IDF weighted with the document frequencies of the training comments,
   and one class-weighted logistic regression per code (one-vs-rest), its probabilities calibrated
   (Platt's sigmoid on cross-validated scores) when the code has enough hand-coded examples. Each
   distinct text is coded once; its n-grams are computed with numpy, for all comments at once, and
   the rules run in RE2 first (see ``coderules.match_many``). A code with fewer than ``min_examples``
   hand-coded comments is not predicted, and the quality report says so.

Quality is cross-validated on the hand codes (5 folds, seeded): precision, recall and F1 per
code and per language, of exactly the decision that is applied (rule or model).

The result is the **codes file** ``coding/codes.csv`` (respondent id, item, codes, source,
confidence, a checksum of the text), kept with the study and committed like the
questionnaire; ``coding/quality.json`` holds the cross-validated quality. ``build`` reads the
codes file and codes only comments that are not in it (or whose text changed).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError
from .tables import FORMULA_STARTS

if TYPE_CHECKING:
    from .comments import CommentTable
    from .model import Codeframe, Questionnaire

CODING_DIR = "coding"
CODES_FILE = "codes.csv"
QUALITY_FILE = "quality.json"
THEMES_FILE = "themes.json"
HAND_DIR = "hand"
SEED = 20260101
HASH_BITS = 20  # n-grams are hashed into 2**20 features
NGRAMS = (1, 3)
C = 10.0
FOLDS = 5
CALIBRATION_MIN = 2 * FOLDS  # hand-coded comments with a code, and without, for its probabilities to be calibrated
CHUNK = 16_384  # comments featurised at a time
CODES_COLUMNS = ("respondent_id", "item", "codes", "source", "confidence", "text_crc")
NO_CODE = "-"  # in a hand-codes file: hand-coded, and no code applies
_HAN = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


# --------------------------------------------------------------------------- results


@dataclass
class Coded:
    """The codes of every comment of a CommentTable (aligned with its rows)."""

    codes: list[tuple[str, ...]]  # per comment; () for none or for an uncoded item
    source: list[str]  # "hand", "rule", "model", "rule+model", "none" (coded, nothing found); "" for uncoded items
    confidence: np.ndarray  # float32 per comment: 1 for hand codes and rules, else the least sure model decision
    crc: np.ndarray  # uint32 checksum of each comment's text
    quality: dict[str, Any] = field(default_factory=dict)  # codeframe id -> cross-validated quality
    new: int = 0  # comments coded now (not taken from the codes file)
    themes: dict[str, Any] = field(default_factory=dict)  # coding/themes.json: topics of the uncoded comments

    def __len__(self) -> int:
        return len(self.codes)


def language_of(text: str, languages: Sequence[str]) -> str:
    """'zh' for text with Chinese characters (when the questionnaire has zh), else its first other language."""
    others = [lang for lang in languages if not lang.startswith("zh")] or ["en"]
    if any(lang.startswith("zh") for lang in languages) and _HAN.search(text):
        return next(lang for lang in languages if lang.startswith("zh"))
    return others[0]


def text_crc(texts: Sequence[str]) -> np.ndarray:
    return np.fromiter((zlib.crc32(t.encode("utf-8")) for t in texts), dtype=np.uint32, count=len(texts))


def _unsafe(value: str) -> str:
    """Undo the formula guard of safe_cell / to_arrow ("'=x" -> "=x")."""
    if value.startswith("'") and value[1:2] and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


# --------------------------------------------------------------------------- reading tables


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV (UTF-8, with or without BOM) or the first sheet of an XLSX, as text."""
    if not path.exists():
        raise DataError("file not found", str(path))
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        try:
            import openpyxl

            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except ImportError:
            raise DataError("reading .xlsx needs openpyxl: pip install 'surveyengine[xlsx]'", str(path)) from None
        except Exception as exc:  # a damaged or foreign file
            raise DataError(f"not a readable .xlsx file ({type(exc).__name__})", str(path)) from None
        sheet = workbook.worksheets[0]
        values = [["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
                   for v in row] for row in sheet.iter_rows(values_only=True)]
        workbook.close()
    elif suffix in (".csv", ".txt"):
        import csv

        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                values = list(csv.reader(handle))
        except UnicodeDecodeError:
            raise DataError("not UTF-8 text; save the file as CSV UTF-8", str(path)) from None
        except csv.Error as exc:
            raise DataError(f"not a valid CSV file: {exc}", str(path)) from None
    else:
        raise DataError(f"hand codes must be a .csv or .xlsx file, not '{suffix or path.name}'", str(path))
    if not values:
        raise DataError("the file is empty", str(path))
    header = [h.strip().lower() for h in values[0]]
    return header, values[1:]


def read_hand_codes(paths: Iterable[Path], q: Questionnaire) -> dict[tuple[str, str], tuple[str, ...]]:
    """(respondent id, item) -> codes from hand-codes files; later files win. Every problem is an error.

    Columns: ``respondent_id``, ``item`` (optional when one item is coded) and ``codes`` (code ids
    separated by ';' or ','; ``-`` for "no code applies"). A row with an empty ``codes`` cell is not
    hand-coded (yet) and is skipped: an exported review file can be imported half done.
    """
    coded_items = {item: frame for frame in q.codeframes.values() for item in frame.items}
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for path in paths:
        header, rows = _read_rows(path)
        for required in ("respondent_id", "codes"):
            if required not in header:
                raise DataError(f"no '{required}' column (columns: {', '.join(header) or 'none'}); a hand-codes file "
                                "has respondent_id, item and codes", str(path), row=1)
        rid_at, codes_at = header.index("respondent_id"), header.index("codes")
        item_at = header.index("item") if "item" in header else None
        if item_at is None and len(coded_items) != 1:
            raise DataError(f"no 'item' column, and {len(coded_items)} items are coded "
                            f"({', '.join(coded_items)}): say which item each row codes", str(path), row=1)
        problems: list[str] = []
        for number, row in enumerate(rows, start=2):
            cell = (row + [""] * len(header))
            rid, raw = _unsafe(cell[rid_at].strip()), cell[codes_at].strip()
            item = _unsafe(cell[item_at].strip()) if item_at is not None else next(iter(coded_items))
            if not rid and not raw:
                continue
            if not raw:
                continue  # not coded yet
            if not rid:
                problems.append(f"{path}: row {number}: no respondent id")
                continue
            frame = coded_items.get(item)
            if frame is None:
                problems.append(f"{path}: row {number}: item '{item}' has no codeframe "
                                f"(coded items: {', '.join(coded_items) or 'none'})")
                continue
            if raw == NO_CODE:
                out[(rid, item)] = ()
                continue
            known = {c.id for c in frame.codes}
            given = [c.strip() for c in re.split(r"[;,]", _unsafe(raw)) if c.strip()]
            unknown = [c for c in given if c not in known]
            if unknown:
                from .questionnaire import did_you_mean

                problems.append(f"{path}: row {number}: unknown code '{unknown[0]}'{did_you_mean(unknown[0], known)} "
                                f"for item '{item}'")
                continue
            out[(rid, item)] = tuple(c.id for c in frame.codes if c.id in given)  # codeframe order
            if len(problems) > 20:
                break
        if problems:
            more = "" if len(problems) <= 20 else " (and more)"
            raise DataError(f"{len(problems)} bad row{'s' if len(problems) > 1 else ''} in hand codes{more}:\n  "
                            + "\n  ".join(problems[:20]), str(path))
    return out


def hand_files(study_root: Path) -> list[Path]:
    folder = study_root / CODING_DIR / HAND_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".xlsx") and not p.name.startswith("."))


@dataclass
class CodesFile:
    """A codes file as columns: ``keys`` (respondent id and item joined by \\x1f, an Arrow array), the text
    checksums, and the codes and sources as indices into their few distinct values."""

    keys: Any
    crc: np.ndarray
    codes: np.ndarray
    code_values: list[tuple[str, ...]]
    source: np.ndarray
    source_values: list[str]
    confidence: np.ndarray


def _join_keys(ids: Any, items: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(pa.array(ids, type=pa.string()), pa.array(items, type=pa.string()), "\x1f")


def read_codes_file(path: Path) -> CodesFile:
    """The codes file, read into columns (a quarter of a million rows in a fraction of a second)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in CODES_COLUMNS if name != "confidence"}
            | {"confidence": pa.float64()}, strings_can_be_null=False))
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"cannot read the codes file: {exc}; delete it and run 'surveyengine code'",
                        str(path)) from None
    missing = [c for c in CODES_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(f"the codes file lacks column {', '.join(missing)}; run 'surveyengine code'", str(path))
    ids = pc.replace_substring_regex(table.column("respondent_id"), r"^'([=+\-@\t\r])", r"\1")
    keys = _join_keys(ids.combine_chunks() if hasattr(ids, "combine_chunks") else ids,
                      table.column("item").combine_chunks())
    codes = table.column("codes").combine_chunks().dictionary_encode()
    source = table.column("source").combine_chunks().dictionary_encode()
    try:
        crc = np.array([int(v, 16) for v in table.column("text_crc").to_pylist()], dtype=np.uint32)
    except ValueError:
        raise DataError("the codes file has a bad text_crc; run 'surveyengine code --full'", str(path)) from None
    confidence = table.column("confidence").to_numpy(zero_copy_only=False).astype(np.float32)
    return CodesFile(keys, crc, codes.indices.to_numpy(zero_copy_only=False),
                     [tuple(c for c in v.split(";") if c) for v in codes.dictionary.to_pylist()],
                     source.indices.to_numpy(zero_copy_only=False), source.dictionary.to_pylist(),
                     np.nan_to_num(confidence, nan=1.0))


# --------------------------------------------------------------------------- the classifier


_MULT = (np.uint32(2654435761), np.uint32(2246822519), np.uint32(3266489917))


def ngram_features(texts: Sequence[str], lookup: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(row, feature) of every character n-gram (1 to 3) of ``texts``, vectorised over all texts at once.

    A text is lower-cased, its runs of white space made one space, and padded with a space at
    each end; its n-grams are hashed into ``2**HASH_BITS`` features. With ``lookup`` (feature ->
    column, -1 for none) only the n-grams of known features are kept, as columns.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(texts):
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    clean_texts = pc.replace_substring_regex(pc.utf8_lower(pa.array(list(texts), type=pa.large_string())),
                                             r"\s+", " ").to_pylist()
    joined = "\0 " + " \0 ".join(t.replace("\0", " ") for t in clean_texts) + " \0"
    codepoints = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    separator = codepoints == 0
    separators = np.concatenate(([0], np.cumsum(separator, dtype=np.int32)))
    document = separators[1:] - 1  # the text each position belongs to (its separator opens it)
    rows, columns = [], []
    size = codepoints.size
    rolling = np.zeros(size, dtype=np.uint32)
    for n in range(1, NGRAMS[1] + 1):
        m = size - n + 1
        rolling = rolling[:m]
        rolling *= _MULT[0]
        rolling += codepoints[n - 1:n - 1 + m] * _MULT[n - 1]
        feature = ((rolling ^ np.uint32((n * 0x9E3779B9) & 0xFFFFFFFF)) >> np.uint32(32 - HASH_BITS)).astype(np.int32)
        keep = (separators[n:n + m] - separators[:m]) == 0  # no n-gram spans two texts
        if n < NGRAMS[0]:
            continue
        if lookup is not None:
            feature = lookup[feature]
            keep &= feature >= 0
        at = np.flatnonzero(keep)
        rows.append(document[at])
        columns.append(feature[at])
    return np.concatenate(rows), np.concatenate(columns)


def count_matrix(rows: np.ndarray, columns: np.ndarray, n_rows: int, n_columns: int) -> Any:
    """The sparse count matrix (rows sorted: the n-gram lists are each in row order, so a stable sort merges them)."""
    import scipy.sparse as sp

    order = np.argsort(rows, kind="stable")
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n_rows)))).astype(np.int64)
    matrix = sp.csr_matrix((np.ones(order.size, dtype=np.float32), columns[order], indptr),
                           shape=(n_rows, n_columns))
    matrix.sum_duplicates()
    return matrix


@dataclass
class CodeModel:
    """The classifier of one codeframe: its vocabulary (hashed n-grams seen in training), IDF and one logistic
    regression per predicted code, stacked so that prediction is one sparse product."""

    codes: list[str]  # predicted codes, in codeframe order
    lookup: np.ndarray  # hashed feature -> column of the vocabulary, -1 outside it
    idf: np.ndarray
    coef: np.ndarray  # (vocabulary, codes)
    intercept: np.ndarray
    threshold: float
    calibrated: list[bool] = field(default_factory=list)  # per predicted code: its probabilities calibrated

    def features(self, texts: Sequence[str]) -> Any:
        rows, columns = ngram_features(texts, self.lookup)
        return _tfidf(count_matrix(rows, columns, len(texts), self.idf.size), self.idf)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """P(code) per text and predicted code, in chunks (small arrays stay in cache, memory stays flat)."""
        out = np.zeros((len(texts), len(self.codes)))
        if not self.codes:
            return out
        for start in range(0, len(texts), CHUNK):
            scores = np.asarray(self.features(texts[start:start + CHUNK]) @ self.coef) + self.intercept
            out[start:start + CHUNK] = 1.0 / (1.0 + np.exp(-scores))
        return out


def _tfidf(counts: Any, idf: np.ndarray) -> Any:
    """Sublinear term frequency (1 + log tf) times IDF, each row scaled to unit length (in place)."""
    data = (1.0 + np.log(counts.data, dtype=np.float64)) * idf[counts.indices]
    lengths = np.diff(counts.indptr)
    # reduceat gives an empty row the next row's first value: harmless, an empty row has no value to scale
    squares = (np.add.reduceat(data * data, np.minimum(counts.indptr[:-1], data.size - 1)) if data.size
               else np.zeros(lengths.size))
    norms = np.sqrt(np.where(lengths > 0, squares, 1.0))
    data /= np.repeat(norms, lengths)
    counts.data = data
    return counts


def train(texts: Sequence[str], labels: np.ndarray, codes: Sequence[str], predictable: Sequence[bool],
          threshold: float) -> CodeModel:
    """Fit one class-weighted logistic regression per predictable code on the hand-coded comments.

    The class weights keep a rare code from being drowned by the comments without it, but make the
    model's probabilities too high for it; so a code with at least ``CALIBRATION_MIN`` hand-coded comments
    with it and as many without is calibrated: Platt's sigmoid fitted on the scores of 5 held-out folds, as
    scikit-learn's ``CalibratedClassifierCV(method="sigmoid", ensemble=False)`` does. Then of the comments it
    gives 0.8, about 80 % have the code. The sigmoid is folded into the regression's weights, so prediction
    stays one product.
    """
    from sklearn.linear_model import LogisticRegression

    rows, hashed = ngram_features(texts)
    vocabulary = np.unique(hashed)
    lookup = np.full(2**HASH_BITS, -1, dtype=np.int32)
    lookup[vocabulary] = np.arange(vocabulary.size, dtype=np.int32)
    counts = count_matrix(rows, lookup[hashed], len(texts), vocabulary.size)
    document_frequency = np.bincount(counts.indices, minlength=vocabulary.size)
    idf = np.log((1 + len(texts)) / (1 + document_frequency)) + 1.0
    x = _tfidf(counts, idf)
    kept, coefs, intercepts, calibrated = [], [], [], []
    for j, code in enumerate(codes):
        y = labels[:, j]
        if not predictable[j] or y.all() or not y.any():
            continue
        model = LogisticRegression(C=C, solver="liblinear", class_weight="balanced", random_state=SEED).fit(x, y)
        slope, offset = 1.0, 0.0
        if min(int(y.sum()), int((~y).sum())) >= CALIBRATION_MIN:
            slope, offset = platt(_held_out_scores(model, x, y), y)
        coefs.append(slope * model.coef_[0])
        intercepts.append(slope * model.intercept_[0] + offset)
        kept.append(code)
        calibrated.append(min(int(y.sum()), int((~y).sum())) >= CALIBRATION_MIN)
    coef = np.column_stack(coefs) if coefs else np.zeros((vocabulary.size, 0))
    return CodeModel(kept, lookup, idf, coef, np.asarray(intercepts, dtype=np.float64), threshold, calibrated)


def _held_out_scores(model: Any, x: Any, y: np.ndarray) -> np.ndarray:
    """The regression's score of each comment by a copy fitted on the other folds (stratified, seeded)."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    scores = np.zeros(y.size)
    for fit, held in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(np.zeros(y.size), y):
        scores[held] = clone(model).fit(x[fit], y[fit]).decision_function(x[held])
    return scores


def platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid P(y | score) = 1 / (1 + exp(-(slope * score + offset))), fitted by Newton's method.

    The targets are Platt's (N+ + 1) / (N+ + 2) and 1 / (N- + 2) rather than 1 and 0, so that a code the
    scores separate perfectly does not get an infinite slope: scikit-learn's ``CalibratedClassifierCV(
    method="sigmoid")`` fits the same (Lin, Lin and Weng 2007), with a general-purpose optimiser.
    """
    positives = int(y.sum())
    negatives = y.size - positives
    target = np.where(y, (positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0))
    slope, offset = 1.0, float(np.log((positives + 1.0) / (negatives + 1.0)))

    def loss(a: float, b: float) -> float:
        z = a * scores + b
        return float(np.sum(np.logaddexp(0.0, z) - target * z))

    current = loss(slope, offset)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(slope * scores + offset)))
        residual, weight = p - target, np.maximum(p * (1.0 - p), 1e-12)
        gradient = np.array([residual @ scores, residual.sum()])
        hessian = np.array([[weight @ (scores * scores), weight @ scores], [weight @ scores, weight.sum()]])
        hessian += 1e-12 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        shrink = 1.0
        while shrink > 1e-8:  # backtracking: a full Newton step can overshoot on nearly separable scores
            trial = loss(slope - shrink * step[0], offset - shrink * step[1])
            if trial <= current:
                break
            shrink /= 2
        slope, offset = slope - shrink * step[0], offset - shrink * step[1]
        if abs(current - trial) < 1e-10 * max(1.0, abs(current)) or shrink <= 1e-8:
            current = min(current, trial)
            break
        current = trial
    return float(slope), float(offset)


# --------------------------------------------------------------------------- coding


def code_comments(table: CommentTable, q: Questionnaire, hand: dict[tuple[str, str], tuple[str, ...]],
                  previous: CodesFile | None = None,
                  say: Callable[[str], None] = lambda m: None, cross_validate: bool = True) -> Coded:
    """Code every comment on a coded item: hand codes, else rules, else the classifier.

    With ``previous`` (a codes file), a comment found there with the same text keeps its codes (unless
    it is hand-coded now); only the others are coded.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import coderules

    n = len(table)
    codes: list[tuple[str, ...]] = [()] * n
    source = [""] * n
    confidence = np.ones(n, dtype=np.float32)
    crc = text_crc(table.text)
    quality: dict[str, Any] = {}
    item_of = np.asarray(table.items, dtype=object)[table.item] if n else np.zeros(0, dtype=object)
    hand_keys = _join_keys([k[0] for k in hand], [k[1] for k in hand])
    hand_values = list(hand.values())
    new_total = 0
    for frame_id, frame in q.codeframes.items():
        rows = np.flatnonzero(np.isin(item_of, list(frame.items))) if n else np.zeros(0, dtype=np.int64)
        code_ids = [c.id for c in frame.codes]
        rules = coderules.compile_rules(frame.codes)
        ruled = set(rules.codes)
        ids = pa.array(table.ids, type=pa.string()).take(pa.array(rows)) if rows.size else pa.array([], pa.string())
        keys = _join_keys(ids, pa.array(item_of[rows].tolist(), type=pa.string()))
        in_hand = pc.index_in(keys, value_set=hand_keys).fill_null(-1).to_numpy(zero_copy_only=False)
        hand_rows = np.flatnonzero(in_hand >= 0).tolist()
        for k in hand_rows:
            r = rows[k]
            codes[r], source[r] = hand_values[in_hand[k]], "hand"
        reuse = np.zeros(rows.size, dtype=bool)
        if previous is not None and rows.size:
            at = pc.index_in(keys, value_set=previous.keys).fill_null(-1).to_numpy(zero_copy_only=False)
            found = at >= 0
            safe = np.where(found, at, 0)
            hand_source = previous.source_values.index("hand") if "hand" in previous.source_values else -1
            reuse = found & (in_hand < 0) & (previous.crc[safe] == crc[rows]) & (previous.source[safe] != hand_source)
            taken = rows[reuse]
            for r, c, src in zip(taken.tolist(), previous.codes[safe[reuse]].tolist(),
                                 previous.source[safe[reuse]].tolist()):
                codes[r], source[r] = previous.code_values[c], previous.source_values[src]
            confidence[taken] = previous.confidence[safe[reuse]]
        todo = np.flatnonzero(~reuse & (in_hand < 0)).tolist()
        hand_key_of = {k: (table.ids[rows[k]], item_of[rows[k]]) for k in hand_rows}
        new_total += len(todo)
        # the classifier, trained on the hand-coded comments of this codeframe
        hand_texts = [table.text[rows[k]] for k in hand_rows]
        labels = np.array([[c in hand[hand_key_of[k]] for c in code_ids] for k in hand_rows], dtype=bool).reshape(
            len(hand_rows), len(code_ids))
        support = labels.sum(axis=0) if len(hand_rows) else np.zeros(len(code_ids), dtype=int)
        predictable = [c not in ruled and int(s) >= frame.min_examples for c, s in zip(code_ids, support)]
        model = None
        if todo and any(predictable):
            say(f"codeframe '{frame_id}': training on {len(hand_rows):,} hand-coded comments")
            model = train(hand_texts, labels, code_ids, predictable, frame.threshold)
        if todo:
            say(f"codeframe '{frame_id}': coding {len(todo):,} comments")
            # each distinct text once: real comments repeat ("No comment.", "Great service.")
            targets = rows[todo].tolist()
            first_of: dict[str, int] = {}
            inverse = np.fromiter((first_of.setdefault(table.text[r], len(first_of)) for r in targets),
                                  dtype=np.int64, count=len(targets))
            distinct = list(first_of)
            found = rules.match_many(distinct)
            by_model: list[tuple[str, ...]] = [()] * len(distinct)
            if model is not None and model.codes:
                probability = model.probabilities(distinct)
                confidence[targets] = np.min(np.maximum(probability, 1 - probability), axis=1)[inverse]
                hit_rows, hit_codes = np.nonzero(probability >= model.threshold)
                for d, j in zip(hit_rows.tolist(), hit_codes.tolist()):
                    by_model[d] += (model.codes[j],)
            # the codes and source of each (rule codes, model codes) pair, worked out once: there are few pairs
            decided: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, ...], str]] = {}
            for by_rule, modelled in set(zip(found, by_model)):
                hits = set(by_rule).union(modelled)
                decided[(by_rule, modelled)] = (tuple(c for c in code_ids if c in hits),
                                                "rule+model" if by_rule and modelled else "rule" if by_rule
                                                else "model" if modelled else "none")
            outcome = [decided[pair] for pair in zip(found, by_model)]
            for r, d in zip(targets, inverse.tolist()):
                codes[r], source[r] = outcome[d]
        if cross_validate:
            quality[frame_id] = _quality(frame, hand_texts, labels, support, predictable, rules, q.languages)
    return Coded(codes, source, confidence, crc, quality, new_total)


def _quality(frame: Codeframe, texts: list[str], labels: np.ndarray, support: np.ndarray,
             predictable: list[bool], rules: Any, languages: Sequence[str]) -> dict[str, Any]:
    """Cross-validated precision, recall and F1 per code (and macro F1 per language) on the hand codes."""
    code_ids = [c.id for c in frame.codes]
    n = len(texts)
    report: dict[str, Any] = {"hand_coded": n, "folds": FOLDS, "min_examples": frame.min_examples, "codes": {},
                              "languages": {}}
    method = {c: ("rule" if c in rules.codes else "model" if ok else "none") for c, ok in zip(code_ids, predictable)}
    if n < 2 * FOLDS:
        report["note"] = f"too few hand-coded comments to cross-validate ({n}; at least {2 * FOLDS})"
        for j, c in enumerate(code_ids):
            report["codes"][c] = {"method": method[c], "examples": int(support[j]), "precision": None, "recall": None,
                                  "f1": None, "predicted": method[c] != "none",
                                  **_why_not(method[c], int(support[j]), frame.min_examples)}
        return report
    from sklearn.model_selection import KFold

    predicted = np.zeros_like(labels)
    probability = np.full(labels.shape, np.nan)  # the model's, held out
    by_rules = rules.match_many(texts)
    for j, c in enumerate(code_ids):
        if method[c] == "rule":
            predicted[:, j] = [c in found for found in by_rules]
    for fit, held in KFold(FOLDS, shuffle=True, random_state=SEED).split(np.arange(n)):
        fold_support = labels[fit].sum(axis=0)
        fold_predictable = [ok and int(s) >= frame.min_examples for ok, s in zip(predictable, fold_support)]
        model = train([texts[i] for i in fit], labels[fit], code_ids, fold_predictable, frame.threshold)
        if model.codes:
            p = model.probabilities([texts[i] for i in held])
            for j_model, c in enumerate(model.codes):
                predicted[held, code_ids.index(c)] = p[:, j_model] >= model.threshold
                probability[held, code_ids.index(c)] = p[:, j_model]
    language = np.array([language_of(t, languages) for t in texts])

    def scores(mask: np.ndarray, j: int) -> dict[str, Any]:
        truth, guess = labels[mask, j], predicted[mask, j]
        tp = int((truth & guess).sum())
        fp = int((~truth & guess).sum())
        fn = int((truth & ~guess).sum())
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f1 = (2 * tp / (2 * tp + fp + fn)) if (2 * tp + fp + fn) else None
        return {"precision": _r(precision), "recall": _r(recall), "f1": _r(f1), "support": int(truth.sum())}

    everyone = np.ones(n, dtype=bool)
    for j, c in enumerate(code_ids):
        entry = {"method": method[c], "examples": int(support[j]), "predicted": method[c] != "none",
                 **scores(everyone, j), **_why_not(method[c], int(support[j]), frame.min_examples)}
        report["codes"][c] = entry
    for lang in sorted(set(language.tolist())):
        mask = language == lang
        per_code = [scores(mask, j)["f1"] for j, c in enumerate(code_ids) if method[c] != "none"
                    and labels[mask, j].any()]
        report["languages"][lang] = {"comments": int(mask.sum()),
                                     "macro_f1": _r(float(np.mean([f or 0.0 for f in per_code])) if per_code else None)}
    assessed = [report["codes"][c]["f1"] or 0.0 for j, c in enumerate(code_ids)
                if method[c] != "none" and labels[:, j].any()]
    report["macro_f1"] = _r(float(np.mean(assessed)) if assessed else None)
    report["calibration"] = calibration(probability, labels)
    for j, c in enumerate(code_ids):
        report["codes"][c]["calibrated"] = (method[c] == "model" and
                                            min(int(support[j]), n - int(support[j])) >= CALIBRATION_MIN)
    return report


def calibration(probability: np.ndarray, truth: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """How far probabilities are from the shares they claim: the Brier score and the expected calibration error.

    ECE: the probabilities in ``bins`` equal-width bins; per bin, the gap between the mean probability and the
    share of true codes, weighted by the bin's share of the decisions. NaN probabilities (no model) are left out.
    """
    known = ~np.isnan(probability)
    p, y = probability[known], truth[known].astype(float)
    if not p.size:
        return {"decisions": 0, "brier": None, "ece": None}
    at = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(at, minlength=bins)
    gap = np.abs(np.bincount(at, weights=p, minlength=bins) - np.bincount(at, weights=y, minlength=bins))
    return {"decisions": int(p.size), "brier": _r(float(np.mean((p - y) ** 2))),
            "ece": _r(float(gap.sum() / p.size)), "bins": [int(c) for c in count]}


def _why_not(method: str, examples: int, needed: int) -> dict[str, str]:
    if method != "none":
        return {}
    return {"note": f"not predicted: {examples} hand-coded example{'s' if examples != 1 else ''}, "
                    f"needs {needed} (or a rule)"}


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


# --------------------------------------------------------------------------- files


def write_codes_file(path: Path, table: CommentTable, coded: Coded) -> int:
    """The codes file: one row per comment on a coded item, sorted by item and respondent id."""
    from .tables import to_arrow

    item_of = np.asarray(table.items, dtype=object)[table.item] if len(table) else []
    rows = [r for r in range(len(table)) if coded.source[r]]
    rows.sort(key=lambda r: (item_of[r], table.ids[r]))
    columns = {
        "respondent_id": [table.ids[r] for r in rows],
        "item": [str(item_of[r]) for r in rows],
        "codes": [";".join(coded.codes[r]) for r in rows],
        "source": [coded.source[r] for r in rows],
        "confidence": [round(float(coded.confidence[r]), 4) for r in rows],
        "text_crc": [f"{int(coded.crc[r]):08x}" for r in rows],
    }
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    pacsv.write_csv(to_arrow(columns), temporary, pacsv.WriteOptions(quoting_style="needed"))
    temporary.replace(path)
    return len(rows)


def write_quality(path: Path, quality: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(quality, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def read_quality(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def review_rows(table: CommentTable, coded: Coded, limit: int) -> list[int]:
    """The comments most worth hand-coding: not hand-coded, by rising confidence (the model's least sure)."""
    candidates = [r for r in range(len(table)) if coded.source[r] and coded.source[r] != "hand"]
    candidates.sort(key=lambda r: (float(coded.confidence[r]), coded.source[r] == "rule", r))
    return candidates[:limit]


def export_review(path: Path, table: CommentTable, coded: Coded, q: Questionnaire, limit: int) -> int:
    """A CSV or XLSX of the least certain comments with their suggested codes, for hand-coding.

    The consultant fills ``codes`` (code ids separated by ';', or '-' for none) and imports the file
    with ``surveyengine code --import``; rows left blank are skipped.
    """
    rows = review_rows(table, coded, limit)
    item_of = np.asarray(table.items, dtype=object)[table.item] if len(table) else []
    labels = {}
    for frame in q.codeframes.values():
        for code in frame.codes:
            labels[code.id] = q.text(code.label)
    columns: dict[str, list[Any]] = {
        "respondent_id": [table.ids[r] for r in rows],
        "item": [str(item_of[r]) for r in rows],
        "comment": [table.text[r] for r in rows],
        "suggested": [";".join(coded.codes[r]) for r in rows],
        "suggested_labels": ["; ".join(labels.get(c, c) for c in coded.codes[r]) for r in rows],
        "confidence": [round(float(coded.confidence[r]), 4) for r in rows],
        "codes": ["" for _ in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from . import workbook

        book = workbook.new_workbook()
        workbook.add_sheet(book, "to code", columns)
        frames = {"code": [], "label": [], "codeframe": []}  # type: dict[str, list[Any]]
        for frame_id, frame in q.codeframes.items():
            for code in frame.codes:
                frames["code"].append(code.id)
                frames["label"].append(q.text(code.label))
                frames["codeframe"].append(frame_id)
        workbook.add_sheet(book, "codes", frames)
        workbook.save(book, path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        from .tables import to_arrow

        pacsv.write_csv(to_arrow(columns), path)
    else:
        raise DataError(f"export to a .csv or .xlsx file, not '{suffix or path.name}'", str(path))
    return len(rows)


def study_paths(root: Path) -> tuple[Path, Path, Path]:
    folder = root / CODING_DIR
    return folder / CODES_FILE, folder / QUALITY_FILE, folder / HAND_DIR


def model_key(q: Questionnaire, hand: dict[tuple[str, str], tuple[str, ...]]) -> str:
    """A digest of what the coding depends on besides the comments: codeframes, hand codes, this module's settings."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps({k: v.model_dump(mode="json") for k, v in q.codeframes.items()}, sort_keys=True).encode())
    digest.update(json.dumps(sorted([list(k), list(v)] for k, v in hand.items())).encode())
    digest.update(f"{HASH_BITS} {NGRAMS} {C} {SEED} features-3 calibrated".encode())
    return digest.hexdigest()


def for_build(root: Path, table: CommentTable | None, q: Questionnaire,
              say: Callable[[str], None] = lambda m: None) -> Coded | None:
    """The codes of a build: the codes file's, and the comments new since coded now (not written back)."""
    if table is None or not q.codeframes:
        return None
    codes_path, quality_path, _ = study_paths(root)
    previous = read_codes_file(codes_path) if codes_path.exists() else None
    hand = read_hand_codes(hand_files(root), q)
    if previous is None and not hand:
        say("comments not coded yet: rules only (run 'surveyengine code')")
    elif previous is not None and read_quality(quality_path).get("model_key") != model_key(q, hand):
        say("the codes file is older than the hand codes or the codeframes: run 'surveyengine code'")
    coded = code_comments(table, q, hand, previous, say, cross_validate=False)
    coded.quality = {k: v for k, v in read_quality(quality_path).items() if k != "model_key"}
    coded.themes = read_quality(root / CODING_DIR / THEMES_FILE)
    if coded.new and previous is not None:
        say(f"{coded.new:,} comments not in {codes_path.name}: coded for this build only "
            "(run 'surveyengine code' to keep them)")
    return coded


@dataclass
class CodeReport:
    comments: int
    coded: Coded
    codes_path: Path
    quality_path: Path
    imported: list[Path]
    exported: int = 0
    themes: list[dict[str, Any]] | None = None


def import_hand_codes(root: Path, q: Questionnaire, files: Sequence[Path]) -> list[Path]:
    """Check hand-codes files and copy them into ``coding/hand/`` (a file of the same name is replaced)."""
    import shutil

    _, _, hand_dir = study_paths(root)
    placed = []
    for path in files:
        read_hand_codes([path], q)  # every problem before anything is copied
    for path in files:
        hand_dir.mkdir(parents=True, exist_ok=True)
        target = hand_dir / path.name
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        placed.append(target)
    return placed


def code_study(study: Any, pm: Any, imports: Sequence[Path] = (), export: Path | None = None,
               export_limit: int = 200, say: Callable[[str], None] = lambda m: None, full: bool = False,
               themes: int = 0) -> CodeReport:
    """``surveyengine code``: import hand codes, code every comment (reusing the codes file unless ``full``),
    cross-validate, write the codes file and its quality report, and optionally export comments to review."""
    from .build import summarise

    q = study.questionnaire
    if not q.codeframes:
        raise DataError("the questionnaire has no codeframes: add 'codeframes:' (docs/questionnaire.md section 21)",
                        str(study.questionnaire_path) if hasattr(study, "questionnaire_path") else None)
    imported = import_hand_codes(study.root, q, imports)
    summary, _ = summarise(study, pm, say)
    table = summary.comments
    if table is None or (len(table) and not table.ids):
        raise DataError("the cached comments lack respondent ids: rebuild with --no-cache")
    codes_path, quality_path, _ = study_paths(study.root)
    hand = read_hand_codes(hand_files(study.root), q)
    previous = read_codes_file(codes_path) if codes_path.exists() and not full else None
    key = model_key(q, hand)
    if previous is not None and read_quality(quality_path).get("model_key") != key:
        say("hand codes or codeframes changed since the codes file: coding every comment again")
        previous = None
    coded = code_comments(table, q, hand, previous, say)
    rows = write_codes_file(codes_path, table, coded)
    write_quality(quality_path, {**coded.quality, "model_key": key})
    report = CodeReport(rows, coded, codes_path, quality_path, imported)
    if export is not None:
        report.exported = export_review(export, table, coded, q, export_limit)
    if themes:
        from .themes_discovery import discover_by_language

        uncoded = [table.text[r] for r in range(len(table)) if coded.source[r] and not coded.codes[r]]
        say(f"discovering {themes} themes in {len(uncoded):,} comments without a code")
        report.themes = discover_by_language(uncoded, q.languages, themes)
        (study.root / CODING_DIR / THEMES_FILE).write_text(
            json.dumps({"uncoded": len(uncoded), "topics": report.themes}, indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8")
    return report


# --------------------------------------------------------------------------- analysis


def analyse(q: Questionnaire, table: CommentTable, coded: Coded, labels: Any, results: Any) -> dict[str, Any]:
    """What ``results.json`` carries under ``coding``: the codeframes, the quality, and per code its counts."""
    from .analysis_codes import code_analysis, complaint_codes

    sources: dict[str, int] = {}
    for value in coded.source:
        if value:
            sources[value] = sources.get(value, 0) + 1
    frames = []
    for frame_id, frame in q.codeframes.items():
        net_of = {c: net.id for net in frame.nets for c in net.codes}
        frames.append({
            "id": frame_id, "items": list(frame.items),
            "codes": [{"id": c.id, "label": q.text(c.label, results.study.get("language")), "polarity": c.polarity,
                       "net": net_of.get(c.id), "rules": c.has_rules} for c in frame.codes],
            "nets": [{"id": n.id, "label": q.text(n.label, results.study.get("language")), "codes": list(n.codes)}
                     for n in frame.nets],
        })
    quality = {k: v for k, v in coded.quality.items() if k != "model_key"}
    return {"codeframes": frames, "quality": quality,
            "coded": {"comments": sum(sources.values()), "by_source": dict(sorted(sources.items())),
                      "new": coded.new},
            "analysis": code_analysis(q, table, coded, labels, results),
            "complaints": complaint_codes(q, table, coded, labels, results),
            "themes": {"uncoded": coded.themes.get("uncoded"),
                       "topics": [t for t in coded.themes.get("topics", [])
                                  if t.get("comments", 0) >= q.index.privacy_min]}
            if coded.themes else {}}
