"""``summary.md``: the headline results as Markdown, for a repository README or a CI pull-request comment.

The CSI (weighted and equal-weight) with its interval, its change since the
previous wave and whether that change is significant, the units flagged below
or above the average of their parent, the top improvement priorities and the
account of rows. Respondent text never appears. Unit labels, file names and
exclusion reasons come from the data, so every piece of text is escaped: Markdown
punctuation is backslash-escaped and ``<``, ``>``, ``&`` become entities, so a
label such as ``*x*|y`` or ``<img src=x onerror=...>`` stays inert text, also
inside a table cell.
"""

from __future__ import annotations

import re

from surveyengine import hookimpl
from surveyengine.summary import number, p_text, summarise

TOP_PRIORITIES = 5
MAX_FLAGGED = 20  # units listed: a CI comment about 500 dealers stays readable; results.json has them all
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#!|~])")  # what marks up inline text; '-', '+', '.' only begin a line


def md_text(text: object) -> str:
    """Text that renders as itself in Markdown (CommonMark / GitHub), on one line, table cells included."""
    plain = " ".join(str(text).split())
    plain = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PUNCTUATION.sub(r"\\\1", plain)


def interval(value) -> str:
    if value is None or value.ci_low is None or value.ci_high is None:
        return ""
    return f"{number(value.ci_low)}–{number(value.ci_high)}"


def table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    """A GitHub table; ``align`` has one letter per column: l (left) or r (right)."""
    rule = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |",
            *("| " + " | ".join(row) + " |" for row in rows)]


def render(summary) -> str:
    lines = [f"# {md_text(summary.title)}", ""]
    lines += [f"Results of {summary.respondents:,} respondents"
              + (f", built {md_text(summary.generated)}" if summary.generated else "") + ".", ""]
    rows = []
    for label, value in (("CSI (weighted)", summary.csi), ("CSI (equal weights)", summary.csi_equal),
                         ("NPS", summary.nps)):
        if value is not None:
            base = f"{value.base:,.0f}" if value.base is not None else "–"
            rows.append([label, number(value.value), interval(value), base])
    lines += table(["", "value", "95% interval", "base"], rows, "lrrr") + [""]
    change = summary.change
    if change is not None:
        verdict = "significant" if change.significant else "not significant"
        lines += [f"**Change since {md_text(change.previous)}** (wave {md_text(change.wave)}): "
                  f"{number(change.change, sign=True)} CSI points, {verdict}"
                  + (f" ({p_text(change.p)})" if change.p is not None else "") + ".", ""]
    elif summary.waves:
        lines += ["No change vs the previous wave can be shown (a single wave, or a hidden CSI).", ""]
    lines += ["## Units flagged", ""]
    if summary.flagged:
        # the furthest below first, then the furthest above; the rest counted
        below = sorted((u for u in summary.flagged if u.flag == "below-average"), key=lambda u: u.difference or 0.0)
        above = sorted((u for u in summary.flagged if u.flag != "below-average"), key=lambda u: -(u.difference or 0.0))
        shown = (below + above)[:MAX_FLAGGED]
        rows = [[md_text(u.segment), md_text(u.unit), "below average" if u.flag == "below-average" else "above average",
                 number(u.csi), number(u.difference, sign=True), p_text(u.p), f"{u.base:,}"]
                for u in shown]
        lines += table(["segment", "unit", "flag", "CSI", "vs rest", "p", "base"], rows, "lllrrlr")
        if len(summary.flagged) > len(shown):
            lines += ["", f"… and {len(summary.flagged) - len(shown):,} more flagged units "
                          f"({len(below):,} below and {len(above):,} above average in all; every one is in "
                          "results.json and the league tables)."]
    else:
        lines.append("No unit differs significantly from the rest of its parent.")
    lines += ["", "## Top priorities", ""]
    if summary.priorities:
        rows = [[str(p.priority), md_text(p.label), md_text(p.factor), number(p.weight, 3), number(p.performance),
                 number(p.gain, 2), md_text(p.quadrant)] for p in summary.priorities]
        lines += table(["#", "driver", "in", "weight", "performance", "gain", "quadrant"], rows, "rllrrrl")
        lines += ["", "Gain: index points the CSI would rise if the driver scored 100 (weight × (100 − performance))."]
    else:
        lines.append("No importance model (too few respondents, or weighting not configured).")
    account = summary.account
    lines += ["", "## Account", "",
              f"{account.get('rows_read', 0):,} rows read, {account.get('rows_used', 0):,} used, "
              f"{account.get('rows_excluded', 0):,} excluded; {account.get('answers_set_missing', 0):,} answers "
              "set missing by validation."]
    reasons = account.get("excluded_by_reason", {})
    if reasons:
        lines += [""] + [f"- excluded: {count:,} {md_text(reason)}" for reason, count in reasons.items()]
    return "\n".join(lines) + "\n"


class MarkdownOutput:
    id = "md"
    description = ("summary.md: CSI and its change vs the last wave, flagged units, top priorities, the account "
                   "(for a README or a CI comment).")
    depends_only_on_results = True  # its files are copied from the cache when the results are unchanged

    def write(self, results, study, out_dir):
        path = out_dir / "summary.md"
        path.write_text(render(summarise(results, top=TOP_PRIORITIES)), encoding="utf-8")
        return [path.relative_to(out_dir)]


@hookimpl
def surveyengine_register_outputs(registry):
    registry.add(MarkdownOutput)
