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
    try:  # every smallest eigenvalue above the floor: a Cholesky factorisation of R − floor·I says so, cheaply
        np.linalg.cholesky(corr - floor * np.eye(corr.shape[-1]))
        return corr, np.zeros(corr.shape[:-2], dtype=bool)
    except np.linalg.LinAlgError:
        pass
    broken = np.linalg.eigvalsh(corr).min(axis=-1) < floor  # eigenvalues alone: half the cost of eigh
    if not broken.any():
        return corr, broken
    eigenvalues, vectors = np.linalg.eigh(corr[broken])
    clipped = np.maximum(eigenvalues, floor)
    repaired = (vectors * clipped[..., None, :]) @ np.swapaxes(vectors, -1, -2)
    scale = 1.0 / np.sqrt(np.diagonal(repaired, axis1=-2, axis2=-1))
    out = corr.copy()
    out[broken] = repaired * scale[..., :, None] * scale[..., None, :]
    return out, broken


# Closed forms (2 and 3 drivers) only where the smallest eigenvalue is at least this share of the largest: their
# rounding error grows as that share shrinks (about 1e-10 relative at 1e-6); below it, the eigen-decomposition.
CLOSED_FORM_MIN_RATIO = 1e-5


def root_and_solve(rxx: np.ndarray, rxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Λ = R^½`` of each symmetric positive semi-definite matrix of the stack and ``Λ⁺ r``.

    Collinear drivers (an eigenvalue below ``EIGEN_FLOOR`` of the largest) are left out of both: ``Λ⁺`` is the
    pseudo-inverse on the span of the others. Stacks of 2 x 2 and 3 x 3 matrices (the driver factors of an
    index, bootstrapped for every unit) take closed forms, many times faster than a batched ``eigh`` of tiny
    matrices; they agree with it to about 1e-11 relative, and ill-conditioned matrices go through ``eigh``.
    """
    rxx = np.asarray(rxx, dtype=np.float64)
    rxy = np.asarray(rxy, dtype=np.float64)
    k = rxx.shape[-1]
    if k not in (2, 3) or rxx.size == 0:
        return _root_and_solve_eigh(rxx, rxy)
    shape = rxx.shape[:-2]
    flat, targets = rxx.reshape(-1, k, k), rxy.reshape(-1, k)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        root, solved, ratio = (_root_and_solve_2 if k == 2 else _root_and_solve_3)(flat, targets)
    general = ~(ratio >= CLOSED_FORM_MIN_RATIO)  # NaN too
    if general.any():
        root[general], solved[general] = _root_and_solve_eigh(flat[general], targets[general])
    return root.reshape(rxx.shape), solved.reshape(shape + (k,))


def _root_and_solve_eigh(rxx: np.ndarray, rxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    eigenvalues, vectors = np.linalg.eigh(rxx)
    floor = EIGEN_FLOOR * eigenvalues[..., -1:]
    root = np.sqrt(np.where(eigenvalues > floor, eigenvalues, 0.0))
    inverse_root = np.where(eigenvalues > floor, 1.0 / np.where(root > 0, root, 1.0), 0.0)
    transposed = np.swapaxes(vectors, -1, -2)
    lam = (vectors * root[..., None, :]) @ transposed
    solved = ((vectors * inverse_root[..., None, :]) @ transposed @ rxy[..., None])[..., 0]
    return lam, solved


def _root_and_solve_2(rxx: np.ndarray, rxy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2 x 2: ``R^½ = (R + s I) / t`` with ``s = √det R``, ``t = √(tr R + 2s)``; ``R^-½ = (adj R + s I) / (s t)``.
    The lower triangle is read, as ``eigh`` reads it."""
    a, b, d = rxx[:, 0, 0], rxx[:, 1, 1], rxx[:, 1, 0]
    s = np.sqrt(a * b - d * d)
    t = np.sqrt(a + b + 2 * s)
    root = np.empty_like(rxx)
    root[:, 0, 0], root[:, 1, 1] = (a + s) / t, (b + s) / t
    root[:, 0, 1] = root[:, 1, 0] = d / t
    st = s * t
    r0, r1 = rxy[:, 0], rxy[:, 1]
    solved = np.stack([((b + s) * r0 - d * r1) / st, ((a + s) * r1 - d * r0) / st], axis=1)
    spread = np.sqrt((a - b) ** 2 + 4 * d * d)
    return root, solved, (a + b - spread) / (a + b + spread)


def _root_and_solve_3(rxx: np.ndarray, rxy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3 x 3: the eigenvalues by the trigonometric solution of the characteristic cubic, then
    ``U = R^½ = (−R² + (I² − II) R + I·III·E) / (I·II − III)`` and ``U⁻¹ = (R − I·U + II·E) / III``, where
    I, II, III are the sum, the sum of pairwise products and the product of the eigenvalues' square roots
    (Cayley-Hamilton for U; Franca 1989, Computers & Mathematics with Applications 18:5, 459-466)."""
    entries = rxx.reshape(-1, 9).T.copy()  # one contiguous row per entry: every step below runs on contiguous rows
    a, b, c, d, e, f = entries[[0, 4, 8, 3, 6, 7]]
    mean = (a + b + c) / 3
    da, db, dc = a - mean, b - mean, c - mean
    spread = np.sqrt((da * da + db * db + dc * dc + 2 * (d * d + e * e + f * f)) / 6)
    unit = np.where(spread > 0, spread, 1.0)
    half_det = (da * (db * dc - f * f) - d * (d * dc - f * e) + e * (d * f - db * e)) / (2 * unit**3)
    angle = np.arccos(np.clip(half_det, -1.0, 1.0)) / 3
    largest = mean + 2 * spread * np.cos(angle)
    smallest = mean + 2 * spread * np.cos(angle + 2 * np.pi / 3)
    middle = 3 * mean - largest - smallest
    s1, s2, s3 = np.sqrt(largest), np.sqrt(middle), np.sqrt(smallest)
    first, second, third = s1 + s2 + s3, s1 * s2 + s2 * s3 + s1 * s3, s1 * s2 * s3
    # R² from the lower triangle
    sq_aa, sq_bb, sq_cc = a * a + d * d + e * e, d * d + b * b + f * f, e * e + f * f + c * c
    sq_ba, sq_ca, sq_cb = d * a + b * d + f * e, e * a + f * d + c * e, e * d + f * b + c * f
    linear, constant, denominator = first * first - second, first * third, first * second - third
    u_aa, u_bb, u_cc = ((linear * x - sq + constant) / denominator for x, sq in ((a, sq_aa), (b, sq_bb), (c, sq_cc)))
    u_ba, u_ca, u_cb = ((linear * x - sq) / denominator for x, sq in ((d, sq_ba), (e, sq_ca), (f, sq_cb)))
    v_aa, v_bb, v_cc = ((x - first * u + second) / third for x, u in ((a, u_aa), (b, u_bb), (c, u_cc)))
    v_ba, v_ca, v_cb = ((x - first * u) / third for x, u in ((d, u_ba), (e, u_ca), (f, u_cb)))
    r0, r1, r2 = rxy.T.copy()
    root = np.stack([u_aa, u_ba, u_ca, u_ba, u_bb, u_cb, u_ca, u_cb, u_cc]).reshape(3, 3, -1)
    solved = np.stack([v_aa * r0 + v_ba * r1 + v_ca * r2, v_ba * r0 + v_bb * r1 + v_cb * r2,
                       v_ca * r0 + v_cb * r1 + v_cc * r2])
    return np.moveaxis(root, -1, 0), solved.T, smallest / largest


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
