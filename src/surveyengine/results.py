"""The results of a build as one typed tree; every page and export reads it, none recomputes.

``Results.as_dict()`` is what ``results.json`` holds (``schema_version`` says
which layout); numbers below the privacy minimum are None with a flag.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

RESULTS_SCHEMA_VERSION = 1


@dataclass
class ItemResult:
    id: str
    label: str
    factor: str | None
    type: str
    base: float
    metrics: dict[str, float | None] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


@dataclass
class FactorResult:
    id: str
    label: str
    kind: str
    parent: str | None
    items: list[str]
    base: float
    score: float | None
    weighting: str
    flags: list[str] = field(default_factory=list)


@dataclass
class Results:
    study: dict[str, Any]
    account: dict[str, Any]
    respondents: int
    factors: list[FactorResult]
    items: list[ItemResult]
    index: dict[str, Any]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    generated: str = ""
    schema_version: int = RESULTS_SCHEMA_VERSION

    def factor(self, factor_id: str) -> FactorResult:
        return next(f for f in self.factors if f.id == factor_id)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
