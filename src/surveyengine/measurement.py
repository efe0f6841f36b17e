"""Measurement quality: do a factor's (or construct's) items measure one thing, and different things from
the others? Computed from the total's item block (pairwise-complete, weighted) — no rows.

Per block of items: loadings (a construct's from the structural model; a factor's on the first principal
component of its items' correlations, which is PLS mode A with the block as its own proxy), composite
reliability ``(Σλ)² / ((Σλ)² + Σ(1 − λ²))``, average variance extracted (AVE) ``mean λ²``, Cronbach's alpha
(raw, from covariances, and standardized, from the mean correlation). Between blocks: the
heterotrait-monotrait ratio (HTMT; Henseler, Ringle & Sarstedt 2015): the mean absolute correlation between
the two blocks' items over the geometric mean of the mean absolute correlations within each (undefined for a
one-item block). Flags use ``THRESHOLDS`` (Hair et al.; Henseler et al. 2015 for HTMT 0.85).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .results import clean
from .stats import pairwise_cov

THRESHOLDS = {"loading": 0.7, "composite_reliability": 0.7, "ave": 0.5, "alpha": 0.7, "htmt": 0.85}
MINRES_TOLERANCE = 1e-10
MINRES_ITERATIONS = 2000


def one_factor_minres(corr: np.ndarray) -> np.ndarray:
    """Loadings of a one-factor model fitted by minimum residuals (unweighted least squares on the off-diagonal
    correlations; ``psych::fa(fm="minres")``), for a stack of correlation matrices (..., k, k): iterated principal
    axes from squared multiple correlations until no communality moves by more than ``MINRES_TOLERANCE``. Its fixed
    point is the minres solution (Harman 1976, ch. 8). Communalities are bounded to [0.005, 0.995] (Heywood cases).
    Signed so that the loadings sum positive."""
    corr = np.asarray(corr, dtype=np.float64)
    k = corr.shape[-1]
    try:
        h2 = 1.0 - 1.0 / np.diagonal(np.linalg.inv(corr), axis1=-2, axis2=-1)
    except np.linalg.LinAlgError:
        h2 = np.full(corr.shape[:-1], 0.5)
    h2 = np.clip(np.nan_to_num(h2, nan=0.5), 0.005, 0.995)
    # the leading eigenvector by power steps warm-started from the previous one: one batched product per
    # iteration instead of an eigen-decomposition (the dominant eigenvalue of a reduced correlation matrix of
    # positively related items is well separated, so a step per update keeps up)
    diagonal = np.arange(k)
    reduced = corr.copy()  # R with the communalities on its diagonal
    reduced[..., diagonal, diagonal] = h2
    vector = np.linalg.eigh(reduced)[1][..., :, -1]
    loadings = np.zeros(corr.shape[:-1])
    for _ in range(MINRES_ITERATIONS):
        reduced[..., diagonal, diagonal] = h2
        product = np.einsum("...ij,...j->...i", reduced, vector)
        value = np.einsum("...i,...i->...", vector, product)
        vector = product / np.linalg.norm(product, axis=-1, keepdims=True)
        loadings = vector * np.sqrt(np.maximum(value, 0.0))[..., None]
        new = np.clip(loadings**2, 0.005, 0.995)
        moved = np.max(np.abs(new - h2)) if new.size else 0.0
        h2 = new
        if moved < MINRES_TOLERANCE:
            break
    sign = np.where(loadings.sum(axis=-1, keepdims=True) >= 0, 1.0, -1.0)
    return loadings * sign


def item_reliability(cov: np.ndarray) -> dict[str, np.ndarray]:
    """Cronbach's alpha and McDonald's omega for a stack of covariance matrices (..., k, k) of one factor's items,
    as ``psych::alpha`` and ``psych::omega(nfactors=1)`` compute them from a covariance matrix ``C`` with
    correlations ``R``:

    - ``alpha`` = k/(k−1) · (1 − tr C / ΣC); ``alpha_standardized`` = k/(k−1) · (1 − k / ΣR);
    - per item, ``alpha_if_deleted`` (raw and standardized): the same without the item;
    - ``item_rest``: the corrected item-total correlation, (ΣC_i· − C_ii) / √(C_ii · ΣC_−i,−i);
    - ``omega_total`` = (ΣR − Σu²) / ΣR with uniquenesses u² = 1 − λ² of the one-factor minres model of R.

    Scale-free: population (÷n) and sample (÷(n−1)) covariances give the same figures."""
    cov = np.asarray(cov, dtype=np.float64)
    k = cov.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        diag = np.diagonal(cov, axis1=-2, axis2=-1)
        sd = np.sqrt(diag)
        corr = cov / (sd[..., :, None] * sd[..., None, :])
        total, trace = cov.sum(axis=(-2, -1)), diag.sum(axis=-1)
        sum_r = corr.sum(axis=(-2, -1))
        out: dict[str, np.ndarray] = {}
        out["alpha"] = k / (k - 1) * (1 - trace / total) if k > 1 else np.full(cov.shape[:-2], np.nan)
        out["alpha_standardized"] = k / (k - 1) * (1 - k / sum_r) if k > 1 else np.full(cov.shape[:-2], np.nan)
        column = cov.sum(axis=-1)  # ΣC_i·
        rest_total = total[..., None] - 2 * column + diag  # Σ of C without row and column i
        out["item_rest"] = (column - diag) / np.sqrt(diag * rest_total)
        if k > 2:
            out["alpha_if_deleted"] = (k - 1) / (k - 2) * (1 - (trace[..., None] - diag) / rest_total)
            rest_r = sum_r[..., None] - 2 * corr.sum(axis=-1) + 1
            out["alpha_standardized_if_deleted"] = (k - 1) / (k - 2) * (1 - (k - 1) / rest_r)
        else:  # two items: deleting one leaves no scale (psych reports the correlation; we report nothing)
            out["alpha_if_deleted"] = out["alpha_standardized_if_deleted"] = np.full(cov.shape[:-1], np.nan)
        finite = np.isfinite(corr).all(axis=(-2, -1))
        omega = np.full(cov.shape[:-2], np.nan)
        if k > 1 and finite.any():
            lam = one_factor_minres(np.where(finite[..., None, None], corr, np.eye(k)))
            omega = np.where(finite, (sum_r - np.sum(1 - lam**2, axis=-1)) / sum_r, np.nan)
            out["loadings"] = np.where(finite[..., None], lam, np.nan)
        else:
            out["loadings"] = np.full(cov.shape[:-1], np.nan)
        out["omega_total"] = omega
    return out


def principal_loadings(corr: np.ndarray) -> np.ndarray:
    """Loadings of each item on the first principal component of ``corr``, signed so that they sum positive."""
    eigenvalues, vectors = np.linalg.eigh(corr)
    loadings = vectors[:, -1] * np.sqrt(max(eigenvalues[-1], 0.0))
    return loadings if loadings.sum() >= 0 else -loadings


def reliability(loadings: np.ndarray, corr: np.ndarray, cov: np.ndarray) -> dict[str, float]:
    k = loadings.size
    total = loadings.sum() ** 2
    error = float(np.sum(1 - loadings**2))
    out = {"composite_reliability": total / (total + error) if k > 1 else np.nan, "ave": float(np.mean(loadings**2))}
    if k > 1:
        figures = item_reliability(cov)
        out["alpha"] = float(figures["alpha"])
        out["alpha_standardized"] = float(figures["alpha_standardized"])
    else:
        out["alpha"] = out["alpha_standardized"] = np.nan
    return out


def htmt(corr: np.ndarray, blocks: Sequence[Sequence[int]]) -> np.ndarray:
    """HTMT between every pair of blocks (indices into ``corr``); NaN where a block has one item."""
    absolute = np.abs(corr)
    monotrait = []
    for block in blocks:
        b = list(block)
        k = len(b)
        monotrait.append((absolute[np.ix_(b, b)].sum() - k) / (k * (k - 1)) if k > 1 else np.nan)
    out = np.full((len(blocks), len(blocks)), np.nan)
    for i, a in enumerate(blocks):
        for j, b in enumerate(blocks):
            if i != j:
                with np.errstate(invalid="ignore"):
                    out[i, j] = absolute[np.ix_(list(a), list(b))].mean() / np.sqrt(monotrait[i] * monotrait[j])
    return out


def composite_correlations(corr: np.ndarray, blocks: Sequence[Sequence[int]]) -> np.ndarray:
    """Correlations between the blocks' unit-weighted composites of standardized items: ΣR_ab / √(ΣR_aa ΣR_bb)."""
    count = len(blocks)
    out = np.eye(count)
    for i, a in enumerate(blocks):
        for j, b in enumerate(blocks):
            if i < j:
                value = corr[np.ix_(list(a), list(b))].sum() / np.sqrt(
                    corr[np.ix_(list(a), list(a))].sum() * corr[np.ix_(list(b), list(b))].sum())
                out[i, j] = out[j, i] = value
    return out


def assess(names: Sequence[str], items: Sequence[Sequence[str]], corr: np.ndarray, cov: np.ndarray,
           loadings: Sequence[np.ndarray] | None = None, latent: np.ndarray | None = None) -> dict[str, Any]:
    """Every block's reliability and flags, and HTMT and the Fornell-Larcker criterion between blocks;
    ``corr``/``cov`` over all blocks' items in order, ``loadings`` per block where a model gave them (else
    principal-component loadings), ``latent`` the correlations between the blocks where a model gave them (else
    those of the unit-weighted composites). Fornell & Larcker (1981): each block's √AVE should exceed its
    correlation with every other block."""
    blocks, start = [], 0
    for members in items:
        blocks.append(list(range(start, start + len(members))))
        start += len(members)
    entries = []
    for position, (name, members, block) in enumerate(zip(names, items, blocks)):
        sub_corr, sub_cov = corr[np.ix_(block, block)], cov[np.ix_(block, block)]
        lam = np.asarray(loadings[position]) if loadings is not None else principal_loadings(sub_corr)
        figures = reliability(lam, sub_corr, sub_cov)
        flags = [f"item '{item}' loads {value:.2f} (below {THRESHOLDS['loading']})"
                 for item, value in zip(members, lam) if value < THRESHOLDS["loading"]]
        for key, label in (("composite_reliability", "composite reliability"), ("ave", "AVE"),
                           ("alpha", "Cronbach's alpha")):
            value = figures[key]
            if np.isfinite(value) and value < THRESHOLDS[key]:
                flags.append(f"{label} {value:.2f} is below {THRESHOLDS[key]}")
        loaded = [{"id": item, "loading": clean(value)} for item, value in zip(members, lam)]
        entries.append({"id": name, "items": loaded,
                        **{key: clean(value) for key, value in figures.items()}, "flags": flags})
    ratios = htmt(corr, blocks)
    latent = composite_correlations(corr, blocks) if latent is None else np.asarray(latent, dtype=np.float64)
    root_ave = [np.sqrt(entry["ave"]) if entry["ave"] is not None else np.nan for entry in entries]
    pairs = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            value = ratios[i, j]
            r = abs(float(latent[i, j]))
            distinct = bool(r < min(root_ave[i], root_ave[j])) if np.isfinite(r) else None
            pair = {"a": names[i], "b": names[j], "htmt": clean(value), "latent_correlation": clean(float(latent[i, j])),
                    "fornell_larcker": distinct}
            if distinct is False:
                for k, other in ((i, j), (j, i)):
                    entries[k]["flags"].append(f"Fornell-Larcker: the correlation with '{names[other]}' ({r:.2f}) "
                                               f"is not below the square root of the AVE ({root_ave[k]:.2f})")
            if np.isfinite(value) and value > THRESHOLDS["htmt"]:
                entries[i]["flags"].append(f"HTMT with '{names[j]}' is {value:.2f} (above {THRESHOLDS['htmt']}): "
                                           "the two may not be distinct")
                entries[j]["flags"].append(f"HTMT with '{names[i]}' is {value:.2f} (above {THRESHOLDS['htmt']}): "
                                           "the two may not be distinct")
            pairs.append(pair)
    return {"blocks": entries, "htmt": pairs}


def for_study(view: Any, q: Any, model: dict[str, Any]) -> dict[str, Any]:
    """Measurement quality of the factors (two or more rating items) and of the model's constructs, in ``view``'s
    first group (the total)."""
    from .importance import block_correlations

    cross = view.cross
    plan = view.cells.plan
    if cross is None or plan is None:
        return {}
    available = {plan.variables[v] for v in cross.variables}
    out: dict[str, Any] = {"thresholds": dict(THRESHOLDS)}
    factors = [(f.id, [i.id for i in f.all_items() if i.question_type == "rating" and i.id in available])
               for f in q.walk_factors()]
    factors = [(name, items) for name, items in factors if len(items) >= 2]
    groups: list[tuple[str, list[tuple[str, list[str]]], list[np.ndarray] | None, np.ndarray | None]] = [
        ("factors", factors, None, None)]
    if model.get("estimated"):
        constructs = [(c["id"], [i["id"] for i in c["items"]]) for c in model["constructs"]]
        loadings = [np.array([i["loading"] for i in c["items"]], dtype=np.float64) for c in model["constructs"]]
        ids = [c["id"] for c in model["constructs"]]
        correlations = model.get("latent_correlations") or {}
        latent = np.array([[correlations.get(a, {}).get(b, np.nan) if a != b else 1.0 for b in ids] for a in ids],
                          dtype=np.float64)
        groups.append(("constructs", constructs, loadings, latent))
    for section, blocks, loadings, latent in groups:
        if not blocks:
            continue
        names = [name for name, _ in blocks]
        items = [members for _, members in blocks]
        flat = [i for members in items for i in members]
        found = block_correlations(view, flat, "item")
        if found is None:
            continue
        corr = found[0][0]
        position = {v: j for j, v in enumerate(cross.variables)}
        columns = np.array([position[plan.variables.index(i)] for i in flat])
        sums = [getattr(cross, name)[0][np.ix_(columns, columns)] for name in ("xx", "xm", "x2m", "mm")]
        cov = pairwise_cov(*sums)
        if not (np.isfinite(corr).all() and np.isfinite(cov).all()):
            continue
        out[section] = assess(names, items, corr, cov, loadings, latent)
    return out
