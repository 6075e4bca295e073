"""The coordinators' inbox: unmatched, other and crisis messages, and resolving them.

Bodies are clients' own words, kept sealed in the database: opened for coordinators here,
never logged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.auth import Principal, Role, require
from api.context import ApiContext, get_context
from api.problems import ProblemError, not_found, responses
from api.schemas import AcknowledgementBody, QueryBool, ResolutionBody, query_int
from models.follow_up import FollowUpView
from models.records import InboxItem
from readmodel.inbox import inbox_item, list_inbox, message_exists
from services import inbound_messages
from services.inbound_messages import NotACrisisAlert, acknowledge_crisis

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])

MessageId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="an inbox message's id")]
Context = Annotated[ApiContext, Depends(get_context)]
Coordinator = Annotated[Principal, require(Role.COORDINATOR)]


@router.get(
    "",
    response_model=list[InboxItem],
    summary="Messages waiting for a coordinator, crisis first (coordinators)",
    responses=responses(401, 403, 422),
)
async def inbox(
    context: Context,
    caller: Coordinator,
    include_resolved: Annotated[
        QueryBool, Query(description="also those already dealt with, after the open ones")
    ] = False,
    limit: Annotated[query_int(1, 500), Query()] = 200,  # type: ignore[valid-type]
) -> list[InboxItem]:
    """Unmatched senders, messages a referral could not act on, and crisis messages:
    crisis first, then oldest first."""
    return await list_inbox(
        context.session_factory, context.keyring, include_resolved=include_resolved, limit=limit
    )


@router.post(
    "/{message_id}/resolution",
    response_model=InboxItem,
    summary="Resolve an inbox message with a note (coordinators)",
    responses=responses(401, 403, 404, 422),
)
async def resolve(
    message_id: MessageId, body: ResolutionBody, context: Context, caller: Coordinator
) -> InboxItem:
    """Take the message out of the inbox with what was done. Resolving twice keeps the first
    resolution. Resolving a crisis message acknowledges its alert too."""
    if not await inbound_messages.resolve(
        context.client,
        context.session_factory,
        context.keyring,
        message_id,
        body.note,
        caller.staff_id,
    ):
        raise not_found("message")
    item = await inbox_item(context.session_factory, context.keyring, message_id)
    if item is None:  # resolved a moment ago, so stored: only a broken database gets here
        raise not_found("message")
    return item


@router.post(
    "/{message_id}/acknowledgement",
    response_model=FollowUpView,
    summary="Acknowledge a crisis alert: stops its escalation (coordinators)",
    responses=responses(401, 403, 404, 409, 422),
)
async def acknowledge(
    message_id: MessageId, body: AcknowledgementBody, context: Context, caller: Coordinator
) -> FollowUpView:
    """Say that a coordinator has read a possible crisis message and is acting on it. Until
    then its alert is sent again, and escalated to the duty lead, at the policy's interval."""
    if not await message_exists(context.session_factory, message_id):
        raise not_found("message")
    try:
        return await acknowledge_crisis(context.client, message_id, caller.staff_id)
    except NotACrisisAlert as exc:
        raise ProblemError(409, "not_acknowledgeable", str(exc)) from None
