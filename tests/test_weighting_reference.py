"""Driver importance against published figures, to 4 decimals.

Every weighter is fed what the engine feeds it: the correlation matrix of
[outcome + drivers], here ``np.corrcoef`` of the raw rows of a public data set.
The expected numbers are copied from the printed output of other people's
software, each test naming its source:

* Johnson's relative weights: the README of the R package rwa (Martin Chan),
  https://github.com/martinctc/rwa (README.md, "Basic example"):
  ``rwa(mtcars, outcome = "mpg", predictors = c("cyl", "disp", "hp", "gear"))``.
* Shapley / LMG (= general dominance): the vignette "Conceptual Introduction to
  Dominance Analysis" of the R package domir (Joseph Luchman),
  https://github.com/jluchman/domir (articles/domir_basics.md, built from
  vignettes/domir_basics.Rmd): ``domir(mpg ~ am + cyl + carb, <lm R²>)`` on mtcars,
  with the ``summary(lm(...))`` it prints first.
* Shapley on a published correlation matrix: Azen, R. & Budescu, D. V. (2003),
  "The dominance analysis approach for comparing predictors in multiple
  regression", Psychological Methods 8(2), 129-148; the matrix and the average
  contribution per subset size (3 decimals) as transcribed in the R package
  dominanceanalysis (Claudio Bustos), https://github.com/clbustos/dominanceAnalysis
  (inst/tests/test-daAzenBudescu2003.R).

The data rows: ``mtcars`` (Henderson & Velleman 1981, Biometrics 37, 391-411;
1974 Motor Trend) and ``swiss`` (Mosteller & Tukey 1977, pp. 549-551), both from
R's datasets package (R Core Team, GPL-2 | GPL-3), as R writes them out, e.g.
https://github.com/vincentarelbundock/Rdatasets csv/datasets/swiss.csv. swiss is the
data of relaimpo's documentation (Groemping 2006, "Relative Importance for Linear
Regression in R: The Package relaimpo", Journal of Statistical Software 17(1));
relaimpo's printed swiss figures could not be located, so swiss is used only
against the brute-force all-subsets regression written below.

Weighters whose importance_ is a share of R² (shapley, relative-weights, pratt)
must sum to r2_; ``fit`` also takes a stack of matrices (..., k, k).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

# fmt: off
# mtcars (R datasets): car, mpg, cyl, disp, hp, am, gear, carb -- the columns the examples use.
MTCARS = [
    ("Mazda RX4",           21.0, 6, 160.0, 110, 1, 4, 4),
    ("Mazda RX4 Wag",       21.0, 6, 160.0, 110, 1, 4, 4),
    ("Datsun 710",          22.8, 4, 108.0,  93, 1, 4, 1),
    ("Hornet 4 Drive",      21.4, 6, 258.0, 110, 0, 3, 1),
    ("Hornet Sportabout",   18.7, 8, 360.0, 175, 0, 3, 2),
    ("Valiant",             18.1, 6, 225.0, 105, 0, 3, 1),
    ("Duster 360",          14.3, 8, 360.0, 245, 0, 3, 4),
    ("Merc 240D",           24.4, 4, 146.7,  62, 0, 4, 2),
    ("Merc 230",            22.8, 4, 140.8,  95, 0, 4, 2),
    ("Merc 280",            19.2, 6, 167.6, 123, 0, 4, 4),
    ("Merc 280C",           17.8, 6, 167.6, 123, 0, 4, 4),
    ("Merc 450SE",          16.4, 8, 275.8, 180, 0, 3, 3),
    ("Merc 450SL",          17.3, 8, 275.8, 180, 0, 3, 3),
    ("Merc 450SLC",         15.2, 8, 275.8, 180, 0, 3, 3),
    ("Cadillac Fleetwood",  10.4, 8, 472.0, 205, 0, 3, 4),
    ("Lincoln Continental", 10.4, 8, 460.0, 215, 0, 3, 4),
    ("Chrysler Imperial",   14.7, 8, 440.0, 230, 0, 3, 4),
    ("Fiat 128",            32.4, 4,  78.7,  66, 1, 4, 1),
    ("Honda Civic",         30.4, 4,  75.7,  52, 1, 4, 2),
    ("Toyota Corolla",      33.9, 4,  71.1,  65, 1, 4, 1),
    ("Toyota Corona",       21.5, 4, 120.1,  97, 0, 3, 1),
    ("Dodge Challenger",    15.5, 8, 318.0, 150, 0, 3, 2),
    ("AMC Javelin",         15.2, 8, 304.0, 150, 0, 3, 2),
    ("Camaro Z28",          13.3, 8, 350.0, 245, 0, 3, 4),
    ("Pontiac Firebird",    19.2, 8, 400.0, 175, 0, 3, 2),
    ("Fiat X1-9",           27.3, 4,  79.0,  66, 1, 4, 1),
    ("Porsche 914-2",       26.0, 4, 120.3,  91, 1, 5, 2),
    ("Lotus Europa",        30.4, 4,  95.1, 113, 1, 5, 2),
    ("Ford Pantera L",      15.8, 8, 351.0, 264, 1, 5, 4),
    ("Ferrari Dino",        19.7, 6, 145.0, 175, 1, 5, 6),
    ("Maserati Bora",       15.0, 8, 301.0, 335, 1, 5, 8),
    ("Volvo 142E",          21.4, 4, 121.0, 109, 1, 4, 2),
]
MTCARS_COLUMNS = ("mpg", "cyl", "disp", "hp", "am", "gear", "carb")

# swiss (R datasets): province, Fertility, Agriculture, Examination, Education, Catholic, Infant.Mortality.
SWISS = [
    ("Courtelary",   80.2, 17.0, 15, 12,   9.96, 22.2),
    ("Delemont",     83.1, 45.1,  6,  9,  84.84, 22.2),
    ("Franches-Mnt", 92.5, 39.7,  5,  5,  93.40, 20.2),
    ("Moutier",      85.8, 36.5, 12,  7,  33.77, 20.3),
    ("Neuveville",   76.9, 43.5, 17, 15,   5.16, 20.6),
    ("Porrentruy",   76.1, 35.3,  9,  7,  90.57, 26.6),
    ("Broye",        83.8, 70.2, 16,  7,  92.85, 23.6),
    ("Glane",        92.4, 67.8, 14,  8,  97.16, 24.9),
    ("Gruyere",      82.4, 53.3, 12,  7,  97.67, 21.0),
    ("Sarine",       82.9, 45.2, 16, 13,  91.38, 24.4),
    ("Veveyse",      87.1, 64.5, 14,  6,  98.61, 24.5),
    ("Aigle",        64.1, 62.0, 21, 12,   8.52, 16.5),
    ("Aubonne",      66.9, 67.5, 14,  7,   2.27, 19.1),
    ("Avenches",     68.9, 60.7, 19, 12,   4.43, 22.7),
    ("Cossonay",     61.7, 69.3, 22,  5,   2.82, 18.7),
    ("Echallens",    68.3, 72.6, 18,  2,  24.20, 21.2),
    ("Grandson",     71.7, 34.0, 17,  8,   3.30, 20.0),
    ("Lausanne",     55.7, 19.4, 26, 28,  12.11, 20.2),
    ("La Vallee",    54.3, 15.2, 31, 20,   2.15, 10.8),
    ("Lavaux",       65.1, 73.0, 19,  9,   2.84, 20.0),
    ("Morges",       65.5, 59.8, 22, 10,   5.23, 18.0),
    ("Moudon",       65.0, 55.1, 14,  3,   4.52, 22.4),
    ("Nyone",        56.6, 50.9, 22, 12,  15.14, 16.7),
    ("Orbe",         57.4, 54.1, 20,  6,   4.20, 15.3),
    ("Oron",         72.5, 71.2, 12,  1,   2.40, 21.0),
    ("Payerne",      74.2, 58.1, 14,  8,   5.23, 23.8),
    ("Paysd'enhaut", 72.0, 63.5,  6,  3,   2.56, 18.0),
    ("Rolle",        60.5, 60.8, 16, 10,   7.72, 16.3),
    ("Vevey",        58.3, 26.8, 25, 19,  18.46, 20.9),
    ("Yverdon",      65.4, 49.5, 15,  8,   6.10, 22.5),
    ("Conthey",      75.5, 85.9,  3,  2,  99.71, 15.1),
    ("Entremont",    69.3, 84.9,  7,  6,  99.68, 19.8),
    ("Herens",       77.3, 89.7,  5,  2, 100.00, 18.3),
    ("Martigwy",     70.5, 78.2, 12,  6,  98.96, 19.4),
    ("Monthey",      79.4, 64.9,  7,  3,  98.22, 20.2),
    ("St Maurice",   65.0, 75.9,  9,  9,  99.06, 17.8),
    ("Sierre",       92.2, 84.6,  3,  3,  99.46, 16.3),
    ("Sion",         79.3, 63.1, 13, 13,  96.83, 18.1),
    ("Boudry",       70.4, 38.4, 26, 12,   5.62, 20.3),
    ("La Chauxdfnd", 65.7,  7.7, 29, 11,  13.79, 20.5),
    ("Le Locle",     72.7, 16.7, 22, 13,  11.22, 18.9),
    ("Neuchatel",    64.4, 17.6, 35, 32,  16.92, 23.0),
    ("Val de Ruz",   77.6, 37.6, 15,  7,   4.97, 20.0),
    ("ValdeTravers", 67.6, 18.7, 25,  7,   8.65, 19.5),
    ("V. De Geneve", 35.0,  1.2, 37, 53,  42.34, 18.0),
    ("Rive Droite",  44.7, 46.6, 16, 29,  50.43, 18.2),
    ("Rive Gauche",  42.8, 27.7, 22, 29,  58.33, 19.3),
]

# Azen & Budescu (2003): correlations of y, x1, x2, x3, x4.
AZEN_BUDESCU_CORR = np.array([
    [1.0, 0.6, 0.3, 0.4, 0.5],
    [0.6, 1.0, 0.8, 0.1, 0.3],
    [0.3, 0.8, 1.0, 0.1, 0.1],
    [0.4, 0.1, 0.1, 1.0, 0.5],
    [0.5, 0.3, 0.1, 0.5, 1.0],
])
# Their average contribution of x1..x4 (columns) over the models with 0, 1, 2, 3 other predictors (rows).
AZEN_BUDESCU_LEVELS = np.array([
    [0.360, 0.090, 0.160, 0.250],
    [0.300, 0.074, 0.095, 0.152],
    [0.263, 0.069, 0.063, 0.073],
    [0.246, 0.071, 0.061, 0.010],
])
# fmt: on

FOUR_DECIMALS = 5e-5  # the bar: published figures match to 4 decimals
THREE_DECIMALS = 5e-4  # Azen & Budescu print 3


# ------------------------------------------------------------------------------------ helpers
def mtcars(*columns: str) -> np.ndarray:
    """Rows of mtcars, the given columns, as floats."""
    index = [1 + MTCARS_COLUMNS.index(c) for c in columns]
    return np.array([[row[i] for i in index] for row in MTCARS], dtype=float)


def swiss() -> np.ndarray:
    """Rows of swiss: Fertility, then the five drivers."""
    return np.array([row[1:] for row in SWISS], dtype=float)


def corr_of(rows: np.ndarray) -> np.ndarray:
    """Correlation matrix of the columns of ``rows``, outcome first."""
    return np.corrcoef(rows, rowvar=False)


def fit(pm, method: str, corr: np.ndarray, target: int = 0, drivers: list[int] | None = None):
    weighters = pm.registry("weighters")
    if drivers is None:
        drivers = list(range(1, corr.shape[-1]))
    model = weighters.get(method)().fit(corr, target=target, drivers=drivers)
    return model


def r_squared(x: np.ndarray, y: np.ndarray) -> float:
    """R² of OLS with an intercept, by scikit-learn (0 for no drivers)."""
    if x.shape[1] == 0:
        return 0.0
    return float(LinearRegression().fit(x, y).score(x, y))


def brute_force_shapley(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Shapley / LMG shares of R² from an OLS fit of every subset of the raw columns.

    Returns the shares, the conditional contributions (row s: mean gain of a driver
    added to the models with s others) and the full-model R².
    """
    p = x.shape[1]
    r2 = {s: r_squared(x[:, list(s)], y) for k in range(p + 1) for s in itertools.combinations(range(p), k)}
    shares = np.zeros(p)
    levels = np.zeros((p, p))
    for j in range(p):
        others = [i for i in range(p) if i != j]
        for k in range(p):
            gains = [r2[tuple(sorted((*s, j)))] - r2[s] for s in itertools.combinations(others, k)]
            levels[k, j] = np.mean(gains)
            weight = math.factorial(k) * math.factorial(p - k - 1) / math.factorial(p)
            shares[j] += weight * sum(gains)
    return shares, levels, r2[tuple(range(p))]


# -------------------------------------------------------------------- relative weights: rwa
RWA_R2 = 0.7791896
RWA_RAW = [0.2284797, 0.2221469, 0.2321744, 0.0963886]  # cyl, disp, hp, gear
RWA_RESCALED = [29.32274, 28.50999, 29.79691, 12.37037]  # % of R²
RWA_SIGNS = [-1, -1, -1, +1]  # the README's Sign column: signs of the regression coefficients


def test_relative_weights_match_the_rwa_readme_on_mtcars(pm) -> None:
    """Martin Chan, R package rwa, README.md "Basic example" (https://github.com/martinctc/rwa):
    ``mtcars %>% rwa(outcome = "mpg", predictors = c("cyl", "disp", "hp", "gear"), applysigns = TRUE)``
    prints rsquare 0.7791896; Raw.RelWeight 0.2284797, 0.2221469, 0.2321744, 0.0963886;
    Rescaled.RelWeight 29.32274, 28.50999, 29.79691, 12.37037; Sign -, -, -, +.
    Method: Johnson (2000), Multivariate Behavioral Research 35(1), 1-19."""
    corr = corr_of(mtcars("mpg", "cyl", "disp", "hp", "gear"))
    model = fit(pm, "relative-weights", corr)
    assert model.importance_.shape == (4,)
    assert list(model.importance_) == pytest.approx(RWA_RAW, abs=FOUR_DECIMALS)
    assert float(model.r2_) == pytest.approx(RWA_R2, abs=FOUR_DECIMALS)
    assert float(model.importance_.sum()) == pytest.approx(float(model.r2_), abs=1e-12)
    assert list(100 * model.importance_ / model.r2_) == pytest.approx(RWA_RESCALED, abs=FOUR_DECIMALS)


def test_betas_have_the_signs_the_rwa_readme_prints(pm) -> None:
    """The rwa README example (https://github.com/martinctc/rwa, README.md, ``applysigns = TRUE``)
    prints Sign -, -, -, + for cyl, disp, hp, gear: the signs of the regression coefficients."""
    corr = corr_of(mtcars("mpg", "cyl", "disp", "hp", "gear"))
    assert list(np.sign(fit(pm, "betas", corr).coef_)) == RWA_SIGNS


def test_relative_weights_follow_the_drivers_order_and_ignore_other_columns(pm) -> None:
    """The rwa README example (https://github.com/martinctc/rwa, README.md) again, with the
    outcome last, an unused column (am) in the matrix and the drivers listed as gear, cyl, hp, disp."""
    corr = corr_of(mtcars("cyl", "disp", "hp", "gear", "am", "mpg"))
    model = fit(pm, "relative-weights", corr, target=5, drivers=[3, 0, 2, 1])
    expected = [RWA_RAW[3], RWA_RAW[0], RWA_RAW[2], RWA_RAW[1]]
    assert list(model.importance_) == pytest.approx(expected, abs=FOUR_DECIMALS)
    assert float(model.r2_) == pytest.approx(RWA_R2, abs=FOUR_DECIMALS)


# -------------------------------------------------------------------------- shapley: domir
DOMIR_R2 = 0.8113023
DOMIR_GENERAL = [0.2156848, 0.4173094, 0.1783081]  # am, cyl, carb
DOMIR_STANDARDIZED = [0.2658501, 0.5143698, 0.2197801]
DOMIR_CONDITIONAL = [  # rows: included at position 1, 2, 3; columns am, cyl, carb
    [0.3597989, 0.7261800, 0.3035184],
    [0.2164938, 0.4181185, 0.1791172],
    [0.07076149, 0.10762967, 0.05228872],
]
LM_COEFFICIENTS = [4.2430, -1.7175, -1.1304]  # summary(lm(mpg ~ am + cyl + carb, mtcars)): am, cyl, carb
LM_R2 = 0.8113  # "Multiple R-squared:  0.8113"


def test_shapley_matches_the_domir_vignette_on_mtcars(pm) -> None:
    """Joseph Luchman, R package domir, vignette "Conceptual Introduction to Dominance Analysis"
    (https://github.com/jluchman/domir, articles/domir_basics.md):
    ``domir(mpg ~ am + cyl + carb, function(f) summary(lm(f, data = mtcars))[["r.squared"]])``
    prints Overall Value 0.8113023; General Dominance am 0.2156848, cyl 0.4173094, carb 0.1783081;
    Standardized 0.2658501, 0.5143698, 0.2197801. General dominance is the Shapley value / LMG
    (Budescu 1993; Groemping 2007)."""
    corr = corr_of(mtcars("mpg", "am", "cyl", "carb"))
    model = fit(pm, "shapley", corr)
    assert model.importance_.shape == (3,)
    assert list(model.importance_) == pytest.approx(DOMIR_GENERAL, abs=FOUR_DECIMALS)
    assert float(model.r2_) == pytest.approx(DOMIR_R2, abs=FOUR_DECIMALS)
    assert float(model.importance_.sum()) == pytest.approx(float(model.r2_), abs=1e-12)
    assert list(model.importance_ / model.r2_) == pytest.approx(DOMIR_STANDARDIZED, abs=FOUR_DECIMALS)


def test_the_brute_force_reference_reproduces_the_domir_vignette() -> None:
    """The all-subsets reference used below, checked against the same printed figures
    (https://github.com/jluchman/domir, articles/domir_basics.md): general dominance,
    R² and the conditional dominance matrix ("Include At: 1, 2, 3")."""
    rows = mtcars("mpg", "am", "cyl", "carb")
    shares, levels, r2 = brute_force_shapley(rows[:, 1:], rows[:, 0])
    assert list(shares) == pytest.approx(DOMIR_GENERAL, abs=FOUR_DECIMALS)
    assert r2 == pytest.approx(DOMIR_R2, abs=FOUR_DECIMALS)
    np.testing.assert_allclose(levels, DOMIR_CONDITIONAL, rtol=0, atol=FOUR_DECIMALS)


def test_betas_and_pratt_on_the_domir_model(pm) -> None:
    """The domir vignette's ``summary(lm(mpg ~ am + cyl + carb, data = mtcars))``
    (https://github.com/jluchman/domir, articles/domir_basics.md) prints the estimates
    am 4.2430, cyl -1.7175, carb -1.1304 and Multiple R-squared 0.8113. A standardized beta
    times sd(mpg) / sd(x) is the raw estimate. Pratt's measure is beta_j * r_j (Pratt 1987)
    and sums to R²."""
    rows = mtcars("mpg", "am", "cyl", "carb")
    corr = corr_of(rows)
    betas = fit(pm, "betas", corr)
    sd = rows.std(axis=0, ddof=1)
    raw = np.asarray(betas.coef_) * sd[0] / sd[1:]
    assert list(raw) == pytest.approx(LM_COEFFICIENTS, abs=FOUR_DECIMALS)
    assert float(betas.r2_) == pytest.approx(LM_R2, abs=FOUR_DECIMALS)
    pratt = fit(pm, "pratt", corr)
    np.testing.assert_allclose(pratt.importance_, np.asarray(betas.coef_) * corr[1:, 0], rtol=0, atol=1e-12)
    assert float(pratt.importance_.sum()) == pytest.approx(float(pratt.r2_), abs=1e-12)
    assert float(pratt.r2_) == pytest.approx(DOMIR_R2, abs=FOUR_DECIMALS)


# ----------------------------------------------------------------- shapley: Azen & Budescu
def test_shapley_matches_azen_and_budescu_2003(pm) -> None:
    """Azen, R. & Budescu, D. V. (2003), "The dominance analysis approach for comparing
    predictors in multiple regression", Psychological Methods 8(2), 129-148: the example
    correlation matrix of y, x1..x4 and the average contribution of each predictor over the
    models of each size, printed to 3 decimals; as transcribed in the R package
    dominanceanalysis (https://github.com/clbustos/dominanceAnalysis,
    inst/tests/test-daAzenBudescu2003.R). The general dominance (Shapley value) is the mean
    of those four averages, so it is checked to the published 3 decimals."""
    model = fit(pm, "shapley", AZEN_BUDESCU_CORR)
    general = AZEN_BUDESCU_LEVELS.mean(axis=0)
    assert list(model.importance_) == pytest.approx(list(general), abs=THREE_DECIMALS)
    rxx, rxy = AZEN_BUDESCU_CORR[1:, 1:], AZEN_BUDESCU_CORR[1:, 0]
    r2 = float(rxy @ np.linalg.solve(rxx, rxy))
    assert float(model.r2_) == pytest.approx(r2, abs=1e-12)
    assert float(model.importance_.sum()) == pytest.approx(r2, abs=1e-12)
    assert float(model.r2_) == pytest.approx(general.sum(), abs=THREE_DECIMALS)
    # x1 leads and x2 trails, as the paper's general dominance says
    assert np.argmax(model.importance_) == 0 and np.argmin(model.importance_) == 1


# ------------------------------------------------------------------------ shares sum to R²
@pytest.mark.parametrize("method", ["shapley", "relative-weights", "pratt"])
@pytest.mark.parametrize("example", ["rwa", "domir", "azen-budescu", "swiss"])
def test_shares_sum_to_r2_and_pratt_is_beta_times_r(pm, method: str, example: str) -> None:
    """Shapley (LMG), Johnson's relative weights and Pratt's measure each split R²; on every
    example the shares sum to r2_, which is the R² of the full regression (r' R⁻¹ r), and
    Pratt's measure is the standardized beta times the driver's correlation with the outcome.
    Sources as in the module docstring (rwa README, domir vignette, Azen & Budescu 2003, swiss)."""
    corr = {
        "rwa": lambda: corr_of(mtcars("mpg", "cyl", "disp", "hp", "gear")),
        "domir": lambda: corr_of(mtcars("mpg", "am", "cyl", "carb")),
        "azen-budescu": lambda: AZEN_BUDESCU_CORR,
        "swiss": lambda: corr_of(swiss()),
    }[example]()
    rxx, rxy = corr[1:, 1:], corr[1:, 0]
    r2 = float(rxy @ np.linalg.solve(rxx, rxy))
    model = fit(pm, method, corr)
    assert float(model.r2_) == pytest.approx(r2, abs=1e-10)
    assert float(np.sum(model.importance_)) == pytest.approx(r2, abs=1e-10)
    if method == "pratt":
        beta = np.linalg.solve(rxx, rxy)
        np.testing.assert_allclose(model.importance_, beta * rxy, rtol=0, atol=1e-10)
        np.testing.assert_allclose(fit(pm, "betas", corr).coef_, beta, rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------- stacks
PUBLISHED = {  # method -> (columns of mtcars, published importance, published R²)
    "shapley": (("mpg", "am", "cyl", "carb"), DOMIR_GENERAL, DOMIR_R2),
    "relative-weights": (("mpg", "cyl", "disp", "hp", "gear"), RWA_RAW, RWA_R2),
}


@pytest.mark.parametrize("method", ["shapley", "relative-weights"])
def test_a_stack_of_two_copies_gives_the_published_numbers_twice(pm, method: str) -> None:
    """``fit`` on a (2, k, k) stack returns importance_ of shape (2, drivers) and r2_ of shape (2,),
    each row the published figures (rwa README / domir vignette, see above)."""
    columns, published, r2 = PUBLISHED[method]
    corr = corr_of(mtcars(*columns))
    model = fit(pm, method, np.stack([corr, corr]))
    importance = np.asarray(model.importance_)
    assert importance.shape == (2, len(columns) - 1)
    assert np.shape(model.r2_) == (2,)
    for row in range(2):
        assert list(importance[row]) == pytest.approx(published, abs=FOUR_DECIMALS)
        assert float(np.asarray(model.r2_)[row]) == pytest.approx(r2, abs=FOUR_DECIMALS)
        assert float(importance[row].sum()) == pytest.approx(float(np.asarray(model.r2_)[row]), abs=1e-12)


@pytest.mark.parametrize("method", ["shapley", "relative-weights", "pratt", "betas", "equal"])
def test_a_stack_of_two_different_matrices_is_fitted_slice_by_slice(pm, method: str) -> None:
    """A (2, 2, 5, 5) stack of the rwa example's matrix (mtcars: mpg on cyl, disp, hp, gear) and
    Azen & Budescu's (2003) matrix, in a checkerboard: every slice gives what the single
    matrix gives."""
    rwa = corr_of(mtcars("mpg", "cyl", "disp", "hp", "gear"))
    stack = np.stack([np.stack([rwa, AZEN_BUDESCU_CORR]), np.stack([AZEN_BUDESCU_CORR, rwa])])
    model = fit(pm, method, stack)
    alone = {id(rwa): fit(pm, method, rwa), id(AZEN_BUDESCU_CORR): fit(pm, method, AZEN_BUDESCU_CORR)}
    importance = np.asarray(model.importance_)
    assert importance.shape == (2, 2, 4)
    assert np.shape(model.r2_) == (2, 2)
    for i, j in itertools.product(range(2), range(2)):
        single = alone[id(rwa) if i == j else id(AZEN_BUDESCU_CORR)]
        np.testing.assert_allclose(importance[i, j], single.importance_, rtol=0, atol=1e-12)
        assert float(np.asarray(model.r2_)[i, j]) == pytest.approx(float(single.r2_), abs=1e-12)
        if method == "betas":
            np.testing.assert_allclose(np.asarray(model.coef_)[i, j], single.coef_, rtol=0, atol=1e-12)


# ----------------------------------------------------- shapley against all-subsets OLS on rows
def random_rows(seed: int, n: int = 250, p: int = 6) -> np.ndarray:
    """Outcome and p correlated drivers (some with negative weight) with different scales."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(n, 1))
    x = (0.6 * common + rng.normal(size=(n, p))) * np.linspace(1.0, 30.0, p) + np.arange(p)
    y = x @ (np.array([0.9, -0.4, 0.3, 0.05, 0.2, -0.1]) / np.linspace(1.0, 30.0, p)) + rng.normal(size=n)
    return np.column_stack([y, x])


@pytest.mark.parametrize("data", ["random-0", "random-1", "swiss"])
def test_shapley_equals_all_subsets_ols_on_the_raw_rows(pm, data: str) -> None:
    """An independent reference: Shapley value / LMG (Lindeman, Merenda & Gold 1980; Groemping
    2006, JSS 17(1)) from scikit-learn LinearRegression fitted on every subset of the raw rows
    (64 fits for 6 drivers), against the weighter fed only the correlation matrix; to 1e-10.
    swiss is relaimpo's example data (R datasets)."""
    rows = swiss() if data == "swiss" else random_rows(int(data.split("-")[1]))
    shares, _, r2 = brute_force_shapley(rows[:, 1:], rows[:, 0])
    model = fit(pm, "shapley", corr_of(rows))
    np.testing.assert_allclose(model.importance_, shares, rtol=0, atol=1e-10)
    assert float(model.r2_) == pytest.approx(r2, abs=1e-10)
    assert float(shares.sum()) == pytest.approx(r2, abs=1e-10)
