"""Free text kept in the read model, sealed at rest with the payload codec's key ring.

Clients' messages, session locations, coordinators' notes and skip reasons are written sealed
(``KeyRing.seal``: AES-256-GCM under the active key, ``<key id>:<base64>``) and opened only by
the reader that shows them to someone allowed to see them. A copied database file (or a
backup, or a replica) holds no clients' words in clear. Old keys stay in the ring to open old
rows, as they do for Temporal's payloads.
"""

from __future__ import annotations

import structlog

from infra.keys import KeyRing

log = structlog.get_logger(__name__)

# Shown instead of text that cannot be opened (its key was taken out of the ring, or the row
# was altered): a page still renders, and says why, rather than failing as a whole.
UNREADABLE = "[sealed with a key this server does not hold]"


def seal_text(keyring: KeyRing, text: str) -> str:
    """``text`` sealed for storage."""
    return keyring.seal(text.encode("utf-8"))


def seal_optional(keyring: KeyRing, text: str | None) -> str | None:
    """``text`` sealed for storage; None and "" stay as they are (no text is no secret, and
    reports count the empty as absent)."""
    return seal_text(keyring, text) if text else text


def open_text(keyring: KeyRing, sealed: str) -> str:
    """The text ``seal_text`` sealed, or ``UNREADABLE`` (logged without any of the text)."""
    try:
        return keyring.unseal(sealed).decode("utf-8")
    except ValueError:
        # KeyConfigError, bad base64 and bad UTF-8 are all ValueErrors. Neither the value nor
        # the key id it names is logged: were the value not sealed, both would be its words.
        known = sealed.partition(":")[0] in keyring.keys
        log.warning(
            "sealed text cannot be opened",
            problem="failed_authentication" if known else "unknown_key_id",
        )
        return UNREADABLE


def open_optional(keyring: KeyRing, sealed: str | None) -> str | None:
    """``open_text`` for a column that may be NULL (or "", as ``seal_optional`` left it)."""
    return open_text(keyring, sealed) if sealed else sealed
