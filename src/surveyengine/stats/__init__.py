"""Cell statistics: one pass over the responses, then roll-ups by addition.

A cell is one combination of segment units (every segment's code) in one
wave. For each cell the pass stores sums that merge by addition, so a region,
all dealers, the last three months or the whole study is a sum of cells and
never a new pass over rows:

- ``n``: respondents; ``sum_w`` and ``sum_w2``: sums of weights and squared
  weights (1 when unweighted) for the effective base;
- per numeric item: ``count`` (answered), ``wsum`` (sum of w over answered),
  ``wsum2`` (sum of w²), ``sum`` (sum of w·x) and ``sumsq`` (sum of w·x²).

Missing answers (NaN) add nothing to an item's sums.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..data import Responses

CELL_SUMS = ("n", "sum_w", "sum_w2")
ITEM_SUMS = ("count", "wsum", "wsum2", "sum", "sumsq")


@dataclass(frozen=True)
class CellStats:
    items: tuple[str, ...]
    segment_codes: dict[str, np.ndarray]  # per segment id: the unit code of each cell
    wave_codes: np.ndarray  # per cell: wave code (0 when the study has no wave)
    n: np.ndarray
    sum_w: np.ndarray
    sum_w2: np.ndarray
    count: np.ndarray
    wsum: np.ndarray
    wsum2: np.ndarray
    sum: np.ndarray
    sumsq: np.ndarray

    @property
    def cells(self) -> int:
        return int(self.n.shape[0])

    def select(self, mask: np.ndarray) -> CellStats:
        """Only the cells where ``mask`` is true (still unmerged)."""
        return replace(
            self,
            segment_codes={k: v[mask] for k, v in self.segment_codes.items()},
            wave_codes=self.wave_codes[mask],
            **{name: getattr(self, name)[mask] for name in CELL_SUMS + ITEM_SUMS},
        )

    def group(self, keys: np.ndarray, groups: int) -> CellStats:
        """Merge cells by ``keys`` (an integer per cell, 0..groups-1) into ``groups`` cells."""
        sums = {}
        for name in CELL_SUMS:
            sums[name] = np.bincount(keys, weights=getattr(self, name), minlength=groups)
        for name in ITEM_SUMS:
            values = getattr(self, name)
            out = np.zeros((groups, values.shape[1]))
            np.add.at(out, keys, values)
            sums[name] = out
        first = np.full(groups, -1)
        first[keys[::-1]] = np.arange(keys.size)[::-1]
        safe = np.maximum(first, 0)

        def code(codes: np.ndarray) -> np.ndarray:  # the code of each group's first cell; -1 for an empty group
            return np.where(first >= 0, codes[safe], -1) if codes.size else np.full(groups, -1, dtype=codes.dtype)

        return replace(
            self,
            segment_codes={k: code(v) for k, v in self.segment_codes.items()},
            wave_codes=code(self.wave_codes),
            **sums,
        )

    def total(self) -> CellStats:
        """All cells merged into one."""
        return self.group(np.zeros(self.cells, dtype=np.int64), 1)

    def item_index(self, item_id: str) -> int:
        return self.items.index(item_id)

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.wsum > 0, self.sum / np.where(self.wsum > 0, self.wsum, 1), np.nan)

    def effective_base(self) -> np.ndarray:
        """Kish's effective base per cell and item: (Σw)² / Σw²."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.wsum2 > 0, self.wsum**2 / np.where(self.wsum2 > 0, self.wsum2, 1), 0.0)

    def __eq__(self, other: object) -> bool:  # arrays compare elementwise; cells compare exactly
        if not isinstance(other, CellStats):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name))
            if isinstance(getattr(self, f.name), np.ndarray) else getattr(self, f.name) == getattr(other, f.name)
            for f in fields(self) if f.name != "segment_codes"
        ) and self.segment_codes.keys() == other.segment_codes.keys() and all(
            np.array_equal(self.segment_codes[k], other.segment_codes[k]) for k in self.segment_codes)


def compute(responses: Responses) -> CellStats:
    """The numpy pass: one grouping of rows into cells, then sums per cell."""
    n_rows = responses.n
    keys = [responses.segments[s] for s in responses.segments]
    wave = responses.wave if responses.wave is not None else np.zeros(n_rows, dtype=np.int32)
    stacked = np.stack(keys + [wave], axis=1) if n_rows else np.zeros((0, len(keys) + 1), dtype=np.int32)
    combos, cell = np.unique(stacked, axis=0, return_inverse=True)
    cell = cell.reshape(-1)
    cells = combos.shape[0]
    weights = responses.weights if responses.weights is not None else np.ones(n_rows)
    answers = responses.answers
    answered = ~np.isnan(answers)
    x = np.where(answered, answers, 0.0)
    w_answered = answered * weights[:, None]
    k = answers.shape[1]
    item_sums = {name: np.zeros((cells, k)) for name in ITEM_SUMS}
    for j in range(k):
        item_sums["count"][:, j] = np.bincount(cell, weights=answered[:, j], minlength=cells)
        item_sums["wsum"][:, j] = np.bincount(cell, weights=w_answered[:, j], minlength=cells)
        item_sums["wsum2"][:, j] = np.bincount(cell, weights=w_answered[:, j] * weights, minlength=cells)
        wx = w_answered[:, j] * x[:, j]
        item_sums["sum"][:, j] = np.bincount(cell, weights=wx, minlength=cells)
        item_sums["sumsq"][:, j] = np.bincount(cell, weights=wx * x[:, j], minlength=cells)
    return CellStats(
        items=responses.items,
        segment_codes={s: combos[:, i].astype(np.int32) for i, s in enumerate(responses.segments)},
        wave_codes=combos[:, -1].astype(np.int32),
        n=np.bincount(cell, minlength=cells).astype(float),
        sum_w=np.bincount(cell, weights=weights, minlength=cells),
        sum_w2=np.bincount(cell, weights=weights * weights, minlength=cells),
        **item_sums,
    )
