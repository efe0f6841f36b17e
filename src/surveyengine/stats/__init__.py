"""Cell statistics: one pass over the responses, then roll-ups by addition.

``plan.py`` defines what is computed (the same definition serves a SQL
backend), ``cells.py`` holds the sums and merges them, ``numpy_backend.py`` is
the in-memory pass. Nothing after this pass reads response rows.
"""

from .cells import (
    CELL_SUMS,
    CROSS,
    ITEM_SUMS,
    CellStats,
    UnitCross,
    concatenate,
    merge,
    pairwise,
    pairwise_corr,
    pairwise_cov,
)
from .numpy_backend import StudyStats, banner_cells, compute, compute_all, factor_scores, with_answer_slots
from .plan import FACTOR_PREFIX, FactorScore, StatsPlan, answer_slots, banner_plan, plan_for

__all__ = [
    "CELL_SUMS", "CROSS", "FACTOR_PREFIX", "ITEM_SUMS", "CellStats", "FactorScore", "StatsPlan", "StudyStats",
    "UnitCross", "compute", "compute_all", "concatenate", "merge", "factor_scores", "pairwise", "pairwise_corr",
    "pairwise_cov", "plan_for", "answer_slots", "banner_cells", "banner_plan", "with_answer_slots",
]
