"""Estimates from sums: means and their confidence intervals, proportions, Welch's t, all vectorised.

Bases are effective bases ``(Σw)² / Σw²`` (Kish), so weighted results get the
wider intervals they deserve; unweighted, the effective base is the count.
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95


def t_quantile(df: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """The t quantile for each degree of freedom, computed once per distinct value (bases repeat a lot)."""
    from scipy import special  # a third of the import time of scipy.stats

    df = np.asarray(df, dtype=np.float64)
    distinct, inverse = np.unique(np.maximum(np.nan_to_num(df, nan=1.0), 1.0), return_inverse=True)
    quantiles = special.stdtrit(distinct, 0.5 + confidence / 2)[inverse].reshape(df.shape)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, quantiles, np.nan)


def mean_ci(count: np.ndarray, wsum: np.ndarray, wsum2: np.ndarray, total: np.ndarray,
            total_sq: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, standard deviation, effective base and the t interval of the mean."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(wsum > 0, total / np.where(wsum > 0, wsum, 1), np.nan)
        population = np.maximum(total_sq / np.where(wsum > 0, wsum, 1) - mean**2, 0.0)
        effective = np.where(wsum2 > 0, wsum**2 / np.where(wsum2 > 0, wsum2, 1), 0.0)
        variance = np.where(effective > 1, population * effective / np.maximum(effective - 1, 1e-12), np.nan)
        sd = np.sqrt(variance)
        half = t_quantile(effective - 1) * sd / np.sqrt(effective)
    return {"mean": mean, "sd": sd, "n": count, "n_eff": effective, "ci_low": mean - half, "ci_high": mean + half,
            "variance": variance}


def proportion_ci(share: np.ndarray, effective: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion on an effective base."""
    z = 1.959963984540054
    with np.errstate(invalid="ignore", divide="ignore"):
        denominator = 1 + z**2 / effective
        centre = (share + z**2 / (2 * effective)) / denominator
        half = z * np.sqrt(share * (1 - share) / effective + z**2 / (4 * effective**2)) / denominator
    return centre - half, centre + half


def welch(mean1: np.ndarray, var1: np.ndarray, n1: np.ndarray, mean2: np.ndarray, var2: np.ndarray,
          n2: np.ndarray) -> dict[str, np.ndarray]:
    """Welch's t test of two means from their moments; two-sided p-values."""
    from scipy import special

    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = var1 / n1, var2 / n2
        t = (mean1 - mean2) / np.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / np.maximum(n1 - 1, 1e-12) + b**2 / np.maximum(n2 - 1, 1e-12))
        p = 2 * special.stdtr(np.maximum(df, 1), -np.abs(t))
    return {"difference": mean1 - mean2, "t": t, "df": df, "p": np.where(np.isfinite(t), p, np.nan)}


def pooled_t(mean1: np.ndarray, var1: np.ndarray, n1: np.ndarray, mean2: np.ndarray, var2: np.ndarray,
             n2: np.ndarray) -> np.ndarray:
    """Two-sided p-value of Student's t test of two means with the pooled variance of both groups
    (``scipy.stats.ttest_ind_from_stats(..., equal_var=True)``); bases may be effective bases."""
    from scipy import special

    with np.errstate(invalid="ignore", divide="ignore"):
        df = n1 + n2 - 2
        pooled = ((n1 - 1) * var1 + (n2 - 1) * var2) / df
        t = (mean1 - mean2) / np.sqrt(pooled * (1 / n1 + 1 / n2))
        p = 2 * special.stdtr(np.maximum(df, 1), -np.abs(t))
    return np.where(np.isfinite(t) & (df > 0), p, np.where((mean1 == mean2) & (df > 0), 1.0, np.nan))


def two_proportions(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """Two-sided p-value of the pooled z test that two proportions x1/n1 and x2/n2 are equal (NaN without a base)."""
    from scipy import special

    x1, n1, x2, n2 = (np.asarray(v, dtype=np.float64) for v in (x1, n1, x2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = (x1 / n1 - x2 / n2) / se
        p = special.erfc(np.abs(z) / np.sqrt(2))
    both = (n1 > 0) & (n2 > 0)
    return np.where(both & (se > 0), p, np.where(both & (se == 0), 1.0, np.nan))
