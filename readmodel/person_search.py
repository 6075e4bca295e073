"""The person search's keyed blind index: HMACs of a client's search terms
(``models/person_search.py``), never the terms themselves, written once per referral and looked
up by the hashes of what a coordinator typed.

The key is the key ring's pseudonym key (the one that hashes contacts for message matching),
with its own domain prefix, so a search token never equals a contact's hash or a pseudonym.
Without the key, the table tells nobody whose referral it is.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from infra.database import insert_for, write_transaction
from models.person_search import SearchTerm, TermKind, client_terms, query_groups
from models.tables import PersonSearchRow

_PREFIX = b"harbour:person-search:v1\x00"
# Enough for a coordinator to choose from; a query this broad needs another word.
MAX_FOUND = 50
_PER_GROUP = 2000


def search_token(key: bytes, term: SearchTerm) -> str:
    """The keyed hash (HMAC-SHA256, hex) of one search term."""
    kind, value = term
    message = _PREFIX + kind.value.encode() + b"\x00" + value.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def person_rows(
    key: bytes, ref: str, name: str, nhs_number: str | None, phone: str | None
) -> list[dict[str, str]]:
    """The index rows of a referral's client: one keyed hash per search term."""
    return [
        {"token": search_token(key, term), "ref": ref, "kind": term[0].value}
        for term in client_terms(name, nhs_number, phone)
    ]


async def index_person(
    session_factory: async_sessionmaker[AsyncSession],
    key: bytes,
    ref: str,
    name: str,
    nhs_number: str | None,
    phone: str | None,
) -> None:
    """Add a referral's client to the index (again: nothing changes)."""
    rows = person_rows(key, ref, name, nhs_number, phone)
    if not rows:
        return
    async with write_transaction(session_factory) as session:
        await session.execute(
            insert_for(session, PersonSearchRow).values(rows).on_conflict_do_nothing()
        )


async def find_people(session: AsyncSession, key: bytes, query: str) -> list[str]:
    """The references whose client matches ``query`` (a name, an NHS number or a phone
    number), best first: every word must match, exactly or by sound; exact words rank higher.
    At most ``MAX_FOUND``."""
    groups = query_groups(query)
    if not groups:
        return []
    found: set[str] | None = None
    exact: Counter[str] = Counter()
    for group in groups:
        tokens = {search_token(key, term): term for term in group}
        rows = (
            await session.execute(
                select(PersonSearchRow.ref, PersonSearchRow.token)
                .where(PersonSearchRow.token.in_(tokens))
                .limit(_PER_GROUP)
            )
        ).all()
        refs = {row.ref for row in rows}
        for row in rows:
            if tokens[row.token][0] is not TermKind.PHONETIC:
                exact[row.ref] += 1
        found = refs if found is None else found & refs
        if not found:
            return []
    assert found is not None
    return sorted(found, key=lambda ref: (-exact[ref], ref))[:MAX_FOUND]
