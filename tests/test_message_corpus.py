"""The labelled corpus of client messages, scored against the thresholds the service relies on.

``tests/fixtures/message_corpus.csv`` (``text,crisis,intent,category,split``) was written whole,
both splits, before the rules were tuned; the rules were tuned on ``dev`` only. The figures for
each split are printed by ``.venv/bin/python -m bench.message_reading``. Failures list the
misread messages (test output only: messages never reach a log).
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.message_reading import CATEGORIES, SPLITS, Labelled, Score, load_corpus, score
from models.messages import ACTIONABLE_INTENTS, Intent

CRISIS_RECALL_MIN = 0.97
FALSE_ALARM_MAX = 0.10
INTENT_ACCURACY_MIN = 0.95


@pytest.fixture(scope="module")
def corpus() -> list[Labelled]:
    return load_corpus()


@pytest.fixture(scope="module")
def scored(corpus: list[Labelled]) -> Score:
    return score(corpus)


def _listing(messages: list[Labelled]) -> str:
    return "\n".join(f"  {m.text!r} [{m.category}, {m.split}]" for m in messages)


def test_the_corpus_is_big_varied_and_well_formed(corpus: list[Labelled]) -> None:
    assert len(corpus) >= 300
    crisis = [m for m in corpus if m.crisis]
    assert len(crisis) >= 110
    assert len(corpus) - len(crisis) >= 190
    categories = Counter(m.category for m in corpus)
    assert set(categories) == set(CATEGORIES), categories
    assert {m.split for m in corpus} == set(SPLITS)
    holdout = sum(m.split == "holdout" for m in corpus) / len(corpus)
    assert 0.25 <= holdout <= 0.40, holdout
    texts = Counter(m.text for m in corpus)
    assert not [t for t, n in texts.items() if n > 1], "duplicate messages"
    for m in corpus:
        # A crisis is never acted on; a category named after an intent expects that intent.
        assert not (m.crisis and m.intent in ACTIONABLE_INTENTS), m.text
        assert m.crisis == (m.category == "crisis"), m.text
        if m.category in {i.value for i in ACTIONABLE_INTENTS}:
            assert m.intent is Intent(m.category), m.text
        else:
            assert m.intent is Intent.OTHER, m.text


def test_crisis_recall(scored: Score) -> None:
    assert scored.crisis_recall >= CRISIS_RECALL_MIN, (
        f"crisis recall {scored.crisis_recall:.1%} < {CRISIS_RECALL_MIN:.0%}; missed:\n"
        + _listing(scored.missed_crises)
    )


def test_false_alarm_rate(scored: Score) -> None:
    assert scored.false_alarm_rate < FALSE_ALARM_MAX, (
        f"false-alarm rate {scored.false_alarm_rate:.1%} >= {FALSE_ALARM_MAX:.0%}; flagged:\n"
        + _listing(scored.false_alarms)
    )


def test_no_wrong_automatic_action(scored: Score) -> None:
    # SAFETY: nothing labelled "other" (and no crisis) is ever given an actionable intent, and
    # no request is mistaken for a different one.
    wrong = [
        f"  {m.text!r}: read {r.intent.value}, expected {m.intent.value}"
        for m, r in scored.wrong_actions
    ]
    assert not wrong, "wrong automatic actions:\n" + "\n".join(wrong)


def test_no_crisis_message_is_acted_on(corpus: list[Labelled]) -> None:
    acted = [m for m in corpus if m.crisis and score([m]).wrong_actions]
    assert not acted, "crisis messages given an actionable intent:\n" + _listing(acted)


def test_intent_accuracy_over_actionable_messages(scored: Score) -> None:
    assert scored.intent_accuracy >= INTENT_ACCURACY_MIN, (
        f"intent accuracy {scored.intent_accuracy:.1%} < {INTENT_ACCURACY_MIN:.0%}; "
        "sent to a person instead:\n"
        + "\n".join(f"  {m.text!r}: expected {m.intent.value}" for m, _ in scored.cautious)
    )
