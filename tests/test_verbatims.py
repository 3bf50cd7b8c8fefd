"""Verbatim analytics on a labelled fixture: languages, sentiment and topics are right on
planted examples, and the same input gives the same rows."""

from __future__ import annotations

import pandas as pd
import pytest

from cx_insights.insights import verbatims

#: Three planted themes, 30 texts each, with words no other theme uses.
THEMES = {
    "delivery": [
        "My parcel delivery was late again, the courier never came",
        "Delivery took two weeks and the parcel arrived damaged",
        "The courier left my parcel outside, delivery was a mess",
    ],
    "billing": [
        "The invoice charged me twice, billing refund still missing",
        "Billing sent a wrong invoice and the refund takes forever",
        "I want a refund, the invoice amount is wrong again",
    ],
    "app": [
        "The mobile app crashes on login every single morning",
        "App login fails and the app crashes after the update",
        "After the update the mobile app keeps crashing at login",
    ],
}


def planted() -> pd.DataFrame:
    rows = []
    for theme, texts in THEMES.items():
        for i in range(30):
            rows.append(
                {
                    "response_id": f"{theme}-{i:02d}",
                    "question_id": "q",
                    "value_text": f"{texts[i % 3]} ({i})",
                    "theme": theme,
                }
            )
    return pd.DataFrame(rows)


def test_languages_are_detected_and_short_texts_are_unknown():
    found = verbatims.detect_languages(
        [
            "The delivery was quick and the support team was friendly.",
            "Die Lieferung kam viel zu spät und niemand hat mir geholfen.",
            "La livraison était rapide, le service client très aimable.",
            "ok",
        ]
    )
    assert found == ["en", "de", "fr", "unknown"]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love this service, the team was wonderful and helpful!", "positive"),
        ("Terrible support, I am angry and disappointed.", "negative"),
        ("The parcel arrived on Tuesday.", "neutral"),
    ],
)
def test_english_sentiment_on_planted_examples(text, label):  # noqa: ANN001
    score, found, method = verbatims.sentiment(text, "en")
    assert found == label and method == "vader" and -1 <= score <= 1


def test_other_languages_get_no_sentiment_and_say_why():
    assert verbatims.sentiment("Schrecklicher Service", "de") == (
        None,
        None,
        "none: no sentiment lexicon for 'de'",
    )
    assert "language unknown" in verbatims.sentiment("great", "unknown")[2]


def test_planted_themes_become_topics_and_each_text_lands_in_its_theme():
    frame = planted()
    out = verbatims.analyse(frame[["response_id", "question_id", "value_text"]])
    out = out.merge(frame[["response_id", "theme"]], on="response_id")
    assert out["topic_id"].notna().all()
    # Each theme's texts share one topic, and no two themes share it.
    by_theme = out.groupby("theme")["topic_label"].agg(lambda s: s.mode().iloc[0])
    purity = out.groupby("theme").apply(
        lambda g: (g["topic_label"] == by_theme[g.name]).mean(), include_groups=False
    )
    assert (purity >= 0.9).all(), purity
    assert by_theme.nunique() == 3
    assert "parcel" in by_theme["delivery"] or "delivery" in by_theme["delivery"]
    assert "invoice" in by_theme["billing"] or "refund" in by_theme["billing"]
    assert "app" in by_theme["app"] or "login" in by_theme["app"]
    assert set(out["sentiment_method"]) == {"vader"}


def test_too_few_verbatims_support_no_topic_and_nothing_is_lost():
    frame = planted().head(20)
    out = verbatims.analyse(frame)
    assert len(out) == 20 and out["topic_id"].isna().all()
    assert out["language"].eq("en").all()
    # Typed although all null, so the warehouse stores text and double, not INTEGER.
    assert str(out["topic_id"].dtype) == "string" and out["topic_weight"].dtype == "float64"
    empty = verbatims.analyse(frame.head(0))
    assert empty.empty and str(empty["topic_label"].dtype) == "string"


def test_the_same_verbatims_give_the_same_rows_in_any_order():
    frame = planted()
    first = verbatims.analyse(frame)
    again = verbatims.analyse(frame.sample(frac=1, random_state=7))
    pd.testing.assert_frame_equal(first, again)


def test_tfidf_of_distinct_texts_equals_the_vectorizer_on_every_copy():
    """The matrix is built once per distinct text; it must be the vectorizer's own, value
    for value (terms, document frequencies counting every copy, MIN_DF on copies)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [t for theme in THEMES.values() for t in theme]
    # Repeated unevenly, so a term seen in one text kept 5 times passes MIN_DF (5) only
    # by its copies, and one seen twice does not.
    texts = texts * 2 + [THEMES["app"][0]] * 3 + ["a one-off remark about shipping"] * 2
    matrix, terms = verbatims.tfidf(texts)
    expected = TfidfVectorizer(
        stop_words="english", ngram_range=(1, 2), min_df=verbatims.MIN_DF, sublinear_tf=True
    )
    reference = expected.fit_transform(texts)
    assert terms.tolist() == expected.get_feature_names_out().tolist()
    assert "shipping" not in terms
    assert np.array_equal(matrix.toarray(), reference.toarray())  # bit for bit
    assert verbatims.tfidf(["the and of", "it is"] * 5) is None  # stop words only
    assert verbatims.tfidf(["rare words here"] * 4) is None  # nothing in MIN_DF texts


def test_a_verbatim_gets_every_topic_that_describes_it_in_topic_order():
    import numpy as np

    found = verbatims.Topics(
        labels=["a", "b", "c"],
        weights=np.array([[0.5, 0.0, 0.5], [0.0, 0.0, 0.0], [0.2, 0.25, 0.1], [0.1, 0.9, 0]]),
        cosines=np.array([[0.9, 0.0, 0.3], [0.0, 0.0, 0.0], [0.1, 0.5, 0.1], [0.1, 0.1, 0]]),
    )
    documents, topics = verbatims.assign_topics(found)
    # 0: both topics it holds; 1: nothing; 2: none over the share, its heaviest points
    # its way; 3: heaviest topic but its text does not point there.
    assert list(zip(documents.tolist(), topics.tolist(), strict=True)) == [(0, 0), (0, 2), (2, 1)]
