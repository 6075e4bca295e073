"""Keyed hashes that let the read model match and count people without holding who they are.

A contact (email or phone) is stored only as an HMAC of its normalised form; a referral's
reference becomes a pseudonym in the anonymised outcomes.
"""

from __future__ import annotations

import hashlib
import hmac

from models.client_numbers import normalise_phone

# Domain separation: the same key never yields the same hash for a contact and a ref.
_CONTACT_PREFIX = b"harbour:contact:v1\x00"
_PSEUDONYM_PREFIX = b"harbour:pseudonym:v1\x00"


def normalise_contact(contact: str) -> str:
    """The canonical form of an email address or phone number, for matching.

    Emails are stripped and lower-cased; phones become +44… via ``normalise_phone``. Anything
    else (a sender that is neither) is stripped and lower-cased, so it can still be stored and
    simply matches nobody.
    """
    value = contact.strip()
    if "@" in value:
        return value.lower()
    try:
        return normalise_phone(value)
    except ValueError:
        return value.lower()


def contact_key(pseudonym_key: bytes, contact: str) -> str:
    """Keyed hash (HMAC-SHA256, hex) of a normalised contact: lets messages be matched to a
    referral without the read model holding anyone's email or phone number."""
    message = _CONTACT_PREFIX + normalise_contact(contact).encode()
    return hmac.new(pseudonym_key, message, hashlib.sha256).hexdigest()


def pseudonym(pseudonym_key: bytes, ref: str) -> str:
    """Keyed pseudonym (HMAC-SHA256, hex) of a referral reference, for anonymised outcomes."""
    return hmac.new(pseudonym_key, _PSEUDONYM_PREFIX + ref.encode(), hashlib.sha256).hexdigest()
