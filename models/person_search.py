"""How a person is found without the read model holding who they are: the search terms of a
client (and of a coordinator's query), normalised, before they are hashed into the blind index.

A name becomes tokens — Unicode-folded (accents dropped), lower case, split on anything that
is not a letter ("Mary-Jane O'Neil" -> mary, jane, o, neil; one-letter tokens are dropped) —
and each token also gives its phonetic key (Metaphone, so "Kathryn" meets "Catherine" and
"Hanna" meets "Hannah"). An NHS number is its ten digits; a phone number its E.164 form. Only
keyed hashes of these terms are stored (``readmodel/person_search.py``). docs/person-search.md
explains the choice.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

import jellyfish

from models.client_numbers import normalise_phone

_NOT_LETTERS = re.compile(r"[^a-z]+")
_DIGITS = re.compile(r"\d")
MAX_QUERY_TOKENS = 6


class TermKind(StrEnum):
    """What a search term was made from (a term of one kind never matches another's)."""

    NAME = "name"
    PHONETIC = "phonetic"
    NHS = "nhs"
    PHONE = "phone"


SearchTerm = tuple[TermKind, str]


def name_tokens(name: str) -> list[str]:
    """A name's tokens, folded: ``"Zoë  Smith-Jones"`` -> ``["zoe", "smith", "jones"]``."""
    folded = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return [t for t in _NOT_LETTERS.split(ascii_only) if len(t) > 1]


def phonetic_key(token: str) -> str:
    """The Metaphone key of one name token (``"kathryn"`` and ``"catherine"`` -> ``"K0RN"``)."""
    return jellyfish.metaphone(token)


def nhs_digits(value: str) -> str | None:
    """The ten digits of an NHS number written with spaces or dashes, else None."""
    digits = "".join(_DIGITS.findall(value))
    stripped = re.sub(r"[\s-]", "", value)
    return digits if len(digits) == 10 and stripped.isdigit() else None


def phone_form(value: str) -> str | None:
    """The E.164 form of a phone number, else None."""
    if len(_DIGITS.findall(value)) < 7:
        return None
    try:
        return normalise_phone(value)
    except ValueError:
        return None


def client_terms(name: str, nhs_number: str | None, phone: str | None) -> set[SearchTerm]:
    """Every search term of a client: name tokens and their phonetic keys, the NHS number and
    the phone number."""
    terms: set[SearchTerm] = set()
    for token in name_tokens(name):
        terms.add((TermKind.NAME, token))
        terms.add((TermKind.PHONETIC, phonetic_key(token)))
    if nhs_number and (digits := nhs_digits(nhs_number)):
        terms.add((TermKind.NHS, digits))
    if phone and (number := phone_form(phone)):
        terms.add((TermKind.PHONE, number))
    return terms


def query_groups(query: str) -> list[set[SearchTerm]]:
    """What a coordinator typed, as groups of terms: a referral matches when it has at least
    one term of every group. A number is tried as an NHS number and as a phone number (one
    group); a name gives one group per token (the token or its phonetic key), at most
    ``MAX_QUERY_TOKENS``."""
    number: set[SearchTerm] = set()
    if digits := nhs_digits(query):
        number.add((TermKind.NHS, digits))
    if phone := phone_form(query):
        number.add((TermKind.PHONE, phone))
    if number:
        return [number]
    return [
        {(TermKind.NAME, token), (TermKind.PHONETIC, phonetic_key(token))}
        for token in name_tokens(query)[:MAX_QUERY_TOKENS]
    ]
