"""Scoring: every scorer, the CSI, comparisons and the base rules against direct computations on the raw rows.

The engine never reads rows after the statistics pass: it scores merged sums. Each test
here builds respondents as a pandas frame, runs the engine (the statistics pass, then
``scoring.score`` with the built-in scorers), and recomputes every number from the frame
with plain numpy, pandas and scipy: per group (the total, each wave, each region and
dealer, each dealer in each wave) and per metric.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from scipy import stats as sps

from surveyengine import scoring, stats, views
from surveyengine.data import Responses, load_responses
from surveyengine.plugins import get_plugin_manager
from surveyengine.results import Group, Results, Value
from surveyengine.study import Study, load_study

QUESTIONNAIRE = """\
surveyengine: 1
id: scoring-test
title: Scoring test
languages: [en]
scales:
  sat5: {{min: 1, max: 5, missing: {{9: Don't know}}}}
  likely11: {{min: 0, max: 10}}
choices:
  yesno: {{options: {{1: "Yes", 2: "No"}}}}
factors:
  - id: product
    kind: product
    label: Product
    items:
      - {{id: quality, text: Quality, scale: sat5, expectation: exp_quality}}
      - {{id: price, text: Price, scale: sat5}}
  - id: service
    kind: service
    label: Service
    items:
      - {{id: staff, text: Staff, scale: sat5, expectation: exp_staff}}
      - {{id: speed, text: Speed, scale: sat5}}
      - {{id: advice, text: Advice, scale: sat5}}
questions:
  - {{id: exp_quality, text: Expected quality, scale: sat5}}
  - {{id: exp_staff, text: Expected staff, scale: sat5}}
  - {{id: overall, text: Overall, scale: sat5}}
  - {{id: recommend, text: Recommend, scale: likely11}}
  - {{id: complained, text: Complained, choices: yesno}}
  - {{id: resolved, text: Resolved, choices: yesno, when: complained == 1}}
outcomes:
  overall: [overall]
  recommend: recommend
  complaint: {{item: complained, yes: [1], resolved: resolved, resolved_yes: [1]}}
segments:
  - {{id: region, label: Region}}
  - {{id: dealer, label: Dealer, parent: region}}
wave: {{column: month, frequency: month}}
index: {{drivers: [product, service], outcome: overall, method: equal, min_base: {min_base}, privacy_min: {privacy_min}}}
{weights}"""

SAT5 = ("quality", "price", "staff", "speed", "advice", "exp_quality", "exp_staff", "overall")
SCALES = {**{item: (1, 5) for item in SAT5}, "recommend": (0, 10)}
NUMERIC = (*SAT5, "recommend", "complained", "resolved")
FACTORS = {"product": ("quality", "price"), "service": ("staff", "speed", "advice")}
DRIVERS = ("product", "service")
GAPS = {"quality": "exp_quality", "staff": "exp_staff"}
DEALERS = {"N1": "North", "N2": "North", "N3": "North", "S1": "South", "S2": "South"}
MONTHS = ("2026-01", "2026-02", "2026-03")
Z = sps.norm.ppf(0.975)
NAN = math.nan


# ------------------------------------------------------------------------------ study and data


@pytest.fixture(scope="module")
def pm():
    return get_plugin_manager(entry_points=False)


def write_study(root: Path, frame: pd.DataFrame | None = None, *, weighted: bool = False, min_base: int = 30,
                privacy_min: int = 5, seed: int = 0) -> Path:
    """A study folder; the frame's missing ratings are written as blanks or as the don't-know code 9."""
    root.mkdir(parents=True, exist_ok=True)
    weights = "weights: {column: w}\n" if weighted else ""
    (root / "questionnaire.yaml").write_text(QUESTIONNAIRE.format(min_base=min_base, privacy_min=privacy_min,
                                                                  weights=weights), encoding="utf-8")
    (root / "surveyengine.yaml").write_text("questionnaire: questionnaire.yaml\ndata: [data/*.csv]\n",
                                            encoding="utf-8")
    if frame is not None:
        rng = np.random.default_rng(seed)
        out = frame.copy().astype(object)
        for column in NUMERIC:
            values = frame[column].to_numpy(float)
            text = np.where(np.isnan(values), "", np.nan_to_num(values).astype(int).astype(str)).astype(object)
            if column in SAT5:
                text[np.isnan(values) & (rng.random(len(frame)) < 0.4)] = "9"  # don't know: missing too
            out[column] = text
        if "w" in out and not weighted:
            out = out.drop(columns="w")
        (root / "data").mkdir(exist_ok=True)
        out.to_csv(root / "data" / "responses.csv", index=False)
    return root


@pytest.fixture(scope="module")
def open_study(tmp_path_factory, pm) -> Study:
    """A study that shows every value (privacy_min 1, min_base 1), for the direct comparisons."""
    return load_study(write_study(tmp_path_factory.mktemp("open"), min_base=1, privacy_min=1), pm)


@pytest.fixture(scope="module")
def study(tmp_path_factory, pm) -> Study:
    """The same questionnaire with the usual base rules (privacy_min 5, min_base 30)."""
    return load_study(write_study(tmp_path_factory.mktemp("usual")), pm)


def make_frame(n: int, seed: int, *, weighted: bool = False, missing: float = 0.1, complete_scores: bool = False,
               dealers: dict[str, int] | None = None, shift: dict[str, float] | None = None) -> pd.DataFrame:
    """Respondents with correlated ratings, missing answers and optional weights.

    ``dealers`` fixes the number of respondents per dealer; ``shift`` moves a dealer's
    satisfaction; ``complete_scores`` keeps the first item of each factor answered, so
    every respondent has every factor score.
    """
    rng = np.random.default_rng(seed)
    if dealers is None:
        dealer = rng.choice(list(DEALERS), size=n, p=[0.15, 0.2, 0.25, 0.25, 0.15])
    else:
        dealer = np.repeat(list(dealers), list(dealers.values()))
        n = dealer.size
    frame = pd.DataFrame({"respondent_id": [f"R{k}" for k in range(n)],
                          "region": [DEALERS[d] for d in dealer], "dealer": dealer,
                          "month": rng.choice(MONTHS, size=n)})
    latent = rng.normal(size=n) + np.array([(shift or {}).get(d, 0.0) for d in dealer])
    for item in SAT5:
        values = np.clip(np.rint(3.2 + 0.9 * latent + rng.normal(0, 0.8, n)), 1, 5)
        gone = rng.random(n) < missing
        if complete_scores and item in ("quality", "staff"):
            gone[:] = False
        frame[item] = np.where(gone, np.nan, values)
    frame["recommend"] = np.where(rng.random(n) < missing / 2, np.nan,
                                  np.clip(np.rint(7 + 2 * latent + rng.normal(0, 1.5, n)), 0, 10))
    complained = np.where(rng.random(n) < 1 / (1 + np.exp(1.5 + latent)), 1.0, 2.0)
    complained[rng.random(n) < missing / 2] = np.nan
    frame["complained"] = complained
    frame["resolved"] = np.where((complained == 1) & (rng.random(n) > 0.1), rng.integers(1, 3, n), np.nan)
    if weighted:
        frame["w"] = np.round(rng.lognormal(0, 0.45, n), 4)
    return frame


def responses_of(frame: pd.DataFrame, weighted: bool) -> Responses:
    """The frame as the data layer lays it out (float32 answers, sorted label tables), without files."""
    n = len(frame)
    segments, labels = {}, {}
    for segment in ("region", "dealer"):
        labels[segment] = sorted(frame[segment].unique().tolist())
        segments[segment] = np.searchsorted(labels[segment], frame[segment].to_numpy()).astype(np.int32)
    waves = sorted(frame["month"].unique().tolist())
    return Responses(
        items=NUMERIC, answers=frame[list(NUMERIC)].to_numpy(np.float32), ids=frame["respondent_id"].to_numpy(),
        segments=segments, segment_labels=labels,
        wave=np.searchsorted(waves, frame["month"].to_numpy()).astype(np.int32), wave_labels=waves,
        weights=frame["w"].to_numpy(float) if weighted else None, text={},
        source_file=np.zeros(n, dtype=np.int32), source_row=np.arange(n, dtype=np.int64) + 2, files=["x.csv"],
        rows_read=n)


def run(study: Study, responses: Responses, pm) -> Results:
    plan = stats.plan_for(study.questionnaire, responses.items)
    summary = stats.compute_all(responses, plan)
    return scoring.score(study, summary, views.labels_of(responses), responses.account(), pm)


# ------------------------------------------------------------------------ direct computations


def t975(df: float) -> float:
    """The t quantile of a 95% interval (the engine counts 0 < df < 1 as df = 1)."""
    return float(sps.t.ppf(0.975, max(df, 1.0))) if df > 0 else NAN


def kish(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w**2).sum()) if w.size else 0.0


def estimate(x: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """Weighted mean, variance (scaled to the effective base), effective base and 95% t interval."""
    answered = ~np.isnan(x)
    x, w = x[answered], w[answered]
    if x.size == 0:
        return {"mean": NAN, "var": NAN, "sd": NAN, "n": 0, "neff": 0.0, "low": NAN, "high": NAN}
    mean = float(np.average(x, weights=w))
    neff = kish(w)
    var = float(np.average((x - mean) ** 2, weights=w)) * neff / (neff - 1) if neff > 1 else NAN
    half = t975(neff - 1) * math.sqrt(var / neff) if neff > 1 else NAN
    if np.all(w == 1) and x.size > 1:  # unweighted: the textbook t interval
        assert var == pytest.approx(np.var(x, ddof=1), rel=1e-9, abs=1e-12)
        if var > 0:
            low, high = sps.t.interval(0.95, x.size - 1, loc=mean, scale=sps.sem(x))
            assert (mean - half, mean + half) == pytest.approx((low, high), rel=1e-9)
    return {"mean": mean, "var": var, "sd": math.sqrt(var) if var == var else NAN, "n": int(x.size),
            "neff": neff, "low": mean - half, "high": mean + half}


def wilson(share: float, neff: float) -> tuple[float, float]:
    if not neff > 0 or share != share:
        return NAN, NAN
    centre = (share + Z**2 / (2 * neff)) / (1 + Z**2 / neff)
    half = Z * math.sqrt(share * (1 - share) / neff + Z**2 / (4 * neff**2)) / (1 + Z**2 / neff)
    return centre - half, centre + half


def share(mask: np.ndarray, answered: np.ndarray, w: np.ndarray) -> float:
    total = w[answered].sum()
    return float(w[answered & mask].sum() / total) if total > 0 else NAN


def welch(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray) -> tuple[float, float]:
    """(difference of means, two-sided p) of Welch's t; unweighted it is scipy's ttest_ind(equal_var=False)."""
    ea, eb = estimate(a, wa), estimate(b, wb)
    if not (ea["neff"] > 1 and eb["neff"] > 1):
        return ea["mean"] - eb["mean"], NAN
    if np.all(wa == 1) and np.all(wb == 1):
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if a.size < 2 or b.size < 2 or (np.var(a) == 0 and np.var(b) == 0):
            return ea["mean"] - eb["mean"], NAN
        with warnings.catch_warnings():  # nearly equal samples: scipy warns, and still answers
            warnings.simplefilter("ignore", RuntimeWarning)
            return ea["mean"] - eb["mean"], float(sps.ttest_ind(a, b, equal_var=False).pvalue)
    va, vb = ea["var"] / ea["neff"], eb["var"] / eb["neff"]
    t = (ea["mean"] - eb["mean"]) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (ea["neff"] - 1) + vb**2 / (eb["neff"] - 1))
    return ea["mean"] - eb["mean"], float(2 * sps.t.sf(abs(t), max(df, 1))) if t == t else NAN


def factor_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Per respondent and factor: the mean of its answered items rescaled to 0-100 (NaN when none)."""
    return pd.DataFrame({f: ((frame[list(items)] - 1) / 4 * 100).mean(axis=1, skipna=True)
                         for f, items in FACTORS.items()})


def pairwise_cov(data: pd.DataFrame, w: np.ndarray) -> np.ndarray:
    """Weighted population covariances, each pair on the rows that answered both."""
    columns = list(data)
    out = np.full((len(columns), len(columns)), NAN)
    for i, a in enumerate(columns):
        for j, b in enumerate(columns):
            both = data[[a, b]].notna().all(axis=1).to_numpy()
            if both.any():
                out[i, j] = np.cov(data[a].to_numpy(float)[both], data[b].to_numpy(float)[both],
                                   aweights=w[both], ddof=0)[0, 1]
    return out


def csi(frame: pd.DataFrame, w: np.ndarray) -> dict[str, float]:
    """The equal-weight CSI: mean of the driver factor scores; variance w'Cw (pairwise covariance of the
    per-respondent factor scores) on the smallest effective base of its drivers."""
    scores = factor_scores(frame)[list(DRIVERS)]
    weights = np.full(len(DRIVERS), 1 / len(DRIVERS))
    means = np.array([estimate(scores[f].to_numpy(), w)["mean"] for f in DRIVERS])
    value = float(means @ weights)
    cov = np.nan_to_num(pairwise_cov(scores, w))
    neff = min(kish(w[scores[f].notna().to_numpy()]) for f in DRIVERS)
    var = float(weights @ cov @ weights) * neff / (neff - 1) if neff > 1 else NAN
    half = t975(neff - 1) * math.sqrt(var / neff) if neff > 1 else NAN
    base = min(int(scores[f].notna().sum()) for f in DRIVERS)
    # the engine's cross-products of 0-100 scores are float32 sums: the variance is good to about
    # 1e-6 of 100^2, which moves a bound by at most this much (most where the variance is near zero)
    delta = 1e-6 * 100**2
    noise = t975(neff - 1) / math.sqrt(neff) * min(math.sqrt(delta), delta / (2 * math.sqrt(var)) if var > 0
                                                   else math.inf) if neff > 1 else 0.0
    return {"value": value, "var": var, "neff": neff, "low": value - half, "high": value + half, "base": base,
            "noise": noise}


def alpha(items: pd.DataFrame, w: np.ndarray) -> float:
    """Cronbach's alpha from the pairwise covariance: k/(k-1) (1 - trace C / sum C)."""
    cov = pairwise_cov(items, w)
    k = cov.shape[0]
    total = cov.sum()  # undefined when the sum does not vary (up to rounding)
    return float(k / (k - 1) * (1 - np.trace(cov) / total)) if total > 1e-9 * np.trace(cov) else NAN


def V(value: Any, base: float, low: float = NAN, high: float = NAN, p: float = NAN) -> dict[str, Any]:
    return {"value": value, "base": base, "ci_low": low, "ci_high": high, "p": p}


def expected(frame: pd.DataFrame, w: np.ndarray, *, items: bool, cross: bool) -> dict[tuple[str, str, str], dict]:
    """Every metric of one group, computed from its rows: (section, target, name) -> value, base, interval, p."""
    out: dict[tuple[str, str, str], dict] = {}
    if items:
        for item, (lo, hi) in SCALES.items():
            x = frame[item].to_numpy(float)
            e = estimate(x, w)
            f = 100 / (hi - lo)
            out["items", item, "mean"] = V(e["mean"], e["n"], e["low"], e["high"])
            out["items", item, "sd"] = V(e["sd"], e["n"])
            out["items", item, "score"] = V((e["mean"] - lo) * f, e["n"], (e["low"] - lo) * f, (e["high"] - lo) * f)
            answered = ~np.isnan(x)
            points = hi - lo + 1
            k = 2 if points <= 7 else 3
            neff = kish(w[answered])
            top, bottom = share(x >= hi - k + 1, answered, w), share(x <= lo + k - 1, answered, w)
            out["items", item, "top_box"] = V(100 * top, e["n"], *(100 * v for v in wilson(top, neff)))
            out["items", item, "bottom_box"] = V(100 * bottom, e["n"], *(100 * v for v in wilson(bottom, neff)))
            out["items", item, "distribution"] = V([100 * share(x == v, answered, w) for v in range(lo, hi + 1)],
                                                   e["n"])
        for perception, expectation in GAPS.items():
            p, e_ = frame[perception].to_numpy(float), frame[expectation].to_numpy(float)
            both = ~np.isnan(p) & ~np.isnan(e_)
            gap = np.where(both, p - e_, NAN)
            g = estimate(gap, w)
            out["items", perception, "gap"] = V(g["mean"], g["n"], g["low"], g["high"])
            met = share(gap >= 0, both, w)
            out["items", perception, "expectation_met"] = V(100 * met, g["n"],
                                                            *(100 * v for v in wilson(met, g["neff"])))
            exp = estimate(e_, w)
            out["items", perception, "expectation_mean"] = V(exp["mean"], exp["n"])
    scores = factor_scores(frame)
    for factor, members in FACTORS.items():
        e = estimate(scores[factor].to_numpy(), w)
        out["factors", factor, "score"] = V(e["mean"], e["n"], e["low"], e["high"])
        if cross:
            data = frame[list(members)]
            pairs = [int(data[[a, b]].notna().all(axis=1).sum()) for a in members for b in members]
            answered = [int(data[a].notna().sum()) for a in members]
            base = min(pairs) if np.all(w == 1) else min(answered)
            out["factors", factor, "alpha"] = V(alpha(data, w), base)
    # NPS: the score variable is +100 (9-10), 0 (7-8), -100 (0-6); its variance is 100^2 (p + d - (p - d)^2)
    x = frame["recommend"].to_numpy(float)
    answered = ~np.isnan(x)
    promoters, detractors = share(x >= 9, answered, w), share(x <= 6, answered, w)
    s = np.where(answered, 100.0 * (x >= 9) - 100.0 * (x <= 6), NAN)
    if answered.any():
        nps = float(np.average(s[answered], weights=w[answered]))
        variance = float(np.average((s[answered] - nps) ** 2, weights=w[answered]))
        assert variance == pytest.approx(100**2 * (promoters + detractors - (promoters - detractors) ** 2), abs=1e-6)
        assert nps == pytest.approx(100 * (promoters - detractors), abs=1e-9)
        half = Z * math.sqrt(variance / kish(w[answered]))
    else:
        nps = half = NAN
    n = int(answered.sum())
    out["headline", "nps", "nps"] = V(nps, n, nps - half, nps + half)
    out["headline", "nps", "promoters"] = V(100 * promoters, n)
    out["headline", "nps", "detractors"] = V(100 * detractors, n)
    out["headline", "nps", "passives"] = V(100 * (1 - promoters - detractors), n)
    # complaints
    c = frame["complained"].to_numpy(float)
    answered = ~np.isnan(c)
    rate = share(c == 1, answered, w)
    out["headline", "complaint", "rate"] = V(100 * rate, int(answered.sum()),
                                             *(100 * v for v in wilson(rate, kish(w[answered]))))
    r = frame["resolved"].to_numpy(float)
    answered_r = ~np.isnan(r)
    resolved = share(r == 1, answered_r, w)
    out["headline", "complaint", "resolved"] = V(100 * resolved, int(answered_r.sum()),
                                                 *(100 * v for v in wilson(resolved, kish(w[answered_r]))))
    overall = frame["overall"].to_numpy(float)
    complainers, others = c == 1, answered & (c != 1)
    a, b = estimate(overall[complainers], w[complainers]), estimate(overall[others], w[others])
    out["headline", "complaint", "complainers_satisfaction"] = V(a["mean"], a["n"], a["low"], a["high"])
    out["headline", "complaint", "others_satisfaction"] = V(b["mean"], b["n"], b["low"], b["high"])
    difference, p = welch(overall[complainers], w[complainers], overall[others], w[others])
    out["headline", "complaint", "satisfaction_difference"] = V(difference, a["n"], p=p)
    index = csi(frame, w)
    out["headline", "csi", "csi"] = {**V(index["value"], index["base"], index["low"], index["high"]),
                                     "noise": index["noise"]}
    out["headline", "csi", "csi_equal"] = V(index["value"], index["base"])
    return out


def groups(results: Results) -> list[Group]:
    out = [results.total, *results.waves]
    for segment in results.segments:
        out += segment.units + segment.trend
    return out


def rows_of(frame: pd.DataFrame, group: Group) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    if "segment" in group.key:
        mask &= frame[group.key["segment"]].to_numpy() == group.key["unit"]
    if "wave" in group.key:
        mask &= frame["month"].to_numpy() == group.key["wave"]
    return mask


def close(actual: Any, wanted: Any, tolerance: float = 1e-8) -> bool:
    """Equal up to the 6 significant digits results.json keeps, or ``tolerance``; None stands for NaN."""
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(actual) == len(wanted) and all(map(close, actual, wanted))
    if wanted is None or (isinstance(wanted, float) and math.isnan(wanted)):
        return actual is None
    return actual is not None and actual == pytest.approx(wanted, rel=2e-5, abs=tolerance)


def section(group: Group, name: str) -> dict[str, dict[str, Value]]:
    return {"items": group.items, "factors": group.factors, "headline": group.headline}[name]


def assert_group_equals_direct(group: Group, frame: pd.DataFrame, weighted: bool, privacy_min: int) -> None:
    rows = rows_of(frame, group)
    part = frame[rows]
    w = part["w"].to_numpy(float) if weighted else np.ones(len(part))
    assert group.base == len(part)
    assert group.base_eff == pytest.approx(kish(w), rel=1e-5)
    by_unit = "segment" in group.key and "wave" not in group.key
    want = expected(part, w, items=not ("segment" in group.key and "wave" in group.key),
                    cross=by_unit or group.key.get("level") == "total")
    got = {(s, target, name) for s in ("items", "factors", "headline")
           for target, metrics in section(group, s).items() for name in metrics}
    assert got == set(want), (group.key, got ^ set(want))
    for (s, target, name), value in want.items():
        actual = section(group, s)[target][name]
        where = (group.key, s, target, name, actual, value)
        if group.suppressed or value["base"] < privacy_min:
            assert actual.value is None, where
            continue
        assert actual.base == value["base"], where
        assert close(actual.value, value["value"]), ("value", *where)
        assert close(actual.p, value["p"]), ("p", *where)
        # a bound is as good as the interval's magnitude (a bound near zero is a difference of two numbers)
        scale = max((abs(v) for v in (value["value"], value["ci_low"], value["ci_high"])
                     if isinstance(v, float) and math.isfinite(v)), default=0.0)
        for field in ("ci_low", "ci_high"):
            tolerance = max(1e-8, 2e-5 * scale, value.get("noise", 0.0))
            assert close(getattr(actual, field), value[field], tolerance), (field, *where)


# ------------------------------------------------------------------------- every scorer vs rows


rating = st.one_of(st.integers(1, 5).map(float), st.just(NAN))


@st.composite
def frames(draw) -> tuple[pd.DataFrame, bool]:
    """Small random samples: any dealer and month, any answer missing, optional weights."""
    n = draw(st.integers(1, 40))
    weighted = draw(st.booleans())
    ints = st.integers(0, 2**31)
    rng = np.random.default_rng(draw(ints))
    missing = draw(st.sampled_from([0.0, 0.15, 0.5]))
    frame = pd.DataFrame({"respondent_id": [f"R{k}" for k in range(n)]})
    dealer = np.asarray(draw(st.lists(st.sampled_from(list(DEALERS)), min_size=n, max_size=n)))
    frame["region"] = [DEALERS[d] for d in dealer]
    frame["dealer"] = dealer
    frame["month"] = draw(st.lists(st.sampled_from(MONTHS), min_size=n, max_size=n))
    for item in SAT5:
        values = rng.integers(1, 6, n).astype(float)
        values[rng.random(n) < missing] = NAN
        frame[item] = values
    frame["recommend"] = np.where(rng.random(n) < missing, NAN, rng.integers(0, 11, n))
    complained = rng.choice([1.0, 2.0, NAN], size=n, p=[0.3, 0.6, 0.1])
    frame["complained"] = complained
    frame["resolved"] = np.where(complained == 1, rng.choice([1.0, 2.0, NAN], size=n), NAN)
    frame["w"] = rng.choice([0.5, 1.0, 1.5, 2.75], size=n) if weighted else 1.0
    return frame, weighted


class Quiet:
    """A fixture value that hypothesis reports by name, not by its (long) repr."""

    def __init__(self, name: str, **values: Any) -> None:
        self.name = name
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(scope="module")
def open_engine(open_study, pm) -> Quiet:
    return Quiet("the open study", study=open_study, pm=pm)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(frames())
def test_property_every_scorer_equals_a_direct_computation_on_the_rows(open_engine, sample) -> None:
    frame, weighted = sample
    results = run(open_engine.study, responses_of(frame, weighted), open_engine.pm)
    for group in groups(results):
        assert not group.suppressed
        assert_group_equals_direct(group, frame, weighted, privacy_min=1)


@pytest.mark.parametrize("weighted", [False, True])
def test_scores_through_the_data_layer_equal_a_direct_computation(tmp_path: Path, pm, weighted: bool) -> None:
    frame = make_frame(400, seed=1, weighted=weighted)
    study = load_study(write_study(tmp_path, frame, weighted=weighted), pm)
    responses = load_responses(study, pm)
    np.testing.assert_array_equal(responses.answers, frame[list(NUMERIC)].to_numpy(np.float32))  # 9 -> missing
    results = run(study, responses, pm)
    assert results.respondents == 400 and results.account["rows_read"] == 400
    assert len(groups(results)) == 1 + 3 + 2 + 5 + 2 * 3 + 5 * 3
    for group in groups(results):
        assert_group_equals_direct(group, frame, weighted, privacy_min=5)


def test_unit_per_wave_views_get_headline_and_factor_metrics_only(open_study, pm) -> None:
    """Each unit per wave shows no item metrics, so the built-in scorers do not compute them there (a trend view
    has a row per unit and wave); every other view gets them, and the factor scores are the same either way."""
    frame = make_frame(300, seed=21)
    responses = responses_of(frame, False)
    plan = stats.plan_for(open_study.questionnaire, responses.items)
    every = views.build_views(open_study.questionnaire, stats.compute_all(responses, plan), views.labels_of(responses))
    trend, units = every["segment:dealer:wave"], every["segment:dealer"]
    assert not trend.item_metrics and units.item_metrics and every["wave"].item_metrics
    trend_metrics, unit_metrics = (scoring.run_scorers(view, open_study, pm) for view in (trend, units))
    assert {m.kind for m in trend_metrics} == {"factor", "headline"}
    assert {"item", "factor", "headline"} <= {m.kind for m in unit_metrics}
    scores = {m.target: m.values for m in trend_metrics if m.kind == "factor" and m.name == "score"}
    assert scores and all(np.array_equal(values, trend.cells.mean()[:, trend.cells.variables.index("@" + factor)],
                                         equal_nan=True) for factor, values in scores.items())


def test_weights_change_the_mean_and_widen_the_interval(open_study, pm) -> None:
    frame = make_frame(300, seed=2, weighted=True)
    weighted, plain = (run(open_study, responses_of(frame, w), pm).total for w in (True, False))
    for item in ("quality", "overall"):
        a, b = weighted.items[item]["mean"], plain.items[item]["mean"]
        assert a.value != pytest.approx(b.value, rel=1e-4)
        assert a.ci_high - a.ci_low > b.ci_high - b.ci_low
    assert weighted.base == plain.base == 300 and weighted.base_eff < plain.base_eff == 300


def test_nps_counts_promoters_9_10_and_detractors_0_6(open_study, pm) -> None:
    frame = make_frame(12, seed=3)
    frame["recommend"] = [0, 6, 6, 7, 8, 9, 10, 10, 10, NAN, 5, 9]  # 5 promoters, 4 detractors, 2 passives
    nps = run(open_study, responses_of(frame, False), pm).total.headline["nps"]
    assert nps["nps"].value == pytest.approx(100 * (5 - 4) / 11, rel=1e-5) and nps["nps"].base == 11
    assert nps["promoters"].value == pytest.approx(100 * 5 / 11, rel=1e-5)
    assert nps["detractors"].value == pytest.approx(100 * 4 / 11, rel=1e-5)
    assert nps["passives"].value == pytest.approx(100 * 2 / 11, rel=1e-5)


def test_top_box_of_a_5_point_scale_is_4_and_5(open_study, pm) -> None:
    frame = make_frame(10, seed=4)
    frame["quality"] = [1, 2, 3, 4, 5, 5, 4, NAN, 3, 2]
    quality = run(open_study, responses_of(frame, False), pm).total.items["quality"]
    assert quality["top_box"].value == pytest.approx(400 / 9, rel=1e-5)
    assert quality["bottom_box"].value == pytest.approx(300 / 9, rel=1e-5)
    assert quality["distribution"].value == pytest.approx([100 / 9, 200 / 9, 200 / 9, 200 / 9, 200 / 9], rel=1e-5)


def test_gap_uses_only_respondents_who_answered_both(open_study, pm) -> None:
    frame = make_frame(6, seed=5)
    frame["quality"] = [5, 3, NAN, 4, 2, 5]
    frame["exp_quality"] = [4, 4, 5, NAN, 2, 1]
    quality = run(open_study, responses_of(frame, False), pm).total.items["quality"]
    assert quality["gap"].base == 4
    assert quality["gap"].value == pytest.approx(np.mean([1, -1, 0, 4]), rel=1e-6)
    assert quality["expectation_met"].value == pytest.approx(75.0, rel=1e-6)
    assert quality["expectation_mean"].value == pytest.approx(16 / 5, rel=1e-6)
    assert quality["expectation_mean"].base == 5


def test_complaint_rate_resolution_and_complainers_against_the_others(open_study, pm) -> None:
    frame = make_frame(8, seed=6)
    frame["complained"] = [1, 1, 1, 2, 2, 2, 2, NAN]
    frame["resolved"] = [1, 2, 1, NAN, NAN, NAN, NAN, NAN]
    frame["overall"] = [2, 3, 1, 5, 4, 4, NAN, 5]
    complaint = run(open_study, responses_of(frame, False), pm).total.headline["complaint"]
    assert complaint["rate"].value == pytest.approx(300 / 7, rel=1e-6) and complaint["rate"].base == 7
    assert complaint["resolved"].value == pytest.approx(200 / 3, rel=1e-6) and complaint["resolved"].base == 3
    assert complaint["complainers_satisfaction"].value == pytest.approx(2.0)
    assert complaint["others_satisfaction"].value == pytest.approx(13 / 3, rel=1e-6)
    assert complaint["others_satisfaction"].base == 3
    test = sps.ttest_ind([2, 3, 1], [5, 4, 4], equal_var=False)
    assert complaint["satisfaction_difference"].value == pytest.approx(2 - 13 / 3, rel=1e-5)
    assert complaint["satisfaction_difference"].p == pytest.approx(test.pvalue, rel=1e-5)


def test_factor_score_is_the_mean_of_each_respondents_answered_items(open_study, pm) -> None:
    frame = make_frame(3, seed=7)
    frame[["staff", "speed", "advice"]] = [[5, 4, NAN], [NAN, NAN, 1], [NAN, NAN, NAN]]
    service = run(open_study, responses_of(frame, False), pm).total.factors["service"]["score"]
    assert service.base == 2  # the third respondent has no service score
    assert service.value == pytest.approx(np.mean([(100 + 75) / 2, 0]), rel=1e-6)


@pytest.mark.parametrize("seed", [8, 9])
def test_alpha_on_complete_data_is_the_textbook_formula(open_study, pm, seed: int) -> None:
    frame = make_frame(300, seed=seed, missing=0.0)
    results = run(open_study, responses_of(frame, False), pm)
    for group in [results.total, *results.segment("dealer").units, *results.segment("region").units]:
        part = frame[rows_of(frame, group)]
        for factor, members in FACTORS.items():
            x = part[list(members)].to_numpy(float)
            k = x.shape[1]
            textbook = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
            assert group.factors[factor]["alpha"].value == pytest.approx(textbook, rel=1e-5), (group.key, factor)
            assert group.factors[factor]["alpha"].base == len(part)
    assert 0.5 < results.total.factors["service"]["alpha"].value < 1  # correlated items: a reliable scale
    assert all("alpha" not in factor for group in results.waves for factor in group.factors.values())


@pytest.mark.parametrize("weighted", [False, True])
def test_csi_is_the_mean_of_driver_scores_with_the_interval_of_per_respondent_csi(open_study, pm,
                                                                                weighted: bool) -> None:
    frame = make_frame(500, seed=10, weighted=weighted, complete_scores=True)
    results = run(open_study, responses_of(frame, weighted), pm)
    for group in groups(results):
        part = frame[rows_of(frame, group)]
        w = part["w"].to_numpy(float) if weighted else np.ones(len(part))
        per_respondent = factor_scores(part)[list(DRIVERS)].mean(axis=1).to_numpy()  # equal weights
        e = estimate(per_respondent, w)
        index = group.headline["csi"]["csi"]
        assert index.value == pytest.approx(np.mean([group.factors[f]["score"].value for f in DRIVERS]), rel=1e-5)
        assert index.value == pytest.approx(e["mean"], rel=1e-5)
        assert (index.ci_low, index.ci_high) == pytest.approx((e["low"], e["high"]), rel=1e-5), group.key
        assert index.base == len(part)
        assert group.headline["csi"]["csi_equal"].value == index.value
    assert results.index["method"] == "equal" and results.index["drivers"] == list(DRIVERS)
    assert results.index["weights"] == {"product": 0.5, "service": 0.5}


# ------------------------------------------------------------------------------- comparisons


def per_respondent_csi(frame: pd.DataFrame) -> np.ndarray:
    return factor_scores(frame)[list(DRIVERS)].mean(axis=1).to_numpy()


def assert_comparison(comparison: dict[str, Any], unit: pd.DataFrame, rest: pd.DataFrame) -> None:
    a, b = factor_scores(unit), factor_scores(rest)
    pairs = {"product": (a["product"], b["product"]), "service": (a["service"], b["service"]),
             "overall": (unit["overall"], rest["overall"]), "csi": (per_respondent_csi(unit), per_respondent_csi(rest))}
    assert set(comparison) == {"against", *pairs}
    for name, (x, y) in pairs.items():
        x, y = np.asarray(x, float), np.asarray(y, float)
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        test = sps.ttest_ind(x, y, equal_var=False)
        assert comparison[name]["difference"] == pytest.approx(x.mean() - y.mean(), rel=1e-5, abs=1e-8), name
        assert comparison[name]["p"] == pytest.approx(test.pvalue, rel=1e-4), name
        assert comparison[name]["significant"] == (test.pvalue < 0.05), name


@pytest.mark.parametrize("seed", [11, 12])
def test_each_unit_against_the_rest_of_its_parent_is_welchs_t_on_the_rows(study, pm, seed: int) -> None:
    counts = {"N1": 90, "N2": 120, "N3": 25, "S1": 150, "S2": 110}
    frame = make_frame(0, seed=seed, dealers=counts, complete_scores=True, shift={"N2": -0.5, "S1": 0.4})
    results = run(study, responses_of(frame, False), pm)
    for unit in results.segment("dealer").units:
        mine = frame["dealer"].to_numpy() == unit.key["unit"]
        region = frame["region"].to_numpy() == unit.key["parent"]
        assert unit.comparison["against"] == "rest of its region"
        assert_comparison(unit.comparison, frame[mine], frame[region & ~mine])
    for unit in results.segment("region").units:
        mine = frame["region"].to_numpy() == unit.key["unit"]
        assert unit.comparison["against"] == "rest of the total"
        assert_comparison(unit.comparison, frame[mine], frame[~mine])


def test_a_unit_in_several_parents_is_not_compared(study, pm) -> None:
    frame = make_frame(0, seed=30, dealers={"N1": 60, "N2": 60, "N3": 60, "S1": 60, "S2": 60}, complete_scores=True)
    n1 = np.flatnonzero(frame["dealer"].to_numpy() == "N1")
    frame.loc[n1[:10], "region"] = "South"  # N1's rows lie in both regions
    units = {u.key["unit"]: u for u in run(study, responses_of(frame, False), pm).segment("dealer").units}
    assert "parent" not in units["N1"].key and units["N1"].comparison == {}
    assert not {"below-average", "above-average"} & set(units["N1"].flags)
    assert units["N2"].key["parent"] == "North" and units["N2"].comparison["against"] == "rest of its region"
    north = (frame["region"].to_numpy() == "North") & (frame["dealer"].to_numpy() != "N2")
    assert_comparison(units["N2"].comparison, frame[frame["dealer"].to_numpy() == "N2"], frame[north])


def test_below_average_only_when_significant_and_the_base_is_large_enough(study, pm) -> None:
    counts = {"N1": 80, "N2": 20, "N3": 90, "S1": 100, "S2": 100}
    shift = {"N1": -1.2, "N2": -1.5, "S1": 1.0}
    frame = make_frame(0, seed=13, dealers=counts, complete_scores=True, shift=shift)
    units = {u.key["unit"]: u for u in run(study, responses_of(frame, False), pm).segment("dealer").units}
    assert units["N1"].comparison["csi"]["significant"] and units["N1"].comparison["csi"]["difference"] < 0
    assert "below-average" in units["N1"].flags
    # as far below, but on 20 respondents (min_base is 30): significant, shown, not flagged
    assert units["N2"].comparison["csi"]["significant"] and units["N2"].comparison["csi"]["difference"] < 0
    assert units["N2"].flags == ["small-base"]
    assert "above-average" in units["S1"].flags and "above-average" not in units["S2"].flags
    for unit in units.values():
        test = unit.comparison["csi"]
        below = test["significant"] and test["difference"] < 0 and unit.base >= 30
        assert ("below-average" in unit.flags) == below, unit.key


def test_no_flag_for_a_difference_that_is_noise(study, pm) -> None:
    frame = make_frame(0, seed=14, dealers={"N1": 200, "N2": 200, "N3": 200, "S1": 200, "S2": 200},
                       complete_scores=True)
    units = run(study, responses_of(frame, False), pm).segment("dealer").units
    for unit in units:
        assert unit.comparison["csi"]["significant"] == (unit.comparison["csi"]["p"] < 0.05)
        if not unit.comparison["csi"]["significant"]:
            assert unit.flags == []


def test_previous_wave_change_is_welchs_t_between_the_waves(study, pm) -> None:
    frame = make_frame(600, seed=15, complete_scores=True)
    later = frame["month"].to_numpy() == MONTHS[2]
    frame.loc[later, ["quality", "staff"]] = np.minimum(frame.loc[later, ["quality", "staff"]] + 1, 5)
    results = run(study, responses_of(frame, False), pm)
    assert [w.key["wave"] for w in results.waves] == list(MONTHS)
    assert "previous_wave" not in results.waves[0].comparison
    trend = results.segment("dealer").trend
    for group in [*results.waves[1:], *trend]:
        wave = group.key["wave"]
        if wave == MONTHS[0]:
            assert "previous_wave" not in group.comparison
            continue
        before = MONTHS[MONTHS.index(wave) - 1]
        unit = rows_of(frame, Group({k: v for k, v in group.key.items() if k != "wave"}, "", 0, 0))
        now = per_respondent_csi(frame[unit & (frame["month"].to_numpy() == wave)])
        then = per_respondent_csi(frame[unit & (frame["month"].to_numpy() == before)])
        change = group.comparison["previous_wave"]
        test = sps.ttest_ind(now, then, equal_var=False)
        assert change["wave"] == before
        assert change["csi_change"] == pytest.approx(now.mean() - then.mean(), rel=1e-5, abs=1e-8)
        assert change["p"] == pytest.approx(test.pvalue, rel=1e-4)
        assert change["significant"] == (test.pvalue < 0.05)
    assert results.waves[2].comparison["previous_wave"]["significant"]


# -------------------------------------------------------------------------------- base rules


def all_values(group: Group) -> list[Value]:
    return [v for s in (group.headline, group.factors, group.items) for metrics in s.values() for v in metrics.values()]


def test_a_group_below_privacy_min_shows_nothing(study, pm) -> None:
    frame = make_frame(0, seed=16, dealers={"N1": 4, "N2": 3, "N3": 60, "S1": 50, "S2": 60})
    results = run(study, responses_of(frame, False), pm)
    units = {u.key["unit"]: u for u in results.segment("dealer").units}
    for code in ("N1", "N2"):
        assert units[code].flags == ["suppressed"]  # two hidden under North: nothing more to hide
        assert units[code].base < 5 and units[code].comparison == {}
        assert all_values(units[code]) and all(v.value is None and v.base is None for v in all_values(units[code]))
    assert not units["N3"].suppressed and units["N3"].headline["csi"]["csi"].value is not None
    for group in results.segment("dealer").trend:
        assert group.suppressed == (group.base < 5), group.key
    assert results.total.flags == [] and results.total.base == 177


def test_one_suppressed_unit_under_a_parent_hides_the_next_smallest_too(study, pm) -> None:
    counts = {"N1": 3, "N2": 45, "N3": 60, "S1": 50, "S2": 4}
    frame = make_frame(0, seed=17, dealers=counts, complete_scores=True, shift={"N2": -1.5})
    results = run(study, responses_of(frame, False), pm)
    units = {u.key["unit"]: u for u in results.segment("dealer").units}
    assert units["N1"].flags == ["suppressed"]
    # N2 is hidden as well, else N1 = North - N2 - N3; it loses its below-average flag and comparison too
    assert units["N2"].flags == ["suppressed", "suppressed-complementary"]
    assert units["N2"].comparison == {}
    assert all(v.value is None for v in all_values(units["N2"]))
    assert units["S2"].flags == ["suppressed"] and units["S1"].flags == ["suppressed", "suppressed-complementary"]
    assert not units["N3"].suppressed
    # and so is every wave of N2, whose sum would give N2 back
    n2_trend = [g for g in results.segment("dealer").trend if g.key["unit"] == "N2"]
    assert n2_trend and all(g.suppressed for g in n2_trend)
    assert all(v.value is None for g in n2_trend for v in all_values(g))
    assert all(not g.suppressed for g in results.segment("dealer").trend if g.key["unit"] == "N3" and g.base >= 5)


def test_complementary_suppression_among_top_level_units(study, pm) -> None:
    frame = make_frame(0, seed=18, dealers={"N1": 40, "N2": 40, "N3": 40, "S1": 2, "S2": 1})
    regions = {u.key["unit"]: u for u in run(study, responses_of(frame, False), pm).segment("region").units}
    assert regions["South"].flags == ["suppressed"]
    assert regions["North"].flags == ["suppressed", "suppressed-complementary"]  # else South = total - North


def test_a_value_on_fewer_respondents_than_privacy_min_is_hidden_alone(study, pm) -> None:
    frame = make_frame(0, seed=19, dealers={"N1": 40, "N2": 40, "N3": 40, "S1": 40, "S2": 40}, complete_scores=True)
    s1 = frame["dealer"].to_numpy() == "S1"
    frame.loc[s1, "advice"] = [4, 5, 3] + [NAN] * 37  # three answers in S1
    units = {u.key["unit"]: u for u in run(study, responses_of(frame, False), pm).segment("dealer").units}
    advice = units["S1"].items["advice"]
    assert set(advice) == {"mean", "sd", "score", "top_box", "bottom_box", "distribution"}
    assert all(v.value is None and v.base is None for v in advice.values())
    assert units["S1"].flags == []
    assert units["S1"].items["staff"]["mean"].value is not None
    assert units["S1"].factors["service"]["score"].base == 40 and units["S1"].factors["service"]["score"].value
    assert units["S2"].items["advice"]["mean"].value is not None


def test_a_hidden_value_has_no_comparison_either(study, pm) -> None:
    frame = make_frame(0, seed=31, dealers={"N1": 40, "N2": 40, "N3": 40, "S1": 40, "S2": 40}, complete_scores=True)
    n1 = frame["dealer"].to_numpy() == "N1"
    frame.loc[n1, "overall"] = [3, 4, 2] + [NAN] * 37  # N1's mean overall rests on three answers
    in_february = n1 & (frame["month"].to_numpy() == MONTHS[1])
    frame.loc[np.flatnonzero(in_february)[3:], ["quality", "price"]] = NAN  # and its February CSI on three
    results = run(study, responses_of(frame, False), pm)
    units = {u.key["unit"]: u for u in results.segment("dealer").units}
    assert units["N1"].items["overall"]["mean"].value is None
    assert units["N1"].comparison["overall"] == {"difference": None, "p": None, "significant": False}
    assert units["N1"].comparison["product"]["difference"] is not None  # the others are shown
    assert units["N2"].comparison["overall"]["difference"] is not None
    trend = {g.key["wave"]: g for g in results.segment("dealer").trend if g.key["unit"] == "N1"}
    assert trend[MONTHS[1]].base >= 5 and not trend[MONTHS[1]].suppressed
    assert trend[MONTHS[1]].headline["csi"]["csi"].value is None
    # the change to February, or from it, would give February's hidden CSI back
    assert "previous_wave" not in trend[MONTHS[1]].comparison
    assert "previous_wave" not in trend[MONTHS[2]].comparison
    assert "previous_wave" in results.waves[2].comparison


def test_small_base_is_flagged_but_shown(study, pm) -> None:
    frame = make_frame(0, seed=20, dealers={"N1": 29, "N2": 30, "N3": 5, "S1": 4, "S2": 100})
    units = {u.key["unit"]: u for u in run(study, responses_of(frame, False), pm).segment("dealer").units}
    assert units["N1"].flags == ["small-base"] and units["N1"].items["quality"]["mean"].value is not None
    assert units["N2"].flags == []  # exactly min_base is not small
    assert units["N3"].flags == ["small-base"] and units["N3"].headline["csi"]["csi"].value is not None
    assert units["S1"].flags == ["suppressed"]
    assert units["S2"].flags == ["suppressed", "suppressed-complementary"]


def test_no_value_is_nan_or_infinite(study, pm) -> None:
    frame = make_frame(0, seed=21, dealers={"N1": 6, "N2": 30, "N3": 40, "S1": 50, "S2": 9})
    frame["price"] = NAN  # nobody answered price
    results = run(study, responses_of(frame, False), pm)
    assert results.total.items["price"]["mean"].value is None
    assert results.total.factors["product"]["score"].value is not None  # from quality alone
    for group in groups(results):
        if group.items:
            assert all(v.value is None for v in group.items["price"].values()), group.key
        for value in all_values(group):
            for number in (value.value, value.ci_low, value.ci_high, value.p):
                numbers = number if isinstance(number, list) else [number]
                assert all(x is None or math.isfinite(x) for x in numbers), group.key


# ----------------------------------------------------------------------------- the results


def test_results_carry_the_account_and_the_study(tmp_path: Path, pm) -> None:
    frame = make_frame(60, seed=22)
    frame.loc[3, "region"] = ""  # no region: excluded
    study = load_study(write_study(tmp_path, frame), pm)
    responses = load_responses(study, pm)
    results = scoring.score(study, stats.compute_all(responses, stats.plan_for(study.questionnaire,
                                                                                responses.items)),
                            views.labels_of(responses), responses.account(), pm,
                            [e.as_dict() for e in responses.exclusions])
    assert results.respondents == 59 == results.total.base
    assert results.account["rows_read"] == 60 and results.account["rows_excluded"] == 1
    assert len(results.exclusions) == 1 and results.exclusions[0]["row"] == 5
    assert results.study["id"] == "scoring-test" and results.schema_version == 3
    assert results.index["min_base"] == 30 and results.index["privacy_min"] == 5
    assert [f.id for f in results.factors] == ["product", "service"]
    assert {i.id: i.expectation for i in results.items}["quality"] == "exp_quality"
    assert results.as_dict()["account"] == results.account


def test_source_date_epoch_sets_the_build_date(open_study, pm, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225599")  # 2025-12-31T23:59:59Z
    assert scoring.build_date() == "2025-12-31"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert scoring.build_date() == "2026-01-01"
    assert run(open_study, responses_of(make_frame(20, seed=23), False), pm).generated == "2026-01-01"


def test_without_source_date_epoch_the_date_is_today(monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = dt.datetime.now(dt.timezone.utc).date().isoformat()
    value = scoring.build_date()
    after = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert value in (before, after)



# --------------------------------------------------------------------------------- weighters
def correlated_data(seed: int, n: int = 600, p: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(n, 1))
    x = 0.7 * common + rng.normal(size=(n, p)) * np.linspace(0.5, 1.2, p)
    y = x @ np.linspace(1.0, 0.2, p) + rng.normal(size=n) * 1.5
    return x, y


def standardized(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(axis=0)) / a.std(axis=0)


def fit(pm, method: str, x: np.ndarray, y: np.ndarray, order=None):
    data = np.column_stack([y, x])
    corr = np.corrcoef(data, rowvar=False)
    drivers = list(range(1, data.shape[1])) if order is None else [1 + k for k in order]
    weighter = pm.registry("weighters").get(method)()
    returned = weighter.fit(corr, 0, drivers)
    assert returned is weighter
    return weighter


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relative_weights_sum_to_the_r2_of_linear_regression(pm, seed: int) -> None:
    x, y = correlated_data(seed)
    weighter = fit(pm, "relative-weights", x, y)
    xs, ys = standardized(x), standardized(y)
    r2 = LinearRegression().fit(xs, ys).score(xs, ys)
    assert weighter.r2_ == pytest.approx(r2, rel=1e-9)
    assert weighter.importance_.sum() == pytest.approx(r2, rel=1e-9)
    assert weighter.importance_.shape == (x.shape[1],)
    assert np.all(weighter.importance_ > 0)


def test_relative_weights_of_uncorrelated_drivers_are_squared_correlations(pm) -> None:
    rng = np.random.default_rng(3)
    x = standardized(rng.normal(size=(400, 3)))
    q, _ = np.linalg.qr(x - x.mean(axis=0))  # exactly uncorrelated columns
    x = q * np.sqrt(400)
    y = x @ np.array([0.6, 0.3, 0.1]) + rng.normal(size=400)
    weighter = fit(pm, "relative-weights", x, y)
    r = np.corrcoef(np.column_stack([y, x]), rowvar=False)[0, 1:]
    np.testing.assert_allclose(weighter.importance_, r**2, rtol=1e-9, atol=1e-12)


def test_relative_weights_follow_their_drivers_when_reordered(pm) -> None:
    x, y = correlated_data(4)
    plain = fit(pm, "relative-weights", x, y)
    order = [2, 0, 3, 1]
    reordered = fit(pm, "relative-weights", x, y, order=order)
    np.testing.assert_allclose(reordered.importance_, plain.importance_[order], rtol=1e-9)
    assert np.argmax(plain.importance_) == 0  # the largest true coefficient


def test_relative_weights_of_one_driver_is_r_squared(pm) -> None:
    x, y = correlated_data(5, p=1)
    weighter = fit(pm, "relative-weights", x, y)
    assert weighter.importance_[0] == pytest.approx(np.corrcoef(x[:, 0], y)[0, 1] ** 2, rel=1e-9)


def test_equal_weights_and_the_r2_of_the_simple_sum(pm) -> None:
    x, y = correlated_data(6)
    weighter = fit(pm, "equal", x, y)
    np.testing.assert_allclose(weighter.importance_, np.full(4, 0.25))
    total = standardized(x).sum(axis=1, keepdims=True)
    r2 = LinearRegression().fit(total, y).score(total, y)
    assert weighter.r2_ == pytest.approx(r2, rel=1e-9)
    assert weighter.r2_ < fit(pm, "relative-weights", x, y).r2_  # the fallacy of the simple average
