"""The results tree's helpers: rounding for JSON, and the pause of the cyclic garbage collector."""

from __future__ import annotations

import gc

import numpy as np

from surveyengine.results import Value, clean, clean_array, clean_rows, collector_paused


def test_clean_rows_round_every_row_as_clean_array_does() -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(0, 1, (4, 50)) * 10.0 ** rng.integers(-8, 9, (4, 50))
    rows[0, :] = np.nan  # a row with no finite value stays a row (clean_array would make a 2-D row None)
    rows[1, ::7] = np.inf
    rows[2, 3] = 0.0
    rows[3, 5] = 1e-310  # subnormal
    cleaned = clean_rows(rows)
    assert cleaned[0] == [None] * 50
    for row, mine in zip(rows, cleaned):
        assert mine == clean_array(row)
    assert cleaned[2][3] == 0.0 and cleaned[3][5] == 0.0  # a subnormal rounds to zero
    assert [v for v in cleaned[1] if v is not None] == [clean(v) for v in rows[1].tolist() if np.isfinite(v)]


def test_objects_made_while_the_collector_is_paused_go_to_the_oldest_generation() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        made = [Value(float(k)) for k in range(1000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 100  # no young generation full of them for the next allocation to walk
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(v) in oldest for v in made) and id(made) in oldest
    assert gc.get_freeze_count() == 0


def test_the_pause_leaves_objects_frozen_by_someone_else_frozen() -> None:
    """In a fresh interpreter: the collector's state is the whole process's, and in the full suite (threads of
    other tests' servers and browsers alive) this check failed twice in about six runs, never alone."""
    import subprocess
    import sys

    check = """
import gc
from surveyengine.results import Value, collector_paused
gc.freeze()
frozen = gc.get_freeze_count()
with collector_paused():
    made = [Value(None) for _ in range(100)]
assert gc.isenabled(), "the collector is left off"
assert gc.get_freeze_count() == frozen, "someone else's frozen objects were let go"
assert not any(o is made for o in gc.get_objects(generation=2)), "the pause moved objects although some were frozen"
"""
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_paused_collector_stays_paused_inside_and_off_when_it_was_off() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
