"""A practitioner's workspace: their caseload, their diary, and one client's record — only
ever their own clients.

Everything a practitioner does from here goes through ``services.referrals`` (the same
workflow updates the API and the CLI use); this module only reads. Who is on the caseload comes
from the read model (``readmodel.caseloads``); each client's bookings and progress from their
referral's workflow (the ``state`` query: bookings live there); names and contacts through
``services.person_display``, which audits every look before it opens them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from infra.keys import KeyRing
from models.diary import DiaryEntry
from models.episode_measures import MeasureNote, episode_measures
from models.read_audit import AccessChannel
from models.referral import BookedSession, ReferralSubmission, ReferralView
from models.roles import Role
from readmodel import referral_records
from readmodel.caseloads import caseload_entries
from readmodel.referral_records import LiaisonLine, SessionLine
from readmodel.timeline import get_timeline
from services import referrals
from services.api_keys import Principal
from services.person_display import PersonUnavailable, load_person_for_display, may_see_person

SessionFactory = async_sessionmaker[AsyncSession]


class NotYourClient(Exception):
    """No referral of that reference is on this practitioner's caseload (a page answers 404,
    exactly as for a reference that does not exist)."""


@dataclass(frozen=True)
class CaseloadClient:
    """A client on the caseload as the workspace lists them."""

    view: ReferralView
    name: str | None  # None: the workflow could not answer for the person just now

    @property
    def next_session(self) -> BookedSession | None:
        return min(self.view.booked_sessions, key=lambda b: b.at, default=None)


@dataclass(frozen=True)
class Workspace:
    """A practitioner's clients (oldest episode first) and their booked sessions."""

    clients: list[CaseloadClient]
    diary: list[DiaryEntry]


@dataclass(frozen=True)
class ClientRecord:
    """One client's page: the workflow's state, the person, sessions, liaison and measures."""

    view: ReferralView
    person: ReferralSubmission | None  # None: the workflow could not answer just now
    sessions: list[SessionLine]
    liaison: list[LiaisonLine]
    measures: dict[str, MeasureNote]


def _mine(principal: Principal, view: ReferralView) -> bool:
    # A practitioner's own client: the same rule that lets staff see the person.
    return principal.role is Role.PRACTITIONER and may_see_person(principal, view.practitioner_id)


async def own_client(client: Client, ref: str, principal: Principal) -> ReferralView:
    """The referral's state if it is this practitioner's client, else ``NotYourClient``
    (whether it does not exist or is someone else's: the same answer)."""
    try:
        view = await referrals.read(client, ref)
    except referrals.NotFound:
        raise NotYourClient(ref) from None
    if not _mine(principal, view):
        raise NotYourClient(ref)
    return view


async def _person(
    client: Client, session_factory: SessionFactory, view: ReferralView, principal: Principal
) -> ReferralSubmission:
    return await load_person_for_display(
        client,
        session_factory,
        view.ref,
        principal,
        AccessChannel.DASHBOARD,
        practitioner_id=view.practitioner_id,
    )


async def _state_or_none(client: Client, ref: str) -> ReferralView | None:
    try:
        return await referrals.read(client, ref)
    except referrals.NotFound:
        return None


async def _person_or_none(
    client: Client, session_factory: SessionFactory, view: ReferralView, principal: Principal
) -> ReferralSubmission | None:
    try:
        return await _person(client, session_factory, view, principal)
    except (referrals.NotFound, PersonUnavailable):
        return None


async def caseload_and_diary(
    client: Client, session_factory: SessionFactory, practitioner_id: str, principal: Principal
) -> Workspace:
    """``practitioner_id``'s caseload now, with each client's name and booked sessions, as
    ``principal`` sees it: the practitioner in their workspace, or a coordinator on that
    practitioner's caseload page. Each look at a name is audited as ``principal``'s."""
    async with session_factory() as session:
        entries = await caseload_entries(session, practitioner_id)
    views = await asyncio.gather(*(_state_or_none(client, e.ref) for e in entries))
    # A referral moved to someone else since the read model saw it (or gone from Temporal) is
    # not shown.
    theirs = [v for v in views if v is not None and v.practitioner_id == practitioner_id]
    people = await asyncio.gather(
        *(_person_or_none(client, session_factory, view, principal) for view in theirs)
    )
    clients = [
        CaseloadClient(view=view, name=None if person is None else person.client.name)
        for view, person in zip(theirs, people, strict=True)
    ]
    diary = [
        DiaryEntry(
            ref=c.view.ref,
            session_id=b.session_id,
            at=b.at,
            location=b.location,
            client=c.name or f"Client {c.view.ref}",
        )
        for c in clients
        for b in c.view.booked_sessions
    ]
    return Workspace(clients=clients, diary=diary)


async def client_record(
    client: Client,
    session_factory: SessionFactory,
    keyring: KeyRing,
    ref: str,
    principal: Principal,
) -> ClientRecord:
    """One of this practitioner's clients, in full (the look at the person is audited);
    ``NotYourClient`` for anyone else's."""
    view = await own_client(client, ref, principal)
    person = await _person_or_none(client, session_factory, view, principal)
    timeline = await get_timeline(session_factory, ref) or view.timeline
    async with session_factory() as session:
        sessions = await referral_records.sessions(session, keyring, ref)
        liaison = await referral_records.liaison(session, ref)
    return ClientRecord(
        view=view,
        person=person,
        sessions=sessions,
        liaison=liaison,
        measures=episode_measures(timeline),
    )
