"""The results of a build as one typed tree; every page and export reads it, none recomputes.

``Results.as_dict()`` is what ``results.json`` holds; ``schema_version`` says
which layout (see docs/results.md). A value below the privacy minimum is
``None`` with the flag ``suppressed``; a base below the reporting minimum
carries ``small-base``.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

RESULTS_SCHEMA_VERSION = 3


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while results are made. They are hundreds of thousands of small
    objects without reference cycles: the collector would walk all of them again and again as they are made
    (measured: about half the CPU time of scoring a million respondents), and find nothing to collect.

    What was made meanwhile then goes straight to the oldest generation (``gc.freeze`` and ``gc.unfreeze``,
    both documented to move every tracked object: into the permanent generation, and back into the oldest),
    where full collections alone walk it. Left in the youngest, the first allocation after would walk all of it
    at once (0.09 s for the results of a million respondents) and the next generation's collection again, to
    find it all alive. Not when objects are frozen already: unfreezing would let go of someone else's."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


@dataclass
class Metric:
    """What a scorer returns: one metric of one target, an entry per group of the view."""

    kind: str  # "item", "factor" or "headline"
    target: str  # item id, factor id, or a headline name such as "nps"
    name: str  # e.g. "mean", "top_box", "score", "nps"
    values: np.ndarray  # per group (a second axis for distributions)
    base: np.ndarray | None = None  # respondents behind each value
    ci: tuple[np.ndarray, np.ndarray] | None = None
    n_eff: np.ndarray | None = None
    variance: np.ndarray | None = None  # of one respondent's value, for comparisons
    p: np.ndarray | None = None  # a p-value where the metric is a test


def clean(value: Any) -> Any:
    """A number for JSON: floats rounded to 6 significant digits, NaN and infinity as None."""
    if isinstance(value, (np.floating, float)):
        value = float(value)
        if not math.isfinite(value):
            return None
        return float(f"{value:.6g}")
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def clean_array(values: np.ndarray) -> list[Any]:
    """``clean`` for a whole array at once: 6 significant digits, NaN and infinity as None."""
    array = np.asarray(values, dtype=np.float64)
    cleaned, finite = _cleaned(array)
    if array.ndim == 2:  # a distribution per group: None for a group without one
        rows = cleaned.tolist()
        for empty in np.flatnonzero(~finite.any(axis=1)).tolist():
            rows[empty] = None
        return rows
    return cleaned.tolist()


def clean_rows(values: np.ndarray) -> list[list[Any]]:
    """``clean_array`` of each row of a 2-D array (no row becomes None): many arrays rounded in one go."""
    return _cleaned(np.asarray(values, dtype=np.float64))[0].tolist()


def clean_objects(values: np.ndarray) -> np.ndarray:
    """``clean_array`` as an object array of the same shape (no row becomes None): to pick values from."""
    return _cleaned(np.asarray(values, dtype=np.float64))[0]


def _cleaned(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The array rounded to 6 significant digits as Python objects, None where not finite; and where finite."""
    finite = np.isfinite(array)
    with np.errstate(divide="ignore", invalid="ignore"):
        # a subnormal (below 1e-300) would overflow the scale: it rounds as if it were 1e-300, to zero
        magnitude = np.maximum(np.floor(np.log10(np.abs(np.where(finite & (array != 0), array, 1.0)))), -300)
        scale = 10.0 ** (5 - magnitude)
        rounded = np.where(finite, np.round(array * scale) / scale, np.nan)
    cleaned = rounded.astype(object)
    cleaned[~finite] = None
    return cleaned, finite


@dataclass(slots=True)
class Value:
    value: Any
    base: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None

    def __reduce__(self) -> tuple[Any, ...]:  # a plain tuple pickles several times faster than slot state
        return Value, (self.value, self.base, self.ci_low, self.ci_high, self.p)


@dataclass
class Group:
    """The results of one group: the total, a wave, a segment unit, or a unit in a wave."""

    key: dict[str, str]
    label: str
    base: int
    base_eff: float
    flags: list[str] = field(default_factory=list)
    headline: dict[str, dict[str, Value]] = field(default_factory=dict)
    factors: dict[str, dict[str, Value]] = field(default_factory=dict)
    items: dict[str, dict[str, Value]] = field(default_factory=dict)
    comparison: dict[str, Any] = field(default_factory=dict)
    drivers: dict[str, Any] = field(default_factory=dict)  # importance models and priorities (importance.py)
    ranks: dict[str, Any] = field(default_factory=dict)  # a segment unit's place by CSI and by the equal-weight CSI
    model: dict[str, Any] = field(default_factory=dict)  # construct indices (and the unit's own model), structural.py

    @property
    def suppressed(self) -> bool:
        return "suppressed" in self.flags

    def headline_value(self, target: str, name: str) -> Any:
        entry = self.headline.get(target, {}).get(name)
        return entry.value if entry is not None else None

    def factor_score(self, factor_id: str) -> Any:
        entry = self.factors.get(factor_id, {}).get("score")
        return entry.value if entry is not None else None


@dataclass
class SegmentResults:
    id: str
    label: str
    parent: str | None
    units: list[Group]
    trend: list[Group] = field(default_factory=list)


@dataclass
class FactorInfo:
    id: str
    label: str
    kind: str
    parent: str | None
    items: list[str]
    driver: bool


@dataclass
class ItemInfo:
    id: str
    label: str
    factor: str | None
    type: str
    scale: list[int] | None
    expectation: str | None = None


@dataclass(slots=True)
class Comment:
    """One open answer (untrusted text, escaped by every output); see surveyengine.comments."""

    item: str  # the text item answered
    text: str
    wave: str | None
    units: dict[str, str]  # segment id -> unit code; a suppressed unit's code is left out
    score: float | None = None  # the respondent's overall-satisfaction answer, if any
    complained: bool | None = None  # the answer to the complaint question, if asked
    codes: tuple[str, ...] = ()  # codeframe codes assigned (surveyengine.coding); () when none or not coded

    def __reduce__(self) -> tuple[Any, ...]:
        return Comment, (self.item, self.text, self.wave, self.units, self.score, self.complained, self.codes)


@dataclass
class Results:
    study: dict[str, Any]
    account: dict[str, Any]
    respondents: int
    index: dict[str, Any]
    factors: list[FactorInfo]
    items: list[ItemInfo]
    total: Group
    waves: list[Group] = field(default_factory=list)
    segments: list[SegmentResults] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)  # the structural model of the total (structural.py)
    measurement: dict[str, Any] = field(default_factory=dict)  # reliability and validity (measurement.py)
    diagnostics: dict[str, Any] = field(default_factory=dict)  # questionnaire diagnostics (diagnostics.py)
    generated: str = ""
    comments: list[Comment] = field(default_factory=list)
    coding: dict[str, Any] = field(default_factory=dict)  # codeframes, coding quality and code analysis (coding.py)
    banners: list[dict[str, Any]] = field(default_factory=list)  # banner tables of the study config (banners.py)
    schema_version: int = RESULTS_SCHEMA_VERSION

    def factor(self, factor_id: str) -> FactorInfo:
        return next(f for f in self.factors if f.id == factor_id)

    def segment(self, segment_id: str) -> SegmentResults:
        return next(s for s in self.segments if s.id == segment_id)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
