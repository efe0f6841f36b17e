"""Questionnaire diagnostics: does each item measure what the questionnaire says it measures?

The questionnaire declares its factors and their items, so it *is* a measurement model; this module tests it
from the merged statistics (the item block's pairwise cross-products, the item bases and top-box shares, the
bootstrap intervals of item importance) — never from response rows. See docs/diagnostics.md.

- **Reliability** per factor, for the total and every segment unit whose base reaches ``index.min_base``:
  Cronbach's alpha (raw and standardized), alpha if an item is deleted, the item-rest correlation and
  McDonald's omega total of a one-factor minres model (``measurement.item_reliability``; as R psych).
- **Confirmatory factor analysis** of the total (each item on its declared top-level factor, factors
  correlated), fitted by maximum likelihood with semopy from the covariance matrix and n (the optional
  ``diagnose`` extra); chi-square, CFI, TLI, RMSEA with its 90% interval, SRMR as lavaan reports them.
- **Exploratory hint**: Horn's parallel analysis and a minres / varimax (Kaiser-normalised) loading table.
- **Item flags** with advice in English and Chinese: see ``THRESHOLDS`` and ``ADVICE``.

Discriminant validity (HTMT, Fornell-Larcker) is ``results.measurement`` (``measurement.py``), computed once
and shared with the structural model's diagnostics; this module does not recompute it.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .measurement import item_reliability
from .regression import nearest_correlation
from .results import clean
from .stats import pairwise_cov

if TYPE_CHECKING:
    from .model import Questionnaire
    from .results import Results
    from .views import View

# Conventional cut-offs. Reliability: Nunnally (1978) for alpha 0.7; item-rest 0.3 (Nunnally & Bernstein 1994).
# CFA fit: Hu & Bentler (1999): CFI and TLI >= 0.95, RMSEA <= 0.06, SRMR <= 0.08; standardized loadings >= 0.5
# (Hair et al.). EFA: a salient loading is >= 0.4. Items: near-duplicates r > 0.9; ceiling: top-box > 90%;
# skipped or don't know > 15% of respondents.
THRESHOLDS: dict[str, float] = {
    "alpha": 0.7, "item_rest": 0.3, "cfa_loading": 0.5, "cfi": 0.95, "tli": 0.95, "rmsea": 0.06, "srmr": 0.08,
    "efa_loading": 0.4, "duplicate_r": 0.9, "top_box": 90.0, "missing_rate": 0.15, "zero_share": 0.001,
}
PARALLEL_DRAWS = 100
PARALLEL_QUANTILE = 95
EXTRA_HINT = "the confirmatory factor analysis needs semopy: pip install 'surveyengine[diagnose]'"

# Plain-language advice for the next version of the questionnaire, per flag kind and language.
ADVICE: dict[str, dict[str, str]] = {
    "low-alpha": {
        "en": "The items of '{factor}' do not hang together (alpha {value:.2f}, below {threshold}): check that "
              "they ask about one thing, or split the factor.",
        "zh": "“{factor}”的题目内部一致性不足（alpha {value:.2f}，低于 {threshold}）：请确认它们测量的是同一件事，"
              "或将该因子拆分。"},
    "alpha-if-deleted": {
        "en": "Without '{item}' the reliability of '{factor}' rises to {value:.2f}: the item measures something "
              "else; reword it or move it.",
        "zh": "删除“{item}”后“{factor}”的信度升至 {value:.2f}：该题测量的是别的内容，请改写或移到其他因子。"},
    "low-item-rest": {
        "en": "'{item}' correlates only {value:.2f} with the rest of '{factor}' (below {threshold}): reword it "
              "or move it to the factor it belongs to.",
        "zh": "“{item}”与“{factor}”其余题目的相关仅 {value:.2f}（低于 {threshold}）：请改写，或移到它所属的因子。"},
    "low-cfa-loading": {
        "en": "In the confirmatory model '{item}' loads only {value:.2f} on '{factor}' (below {threshold}): it "
              "is a weak measure of that factor.",
        "zh": "验证性因子模型中“{item}”在“{factor}”上的载荷仅 {value:.2f}（低于 {threshold}）：它对该因子的测量较弱。"},
    "poor-fit": {
        "en": "The declared factor structure fits the answers poorly ({value}): some items may belong to "
              "another factor, or a factor may be two.",
        "zh": "所声明的因子结构与数据拟合不佳（{value}）：有些题目可能属于其他因子，或某个因子其实是两个。"},
    "loads-elsewhere": {
        "en": "'{item}' loads more on '{other}' ({value:.2f}) than on its own factor '{factor}': move it or "
              "reword it.",
        "zh": "“{item}”在“{other}”上的载荷（{value:.2f}）高于其所属因子“{factor}”：请移动或改写该题。"},
    "loads-nowhere": {
        "en": "'{item}' loads on no factor (highest {value:.2f}, below {threshold}): it may measure nothing "
              "the questionnaire asks about; drop or rewrite it.",
        "zh": "“{item}”在任何因子上的载荷都不足（最高 {value:.2f}，低于 {threshold}）：它可能没有测量问卷关心的内容，"
              "请删除或重写。"},
    "zero-importance": {
        "en": "The importance of '{item}' within '{factor}' cannot be told from zero (interval {low:.3f} to "
              "{high:.3f}): it does not drive satisfaction; consider dropping it.",
        "zh": "“{item}”在“{factor}”中的重要性与零无法区分（区间 {low:.3f} 至 {high:.3f}）：它不影响满意度，可考虑删除。"},
    "near-duplicate": {
        "en": "'{item}' nearly duplicates '{other}' (r = {value:.2f}, above {threshold}): keep one of them.",
        "zh": "“{item}”与“{other}”几乎重复（r = {value:.2f}，高于 {threshold}）：保留其中一题即可。"},
    "ceiling": {
        "en": "{value:.0f}% of answers to '{item}' are in the top box (above {threshold:.0f}%): the item cannot "
              "show improvement; ask it more demandingly.",
        "zh": "“{item}”有 {value:.0f}% 的回答在最高档（超过 {threshold:.0f}%）：该题无法反映改进，请提高提问的标准。"},
    "high-missing": {
        "en": "{value:.0%} of respondents skipped '{item}' or answered don't know (above {threshold:.0%}): "
              "reword it, or ask it only of those who can answer.",
        "zh": "{value:.0%} 的受访者跳过“{item}”或回答“不知道”（超过 {threshold:.0%}）：请改写，或只问能回答的人。"},
}


def advice(kind: str, languages: Sequence[str], label: Any = None, **fields: Any) -> dict[str, str]:
    """The advice for a flag in each of ``languages`` (English where a language has none). ``label(id, language)``
    names factors in each language; items are named by their id, as the questionnaire file does."""
    texts = ADVICE[kind]
    out = {}
    for language in languages:
        named = dict(fields)
        if label is not None:
            for key in ("factor", "other"):
                if named.get(key) is not None:
                    named[key] = label(named[key], language)
        out[language] = texts.get(language, texts["en"]).format(**named)
    return out


# --------------------------------------------------------------------------- exploratory


def parallel_analysis(corr: np.ndarray, n: float, seed: int = 0, draws: int = PARALLEL_DRAWS) -> dict[str, Any]:
    """Horn's (1965) parallel analysis on principal-component eigenvalues: factors whose eigenvalue exceeds the
    95th percentile of the same eigenvalue of random correlation matrices of ``n`` uncorrelated normal
    respondents. The random matrices are Wishart draws (Bartlett's decomposition): no rows needed."""
    from .importance import wishart_correlations

    k = corr.shape[-1]
    observed = np.sort(np.linalg.eigvalsh(corr))[::-1]
    rng = np.random.default_rng([seed, *b"parallel"])
    random = wishart_correlations(np.eye(k)[None], np.array([max(n - 1.0, k + 1.0)]), draws, rng)[0]
    reference = np.percentile(np.sort(np.linalg.eigvalsh(random), axis=-1)[:, ::-1], PARALLEL_QUANTILE, axis=0)
    above = observed > reference
    suggested = int(np.argmin(above)) if not above.all() else k
    return {"eigenvalues": [clean(v) for v in observed], "random": [clean(v) for v in reference],
            "suggested": suggested, "draws": draws, "quantile": PARALLEL_QUANTILE}


def minres(corr: np.ndarray, factors: int, tolerance: float = 1e-9, iterations: int = 1000) -> np.ndarray:
    """Unrotated loadings (k, factors) of a minres factor analysis (iterated principal axes from squared multiple
    correlations; the fixed point minimises the off-diagonal residuals, as ``psych::fa(fm="minres")``)."""
    from scipy.linalg import eigh

    k = corr.shape[0]
    h2 = np.clip(1.0 - 1.0 / np.diag(np.linalg.inv(corr)), 0.005, 0.995)
    loadings = np.zeros((k, factors))
    reduced = corr.copy()
    for _ in range(iterations):
        np.fill_diagonal(reduced, h2)
        # only the largest ``factors`` eigenpairs: a fraction of the full decomposition's work per iteration
        values, vectors = eigh(reduced, subset_by_index=[k - factors, k - 1], driver="evr", check_finite=False)
        values, vectors = values[::-1], vectors[:, ::-1]
        loadings = vectors * np.sqrt(np.maximum(values, 0.0))
        new = np.clip((loadings**2).sum(axis=1), 0.005, 0.995)
        moved = np.abs(new - h2).max()
        h2 = new
        if moved < tolerance:
            break
    return loadings


def varimax(loadings: np.ndarray, normalize: bool = True, eps: float = 1e-5, iterations: int = 1000) -> np.ndarray:
    """Varimax rotation with Kaiser normalisation, as R's ``stats::varimax`` (the rotation of
    ``psych::fa(rotate="varimax")``): rows scaled to unit length, rotated, scaled back."""
    x = loadings.copy()
    k, m = x.shape
    if m < 2:
        return x
    norms = np.sqrt((x**2).sum(axis=1)) if normalize else np.ones(k)
    x = x / norms[:, None]
    rotation = np.eye(m)
    d = 0.0
    for _ in range(iterations):
        z = x @ rotation
        b = x.T @ (z**3 - z @ np.diag((z**2).sum(axis=0)) / k)
        u, s, vt = np.linalg.svd(b)
        rotation = u @ vt
        d_past, d = d, s.sum()
        if d < d_past * (1 + eps):
            break
    return (x @ rotation) * norms[:, None]


def efa(corr: np.ndarray, blocks: Sequence[Sequence[int]]) -> np.ndarray:
    """Rotated loadings (items, declared factors), columns matched to the declared factors (the assignment that
    maximises the absolute loadings of each factor's own items) and signed so each column's own items load
    positive."""
    from scipy.optimize import linear_sum_assignment

    m = len(blocks)
    rotated = varimax(minres(corr, m, tolerance=1e-6))
    gain = np.array([[np.abs(rotated[list(block), j]).sum() for j in range(m)] for block in blocks])
    _, columns = linear_sum_assignment(-gain)
    ordered = rotated[:, columns]
    for f, block in enumerate(blocks):
        if ordered[list(block), f].sum() < 0:
            ordered[:, f] = -ordered[:, f]
    return ordered


# --------------------------------------------------------------------------- confirmatory


def semopy_available() -> bool:
    try:
        import semopy  # noqa: F401
    except ImportError:
        return False
    return True


def rmsea_interval(chi2: float, df: float, n: float, level: float = 0.90) -> tuple[float, float]:
    """The RMSEA's confidence interval from the noncentral chi-square (Browne & Cudeck 1993), N convention."""
    from scipy.optimize import brentq
    from scipy.stats import ncx2, chi2 as central

    def cdf(noncentrality: float) -> float:
        return float(central.cdf(chi2, df)) if noncentrality <= 0 else float(ncx2.cdf(chi2, df, noncentrality))

    def bound(target: float) -> float:
        if cdf(0.0) < target:
            return 0.0
        high = max(chi2, 1.0)
        while cdf(high) > target:
            high *= 2
        return brentq(lambda nc: cdf(nc) - target, 0.0, high, xtol=1e-10)

    tail = (1 - level) / 2
    low, high = bound(1 - tail), bound(tail)
    return math.sqrt(low / (df * n)), math.sqrt(high / (df * n))


def _start_values(model: Any, cov: np.ndarray, safe: Sequence[str], latent: Sequence[str],
                  blocks: Sequence[Sequence[int]]) -> None:
    """Starting values from one-factor minres loadings of each block (semopy starts loadings at 0 and factor
    variances at 0.05 when it has no rows): the ML fit then needs a fraction of the steps."""
    from .measurement import one_factor_minres

    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    standardized = np.zeros(len(safe))
    for block in blocks:
        standardized[list(block)] = one_factor_minres(corr[np.ix_(list(block), list(block))])
    observed = list(model.vars["observed"])
    latent_order = list(model.names_lambda[1])
    marker = {f: block[0] for f, block in enumerate(blocks)}
    scale = {f: standardized[marker[f]] * sd[marker[f]] for f in marker}  # factor sd in the marker's units
    values = model.param_vals.copy()
    for position, parameter in enumerate(p for p in model.parameters.values() if p.active):
        location = parameter.locations[0]
        i, j = location.indices
        if location.matrix is model.mx_lambda:
            item = safe.index(observed[i])
            f = latent.index(latent_order[j])
            values[position] = standardized[item] * sd[item] / scale[f]
        elif location.matrix is model.mx_psi:
            f, g = latent.index(latent_order[i]), latent.index(latent_order[j])
            if f == g:
                values[position] = scale[f] ** 2
            else:
                a, b = list(blocks[f]), list(blocks[g])
                r = corr[np.ix_(a, b)].mean() / (standardized[a].mean() * standardized[b].mean())
                values[position] = float(np.clip(r, -0.95, 0.95)) * scale[f] * scale[g]
        elif location.matrix is model.mx_theta and i == j:
            item = safe.index(observed[i])
            values[position] = max(1 - standardized[item] ** 2, 0.05) * sd[item] ** 2
    model.param_vals = values


def cfa(cov: np.ndarray, n: float, names: Sequence[str], blocks: Sequence[Sequence[int]],
        factors: Sequence[str]) -> dict[str, Any]:
    """A confirmatory factor model (item ``blocks[f]`` on factor ``factors[f]``, factors correlated) fitted by
    maximum likelihood with semopy from the covariance matrix ``cov`` (divisor n) and ``n``.

    Fit indices as lavaan reports them with its defaults: ``chi2 = n · F_ML``; CFI and TLI against the
    independence model; ``RMSEA = sqrt(max(chi2 − df, 0) / (df · n))`` with n, not n − 1 (semopy's own
    ``calc_rmsea`` uses n − 1); its 90% interval; SRMR as Bentler's standardized root mean square residual over
    the lower triangle with the diagonal. Raises ImportError without semopy."""
    import pandas as pd
    import semopy
    from semopy.stats import calc_dof
    from scipy.stats import chi2 as chi2_dist

    k = len(names)
    safe = [f"v{j}" for j in range(k)]
    latent = [f"F{f}" for f in range(len(blocks))]
    description = "\n".join(f"{latent[f]} =~ " + " + ".join(safe[j] for j in block) for f, block in enumerate(blocks))
    frame = pd.DataFrame(cov, index=safe, columns=safe)
    model = semopy.Model(description)
    logger = logging.getLogger("semopy")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load(cov=frame, n_samples=int(round(n)))
            _start_values(model, cov, safe, latent, blocks)
            result = model.fit()
            df = float(calc_dof(model))
            estimates = model.inspect(std_est=True)
            implied = model.calc_sigma()[0]
            order = [list(model.vars["observed"]).index(name) for name in safe]
            implied = implied[np.ix_(order, order)]
    finally:
        logger.setLevel(previous)
    chi2 = float(n * result.fun)
    sd = np.sqrt(np.diag(cov))
    baseline = float(n * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1]))
    baseline_df = k * (k - 1) / 2
    denominator = max(chi2 - df, baseline - baseline_df, 0.0)
    cfi = 1 - max(chi2 - df, 0.0) / denominator if denominator > 0 else 1.0
    tli = ((baseline / baseline_df) - (chi2 / df)) / ((baseline / baseline_df) - 1) if df > 0 else float("nan")
    rmsea = math.sqrt(max(chi2 - df, 0.0) / (df * n)) if df > 0 else float("nan")
    low, high = rmsea_interval(chi2, df, n) if df > 0 else (float("nan"), float("nan"))
    residual = (cov - implied) / np.outer(sd, sd)
    lower = np.tril_indices(k)
    srmr = float(np.sqrt(np.mean(residual[lower] ** 2)))
    loadings = np.full(k, np.nan)
    rows = estimates[(estimates["op"] == "~") & estimates["rval"].isin(latent)]
    for _, row in rows.iterrows():
        loadings[safe.index(row["lval"])] = float(row["Est. Std"])
    correlations = np.eye(len(blocks))
    pairs = estimates[(estimates["op"] == "~~") & estimates["lval"].isin(latent) & estimates["rval"].isin(latent)]
    for _, row in pairs.iterrows():
        i, j = latent.index(row["lval"]), latent.index(row["rval"])
        correlations[i, j] = correlations[j, i] = float(row["Est. Std"])
    factor_of = {j: f for f, block in enumerate(blocks) for j in block}
    return {
        "estimated": True, "converged": bool(getattr(result, "success", True)), "n": clean(n),
        "chi2": clean(chi2), "df": int(df), "p": clean(float(chi2_dist.sf(chi2, df))) if df > 0 else None,
        "cfi": clean(cfi), "tli": clean(tli), "rmsea": clean(rmsea), "rmsea_low": clean(low),
        "rmsea_high": clean(high), "srmr": clean(srmr), "baseline_chi2": clean(baseline),
        "baseline_df": int(baseline_df),
        "loadings": [{"item": names[j], "factor": factors[factor_of[j]], "loading": clean(loadings[j])}
                     for j in range(k) if j in factor_of],
        "factor_correlations": {a: {b: clean(correlations[i, j]) for j, b in enumerate(factors)}
                                for i, a in enumerate(factors)},
    }


# --------------------------------------------------------------------------- from the merged statistics


def _block(view: View, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Each group's pairwise covariance matrix (divisor n) of ``names`` from the item block, and its base (the
    fewest respondents behind a covariance; effective when weighted)."""
    cross, plan = view.cross, view.cells.plan
    if cross is None or plan is None:
        return None
    position = {v: j for j, v in enumerate(cross.variables)}
    wanted = [plan.variables.index(v) for v in names]
    if any(v not in position for v in wanted):
        return None
    columns = np.array([position[v] for v in wanted])
    sums = [getattr(cross, name)[:, columns][:, :, columns] for name in ("xx", "xm", "x2m", "mm")]
    cells = view.cells
    with np.errstate(invalid="ignore", divide="ignore"):
        design = np.where(cells.sum_w > 0, (cells.sum_w**2 / np.maximum(cells.sum_w2, 1e-300)) / cells.sum_w, 0.0)
    return pairwise_cov(*sums), sums[3].min(axis=(1, 2)) * design


def _factor_items(q: Questionnaire, available: set[str]) -> list[tuple[str, list[str]]]:
    out = []
    for factor in q.walk_factors():
        items = [i.id for i in factor.all_items() if i.question_type == "rating" and i.id in available]
        if len(items) >= 2:
            out.append((factor.id, items))
    return out


def _reliability_entry(figures: dict[str, np.ndarray], g: int, items: Sequence[str], base: float,
                       with_items: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"base": clean(base), "alpha": clean(figures["alpha"][g]),
                             "alpha_standardized": clean(figures["alpha_standardized"][g]),
                             "omega_total": clean(figures["omega_total"][g])}
    if with_items:
        entry["items"] = [{"id": item, "item_rest": clean(figures["item_rest"][g, j]),
                           "alpha_if_deleted": clean(figures["alpha_if_deleted"][g, j]),
                           "alpha_standardized_if_deleted": clean(figures["alpha_standardized_if_deleted"][g, j]),
                           "loading": clean(figures["loadings"][g, j])} for j, item in enumerate(items)]
    return entry


def _top_box(group: Any, item: str) -> float | None:
    values = (group.items or {}).get(item) or {}
    top = values.get("top_box")
    value = getattr(top, "value", None) if top is not None else None
    return None if value is None else float(value)


def diagnose(views: dict[str, View], q: Questionnaire, results: Results, with_cfa: bool | None = None,
             segment_groups: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """The ``diagnostics`` section of the results: every figure and flag (see the module docstring).

    ``with_cfa``: fit the confirmatory model (default: when semopy is installed)."""
    total_view = views["total"]
    plan = total_view.cells.plan
    if total_view.cross is None or plan is None:
        return {}
    languages = list(q.languages)
    factor_texts = {f.id: f.label for f in q.walk_factors()}
    labels = {f.id: q.text(f.label) for f in q.walk_factors()}

    def label(ident: str, language: str) -> str:
        return q.text(factor_texts[ident], language) if ident in factor_texts else ident
    available = {plan.variables[v] for v in total_view.cross.variables}
    factors = _factor_items(q, available)
    min_base = q.index.min_base
    flags: list[dict[str, Any]] = []

    def flag(kind: str, value: Any, threshold: Any = None, *, item: str | None = None, factor: str | None = None,
             **extra: Any) -> None:
        fields = {"item": item, "factor": factor, "value": value, "threshold": threshold, **extra}
        entry = {"kind": kind, "item": item, "factor": factor, "value": clean(value) if isinstance(value, float)
                 else value, "threshold": threshold, "advice": advice(kind, languages, label, **fields)}
        entry.update({k: v for k, v in extra.items() if k in ("other",)})
        flags.append(entry)

    # ---- reliability: the total and every segment unit with the base
    reliability: list[dict[str, Any]] = []
    segment_entries: list[dict[str, Any]] = []
    unit_views = [(name, view) for name, view in views.items() if name.startswith("segment:") and not view.by_wave]
    for factor_id, items in factors:
        found = _block(total_view, items)
        if found is None:
            continue
        cov, base = found
        figures = item_reliability(cov)
        entry = {"id": factor_id, "label": labels.get(factor_id, factor_id),
                 **_reliability_entry(figures, 0, items, float(base[0]), True)}
        reliability.append(entry)
        alpha = figures["alpha"][0]
        if np.isfinite(alpha) and alpha < THRESHOLDS["alpha"]:
            flag("low-alpha", float(alpha), THRESHOLDS["alpha"], factor=factor_id)
        for j, item in enumerate(items):
            rest = figures["item_rest"][0, j]
            dropped = figures["alpha_if_deleted"][0, j]
            if np.isfinite(rest) and rest < THRESHOLDS["item_rest"]:
                flag("low-item-rest", float(rest), THRESHOLDS["item_rest"], item=item, factor=factor_id)
            if np.isfinite(dropped) and np.isfinite(alpha) and dropped > alpha:
                flag("alpha-if-deleted", float(dropped), clean(float(alpha)), item=item, factor=factor_id)
    for name, view in unit_views:
        segment_id = name.split(":", 1)[1]
        shown = [g for g in range(view.groups)]
        hidden = set()
        if segment_groups is not None and segment_id in segment_groups:
            hidden = {g for g, group in enumerate(segment_groups[segment_id]) if group.suppressed}
        per_unit: list[dict[str, Any]] = [{"unit": view.labels[g], "factors": {}} for g in shown]
        for factor_id, items in factors:
            found = _block(view, items)
            if found is None:
                continue
            cov, base = found
            usable = (base >= min_base) & np.isfinite(cov).all(axis=(1, 2))
            usable[list(hidden)] = False
            if not usable.any():
                continue
            figures = item_reliability(cov[usable])
            for position, g in enumerate(np.flatnonzero(usable)):
                per_unit[g]["factors"][factor_id] = _reliability_entry(figures, position, items, float(base[g]), False)
        segment_entries.append({"segment": segment_id, "min_base": min_base,
                                "units": [u for u in per_unit if u["factors"]]})

    # ---- factor structure of the total: the top-level factors' rating items
    structure = [(f.id, [i.id for i in f.all_items() if i.question_type == "rating" and i.id in available])
                 for f in q.factors]
    structure = [(f, items) for f, items in structure if len(items) >= 2]
    names = [i for _, items in structure for i in items]
    blocks, start = [], 0
    for _, items in structure:
        blocks.append(list(range(start, start + len(items))))
        start += len(items)
    cfa_section: dict[str, Any] = {"estimated": False}
    efa_section: dict[str, Any] = {}
    duplicates: list[dict[str, Any]] = []
    found = _block(total_view, names) if names else None
    usable_structure = found is not None and bool(np.isfinite(found[0]).all()) and bool(
        (np.diagonal(found[0][0]) > 0).all()) and float(found[1][0]) > 2
    if usable_structure:
        assert found is not None
        cov, base = found[0][0], float(found[1][0])
        sd = np.sqrt(np.diag(cov))
        corr = cov / np.outer(sd, sd)
        repaired_corr, repaired = nearest_correlation(corr)
        cov_pd = repaired_corr * np.outer(sd, sd)
        # near-duplicates: every pair of driver items; the flag names the later item
        upper = np.triu(np.abs(corr), 1)
        for i, j in zip(*np.nonzero(upper > THRESHOLDS["duplicate_r"])):
            duplicates.append({"a": names[i], "b": names[j], "r": clean(float(corr[i, j]))})
            flag("near-duplicate", float(corr[i, j]), THRESHOLDS["duplicate_r"], item=names[j],
                 factor=next(f for f, items in structure if names[j] in items), other=names[i])
        if len(structure) >= 2 and base > len(names) + 1:
            parallel = parallel_analysis(repaired_corr, base, q.index.seed)
            rotated = efa(repaired_corr, blocks)
            rows = []
            for f, (factor_id, items) in enumerate(structure):
                for item in items:
                    j = names.index(item)
                    row = {fid: clean(float(rotated[j, c])) for c, (fid, _) in enumerate(structure)}
                    strongest = int(np.argmax(np.abs(rotated[j])))
                    rows.append({"item": item, "factor": factor_id, "loadings": row,
                                 "highest": structure[strongest][0]})
                    top = float(np.abs(rotated[j]).max())
                    if top < THRESHOLDS["efa_loading"]:
                        flag("loads-nowhere", top, THRESHOLDS["efa_loading"], item=item, factor=factor_id)
                    elif strongest != f:
                        flag("loads-elsewhere", float(rotated[j, strongest]), None, item=item, factor=factor_id,
                             other=structure[strongest][0])
            efa_section = {"method": "minres", "rotation": "varimax (Kaiser normalisation)",
                           "factors": [f for f, _ in structure], "parallel": parallel, "items": rows,
                           "repaired": bool(repaired)}
        if with_cfa is False:
            cfa_section = {"estimated": False, "note": "not fitted in this build: set diagnostics.cfa in "
                                                       "surveyengine.yaml, or run surveyengine diagnose"}
        elif not semopy_available():
            cfa_section = {"estimated": False, "note": EXTRA_HINT}
        elif base <= len(names) + 1:
            cfa_section = {"estimated": False, "note": "too few respondents for a confirmatory model"}
        else:
            try:
                cfa_section = cfa(cov_pd, base, names, blocks, [f for f, _ in structure])
                cfa_section["repaired"] = bool(repaired)
            except ImportError:
                cfa_section = {"estimated": False, "note": EXTRA_HINT}
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as error:
                cfa_section = {"estimated": False, "note": f"the confirmatory model could not be fitted: {error}"}
        if cfa_section.get("estimated"):
            for entry in cfa_section["loadings"]:
                value = entry["loading"]
                if value is not None and value < THRESHOLDS["cfa_loading"]:
                    flag("low-cfa-loading", value, THRESHOLDS["cfa_loading"], item=entry["item"],
                         factor=entry["factor"])
            poor = []
            for key, bad in (("cfi", lambda v: v < THRESHOLDS["cfi"]), ("tli", lambda v: v < THRESHOLDS["tli"]),
                             ("rmsea", lambda v: v > THRESHOLDS["rmsea"]), ("srmr", lambda v: v > THRESHOLDS["srmr"])):
                value = cfa_section.get(key)
                if value is not None and bad(value):
                    poor.append(f"{key.upper()} {value:.3f}")
            cfa_section["poor_fit"] = poor
            if poor:
                flag("poor-fit", ", ".join(poor), None)

    # ---- item quality: importance intervals, ceiling, skips and don't-knows
    item_rows: list[dict[str, Any]] = []
    total = results.total
    respondents = max(int(total.base or 0), 1)
    cells = total_view.cells
    counts = dict(zip(cells.variables, np.asarray(cells.count).reshape(cells.cells, -1)[0])) \
        if getattr(cells, "count", None) is not None else {}
    models = (total.drivers or {}).get("items", {}) if isinstance(total.drivers, dict) else {}
    importance: dict[str, dict[str, Any]] = {}
    for factor_id, model in models.items():
        signed = model.get("method") in ("betas", "ridge", "pratt")
        for driver in model.get("drivers", []):
            low, high = driver.get("ci_low"), driver.get("ci_high")
            importance[driver["id"]] = {"factor": factor_id, "low": low, "high": high, "signed": signed}
    factor_of = {i: f for f, items in structure for i in items}
    for factor_id, items in factors:
        for i in items:
            factor_of.setdefault(i, factor_id)
    for item in dict.fromkeys(i for _, items in factors for i in items):
        row: dict[str, Any] = {"id": item, "factor": factor_of.get(item)}
        top = _top_box(total, item)
        row["top_box"] = clean(top)
        if top is not None and top > THRESHOLDS["top_box"]:
            flag("ceiling", top, THRESHOLDS["top_box"], item=item, factor=factor_of.get(item))
        answered = counts.get(item)
        asked_always = q.item(item).when is None
        rate = (1 - float(answered) / respondents) if answered is not None and asked_always else None
        row["missing_rate"] = clean(rate)
        if rate is not None and rate > THRESHOLDS["missing_rate"]:
            flag("high-missing", rate, THRESHOLDS["missing_rate"], item=item, factor=factor_of.get(item))
        found_importance = importance.get(item)
        if found_importance is not None:
            low, high = found_importance["low"], found_importance["high"]
            row.update({"importance_ci_low": low, "importance_ci_high": high})
            floor = 0.0 if found_importance["signed"] else THRESHOLDS["zero_share"]
            if low is not None and high is not None and low <= floor <= high or (
                    low is not None and high is not None and high < floor):
                flag("zero-importance", float(low), floor, item=item, factor=found_importance["factor"],
                     low=float(low), high=float(high))
        item_rows.append(row)

    flagged = sorted({f["item"] for f in flags if f["item"] is not None})
    return {
        "thresholds": dict(THRESHOLDS),
        "base": clean(float(_block(total_view, names)[1][0])) if found is not None else None,
        "reliability": reliability,
        "segments": segment_entries,
        "cfa": cfa_section,
        "efa": efa_section,
        "duplicates": duplicates,
        "items": item_rows,
        "flags": flags,
        "flagged_items": flagged,
        "discriminant": "measurement",
    }
