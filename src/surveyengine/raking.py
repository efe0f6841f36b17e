"""Rim weighting (raking) by iterative proportional fitting on the aggregated table.

Raking multiplies each respondent's weight by one factor per raking variable,
and each factor depends only on the respondent's category, so raking the
joint table of (sums of base weights per combination of categories) and then
giving every respondent the factor of their combination is exactly the same as
raking the rows — and needs only the aggregated table, which a database can
compute (see issue "beyond one machine"). The table has one cell per
combination of categories, a few hundred at most.

Reported: iterations, convergence, the largest remaining margin error, Kish's
weighting efficiency ``(Σw)² / (n Σw²)`` and the effective sample size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import DataError


@dataclass(frozen=True)
class RakeVariable:
    name: str
    codes: np.ndarray  # per respondent, index into labels
    labels: list[str]
    shares: np.ndarray  # target share per label, sums to 1


@dataclass
class RakeResult:
    weights: np.ndarray
    iterations: int
    converged: bool
    max_error: float
    efficiency: float
    effective_n: float

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"iterations": self.iterations, "converged": self.converged, "max_error": self.max_error,
                "efficiency": self.efficiency, "effective_n": self.effective_n}


def within_segment(targets: Sequence[Any], shown: str | None) -> str | None:
    """The one segment the raking targets (``weights.rake``) rake within, None for overall; a DataError naming
    ``shown`` (the questionnaire) when they name several."""
    within = {t.within for t in targets}
    if len(within) > 1:
        raise DataError("raking targets must all name the same 'within' segment, or none: "
                        + ", ".join(f"{t.variable} ({'within ' + t.within if t.within else 'overall'})"
                                    for t in targets), shown)
    return next(iter(within))


def kish(weights: np.ndarray) -> tuple[float, float]:
    """(efficiency 0-1, effective sample size) of a weight vector."""
    total, squares = float(weights.sum()), float((weights**2).sum())
    if squares == 0:
        return 0.0, 0.0
    effective = total**2 / squares
    return effective / weights.size, effective


def rake_table(table: np.ndarray, targets: Sequence[np.ndarray], *, max_iterations: int = 100,
               tolerance: float = 1e-6, cap: float | None = None,
               counts: np.ndarray | None = None) -> tuple[np.ndarray, int, bool, float]:
    """Rake a joint table of weight sums to marginal target shares; returns (table, iterations, converged, error).

    ``cap`` bounds each cell's mean weight at ``cap`` times the overall mean weight
    (``counts`` = respondents per cell is needed for it). A capped table may not
    meet every margin; the error then says by how much.
    """
    fitted = table.astype(float).copy()
    total = fitted.sum()
    axes = range(fitted.ndim)
    error = np.inf
    for iteration in range(1, max_iterations + 1):
        for axis in axes:
            other = tuple(a for a in axes if a != axis)
            margin = fitted.sum(axis=other)
            factor = np.divide(targets[axis] * total, margin, out=np.zeros_like(margin), where=margin > 0)
            shape = [1] * fitted.ndim
            shape[axis] = -1
            fitted *= factor.reshape(shape)
        if cap is not None and counts is not None:
            fitted = _cap(fitted, cap * total / counts.sum() * counts, total)
        error = max(float(np.abs(fitted.sum(axis=tuple(a for a in axes if a != axis)) / total - targets[axis]).max())
                    for axis in axes)
        if error < tolerance:
            return fitted, iteration, True, error
    return fitted, max_iterations, False, error


def _cap(fitted: np.ndarray, limit: np.ndarray, total: float) -> np.ndarray:
    """The table with no cell above its limit and the same total: capped cells at their limit, the rest scaled up.

    Clipping and then rescaling once would push the clipped cells over their
    limit again; instead the set of capped cells grows until scaling the
    others up no longer pushes any of them over (at most one pass per cell).
    """
    capped = fitted > limit
    if not capped.any():
        return fitted
    scale = 1.0
    while True:
        free = fitted[~capped].sum()
        if free <= 0:
            break
        scale = (total - limit[capped].sum()) / free
        over = ~capped & (fitted * scale > limit)
        if not over.any():
            break
        capped |= over
    return np.where(capped, limit, fitted * scale)


def rake(variables: Sequence[RakeVariable], base: np.ndarray | None = None, *, max_iterations: int = 100,
         tolerance: float = 1e-6, cap: float | None = None, groups: np.ndarray | None = None,
         where: str | None = None, group_labels: Sequence[str] | None = None, counts: np.ndarray | None = None,
         squares: np.ndarray | None = None) -> RakeResult:
    """Weights that make the sample's margins match the targets (separately within each group, if given).

    ``groups`` are codes into ``group_labels``, the units of the segment ``where``
    (both only name a unit in messages).

    Each row is a respondent, or, with ``counts``, a joint cell of the raking variables (and the group)
    that many respondents fall into: ``base`` is then the sum of their base weights and ``squares`` the sum
    of their squares, and the result's weights are the cells' sums of the raked weights (divide by
    ``base`` for the factor every respondent of the cell gets). An engine rakes this way on a ``GROUP BY``.
    """
    rows_given = variables[0].codes.size if variables else 0
    base = np.ones(rows_given) if base is None else base.astype(float)
    multiplicity = np.ones(rows_given) if counts is None else counts.astype(float)
    n = float(multiplicity.sum())
    weights = base.copy()
    iterations, converged, max_error = 0, True, 0.0
    group_ids = np.zeros(rows_given, dtype=np.int64) if groups is None else groups
    for group in np.unique(group_ids):
        rows = np.flatnonzero(group_ids == group)
        shape = tuple(len(v.labels) for v in variables)
        cell = np.ravel_multi_index(tuple(v.codes[rows] for v in variables), shape)
        size = int(np.prod(shape))
        table = np.bincount(cell, weights=base[rows], minlength=size).reshape(shape)
        respondents = np.bincount(cell, weights=multiplicity[rows], minlength=size).reshape(shape)
        for axis, variable in enumerate(variables):
            other = tuple(a for a in range(len(shape)) if a != axis)
            present = respondents.sum(axis=other)
            for index, label in enumerate(variable.labels):
                if variable.shares[index] > 0 and present[index] == 0:
                    unit = group_labels[group] if group_labels is not None else group
                    scope = f" in {where} {unit!r}" if groups is not None else ""
                    raise DataError(f"cannot rake: target {variable.name} = {label!r} "
                                    f"({variable.shares[index]:.1%}) has no respondents{scope}")
        fitted, used, ok, error = rake_table(table, [v.shares for v in variables], max_iterations=max_iterations,
                                             tolerance=tolerance, cap=cap, counts=respondents)
        factor = np.divide(fitted, table, out=np.zeros_like(fitted), where=table > 0).reshape(-1)
        weights[rows] = base[rows] * factor[cell]
        iterations = max(iterations, used)
        converged = converged and ok
        max_error = max(max_error, error)
    if n:
        weights *= n / weights.sum()  # mean weight 1: weighted bases read as respondents
    if counts is None:
        efficiency, effective = kish(weights)
    else:  # per respondent: base weight times the cell's factor, so the squares scale by the factor squared
        factor = np.divide(weights, base, out=np.zeros_like(weights), where=base > 0)
        total = float(weights.sum())
        sum_squares = float((factor**2 * (base**2 if squares is None else squares)).sum())
        effective = total**2 / sum_squares if sum_squares else 0.0
        efficiency = effective / n if n else 0.0
    return RakeResult(weights, iterations, converged, max_error, efficiency, effective)
