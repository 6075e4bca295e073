"""The waiting list in allocation order — the one place it is read, by everyone.

The order is the allocator's (``models.allocation``): returning clients first, in the order
they asked to come back, then new referrals by urgency, then the longest wait. Its SQL form
is ``RETURNING_ORDER`` and ``NEW_ORDER`` below; ``tests/test_waiting_list_order.py`` checks
them against ``models.allocation`` on random data.

Read by the allocator (``head_of_waiting_list``), the letters (``queue_position``), the API
and the dashboard (``waiting_page``), each with the one wait estimate of
``readmodel.estimates``. A page is read with keyset queries, never by sorting the list: new
referrals come off ``ix_referrals_queue`` (stage, held, urgency rank, received, ref) in order,
one query per ``held`` partition, merged; returning clients are few. A position is a
referral's place on the whole list, whatever the filters.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Row, and_, exists, func, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from infra.database import as_utc
from models.allocation import URGENCY_RANK, PractitionerRoom, WaitingReferral
from models.referral import ReferralView, Stage, Urgency
from models.tables import CaseloadRow, ReferralRow
from readmodel.cursors import read_waiting_cursor, waiting_cursor
from readmodel.estimates import EstimateInputs, estimate_inputs
from readmodel.sql import WAITING

RETURNING = ReferralRow.returning_to.is_not(None)
RETURNING_WAITING = and_(WAITING, RETURNING)
# ``models.allocation.returning_order_key`` as SQL: in the order they asked to come back
# (waiting since — the rules fall back on received — then the reference).
RETURNING_ORDER: tuple[ColumnElement[Any], ...] = (
    func.coalesce(ReferralRow.waiting_since, ReferralRow.received_at),
    ReferralRow.ref,
)
# ``models.allocation.allocation_order_key`` as SQL: urgency rank (``URGENCY_RANK``, kept in
# ``urgency_rank``), then received, then the reference — ``ix_referrals_queue``'s order.
NEW_ORDER: tuple[ColumnElement[Any], ...] = (
    ReferralRow.urgency_rank,
    ReferralRow.received_at,
    ReferralRow.ref,
)
_NOT_BEING_ALLOCATED = ~exists().where(
    CaseloadRow.ref == ReferralRow.ref, CaseloadRow.ended_at.is_(None)
)
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
Key = tuple[Any, ...]


class WaitingListEntry(BaseModel):
    """A referral on the waiting list, where it stands and how long it has waited."""

    position: int = Field(ge=1)
    ref: str
    urgency: Urgency
    referrer_organisation: str
    received_at: datetime
    waiting_since: datetime | None
    days_waited: int = Field(description="since the referral was received (the standard's clock)")
    estimate_weeks_low: int | None
    estimate_weeks_high: int | None
    returning_to: str | None = Field(description="a returning client waits for this practitioner")
    held: bool = Field(description="held back from automatic allocation")
    hold_reason: str | None
    breach: bool
    in_validation_queue: bool
    withdrawal_pending: bool


@dataclass(frozen=True)
class WaitingFilters:
    """The waiting list's filters; None means either."""

    breach: bool | None = None
    validation: bool | None = None
    held: bool | None = None
    returning: bool | None = None
    urgency: Urgency | None = None

    @property
    def active(self) -> bool:
        return any(
            v is not None
            for v in (self.breach, self.validation, self.held, self.returning, self.urgency)
        )

    def where(self) -> list[ColumnElement[bool]]:
        """SQL for the filters on flags (``held`` picks partitions, ``returning`` sections)."""
        clauses: list[ColumnElement[bool]] = []
        if self.breach is not None:
            clauses.append(ReferralRow.breach.is_(self.breach))
        if self.validation is not None:
            clauses.append(ReferralRow.in_validation_queue.is_(self.validation))
        if self.urgency is not None:
            clauses.append(ReferralRow.urgency_rank == URGENCY_RANK[self.urgency])
        return clauses

    def skips_rows(self) -> bool:
        """True when rows may be left out between two shown: positions cannot simply follow
        on from the first."""
        return any(f is not None for f in (self.breach, self.validation, self.held, self.urgency))


@dataclass(frozen=True)
class WaitingPage:
    """A page of the waiting list: its entries, how many match the filters, how many wait,
    the estimate's inputs, and where the next page starts (None at the end)."""

    items: list[WaitingListEntry]
    matching: int
    total_waiting: int
    estimates: EstimateInputs
    next_cursor: str | None


@dataclass(frozen=True)
class _Section:
    """One part of the list: its members, its sort key, and the ``held`` partitions it is
    read in (so that the queue index serves the order)."""

    name: str
    members: ColumnElement[bool]
    key: tuple[ColumnElement[Any], ...]
    by_held: bool

    def partitions(self, filters: WaitingFilters) -> list[ColumnElement[bool]]:
        if filters.held is not None:
            return [ReferralRow.held.is_(filters.held)]
        if self.by_held:
            return [ReferralRow.held.is_(False), ReferralRow.held.is_(True)]
        return [true()]

    def shown(self, filters: WaitingFilters) -> bool:
        return filters.returning is None or filters.returning == (self is _RETURNING_SECTION)

    def labelled(self) -> list[ColumnElement[Any]]:
        return [column.label(f"k{n}") for n, column in enumerate(self.key)]


_RETURNING_SECTION = _Section("r", RETURNING, RETURNING_ORDER, by_held=False)
_NEW_SECTION = _Section("n", ReferralRow.returning_to.is_(None), NEW_ORDER, by_held=True)
_SECTIONS = (_RETURNING_SECTION, _NEW_SECTION)


async def waiting_page(
    session: AsyncSession,
    filters: WaitingFilters,
    now: datetime,
    *,
    limit: int,
    cursor: str | None = None,
    offset: int = 0,
) -> WaitingPage:
    """A page of the waiting list in allocation order, after ``cursor`` (from a previous
    page's ``next_cursor``) or from ``offset``: each entry keeps its position on the whole
    list whatever the filters, with days waited since the referral (the waiting standard's
    clock) and the estimated wait as a range of weeks."""
    after = decode_cursor(cursor) if cursor else None
    placed = await _page(session, filters, after, offset + limit + 1)
    placed = placed[offset:]
    inputs = await estimate_inputs(session, now)
    items = [_entry(position, row, inputs, now) for position, row, _ in placed[:limit]]
    return WaitingPage(
        items=items,
        matching=await _matching(session, filters),
        total_waiting=await _count(session),
        estimates=inputs,
        next_cursor=_encode_cursor(placed[limit - 1]) if len(placed) > limit else None,
    )


async def queue_position(session: AsyncSession, ref: str) -> tuple[int, int]:
    """(position, total) of a referral on the waiting list, as ``waiting_page`` numbers it.

    A referral not (yet) waiting is placed where it would stand and counted in the total;
    one unknown to the read model goes to the back.
    """
    total = await _count(session)
    mine = (
        await session.execute(
            select(ReferralRow.stage, *RETURNING_ORDER, *NEW_ORDER, ReferralRow.returning_to)
            .where(ReferralRow.ref == ref)
            .limit(1)
        )
    ).one_or_none()
    if mine is None:
        return total + 1, total + 1
    if mine.stage != Stage.WAITING.value:
        total += 1
    others = ReferralRow.ref != ref
    if mine.returning_to is not None:
        key = tuple(mine)[1 : 1 + len(RETURNING_ORDER)]
        ahead = await _count(session, RETURNING, others, tuple_(*RETURNING_ORDER) < tuple_(*key))
    else:
        key = tuple(mine)[1 + len(RETURNING_ORDER) : 1 + len(RETURNING_ORDER) + len(NEW_ORDER)]
        ahead = await _count(session, RETURNING, others) + await _count(
            session,
            ReferralRow.returning_to.is_(None),
            others,
            tuple_(*NEW_ORDER) < tuple_(*key),
        )
    return ahead + 1, total


async def wait_estimate(
    session: AsyncSession, ref: str, now: datetime
) -> tuple[int, int, int | None, int | None]:
    """(position, total, low, high): where a referral stands and the weeks it may still wait —
    the figures its letters carry, the same as the API's and the dashboard's."""
    position, total = await queue_position(session, ref)
    mine = (
        await session.execute(
            select(ReferralRow.urgency, ReferralRow.returning_to).where(ReferralRow.ref == ref)
        )
    ).one_or_none()
    inputs = await estimate_inputs(session, now)
    if mine is None:  # not in the read model yet: nobody known to overtake it
        low, high = inputs.estimate(position, Urgency.URGENT, returning=False)
    else:
        low, high = inputs.estimate(position, mine.urgency, returning=mine.returning_to is not None)
    return position, total, low, high


async def with_current_standing(
    session: AsyncSession, view: ReferralView, now: datetime
) -> ReferralView:
    """``view`` with the position, total and estimate the waiting list gives now (those of
    ``wait_estimate``: the list's, the letters' and every page's), in place of the figures the
    workflow saved when it last asked; unchanged when the referral is not waiting."""
    if view.stage != Stage.WAITING:
        return view
    position, total, low, high = await wait_estimate(session, view.ref, now)
    return view.model_copy(
        update={
            "position": position,
            "waiting_total": total,
            "estimate_weeks_low": low,
            "estimate_weeks_high": high,
        }
    )


async def head_of_waiting_list(
    session: AsyncSession, rooms: Sequence[PractitionerRoom]
) -> list[WaitingReferral]:
    """Just the part of the list the allocation rules can act on now: returning clients of
    practitioners with room, and as many new referrals, in allocation order, as there are
    free places — none held, none already being allocated. Read off ``ix_referrals_queue``,
    so 50 000 waiting cost no more than 50."""
    with_room = [r.id for r in rooms if r.free > 0]
    free = sum(r.free for r in rooms)
    if free == 0:
        return []
    unheld = and_(WAITING, ReferralRow.held.is_(False), _NOT_BEING_ALLOCATED)
    columns = (
        ReferralRow.ref,
        ReferralRow.urgency,
        ReferralRow.received_at,
        ReferralRow.waiting_since,
        ReferralRow.returning_to,
    )
    returning = (
        await session.execute(
            select(*columns).where(unheld, ReferralRow.returning_to.in_(with_room))
        )
    ).all()
    new = (
        await session.execute(
            select(*columns)
            .where(unheld, ReferralRow.returning_to.is_(None))
            .order_by(*NEW_ORDER)
            .limit(free)
        )
    ).all()
    return [
        WaitingReferral(
            ref=row.ref,
            urgency=Urgency(row.urgency),
            received_at=as_utc(row.received_at),
            waiting_since=as_utc(row.waiting_since or row.received_at),
            returning_to=row.returning_to,
        )
        for row in [*returning, *new]
    ]


async def returning_waiting(session: AsyncSession) -> dict[str, int]:
    """Returning clients waiting, by the practitioner they wait for (``ix_referrals_returning``)."""
    rows = (
        await session.execute(
            select(ReferralRow.returning_to, func.count())
            .where(RETURNING_WAITING)
            .group_by(ReferralRow.returning_to)
        )
    ).all()
    return {p: int(n) for p, n in rows}


async def returning_clients(session: AsyncSession, practitioner_id: str) -> list[str]:
    """The references of returning clients waiting for ``practitioner_id``, in allocation
    order (``ix_referrals_returning``)."""
    rows = await session.execute(
        select(ReferralRow.ref)
        .where(RETURNING_WAITING, ReferralRow.returning_to == practitioner_id)
        .order_by(*RETURNING_ORDER)
    )
    return [ref for (ref,) in rows]


# ------------------------------------------------------------------------------ internals


def _row_key(row: Row[Any], section: _Section) -> Key:
    return tuple(
        as_utc(value) if isinstance(value, datetime) else value
        for value in (getattr(row, f"k{n}") for n in range(len(section.key)))
    )


async def _rows(
    session: AsyncSession,
    section: _Section,
    filters: WaitingFilters,
    after: Key | None,
    want: int,
) -> list[Row[Any]]:
    """The next ``want`` rows of a section after ``after``, in order (partitions merged)."""
    read = []
    for partition in section.partitions(filters):
        query = select(*_COLUMNS, *section.labelled()).where(
            WAITING, section.members, partition, *filters.where()
        )
        if after is not None:
            query = query.where(tuple_(*section.key) > tuple_(*after))
        read.append((await session.execute(query.order_by(*section.key).limit(want))).all())
    return list(heapq.merge(*read, key=lambda row: _row_key(row, section)))[:want]


async def _count(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(ReferralRow).where(WAITING, *where)
    return int((await session.execute(query)).scalar_one())


async def _matching(session: AsyncSession, filters: WaitingFilters) -> int:
    """How many waiting referrals the filters let through."""
    if not filters.active:
        return await _count(session)
    found = 0
    for section in _SECTIONS:
        if section.shown(filters):
            held = [] if filters.held is None else [ReferralRow.held.is_(filters.held)]
            found += await _count(session, section.members, *held, *filters.where())
    return found


async def _before(session: AsyncSession, section: _Section, key: Key) -> int:
    """How many of the section stand before ``key``."""
    if section is _RETURNING_SECTION:
        return await _count(session, RETURNING, tuple_(*RETURNING_ORDER) < tuple_(*key))
    # Counted on the queue index alone (it does not hold returning_to): all waiting referrals
    # before the key, less the returning clients among them.
    before = tuple_(*NEW_ORDER) < tuple_(*key)
    everyone = sum(
        [await _count(session, ReferralRow.held.is_(held), before) for held in (False, True)]
    )
    return everyone - await _count(session, RETURNING, before)


async def _numbered_between(
    session: AsyncSession, section: _Section, first: Key, last: Key
) -> dict[str, int]:
    """Every member of the section from ``first`` to ``last``, numbered from 0."""
    within = (tuple_(*section.key) >= tuple_(*first), tuple_(*section.key) <= tuple_(*last))
    read = []
    for partition in section.partitions(WaitingFilters()):
        query = select(ReferralRow.ref, *section.labelled()).where(WAITING, partition, *within)
        if section is _RETURNING_SECTION:
            query = query.where(RETURNING)
        read.append((await session.execute(query.order_by(*section.key))).all())
    skip: set[str] = set()
    if section is _NEW_SECTION:
        returning = select(ReferralRow.ref).where(RETURNING_WAITING, *within)
        skip = set((await session.scalars(returning)).all())
    merged = heapq.merge(*read, key=lambda row: _row_key(row, section))
    return {ref: n for n, ref in enumerate(row.ref for row in merged if row.ref not in skip)}


async def _page(
    session: AsyncSession, filters: WaitingFilters, after: tuple[str, Key] | None, want: int
) -> list[tuple[int, Row[Any], _Section]]:
    """Up to ``want`` rows after the cursor, each with its position on the whole list."""
    placed: list[tuple[int, Row[Any], _Section]] = []
    ahead = 0  # members of the sections before this one
    names = [section.name for section in _SECTIONS]
    for number, section in enumerate(_SECTIONS):
        passed = after is not None and number < names.index(after[0])
        if passed or not section.shown(filters):
            ahead += await _count(session, section.members)
            continue
        key = after[1] if after is not None and after[0] == section.name else None
        rows = await _rows(session, section, filters, key, want - len(placed))
        if rows:
            first = _row_key(rows[0], section)
            start = ahead + 1 + await _before(session, section, first)
            if filters.skips_rows():
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


def _entry(position: int, row: Row[Any], inputs: EstimateInputs, now: datetime) -> WaitingListEntry:
    low, high = inputs.estimate(position, row.urgency, row.returning_to is not None)
    received_at = as_utc(row.received_at)
    return WaitingListEntry(
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


# The cursor: the section of the last row shown ("r" returning, "n" new) and its sort key
# (readmodel.cursors writes and reads it).


def _encode_cursor(placed: tuple[int, Row[Any], _Section]) -> str:
    _, row, section = placed
    return waiting_cursor(section.name, tuple(_row_key(row, section)))


def decode_cursor(cursor: str) -> tuple[str, Key]:
    """(section, sort key) of the last row of the previous page; ``InvalidCursor`` if the
    cursor is not one this service gave out."""
    section, key = read_waiting_cursor(cursor)
    return section, key  # type: ignore[return-value]
