"""Theme discovery: what the codeframe misses, as topics of the comments no code was assigned to.

Non-negative matrix factorisation (NMF) of the TF-IDF matrix of the uncoded comments: each
topic is a weighted set of terms (words in languages written with spaces, character bigrams
of Chinese) with its top terms and the comments that load most on it, so the consultant
can read them and add codes. Topics are found within each language (across languages NMF
would first separate the languages). Seeded and deterministic; at most ``MAX_COMMENTS`` comments,
a seeded sample of a larger set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_COMMENTS = 20_000
SEED = 20260101
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_HAN = re.compile("[\u3400-\u9fff]+")
STOP_WORDS = frozenset(
    "the and was were for with that this had have has but not you are our they them very all too "
    "from what when there their would could been just about after again also than then into".split())


def terms(text: str) -> list[str]:
    """Words of three or more letters (lower case, no stop words) and the character bigrams of Chinese runs."""
    out = [w for w in (m.lower() for m in _WORD.findall(_HAN.sub(" ", text))) if w not in STOP_WORDS]
    for run in _HAN.findall(text):
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def discover(texts: Sequence[str], topics: int = 8, top_terms: int = 8, examples: int = 3) -> list[dict[str, Any]]:
    """Topics of ``texts``: per topic its top terms (with weights), its share of the comments and example comments."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = list(texts)
    if len(texts) > MAX_COMMENTS:
        pick = np.sort(np.random.default_rng(SEED).choice(len(texts), MAX_COMMENTS, replace=False))
        texts = [texts[i] for i in pick]
    if len(texts) < max(2 * topics, 10):
        return []
    vectorizer = TfidfVectorizer(analyzer=terms, min_df=2, max_df=0.95, sublinear_tf=True)
    try:
        x = vectorizer.fit_transform(texts)
    except ValueError:  # no term left (e.g. every comment a single word)
        return []
    topics = min(topics, x.shape[1] - 1, x.shape[0] - 1)
    if topics < 1:
        return []
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    model = NMF(n_components=topics, init="nndsvd", random_state=SEED, max_iter=400)
    with warnings.catch_warnings():  # deterministic either way; a topic list is a reading aid, not an estimate
        warnings.simplefilter("ignore", ConvergenceWarning)
        weights = model.fit_transform(x)
    vocabulary = vectorizer.get_feature_names_out()
    strongest = weights.argmax(axis=1)
    loaded = weights.max(axis=1) > 0
    out = []
    for k in range(topics):
        component = model.components_[k]
        best = np.argsort(-component)[:top_terms]
        members = np.flatnonzero((strongest == k) & loaded)
        order = members[np.argsort(-weights[members, k], kind="stable")]
        shown = list(dict.fromkeys(texts[i] for i in order[:200]))[:examples]  # distinct examples
        out.append({"topic": k + 1, "terms": [str(vocabulary[i]) for i in best if component[i] > 0],
                    "comments": int(members.size), "share": round(members.size / len(texts), 4),
                    "examples": shown})
    out.sort(key=lambda t: -t["comments"])
    for rank, topic in enumerate(out, start=1):
        topic["topic"] = rank
    return out


def discover_by_language(texts: Sequence[str], languages: Sequence[str], topics: int = 8) -> list[dict[str, Any]]:
    """Topics within each language: run across languages, NMF would first split the comments by language."""
    from .coding import language_of

    groups: dict[str, list[str]] = {}
    for text in texts:
        groups.setdefault(language_of(text, languages), []).append(text)
    out = []
    for language, group in sorted(groups.items(), key=lambda item: -len(item[1])):
        for topic in discover(group, topics):
            out.append({"language": language, **topic})
    return out
