"""Cell statistics: the numpy pass against a direct computation, and merging by addition.

The property at the heart of the design: statistics of concatenated data equal the merge
(grouping by segment and wave) of the statistics of the parts. ``concat`` below stacks the
cells of two CellStats; it lives here because the module has no such function.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveyengine import stats
from surveyengine.data import Responses
from surveyengine.stats import CELL_SUMS, ITEM_SUMS, CellStats

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
    assert a.items == b.items and a.segment_codes.keys() == b.segment_codes.keys()
    return CellStats(
        items=a.items,
        segment_codes={k: np.concatenate([a.segment_codes[k], b.segment_codes[k]]) for k in a.segment_codes},
        wave_codes=np.concatenate([a.wave_codes, b.wave_codes]),
        **{name: np.concatenate([getattr(a, name), getattr(b, name)]) for name in SUMS},
    )


def merge(*parts: CellStats) -> CellStats:
    """Cells of the parts merged by (segment codes, wave code), in the order compute() sorts cells."""
    both = parts[0]
    for part in parts[1:]:
        both = concat(both, part)
    keys = np.stack([both.segment_codes[k] for k in both.segment_codes] + [both.wave_codes], axis=1)
    combos, inverse = np.unique(keys, axis=0, return_inverse=True)
    return both.group(inverse.reshape(-1), combos.shape[0])


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
