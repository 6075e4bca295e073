"""Everything a client reads — letters, texts and the public pages — is written for a reading
age of 11 or below (issue 12, part 4): textstat's Flesch-Kincaid grade plus 5, measured by
``bench.reading_age`` (docs/reading-age.md says why this measure)."""

from __future__ import annotations

from bench.reading_age import READING_AGE_LIMIT, client_letters, client_pages, measure, plain_words


def test_every_client_facing_text_has_a_reading_age_of_11_or_below() -> None:
    texts = [*client_letters(), *client_pages()]
    names = {name for name, _ in texts}
    # Every kind of thing a client reads is measured: letters, texts and each link's page.
    assert {
        "letter checkin",
        "text checkin",
        "page checkin",
        "page reqol",
        "page help now",
    } <= names
    assert "page self-referral" in names
    over = [
        (reading.name, reading.reading_age)
        for reading in (measure(name, text) for name, text in texts)
        if reading.reading_age > READING_AGE_LIMIT
    ]
    assert over == []


def test_the_measure_counts_our_words_only() -> None:
    words = plain_words(
        '<p>Dear Robin,</p><p>Tap <a href="https://x.example/c/t">here</a>. Call 01234 567890.'
        " Reference: R7K2M9QX4PT</p>"
    )
    assert "https" not in words and "01234" not in words and "R7K2M9QX4PT" not in words
    assert "Robin" not in words
    hard = measure("hard", "Notwithstanding considerable organisational complexity, " * 5)
    easy = measure("easy", "We will call you soon. You can call us too. " * 5)
    assert hard.reading_age > READING_AGE_LIMIT >= easy.reading_age
