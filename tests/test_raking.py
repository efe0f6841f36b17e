"""Rim weighting (raking): margins, an independent implementation, within, cap, errors, Kish, the hotel example.

The sample: 300 respondents of the mini questionnaire (tests/data/data/) with two more
questions, gender (codes 1-3) and club membership (text codes Y/N). Region, gender and
membership are correlated, so the margins conflict and raking needs several iterations.
Margins are always computed from the CSV cells by respondent id, not from data.py's codes.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveyengine.errors import DataError
from surveyengine.raking import RakeVariable, kish, rake

FILE = "data/responses.csv"
REPO = Path(__file__).resolve().parents[1]
N = 300
REGION = {"North": 0.3, "South": 0.4, "East": 0.3}
GENDER = {1: 0.49, 2: 0.51}
MEMBER = {"Y": 0.25, "N": 0.75}


def raking_questionnaire(studies: Any, *targets: dict[str, Any], **weights: Any) -> dict[str, Any]:
    q = studies.questionnaire()
    q["choices"]["gender"] = {"options": {1: "Male", 2: "Female", 3: "Other"}}
    q["choices"]["member"] = {"options": {"Y": "Yes", "N": "No"}}
    q["questions"][2:2] = [{"id": "gender", "text": "Gender", "choices": "gender"},
                           {"id": "member", "text": "Club member?", "choices": "member"}]
    if targets:
        q["weights"] = {"rake": list(targets), **weights}
    return q


def target(variable: str, shares: dict[Any, float], within: str | None = None) -> dict[str, Any]:
    return {"variable": variable, "shares": shares, **({"within": within} if within else {})}


def sample(studies: Any, n: int = N, seed: int = 5) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    header = studies.rows()[0] + ["gender", "member"]
    region = rng.choice(["North", "South", "East"], size=n, p=[0.5, 0.3, 0.2])
    gender = np.where(rng.random(n) < np.select([region == "North", region == "South"], [0.7, 0.4], 0.2), "1", "2")
    member = np.where(rng.random(n) < np.where(gender == "1", 0.5, 0.2), "Y", "N")
    rows = [header]
    for i in range(n):
        ratings = [str(v) for v in rng.integers(1, 6, size=5)]
        rows.append([f"R{i + 1}", region[i], f"2026-0{i % 3 + 1}-15", *ratings, str(rng.integers(1, 3)),
                     str(rng.integers(18, 80)), "", gender[i], member[i]])
    return rows


def margins(responses: Any, rows: list[list[str]], column: str, within: str | None = None) -> dict[Any, Any]:
    """Weighted share of each value of ``column`` among the rows used (per unit of ``within``)."""
    cells = {row[0]: row for row in rows[1:]}
    at, inside = rows[0].index(column), rows[0].index(within) if within else None
    totals: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for ident, weight in zip(responses.ids.to_pylist(), responses.weights):
        row = cells[ident]
        totals[row[inside] if within else None][row[at]] += weight
    shares = {unit: {value: total / sum(t.values()) for value, total in t.items()} for unit, t in totals.items()}
    return shares if within else shares[None]


def assert_shares(found: dict[str, float], wanted: dict[Any, float], tolerance: float) -> None:
    assert set(found) == {str(k) for k in wanted}
    for key, share in wanted.items():
        assert abs(found[str(key)] - share) <= tolerance, (key, found[str(key)], share)


def test_raking_reproduces_the_target_margins(studies) -> None:
    rows = sample(studies)
    q = raking_questionnaire(studies, target("region", REGION), target("gender", GENDER), target("member", MEMBER))
    responses = studies.read(studies.write(q, rows))
    weighting = responses.weighting
    assert weighting["method"] == "rake" and weighting["converged"] is True
    assert 1 < weighting["iterations"] < 100 and weighting["max_error"] < 1e-6
    assert responses.weights.shape == (N,) and responses.weights.mean() == pytest.approx(1.0)
    for column, wanted in (("region", REGION), ("gender", GENDER), ("member", MEMBER)):
        assert_shares(margins(responses, rows, column), wanted, 1e-6)
    unweighted = sum(1 for row in rows[1:] if row[1] == "North") / N
    assert abs(unweighted - REGION["North"]) > 0.1  # raking had something to do
    studies.assert_account_adds_up(responses)


def test_raking_matches_weightipy(studies) -> None:
    """The same weights as weightipy's rim weighting, an independent row-level implementation.

    weightipy 0.4 (https://github.com/kaitumisuuringute-keskus/Weightipy, descended from
    Quantipy's ``Rim``): ``weightipy.weight(df, scheme_from_dict(targets_in_percent))``.
    Its ``internal/rim.py`` ``Rake.start`` rakes row by row: per target variable and category,
    multiply the rows' weights by target / current sum, until an iteration no longer shrinks
    the change in weights by ``convcrit``. surveyengine rakes the aggregated table of category
    combinations. Same sample, same targets, both run to convergence (convcrit 1e-12 there,
    tolerance 1e-12 here) and normalised to mean 1: equal to 1e-6 relative.
    """
    import pandas as pd
    import weightipy

    rows = sample(studies)
    q = raking_questionnaire(studies, target("region", REGION), target("gender", GENDER), target("member", MEMBER),
                             tolerance=1e-12, max_iterations=1000)
    responses = studies.read(studies.write(q, rows))
    assert responses.weighting["converged"]
    header = rows[0]
    frame = pd.DataFrame({column: [row[header.index(column)] for row in rows[1:]]
                          for column in ("region", "gender", "member")})
    scheme = weightipy.scheme_from_dict(
        {"region": {k: 100 * v for k, v in REGION.items()},
         "gender": {str(k): 100 * v for k, v in GENDER.items()},
         "member": {k: 100 * v for k, v in MEMBER.items()}},
        name="rim", rim_params={"convcrit": 1e-12, "max_iterations": 10_000})
    theirs = weightipy.weight(frame, scheme).to_numpy(dtype=float)
    assert responses.ids.to_pylist() == [row[0] for row in rows[1:]]  # same order
    ours = responses.weights / responses.weights.mean()
    theirs = theirs / theirs.mean()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
    assert np.ptp(ours) > 1  # not trivially equal weights


def test_within_rakes_separately_inside_each_unit(studies) -> None:
    rows = sample(studies)
    q = raking_questionnaire(studies, target("gender", GENDER, within="region"),
                             target("member", MEMBER, within="region"))
    responses = studies.read(studies.write(q, rows))
    assert responses.weighting["converged"]
    per_region = margins(responses, rows, "gender", within="region")
    assert set(per_region) == {"North", "South", "East"}
    for shares in per_region.values():
        assert_shares(shares, GENDER, 1e-6)
    for shares in margins(responses, rows, "member", within="region").values():
        assert_shares(shares, MEMBER, 1e-6)
    # each region keeps its sample size: raking inside a unit moves weight only within it
    counts = {region: sum(1 for row in rows[1:] if row[1] == region) for region in REGION}
    region_totals = margins(responses, rows, "region")
    for region, count in counts.items():
        assert region_totals[region] == pytest.approx(count / N, abs=1e-9)


def test_targets_must_agree_on_within(studies) -> None:
    q = raking_questionnaire(studies, target("region", REGION), target("gender", GENDER, within="region"))
    with pytest.raises(DataError, match=r"the same 'within' segment.*region \(overall\), gender \(within region\)"):
        studies.read(studies.write(q, sample(studies)))


def test_cap_bounds_the_largest_weight(studies) -> None:
    rows = sample(studies)
    skewed = {"North": 0.2, "South": 0.2, "East": 0.6}  # East is a fifth of the sample
    uncapped = studies.read(studies.write(raking_questionnaire(studies, target("region", skewed),
                                                               target("gender", GENDER)), rows))
    assert uncapped.weights.max() / uncapped.weights.mean() > 3
    for cap in (2.0, 3.0):
        q = raking_questionnaire(studies, target("region", skewed), target("gender", GENDER), cap=cap)
        responses = studies.read(studies.write(q, rows))
        assert responses.weights.max() / responses.weights.mean() <= cap * (1 + 1e-9)
        assert responses.weights.max() / responses.weights.mean() == pytest.approx(cap)  # the cap binds
        weighting = responses.weighting
        assert weighting["converged"] is (weighting["max_error"] < 1e-6)
        assert weighting["converged"] is False  # East cannot reach 60% with no weight above 3x the mean
        assert any("did not converge" in p.message for p in responses.findings)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(20, 200), seed=st.integers(0, 2**16), cap=st.floats(1.2, 5.0),
       skew=st.floats(0.05, 0.9))
def test_property_cap_holds_for_any_sample_and_targets(n: int, seed: int, cap: float, skew: float) -> None:
    rng = np.random.default_rng(seed)
    a = np.concatenate([np.arange(3), rng.integers(0, 3, n - 3)])  # every category present
    b = np.concatenate([np.arange(2), rng.integers(0, 2, n - 2)])
    shares_a = np.array([skew, (1 - skew) / 2, (1 - skew) / 2])
    result = rake([RakeVariable("a", a, ["0", "1", "2"], shares_a),
                   RakeVariable("b", b, ["0", "1"], np.array([0.5, 0.5]))], cap=cap, max_iterations=50)
    assert result.weights.mean() == pytest.approx(1.0)
    assert result.weights.max() <= cap * (1 + 1e-9)
    assert np.all(result.weights > 0)
    assert result.converged is (result.max_error < 1e-6)


def test_cap_that_does_not_bind_changes_nothing(studies) -> None:
    rows = sample(studies)
    targets = (target("region", REGION), target("gender", GENDER))
    free = studies.read(studies.write(raking_questionnaire(studies, *targets), rows))
    capped = studies.read(studies.write(raking_questionnaire(studies, *targets, cap=10), rows))
    np.testing.assert_allclose(capped.weights, free.weights, rtol=1e-12)


@pytest.mark.parametrize(("targets", "message"), [
    ([target("region", {"North": 0.3, "South": 0.3, "East": 0.3, "West": 0.1})],
     "cannot rake: target region = 'West' (10.0%) has no respondents"),
    ([target("gender", {1: 0.45, 2: 0.45, 3: 0.1})], "cannot rake: target gender = '3' (10.0%) has no respondents"),
    ([target("gender", {1: 0.45, 2: 0.45, 3: 0.1}, within="region")],
     "cannot rake: target gender = '3' (10.0%) has no respondents in region 'East'"),
])
def test_a_target_without_respondents_is_an_error(studies, targets: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(DataError) as caught:
        studies.read(studies.write(raking_questionnaire(studies, *targets), sample(studies)))
    assert caught.value.message == message


@pytest.mark.parametrize(("targets", "message"), [
    ([target("region", {"North": 0.5, "South": 0.5})], "cannot rake on 'region': no target share for 'East'"),
    ([target("complained", {1: 1.0})], "cannot rake on 'complained': no target share for 2"),
    ([target("member", {"Y": 1.0})], "cannot rake on 'member': no target share for N"),
])
def test_a_category_without_a_target_share_is_an_error(studies, targets: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(DataError) as caught:
        studies.read(studies.write(raking_questionnaire(studies, *targets), sample(studies)))
    assert caught.value.message == message
    assert caught.value.location.path == "questionnaire.yaml"


def test_non_convergence_is_reported(studies) -> None:
    rows = sample(studies)
    q = raking_questionnaire(studies, target("region", REGION), target("gender", GENDER), max_iterations=1)
    responses = studies.read(studies.write(q, rows))
    weighting = responses.weighting
    assert weighting["converged"] is False and weighting["iterations"] == 1
    assert weighting["max_error"] > 1e-3
    (problem,) = responses.findings
    assert problem.severity == "warning" and problem.location.path == "questionnaire.yaml"
    assert problem.message.startswith("raking did not converge in 1 iterations (largest margin error ")
    errors = [abs(margins(responses, rows, column)[str(key)] - share)
              for column, wanted in (("region", REGION), ("gender", GENDER)) for key, share in wanted.items()]
    assert max(errors) == pytest.approx(weighting["max_error"], rel=1e-6)  # the error reported is the real one
    result = studies.cli("validate", ".")
    assert result.exit_code == 0 and "NOT converged" in result.stdout
    assert studies.cli("validate", ".", "--strict").exit_code == 2


def test_efficiency_and_effective_base_are_kish(studies) -> None:
    rows = sample(studies)
    q = raking_questionnaire(studies, target("region", REGION), target("gender", GENDER))
    responses = studies.read(studies.write(q, rows))
    w = responses.weights
    assert responses.weighting["efficiency"] == pytest.approx(w.sum() ** 2 / (w.size * (w**2).sum()), rel=1e-12)
    assert responses.weighting["effective_n"] == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)
    assert 0.5 < responses.weighting["efficiency"] < 1
    assert kish(np.ones(7)) == (1.0, 7.0)
    assert kish(np.array([1.0, 3.0])) == pytest.approx((16 / 20, 16 / 10))


def test_a_respondent_without_an_answer_to_a_raking_item_is_excluded(studies) -> None:
    rows = sample(studies)
    rows = studies.set_cell(rows, "R7", "gender", "")
    rows = studies.set_cell(rows, "R9", "member", "")
    rows = studies.set_cell(rows, "R12", "gender", "")
    rows = studies.set_cell(rows, "R12", "member", "")
    q = raking_questionnaire(studies, target("region", REGION), target("gender", GENDER), target("member", MEMBER))
    responses = studies.read(studies.write(q, rows))
    assert [(e.row, e.column, e.reason, e.rule, e.kind) for e in responses.exclusions] == [
        (8, "gender", "gender: no answer to a raking variable", "missing_rake_variable", "error"),
        (10, "member", "member: no answer to a raking variable", "missing_rake_variable", "error"),
        (13, "gender", "gender: no answer to a raking variable", "missing_rake_variable", "error"),
    ]
    assert responses.n == N - 3 and responses.weights.shape == (N - 3,)
    for column, wanted in (("region", REGION), ("gender", GENDER), ("member", MEMBER)):
        assert_shares(margins(responses, rows, column), wanted, 1e-6)
    studies.assert_account_adds_up(responses)

    studies.write(q, rows, config={"validation": {"missing_rake_variable": "fail"}})
    with pytest.raises(DataError) as caught:
        studies.read()
    assert str(caught.value).splitlines()[1:] == [
        f"{FILE}, row 8, column gender: no answer to a raking variable; not allowed [gender]",
        f"{FILE}, row 13, column gender: no answer to a raking variable; not allowed [gender]",
        f"{FILE}, row 10, column member: no answer to a raking variable; not allowed [member]",
        f"{FILE}, row 13, column member: no answer to a raking variable; not allowed [member]",
    ]
    result = studies.cli("build", ".")
    assert result.exit_code == 1 and "row 8, column gender" in result.stderr and "Traceback" not in result.output


def test_rake_on_the_aggregated_table_equals_row_level_raking() -> None:
    """One IPF step on rows, written out plainly, against rake() on the table of combinations."""
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 3, 500), rng.integers(0, 2, 500)
    b[a == 0] = rng.random(int((a == 0).sum())) < 0.8  # correlated
    targets = [np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.4])]
    weights = np.ones(500)
    for _ in range(200):
        for codes, shares in ((a, targets[0]), (b, targets[1])):
            totals = np.bincount(codes, weights=weights, minlength=shares.size)
            weights *= (shares * weights.sum() / totals)[codes]
    result = rake([RakeVariable("a", a, ["0", "1", "2"], targets[0]), RakeVariable("b", b, ["0", "1"], targets[1])],
                  tolerance=1e-13, max_iterations=1000)
    assert result.converged
    np.testing.assert_allclose(result.weights, weights / weights.mean(), rtol=1e-9)


# ----------------------------------------------------------------------------------- the hotel example


def test_hotel_example_end_to_end(studies) -> None:
    """questionnaires/hotel rakes to city and purpose of stay (cap 5): simulated, validated and built by the CLI."""
    from surveyengine import questionnaire as qn
    from surveyengine.simulate import simulate

    path = REPO / "questionnaires" / "hotel" / "questionnaire.yaml"
    hotel = qn.load(path).questionnaire
    assert hotel.weights is not None and hotel.weights.cap == 5
    columns, _ = simulate(hotel, 1500, seed=7)
    columns["purpose"][4] = ""  # respondent R0000005 did not say why they stayed
    names = list(columns)

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:g}"
        return str(value)

    (studies.root / "data").mkdir()
    with open(studies.root / "data" / "responses.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows([cell(columns[name][i]) for name in names] for i in range(1500))
    (studies.root / "surveyengine.yaml").write_text(
        f"questionnaire: {path.as_posix()}\ndata: [data/*.csv]\n", encoding="utf-8")

    result = studies.cli("validate", ".", "--format", "json")
    assert result.exit_code == 0, result.output
    account = json.loads(result.stdout)["account"]
    weighting = account["weighting"]
    assert weighting["method"] == "rake" and weighting["converged"] is True
    assert weighting["max_error"] < hotel.weights.tolerance
    assert 0 < weighting["efficiency"] < 1
    assert weighting["effective_n"] == pytest.approx(weighting["efficiency"] * account["rows_used"])
    assert account["rows_used"] == 1499 and account["excluded_by_reason"] == {
        "purpose: no answer to a raking variable": 1}
    assert account["exclusions"][0]["row"] == 6 and account["exclusions"][0]["column"] == "purpose"

    responses = studies.read()
    assert responses.weighting == weighting
    with open(studies.root / "data" / "responses.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    for rake_target in hotel.weights.rake:
        assert_shares(margins(responses, rows, rake_target.variable), rake_target.shares, 1e-6)
    assert responses.weights.max() / responses.weights.mean() <= 5 + 1e-9

    result = studies.cli("validate", ".")
    assert result.exit_code == 0
    assert f"weights: raked in {weighting['iterations']} iterations (converged)" in result.stdout
    result = studies.cli("build", ".")
    assert result.exit_code == 0, result.output
    assert "from 1,499 responses (1 rows excluded)" in result.stdout
