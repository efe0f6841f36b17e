"""Containers of cell statistics that merge by addition (see ``plan.py`` for what each sum is)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from .plan import StatsPlan

CELL_SUMS = ("n", "sum_w", "sum_w2")
ITEM_SUMS = ("count", "wsum", "wsum2", "sum", "sumsq")
OTHER_SUMS = ("freq", "freq_n", "gap_count", "gap_wsum", "gap_wsum2", "gap_sum", "gap_sumsq", "gap_met",
              "split_count", "split_wsum", "split_wsum2", "split_sum", "split_sumsq", "xx", "xm", "x2m", "mm")
CROSS = ("xx", "xm", "x2m", "mm")


def _empty(shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape)


@dataclass(frozen=True, eq=False)
class CellStats:
    """Sums per cell; every array's first axis is the cell. ``xx``..``mm`` hold the factor block."""

    items: tuple[str, ...]
    segment_codes: dict[str, np.ndarray]  # per segment id: the unit code of each cell (-1: merged away)
    wave_codes: np.ndarray  # per cell: wave code (0 when the study has no wave; -1: merged away)
    n: np.ndarray
    sum_w: np.ndarray
    sum_w2: np.ndarray
    count: np.ndarray
    wsum: np.ndarray
    wsum2: np.ndarray
    sum: np.ndarray
    sumsq: np.ndarray
    plan: StatsPlan | None = None
    freq: np.ndarray = field(default_factory=lambda: _empty((0, 0, 0)))
    freq_n: np.ndarray = field(default_factory=lambda: _empty((0, 0, 0)))
    gap_count: np.ndarray = field(default_factory=lambda: _empty((0, 0)))
    gap_wsum: np.ndarray = field(default_factory=lambda: _empty((0, 0)))
    gap_wsum2: np.ndarray = field(default_factory=lambda: _empty((0, 0)))
    gap_sum: np.ndarray = field(default_factory=lambda: _empty((0, 0)))
    gap_sumsq: np.ndarray = field(default_factory=lambda: _empty((0, 0)))
    gap_met: np.ndarray = field(default_factory=lambda: _empty((0, 0)))
    split_count: np.ndarray = field(default_factory=lambda: _empty((0, 2, 0)))
    split_wsum: np.ndarray = field(default_factory=lambda: _empty((0, 2, 0)))
    split_wsum2: np.ndarray = field(default_factory=lambda: _empty((0, 2, 0)))
    split_sum: np.ndarray = field(default_factory=lambda: _empty((0, 2, 0)))
    split_sumsq: np.ndarray = field(default_factory=lambda: _empty((0, 2, 0)))
    xx: np.ndarray = field(default_factory=lambda: _empty((0, 0, 0)))
    xm: np.ndarray = field(default_factory=lambda: _empty((0, 0, 0)))
    x2m: np.ndarray = field(default_factory=lambda: _empty((0, 0, 0)))
    mm: np.ndarray = field(default_factory=lambda: _empty((0, 0, 0)))

    @property
    def cells(self) -> int:
        return int(self.n.shape[0])

    @property
    def variables(self) -> tuple[str, ...]:
        return self.plan.variables if self.plan is not None else self.items

    def _sums(self) -> tuple[str, ...]:
        return CELL_SUMS + ITEM_SUMS + tuple(name for name in OTHER_SUMS if getattr(self, name).shape[0] == self.cells)

    def select(self, mask: np.ndarray) -> CellStats:
        """Only the cells where ``mask`` is true (still unmerged)."""
        return replace(
            self,
            segment_codes={k: v[mask] for k, v in self.segment_codes.items()},
            wave_codes=self.wave_codes[mask],
            **{name: getattr(self, name)[mask] for name in self._sums()},
        )

    def group(self, keys: np.ndarray, groups: int) -> CellStats:
        """Merge cells by ``keys`` (an integer per cell, 0..groups-1) into ``groups`` cells.

        A merged cell keeps a segment or wave code only where all its cells agree; else -1.
        """
        keys = np.asarray(keys, dtype=np.int64)
        if groups == self.cells and np.array_equal(keys, np.arange(groups)):
            return self  # every cell is its own group: nothing to add
        grouping = _Grouping(keys, groups)
        sums = {name: grouping.sum(getattr(self, name)) for name in self._sums()}
        return replace(
            self,
            segment_codes={k: _common(v, keys, groups) for k, v in self.segment_codes.items()},
            wave_codes=_common(self.wave_codes, keys, groups),
            **sums,
        )

    def total(self) -> CellStats:
        """All cells merged into one."""
        return self.group(np.zeros(self.cells, dtype=np.int64), 1)

    def item_index(self, item_id: str) -> int:
        return self.variables.index(item_id)

    def mean(self) -> np.ndarray:
        """Weighted mean per cell and variable; NaN where nobody answered."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.wsum > 0, self.sum / np.where(self.wsum > 0, self.wsum, 1), np.nan)

    def variance(self) -> np.ndarray:
        """Unbiased variance per cell and variable (frequency weights: Σw − 1 in the denominator when unweighted,
        and the effective base scaling when weighted)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.mean()
            population = np.maximum(self.sumsq / np.where(self.wsum > 0, self.wsum, 1) - mean**2, 0.0)
            effective = self.effective_base()
            return np.where(effective > 1, population * effective / np.maximum(effective - 1, 1e-12), np.nan)

    def effective_base(self) -> np.ndarray:
        """Kish's effective base per cell and variable: (Σw)² / Σw²."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.wsum2 > 0, self.wsum**2 / np.where(self.wsum2 > 0, self.wsum2, 1), 0.0)

    def __eq__(self, other: object) -> bool:  # arrays compare elementwise; cells compare exactly
        if not isinstance(other, CellStats):
            return NotImplemented
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "segment_codes":
                if mine.keys() != theirs.keys() or not all(np.array_equal(mine[k], theirs[k]) for k in mine):
                    return False
            elif isinstance(mine, np.ndarray):
                if not np.array_equal(mine, theirs):
                    return False
            elif mine != theirs:
                return False
        return True


@dataclass(frozen=True, eq=False)
class UnitCross:
    """The item block's pairwise cross-products per unit (pooled over waves)."""

    variables: tuple[int, ...]  # variable indices (plan.item_block)
    segment_codes: dict[str, np.ndarray]  # per segment id: the code of each unit
    xx: np.ndarray
    xm: np.ndarray
    x2m: np.ndarray
    mm: np.ndarray

    @property
    def units(self) -> int:
        return int(self.xx.shape[0])

    def group(self, keys: np.ndarray, groups: int) -> UnitCross:
        keys = np.asarray(keys, dtype=np.int64)
        grouping = _Grouping(keys, groups)
        return replace(self, segment_codes={k: _common(v, keys, groups) for k, v in self.segment_codes.items()},
                       **{name: grouping.sum(getattr(self, name)) for name in CROSS})

    def total(self) -> UnitCross:
        return self.group(np.zeros(self.units, dtype=np.int64), 1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UnitCross):
            return NotImplemented
        return self.variables == other.variables and all(
            np.array_equal(getattr(self, name), getattr(other, name)) for name in CROSS) and all(
            np.array_equal(self.segment_codes[k], other.segment_codes[k]) for k in self.segment_codes)


def concatenate(parts: list[CellStats]) -> CellStats:
    """The cells of every part, one after the other (unmerged); the parts share items and segments."""
    first = parts[0]
    for part in parts[1:]:
        if part.variables != first.variables or part.segment_codes.keys() != first.segment_codes.keys():
            raise ValueError("cell statistics of different questionnaires cannot be combined")
    names = CELL_SUMS + ITEM_SUMS + OTHER_SUMS
    return replace(
        first,
        segment_codes={k: np.concatenate([p.segment_codes[k] for p in parts]) for k in first.segment_codes},
        wave_codes=np.concatenate([p.wave_codes for p in parts]),
        **{name: np.concatenate([getattr(p, name) for p in parts]) for name in names},
    )


def merge(parts: list[CellStats]) -> CellStats:
    """Statistics of separate passes (files, batches, engines) as one: cells with the same codes are added.

    Segment and wave codes must mean the same in every part (the same label tables).
    """
    both = concatenate(parts)
    keys = np.stack([both.segment_codes[k] for k in both.segment_codes] + [both.wave_codes], axis=1)
    combos, inverse = np.unique(keys, axis=0, return_inverse=True)
    return both.group(inverse.reshape(-1), combos.shape[0])


class _Grouping:
    """Rows summed by an integer key per row, as one sparse indicator matrix (groups x rows) that every array of
    a view is multiplied by: a view has dozens of arrays, and the product is several times faster than
    ``np.add.reduceat`` down the rows (which also needs the rows sorted by key)."""

    def __init__(self, keys: np.ndarray, groups: int) -> None:
        from scipy import sparse

        self.keys, self.groups = keys, groups
        self.indicator = sparse.csr_array((np.ones(keys.size), (keys, np.arange(keys.size))),
                                          shape=(groups, keys.size))

    def sum(self, values: np.ndarray) -> np.ndarray:
        if values.ndim == 1:
            return np.bincount(self.keys, weights=values, minlength=self.groups)[:self.groups] if self.keys.size \
                else np.zeros(self.groups)
        flat = values.reshape(values.shape[0], int(np.prod(values.shape[1:], dtype=np.int64)))
        out = self.indicator @ flat if flat.shape[1] else np.zeros((self.groups, 0))
        return np.asarray(out, dtype=np.float64).reshape((self.groups,) + values.shape[1:])


def _common(codes: np.ndarray, keys: np.ndarray, groups: int) -> np.ndarray:
    """Per group: the code its members share, or -1 when they differ or it has none."""
    out = np.full(groups, -1, dtype=np.int64)
    if not keys.size:
        return out.astype(np.int32)
    low = np.full(groups, np.iinfo(np.int64).max)
    high = np.full(groups, np.iinfo(np.int64).min)
    np.minimum.at(low, keys, codes)
    np.maximum.at(high, keys, codes)
    same = low == high
    out[same] = low[same]
    return out.astype(np.int32)


def pairwise_cov(xx: np.ndarray, xm: np.ndarray, x2m: np.ndarray, mm: np.ndarray) -> np.ndarray:
    """Pairwise-complete covariances from a block's sums; any leading axes (groups) are kept."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_i = xm / mm  # mean of i over the rows where j was answered too
        return xx / mm - mean_i * np.swapaxes(mean_i, -1, -2)


def pairwise_corr(xx: np.ndarray, xm: np.ndarray, x2m: np.ndarray, mm: np.ndarray) -> np.ndarray:
    """Pairwise-complete correlations from a block's sums; any leading axes (groups) are kept.

    Each correlation uses the respondents who answered both of its variables: their
    covariance over the product of their standard deviations on those same rows.
    A diagonal entry is 1 where the variable was answered, NaN where not.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_i = xm / mm
        var_i = x2m / mm - mean_i**2
        corr = pairwise_cov(xx, xm, x2m, mm) / np.sqrt(var_i * np.swapaxes(var_i, -1, -2))
    size = corr.shape[-1]
    answered = np.diagonal(mm, axis1=-2, axis2=-1) > 0
    corr[..., np.arange(size), np.arange(size)] = np.where(answered, 1.0, np.nan)
    return corr


def pairwise(xx: np.ndarray, xm: np.ndarray, x2m: np.ndarray, mm: np.ndarray) -> dict[str, Any]:
    """Pairwise-complete means, variances, covariances and correlations from one block's sums."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_i = xm / mm
        var_i = x2m / mm - mean_i**2
    return {"n": mm, "cov": pairwise_cov(xx, xm, x2m, mm), "corr": pairwise_corr(xx, xm, x2m, mm),
            "mean": np.diag(mean_i), "var": np.diag(var_i)}
