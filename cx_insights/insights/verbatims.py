"""What customers write: language, sentiment and topics of each verbatim, offline and
deterministic.

* Language: `lingua-language-detector`, restricted to LANGUAGES (all of lingua's
  75 would load about 1.3 GB of models). A text too short to tell (under
  MIN_WORDS words, or lingua's answer not MIN_DISTANCE ahead of the runner-up)
  is `unknown`.
* Sentiment: VADER (`vaderSentiment`), a lexicon model for English: `compound` in
  -1..1, labelled positive (>= 0.05), negative (<= -0.05) or neutral, VADER's own
  thresholds. Texts in another detected language get no sentiment
  (`sentiment_method` says why) rather than an English lexicon's guess; `unknown`
  ones (a few words) are scored as English and marked so.
* Topics: TF-IDF (English stop words, words and pairs of words seen in at least
  MIN_DF verbatims) and NMF (scikit-learn, `nndsvda` start: no randomness) on the
  English and unknown verbatims, when there are at least MIN_DOCUMENTS of them.
  A verbatim belongs to each topic that holds at least MIN_TOPIC_SHARE of its
  weight and whose term vector is close to its own (cosine >= MIN_TOPIC_COSINE);
  a verbatim no topic describes has none (it is kept, with a null topic). A topic
  is labelled by its three heaviest terms and numbered by size. Above FIT_DOCUMENTS
  verbatims the model is fitted on an evenly spaced sample and applied to all.

Weights and scores are rounded to 6 decimals, so a rebuild gives the same rows
whatever order BLAS adds in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

LANGUAGES = ("ENGLISH", "GERMAN", "FRENCH", "SPANISH", "ITALIAN", "DUTCH", "PORTUGUESE")
MIN_DISTANCE = 0.25
#: Fewer words than this tell no language ("ok" reads as Dutch to lingua).
MIN_WORDS = 3
MIN_DOCUMENTS = 50
MIN_DF = 5
MAX_TOPICS = 15
DOCUMENTS_PER_TOPIC = 25
#: The topic model is fitted on at most this many verbatims (every k-th in key order,
#: so the same drop gives the same sample) and applied to all of them.
FIT_DOCUMENTS = 50_000
MIN_TOPIC_SHARE = 0.3
#: A verbatim belongs to a topic only if its TF-IDF vector points the topic's way
#: (cosine with the topic's term vector at least this): NMF also gives weight to
#: texts no topic describes, and normalised shares would hide that.
MIN_TOPIC_COSINE = 0.2
VADER_POSITIVE = 0.05

#: Columns and dtypes of the result. Typed even when a column is all null (no topic
#: on a small drop): an untyped all-null column would reach the warehouse as INTEGER
#: and break the mart's contract.
OUTPUT_DTYPES = {
    "response_id": "string",
    "question_id": "string",
    "language": "string",
    "sentiment": "float64",
    "sentiment_label": "string",
    "sentiment_method": "string",
    "topic_id": "string",
    "topic_label": "string",
    "topic_weight": "float64",
}
OUTPUT_COLUMNS = tuple(OUTPUT_DTYPES)


@lru_cache(maxsize=1)
def _detector():  # noqa: ANN202 - lingua's type
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in LANGUAGES]
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_minimum_relative_distance(MIN_DISTANCE)
        .build()
    )


def detect_languages(texts: Sequence[str]) -> list[str]:
    """ISO 639-1 code per text (`en`, `de`, ...), `unknown` when lingua cannot tell."""
    found = _detector().detect_languages_in_parallel_of(list(texts))
    return [
        "unknown"
        if lang is None or len(text.split()) < MIN_WORDS
        else lang.iso_code_639_1.name.lower()
        for text, lang in zip(texts, found, strict=True)
    ]


@lru_cache(maxsize=1)
def _vader():  # noqa: ANN202
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str, language: str) -> tuple[float | None, str | None, str]:
    """(compound score, label, method) of one verbatim."""
    if language not in ("en", "unknown"):
        return None, None, f"none: no sentiment lexicon for '{language}'"
    score = round(float(_vader().polarity_scores(text)["compound"]), 6)
    label = (
        "positive"
        if score >= VADER_POSITIVE
        else "negative"
        if score <= -VADER_POSITIVE
        else "neutral"
    )
    method = "vader" if language == "en" else "vader (language unknown, scored as English)"
    return score, label, method


@dataclass(frozen=True)
class Topics:
    labels: list[str]  # by topic number (0 = the largest)
    weights: np.ndarray  # documents x topics, rows sum to 1 (or 0: no known word)
    cosines: np.ndarray  # documents x topics: how well each topic describes the text


def describes(shares: np.ndarray, cosines: np.ndarray) -> np.ndarray:
    """Whether a topic describes a text: it holds at least MIN_TOPIC_SHARE of the text's
    weight and points its way (cosine at least MIN_TOPIC_COSINE)."""
    return (shares >= MIN_TOPIC_SHARE) & (cosines >= MIN_TOPIC_COSINE)


def topic_count(documents: int) -> int:
    return max(2, min(MAX_TOPICS, documents // DOCUMENTS_PER_TOPIC))


def find_topics(texts: Sequence[str], topics: int | None = None) -> Topics | None:
    """NMF topics of the texts, or None when there are too few to support them."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < MIN_DOCUMENTS:
        return None
    vectorizer = TfidfVectorizer(
        stop_words="english", ngram_range=(1, 2), min_df=MIN_DF, sublinear_tf=True
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no term in MIN_DF documents
        return None
    k = topics or topic_count(len(texts))
    k = min(k, matrix.shape[1])
    if k < 2:
        return None
    model = NMF(n_components=k, init="nndsvda", max_iter=500, random_state=0)
    step = -(-matrix.shape[0] // FIT_DOCUMENTS)  # ceil: 1 up to FIT_DOCUMENTS verbatims
    if step == 1:
        doc_topic = model.fit_transform(matrix)
    else:
        model.fit(matrix[::step])
        doc_topic = model.transform(matrix)
    terms = np.asarray(vectorizer.get_feature_names_out())
    totals = doc_topic.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, doc_topic / totals, 0.0)
        directions = model.components_ / np.linalg.norm(model.components_, axis=1, keepdims=True)
    cosines = np.asarray(matrix @ np.nan_to_num(directions).T)  # TF-IDF rows are unit length
    described = describes(shares, cosines)
    # Number topics by how many verbatims they describe, largest first (ties by label).
    size = described.sum(axis=0)
    raw_labels = [" · ".join(_top_terms(model.components_[t], terms)) for t in range(k)]
    order = sorted(range(k), key=lambda t: (-size[t], raw_labels[t]))
    return Topics(
        [raw_labels[t] for t in order],
        np.round(shares[:, order], 6),
        np.round(cosines[:, order], 6),
    )


def _top_terms(component: np.ndarray, terms: np.ndarray, count: int = 3) -> list[str]:
    """The heaviest terms, skipping one already inside a chosen pair ('late' after
    'delivery late')."""
    chosen: list[str] = []
    for index in np.argsort(-component, kind="stable"):
        term = str(terms[index])
        if any(term in c.split() or c in term.split() for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == count:
            break
    return chosen


def analyse(verbatims: pd.DataFrame) -> pd.DataFrame:
    """One row per verbatim and topic it belongs to (one row with no topic when it has
    none); `verbatims` has response_id, question_id and value_text."""
    frame = verbatims[["response_id", "question_id", "value_text"]].copy()
    frame = frame.sort_values(["response_id", "question_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    texts = frame["value_text"].fillna("").astype(str).tolist()
    if not texts:
        return pd.DataFrame(columns=list(OUTPUT_COLUMNS)).astype(OUTPUT_DTYPES)
    # Each distinct text once (surveys repeat short answers: "ok", "great service").
    distinct = sorted(set(texts))
    language_of = dict(zip(distinct, detect_languages(distinct), strict=True))
    sentiment_of = {text: sentiment(text, language_of[text]) for text in distinct}
    frame["language"] = [language_of[t] for t in texts]
    scored = [sentiment_of[t] for t in texts]
    frame["sentiment"] = [s[0] for s in scored]
    frame["sentiment_label"] = [s[1] for s in scored]
    frame["sentiment_method"] = [s[2] for s in scored]
    modelled = frame.index[frame["language"].isin(["en", "unknown"])].to_numpy()
    found = find_topics([texts[i] for i in modelled])
    rows = []
    assigned: dict[int, list[tuple[int, float]]] = {}
    if found is not None:
        for position, doc in enumerate(modelled):
            share, cosine = found.weights[position], found.cosines[position]
            picks = [(t, float(share[t])) for t in np.flatnonzero(describes(share, cosine))]
            if not picks and share.max() > 0:
                top = int(share.argmax())
                if cosine[top] >= MIN_TOPIC_COSINE:
                    picks = [(top, float(share[top]))]
            assigned[int(doc)] = picks
    # Plain lists, not frame.iterrows() (a Series per row: 10 of 15 s at 100 k customers).
    base_columns = OUTPUT_COLUMNS[:6]
    bases = zip(*(frame[c].tolist() for c in base_columns), strict=True)
    for i, base in enumerate(bases):
        picks = assigned.get(i, [])
        if not picks:
            rows.append((*base, None, None, None))
        for topic, weight in picks:
            rows.append(
                (
                    *base,
                    f"T{topic + 1:02d}",
                    found.labels[topic] if found else None,
                    weight,
                )
            )
    return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS)).astype(OUTPUT_DTYPES)
