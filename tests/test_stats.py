"""Cell statistics: the numpy pass against a direct computation, and merging by addition.

The property at the heart of the design: statistics of concatenated data equal the merge
(grouping by segment and wave) of the statistics of the parts. ``concat`` below stacks the
cells of two CellStats (now stats.concatenate / stats.merge).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveyengine import stats
from surveyengine.data import Responses
from surveyengine.stats import CELL_SUMS, ITEM_SUMS, CellStats, FactorScore, StatsPlan

SUMS = CELL_SUMS + ITEM_SUMS


def responses(answers, segments=None, wave=None, weights=None) -> Responses:
    answers = np.asarray(answers, dtype=float)
    n = answers.shape[0]
    segments = {k: np.asarray(v, dtype=np.int32) for k, v in (segments or {}).items()}
    return Responses(
        items=tuple(f"i{j}" for j in range(answers.shape[1])),
        answers=answers,
        ids=np.asarray([f"R{k}" for k in range(n)], dtype=object),
        segments=segments,
        segment_labels={k: [str(c) for c in range(int(v.max(initial=-1)) + 1)] for k, v in segments.items()},
        wave=None if wave is None else np.asarray(wave, dtype=np.int32),
        wave_labels=[] if wave is None else [str(c) for c in range(int(np.max(wave, initial=-1)) + 1)],
        weights=None if weights is None else np.asarray(weights, dtype=float),
        text={},
        source_file=np.zeros(n, dtype=np.int32),
        source_row=np.arange(n, dtype=np.int64) + 2,
        files=["x.csv"],
        rows_read=n,
    )


def concat(a: CellStats, b: CellStats) -> CellStats:
    """The cells of ``a`` followed by those of ``b`` (unmerged)."""
    return stats.concatenate([a, b])


def merge(*parts: CellStats) -> CellStats:
    """Cells of the parts merged by (segment codes, wave code), in the order compute() sorts cells."""
    return stats.merge(list(parts))


def direct(r: Responses) -> dict[tuple[int, ...], dict[str, np.ndarray]]:
    """Per cell (segment codes..., wave code): the sums, computed row by row with plain numpy."""
    wave = r.wave if r.wave is not None else np.zeros(r.n, dtype=np.int32)
    w = r.weights if r.weights is not None else np.ones(r.n)
    keys = [tuple(int(r.segments[s][i]) for s in r.segments) + (int(wave[i]),) for i in range(r.n)]
    out = {}
    for key in sorted(set(keys)):
        rows = np.array([k == key for k in keys])
        x, wr = r.answers[rows], w[rows]
        answered = ~np.isnan(x)
        wa = np.where(answered, wr[:, None], 0.0)
        xa = np.where(answered, x, 0.0)
        out[key] = {
            "n": rows.sum(), "sum_w": wr.sum(), "sum_w2": (wr**2).sum(),
            "count": answered.sum(axis=0), "wsum": wa.sum(axis=0), "wsum2": (wa**2).sum(axis=0),
            "sum": (wa * xa).sum(axis=0), "sumsq": (wa * xa**2).sum(axis=0),
        }
    return out


def random_responses(rng: np.random.Generator, n: int, k: int = 3, weighted: bool = True) -> Responses:
    answers = rng.integers(1, 11, size=(n, k)).astype(float)
    answers[rng.random((n, k)) < 0.2] = np.nan
    return responses(answers, {"region": rng.integers(0, 3, n), "dealer": rng.integers(0, 4, n)},
                     wave=rng.integers(0, 5, n), weights=rng.lognormal(0, 0.4, n) if weighted else None)


def cell_key(cs: CellStats, c: int) -> tuple[int, ...]:
    return tuple(int(cs.segment_codes[s][c]) for s in cs.segment_codes) + (int(cs.wave_codes[c]),)


# ---------------------------------------------------------------------------- the numpy pass


@pytest.mark.parametrize("weighted", [True, False])
def test_compute_equals_direct_numpy(weighted: bool) -> None:
    r = random_responses(np.random.default_rng(7), 400, weighted=weighted)
    cs = stats.compute(r)
    expected = direct(r)
    assert [cell_key(cs, c) for c in range(cs.cells)] == list(expected)  # every occupied cell, once, sorted
    for c in range(cs.cells):
        want = expected[cell_key(cs, c)]
        for name in SUMS:
            np.testing.assert_allclose(getattr(cs, name)[c], want[name], rtol=1e-12, err_msg=name)
    assert cs.items == r.items
    assert cs.n.sum() == r.n
    np.testing.assert_allclose(cs.count.sum(axis=0), (~np.isnan(r.answers)).sum(axis=0))


def test_compute_small_example_by_hand() -> None:
    r = responses([[1, np.nan], [3, 4], [5, 6]], {"region": [0, 1, 0]}, weights=[1.0, 2.0, 3.0])
    cs = stats.compute(r)
    assert cs.segment_codes["region"].tolist() == [0, 1]
    assert cs.wave_codes.tolist() == [0, 0]  # no wave: every cell in wave 0
    assert cs.n.tolist() == [2, 1]
    assert cs.sum_w.tolist() == [4, 2] and cs.sum_w2.tolist() == [10, 4]
    assert cs.count.tolist() == [[2, 1], [1, 1]]
    assert cs.wsum.tolist() == [[4, 3], [2, 2]]
    assert cs.wsum2.tolist() == [[10, 9], [4, 4]]
    assert cs.sum.tolist() == [[1 + 15, 18], [6, 8]]
    assert cs.sumsq.tolist() == [[1 + 75, 108], [18, 32]]
    np.testing.assert_allclose(cs.mean(), [[4, 6], [3, 4]])


def test_unweighted_is_weight_one() -> None:
    rng = np.random.default_rng(3)
    r = random_responses(rng, 100, weighted=False)
    ones = responses(r.answers, r.segments, r.wave, np.ones(r.n))
    assert stats.compute(r) == stats.compute(ones)


def test_nan_adds_nothing_to_an_items_sums() -> None:
    r = responses([[np.nan, 2], [np.nan, 3]], weights=[2.0, 5.0])
    cs = stats.compute(r)
    assert cs.count[0].tolist() == [0, 2] and cs.wsum[0].tolist() == [0, 7] and cs.sum[0].tolist() == [0, 19]
    assert cs.n[0] == 2 and cs.sum_w[0] == 7
    assert np.isnan(cs.mean()[0, 0]) and cs.mean()[0, 1] == pytest.approx(19 / 7)
    assert cs.effective_base()[0, 0] == 0.0


def test_row_order_does_not_matter() -> None:
    rng = np.random.default_rng(11)
    r = random_responses(rng, 200)
    order = rng.permutation(r.n)
    shuffled = responses(r.answers[order], {k: v[order] for k, v in r.segments.items()}, r.wave[order],
                         r.weights[order])
    a, b = stats.compute(r), stats.compute(shuffled)
    for name in SUMS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12)
    assert a.segment_codes.keys() == b.segment_codes.keys()
    assert all(np.array_equal(a.segment_codes[k], b.segment_codes[k]) for k in a.segment_codes)


# ------------------------------------------------------------------------- merging, totals


# dyadic weights and small integer answers: every sum is exact in float64, so merges compare exactly
answer = st.one_of(st.integers(0, 10).map(float), st.just(np.nan))
weight = st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.25])


@st.composite
def parts(draw):
    k = draw(st.integers(1, 3))
    segment_ids = draw(st.sampled_from([(), ("region",), ("region", "dealer")]))
    has_wave = draw(st.booleans())
    weighted = draw(st.booleans())

    def one(n: int) -> Responses:
        rows = draw(st.lists(st.lists(answer, min_size=k, max_size=k), min_size=n, max_size=n))
        segments = {s: draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)) for s in segment_ids}
        wave = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)) if has_wave else None
        weights = draw(st.lists(weight, min_size=n, max_size=n)) if weighted else None
        return responses(np.array(rows, dtype=float).reshape(n, k), segments, wave, weights)

    return one(draw(st.integers(1, 25))), one(draw(st.integers(1, 25)))


def join(a: Responses, b: Responses) -> Responses:
    return responses(
        np.vstack([a.answers, b.answers]),
        {k: np.concatenate([a.segments[k], b.segments[k]]) for k in a.segments},
        None if a.wave is None else np.concatenate([a.wave, b.wave]),
        None if a.weights is None else np.concatenate([a.weights, b.weights]),
    )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(parts())
def test_property_stats_of_concatenation_equal_merged_stats_of_parts(ab) -> None:
    a, b = ab
    whole = stats.compute(join(a, b))
    merged = merge(stats.compute(a), stats.compute(b))
    assert merged == whole
    assert merged.total() == whole.total()
    assert whole.total() == merge(stats.compute(b), stats.compute(a)).total()


@settings(max_examples=100, deadline=None, derandomize=True)
@given(parts())
def test_property_total_equals_one_cell_computation(ab) -> None:
    a, _ = ab
    one_cell = stats.compute(responses(a.answers, weights=a.weights))  # no segments, no wave
    assert one_cell.cells == 1
    total = stats.compute(a).total()
    assert total.cells == 1
    for name in SUMS:
        np.testing.assert_array_equal(getattr(total, name), getattr(one_cell, name), err_msg=name)


def test_merge_with_float_weights_is_close() -> None:
    rng = np.random.default_rng(5)
    a, b, c = (random_responses(rng, n) for n in (150, 60, 1))
    whole = stats.compute(join(join(a, b), c))
    merged = merge(stats.compute(a), stats.compute(b), stats.compute(c))
    assert merged.cells == whole.cells
    for name in SUMS:
        np.testing.assert_allclose(getattr(merged, name), getattr(whole, name), rtol=1e-12, err_msg=name)
    for key in whole.segment_codes:
        np.testing.assert_array_equal(merged.segment_codes[key], whole.segment_codes[key])
    np.testing.assert_array_equal(merged.wave_codes, whole.wave_codes)


def test_group_rolls_cells_up_a_hierarchy() -> None:
    rng = np.random.default_rng(2)
    r = random_responses(rng, 300)
    cs = stats.compute(r)
    by_region = cs.group(cs.segment_codes["region"].astype(np.int64), 3)
    direct_region = stats.compute(responses(r.answers, {"region": r.segments["region"]}, weights=r.weights))
    for name in SUMS:
        np.testing.assert_allclose(getattr(by_region, name), getattr(direct_region, name), rtol=1e-12)
    assert by_region.segment_codes["region"].tolist() == [0, 1, 2]


def test_group_leaves_empty_groups_empty() -> None:
    cs = stats.compute(responses([[1.0], [2.0]], {"region": [0, 1]}))
    grouped = cs.group(np.array([0, 2]), 3)
    assert grouped.n.tolist() == [1, 0, 1]
    assert grouped.segment_codes["region"].tolist() == [0, -1, 1]
    assert grouped.wave_codes.tolist() == [0, -1, 0]
    assert np.isnan(grouped.mean()[1, 0])


def test_select_keeps_only_masked_cells() -> None:
    cs = stats.compute(random_responses(np.random.default_rng(4), 120))
    mask = cs.wave_codes == 2
    chosen = cs.select(mask)
    assert chosen.cells == int(mask.sum())
    np.testing.assert_array_equal(chosen.sum, cs.sum[mask])
    assert np.all(chosen.wave_codes == 2)


def test_total_of_no_rows_is_one_empty_cell() -> None:
    cs = stats.compute(responses(np.zeros((0, 2)), {"region": []}))
    assert cs.cells == 0
    total = cs.total()
    assert total.cells == 1 and total.n.tolist() == [0] and total.count.tolist() == [[0, 0]]
    assert np.isnan(total.mean()).all()


# -------------------------------------------------------------------------- derived values


def test_mean_and_effective_base_per_cell() -> None:
    r = random_responses(np.random.default_rng(9), 500)
    cs = stats.compute(r)
    wave = r.wave
    for c in range(cs.cells):
        key = cell_key(cs, c)
        rows = (r.segments["region"] == key[0]) & (r.segments["dealer"] == key[1]) & (wave == key[2])
        for j in range(len(r.items)):
            x = r.answers[rows, j]
            w = r.weights[rows][~np.isnan(x)]
            x = x[~np.isnan(x)]
            if x.size == 0:
                assert np.isnan(cs.mean()[c, j]) and cs.effective_base()[c, j] == 0
                continue
            assert cs.mean()[c, j] == pytest.approx(np.average(x, weights=w), rel=1e-12)
            assert cs.effective_base()[c, j] == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)


def test_effective_base_is_the_count_when_unweighted_and_smaller_when_weighted() -> None:
    r = random_responses(np.random.default_rng(12), 300, weighted=False)
    total = stats.compute(r).total()
    np.testing.assert_allclose(total.effective_base(), total.count)
    weighted = stats.compute(responses(r.answers, r.segments, r.wave, np.linspace(0.2, 5, r.n))).total()
    assert np.all(weighted.effective_base() < weighted.count)
    w = np.linspace(0.2, 5, r.n)
    answered = ~np.isnan(r.answers)
    expected = np.array([w[answered[:, j]].sum() ** 2 / (w[answered[:, j]] ** 2).sum() for j in range(3)])
    np.testing.assert_allclose(weighted.effective_base()[0], expected, rtol=1e-12)


def test_equality_compares_every_array() -> None:
    cs = stats.compute(random_responses(np.random.default_rng(1), 50))
    assert cs == stats.compute(random_responses(np.random.default_rng(1), 50))
    other = CellStats(**{**cs.__dict__, "sumsq": cs.sumsq + 1})
    assert cs != other
    moved = CellStats(**{**cs.__dict__, "segment_codes": {k: v[::-1] for k, v in cs.segment_codes.items()}})
    assert cs != moved


# ------------------------------------------------------------ frequencies, gaps, splits, cross-products
#
# A richer layout, as a questionnaire makes it: i0-i3 are 0-10 ratings in two factors
# (f: i0, i1; g: i2, i3), i4 is the expectation of i0, i5 is the complaint item (1 = yes,
# 2 = no) and i6 the overall outcome (0-10). The factor scores are variables 7 and 8.

RICH = StatsPlan(
    items=tuple(f"i{j}" for j in range(7)),
    factors=(FactorScore("f", (0, 1), (0.0, 0.0), (10.0, 10.0)), FactorScore("g", (2, 3), (0.0, 0.0), (10.0, 10.0))),
    discrete=(0, 1, 2, 3, 4, 5, 6), discrete_low=(0, 0, 0, 0, 0, 1, 0), values=11,
    gaps=((0, 4),), complaint=(5, (1.0,)), outcomes=(6,),
    item_block=(0, 1, 2, 3, 7, 8, 6), factor_block=(7, 8, 6),
)


def rich_answers(rng: np.random.Generator, n: int, missing: float = 0.2) -> np.ndarray:
    latent = rng.normal(size=(n, 1))
    answers = np.clip(np.rint(6 + 2 * latent + rng.normal(0, 1.5, (n, 7))), 0, 10)
    answers[:, 5] = rng.integers(1, 3, n)
    answers[rng.random((n, 7)) < missing] = np.nan
    return answers


def rich_responses(rng: np.random.Generator, n: int, weighted: bool = True) -> Responses:
    return responses(rich_answers(rng, n), {"region": rng.integers(0, 3, n), "dealer": rng.integers(0, 4, n)},
                     wave=rng.integers(0, 4, n), weights=rng.lognormal(0, 0.4, n) if weighted else None)


def raw_factor_scores(r: Responses) -> np.ndarray:
    """Per respondent: the mean of each factor's answered items rescaled to 0-100, in float64 (NaN if none)."""
    out = []
    for factor in RICH.factors:
        rescaled = np.stack([(r.answers[:, k].astype(np.float64) - lo) / (hi - lo) * 100 for k, lo, hi in
                             zip(factor.items, factor.low, factor.high)], axis=1)
        answered = (~np.isnan(rescaled)).sum(axis=1)
        total = np.nansum(rescaled, axis=1)
        out.append(np.where(answered > 0, total / np.maximum(answered, 1), np.nan))
    return np.stack(out, axis=1)


def variables_of(r: Responses) -> np.ndarray:
    """Every variable of the plan per respondent: the items, then the factor scores (NaN = missing)."""
    return np.column_stack([r.answers.astype(np.float64), raw_factor_scores(r)])


def cross_products(x: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """xx, xm, x2m, mm of plan.py, pair by pair with plain loops over the rows that answered both."""
    k = x.shape[1]
    out = {name: np.zeros((k, k)) for name in ("xx", "xm", "x2m", "mm")}
    for i in range(k):
        for j in range(k):
            both = ~np.isnan(x[:, i]) & ~np.isnan(x[:, j])
            xi, xj, wb = x[both, i], x[both, j], w[both]
            out["xx"][i, j] = np.sum(wb * xi * xj)
            out["xm"][i, j] = np.sum(wb * xi)
            out["x2m"][i, j] = np.sum(wb * xi**2)
            out["mm"][i, j] = np.sum(wb)
    return out


def rows_of_cell(r: Responses, cs: CellStats, c: int) -> np.ndarray:
    rows = r.wave == cs.wave_codes[c]
    for s in r.segments:
        rows &= r.segments[s] == cs.segment_codes[s][c]
    return rows


@pytest.mark.parametrize("weighted", [True, False])
def test_frequency_tables_count_each_value(weighted: bool) -> None:
    r = rich_responses(np.random.default_rng(21), 500, weighted)
    cs = stats.compute_all(r, RICH).cells
    w = r.weights if weighted else np.ones(r.n)
    assert cs.freq.shape == cs.freq_n.shape == (cs.cells, 7, 11)
    for c in range(cs.cells):
        rows = rows_of_cell(r, cs, c)
        for d, (k, low) in enumerate(zip(RICH.discrete, RICH.discrete_low)):
            x = r.answers[rows, k]
            for slot in range(11):
                hit = x == low + slot
                assert cs.freq_n[c, d, slot] == hit.sum()
                assert cs.freq[c, d, slot] == pytest.approx(w[rows][hit].sum(), rel=1e-12, abs=1e-12)
            # the moments of a discrete item follow from its table, and agree with the rows
            answered = ~np.isnan(x)
            assert cs.count[c, k] == answered.sum() == cs.freq_n[c, d].sum()
            assert cs.sum[c, k] == pytest.approx((w[rows][answered] * x[answered]).sum(), rel=1e-12, abs=1e-12)
            assert cs.sumsq[c, k] == pytest.approx((w[rows][answered] * x[answered] ** 2).sum(), rel=1e-12,
                                                   abs=1e-12)
            assert cs.wsum2[c, k] == pytest.approx((w[rows][answered] ** 2).sum(), rel=1e-12, abs=1e-12)


def test_frequency_table_by_hand() -> None:
    plan = StatsPlan(("i0",), discrete=(0,), discrete_low=(1,), values=5)
    r = responses([[1], [3], [3], [np.nan], [5]], {"region": [0, 0, 0, 0, 1]}, weights=[1.0, 2.0, 0.5, 4.0, 3.0])
    cs = stats.compute_all(r, plan).cells
    assert cs.freq_n[:, 0].tolist() == [[1, 0, 2, 0, 0], [0, 0, 0, 0, 1]]
    assert cs.freq[:, 0].tolist() == [[1, 0, 2.5, 0, 0], [0, 0, 0, 0, 3]]


@pytest.mark.parametrize("weighted", [True, False])
def test_factor_scores_and_their_moments_equal_direct_numpy(weighted: bool) -> None:
    r = rich_responses(np.random.default_rng(22), 600, weighted)
    scores = raw_factor_scores(r)
    np.testing.assert_allclose(stats.factor_scores(r, RICH), scores, rtol=1e-6)
    cs = stats.compute_all(r, RICH).cells
    assert cs.variables == RICH.items + ("@f", "@g")
    w = r.weights if weighted else np.ones(r.n)
    for c in range(cs.cells):
        rows = rows_of_cell(r, cs, c)
        for f in range(2):
            x, wr = scores[rows, f], w[rows]
            answered = ~np.isnan(x)
            v = 7 + f
            assert cs.count[c, v] == answered.sum()
            assert cs.wsum[c, v] == pytest.approx(wr[answered].sum(), rel=1e-12)
            assert cs.wsum2[c, v] == pytest.approx((wr[answered] ** 2).sum(), rel=1e-12)
            assert cs.sum[c, v] == pytest.approx((wr * np.nan_to_num(x)).sum(), rel=1e-6, abs=1e-9)
            assert cs.sumsq[c, v] == pytest.approx((wr * np.nan_to_num(x) ** 2).sum(), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("weighted", [True, False])
def test_gap_sums_use_the_rows_with_both_answers(weighted: bool) -> None:
    r = rich_responses(np.random.default_rng(23), 500, weighted)
    cs = stats.compute_all(r, RICH).cells
    w = r.weights if weighted else np.ones(r.n)
    for c in range(cs.cells):
        rows = rows_of_cell(r, cs, c)
        gap = r.answers[rows, 0] - r.answers[rows, 4]
        both = ~np.isnan(gap)
        g, wb = gap[both], w[rows][both]
        want = {"gap_count": both.sum(), "gap_wsum": wb.sum(), "gap_wsum2": (wb**2).sum(), "gap_sum": (wb * g).sum(),
                "gap_sumsq": (wb * g**2).sum(), "gap_met": wb[g >= 0].sum()}
        for name, value in want.items():
            assert getattr(cs, name)[c, 0] == pytest.approx(value, rel=1e-12, abs=1e-12), name


@pytest.mark.parametrize("weighted", [True, False])
def test_complaint_split_moments_of_the_outcome(weighted: bool) -> None:
    r = rich_responses(np.random.default_rng(24), 500, weighted)
    cs = stats.compute_all(r, RICH).cells
    w = r.weights if weighted else np.ones(r.n)
    assert cs.split_count.shape == (cs.cells, 2, 1)
    for c in range(cs.cells):
        rows = rows_of_cell(r, cs, c)
        complaint, outcome, wr = r.answers[rows, 5], r.answers[rows, 6], w[rows]
        for g, member in enumerate((complaint == 1, complaint == 2)):  # complained; answered and did not
            use = member & ~np.isnan(outcome)
            x, wu = outcome[use], wr[use]
            want = {"split_count": use.sum(), "split_wsum": wu.sum(), "split_wsum2": (wu**2).sum(),
                    "split_sum": (wu * x).sum(), "split_sumsq": (wu * x**2).sum()}
            for name, value in want.items():
                assert getattr(cs, name)[c, g, 0] == pytest.approx(value, rel=1e-12, abs=1e-12), (name, g)
    # respondents who did not answer the complaint question are in neither group
    total = cs.total()
    answered_both = ~np.isnan(r.answers[:, 5]) & ~np.isnan(r.answers[:, 6])
    assert total.split_count[0, :, 0].sum() == answered_both.sum()


@pytest.mark.parametrize("weighted", [True, False])
def test_factor_block_cross_products_per_cell_are_pairwise_sums(weighted: bool) -> None:
    r = rich_responses(np.random.default_rng(25), 400, weighted)
    cs = stats.compute_all(r, RICH).cells
    x = variables_of(r)[:, list(RICH.factor_block)]
    w = r.weights if weighted else np.ones(r.n)
    assert cs.xx.shape == (cs.cells, 3, 3)
    for c in range(cs.cells):
        rows = rows_of_cell(r, cs, c)
        want = cross_products(x[rows], w[rows])
        for name in stats.CROSS:
            np.testing.assert_allclose(getattr(cs, name)[c], want[name], rtol=2e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("weighted", [True, False])
def test_item_block_cross_products_per_unit_pool_the_waves(weighted: bool) -> None:
    r = rich_responses(np.random.default_rng(26), 400, weighted)
    study = stats.compute_all(r, RICH)
    units = study.units
    assert units is not None and units.variables == RICH.item_block
    x = variables_of(r)[:, list(RICH.item_block)]
    w = r.weights if weighted else np.ones(r.n)
    keys = set(zip(r.segments["region"].tolist(), r.segments["dealer"].tolist()))
    assert units.units == len(keys) == 12
    for u in range(units.units):
        rows = (r.segments["region"] == units.segment_codes["region"][u]) & (
            r.segments["dealer"] == units.segment_codes["dealer"][u])
        want = cross_products(x[rows], w[rows])
        for name in stats.CROSS:
            np.testing.assert_allclose(getattr(units, name)[u], want[name], rtol=2e-6, atol=1e-6, err_msg=name)
    # each cell belongs to the unit of its segment codes
    for c in range(study.cells.cells):
        u = study.unit_of_cell[c]
        assert all(study.cells.segment_codes[s][c] == units.segment_codes[s][u] for s in r.segments)


def test_cross_products_over_more_rows_than_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit larger than a chunk is summed piece by piece: the same sums."""
    from surveyengine.stats import numpy_backend

    r = rich_responses(np.random.default_rng(27), 700)
    whole = stats.compute_all(r, RICH)
    monkeypatch.setattr(numpy_backend, "_UNIT_CHUNK_ROWS", 64)
    pieces = stats.compute_all(r, RICH)
    for name in stats.CROSS:
        np.testing.assert_allclose(getattr(pieces.cells, name), getattr(whole.cells, name), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(getattr(pieces.units, name), getattr(whole.units, name), rtol=1e-6, atol=1e-6)


def test_pairwise_equals_pandas_pairwise_deletion() -> None:
    pd = pytest.importorskip("pandas")
    r = rich_responses(np.random.default_rng(28), 800, weighted=False)
    units = stats.compute_all(r, RICH).units
    total = units.total()
    estimate = stats.pairwise(*(getattr(total, name)[0] for name in stats.CROSS))
    frame = pd.DataFrame(variables_of(r)[:, list(RICH.item_block)])
    np.testing.assert_allclose(estimate["corr"], frame.corr().to_numpy(), rtol=1e-5, atol=1e-6)
    n = estimate["n"]
    np.testing.assert_array_equal(n, frame.notna().astype(int).T @ frame.notna().astype(int))
    np.testing.assert_allclose(estimate["cov"] * n / (n - 1), frame.cov().to_numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(estimate["mean"], frame.mean().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(estimate["var"], frame.var(ddof=0).to_numpy(), rtol=1e-5)
    assert np.all(np.diag(estimate["corr"]) == 1.0)


def test_pairwise_of_one_dealer_equals_pandas() -> None:
    pd = pytest.importorskip("pandas")
    r = rich_responses(np.random.default_rng(29), 600, weighted=False)
    units = stats.compute_all(r, RICH).units
    dealer = units.group(units.segment_codes["dealer"].astype(np.int64), 4)  # a roll-up over regions
    rows = r.segments["dealer"] == 2
    estimate = stats.pairwise(*(getattr(dealer, name)[2] for name in stats.CROSS))
    frame = pd.DataFrame(variables_of(r)[rows][:, list(RICH.item_block)])
    np.testing.assert_allclose(estimate["corr"], frame.corr().to_numpy(), rtol=1e-5, atol=1e-6)


# dyadic weights, 0-10 answers and factors of two items: factor scores are multiples of 5 and every sum,
# the float32 cross-products included, is exact, so merged statistics compare exactly
rich_answer = st.one_of(st.integers(0, 10).map(float), st.just(np.nan))
complaint_answer = st.sampled_from([1.0, 2.0, np.nan])
dyadic = st.sampled_from([0.5, 1.0, 1.5, 2.0])


@st.composite
def rich_parts(draw):
    segment_ids = draw(st.sampled_from([(), ("region",), ("region", "dealer")]))
    has_wave = draw(st.booleans())
    weighted = draw(st.booleans())

    def one(n: int) -> Responses:
        rows = [draw(st.tuples(*[rich_answer] * 5, complaint_answer, rich_answer)) for _ in range(n)]
        segments = {s: draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)) for s in segment_ids}
        wave = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)) if has_wave else None
        weights = draw(st.lists(dyadic, min_size=n, max_size=n)) if weighted else None
        return responses(np.array(rows, dtype=float).reshape(n, 7), segments, wave, weights)

    return one(draw(st.integers(1, 20))), one(draw(st.integers(1, 20)))


def merge_units(parts: list[stats.UnitCross]) -> stats.UnitCross:
    """The item blocks of separate passes as one: units with the same segment codes are added."""
    from dataclasses import replace

    both = replace(parts[0], segment_codes={k: np.concatenate([p.segment_codes[k] for p in parts])
                                            for k in parts[0].segment_codes},
                   **{name: np.concatenate([getattr(p, name) for p in parts]) for name in stats.CROSS})
    if not both.segment_codes:
        return both.total()
    keys = np.stack(list(both.segment_codes.values()), axis=1)
    combos, inverse = np.unique(keys, axis=0, return_inverse=True)
    return both.group(inverse.reshape(-1), combos.shape[0])


@settings(max_examples=120, deadline=None, derandomize=True)
@given(rich_parts())
def test_property_merged_frequencies_gaps_splits_and_cross_products_equal_one_pass(ab) -> None:
    a, b = ab
    whole = stats.compute_all(join(a, b), RICH)
    part_a, part_b = stats.compute_all(a, RICH), stats.compute_all(b, RICH)
    merged = merge(part_a.cells, part_b.cells)
    for name in ("freq", "freq_n", "gap_count", "gap_wsum", "gap_wsum2", "gap_sum", "gap_sumsq", "gap_met",
                 "split_count", "split_wsum", "split_wsum2", "split_sum", "split_sumsq", *stats.CROSS):
        assert getattr(merged, name).shape == getattr(whole.cells, name).shape, name
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole.cells, name), err_msg=name)
    assert merged == whole.cells
    assert merged.total() == whole.cells.total()
    units = merge_units([part_a.units, part_b.units])
    assert units == whole.units
    assert units.total() == whole.units.total()
    # and the item block's total is the sum of its units, as the factor block's is of its cells
    for name in ("xx", "xm", "x2m", "mm"):
        np.testing.assert_array_equal(getattr(whole.units.total(), name)[0][np.ix_([4, 5, 6], [4, 5, 6])],
                                      getattr(whole.cells.total(), name)[0])


@pytest.mark.parametrize("chunk", [None, 37])
def test_replicate_groups_partition_the_rows_and_add_up_to_the_total(monkeypatch: pytest.MonkeyPatch,
                                                                    chunk: int | None) -> None:
    """The replicate block per random group: groups that together are every row, each respondent in the group
    its id hashes to (whatever the order of the rows), each group's sums those of its rows."""
    from dataclasses import replace

    from surveyengine.stats import numpy_backend

    if chunk is not None:  # chunks that do not start on a whole round of groups
        monkeypatch.setattr(numpy_backend, "_UNIT_CHUNK_ROWS", chunk)
    plan = replace(RICH, replicates=8, replicate_block=(7, 8, 6))
    r = rich_responses(np.random.default_rng(28), 500)
    study = stats.compute_all(r, plan)
    groups = study.replicates
    assert groups is not None and groups.units == 8 and groups.variables == (7, 8, 6)
    x = variables_of(r)[:, [7, 8, 6]]
    total = cross_products(x, r.weights)
    for name in stats.CROSS:  # the groups add up to the total: they partition the rows
        np.testing.assert_allclose(getattr(groups, name).sum(axis=0), total[name], rtol=2e-6, atol=1e-6)
    complete = responses(rich_answers(np.random.default_rng(29), 501, missing=0.0),
                         {"region": np.random.default_rng(30).integers(0, 3, 501)}, wave=np.zeros(501, dtype=int))
    rows_per_group = stats.compute_all(complete, plan).replicates.mm[:, 0, 0]  # unweighted, all answered
    hashed = [hashlib.md5(f"R{k}".encode()).digest()[0] % 8 for k in range(501)]
    np.testing.assert_array_equal(rows_per_group, np.bincount(hashed, minlength=8))
    assert rows_per_group.min() > 501 / 8 / 2  # every group is well filled
    again = stats.compute_all(r, plan).replicates
    for name in stats.CROSS:
        np.testing.assert_array_equal(getattr(again, name), getattr(groups, name))
    shuffled = np.random.default_rng(31).permutation(r.n)  # the same respondents in another order
    reordered = replace(r, answers=np.asfortranarray(r.answers[shuffled]), ids=r.ids[shuffled],
                        segments={k: v[shuffled] for k, v in r.segments.items()},
                        wave=r.wave[shuffled] if r.wave is not None else None,
                        weights=r.weights[shuffled] if r.weights is not None else None)
    moved = stats.compute_all(reordered, plan).replicates
    for name in stats.CROSS:
        np.testing.assert_allclose(getattr(moved, name), getattr(groups, name), rtol=1e-6, atol=1e-6)
    # a random partition: the groups' means differ by sampling noise only, not systematically
    means = groups.xm[:, 2, 2] / groups.mm[:, 2, 2]
    assert means.std() < 0.5


def test_threads_of_the_cross_product_pass_give_the_sums_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of units shared among threads: units and cells are each summed by one thread, and the replicate
    groups' sums of every chunk are added in chunk order, so every sum is the same to the bit whatever the
    number of threads (results.json is byte-identical on machines with different numbers of cores)."""
    from dataclasses import replace

    from surveyengine.stats import numpy_backend

    plan = replace(RICH, replicates=8, replicate_block=(7, 8, 6))
    r = rich_responses(np.random.default_rng(29), 900)
    # weights over many orders of magnitude: float32 products whose float64 sums round, in an order-dependent way
    r = replace(r, weights=np.random.default_rng(3).lognormal(0, 6, r.n))
    monkeypatch.setattr(numpy_backend, "_UNIT_CHUNK_ROWS", 64)  # many chunks for the threads to share
    monkeypatch.setenv("SURVEYENGINE_JOBS", "1")
    alone = stats.compute_all(r, plan)
    monkeypatch.setenv("SURVEYENGINE_JOBS", "3")
    shared = stats.compute_all(r, plan)
    assert alone.cells == shared.cells and alone.units == shared.units and alone.replicates == shared.replicates
    assert np.any(getattr(alone.replicates, "mm") > 0)


@pytest.mark.parametrize("ids", [["R1", "ümlaut-2", "", "x" * 40, "中文"], [1, 22, 333], ["p", 5, "中"]])
def test_replicate_groups_of_the_ids_bytes_equal_those_of_the_ids(ids: list) -> None:
    """The pass hashes the ids as one UTF-8 buffer (in a forked process); the groups are those of each id's text."""
    import pyarrow as pa

    from surveyengine.stats.numpy_backend import _groups_of_bytes, _id_bytes, replicate_groups

    expected = replicate_groups(ids, 64)
    for given in ([ids] if any(isinstance(v, str) for v in ids) and any(isinstance(v, int) for v in ids)
                  else [ids, pa.array(ids), pa.chunked_array([pa.array(ids)]), pa.array(["pad", *map(str, ids)])[1:]]):
        np.testing.assert_array_equal(_groups_of_bytes(*_id_bytes(given), 64), expected)
