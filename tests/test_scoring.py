"""Scoring: the mean scorer and the weighters against numpy and scikit-learn on the raw rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from surveyengine import scoring, stats
from surveyengine.data import load_responses
from surveyengine.plugins import get_plugin_manager
from surveyengine.study import load_study

DATA = Path(__file__).parent / "data" / "data"
RATED = ("quality", "price", "staff", "speed", "overall")
HEADER = ["respondent_id", "region", "date", *RATED, "complained", "age", "comment"]


@pytest.fixture(scope="module")
def pm():
    return get_plugin_manager(entry_points=False)


def make_rows(n: int, seed: int = 0, weighted: bool = False) -> list[list[str]]:
    """n respondents on the mini questionnaire; some answers blank, some 9 (don't know)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    rows = [HEADER + (["w"] if weighted else [])]
    for k in range(n):
        ratings = np.clip(np.rint(3 + latent[k] + rng.normal(0, 0.8, size=5)), 1, 5).astype(int).astype(str).tolist()
        for j in range(5):
            u = rng.random()
            ratings[j] = "" if u < 0.08 else "9" if u < 0.12 else ratings[j]
        row = [f"R{k}", ("North", "South")[k % 2], f"2026-0{k % 3 + 1}-15", *ratings, str(1 + k % 2), str(30 + k % 40),
               ""]
        if weighted:
            row.append(f"{rng.lognormal(0, 0.5):.4f}")
        rows.append(row)
    return rows


def make_study(root: Path, rows: list[list[str]], *, weighted: bool = False, index: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    questionnaire = (DATA / "questionnaire.yaml").read_text(encoding="utf-8")
    if weighted:
        questionnaire += "weights:\n  column: w\n"
    if index:
        questionnaire = questionnaire.replace("index:\n  min_base: 30\n  privacy_min: 5\n", index)
    (root / "questionnaire.yaml").write_text(questionnaire, encoding="utf-8")
    (root / "surveyengine.yaml").write_text((DATA / "surveyengine.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "data").mkdir(exist_ok=True)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (root / "data" / "responses.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return root


def score(root: Path, pm):
    study = load_study(root, pm)
    responses = load_responses(study, pm)
    return scoring.score(study, responses, stats.compute(responses), pm)


def raw_column(rows: list[list[str]], name: str) -> np.ndarray:
    index = rows[0].index(name)
    values = np.array([float(r[index]) if r[index] else np.nan for r in rows[1:]])
    values[values == 9] = np.nan  # the scale's don't-know code
    return values


# --------------------------------------------------------------------------------- mean scorer


@pytest.mark.parametrize("weighted", [False, True])
def test_mean_ci_and_score_equal_numpy_on_raw_rows(tmp_path: Path, pm, weighted: bool) -> None:
    rows = make_rows(240, seed=1, weighted=weighted)
    results = score(make_study(tmp_path, rows, weighted=weighted), pm)
    weights = (np.array([float(r[-1]) for r in rows[1:]]) if weighted else np.ones(len(rows) - 1))
    for item_id in RATED:
        x = raw_column(rows, item_id)
        answered = ~np.isnan(x)
        x, w = x[answered], weights[answered]
        mean = np.average(x, weights=w)
        variance = np.average((x - mean) ** 2, weights=w) * x.size / (x.size - 1)
        effective_base = w.sum() ** 2 / (w**2).sum()
        half = 1.96 * math.sqrt(variance / effective_base)
        result = next(i for i in results.items if i.id == item_id)
        assert result.base == x.size
        assert result.flags == []
        assert result.metrics["mean"] == pytest.approx(mean, rel=1e-9)
        assert result.metrics["ci_low"] == pytest.approx(mean - half, rel=1e-9)
        assert result.metrics["ci_high"] == pytest.approx(mean + half, rel=1e-9)
        assert result.metrics["score"] == pytest.approx((mean - 1) / 4 * 100, rel=1e-9)
        if not weighted:  # the textbook interval
            assert half == pytest.approx(1.96 * x.std(ddof=1) / math.sqrt(x.size), rel=1e-9)


def test_weighting_changes_the_mean_and_widens_the_interval(tmp_path: Path, pm) -> None:
    rows = make_rows(240, seed=2, weighted=True)
    weighted = score(make_study(tmp_path / "w", rows, weighted=True), pm)
    plain = score(make_study(tmp_path / "p", rows, weighted=False), pm)
    for a, b in zip(weighted.items, plain.items):
        if a.id in RATED:
            assert a.metrics["mean"] != pytest.approx(b.metrics["mean"], rel=1e-6)
            assert a.metrics["ci_high"] - a.metrics["ci_low"] > b.metrics["ci_high"] - b.metrics["ci_low"]


def test_only_rating_items_are_scored(tmp_path: Path, pm) -> None:
    results = score(make_study(tmp_path, make_rows(60)), pm)
    by_id = {i.id: i for i in results.items}
    assert set(by_id) == {*RATED, "complained", "age"}
    assert by_id["complained"].metrics == {} and by_id["age"].metrics == {}
    assert by_id["age"].type == "number" and by_id["quality"].type == "rating"
    assert by_id["quality"].factor == "product" and by_id["overall"].factor is None


def test_factor_score_is_the_mean_of_its_items_scores(tmp_path: Path, pm) -> None:
    results = score(make_study(tmp_path, make_rows(200, seed=3)), pm)
    by_id = {i.id: i for i in results.items}
    for factor_id, members in (("product", ("quality", "price")), ("service", ("staff", "speed"))):
        factor = results.factor(factor_id)
        assert factor.items == list(members)
        assert factor.score == pytest.approx(np.mean([by_id[m].metrics["score"] for m in members]), rel=1e-12)
        assert factor.base == max(by_id[m].base for m in members)
        assert factor.flags == []
    drivers = [results.factor(f).score for f in ("product", "service")]
    assert min(drivers) <= results.index["csi"] <= max(drivers)
    assert results.index["drivers"] == ["product", "service"]
    assert results.index["outcome"] == "overall"


def test_results_carry_the_account(tmp_path: Path, pm) -> None:
    rows = make_rows(50)
    rows[3][1] = ""  # no region: excluded
    results = score(make_study(tmp_path, rows), pm)
    assert results.respondents == 49
    assert results.account["rows_read"] == 50 and results.account["rows_excluded"] == 1
    assert len(results.exclusions) == 1 and results.exclusions[0]["row"] == 4
    assert results.as_dict()["account"] == results.account


# ------------------------------------------------------------------------------- base sizes


def test_fewer_respondents_than_privacy_min_shows_nothing(tmp_path: Path, pm) -> None:
    results = score(make_study(tmp_path, make_rows(4)), pm)  # privacy_min is 5
    assert results.respondents == 4
    for item in results.items:
        assert "suppressed" in item.flags, item.id
        assert all(value is None for value in item.metrics.values()), item.id
    rated = [i for i in results.items if i.id in RATED]
    assert all(set(i.metrics) == {"mean", "ci_low", "ci_high", "score"} for i in rated)
    for factor in results.factors:
        assert factor.score is None and "suppressed" in factor.flags
    assert results.index["csi"] is None


def test_privacy_min_from_the_questionnaire(tmp_path: Path, pm) -> None:
    index = "index:\n  min_base: 40\n  privacy_min: 12\n"
    results = score(make_study(tmp_path, make_rows(10), index=index), pm)
    assert all("suppressed" in i.flags for i in results.items)
    results = score(make_study(tmp_path / "more", make_rows(60), index=index), pm)
    overall = next(i for i in results.items if i.id == "overall")
    assert overall.metrics["mean"] is not None and overall.flags == []  # base above 40


def test_an_item_answered_by_too_few_is_suppressed_alone(tmp_path: Path, pm) -> None:
    rows = make_rows(60, seed=4)
    speed = rows[0].index("speed")
    for k, row in enumerate(rows[1:]):
        row[speed] = "4" if k < 3 else ""
    results = score(make_study(tmp_path, rows), pm)
    by_id = {i.id: i for i in results.items}
    assert by_id["speed"].base == 3 and by_id["speed"].flags == ["suppressed"]
    assert all(v is None for v in by_id["speed"].metrics.values())
    assert by_id["staff"].flags == [] and by_id["staff"].metrics["score"] is not None
    # the factor keeps a score from the items that may be shown
    assert results.factor("service").score == pytest.approx(by_id["staff"].metrics["score"])


def test_small_base_is_flagged_but_shown(tmp_path: Path, pm) -> None:
    results = score(make_study(tmp_path, make_rows(20, seed=5)), pm)  # min_base is 30
    for item in results.items:
        if item.id in RATED:
            assert 5 <= item.base < 30
            assert item.flags == ["small-base"], item.id
            assert item.metrics["mean"] is not None
    for factor in results.factors:
        assert factor.flags == ["small-base"] and factor.score is not None
    assert results.index["csi"] is not None


def test_a_base_of_exactly_min_base_is_not_small(tmp_path: Path, pm) -> None:
    rows = make_rows(30, seed=6)
    for row in rows[1:]:
        row[3:8] = ["4", "3", "5", "2", "4"]
    results = score(make_study(tmp_path, rows), pm)
    quality = next(i for i in results.items if i.id == "quality")
    assert quality.base == 30 and quality.flags == []
    assert quality.metrics["ci_low"] == quality.metrics["ci_high"] == 4.0  # no variance


def test_an_unanswered_item_has_no_values_and_nothing_is_nan(tmp_path: Path, pm) -> None:
    rows = make_rows(30, seed=7)
    price = rows[0].index("price")
    for row in rows[1:]:
        row[price] = ""
    results = score(make_study(tmp_path, rows), pm)
    by_id = {i.id: i for i in results.items}
    assert by_id["price"].base == 0 and by_id["price"].flags == ["suppressed"]
    assert set(by_id["price"].metrics.values()) == {None}
    assert results.factor("product").score == pytest.approx(by_id["quality"].metrics["score"])
    for item in results.items:
        for value in item.metrics.values():
            assert value is None or math.isfinite(value), item.id


# ------------------------------------------------------------------------------- build date


def test_source_date_epoch_sets_the_build_date(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225599")  # 2025-12-31T23:59:59Z
    assert scoring.build_date() == "2025-12-31"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert scoring.build_date() == "2026-01-01"
    assert score(make_study(tmp_path, make_rows(10)), pm).generated == "2026-01-01"


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
