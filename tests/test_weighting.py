"""Importance weighting: the weighter plugins against independent computations, the parametric bootstrap,
and the weighting stage of a build (weighted CSI, borrowing, ranks, ties, quadrants, priorities).

Published reference figures (relaimpo, rwa, Azen & Budescu) are in test_weighting_reference.py.
"""

from __future__ import annotations

import json
from itertools import combinations
from math import factorial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats as scipy_stats
from sklearn.linear_model import LinearRegression, Ridge

from surveyengine.build import build
from surveyengine.cli import cli
from surveyengine.importance import ranks, wishart_correlations
from surveyengine.regression import nearest_correlation, to_weights
from surveyengine.stats import pairwise_corr
from surveyengine.study import load_study

METHODS = ("relative-weights", "shapley", "betas", "pratt", "ridge", "equal")


def population(p: int, rho: float, beta: np.ndarray) -> np.ndarray:
    """The population correlation matrix of [drivers..., outcome] for y = Xβ + e with equicorrelated drivers
    and R² = 0.6."""
    rxx = np.full((p, p), rho) + np.eye(p) * (1 - rho)
    explained = beta @ rxx @ beta
    scale = np.sqrt(0.6 / explained)
    b = beta * scale
    full = np.eye(p + 1)
    full[:p, :p] = rxx
    full[:p, p] = full[p, :p] = rxx @ b
    return full


def sample(full: np.ndarray, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(np.zeros(full.shape[0]), full, size=n)


def fit(pm, method: str, corr: np.ndarray, **options):
    p = corr.shape[-1] - 1
    return pm.registry("weighters").get(method)(**options).fit(corr, p, list(range(p)))


def standardized(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(axis=0)) / a.std(axis=0)


# --------------------------------------------------------------------------- the plugins, one matrix


# method -> (its weights on the population matrix, the largest deviation of a sample's weights measured
# over five samples of 5,000: the table the docstring promises)
RECOVERY = {
    "relative-weights": ([0.481, 0.268, 0.153, 0.097], 0.019),
    "shapley": ([0.482, 0.266, 0.152, 0.099], 0.019),
    "betas": ([0.5, 0.3, 0.15, 0.05], 0.020),
    "pratt": ([0.565, 0.281, 0.119, 0.035], 0.021),
    "ridge": ([0.474, 0.295, 0.16, 0.071], 0.017),
    "equal": ([0.25, 0.25, 0.25, 0.25], 0.0),
}


@pytest.mark.parametrize("method", METHODS)
def test_every_method_recovers_the_true_ranking_and_says_by_how_much_it_deviates(pm, method: str) -> None:
    """Known truth: y = Xβ + e with β ∝ (0.5, 0.3, 0.15, 0.05), drivers correlated 0.4, R² 0.6. Each method's
    own value on the population matrix is its truth; samples of 5,000 keep its ranking, and their weights
    deviate from it by at most the measured amount in RECOVERY (plus a margin of 0.01 for other samples)."""
    beta = np.array([0.5, 0.3, 0.15, 0.05])
    full = population(4, 0.4, beta)
    truth = to_weights(fit(pm, method, full).importance_)
    expected, deviation = RECOVERY[method]
    np.testing.assert_allclose(truth, expected, atol=5e-4)
    deviations = []
    for seed in range(5):
        estimate = to_weights(fit(pm, method, np.corrcoef(sample(full, 5000, seed), rowvar=False)).importance_)
        if method != "equal":
            assert np.argsort(-estimate).tolist() == np.argsort(-truth).tolist() == [0, 1, 2, 3], (seed, estimate)
        deviations.append(np.abs(estimate - truth).max())
    assert max(deviations) <= deviation + 0.01, deviations
    if method != "equal":  # the naive baseline puts 0.25 on a driver whose true share is 0.1 or less
        assert np.abs(truth - 0.25).max() > 0.15


def test_weighted_cross_products_give_weighted_correlations() -> None:
    """Respondent weights enter every model: the correlations from weighted sums equal numpy's weighted ones."""
    rng = np.random.default_rng(12)
    data = rng.normal(size=(400, 3))
    data[:, 1] += data[:, 0]
    w = rng.lognormal(0, 0.5, size=400)
    m = np.ones_like(data)
    sums = ((data * w[:, None]).T @ data, (data * w[:, None]).T @ m, (data**2 * w[:, None]).T @ m,
            (m * w[:, None]).T @ m)
    expected = np.cov(data, rowvar=False, aweights=w)
    expected = expected / np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    np.testing.assert_allclose(pairwise_corr(*sums), expected, rtol=1e-10)
    assert not np.allclose(expected, np.corrcoef(data, rowvar=False), atol=1e-3)  # the weights did matter


def test_betas_and_pratt_equal_ols_on_standardized_rows_with_vif(pm) -> None:
    full = population(5, 0.5, np.array([0.4, 0.3, 0.2, 0.1, 0.05]))
    rows = sample(full, 800, 1)
    corr = np.corrcoef(rows, rowvar=False)
    x, y = standardized(rows[:, :5]), standardized(rows[:, 5])
    ols = LinearRegression().fit(x, y)
    model = fit(pm, "betas", corr)
    np.testing.assert_allclose(model.coef_, ols.coef_, rtol=1e-9)
    assert model.r2_ == pytest.approx(ols.score(x, y), rel=1e-9)
    for j in range(5):  # VIF: 1 / (1 - R² of driver j on the others)
        others = np.delete(x, j, axis=1)
        r2 = LinearRegression().fit(others, x[:, j]).score(others, x[:, j])
        assert model.vif_[j] == pytest.approx(1 / (1 - r2), rel=1e-9)
    pratt = fit(pm, "pratt", corr)
    np.testing.assert_allclose(pratt.importance_, ols.coef_ * corr[:5, 5], rtol=1e-9)
    assert pratt.importance_.sum() == pytest.approx(ols.score(x, y), rel=1e-9)


def test_betas_warn_about_collinear_drivers(pm) -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=500)
    rows = np.column_stack([a, a + 0.1 * rng.normal(size=500), rng.normal(size=500), a + rng.normal(size=500)])
    model = fit(pm, "betas", np.corrcoef(rows, rowvar=False))
    assert model.vif_.max() > 50
    assert model.warnings_ and "variance inflation factor" in model.warnings_[0]
    calm = fit(pm, "betas", population(3, 0.3, np.array([0.5, 0.3, 0.2])))
    assert calm.warnings_ == []


def test_ridge_equals_scikit_learn_ridge_on_standardized_rows(pm) -> None:
    full = population(4, 0.85, np.array([0.4, 0.3, 0.2, 0.1]))
    rows = sample(full, 600, 3)
    corr = np.corrcoef(rows, rowvar=False)
    x, y = standardized(rows[:, :4]), standardized(rows[:, 4])
    for alpha in (0.0, 0.1, 1.0):
        reference = Ridge(alpha=alpha * len(rows)).fit(x, y)
        model = fit(pm, "ridge", corr, alpha=alpha)
        np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-8, atol=1e-12)
        assert model.r2_ == pytest.approx(reference.score(x, y), rel=1e-8)


def brute_force_shapley(corr: np.ndarray) -> np.ndarray:
    p = corr.shape[0] - 1

    def r2(subset: tuple[int, ...]) -> float:
        if not subset:
            return 0.0
        s = list(subset)
        return float(corr[s, p] @ np.linalg.solve(corr[np.ix_(s, s)], corr[s, p]))

    phi = np.zeros(p)
    for j in range(p):
        others = [k for k in range(p) if k != j]
        for size in range(p):
            weight = factorial(size) * factorial(p - size - 1) / factorial(p)
            phi[j] += sum(weight * (r2(tuple(sorted(s + (j,)))) - r2(s)) for s in combinations(others, size))
    return phi


def test_sampled_shapley_is_within_its_stated_error_of_the_exact_values(pm) -> None:
    full = population(8, 0.45, np.linspace(0.5, 0.05, 8))
    corr = np.corrcoef(sample(full, 2000, 4), rowvar=False)
    exact = fit(pm, "shapley", corr)
    assert exact.exact_ and np.all(exact.standard_error_ == 0)
    np.testing.assert_allclose(exact.importance_, brute_force_shapley(corr), atol=1e-12)
    sampled = fit(pm, "shapley", corr, max_exact=0, samples=4000, seed=7)
    assert not sampled.exact_
    z = np.abs(sampled.importance_ - exact.importance_) / sampled.standard_error_
    assert z.max() < 4.5, z
    assert sampled.importance_.sum() == pytest.approx(exact.r2_, rel=1e-9)  # every order adds up to R²
    again = fit(pm, "shapley", corr, max_exact=0, samples=4000, seed=7)
    np.testing.assert_array_equal(again.importance_, sampled.importance_)  # seeded: reproducible


@pytest.mark.parametrize("method", METHODS)
def test_every_method_fits_a_stack_of_matrices_slice_by_slice(pm, method: str) -> None:
    stack = np.stack([np.corrcoef(sample(population(5, 0.3, np.linspace(0.5, 0.1, 5)), 300, s), rowvar=False)
                      for s in range(6)]).reshape(2, 3, 6, 6)
    together = fit(pm, method, stack)
    assert together.importance_.shape == (2, 3, 5) and np.shape(together.r2_) == (2, 3)
    for a in range(2):
        for b in range(3):
            alone = fit(pm, method, stack[a, b])
            np.testing.assert_allclose(together.importance_[a, b], alone.importance_, rtol=1e-10, atol=1e-14)


def test_a_driver_that_copies_another_gets_a_finite_share(pm) -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 400))
    y = a + b + rng.normal(size=400)
    rows = np.column_stack([a, a, b, y])  # the first two drivers are the same column
    corr, _ = nearest_correlation(np.corrcoef(rows, rowvar=False))
    for method in ("relative-weights", "shapley"):
        model = fit(pm, method, corr)
        assert np.all(np.isfinite(model.importance_)), method
        assert model.importance_[0] == pytest.approx(model.importance_[1], rel=1e-3)


def _root_and_solve_by_eigh(rxx: np.ndarray, rxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R^½ and R^-½ r through the eigen-decomposition, collinear directions (below 1e-10 of the largest
    eigenvalue) left out: the general computation the closed forms must reproduce."""
    values, vectors = np.linalg.eigh(rxx)
    kept = values > 1e-10 * values[..., -1:]
    root = np.sqrt(np.where(kept, values, 0.0))
    inverse = np.where(kept, 1.0 / np.where(kept, root, 1.0), 0.0)
    back = np.swapaxes(vectors, -1, -2)
    return (vectors * root[..., None, :]) @ back, ((vectors * inverse[..., None, :]) @ back @ rxy[..., None])[..., 0]


def _correlations(rng: np.random.Generator, n: int, k: int, copy_noise: float | None, rows: int = 12) -> np.ndarray:
    """``n`` sample correlation matrices of k drivers and an outcome from ``rows`` rows each; with ``copy_noise``
    the second driver is the first plus that much noise (near-singular as it goes to 0; 0: singular)."""
    x = rng.standard_normal((n, k + 1, rows))
    if copy_noise is not None:
        x[:, 1] = x[:, 0] + copy_noise * x[:, 1]
    scatter = x @ np.swapaxes(x, -1, -2)
    scale = 1.0 / np.sqrt(np.einsum("...ii->...i", scatter))
    return scatter * scale[..., :, None] * scale[..., None, :]


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("copy_noise", [None, 0.3, 0.03, 1e-2, 3e-3, 1e-3, 1e-5, 0.0])
def test_closed_form_roots_of_two_and_three_drivers_equal_the_eigen_decomposition(k: int, copy_noise) -> None:
    """Relative weights of 2 or 3 drivers take R^½ in closed form; well- or ill-conditioned (where they hand over
    to eigh), even singular, they give the numbers of the eigen-decomposition to 1e-9 relative."""
    from surveyengine.regression import CLOSED_FORM_MIN_RATIO, root_and_solve

    corr = _correlations(np.random.default_rng(k * 100 + int(1e6 * (copy_noise or 0))), 4000, k, copy_noise)
    rxx, rxy = corr[..., :k, :k], corr[..., :k, k]
    values = np.linalg.eigvalsh(rxx)
    ratio = values[:, 0] / values[:, -1]
    if copy_noise is None or copy_noise >= 0.03:
        assert (ratio >= CLOSED_FORM_MIN_RATIO).all()  # all through the closed forms
    elif copy_noise <= 1e-3:
        assert (ratio < CLOSED_FORM_MIN_RATIO).all()  # all handed over to eigh
    root, solved = root_and_solve(rxx.reshape(2, -1, k, k), rxy.reshape(2, -1, k))  # leading axes are kept
    root, solved = root.reshape(-1, k, k), solved.reshape(-1, k)
    expected_root, expected_solved = _root_and_solve_by_eigh(rxx, rxy)
    np.testing.assert_allclose(root, expected_root, rtol=1e-9, atol=1e-12)
    importance = np.einsum("...jk,...k->...j", root**2, solved**2)
    expected = np.einsum("...jk,...k->...j", expected_root**2, expected_solved**2)
    np.testing.assert_allclose(importance, expected, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("k", [2, 3])
def test_closed_form_roots_hold_for_equal_eigenvalues_and_the_identity(k: int) -> None:
    """Equicorrelated drivers have a repeated eigenvalue (where the cubic's trigonometric solution is least
    accurate); uncorrelated drivers have one eigenvalue k times."""
    from surveyengine.regression import root_and_solve

    rng = np.random.default_rng(31 + k)
    rho = np.concatenate([rng.uniform(-0.9 / (k - 1), 0.95, 2000), [0.0, 0.0]])
    rxx = np.where(np.eye(k, dtype=bool), 1.0, rho[:, None, None])
    tiny = 1e-9 * rng.standard_normal(rxx.shape)
    rxx[:1000] += tiny[:1000] + np.swapaxes(tiny[:1000], -1, -2)  # nearly repeated
    rxy = rng.uniform(-0.3, 0.6, (rho.size, k))
    root, solved = root_and_solve(rxx, rxy)
    expected_root, expected_solved = _root_and_solve_by_eigh(rxx, rxy)
    np.testing.assert_allclose(root, expected_root, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(solved, expected_solved, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(root[-1], np.eye(k), atol=1e-15)


# --------------------------------------------------------------------------- correlations and the bootstrap


def test_pairwise_correlations_from_sums_equal_pandas_pairwise_complete(pm) -> None:
    rng = np.random.default_rng(6)
    data = rng.normal(size=(300, 4))
    data[:, 1] += data[:, 0]
    data[rng.random(data.shape) < 0.2] = np.nan
    answered = ~np.isnan(data)
    x = np.nan_to_num(data)
    m = answered.astype(float)
    sums = (x.T @ x, x.T @ m, (x**2).T @ m, m.T @ m)
    mine = pairwise_corr(*sums)
    np.testing.assert_allclose(mine, pd.DataFrame(data).corr().to_numpy(), rtol=1e-10)
    stacked = pairwise_corr(*(np.stack([s, 2 * s]) for s in sums))  # leading axes; doubling changes nothing
    np.testing.assert_allclose(stacked[1], mine, rtol=1e-10)


def test_an_indefinite_pairwise_matrix_is_repaired_and_a_definite_one_left_alone() -> None:
    broken = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])
    fine = np.array([[1.0, 0.3], [0.3, 1.0]])
    repaired, changed = nearest_correlation(broken)
    assert changed and np.linalg.eigvalsh(repaired).min() > 0
    np.testing.assert_allclose(np.diag(repaired), 1.0)
    same, changed = nearest_correlation(fine)
    assert not changed and np.array_equal(same, fine)


def test_a_stack_is_repaired_where_an_eigenvalue_is_below_the_floor_and_only_there() -> None:
    """Against the eigen-decomposition of every matrix: definite ones (a Cholesky factorisation proves them so)
    come back as they are, and the others clipped, with eigenvalues just above and below the floor among them."""
    rng = np.random.default_rng(12)
    stack = _correlations(rng, 60, 4, None, rows=8)
    values, vectors = np.linalg.eigh(stack)
    values[20:40, 0] = 1e-6 * np.linspace(0.5, 1.5, 20)  # straddling the floor
    values[40:, 0] = -0.01  # indefinite (pairwise-complete answers)
    stack = (vectors * values[:, None, :]) @ np.swapaxes(vectors, -1, -2)
    stack = (stack + np.swapaxes(stack, -1, -2)) / 2
    repaired, changed = nearest_correlation(stack)
    expected_values, expected_vectors = np.linalg.eigh(stack)
    broken = expected_values.min(axis=-1) < 1e-6
    assert broken[:20].sum() == 0 and 0 < broken[20:40].sum() < 20 and broken[40:].all()
    np.testing.assert_array_equal(changed, broken)
    np.testing.assert_array_equal(repaired[~broken], stack[~broken])
    clipped = (expected_vectors * np.maximum(expected_values, 1e-6)[:, None, :]) @ np.swapaxes(expected_vectors, -1, -2)
    scale = 1.0 / np.sqrt(np.einsum("...ii->...i", clipped))
    np.testing.assert_allclose(repaired[broken], (clipped * scale[..., :, None] * scale[..., None, :])[broken],
                               rtol=1e-12, atol=1e-15)
    fine, none_changed = nearest_correlation(stack[:20])
    assert not none_changed.any() and np.array_equal(fine, stack[:20])


def test_wishart_draws_have_the_sampling_distribution_of_a_correlation() -> None:
    """Against scipy's Wishart (same df, same scale) and the normal-theory variance (1 − ρ²)² / n."""
    corr = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    n = 200
    mine = wishart_correlations(corr[None], np.array([n - 1.0]), 20000, np.random.default_rng(8))[0]
    draws = scipy_stats.wishart(df=n - 1, scale=corr).rvs(20000, random_state=9)
    d = np.sqrt(np.einsum("bii->bi", draws))
    theirs = draws / d[:, :, None] / d[:, None, :]
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert mine[:, i, j].mean() == pytest.approx(theirs[:, i, j].mean(), abs=0.003)
        assert mine[:, i, j].std() == pytest.approx(theirs[:, i, j].std(), rel=0.03)
    assert mine[:, 0, 1].std() == pytest.approx((1 - 0.25) / np.sqrt(n), rel=0.05)


@pytest.mark.parametrize("k", [2, 4, 6])
def test_wishart_draws_entry_by_entry_equal_bartletts_matrix_products(k: int) -> None:
    """Few variables take the draws entry by entry, more take matrix products: both are L·B·B'·L' of the same
    random numbers, scaled to a unit diagonal."""
    rng = np.random.default_rng(40 + k)
    corr = _correlations(rng, 30, k - 1, None, rows=3 * k)
    df = rng.uniform(20, 2000, 30)
    mine = wishart_correlations(corr, df, 50, np.random.default_rng(7))
    stream = np.random.default_rng(7)
    lower = np.tril_indices(k, -1)
    bartlett = np.zeros((30, 50, k, k))
    bartlett[:, :, lower[0], lower[1]] = stream.standard_normal((30, 50, lower[0].size))
    freedom = np.maximum(df[:, None, None] - np.arange(k), 1.0)
    bartlett[:, :, np.arange(k), np.arange(k)] = np.sqrt(stream.chisquare(np.broadcast_to(freedom, (30, 50, k))))
    root = np.linalg.cholesky(corr)[:, None] @ bartlett
    scatter = root @ np.swapaxes(root, -1, -2)
    scale = 1.0 / np.sqrt(np.einsum("...ii->...i", scatter))
    np.testing.assert_allclose(mine, scatter * scale[..., :, None] * scale[..., None, :], rtol=1e-12, atol=1e-14)


def test_the_parametric_bootstrap_agrees_with_a_row_bootstrap(pm) -> None:
    """The weighting stage has no rows, so it redraws correlation matrices; on rows that could be resampled,
    the interval widths of both agree (measured: within about 10%)."""
    full = population(4, 0.4, np.array([0.5, 0.3, 0.15, 0.05]))
    rows = sample(full, 600, 10)
    corr = np.corrcoef(rows, rowvar=False)
    rng = np.random.default_rng(11)
    weighter = pm.registry("weighters").get("relative-weights")()
    picks = rng.integers(0, len(rows), size=(1000, len(rows)))
    row_draws = np.stack([np.corrcoef(rows[pick], rowvar=False) for pick in picks])
    by_rows = weighter.fit(row_draws, 4, range(4)).importance_
    by_wishart = weighter.fit(wishart_correlations(corr[None], np.array([599.0]), 1000, rng)[0], 4,
                              range(4)).importance_
    width_rows = np.subtract(*np.percentile(by_rows, [97.5, 2.5], axis=0))
    width_wishart = np.subtract(*np.percentile(by_wishart, [97.5, 2.5], axis=0))
    np.testing.assert_allclose(width_wishart, width_rows, rtol=0.2)


def test_ranks_tie_drivers_whose_intervals_overlap() -> None:
    importance = np.array([[0.30, 0.28, 0.10, 0.05]])
    low = np.array([[0.25, 0.22, 0.07, 0.01]])
    high = np.array([[0.35, 0.33, 0.13, 0.08]])
    rank, tied = ranks(importance, low, high)
    assert rank.tolist() == [[1, 1, 3, 3]] and tied.tolist() == [[True, True, True, True]]
    rank, tied = ranks(importance, None, None)
    assert rank.tolist() == [[1, 2, 3, 4]] and not tied.any()


# --------------------------------------------------------------------------- the weighting stage of a build


def make_study(root: Path, n: int = 3000, **index: object) -> Path:
    result = CliRunner().invoke(cli, ["init", str(root), "--n", str(n)])
    assert result.exit_code == 0, result.output
    path = root / "questionnaire.yaml"
    text = path.read_text(encoding="utf-8")
    head, _, tail = text.partition("\nindex:\n")
    config = {"drivers": ["product", "service", "image"], "outcome": "overall", "min_base": 30, "privacy_min": 5,
              **index}
    rest = tail.split("\n\n", 1)[1] if "\n\n" in tail else ""
    path.write_text(head + "\n" + yaml.safe_dump({"index": config}, sort_keys=False) + "\n" + rest, encoding="utf-8")
    return root


def results_of(root: Path, pm) -> dict:
    report = build(load_study(root, pm), pm, root / "site", formats=("json",), use_cache=False)
    return json.loads((report.out_dir / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    from surveyengine.plugins import get_plugin_manager

    pm = get_plugin_manager(entry_points=False)
    return results_of(make_study(tmp_path_factory.mktemp("demo")), pm)


def test_the_weighted_csi_is_the_importance_weighted_sum_of_factor_scores(demo: dict) -> None:
    index = demo["index"]
    weights = index["weights"]
    assert index["method"] == "relative-weights" and sum(weights.values()) == pytest.approx(1, abs=1e-5)
    model = demo["total"]["drivers"]["factors"]
    shares = {d["id"]: d["importance"] for d in model["drivers"]}
    for driver, weight in weights.items():
        assert weight == pytest.approx(shares[driver] / sum(shares.values()), rel=1e-4)
    assert sum(shares.values()) == pytest.approx(model["r2"], rel=1e-4)  # relative weights sum to R²
    for group in [demo["total"], *demo["waves"], *(u for s in demo["segments"] for u in s["units"])]:
        if "suppressed" in group["flags"]:
            continue
        scores = {f: group["factors"][f]["score"]["value"] for f in weights}
        csi = group["headline"]["csi"]
        assert csi["csi"]["value"] == pytest.approx(sum(weights[f] * scores[f] for f in weights), rel=1e-4)
        assert csi["csi_equal"]["value"] == pytest.approx(np.mean(list(scores.values())), rel=1e-4)


def test_importance_recovers_the_simulated_truth(demo: dict, tmp_path: Path) -> None:
    truth = {"image": 0.512821, "product": 0.153846, "service": 0.333333}  # auto-dealer, seed 0 (truth file)
    weights = demo["index"]["weights"]
    assert sorted(weights, key=weights.get) == sorted(truth, key=truth.get)
    assert max(abs(weights[f] - truth[f]) for f in truth) < 0.05


def test_the_total_model_has_intervals_ranks_quadrants_and_priorities(demo: dict) -> None:
    drivers = demo["total"]["drivers"]
    model = drivers["factors"]
    assert model["source"] == "own" and model["base"] > 2500
    for d in model["drivers"]:
        assert d["ci_low"] < d["importance"] < d["ci_high"]
        assert d["quadrant"] in {"concentrate-here", "keep-up", "low-priority", "possible-overkill"}
    mean_performance = np.mean([d["performance"] for d in model["drivers"]])
    for d in model["drivers"]:
        high = d["weight"] >= 1 / 3
        good = d["performance"] >= mean_performance
        assert d["quadrant"] == {(True, False): "concentrate-here", (True, True): "keep-up",
                                 (False, False): "low-priority", (False, True): "possible-overkill"}[(high, good)]
    assert set(drivers["items"]) >= {"hardware", "software", "product", "service", "image"}
    priorities = drivers["priorities"]
    gains = [p["gain"] for p in priorities]
    assert gains == sorted(gains, reverse=True) and [p["priority"] for p in priorities] == list(
        range(1, len(priorities) + 1))
    # every item of a modelled factor appears once; an item's weight is its share within its factor
    # times its factor's share of the index (down the tree: product -> hardware -> hw_quality)
    items = [p for p in priorities if p["level"] == "item"]
    assert len({p["id"] for p in items}) == len(items) > 20
    assert sum(p["weight"] for p in priorities) == pytest.approx(1, abs=1e-4)
    quality = next(p for p in items if p["id"] == "hw_quality")
    product = next(d for d in model["drivers"] if d["id"] == "product")["weight"]
    hardware = next(d for d in drivers["items"]["product"]["drivers"] if d["id"] == "hardware")["weight"]
    within = next(d for d in drivers["items"]["hardware"]["drivers"] if d["id"] == "hw_quality")["weight"]
    assert quality["weight"] == pytest.approx(product * hardware * within, rel=1e-4)
    assert quality["gain"] == pytest.approx(quality["weight"] * (100 - quality["performance"]), rel=1e-4)


def test_small_units_borrow_their_parents_model_and_say_so(tmp_path: Path, pm) -> None:
    results = results_of(make_study(tmp_path / "s", n=3000, model_min_base=250, bootstrap=50), pm)
    dealers = next(s for s in results["segments"] if s["id"] == "dealer")
    regions = {u["key"]["unit"]: u for u in next(s for s in results["segments"] if s["id"] == "region")["units"]}
    sources = set()
    for unit in dealers["units"]:
        if "suppressed" in unit["flags"]:
            assert unit["drivers"] == {}
            continue
        model = unit["drivers"]["factors"]
        sources.add(model["source"].split(":")[0])
        parent = regions[unit["key"]["parent"]]["drivers"]["factors"]
        if model["source"] == "own":
            assert model["base"] >= 250 and "ci_low" in model["drivers"][0]
        elif model["source"].startswith("parent:"):
            assert model["source"] == f"parent:{unit['key']['parent']}" and parent["source"] == "own"
            assert [d["importance"] for d in model["drivers"]] == [d["importance"] for d in parent["drivers"]]
            assert model["base"] is None
        else:
            assert model["source"] == "total" and parent["source"] != "own"
    assert {"own", "parent"} <= sources


def test_own_weights_make_each_groups_csi_from_its_own_model(tmp_path: Path, pm) -> None:
    results = results_of(make_study(tmp_path / "s", csi_weights="own", bootstrap=0), pm)
    assert results["index"]["csi_weights"] == "own"
    for unit in next(s for s in results["segments"] if s["id"] == "region")["units"]:
        model = unit["drivers"]["factors"]
        weights = {d["id"]: d["weight"] for d in model["drivers"]}
        scores = {f: unit["factors"][f]["score"]["value"] for f in weights}
        assert unit["headline"]["csi"]["csi"]["value"] == pytest.approx(
            sum(weights[f] * scores[f] for f in weights), rel=1e-4)
        assert "ci_low" not in model["drivers"][0]  # bootstrap: 0


def test_the_league_ranks_units_by_both_indices(demo: dict) -> None:
    for segment in demo["segments"]:
        shown = [u for u in segment["units"] if u["headline"]["csi"]["csi"]["value"] is not None]
        by_csi = sorted(shown, key=lambda u: -u["headline"]["csi"]["csi"]["value"])
        assert [u["ranks"]["csi"] for u in by_csi] == list(range(1, len(shown) + 1))
        by_equal = sorted(shown, key=lambda u: -u["headline"]["csi"]["csi_equal"]["value"])
        assert [u["ranks"]["csi_equal"] for u in by_equal] == list(range(1, len(shown) + 1))
        for u in shown:
            assert u["ranks"]["change"] == u["ranks"]["csi_equal"] - u["ranks"]["csi"]


@pytest.mark.parametrize("method", ["shapley", "betas", "pratt", "ridge", "equal"])
def test_every_method_runs_through_a_build(tmp_path: Path, pm, method: str) -> None:
    results = results_of(make_study(tmp_path / "s", n=800, method=method, bootstrap=20), pm)
    assert results["index"]["method"] == method
    assert sum(results["index"]["weights"].values()) == pytest.approx(1, abs=1e-5)
    assert results["total"]["drivers"]["factors"]["method"] == method


def test_the_bootstrap_is_reproducible_and_its_seed_matters(tmp_path: Path, pm) -> None:
    root = make_study(tmp_path / "s", n=800, bootstrap=100)
    first, second = results_of(root, pm), results_of(root, pm)
    assert first["total"]["drivers"] == second["total"]["drivers"]
    other = results_of(make_study(tmp_path / "t", n=800, bootstrap=100, seed=5), pm)
    low = [d["ci_low"] for d in first["total"]["drivers"]["factors"]["drivers"]]
    assert low != [d["ci_low"] for d in other["total"]["drivers"]["factors"]["drivers"]]


def test_bad_method_options_are_clear_errors(tmp_path: Path) -> None:
    root = make_study(tmp_path / "s", n=300, method="shapley", options={"shapley": {"maximum": 3}})
    result = CliRunner().invoke(cli, ["build", str(root), "--quiet"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "index.options.shapley" in result.output and "maximum" in result.output
    root = make_study(tmp_path / "t", n=300, method="lasso")
    result = CliRunner().invoke(cli, ["validate", str(root)])
    assert result.exit_code == 2 and "lasso" in result.output and "relative-weights" in result.output


def test_the_totals_intervals_resample_random_groups_and_match_a_row_bootstrap(tmp_path: Path, pm) -> None:
    """The total's bootstrap is nonparametric: the statistics pass keeps the item block per random group of
    respondents, and each draw resamples groups. Its intervals match a row bootstrap computed here on the raw
    file (measured: widths 0.95-1.16 times the row bootstrap's on the demo)."""
    root = make_study(tmp_path / "s", bootstrap=400)
    results = results_of(root, pm)
    model = results["total"]["drivers"]["factors"]
    assert model["interval"] == "replicate groups"
    q = load_study(root, pm).questionnaire
    rows = pd.read_csv(root / "data" / "responses.csv")

    def answers(item: str) -> pd.Series:
        scale = q.scale_of(q.item(item))
        x = pd.to_numeric(rows[item], errors="coerce")
        return (x.where(x.between(scale.min, scale.max)) - scale.min) / (scale.max - scale.min) * 100

    drivers = [d["id"] for d in model["drivers"]]
    factors = {f.id: f for f in q.factors}
    scores = pd.DataFrame({d: pd.concat([answers(i.id) for i in factors[d].all_items()], axis=1).mean(axis=1)
                           for d in drivers})
    scores["overall"] = answers("overall")
    data = scores.to_numpy()
    rng = np.random.default_rng(0)
    weighter = pm.registry("weighters").get("relative-weights")()
    draws = np.stack([pd.DataFrame(data[rng.integers(0, len(data), len(data))]).corr().to_numpy()
                      for _ in range(400)])
    low, high = np.percentile(weighter.fit(draws, 3, [0, 1, 2]).importance_, [2.5, 97.5], axis=0)
    mine = np.array([[d["ci_low"], d["ci_high"]] for d in model["drivers"]])
    np.testing.assert_allclose(mine[:, 1] - mine[:, 0], high - low, rtol=0.3)
    np.testing.assert_allclose(mine.mean(axis=1), (low + high) / 2, atol=0.01)
    unit = next(s for s in results["segments"] if s["id"] == "region")["units"][0]["drivers"]["factors"]
    assert unit["interval"] == "wishart"  # a unit has no replicate groups: its draws are parametric
