"""Synthetic responses: deterministic, consistent with the questionnaire, and true to the truth file."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from surveyengine import conditions
from surveyengine import questionnaire as qn
from surveyengine.cli import cli
from surveyengine.data import load_responses
from surveyengine.plugins import get_plugin_manager
from surveyengine.simulate import (
    COMMENTS,
    DONT_KNOW_RATE,
    HOSTILE_COMMENTS,
    MISSING_RATE,
    simulate,
    write_csv,
    write_truth,
)
from surveyengine.study import load_study

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (REPO / "questionnaires").iterdir() if (p / "questionnaire.yaml").is_file())


def load(example: str):
    return qn.load(REPO / "questionnaires" / example / "questionnaire.yaml").questionnaire


@pytest.fixture(scope="module")
def dealer():
    return load("auto-dealer")


@pytest.fixture(scope="module")
def dealer_data(dealer):
    return simulate(dealer, 4000, seed=3)


def by_item(q, columns):
    return {item.id: columns[item.data_column] for item in q.all_items() if item.data_column in columns}


def scaled(q, item, values) -> np.ndarray:
    """An item's answers as 0-100, its missing codes as NaN."""
    scale = q.scales[item.scale]
    x = np.asarray(values, dtype=float).copy()
    x[np.isin(x, list(scale.missing))] = np.nan
    return (x - scale.min) / (scale.max - scale.min) * 100


def test_examples_exist() -> None:
    assert {"auto-dealer", "hotel", "acsi"} <= set(EXAMPLES)


# ----------------------------------------------------------------------------------- determinism


def write(q, n: int, seed: int, folder: Path) -> tuple[bytes, bytes]:
    columns, truth = simulate(q, n, seed)
    write_csv(columns, folder / "r.csv")
    write_truth(truth, folder / "r.truth.json")
    return (folder / "r.csv").read_bytes(), (folder / "r.truth.json").read_bytes()


@pytest.mark.parametrize("example", EXAMPLES)
def test_same_questionnaire_n_and_seed_give_the_same_bytes(tmp_path: Path, example: str) -> None:
    q = load(example)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(q, 300, 5, tmp_path / "a")
    second = write(load(example), 300, 5, tmp_path / "b")
    assert first == second
    assert first[0].count(b"\n") >= 301


def test_different_seed_gives_different_data(dealer, tmp_path: Path) -> None:
    for name in "abc":
        (tmp_path / name).mkdir()
    assert write(dealer, 200, 1, tmp_path / "a")[0] != write(dealer, 200, 2, tmp_path / "b")[0]
    assert write(dealer, 200, 1, tmp_path / "c")[0] != write(dealer, 201, 1, tmp_path / "a")[0]


def test_same_seed_same_arrays(dealer) -> None:
    a, truth_a = simulate(dealer, 150, seed=9)
    b, truth_b = simulate(dealer, 150, seed=9)
    assert list(a) == list(b) and truth_a == truth_b
    for name in a:
        if a[name].dtype == object:
            assert a[name].tolist() == b[name].tolist(), name
        else:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_gb18030_file_has_the_same_text(dealer, tmp_path: Path) -> None:
    columns, _ = simulate(dealer, 200, seed=4)
    write_csv(columns, tmp_path / "utf8.csv")
    write_csv(columns, tmp_path / "gb.csv", encoding="gb18030")
    gb = (tmp_path / "gb.csv").read_bytes()
    assert gb != (tmp_path / "utf8.csv").read_bytes()
    assert gb.decode("gb18030") == (tmp_path / "utf8.csv").read_text(encoding="utf-8")


# ---------------------------------------------------------------------- follows the questionnaire


@pytest.mark.parametrize("example", EXAMPLES)
def test_columns_follow_the_questionnaire(example: str) -> None:
    q = load(example)
    columns, truth = simulate(q, 500, seed=2)
    expected = {q.respondent_id} | {s.data_column for s in q.segments} | {i.data_column for i in q.all_items()}
    if q.wave is not None:
        expected.add(q.wave.column)
    if q.weights is not None and q.weights.column:
        expected.add(q.weights.column)
    assert set(columns) == expected
    assert all(len(v) == 500 for v in columns.values())
    assert len(set(columns[q.respondent_id].tolist())) == 500
    for item in q.all_items():
        values = columns[item.data_column]
        if item.scale:
            scale = q.scales[item.scale]
            x = np.asarray(values, dtype=float)
            on_scale = (x >= scale.min) & (x <= scale.max) & (x == np.round(x))
            assert (np.isnan(x) | on_scale | np.isin(x, list(scale.missing))).all(), item.id
            assert (~np.isnan(x)).sum() > 0, item.id
        elif item.choices and item.question_type == "single":
            codes = list(q.choices[item.choices].options) + list(q.choices[item.choices].missing)
            assert all(v in codes or v != v for v in values.tolist()), item.id
    for segment in q.segments:
        labels = set(columns[segment.data_column].tolist())
        assert "" not in labels
        if segment.labels:
            assert labels <= {str(code) for code in segment.labels}, segment.id
    assert truth["n"] == 500 and truth["seed"] == 2 and truth["questionnaire"] == q.id
    assert truth["outcome"] == q.outcome_id()


@pytest.mark.parametrize("example", ["auto-dealer", "hotel"])  # acsi asks everything of everyone
def test_conditions_are_respected(example: str) -> None:
    q = load(example)
    columns, truth = simulate(q, 1500, seed=8)
    values = by_item(q, columns)
    conditional = [item for item in q.all_items() if item.when]
    assert conditional, "every example asks some questions only of some respondents"
    for item in conditional:
        asked = np.asarray(conditions.parse(item.when).evaluate(values), dtype=bool)
        answers = values[item.id]
        answered = answers != "" if answers.dtype == object else ~np.isnan(answers.astype(float))
        assert not (answered & ~asked).any(), f"{item.id} answered although '{item.when}' is false"
        assert asked.any() and (~asked).any(), item.id
        if item.question_type in ("rating", "single"):
            assert answered[asked].mean() > 0.5, item.id  # asked means mostly answered


def test_complaint_questions_only_for_complainers(dealer, dealer_data) -> None:
    columns, truth = dealer_data
    complained = columns["complained"].astype(float) == 1
    assert truth["complainers"] == int(complained.sum()) > 0
    assert np.isnan(columns["complaint_handling"].astype(float)[~complained]).all()
    assert (columns["complaint_text"][~complained] == "").all()
    assert (columns["complaint_channel"][~complained] == "").all()
    assert (columns["complaint_text"][complained] != "").all()  # every complainer says what it was about
    serviced = np.asarray(columns["serviced"].tolist()) == 1
    for item in ("as_booking", "as_advisor", "as_repair", "as_time", "as_cost"):
        assert np.isnan(columns[item].astype(float)[~serviced]).all(), item
    recommend = columns["recommend"].astype(float)
    assert (columns["low_reason"][~(recommend <= 6)] == "").all()


def test_missing_and_dont_know_rates(dealer, dealer_data) -> None:
    columns, _ = dealer_data
    outcomes = {dealer.outcome_id(), dealer.outcomes.recommend, dealer.outcomes.repurchase}
    items = [item for factor in dealer.factors for item in factor.all_items() if not item.when]
    assert len(items) > 20
    x = np.column_stack([columns[item.data_column].astype(float) for item in items])
    codes = {float(min(dealer.scales[item.scale].missing)) for item in items}
    assert codes == {97.0}
    blank = np.isnan(x).mean()
    dont_know = (x == 97).mean()
    assert blank == pytest.approx(MISSING_RATE, abs=0.005)
    assert dont_know == pytest.approx(DONT_KNOW_RATE * (1 - MISSING_RATE), abs=0.003)
    for item_id in outcomes:  # outcomes are not skipped
        assert not np.isnan(columns[dealer.item(item_id).data_column].astype(float)).any(), item_id


def test_truth_weights_sum_to_one(dealer, dealer_data) -> None:
    _, truth = dealer_data
    weights = truth["factor_weights"]
    assert list(weights) == list(dealer.driver_ids())
    assert sum(weights.values()) == pytest.approx(1, abs=1e-5)
    assert all(w > 0 for w in weights.values())
    assert len(set(weights.values())) == len(weights)  # a ranking to recover
    for factor in dealer.factors:
        item_weights = truth["item_weights"][factor.id]
        assert set(item_weights) == {i.id for i in factor.all_items()}
        assert sum(item_weights.values()) == pytest.approx(1, abs=1e-5)
    assert set(truth["loadings"]) == {i.id for f in dealer.factors for i in f.all_items()}
    json.dumps(truth)  # the truth file is plain JSON


@pytest.mark.parametrize("example", EXAMPLES)
def test_truth_weights_sum_to_one_in_every_example(example: str) -> None:
    q = load(example)
    _, truth = simulate(q, 100, seed=0)
    assert set(truth["factor_weights"]) == set(q.driver_ids())
    assert sum(truth["factor_weights"].values()) == pytest.approx(1, abs=1e-5)


def test_comments_are_realistic_and_some_are_hostile(dealer, dealer_data) -> None:
    columns, _ = dealer_data
    texts = np.concatenate([columns[item.data_column] for item in dealer.all_items()
                            if item.question_type == "text"]).tolist()
    written = [t for t in texts if t]
    hostile = [t for t in written if t.startswith(HOSTILE_COMMENTS)]
    assert len(hostile) >= 3
    assert any(t.startswith(COMMENTS["zh"]["praise"] + COMMENTS["zh"]["complaint"]) for t in written)  # both languages
    assert any(t.startswith(COMMENTS["en"]["praise"] + COMMENTS["en"]["complaint"]) for t in written)
    assert any("\n" in t for t in written)  # multi-line comments, for the CSV writer and reader
    comment = columns["comment"]
    assert 0.15 < (comment != "").mean() < 0.35


# ----------------------------------------------------------------------------- simulate + build


def cli_run(args: list[str], cwd: Path):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.mark.parametrize("example", EXAMPLES)
def test_init_and_build_every_example(tmp_path: Path, example: str) -> None:
    result = cli_run(["init", "study", "--example", example, "--n", "400"], tmp_path)
    assert result.exit_code == 0, result.output
    result = cli_run(["build", "study"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "study" / "site" / "index.html").is_file()
    # simulated data fit their own questionnaire: every row used, no answer set missing
    pm = get_plugin_manager(entry_points=False)
    study = load_study(tmp_path / "study", pm)
    responses = load_responses(study, pm)
    assert responses.n == 400
    assert responses.exclusions == []
    assert responses.findings == []
    if study.questionnaire.wave is not None:
        assert len(responses.wave_labels) > 1
    truth = json.loads((tmp_path / "study" / "data" / "responses.truth.json").read_text(encoding="utf-8"))
    assert truth["n"] == 400 and truth["questionnaire"] == study.questionnaire.id


# ------------------------------------------------------------------------- driver weights recovered


def fitted_importance(q, columns) -> tuple[list[str], np.ndarray]:
    """Relative weights fitted on the correlation matrix of factor composites and the outcome."""
    drivers = list(q.driver_ids())
    composites = []
    for factor_id in drivers:
        items = list(q.factor(factor_id).all_items())
        scores = np.column_stack([scaled(q, item, columns[item.data_column]) for item in items])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # mean of an all-NaN row: not asked
            composites.append(np.nanmean(scores, axis=1))
    outcome = q.item(q.outcome_id())
    y = scaled(q, outcome, columns[outcome.data_column])
    data = np.column_stack(composites + [y])
    complete = ~np.isnan(data).any(axis=1)
    assert complete.sum() > 500
    corr = np.corrcoef(data[complete], rowvar=False)
    weighter = get_plugin_manager(entry_points=False).registry("weighters").get("relative-weights")()
    fitted = weighter.fit(corr, len(drivers), list(range(len(drivers))))
    return drivers, fitted.importance_


def ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_relative_weights_recover_the_true_ranking(seed: int) -> None:
    q = load("auto-dealer")  # three drivers, weights about 0.49, 0.33 and 0.17
    columns, truth = simulate(q, 3000, seed=seed)
    drivers, importance = fitted_importance(q, columns)
    true = np.array([truth["factor_weights"][d] for d in drivers])
    assert ranks(importance).tolist() == ranks(true).tolist(), (true, importance / importance.sum())
    np.testing.assert_allclose(importance / importance.sum(), true, atol=0.1)  # equal weights would fail


def test_relative_weights_find_the_strongest_and_weakest_acsi_driver() -> None:
    # The middle of the ranking is not always recovered: 'value' has only two items, so its
    # composite is less reliable than the latent the truth describes, and its weight is attenuated.
    # Each of the four operators is also stronger on some factors than others (the unit profiles),
    # which blurs close weights further: measured over seeds 1-12, the extremes are found in 10.
    q = load("acsi")
    found = 0
    for seed in range(1, 13):
        columns, truth = simulate(q, 3000, seed=seed)
        drivers, importance = fitted_importance(q, columns)
        true = np.array([truth["factor_weights"][d] for d in drivers])
        found += np.argmax(importance) == np.argmax(true) and np.argmin(importance) == np.argmin(true)
        assert np.corrcoef(ranks(importance), ranks(true))[0, 1] >= 0.4, seed
    assert found >= 10


def test_relative_weights_roughly_recover_many_close_drivers() -> None:
    q = load("hotel")  # seven drivers whose true weights differ by about 0.02 each
    columns, truth = simulate(q, 5000, seed=4)
    drivers, importance = fitted_importance(q, columns)
    true = np.array([truth["factor_weights"][d] for d in drivers])
    assert np.corrcoef(ranks(importance), ranks(true))[0, 1] > 0.8
