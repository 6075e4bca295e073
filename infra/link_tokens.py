"""Short signed tokens for clients' secure links (itsdangerous underneath).

A token reads ``<purpose code>.<reference>.<token id>.<timestamp>.<signature>``: the purpose
(one letter), the referral's opaque reference, a token id (what single use is recorded
against), the time it was made, and an HMAC-SHA256 over all of that, cut to 128 bits so that
a link fits in a text (``TruncatedHMAC``; 128 bits is the strength of the AES keys beside
it). The key is derived from the service's pseudonym key with a label of its own, so the
worker that writes letters and the API that reads links agree without a new secret, and a
token is no use as anything else.

This module knows nothing of the pathway: it signs and checks strings.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from itsdangerous.signer import HMACAlgorithm

_LABEL = b"harbour.client-links.v1"
_SIGNATURE_BYTES = 16
_MAX_TOKEN = 120
_PART = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class LinkInvalid(Exception):
    """Not a token this service made (or altered)."""


class LinkExpired(Exception):
    """A genuine token, older than its lifetime."""


class TruncatedHMAC(HMACAlgorithm):
    """HMAC-SHA256 cut to its first 16 bytes (a link must fit in a text)."""

    def __init__(self) -> None:
        super().__init__(hashlib.sha256)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return super().get_signature(key, value)[:_SIGNATURE_BYTES]


@dataclass(frozen=True)
class LinkToken:
    """What a genuine token says."""

    purpose_code: str
    ref: str
    token_id: str
    issued_at: datetime


def link_key(pseudonym_key: bytes) -> bytes:
    """The links' own key, derived from the pseudonym key."""
    return hmac.new(pseudonym_key, _LABEL, hashlib.sha256).digest()


class LinkSigner:
    """Makes and reads link tokens under one key."""

    def __init__(self, pseudonym_key: bytes) -> None:
        self._signer = TimestampSigner(
            link_key(pseudonym_key),
            salt="harbour.client-link",
            sep=".",
            key_derivation="none",
            algorithm=TruncatedHMAC(),
        )

    def make(self, purpose_code: str, ref: str, token_id: str) -> str:
        """A token for ``ref`` and ``purpose_code`` (one letter) with id ``token_id``."""
        if len(purpose_code) != 1 or not _PART.match(ref) or not _PART.match(token_id):
            raise ValueError("a link's purpose, reference and id are short plain codes")
        return self._signer.sign(f"{purpose_code}.{ref}.{token_id}").decode()

    def read(self, token: str, max_age_seconds: int | None = None) -> LinkToken:
        """The token's content if it is genuine (and, given ``max_age_seconds``, not too old).

        Raises ``LinkInvalid`` or ``LinkExpired``."""
        if not token or len(token) > _MAX_TOKEN:
            raise LinkInvalid
        try:
            value, issued = self._signer.unsign(
                token, max_age=max_age_seconds, return_timestamp=True
            )
        except SignatureExpired:
            raise LinkExpired from None
        except BadSignature:
            raise LinkInvalid from None
        parts = value.decode().split(".")
        if len(parts) != 3 or len(parts[0]) != 1:
            raise LinkInvalid
        return LinkToken(
            purpose_code=parts[0],
            ref=parts[1],
            token_id=parts[2],
            issued_at=issued.astimezone(UTC),
        )
