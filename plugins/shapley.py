"""Shapley value regression / LMG (Lindeman, Merenda & Gold 1980; Grömping 2006, R package relaimpo).

Driver j's importance is its marginal contribution to R², averaged over every
order in which the drivers could enter the model:
``φ_j = Σ_{S ⊆ P∖{j}} |S|!(p−|S|−1)!/p! · (R²(S∪{j}) − R²(S))``; the φ sum to R².

Exact, for up to ``max_exact`` drivers (default 20): the R² of all 2^p subsets,
from the correlation matrix alone, in batches (see ``all_subsets_r2``). For a
subset S, the Cholesky factor L of the correlation matrix of S followed by the
outcome has ``L[-1, -1]² = 1 − R²(S)``, so batched Cholesky factorisations give
every R² without a solve.

Sampled, beyond that: ``samples`` random orders (in antithetic pairs: an order
and its reverse), each costing one Cholesky of the reordered matrix, whose
last row holds every driver's contribution in that order
(``R²(first k) = Σ_{i≤k} L[-1, i]²``). ``standard_error_`` states the sampling
error of each φ (zero when exact). ``seed`` makes the sample reproducible.
"""

from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np

from surveyengine import hookimpl
from surveyengine.regression import model_matrix

CHUNK = 1 << 15  # small matrices per batched Cholesky: bounds the memory of one step


def _last_pivot_squared(matrices: np.ndarray) -> np.ndarray:
    """``L[..., -1, -1]²`` of each matrix's Cholesky factor: the variance of the last variable left
    after regressing it on the others."""
    try:
        return np.linalg.cholesky(matrices)[..., -1, -1] ** 2
    except np.linalg.LinAlgError:  # singular drivers: through the pseudo-inverse instead
        rxx, rxy = matrices[..., :-1, :-1], matrices[..., :-1, -1]
        return matrices[..., -1, -1] - np.einsum("...i,...ij,...j->...", rxy, np.linalg.pinv(rxx, hermitian=True),
                                                 rxy)


@lru_cache(maxsize=16)
def _subsets(bits: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per size k: the masks over ``bits`` bits with k set, ascending, and their members (one column each)."""
    sizes = np.zeros(1, dtype=np.int64)
    for _ in range(bits):  # popcount of every mask, built bit by bit in mask order
        sizes = np.concatenate([sizes, sizes + 1])
    out = []
    for k in range(bits + 1):
        chosen = np.flatnonzero(sizes == k)
        members = np.nonzero((chosen[:, None] >> np.arange(bits)) & 1)[1].reshape(chosen.size, k)
        out.append((chosen, members))
    return tuple(out)


def all_subsets_r2(full: np.ndarray) -> np.ndarray:
    """R² of the outcome (last variable) on every subset of the drivers; subset = bit mask over drivers.

    ``full`` is a stack (batch, p+1, p+1); returns (batch, 2^p). The drivers are split into a first
    half A and a second half B. For every subset of A, the covariance of B's drivers and the outcome
    *given* that subset (a Schur complement) is formed once; then every subset of B needs only a
    Cholesky of at most p/2 + 1 rows: ``R²(a ∪ b) = 1 − L[-1, -1]²`` of the partial covariance of
    ``b`` and the outcome given ``a``. About five times less work than one Cholesky of up to p + 1
    rows per subset.
    """
    batch, size = full.shape[0], full.shape[-1]
    p = size - 1
    first = p // 2
    second = p - first
    rest = np.r_[first:p, p]  # the second half's drivers and the outcome
    base = full[:, rest[:, None], rest[None, :]]
    partial = np.empty((batch, 1 << first, second + 1, second + 1))
    partial[:, 0] = base
    for chosen, members in _subsets(first)[1:]:
        raa = full[:, members[:, :, None], members[:, None, :]]
        rab = full[:, members[:, :, None], rest[None, None, :]]
        partial[:, chosen] = base[:, None] - np.swapaxes(rab, -1, -2) @ np.linalg.solve(raa, rab)
    r2 = np.empty((batch, 1 << second, 1 << first))
    step = max(1, CHUNK // ((1 << first) * batch))
    for chosen, members in _subsets(second):
        index = np.concatenate([members, np.full((chosen.size, 1), second)], axis=1)
        for start in range(0, chosen.size, step):
            block = index[start:start + step]
            left = _last_pivot_squared(partial[:, :, block[:, :, None], block[:, None, :]])
            r2[:, chosen[start:start + step], :] = np.swapaxes(1.0 - left, 1, 2)
    return r2.reshape(batch, 1 << p)  # mask = a | b << first


def shapley_from_subsets(r2: np.ndarray, p: int) -> np.ndarray:
    """φ from the R² of every subset (batch, 2^p): ``φ_j = Σ_{S∋j} R²(S)·w(|S|−1) − Σ_{S∌j} R²(S)·w(|S|)``.

    Written as ``Σ_{S∋j} (a + b) − Σ_S b`` with ``a = R²·w(|S|−1)`` and ``b = R²·w(|S|)``, and each
    ``Σ_{S∋j}`` as a sum over the other bits of the mask, reshaped: no index arrays.
    """
    sizes = np.zeros(1 << p, dtype=np.int64)
    for k, (chosen, _) in enumerate(_subsets(p)):
        sizes[chosen] = k
    weight = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)] + [0.0])
    a = r2 * np.concatenate([[0.0], weight[:-1]])[sizes]  # w(|S|−1); the empty set never contains j
    b = r2 * weight[sizes]
    both = a + b
    batch = r2.shape[0]
    phi = np.empty((batch, p))
    for j in range(p):
        phi[:, j] = both.reshape(batch, 1 << (p - 1 - j), 2, 1 << j)[:, :, 1, :].sum(axis=(1, 2))
    return phi - b.sum(axis=1, keepdims=True)


def sampled_shapley(full: np.ndarray, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """φ estimated from random orders (antithetic pairs), and its standard error."""
    batch, p = full.shape[0], full.shape[-1] - 1
    pairs = max(1, samples // 2)
    orders = np.argsort(rng.random((pairs, p)), axis=1)
    orders = np.concatenate([orders, orders[:, ::-1]])
    contributions = np.empty((batch, 2 * pairs, p))
    step = max(1, CHUNK // (batch * max(p // 8, 1)))
    rows = np.arange(p)
    for start in range(0, 2 * pairs, step):
        chunk = orders[start:start + step]
        index = np.concatenate([chunk, np.full((chunk.shape[0], 1), p)], axis=1)
        factor = np.linalg.cholesky(full[:, index[:, :, None], index[:, None, :]])
        gains = factor[..., -1, :-1] ** 2  # (batch, orders, position)
        placed = np.empty_like(gains)
        placed[:, np.arange(chunk.shape[0])[:, None], chunk] = gains[:, :, rows]
        contributions[:, start:start + chunk.shape[0]] = placed
    paired = (contributions[:, :pairs] + contributions[:, pairs:]) / 2
    return paired.mean(axis=1), paired.std(axis=1, ddof=1) / np.sqrt(pairs) if pairs > 1 else np.zeros((batch, p))


class ShapleyWeighter:
    id = "shapley"
    description = "Shapley value regression / LMG: each driver's average contribution to R² (exact up to 20 drivers)."
    stacks = True  # fit takes (..., k, k) stacks of matrices

    def __init__(self, max_exact: int = 20, samples: int = 2000, seed: int = 0):
        self.max_exact = int(max_exact)
        self.samples = int(samples)
        self.seed = int(seed)

    def fit(self, corr, target, drivers):
        full = model_matrix(corr, target, drivers)
        lead, size = full.shape[:-2], full.shape[-1]
        p = size - 1
        flat = full.reshape(-1, size, size)
        if p == 0:
            phi, error = np.zeros((flat.shape[0], 0)), np.zeros((flat.shape[0], 0))
        elif p <= self.max_exact:
            # a few million numbers of partial covariances at a time, however many matrices come in
            per_matrix = (1 << (p // 2)) * (p - p // 2 + 1) ** 2 + (1 << p)
            step = max(1, (1 << 22) // per_matrix)
            phi = np.concatenate([shapley_from_subsets(all_subsets_r2(flat[start:start + step]), p)
                                  for start in range(0, flat.shape[0], step)])
            error = np.zeros((flat.shape[0], p))
            self.exact_ = True
        else:
            phi, error = sampled_shapley(flat, self.samples, np.random.default_rng(self.seed))
            self.exact_ = False
        self.importance_ = phi.reshape(*lead, p)
        self.standard_error_ = error.reshape(*lead, p)
        self.r2_ = self.importance_.sum(axis=-1)
        return self


@hookimpl
def surveyengine_register_weighters(registry):
    registry.add(ShapleyWeighter)
