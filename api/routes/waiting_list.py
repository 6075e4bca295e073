"""The waiting list, in allocation order, with waits, honest estimates and flags.

The order is the allocator's (``models.allocation``): returning clients first, in the order
they asked to come back, then new referrals by urgency, then the longest wait. A page is read
with keyset queries, never by sorting the list: new referrals come off ``ix_referrals_queue``
(stage, held, urgency rank, received, ref) in order, one query per ``held`` partition, merged;
returning clients are few. A position is a referral's place on the whole list, whatever the
filters: the first row's is counted on the index, the rest follow on (or, under a filter,
are numbered through the page's key range).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, Row, func, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, Role, require
from api.context import ApiContext, get_context
from api.problems import FieldError, ProblemError, responses
from api.schemas import QueryBool, QueryInt, WaitingListPage, WaitingReferral
from infra.database import as_utc
from models.allocation import URGENCY_RANK
from models.referral import Stage, Urgency
from models.tables import CaseloadRow, ReferralRow
from models.waiting_list import ALLOCATION_WINDOW_WEEKS, estimate_wait_weeks

router = APIRouter(prefix="/v1/waiting-list", tags=["waiting list"])

MAX_PAGE = 500
_COLUMNS = (
    ReferralRow.ref,
    ReferralRow.urgency,
    ReferralRow.urgency_rank,
    ReferralRow.referrer_organisation,
    ReferralRow.received_at,
    ReferralRow.waiting_since,
    ReferralRow.returning_to,
    ReferralRow.held,
    ReferralRow.hold_reason,
    ReferralRow.breach,
    ReferralRow.in_validation_queue,
    ReferralRow.withdrawal_pending,
)
_WAITING = ReferralRow.stage == Stage.WAITING.value
_RETURNING = ReferralRow.returning_to.is_not(None)
Key = tuple[Any, ...]


def _allocation_order_key() -> tuple[
    tuple[ColumnElement[Any], ...], tuple[ColumnElement[Any], ...]
]:
    """The waiting list's order as SQL sort keys: (returning clients, new referrals).

    It is the allocator's order, whose single home is ``models.allocation``: returning
    clients first by ``returning_order_key`` (waiting since, then reference), then new
    referrals by ``allocation_order_key`` (urgency rank — the read model's ``urgency_rank``
    is ``URGENCY_RANK`` — then received, then reference). test_api_coordination.py checks
    every page against those functions.

    TODO(issue 3): give the rule its SQL form beside it in ``models/allocation.py`` (the
    allocator's ``head_of_waiting_list`` spells it out too) and switch this helper to it.
    """
    since = func.coalesce(ReferralRow.waiting_since, ReferralRow.received_at)
    return (
        (since, ReferralRow.ref),
        (ReferralRow.urgency_rank, ReferralRow.received_at, ReferralRow.ref),
    )


_RETURNING_KEY, _NEW_KEY = _allocation_order_key()


@dataclass(frozen=True)
class _Filters:
    breach: bool | None = None
    validation: bool | None = None
    held: bool | None = None
    urgency: Urgency | None = None

    @property
    def skip_rows(self) -> bool:
        """True when a filter may leave rows out between two shown: positions cannot simply
        follow on from the first."""
        return any(f is not None for f in (self.breach, self.validation, self.held, self.urgency))

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.breach is not None:
            clauses.append(ReferralRow.breach.is_(self.breach))
        if self.validation is not None:
            clauses.append(ReferralRow.in_validation_queue.is_(self.validation))
        if self.urgency is not None:
            clauses.append(ReferralRow.urgency_rank == URGENCY_RANK[self.urgency])
        return clauses  # ``held`` picks the partition instead (see _Section.partitions)


@router.get(
    "",
    response_model=WaitingListPage,
    summary="The waiting list, in allocation order (coordinators)",
    responses=responses(401, 403, 422),
)
async def waiting_list(
    context: Annotated[ApiContext, Depends(get_context)],
    caller: Annotated[Principal, require(Role.COORDINATOR)],
    breach: QueryBool | None = None,
    validation: Annotated[
        QueryBool | None, Query(description="only those in (or out of) the validation queue")
    ] = None,
    held: Annotated[
        QueryBool | None, Query(description="only held (or not held) referrals")
    ] = None,
    urgency: Urgency | None = None,
    limit: Annotated[QueryInt, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=300, description="from next_cursor")] = None,
) -> WaitingListPage:
    """Waiting referrals in the order they will be allocated: position on the whole list,
    days waited since the referral (the waiting standard's clock), an estimated wait as a
    range of weeks (none until the service has allocated anyone recently), and the
    returning, hold, breach and validation flags. Filters keep each referral's position."""
    filters = _Filters(breach=breach, validation=validation, held=held, urgency=urgency)
    after = _decode_cursor(cursor) if cursor else None
    now = datetime.now(UTC)
    async with context.session_factory() as session:
        placed = await _page(session, filters, after, limit + 1)
        total = await _count(session)
        allocations = (
            await session.execute(
                select(func.count())
                .select_from(CaseloadRow)
                .where(
                    CaseloadRow.started_at > now - timedelta(weeks=ALLOCATION_WINDOW_WEEKS),
                    CaseloadRow.started_at <= now,
                )
            )
        ).scalar_one()
    items = [_item(position, row, allocations, now) for position, row, _ in placed[:limit]]
    next_cursor = _encode_cursor(placed[limit - 1]) if len(placed) > limit else None
    return WaitingListPage(
        total_waiting=total,
        allocations_recent=allocations,
        window_weeks=ALLOCATION_WINDOW_WEEKS,
        items=items,
        next_cursor=next_cursor,
    )


@dataclass(frozen=True)
class _Section:
    """One part of the list: its members, its sort key, and the ``held`` partitions it is
    read in (so that the queue index serves the order)."""

    name: str
    members: ColumnElement[bool]
    key: tuple[ColumnElement[Any], ...]
    by_held: bool

    def partitions(self, filters: _Filters) -> list[ColumnElement[bool]]:
        if filters.held is not None:
            return [ReferralRow.held.is_(filters.held)]
        if self.by_held:
            return [ReferralRow.held.is_(False), ReferralRow.held.is_(True)]
        return [true()]

    def labelled(self) -> list[ColumnElement[Any]]:
        return [column.label(f"k{n}") for n, column in enumerate(self.key)]


RETURNING = _Section("r", _RETURNING, _RETURNING_KEY, by_held=False)
NEW = _Section("n", ReferralRow.returning_to.is_(None), _NEW_KEY, by_held=True)
SECTIONS = (RETURNING, NEW)


def _row_key(row: Row[Any], section: _Section) -> Key:
    return tuple(
        as_utc(value) if isinstance(value, datetime) else value
        for value in (getattr(row, f"k{n}") for n in range(len(section.key)))
    )


async def _rows(
    session: AsyncSession, section: _Section, filters: _Filters, after: Key | None, want: int
) -> list[Row[Any]]:
    """The next ``want`` rows of a section after ``after``, in order (partitions merged)."""
    read = []
    for partition in section.partitions(filters):
        query = select(*_COLUMNS, *section.labelled()).where(
            _WAITING, section.members, partition, *filters.where()
        )
        if after is not None:
            query = query.where(tuple_(*section.key) > tuple_(*after))
        read.append((await session.execute(query.order_by(*section.key).limit(want))).all())
    return list(heapq.merge(*read, key=lambda row: _row_key(row, section)))[:want]


async def _count(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(ReferralRow).where(_WAITING, *where)
    return int((await session.execute(query)).scalar_one())


async def _before(session: AsyncSession, section: _Section, key: Key) -> int:
    """How many of the section stand before ``key``."""
    if section is RETURNING:
        return await _count(session, _RETURNING, tuple_(*_RETURNING_KEY) < tuple_(*key))
    # Counted on the queue index alone (it does not hold returning_to): all waiting referrals
    # before the key, less the returning clients among them.
    before = tuple_(*_NEW_KEY) < tuple_(*key)
    everyone = sum(
        [await _count(session, ReferralRow.held.is_(held), before) for held in (False, True)]
    )
    return everyone - await _count(session, _RETURNING, before)


async def _numbered_between(
    session: AsyncSession, section: _Section, first: Key, last: Key
) -> dict[str, int]:
    """Every member of the section from ``first`` to ``last``, numbered from 0."""
    within = (tuple_(*section.key) >= tuple_(*first), tuple_(*section.key) <= tuple_(*last))
    read = []
    for partition in section.partitions(_Filters()):
        query = select(ReferralRow.ref, *section.labelled()).where(_WAITING, partition, *within)
        if section is RETURNING:
            query = query.where(_RETURNING)
        read.append((await session.execute(query.order_by(*section.key))).all())
    skip: set[str] = set()
    if section is NEW:
        returning = select(ReferralRow.ref).where(_WAITING, _RETURNING, *within)
        skip = set((await session.scalars(returning)).all())
    merged = heapq.merge(*read, key=lambda row: _row_key(row, section))
    return {ref: n for n, ref in enumerate(row.ref for row in merged if row.ref not in skip)}


async def _page(
    session: AsyncSession, filters: _Filters, after: tuple[str, Key] | None, want: int
) -> list[tuple[int, Row[Any], _Section]]:
    """Up to ``want`` rows after the cursor, each with its position on the whole list."""
    placed: list[tuple[int, Row[Any], _Section]] = []
    ahead = 0  # members of the sections before this one
    names = [section.name for section in SECTIONS]
    for number, section in enumerate(SECTIONS):
        if after is not None and number < names.index(after[0]):
            ahead += await _count(session, section.members)
            continue
        key = after[1] if after is not None and after[0] == section.name else None
        rows = await _rows(session, section, filters, key, want - len(placed))
        if rows:
            first = _row_key(rows[0], section)
            start = ahead + 1 + await _before(session, section, first)
            if filters.skip_rows:
                # Rows were left out between those shown: number them through the range.
                index = await _numbered_between(
                    session, section, first, _row_key(rows[-1], section)
                )
                placed += [(start + index[row.ref], row, section) for row in rows]
            else:
                placed += [(start + n, row, section) for n, row in enumerate(rows)]
        if len(placed) >= want:
            break
        ahead += await _count(session, section.members)
    return placed


def _item(position: int, row: Row[Any], allocations: int, now: datetime) -> WaitingReferral:
    low, high = estimate_wait_weeks(position, allocations, ALLOCATION_WINDOW_WEEKS)
    received_at = as_utc(row.received_at)
    return WaitingReferral(
        position=position,
        ref=row.ref,
        urgency=Urgency(row.urgency),
        referrer_organisation=row.referrer_organisation,
        received_at=received_at,
        waiting_since=None if row.waiting_since is None else as_utc(row.waiting_since),
        days_waited=max(0, (now - received_at).days),
        estimate_weeks_low=low,
        estimate_weeks_high=high,
        returning_to=row.returning_to,
        held=row.held,
        hold_reason=row.hold_reason,
        breach=row.breach,
        in_validation_queue=row.in_validation_queue,
        withdrawal_pending=row.withdrawal_pending,
    )


# The cursor: the section of the last row shown ("r" returning, "n" new) and its sort key.


def _encode_cursor(placed: tuple[int, Row[Any], _Section]) -> str:
    _, row, section = placed
    key = [v.isoformat() if isinstance(v, datetime) else v for v in _row_key(row, section)]
    return base64.urlsafe_b64encode(json.dumps([section.name, *key]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, Key]:
    """(section, sort key) of the last row of the previous page."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data[0] == "r" and len(data) == 3:
            return "r", (as_utc(datetime.fromisoformat(data[1])), str(data[2]))
        if data[0] == "n" and len(data) == 4 and type(data[1]) is int:
            return "n", (data[1], as_utc(datetime.fromisoformat(data[2])), str(data[3]))
    except (ValueError, TypeError, IndexError, KeyError, binascii.Error, UnicodeDecodeError):
        pass
    raise ProblemError(
        422,
        "validation",
        "the cursor is not one this API gave out",
        errors=[FieldError(loc=["query", "cursor"], msg="invalid cursor", type="cursor")],
    )
