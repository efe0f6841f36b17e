"""Conditions under which an item is asked: ``when: complained == 1``.

The language is a small, safe subset of Python expressions, parsed with
:mod:`ast` and never evaluated by Python: item ids, numbers and quoted text,
comparisons (``== != < <= > >=``, ``in [..]``, ``not in [..]``), ``and``,
``or``, ``not`` and parentheses. A condition evaluates over whole answer
columns at once; an unanswered item makes a comparison false.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_SYMBOL = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
           ast.In: "in", ast.NotIn: "not in"}


class ConditionError(ValueError):
    """A condition that does not parse; ``offset`` is its 0-based column in the text."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Condition:
    source: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, columns: Mapping[str, Any]) -> Any:
        """Evaluate over numpy arrays (or scalars) keyed by item id; returns a boolean array."""
        return _evaluate(self.tree, columns)

    def __str__(self) -> str:
        return self.source


def parse(source: str) -> Condition:
    """Parse a condition; raises :class:`ConditionError` naming what is wrong and where."""
    text = source.strip()
    if not text:
        raise ConditionError("empty condition")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        single = _SINGLE_EQUALS.search(text)
        if single is not None:
            raise ConditionError("condition is not valid: compare with '==', not '='", single.start()) from None
        if not exc.offset:  # Python gives no column when the text ends too early: 'a == 1 and'
            raise ConditionError("condition is not valid: it ends too early", len(text)) from None
        raise ConditionError(f"condition is not valid: {exc.msg}", exc.offset - 1) from None
    names: set[str] = set()
    _check_test(tree, names)
    return Condition(text, tree, frozenset(names))


_SINGLE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")


def _check_test(node: ast.AST, names: set[str]) -> None:
    """A part that must be true or false: a comparison, or comparisons joined by and, or, not."""
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check_test(value, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check_test(node.operand, names)
    elif isinstance(node, ast.Compare):
        _check(node, names)
    elif isinstance(node, ast.Name):
        raise ConditionError(f"'{node.id}' is not a comparison; write e.g. '{node.id} == 1'", node.col_offset)
    elif isinstance(node, ast.Constant):
        raise ConditionError(f"'{ast.unparse(node)}' is not a comparison; compare an item, e.g. 'complained == 1'",
                             node.col_offset)
    else:
        _check(node, names)


def _check(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        _constant(node.operand)
    elif isinstance(node, ast.Compare):
        _check(node.left, names)
        for op, right in zip(node.ops, node.comparators):
            if type(op) not in _SYMBOL:
                raise ConditionError(f"operator {type(op).__name__} is not allowed", right.col_offset)
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, (ast.List, ast.Tuple)):
                    raise ConditionError("'in' needs a list, e.g. x in [1, 2]", right.col_offset)
                for element in right.elts:
                    _check(element, names)
            else:
                _check(right, names)
    elif isinstance(node, ast.Name):
        names.add(node.id)
    elif isinstance(node, ast.Constant):
        _constant(node)
    else:
        raise ConditionError(
            f"'{ast.unparse(node)}' is not allowed in a condition; use item ids, numbers, comparisons, "
            "'in [..]', and, or, not",
            getattr(node, "col_offset", 0),
        )


def _constant(node: ast.Constant) -> None:
    if not isinstance(node.value, (int, float, str)) or isinstance(node.value, bool):
        raise ConditionError(f"value {node.value!r} is not allowed; use numbers or quoted text", node.col_offset)


def _evaluate(node: ast.expr, columns: Mapping[str, Any]) -> Any:
    import numpy as np

    if isinstance(node, ast.BoolOp):
        values = [np.asarray(_evaluate(v, columns), dtype=bool) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        result = values[0]
        for value in values[1:]:
            result = combine(result, value)
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return np.logical_not(np.asarray(_evaluate(node.operand, columns), dtype=bool))
    if isinstance(node, ast.UnaryOp):  # negative number
        return -_evaluate(node.operand, columns)
    if isinstance(node, ast.Compare):
        result = None
        left = _evaluate(node.left, columns)
        for op, right_node in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                # row by row, so that a list may hold item ids as well as codes of mixed types
                part = np.zeros(np.shape(left), dtype=bool)
                for element in right_node.elts:
                    part = part | (left == _evaluate(element, columns))
                if isinstance(op, ast.NotIn):
                    part = ~part
                part = part & _answered(left)
            else:
                right = _evaluate(right_node, columns)
                with np.errstate(invalid="ignore"):
                    part = _COMPARE[type(op)](left, right)
                part = part & _answered(left) & _answered(right)  # '' (unanswered text) too
                left = right
            result = part if result is None else (result & part)
        return result
    if isinstance(node, ast.Name):
        return columns[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    raise ConditionError(f"cannot evaluate {ast.unparse(node)}")  # pragma: no cover - rejected by parse


def _answered(values: Any) -> Any:
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind == "f":
        return ~np.isnan(array)
    if array.dtype.kind in "OU":
        return array != ""  # text: empty means unanswered
    return np.ones(array.shape, dtype=bool)


@dataclass(frozen=True)
class Dialect:
    """How another platform writes a condition: XLSForm's XPath (``${x} = 1``), SurveyJS (``{x} = 1``).

    ``ref`` formats a variable name, ``negate`` a negated part, ``answered`` the
    test that a variable holds an answer. Both dialects share ``= != < <= > >=``,
    ``and`` and ``or``.
    """

    ref: str  # e.g. "${%s}"
    negate: str  # e.g. "not(%s)"
    answered: str  # e.g. "%s != ''"


def translate(condition: Condition, dialect: Dialect, names: Mapping[str, str] | None = None) -> str:
    """The condition in ``dialect``; ``names`` maps item ids to the platform's variable names.

    Keeps surveyengine's meaning: a comparison with an unanswered item is false,
    so ``!=`` and ``not in`` also require an answer (in XPath an empty answer is
    unequal to everything).
    """
    names = names or {}

    def value(node: ast.expr) -> str:
        if isinstance(node, ast.Name):
            return dialect.ref % names.get(node.id, node.id)
        if isinstance(node, ast.UnaryOp):  # a negative number
            return "-" + value(node.operand)
        if isinstance(node.value, str):
            quote = "'" if "'" not in node.value else '"'
            return f"{quote}{node.value}{quote}"
        return repr(node.value)

    def part(node: ast.expr, nested: bool) -> str:
        if isinstance(node, ast.BoolOp):
            joined = f" {'and' if isinstance(node.op, ast.And) else 'or'} ".join(part(v, True) for v in node.values)
            return f"({joined})" if nested else joined
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return dialect.negate % part(node.operand, False)
        assert isinstance(node, ast.Compare)
        pieces = []
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            subject = value(left)
            if isinstance(op, (ast.In, ast.NotIn)):
                options = [value(element) for element in right.elts]  # type: ignore[attr-defined]
                if isinstance(op, ast.In):
                    pieces.append("(" + " or ".join(f"{subject} = {o}" for o in options) + ")")
                else:
                    pieces.append("(" + " and ".join([dialect.answered % subject]
                                                     + [f"{subject} != {o}" for o in options]) + ")")
            elif isinstance(op, ast.NotEq):
                pieces.append(f"({dialect.answered % subject} and {subject} != {value(right)})")
            else:
                symbol = "=" if isinstance(op, ast.Eq) else _SYMBOL[type(op)]
                pieces.append(f"{subject} {symbol} {value(right)}")
            left = right
        joined = " and ".join(pieces)
        return f"({joined})" if nested and len(pieces) > 1 else joined

    return part(condition.tree, False)
