"""Staff see the person they work with, safely: the one door to a referral's personal data.

``load_person_for_display`` is the only function that opens a referral's client details (name,
contacts, contact preferences), the referral's reason and its referrer for a person to read.
It checks the role (coordinators; a practitioner only for their own client), records the view
in the read audit (who, when, which referral, through what) *before* asking, and then asks the
referral's workflow: the details live only in its payloads, encrypted by the payload codec, and
are decrypted at the moment of display. Nothing here is stored, logged or cached.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.read_audit import AccessChannel
from models.referral import ReferralSubmission
from models.roles import Role
from services import read_audit
from services.api_keys import Principal
from services.referrals import NotFound
from workflows.referral import ReferralWorkflow, workflow_id

# Search results' names asked for together: a few database connections, not the whole pool.
NAMES_AT_ONCE = 5


class PersonUnavailable(Exception):
    """The workflow could not answer the ``person`` query (e.g. a worker older than it)."""


class NotAllowedToSee(Exception):
    """The caller's role may not see this referral's person (a page answers 404)."""


def may_see_person(principal: Principal, practitioner_id: str | None) -> bool:
    """Coordinators see every referral's person; a practitioner only their own client's
    (``practitioner_id``: the referral's practitioner now); nobody else."""
    if principal.role is Role.COORDINATOR:
        return True
    if principal.role is Role.PRACTITIONER:
        return practitioner_id is not None and principal.practitioner_id == practitioner_id
    return False


async def load_person_for_display(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    ref: str,
    principal: Principal,
    through: AccessChannel,
    *,
    practitioner_id: str | None = None,
) -> ReferralSubmission:
    """The referral's person (client details, referrer, reason) for ``principal`` to read now.

    ``practitioner_id`` is the referral's practitioner as the caller already knows it (from
    the workflow's ``state``): a practitioner sees only their own client. The view is audited
    first; a view that cannot be recorded is not shown. Raises ``NotAllowedToSee``,
    ``NotFound`` or ``PersonUnavailable``."""
    if not may_see_person(principal, practitioner_id):
        raise NotAllowedToSee(ref)
    await read_audit.record_access(session_factory, ref, through, principal)
    handle = client.get_workflow_handle(workflow_id(ref))
    try:
        person: ReferralSubmission = await handle.query(ReferralWorkflow.person)
    except WorkflowQueryFailedError:
        raise PersonUnavailable(ref) from None
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(ref) from None
        raise
    return person


async def names_for_display(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    refs: list[str],
    principal: Principal,
    through: AccessChannel,
) -> dict[str, str]:
    """The client's name on each of ``refs`` for a coordinator choosing among search results,
    each look audited like any other (``load_person_for_display``). A referral whose workflow
    cannot answer is left out: its row shows the reference alone. At most ``NAMES_AT_ONCE``
    looks run together (each holds a database connection for its audit row); any other
    failure stops the rest and is raised. Bound the wait outside."""
    names: dict[str, str] = {}
    at_once = asyncio.Semaphore(NAMES_AT_ONCE)

    async def name(ref: str) -> None:
        async with at_once:
            try:
                person = await load_person_for_display(
                    client, session_factory, ref, principal, through
                )
            except (NotAllowedToSee, NotFound, PersonUnavailable):
                return
            names[ref] = person.client.name

    try:
        async with asyncio.TaskGroup() as group:
            for ref in refs:
                group.create_task(name(ref))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return names
