"""The rules of a codeframe (keywords and patterns per language), compiled safely.

A rule is authored in the questionnaire and runs over every comment, which is
untrusted text: a pattern must not be able to take exponential time. Python's
``re`` has no timeout, so a pattern is checked before it is used: no
backreference, no lookaround, no repetition inside an unbounded repetition
(``(a+)+``, ``(a*)*``) and no alternation inside one (``(a|ab)*``), the
shapes behind catastrophic backtracking. What remains takes at worst time
quadratic in the text (``[a-z]+ing`` on a long run of letters), so rules read
a comment's first :data:`MAX_RULE_TEXT` characters. Patterns and keywords are
limited in length. No heavy imports: ``validate`` checks rules too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

try:  # Python 3.11+
    from re import _constants as _sre_constants  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

MAX_PATTERN_LENGTH = 200
MAX_KEYWORD_LENGTH = 100
MAX_RULE_TEXT = 2000  # rules read a comment's first 2,000 characters (the classifier reads all of it)
_SPACED = re.compile(r"^[\w\s'-]+$", re.ASCII)  # a keyword in a language written with spaces: match at a word start


class RuleError(ValueError):
    """A pattern that does not compile or is unsafe; ``offset`` is its 0-based position in the pattern."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


_REPEATS = {_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT}
_UNSAFE = {
    _sre_constants.GROUPREF: "a backreference",
    _sre_constants.GROUPREF_EXISTS: "a conditional backreference",
    _sre_constants.ASSERT: "a lookahead or lookbehind",
    _sre_constants.ASSERT_NOT: "a negative lookahead or lookbehind",
}
if hasattr(_sre_constants, "POSSESSIVE_REPEAT"):
    _REPEATS.add(_sre_constants.POSSESSIVE_REPEAT)


def _children(op: object, av: object) -> list[object]:
    """The sub-patterns of one parsed node."""
    if op in _REPEATS:
        return [av[2]]  # type: ignore[index]
    if op == _sre_constants.SUBPATTERN:
        return [av[-1]]  # type: ignore[index]
    if op == _sre_constants.BRANCH:
        return list(av[1])  # type: ignore[index]
    if hasattr(_sre_constants, "ATOMIC_GROUP") and op == _sre_constants.ATOMIC_GROUP:
        return [av]
    return []


def _check_tree(tree: object, inside_unbounded: bool, inside_repeat: bool = False) -> str | None:
    for op, av in tree:  # type: ignore[attr-defined]
        if op in _UNSAFE:
            return f"{_UNSAFE[op]} is not allowed in a rule"
        if op in _REPEATS:
            high = av[1]
            unbounded = high == _sre_constants.MAXREPEAT or high > 50
            if inside_repeat and high > 1:
                return "nested repetition risks catastrophic backtracking; e.g. write (ab)+ not (a+b)+"
            problem = _check_tree(av[2], inside_unbounded or unbounded, inside_repeat or high > 1)
            if problem:
                return problem
            continue
        if op == _sre_constants.BRANCH and inside_unbounded:
            return "alternation inside a repetition risks catastrophic backtracking; use a character class or " \
                   "separate patterns"
        for child in _children(op, av):
            problem = _check_tree(child, inside_unbounded, inside_repeat)
            if problem:
                return problem
    return None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled pattern (case-insensitive), or :class:`RuleError` if it is invalid or unsafe."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RuleError(f"pattern longer than {MAX_PATTERN_LENGTH} characters", MAX_PATTERN_LENGTH)
    if not pattern.strip():
        raise RuleError("empty pattern")
    try:
        tree = _sre_parse.parse(pattern, re.IGNORECASE)
    except re.error as exc:
        raise RuleError(f"pattern does not compile: {exc.msg}", exc.pos or 0) from None
    problem = _check_tree(tree, False)
    if problem:
        raise RuleError(f"unsafe pattern: {problem}")
    return re.compile(pattern, re.IGNORECASE)


def keyword_pattern(keyword: str) -> str:
    """A keyword as a regular expression: literal, at a word start when it is a spaced-language word."""
    if len(keyword) > MAX_KEYWORD_LENGTH:
        raise RuleError(f"keyword longer than {MAX_KEYWORD_LENGTH} characters")
    if not keyword.strip():
        raise RuleError("empty keyword")
    escaped = re.escape(keyword.strip())
    return rf"\b{escaped}" if _SPACED.match(keyword) else escaped


@dataclass
class CompiledRules:
    """For each code with rules, one combined pattern (its keywords and patterns in every language)."""

    codes: list[str]
    patterns: list[re.Pattern[str]]
    any_pattern: re.Pattern[str] | None = None  # all of them at once: most comments match none

    def __post_init__(self) -> None:
        if self.patterns and self.any_pattern is None:
            self.any_pattern = re.compile("|".join(f"(?:{p.pattern})" for p in self.patterns), re.IGNORECASE)

    def match(self, text: str) -> list[str]:
        text = text[:MAX_RULE_TEXT]
        if self.any_pattern is None or not self.any_pattern.search(text):
            return []
        return [code for code, pattern in zip(self.codes, self.patterns) if pattern.search(text)]


def compile_rules(codes: object) -> CompiledRules:
    """The rules of a codeframe's codes (model.CommentCode), compiled; raises RuleError on the first bad one."""
    out_codes, out_patterns = [], []
    for code in codes:  # type: ignore[attr-defined]
        parts: list[str] = []
        for words in code.keywords.values():
            parts.extend(keyword_pattern(word) for word in words)
        for patterns in code.patterns.values():
            for pattern in patterns:
                compile_pattern(pattern)
                parts.append(f"(?:{pattern})")
        if parts:
            out_codes.append(code.id)
            out_patterns.append(re.compile("|".join(parts), re.IGNORECASE))
    return CompiledRules(out_codes, out_patterns)
