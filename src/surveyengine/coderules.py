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
from collections.abc import Sequence
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

    def match_many(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """``match`` of every text (as tuples), the same answers, in a fraction of the time on many texts.

        Each code's pattern first runs over all texts at once in RE2 (pyarrow's regular expressions, in C++),
        translated so that it matches at least wherever Python's would (see :func:`re2_superset`); Python's
        ``re`` then confirms only the texts RE2 found. A pattern RE2 cannot take runs in Python on every text.
        """
        out: list[tuple[str, ...]] = [()] * len(texts)
        if not self.codes or not len(texts):
            return out
        import pyarrow as pa
        import pyarrow.compute as pc

        heads = pc.utf8_slice_codeunits(pa.array(list(texts), type=pa.large_string()), 0, MAX_RULE_TEXT)
        candidates: list[Sequence[int]] = []
        for pattern in self.patterns:
            translated = re2_superset(pattern.pattern)
            found = None
            if translated is not None:
                try:
                    found = pc.match_substring_regex(heads, translated, ignore_case=True)
                except pa.ArrowInvalid:  # beyond RE2 (e.g. a repetition count over 1,000)
                    found = None
            candidates.append(range(len(texts)) if found is None else
                              found.to_numpy(zero_copy_only=False).nonzero()[0].tolist())
        for code, pattern, rows in zip(self.codes, self.patterns, candidates):
            for row in rows:
                if pattern.search(texts[row][:MAX_RULE_TEXT]):
                    out[row] += (code,)
        return out


# Python's classes as RE2 classes that contain them: Python's \w, \d and \s are Unicode-wide, RE2's ASCII
_RE2_CLASS = {"CATEGORY_WORD": r"\p{L}\p{N}_", "CATEGORY_DIGIT": r"\p{Nd}",
              "CATEGORY_SPACE": r"\s\p{Z}\x{0b}\x{1c}-\x{1f}\x{85}",
              # RE2's \W, \D, \S (not ASCII-word ...) contain Python's (not Unicode-word ...)
              "CATEGORY_NOT_WORD": r"\W", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_NOT_SPACE": r"\S"}


def re2_superset(pattern: str) -> str | None:
    """An RE2 pattern that matches (case-insensitively) every text the Python pattern matches, or None.

    Word boundaries are dropped (an assertion less only widens the match), ``$`` may match before any
    newline, and the Unicode classes are written out; what has no sure translation (inline flags, a
    class negating a category, anything unknown) gives None, and the pattern runs in Python alone.
    """
    try:
        tree = _sre_parse.parse(pattern, re.IGNORECASE)
    except re.error:
        return None
    return _re2(tree)


def _re2_char(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _re2(tree: object) -> str | None:
    parts: list[str] = []
    for op, av in tree:  # type: ignore[attr-defined]
        name = str(op)
        if name == "LITERAL":
            parts.append(_re2_char(av))
        elif name == "NOT_LITERAL":
            parts.append(f"[^{_re2_char(av)}]")
        elif name == "ANY":
            parts.append(".")
        elif name == "IN":
            negated = bool(av) and str(av[0][0]) == "NEGATE"
            items = []
            for item_op, item in (av[1:] if negated else av):
                item_name = str(item_op)
                if item_name == "LITERAL":
                    items.append(_re2_char(item))
                elif item_name == "RANGE":
                    items.append(f"{_re2_char(item[0])}-{_re2_char(item[1])}")
                elif item_name == "CATEGORY" and not negated and str(item) in _RE2_CLASS:
                    items.append(_RE2_CLASS[str(item)])
                else:  # a negated class of categories would shrink under the widened classes
                    return None
            parts.append(f"[{'^' if negated else ''}{''.join(items)}]")
        elif name == "CATEGORY" and str(av) in _RE2_CLASS:
            parts.append(f"[{_RE2_CLASS[str(av)]}]")
        elif name == "AT":
            at = str(av)
            if at in ("AT_BOUNDARY", "AT_NON_BOUNDARY"):
                continue
            translated = {"AT_BEGINNING": "^", "AT_BEGINNING_STRING": r"\A", "AT_END": "(?m:$)",
                          "AT_END_STRING": r"\z"}.get(at)
            if translated is None:
                return None
            parts.append(translated)
        elif name == "BRANCH":
            branches = [_re2(branch) for branch in av[1]]
            if any(b is None for b in branches):
                return None
            parts.append("(?:" + "|".join(branches) + ")")  # type: ignore[arg-type]
        elif name == "SUBPATTERN":
            group, add_flags, del_flags, inner = av
            body = _re2(inner)
            if body is None or add_flags or del_flags:
                return None
            parts.append(f"(?:{body})")
        elif op in _REPEATS and name != "POSSESSIVE_REPEAT":
            low, high, inner = av
            body = _re2(inner)
            if body is None:
                return None
            parts.append(f"(?:{body}){{{low},{'' if high == _sre_constants.MAXREPEAT else high}}}")
        else:
            return None
    return "".join(parts)


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
