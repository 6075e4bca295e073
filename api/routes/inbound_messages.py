"""The webhook SMS and email gateways call with clients' messages.

Two shapes on one endpoint:

- GOV.UK Notify's inbound-SMS callback (``id``, ``source_number``, ``destination_number``,
  ``message``, ``date_received``), authenticated by ``Authorization: Bearer <gateway key>``;
- a generic email (``from``, ``to``, ``subject``, ``body``, ``message_id``), authenticated by
  ``X-Harbour-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body under
  ``HARBOUR_API_INBOUND_EMAIL_SECRET`` (a gateway key works for it too).

Authentication comes first: a gateway key before the body is read at all
(``api.auth.AuthenticateFirst``), a signature over a body read no further than 256 KB. An
unauthenticated call changes nothing (401). The message is then stored before anything else
(``services.inbound_messages``) and matched to a referral only by the sender's registered
contact. A redelivery (the same gateway id) is answered as a duplicate and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, SecretStr, ValidationError

from api.auth import UNAUTHENTICATED, Principal, Role, optional_principal
from api.context import ApiContext, get_context
from api.problems import FieldError, ProblemError, field_errors, responses
from api.schemas import (
    InboundAccepted,
    InboundEmail,
    NotifyDeliveryReceipt,
    NotifyInboundSms,
    ReceiptRecorded,
)
from models.messages import Channel
from services import delivery_receipts, inbound_messages

router = APIRouter(prefix="/v1/messages", tags=["inbound messages"])
log = structlog.get_logger("harbour.api")

M = TypeVar("M", bound=BaseModel)

SIGNATURE_HEADER = "X-Harbour-Signature"
MAX_BODY_BYTES = 256 * 1024
# A gateway's own receipt time is used unless it is implausible (clock trouble, a bad payload).
_FUTURE_SLACK = timedelta(minutes=5)
_PAST_LIMIT = timedelta(days=30)

signature = APIKeyHeader(
    name=SIGNATURE_HEADER,
    auto_error=False,
    scheme_name="emailSignature",
    description="sha256=<hex HMAC-SHA256 of the raw request body under the shared secret>",
)

# The request body as OpenAPI shows it: either shape (parsed by hand, after authentication).
REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/NotifyInboundSms"},
                    {"$ref": "#/components/schemas/InboundEmail"},
                ]
            }
        }
    },
}
SCHEMAS: list[type[BaseModel]] = [NotifyInboundSms, InboundEmail, NotifyDeliveryReceipt]


@router.post(
    "/inbound",
    status_code=202,
    response_model=InboundAccepted,
    summary="A client's SMS or email, from the gateway",
    openapi_extra={"requestBody": REQUEST_BODY},
    responses=responses(401, 403, 413, 422, 429, 503),
)
async def inbound(
    request: Request,
    context: Annotated[ApiContext, Depends(get_context)],
    caller: Annotated[Principal | None, Depends(optional_principal)],
    signed: Annotated[str | None, Depends(signature)],
) -> InboundAccepted:
    """Store a client's message and hand it to their referral (if it comes from a registered
    contact); otherwise it waits in the coordinators' inbox. The answer says only that it was
    stored, and whether it had been already (the same gateway id)."""
    if caller is not None:
        # A gateway key (checked before the body was read, api.auth.AuthenticateFirst).
        if caller.role != Role.GATEWAY:
            raise ProblemError(403, "forbidden", "this needs an API key of role: gateway")
        await context.inbound_limiter.check(caller.key_id)
        raw = await _read_body(request)
    else:
        # The signature covers the body: read it (no more than the cap), then check. With
        # no secret configured the signed shape is off, and nothing is read.
        secret = context.api_settings.inbound_email_secret
        if signed is None or secret is None:
            raise UNAUTHENTICATED
        raw = await _read_body(request)
        if not _signature_ok(secret, raw, signed):
            raise UNAUTHENTICATED
        await context.inbound_limiter.check("signed-email")

    message = _parse(raw)
    if isinstance(message, NotifyInboundSms):
        stored = await inbound_messages.receive(
            context.client,
            context.session_factory,
            context.pseudonym_key,
            context.keyring,
            channel=Channel.SMS,
            sender=_notify_sender(message.source_number),
            body=message.message,
            received_at=_plausible(message.date_received),
            gateway_id=message.id,
            policy=context.settings.effective_policy(),
            task_queue=context.settings.task_queue,
        )
    else:
        stored = await inbound_messages.receive(
            context.client,
            context.session_factory,
            context.pseudonym_key,
            context.keyring,
            channel=Channel.EMAIL,
            sender=parseaddr(message.sender)[1] or message.sender,
            # A reply typed in the subject line alone still counts.
            body=message.body if message.body.strip() else message.subject,
            gateway_id=message.message_id,
            policy=context.settings.effective_policy(),
            task_queue=context.settings.task_queue,
        )
    return InboundAccepted(id=stored.id, duplicate=stored.duplicate)


@router.post(
    "/delivery-receipts",
    status_code=202,
    response_model=ReceiptRecorded,
    summary="What became of a text, from GOV.UK Notify",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/NotifyDeliveryReceipt"}
                }
            },
        }
    },
    responses=responses(401, 403, 413, 422, 429, 503),
)
async def delivery_receipt(
    request: Request,
    context: Annotated[ApiContext, Depends(get_context)],
    caller: Annotated[Principal | None, Depends(optional_principal)],
) -> ReceiptRecorded:
    """Record a delivery receipt on the text's outbox row (Notify's callback, bearer token =
    a gateway key). A receipt posted again changes nothing; a permanent failure marks the
    number unreachable, sends the letter by the client's next channel and alerts
    coordinators."""
    if caller is None:
        raise UNAUTHENTICATED
    if caller.role != Role.GATEWAY:
        raise ProblemError(403, "forbidden", "this needs an API key of role: gateway")
    await context.inbound_limiter.check(caller.key_id)
    raw = await _read_body(request)
    receipt = _parse_as(NotifyDeliveryReceipt, raw)
    outcome = await delivery_receipts.record_receipt(
        context.client,
        context.session_factory,
        notification_id=receipt.id,
        reference=receipt.reference,
        status=receipt.status,
        completed_at=receipt.completed_at,
        task_queue=context.settings.task_queue,
    )
    return ReceiptRecorded(outcome=outcome)  # type: ignore[arg-type]


async def _read_body(request: Request) -> bytes:
    """The raw body, read no further than ``MAX_BODY_BYTES`` (413 beyond)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ProblemError(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _signature_ok(secret: SecretStr | None, raw: bytes, presented: str) -> bool:
    """The presented ``sha256=<hex>`` is the HMAC-SHA256 of the raw body (constant time)."""
    if secret is None:
        return False  # no secret configured: the signed shape is switched off
    digest = hmac.new(secret.get_secret_value().encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={digest}".encode(), presented.strip().encode())


def sign(secret: str, raw: bytes) -> str:
    """The ``X-Harbour-Signature`` value for ``raw`` (for gateways, tests and the docs)."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def _parse(raw: bytes) -> NotifyInboundSms | InboundEmail:
    """One of the two shapes: Notify's has ``source_number``, the email's ``from``."""
    data = _json_object(raw)
    model: type[NotifyInboundSms | InboundEmail] = (
        NotifyInboundSms if "source_number" in data or "from" not in data else InboundEmail
    )
    return _validate(model, data)


def _parse_as(model: type[M], raw: bytes) -> M:
    """The body as one model, or a 422 naming the fields."""
    return _validate(model, _json_object(raw))


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _invalid(
            [FieldError(loc=["body"], msg="JSON decode error", type="json_invalid")]
        ) from None
    if not isinstance(data, dict):
        raise _invalid([FieldError(loc=["body"], msg="expected an object", type="model_type")])
    return data


def _validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors = field_errors(error.errors())
        for item in errors:
            item.loc = ["body", *item.loc]
        raise _invalid(errors) from None


def _invalid(errors: list[FieldError]) -> ProblemError:
    return ProblemError(422, "validation", "the request is not valid: see errors", errors=errors)


def _notify_sender(number: str) -> str:
    """Notify gives international numbers without the plus (447700900123): add it back so the
    number matches the one registered on the referral (+447700900123)."""
    compact = number.replace(" ", "")
    if compact.isdigit() and not compact.startswith("0"):
        return "+" + compact
    return compact


def _plausible(received: datetime) -> datetime:
    now = datetime.now(UTC)
    at = received if received.tzinfo else received.replace(tzinfo=UTC)
    if at > now + _FUTURE_SLACK or at < now - _PAST_LIMIT:
        return now
    return at
