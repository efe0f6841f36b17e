"""Linear regression from correlation matrices, batched: what every weighting plugin builds on.

A model is a correlation matrix ``corr`` over some variables, the index of the
outcome (``target``) and the indices of the drivers. Every function here takes
a *stack* of matrices, shape ``(..., k, k)``, and keeps the leading axes, so
one call fits a model for every segment unit, or every bootstrap draw, at once.
No function sees response rows: the matrices come from merged cross-products.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# An eigenvalue below this (relative to the largest) is treated as zero: the drivers are collinear.
EIGEN_FLOOR = 1e-10


def blocks(corr: np.ndarray, target: int, drivers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """``R`` (drivers x drivers) and ``r`` (drivers with the outcome) of every matrix in the stack."""
    corr = np.asarray(corr, dtype=np.float64)
    index = np.asarray(list(drivers), dtype=np.int64)
    return corr[..., index[:, None], index[None, :]], corr[..., index, target]


def model_matrix(corr: np.ndarray, target: int, drivers: Sequence[int]) -> np.ndarray:
    """The correlation matrix of the drivers followed by the outcome (the last row and column)."""
    order = np.asarray([*drivers, target], dtype=np.int64)
    return np.asarray(corr, dtype=np.float64)[..., order[:, None], order[None, :]]


def nearest_correlation(corr: np.ndarray, floor: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Each matrix made positive definite (eigenvalues clipped to ``floor``, unit diagonal restored).

    Pairwise-complete correlations need not form a positive semi-definite matrix,
    and a regression on such a matrix can give R² above 1. Returns the repaired
    stack and, per matrix, whether it had to change.
    """
    corr = np.asarray(corr, dtype=np.float64)
    eigenvalues, vectors = np.linalg.eigh(corr)
    broken = eigenvalues.min(axis=-1) < floor
    if not broken.any():
        return corr, broken
    clipped = np.maximum(eigenvalues, floor)
    repaired = (vectors * clipped[..., None, :]) @ np.swapaxes(vectors, -1, -2)
    scale = 1.0 / np.sqrt(np.diagonal(repaired, axis1=-2, axis2=-1))
    repaired = repaired * scale[..., :, None] * scale[..., None, :]
    return np.where(broken[..., None, None], repaired, corr), broken


def betas(rxx: np.ndarray, rxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardized regression coefficients ``b = R⁻¹ r`` and the model's ``R² = r'b``."""
    coef = np.linalg.solve(rxx, rxy[..., None])[..., 0]
    return coef, np.einsum("...i,...i->...", coef, rxy)


def variance_inflation(rxx: np.ndarray) -> np.ndarray:
    """VIF of each driver: the diagonal of ``R⁻¹`` (1 / (1 − R² of the driver on the others))."""
    return np.diagonal(np.linalg.inv(rxx), axis1=-2, axis2=-1).copy()


def to_weights(importance: np.ndarray) -> np.ndarray:
    """Importance normalised to weights that sum to 1; a negative importance counts as none.

    Where no driver has positive importance (no model), every driver weighs the same.
    """
    positive = np.clip(np.nan_to_num(np.asarray(importance, dtype=np.float64), nan=0.0), 0.0, None)
    total = positive.sum(axis=-1, keepdims=True)
    drivers = positive.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, positive / np.where(total > 0, total, 1.0), 1.0 / max(drivers, 1))
