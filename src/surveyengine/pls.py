"""PLS path modelling (Wold 1982; Lohmöller 1989) from correlation matrices, batched.

The estimator needs only the correlation matrix of the indicators: every latent
score is a weighted sum of standardized indicators, so its variance, its
correlation with an indicator and its correlation with another latent score are
quadratic forms of that matrix. That is what lets the model run on merged
statistics (the item block's pairwise cross-products, weighted when respondents
are: weighted PLS), per segment unit, with no rows.

With ``R`` the indicators' correlation matrix, block ``j`` its indicators and
``w_j`` their outer weights (scaled so that the latent score ``y_j = X_j w_j``
has unit variance):

1. start with ``w_j = 1`` (scaled);
2. inner estimation: ``C = W'RW`` (latent correlations); inner weights ``e_ij``
   between adjacent constructs — *path* scheme: for a predecessor i of j, the
   coefficient of i in the regression of j on all its predecessors; for a
   successor, their correlation; *centroid*: the sign of the correlation;
   *factorial*: the correlation;
3. outer estimation, mode A: ``w_j ∝ Σ_i e_ij R_{j,i} w_i`` (the covariances of
   j's indicators with its inner proxy), rescaled to unit variance;
4. repeat until no weight moves by more than ``tolerance``.

Then loadings ``R_{j,j} w_j``, path coefficients by least squares of each
endogenous construct on its predecessors (from ``C``), their R², and total
effects ``(I − B)⁻¹ − I``. Every array keeps any leading axes of ``corr``, so
groups and bootstrap draws iterate together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SCHEMES = ("path", "centroid", "factorial")


@dataclass
class PLSFit:
    weights: list[np.ndarray]  # per construct: (..., block size) standardized outer weights
    loadings: list[np.ndarray]  # per construct: (..., block size)
    coefficients: np.ndarray  # (..., c, c): i -> j at [i, j]
    r2: np.ndarray  # (..., c): NaN for exogenous constructs
    total_effects: np.ndarray  # (..., c, c)
    latent_correlations: np.ndarray  # (..., c, c)
    iterations: int
    converged: np.ndarray  # (...,) bool

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))


def _scaled(weights: np.ndarray, block: np.ndarray) -> np.ndarray:
    """Weights rescaled so that the latent score has unit variance: w / sqrt(w' R w)."""
    variance = np.einsum("...i,...ij,...j->...", weights, block, weights)
    return weights / np.sqrt(np.maximum(variance, 1e-300))[..., None]


def fit_pls(corr: np.ndarray, blocks: Sequence[Sequence[int]], paths: np.ndarray, scheme: str = "path",
            tolerance: float = 1e-7, max_iterations: int = 300) -> PLSFit:
    """Estimate a PLS path model (mode A outer estimation) from correlation matrices ``(..., k, k)``.

    ``blocks[j]`` lists the indicator indices of construct j; ``paths[i, j]`` is true for i -> j.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown inner weighting scheme '{scheme}'; use one of {', '.join(SCHEMES)}")
    corr = np.asarray(corr, dtype=np.float64)
    paths = np.asarray(paths, dtype=bool)
    lead = corr.shape[:-2]
    indices = [np.asarray(list(b), dtype=np.int64) for b in blocks]
    c = len(indices)
    within = [corr[..., b[:, None], b[None, :]] for b in indices]
    # every pair: the path scheme regresses a construct on all its predecessors, which need not be adjacent
    between = {(i, j): corr[..., indices[i][:, None], indices[j][None, :]]
               for i in range(c) for j in range(c) if i != j}
    weights = [_scaled(np.ones(lead + (b.size,)), block) for b, block in zip(indices, within)]
    adjacent = paths | paths.T
    converged = np.zeros(lead, dtype=bool)
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        latent = _latent_correlations(weights, between, c, lead)
        inner = _inner_weights(latent, paths, adjacent, scheme)
        updated = []
        for j in range(c):
            proxy = np.zeros(lead + (indices[j].size,))
            for i in range(c):
                if adjacent[i, j]:
                    covariance = np.einsum("...ab,...b->...a", between[(j, i)], weights[i])
                    proxy = proxy + inner[..., i, j][..., None] * covariance
            if not adjacent[:, j].any():  # an isolated construct keeps its weights
                proxy = weights[j]
            updated.append(_scaled(proxy, within[j]))
        change = np.max(np.stack([np.max(np.abs(new - old), axis=-1) for new, old in zip(updated, weights)]),
                        axis=0)
        weights = updated
        converged = change < tolerance
        if np.all(converged):
            break
    latent = _latent_correlations(weights, between, c, lead)
    coefficients, r2 = _structural(latent, paths)
    eye = np.eye(c)
    total = np.linalg.inv(eye - coefficients) - eye
    loadings = [np.einsum("...ab,...b->...a", block, w) for block, w in zip(within, weights)]
    return PLSFit(weights, loadings, coefficients, r2, total, latent, iterations, converged)


def _latent_correlations(weights: list[np.ndarray], between: dict[tuple[int, int], np.ndarray], c: int,
                         lead: tuple[int, ...]) -> np.ndarray:
    """``C[i, j] = w_i' R_ij w_j`` for every pair of constructs."""
    latent = np.zeros(lead + (c, c))
    for j in range(c):
        latent[..., j, j] = 1.0
    for i in range(c):
        for j in range(i + 1, c):
            value = np.einsum("...a,...ab,...b->...", weights[i], between[(i, j)], weights[j])
            latent[..., i, j] = latent[..., j, i] = value
    return latent


def _inner_weights(latent: np.ndarray, paths: np.ndarray, adjacent: np.ndarray, scheme: str) -> np.ndarray:
    """``e[..., i, j]``: the weight of construct i in construct j's inner proxy."""
    if scheme == "centroid":
        return np.where(adjacent, np.sign(latent), 0.0)
    if scheme == "factorial":
        return np.where(adjacent, latent, 0.0)
    inner = np.where(paths.T, latent, 0.0)  # successors of j (j -> i): their correlation
    for j in range(paths.shape[0]):
        predecessors = np.flatnonzero(paths[:, j])
        if predecessors.size:
            sub = latent[..., predecessors[:, None], predecessors[None, :]]
            target = latent[..., predecessors, j]
            inner[..., predecessors, j] = np.linalg.solve(sub, target[..., None])[..., 0]
    return inner


def _structural(latent: np.ndarray, paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Path coefficients (least squares of each endogenous construct on its predecessors) and R²."""
    c = paths.shape[0]
    coefficients = np.zeros(latent.shape)
    r2 = np.full(latent.shape[:-1], np.nan)
    for j in range(c):
        predecessors = np.flatnonzero(paths[:, j])
        if not predecessors.size:
            continue
        sub = latent[..., predecessors[:, None], predecessors[None, :]]
        target = latent[..., predecessors, j]
        beta = np.linalg.solve(sub, target[..., None])[..., 0]
        coefficients[..., predecessors, j] = beta
        r2[..., j] = np.einsum("...i,...i->...", beta, target)
    return coefficients, r2
