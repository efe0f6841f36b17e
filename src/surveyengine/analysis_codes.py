"""What customers say, in numbers: per code (and net), its share of comments and of respondents by group.

For each codeframe, on the comments to its items:

- per group (the total, each wave, each segment unit): the comments and respondents behind it,
  and per code the comments carrying it (share of the group's comments) and the respondents
  mentioning it in any of their comments (share of the group's respondents, Wilson interval);
  the p-value of the share of respondents against the rest of the sample (two-proportion z
  test) and, for a wave, against the previous wave;
- per code, what it costs: mean overall satisfaction and NPS of the respondents who mention
  it against the other respondents who commented on the same items, with Welch's t test.

Counts are unweighted (a comment is a comment). A group the scoring suppressed (below the
privacy minimum), or with fewer commenting respondents than the privacy minimum, shows
nothing: its values are None and it is flagged ``suppressed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .estimates import proportion_ci, two_proportions, welch
from .results import clean


def _respondents(ids: list[str]) -> tuple[np.ndarray, int]:
    import pyarrow as pa

    encoded = pa.array(ids, type=pa.string()).dictionary_encode()
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64), len(encoded.dictionary)


def _group_sums(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Column sums of ``values`` per group 0..size-1 (rows in a group >= size are left out): one sparse product."""
    import scipy.sparse as sp

    inside = group < size
    indicator = sp.csr_matrix((np.ones(int(inside.sum())), (group[inside], np.flatnonzero(inside))),
                              shape=(size, group.size))
    return np.asarray(indicator @ values).reshape(size, values.shape[1])


def code_analysis(q: Any, table: Any, coded: Any, labels: Any, results: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if table is None or not len(table):
        return out
    privacy = q.index.privacy_min
    items = np.asarray(table.items, dtype=object)
    language = results.study.get("language")
    for frame_id, frame in q.codeframes.items():
        wanted = [k for k, item in enumerate(table.items) if item in frame.items]
        rows = np.flatnonzero(np.isin(table.item, wanted))
        entries = [(c.id, q.text(c.label, language), "code", c.polarity, (c.id,)) for c in frame.codes]
        entries += [(n.id, q.text(n.label, language), "net", None, tuple(n.codes)) for n in frame.nets]
        position = {c.id: j for j, c in enumerate(frame.codes)}
        # the codes of each comment as a row of booleans, through the few distinct code tuples
        distinct: dict[tuple[str, ...], int] = {}
        which = np.fromiter((distinct.setdefault(coded.codes[r], len(distinct)) for r in rows.tolist()),
                            dtype=np.int64, count=rows.size)
        patterns = np.zeros((len(distinct), len(frame.codes)), dtype=bool)
        for codes, k in distinct.items():
            patterns[k, [position[c] for c in codes if c in position]] = True
        matrix = patterns[which]
        # a net is mentioned where any of its codes is
        columns = [matrix[:, [position[c] for c in codes if c in position]].any(axis=1) for *_, codes in entries]
        by_comment = np.column_stack(columns) if columns else np.zeros((rows.size, 0), dtype=bool)
        resp, n_resp = _respondents([table.ids[r] for r in rows.tolist()]) if table.ids else \
            (np.arange(rows.size), rows.size)
        mention = _group_sums(resp, by_comment.astype(np.float64), n_resp) > 0
        first = np.full(n_resp, -1, dtype=np.int64)
        first[resp[::-1]] = rows[::-1]  # each respondent's first comment row: their wave, units and answers
        wave = table.wave[first]
        score = table.score[first].astype(np.float64)
        recommend = table.recommend[first].astype(np.float64) if len(table.recommend) else np.full(n_resp, np.nan)
        comment_wave = table.wave[rows]
        total_base = int(results.total.base)
        n_codes = len(entries)
        mention_f = mention.astype(np.float64)
        comment_f = by_comment.astype(np.float64)
        total_mentioners = mention_f.sum(axis=0)

        def level_counts(resp_group: np.ndarray, comment_group: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
            """Per group of one level (one bincount per code, not one pass per group): commenters, comments,
            mentioners and mentions per code."""
            commenters = np.bincount(resp_group, minlength=size)[:size]
            comments = np.bincount(comment_group, minlength=size)[:size]
            return commenters, comments, _group_sums(resp_group, mention_f, size), \
                _group_sums(comment_group, comment_f, size)

        def block(level: str, key: dict[str, str], label: str, base: int, suppressed: bool, commenters: int,
                  comments: int, mentioners: np.ndarray, mentions: np.ndarray) -> dict[str, Any]:
            hidden = suppressed or commenters < privacy
            group: dict[str, Any] = {"level": level, "key": key, "label": label, "respondents": base,
                                     "commenters": None if hidden else int(commenters),
                                     "comments": None if hidden else int(comments), "suppressed": hidden, "codes": {}}
            if hidden:
                return group
            rest_base = total_base - base
            share = mentioners / base if base else np.full(n_codes, np.nan)
            low, high = proportion_ci(share, np.full(n_codes, float(base)))
            p_rest = (two_proportions(mentioners, np.full(n_codes, base), total_mentioners - mentioners,
                                      np.full(n_codes, rest_base)) if level != "total"
                      else np.full(n_codes, np.nan))
            for j, (code_id, *_rest) in enumerate(entries):
                group["codes"][code_id] = {
                    "mentions": int(mentions[j]), "share_comments": clean(mentions[j] / comments if comments else None),
                    "respondents": int(mentioners[j]), "share_respondents": clean(share[j]),
                    "ci_low": clean(low[j]), "ci_high": clean(high[j]), "p_vs_rest": clean(p_rest[j])}
            return group

        groups = [block("total", {}, results.total.label, total_base, results.total.suppressed, n_resp, rows.size,
                        total_mentioners, comment_f.sum(axis=0))]
        wave_index = {w: k for k, w in enumerate(labels.waves)}
        n_waves = len(labels.waves)
        wave_counts = level_counts(np.where(wave >= 0, wave, n_waves), np.where(comment_wave >= 0, comment_wave,
                                                                                   n_waves), n_waves + 1)
        previous = None
        for group in results.waves:
            k = wave_index.get(group.key.get("wave"))
            if k is None:
                continue
            entry = block("wave", dict(group.key), group.label, int(group.base), group.suppressed,
                          *(counts[k] for counts in wave_counts))
            if previous is not None and not entry["suppressed"] and not previous["suppressed"]:
                for code_id, values in entry["codes"].items():
                    before = previous["codes"][code_id]
                    p = two_proportions(values["respondents"], entry["respondents"], before["respondents"],
                                        previous["respondents"])
                    values["p_vs_previous"] = clean(float(p))
                    values["change"] = clean(values["share_respondents"] - before["share_respondents"]
                                             if values["share_respondents"] is not None and
                                             before["share_respondents"] is not None else None)
            groups.append(entry)
            previous = entry
        for segment in results.segments:
            codes_of = table.segments.get(segment.id)
            if codes_of is None:
                continue
            unit_position = {code: k for k, code in enumerate(labels.segments.get(segment.id, []))}
            size = len(unit_position) + 1
            unit_counts = level_counts(np.clip(codes_of[first], 0, size - 1).astype(np.int64),
                                       np.clip(codes_of[rows], 0, size - 1).astype(np.int64), size)
            for unit in segment.units:
                k = unit_position.get(unit.key.get("unit"))
                if k is None:
                    continue
                groups.append(block(segment.id, dict(unit.key), unit.label, int(unit.base), unit.suppressed,
                                    *(counts[k] for counts in unit_counts)))
        out[frame_id] = {
            "items": [str(items[k]) for k in wanted],
            "codes": [{"id": code_id, "label": label, "kind": kind, "polarity": polarity, "codes": list(codes)}
                      for code_id, label, kind, polarity, codes in entries],
            "groups": groups,
            "impact": _impact(entries, mention, score, recommend, privacy),
        }
    return out


def _impact(entries: list[Any], mention: np.ndarray, score: np.ndarray, recommend: np.ndarray,
            privacy: int) -> dict[str, Any]:
    """Mean satisfaction and NPS of those who mention each code against the other commenters."""
    out: dict[str, Any] = {}
    for j, (code_id, *_rest) in enumerate(entries):
        yes = mention[:, j]
        entry: dict[str, Any] = {}
        sides = []
        for side in (yes, ~yes):
            values = score[side & np.isfinite(score)]
            sides.append((float(values.mean()) if values.size else np.nan,
                          float(values.var(ddof=1)) if values.size > 1 else np.nan, values.size))
        shown = min(sides[0][2], sides[1][2]) >= privacy
        test = welch(np.array(sides[0][0]), np.array(sides[0][1]), np.array(float(sides[0][2])),
                     np.array(sides[1][0]), np.array(sides[1][1]), np.array(float(sides[1][2])))
        entry["satisfaction"] = {
            "mentioners": clean(sides[0][0]) if shown else None, "others": clean(sides[1][0]) if shown else None,
            "difference": clean(float(test["difference"])) if shown else None,
            "p": clean(float(test["p"])) if shown else None, "n_mentioners": sides[0][2], "n_others": sides[1][2]}
        nps = []
        for side in (yes, ~yes):
            values = recommend[side & np.isfinite(recommend)]
            nps.append(((float((values >= 9).mean() - (values <= 6).mean()) * 100) if values.size else np.nan,
                        values.size))
        shown = min(nps[0][1], nps[1][1]) >= privacy
        entry["nps"] = {"mentioners": clean(nps[0][0]) if shown else None, "others": clean(nps[1][0]) if shown else None,
                        "n_mentioners": nps[0][1], "n_others": nps[1][1]}
        out[code_id] = entry
    return out


def complaint_codes(q: Any, table: Any, coded: Any, labels: Any, results: Any) -> dict[str, Any]:
    """The codes of the complaint descriptions: what went wrong, how often, and where (the units with most)."""
    complaint = q.outcomes.complaint
    if complaint is None or complaint.description is None or table is None or not len(table) \
            or complaint.description not in table.items:
        return {}
    found = q.codeframe_of(complaint.description)
    if found is None:
        return {}
    frame_id, frame = found
    privacy = q.index.privacy_min
    language = results.study.get("language")
    rows = np.flatnonzero(table.item == table.items.index(complaint.description))
    described = int(rows.size)
    first_segment = results.segments[0] if results.segments else None
    shown_units: dict[int, Any] = {}
    unit_codes = None
    if first_segment is not None and first_segment.id in table.segments:
        position = {code: k for k, code in enumerate(labels.segments.get(first_segment.id, []))}
        shown_units = {position[u.key["unit"]]: u for u in first_segment.units
                       if not u.suppressed and u.key.get("unit") in position}
        unit_codes = table.segments[first_segment.id][rows]
    codes_out = []
    for code in frame.codes:
        has = np.fromiter((code.id in coded.codes[r] for r in rows.tolist()), dtype=bool, count=rows.size)
        mentions = int(has.sum())
        if not mentions:
            continue
        where = []
        if unit_codes is not None:
            counts = np.bincount(unit_codes[has], minlength=max(shown_units, default=0) + 1)
            totals = np.bincount(unit_codes, minlength=counts.size)
            for k in np.argsort(-counts, kind="stable")[:5].tolist():
                unit = shown_units.get(k)
                if unit is None or counts[k] < privacy:
                    continue  # nothing tied to a unit below the privacy minimum
                where.append({"segment": first_segment.id, "unit": unit.key["unit"], "label": unit.label,
                              "mentions": int(counts[k]), "share": clean(counts[k] / totals[k])})
        codes_out.append({"id": code.id, "label": q.text(code.label, language), "polarity": code.polarity,
                          "mentions": mentions if mentions >= privacy else None,
                          "share": clean(mentions / described) if mentions >= privacy else None, "where": where[:3]})
    codes_out.sort(key=lambda c: -(c["mentions"] or 0))
    return {"codeframe": frame_id, "item": complaint.description,
            "descriptions": described if described >= privacy else None, "codes": codes_out}
