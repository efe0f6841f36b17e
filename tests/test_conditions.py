"""The ``when:`` condition language: parsing, refusals and evaluation over answer columns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from surveyengine.conditions import Condition, ConditionError, parse

NAN = np.nan


def error_of(source: str) -> tuple[str, int]:
    with pytest.raises(ConditionError) as info:
        parse(source)
    return str(info.value), info.value.offset


# --------------------------------------------------------------------------- parsing

@pytest.mark.parametrize(("source", "names"), [
    ("complained == 1", {"complained"}),
    ("visit_type in [2, 3] and age >= 18", {"visit_type", "age"}),
    ("not (a == 1 or b != 2)", {"a", "b"}),
    ("1 <= rating <= 3", {"rating"}),
    ("region == 'North'", {"region"}),
    ("x in [y, 3]", {"x", "y"}),
    ("x > -1", {"x"}),
    ("x in (1, 2)", {"x"}),
    ("a == b", {"a", "b"}),
])
def test_parse_collects_item_names(source: str, names: set[str]) -> None:
    condition = parse(source)
    assert isinstance(condition, Condition)
    assert condition.names == frozenset(names)


def test_parse_strips_and_keeps_source() -> None:
    condition = parse("  complained == 1 \n")
    assert condition.source == "complained == 1"
    assert str(condition) == "complained == 1"


@pytest.mark.parametrize(("source", "message", "offset"), [
    ("", "empty condition", 0),
    ("   ", "empty condition", 0),
    ("complained = 1", "condition is not valid: compare with '==', not '='", 11),
    ("a == 1 and b = 2", "condition is not valid: compare with '==', not '='", 13),
    ("a >= 1 and", "condition is not valid: it ends too early", 10),  # no '=' hint for '>='
    ("a ==", "condition is not valid: it ends too early", 4),
    ("a == 1 2", "condition is not valid: invalid syntax", 7),
    ("a == (1", "condition is not valid: '(' was never closed", 5),
    ("complained", "'complained' is not a comparison; write e.g. 'complained == 1'", 0),
    ("a == 1 and b", "'b' is not a comparison; write e.g. 'b == 1'", 11),
    ("not b", "'b' is not a comparison; write e.g. 'b == 1'", 4),
    ("1", "'1' is not a comparison; compare an item, e.g. 'complained == 1'", 0),
    ("'yes'", "''yes'' is not a comparison; compare an item, e.g. 'complained == 1'", 0),
    ("a is None", "operator Is is not allowed", 5),
    ("a is not 1", "operator IsNot is not allowed", 9),
    ("a in b", "'in' needs a list, e.g. x in [1, 2]", 5),
    ("a == True", "value True is not allowed; use numbers or quoted text", 5),
    ("a == None", "value None is not allowed; use numbers or quoted text", 5),
    ("a + 1 == 2", "'a + 1' is not allowed in a condition; use item ids, numbers, comparisons, 'in [..]', and, or, not",
     0),
    ("__import__('os').system('ls') == 0",
     "'__import__('os').system('ls')' is not allowed in a condition; use item ids, numbers, comparisons, "
     "'in [..]', and, or, not", 0),
    ("a.real == 1", "'a.real' is not allowed in a condition; use item ids, numbers, comparisons, 'in [..]', and, "
     "or, not", 0),
    ("a[0] == 1", "'a[0]' is not allowed in a condition; use item ids, numbers, comparisons, 'in [..]', and, or, not",
     0),
    ("(lambda: 1)() == 1", "'(lambda: 1)()' is not allowed in a condition; use item ids, numbers, comparisons, "
     "'in [..]', and, or, not", 0),
    ("a == -b", "'-b' is not allowed in a condition; use item ids, numbers, comparisons, 'in [..]', and, or, not", 5),
    ("a in [1, f(2)]", "'f(2)' is not allowed in a condition; use item ids, numbers, comparisons, 'in [..]', and, "
     "or, not", 9),
    ("a if b else c", "'a if b else c' is not allowed in a condition; use item ids, numbers, comparisons, 'in [..]', "
     "and, or, not", 0),
])
def test_parse_errors(source: str, message: str, offset: int) -> None:
    assert error_of(source) == (message, offset)


def test_condition_error_is_a_value_error() -> None:
    assert issubclass(ConditionError, ValueError)


# --------------------------------------------------------------------------- evaluation

def ev(source: str, **columns: object) -> np.ndarray:
    result = parse(source).evaluate({k: np.asarray(v) for k, v in columns.items()})
    return np.asarray(result)


X = [1.0, 2.0, 3.0, NAN]


@pytest.mark.parametrize(("source", "expected"), [
    ("x == 1", [True, False, False, False]),
    ("x != 1", [False, True, True, False]),  # unanswered is not 'different from 1'
    ("x < 3", [True, True, False, False]),
    ("x <= 2", [True, True, False, False]),
    ("x > 1", [False, True, True, False]),
    ("x >= 1", [True, True, True, False]),
    ("x in [1, 3]", [True, False, True, False]),
    ("x not in [1, 3]", [False, True, False, False]),  # unanswered is not 'outside the list'
    ("x in []", [False, False, False, False]),
    ("x not in []", [True, True, True, False]),
    ("1 < x <= 3", [False, True, True, False]),
    ("x > -1", [True, True, True, False]),
    ("x in [-1, 2]", [False, True, False, False]),
    ("x == 1 or x == 3", [True, False, True, False]),
    ("x >= 1 and x != 2", [True, False, True, False]),
    ("not x == 1", [False, True, True, True]),  # 'not' flips a false comparison: unanswered counts here
    ("not (x == 1 or x == 2)", [False, False, True, True]),
])
def test_evaluate_with_unanswered(source: str, expected: list[bool]) -> None:
    result = ev(source, x=X)
    assert result.dtype == bool
    assert result.tolist() == expected


def test_evaluate_two_items() -> None:
    x = [1.0, 2.0, NAN, 4.0, NAN]
    y = [1.0, 1.0, 1.0, NAN, NAN]
    assert ev("x == y", x=x, y=y).tolist() == [True, False, False, False, False]
    assert ev("x != y", x=x, y=y).tolist() == [False, True, False, False, False]
    assert ev("x > y", x=x, y=y).tolist() == [False, True, False, False, False]
    assert ev("x == 1 and y == 1", x=x, y=y).tolist() == [True, False, False, False, False]
    assert ev("x == 4 or y == 1", x=x, y=y).tolist() == [True, True, True, True, False]


def test_in_list_with_an_item_is_row_by_row() -> None:
    x = [1.0, 2.0, 3.0, NAN]
    y = [2.0, 2.0, 1.0, 1.0]
    assert ev("x in [y, 3]", x=x, y=y).tolist() == [False, True, True, False]
    assert ev("x not in [y]", x=x, y=y).tolist() == [True, False, True, False]


def test_in_list_with_mixed_codes() -> None:
    assert ev("x in [1, 'other']", x=X).tolist() == [True, False, False, False]
    codes = np.array([1, "other", "", 2], dtype=object)
    assert ev("x in [1, 'other']", x=codes).tolist() == [True, True, False, False]
    assert ev("x not in [1, 'other']", x=codes).tolist() == [False, False, False, True]


def test_text_columns_empty_means_unanswered() -> None:
    region = np.array(["North", "", "South"], dtype=object)
    assert ev("region == 'North'", region=region).tolist() == [True, False, False]
    assert ev("region != 'North'", region=region).tolist() == [False, False, True]
    assert ev("region < 'O'", region=region).tolist() == [True, False, False]
    assert ev("region in ['North', 'South']", region=region).tolist() == [True, False, True]
    assert ev("region not in ['North']", region=region).tolist() == [False, False, True]
    fixed = np.array(["North", "", "South"])  # numpy unicode, not object
    assert ev("region != 'South'", region=fixed).tolist() == [True, False, False]


def test_integer_columns_are_always_answered() -> None:
    codes = np.array([1, 2, 3])
    assert ev("c != 2", c=codes).tolist() == [True, False, True]
    assert ev("c not in [1]", c=codes).tolist() == [False, True, True]


def test_evaluate_scalars() -> None:
    condition = parse("x == 1 and y != 2")
    assert bool(condition.evaluate({"x": 1.0, "y": 3.0})) is True
    assert bool(condition.evaluate({"x": 1.0, "y": NAN})) is False
    assert bool(parse("x in [1, 2]").evaluate({"x": NAN})) is False
    assert bool(parse("x not in [1, 2]").evaluate({"x": NAN})) is False


def test_evaluate_two_dimensional() -> None:
    x = np.array([[1.0, NAN], [2.0, 1.0]])
    assert ev("x == 1", x=x).tolist() == [[True, False], [False, True]]
    assert ev("x != 1", x=x).tolist() == [[False, False], [True, False]]


def test_evaluate_no_runtime_warning() -> None:
    with np.errstate(all="raise"):
        assert ev("x < 2 and x != 1", x=X).tolist() == [False, False, False, False]


def test_unknown_column_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        parse("x == 1").evaluate({"y": np.array([1.0])})


_ANSWERS = hnp.arrays(np.float64, st.integers(1, 30), elements=st.one_of(st.just(NAN), st.integers(0, 5).map(float)))
_OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])


@settings(max_examples=200, deadline=None)
@given(x=_ANSWERS, op=_OPS, value=st.integers(0, 5))
def test_comparison_matches_row_by_row_reference(x: np.ndarray, op: str, value: int) -> None:
    reference = {"==": lambda a: a == value, "!=": lambda a: a != value, "<": lambda a: a < value,
                 "<=": lambda a: a <= value, ">": lambda a: a > value, ">=": lambda a: a >= value}[op]
    expected = [False if np.isnan(a) else bool(reference(a)) for a in x]
    assert ev(f"x {op} {value}", x=x).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(x=_ANSWERS, options=st.lists(st.integers(0, 5), max_size=4))
def test_in_and_not_in_are_complements_on_answered_rows(x: np.ndarray, options: list[int]) -> None:
    listed = ", ".join(map(str, options))
    inside = ev(f"x in [{listed}]", x=x)
    outside = ev(f"x not in [{listed}]", x=x)
    answered = ~np.isnan(x)
    assert (inside ^ outside).tolist() == answered.tolist()
    assert not (inside & ~answered).any()
    assert inside.tolist() == [bool(a in options) for a in x]
