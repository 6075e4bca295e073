"""Reading a client's message: intent and crisis words."""

from __future__ import annotations

import pytest

from models.messages import Intent, classify_intent, suggests_crisis


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("RETURN", Intent.RETURN),
        ("Hi, I'd like to come back please", Intent.RETURN),
        ("could I see her again?", Intent.RETURN),
        ("STOP", Intent.STOP),
        ("please withdraw me, I've moved", Intent.STOP),
        ("CONFIRM", Intent.CONFIRM),
        ("yes", Intent.STILL_WAITING),
        ("Yes still waiting thanks", Intent.STILL_WAITING),
        ("what time is it on Tuesday?", Intent.OTHER),
        ("", Intent.OTHER),
    ],
)
def test_intent(text: str, intent: Intent) -> None:
    assert classify_intent(text) is intent


@pytest.mark.parametrize(
    "text",
    [
        "I feel suicidal",
        "I want to end my life",
        "been self-harming again",
        "I keep thinking I want to die",
        "took an overdose",
        "I don't want to be here anymore",
    ],
)
def test_crisis_words_are_caught(text: str) -> None:
    assert suggests_crisis(text)


@pytest.mark.parametrize("text", ["yes", "RETURN", "I'm a bit better", "the café was nice"])
def test_ordinary_messages_are_not_crisis(text: str) -> None:
    assert not suggests_crisis(text)
