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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from scipy import sparse

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


def tfidf(texts: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray] | None:
    """The TF-IDF matrix and terms scikit-learn's `TfidfVectorizer` (English stop words,
    words and pairs, MIN_DF, sublinear tf) gives for `texts`, or None when no term is
    left. Each distinct text is tokenised once and its row repeated: surveys repeat
    short answers, and counting every copy's n-grams held most of this step's memory
    (1.3 M verbatims). Row for row the same numbers: the terms, the document
    frequencies (each copy counts) and the per-row weighting are the vectorizer's."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    codes, distinct = pd.factorize(pd.Series(texts, dtype=object), sort=True)
    counter = CountVectorizer(stop_words="english", ngram_range=(1, 2), dtype=np.float64)
    try:
        counts = counter.fit_transform(distinct.tolist())
    except ValueError:  # only stop words
        return None
    copies = np.bincount(codes, minlength=counts.shape[0])
    frequency = np.bincount(
        counts.indices, weights=np.repeat(copies, np.diff(counts.indptr)), minlength=counts.shape[1]
    )
    kept = np.flatnonzero(frequency >= MIN_DF)
    if kept.size == 0:
        return None
    counts = counts[:, kept]
    matrix = counts[codes]
    weighting = TfidfTransformer(sublinear_tf=True).fit(matrix)
    del matrix
    rows = weighting.transform(counts, copy=False)
    return rows[codes], counter.get_feature_names_out()[kept]


def find_topics(texts: Sequence[str], topics: int | None = None) -> Topics | None:
    """NMF topics of the texts, or None when there are too few to support them."""
    from sklearn.decomposition import NMF

    if len(texts) < MIN_DOCUMENTS:
        return None
    found = tfidf(texts)
    if found is None:
        return None
    matrix, terms = found
    k = topics or topic_count(len(texts))
    k = min(k, matrix.shape[1])
    if k < 2:
        return None
    model = NMF(n_components=k, init="nndsvda", max_iter=500, random_state=0)
    step = -(-matrix.shape[0] // FIT_DOCUMENTS)  # ceil: 1 up to FIT_DOCUMENTS verbatims
    if step == 1:
        shares = model.fit_transform(matrix)
    else:
        model.fit(matrix[::step])
        shares = model.transform(matrix)
    # In place (documents x topics doubles, several copies at a million verbatims).
    totals = shares.sum(axis=1, keepdims=True)
    np.divide(shares, totals, out=shares, where=totals > 0)  # a row of zeros stays zero
    with np.errstate(invalid="ignore", divide="ignore"):
        directions = model.components_ / np.linalg.norm(model.components_, axis=1, keepdims=True)
    cosines = np.asarray(matrix @ np.nan_to_num(directions).T)  # TF-IDF rows are unit length
    # Number topics by how many verbatims they describe, largest first (ties by label).
    size = describes(shares, cosines).sum(axis=0)
    raw_labels = [" · ".join(_top_terms(model.components_[t], terms)) for t in range(k)]
    order = sorted(range(k), key=lambda t: (-size[t], raw_labels[t]))
    shares = shares[:, order]
    cosines = cosines[:, order]
    return Topics(
        [raw_labels[t] for t in order],
        np.round(shares, 6, out=shares),
        np.round(cosines, 6, out=cosines),
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


def assign_topics(found: Topics) -> tuple[np.ndarray, np.ndarray]:
    """(document, topic) pairs, by document then topic: each topic that describes the
    document, or else its heaviest topic when that one points its way."""
    picked = describes(found.weights, found.cosines)
    top = found.weights.argmax(axis=1)
    rows = np.arange(len(top))
    fallback = (
        ~picked.any(axis=1)
        & (found.weights[rows, top] > 0)
        & (found.cosines[rows, top] >= MIN_TOPIC_COSINE)
    )
    picked[rows[fallback], top[fallback]] = True
    return np.nonzero(picked)


def analyse(verbatims: pd.DataFrame) -> pd.DataFrame:
    """One row per verbatim and topic it belongs to (one row with no topic when it has
    none); `verbatims` has response_id, question_id and value_text. Built column-wise
    from each distinct text's results (no Python object per row)."""
    frame = verbatims[["response_id", "question_id", "value_text"]]
    frame = frame.sort_values(["response_id", "question_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    if frame.empty:
        return pd.DataFrame(columns=list(OUTPUT_COLUMNS)).astype(OUTPUT_DTYPES)
    # Each distinct text once (surveys repeat short answers: "ok", "great service").
    codes, distinct = pd.factorize(frame["value_text"].fillna("").astype(str), sort=True)
    texts = distinct.tolist()
    languages = np.asarray(detect_languages(texts), dtype=object)
    scored = [sentiment(text, language) for text, language in zip(texts, languages, strict=True)]
    scores = np.array([np.nan if s[0] is None else s[0] for s in scored], dtype=np.float64)
    labels = np.array([s[1] for s in scored], dtype=object)
    methods = np.array([s[2] for s in scored], dtype=object)

    modelled_texts = np.isin(languages, ["en", "unknown"])
    modelled = np.flatnonzero(modelled_texts[codes])
    found = find_topics([texts[c] for c in codes[modelled]])
    # Result rows: (document, topic) pairs, and one row with topic -1 (none) for each
    # document without any, in document order.
    if found is None:
        documents = np.arange(len(frame))
        topics = np.full(len(frame), -1)
        weights = np.full(len(frame), np.nan)
    else:
        position, topic = assign_topics(found)
        picked = modelled[position]
        alone = np.setdiff1d(np.arange(len(frame)), picked, assume_unique=False)
        documents = np.concatenate([picked, alone])
        topics = np.concatenate([topic, np.full(len(alone), -1)])
        weights = np.concatenate([found.weights[position, topic], np.full(len(alone), np.nan)])
        order = np.argsort(documents, kind="stable")  # a document's topics stay in order
        documents, topics, weights = documents[order], topics[order], weights[order]
    count = found.weights.shape[1] if found is not None else 0
    topic_ids = np.array([f"T{t + 1:02d}" for t in range(count)] + [None], dtype=object)
    topic_labels = np.array((found.labels if found else []) + [None], dtype=object)
    text_of = codes[documents]
    out = pd.DataFrame(
        {
            "response_id": frame["response_id"].array.take(documents),
            "question_id": frame["question_id"].array.take(documents),
            "language": languages[text_of],
            "sentiment": scores[text_of],
            "sentiment_label": labels[text_of],
            "sentiment_method": methods[text_of],
            "topic_id": topic_ids[topics],
            "topic_label": topic_labels[topics],
            "topic_weight": weights,
        }
    )
    return out.astype(OUTPUT_DTYPES)
