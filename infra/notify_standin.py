"""A local stand-in for GOV.UK Notify's HTTP API, so the real ``notifications-python-client`` works.

Notify cannot be reached from a developer's machine or CI, so ``make run`` and the tests point
``NotificationsAPIClient(api_key, base_url=...)`` here instead. This is the project's one allowed
fake, and it is written to Notify's source (``alphagov/notifications-api``), not to Harbour:

* JWT bearer auth exactly as Notify checks it: HS256 signed with the key's secret, ``iss`` = the
  key's service id, ``iat`` within 30 seconds; refusals are Notify's 401/403 ``AuthError`` bodies.
* ``POST /v2/notifications/sms`` with Notify's validation and error shapes (``ValidationError``,
  ``BadRequestError``), ``GET /v2/notifications/{id}``, ``GET /v2/notifications`` (the client's
  ``get_all_notifications``: reference/status filters, ``older_than`` paging) and
  ``GET /v2/received-text-messages`` (newest first, ``older_than`` paging, 7 days back).
* One text template, content ``((body))``. Texts move created → sending → an outcome
  (``delivered`` unless a number is told otherwise), then Notify's delivery-status callback is
  POSTed with ``Authorization: Bearer <token>`` and retried like Notify (5 retries on a
  connection error, a 5xx or a 429; never on another 4xx).
* Every text sent or received is one readable JSON file, ``<folder>/<UTC stamp>-<id>.json`` and
  ``<folder>/received/<UTC stamp>-<id>.json`` (mode 0600: phone numbers and messages are personal
  data), written then renamed like the SMTP sink's mailbox, and read back on start.

Behaviour controls live under ``/_standin/`` (a prefix Notify does not use), need no token and
answer loopback clients only: per-number outcomes, the next N sends answering 429 or 500,
pausing callbacks, "texting" the service from a phone (``POST /_standin/inbound``) and listing
stored texts. :class:`NotifyStandinServer` wraps them as methods.

Run on its own with ``python -m infra.notify_standin`` (``HARBOUR_NOTIFY_*`` variables, see
:func:`server_from_env`); tests and the dev stack use :func:`start_standin`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import math
import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from infra.logging import get_logger
from infra.private_files import private_dir

# Logs carry notification ids and status codes only, never a number or a message.
log = get_logger("harbour.notify_standin")

# Fixed credentials for the local dev stack: syntactically real Notify values, secret nowhere.
DEV_SERVICE_ID = "0ef6d5fc-9459-45b2-8ca4-03741589b980"
DEV_API_KEY_SECRET = "ab5fbe39-f4d8-4325-aadf-d92297ec0c1f"
DEV_API_KEY = f"harbour_local-{DEV_SERVICE_ID}-{DEV_API_KEY_SECRET}"
DEV_SMS_TEMPLATE_ID = "e63ee918-15dc-4e0e-854f-4a656613b78f"
DEV_CALLBACK_TOKEN = "harbour-local-notify-callback-token"  # Notify wants >= 10 characters

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8026
DEFAULT_INBOUND_NUMBER = "07700900000"  # an Ofcom drama number: never a real phone

# Notify's own constants (notifications-api / notifications-utils).
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
TOKEN_BOUND_SECONDS = 30
API_PAGE_SIZE = 250
RETENTION = timedelta(days=7)
SMS_CHAR_COUNT_LIMIT = 918
REFERENCE_MAX_LENGTH = 1000
CALLBACK_MAX_RETRIES = 5
CALLBACK_TIMEOUT_SECONDS = 5.0
TEMPLATE_VERSION = 1
# Illustrative price per fragment for ``cost_in_pounds``; Notify's real rate changes each April.
SMS_RATE_POUNDS = 0.0227

OUTCOMES = ("delivered", "permanent-failure", "temporary-failure", "technical-failure")
STATUSES = ("created", "sending", *OUTCOMES)
# Notify's list filter also accepts these (letters, email, the deprecated "failed").
_FILTER_STATUSES = (
    "cancelled",
    "created",
    "sending",
    "sent",
    "delivered",
    "pending",
    "failed",
    "technical-failure",
    "temporary-failure",
    "permanent-failure",
    "pending-virus-check",
    "validation-failed",
    "virus-scan-failed",
    "returned-letter",
    "accepted",
    "received",
)
_TEMPLATE_TYPES = ("sms", "email", "letter")

GENERAL_TOKEN_ERROR_MESSAGE = (
    "Invalid token: make sure your API token matches the example at "
    "https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
)
CLOCK_ERROR_MESSAGE = "Error: Your system clock must be accurate to within 30 seconds"

# GSM 03.38: texts in this alphabet fit 160 characters a fragment, others 70 (UCS-2).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€")


class NotifyError(Exception):
    """An error answered in Notify's v2 shape: ``{"errors": [...], "status_code": n}``."""

    def __init__(self, status_code: int, error: str, *messages: str) -> None:
        super().__init__(f"{status_code} {error}: {'; '.join(messages)}")
        self.status_code = status_code
        self.error = error
        self.messages = messages

    def response(self) -> JSONResponse:
        """The JSON response Notify would give."""
        errors = [{"error": self.error, "message": message} for message in self.messages]
        return JSONResponse(
            {"errors": errors, "status_code": self.status_code}, status_code=self.status_code
        )


class InvalidPhoneError(ValueError):
    """A phone number Notify would refuse; the message is Notify's (v2 API wording)."""


@dataclass(frozen=True)
class PhoneNumber:
    """A parsed recipient: ``normalised`` is digits with country code (``447700900123``)."""

    normalised: str
    uk: bool


def parse_phone_number(raw: str) -> PhoneNumber:
    """Parse a number the way Notify's v2 API does for UK services (``07700 900123``,
    ``+44 7700 900123``, ``(0044) 7700-900123`` are all ``447700900123``).

    UK numbers must be mobiles (start with 7 after the country code, 10 digits); a number that is
    not UK is returned with ``uk=False`` (Notify then refuses it unless the service may text
    abroad). Raises :class:`InvalidPhoneError` with Notify's message.
    """
    stripped = re.sub(r"[\s()+\-]", "", raw)
    if not re.fullmatch(r"[0-9]*", stripped):
        raise InvalidPhoneError("Must not contain letters or symbols")
    digits = stripped.lstrip("0")
    trimmed = raw.strip()
    uk = (trimmed.startswith("0") and not trimmed.startswith("00")) or (
        digits.startswith("44") or (digits.startswith("7") and len(digits) < 11)
    )
    if not uk:
        if len(digits) < 8:
            raise InvalidPhoneError("Not enough digits")
        if len(digits) > 15:
            raise InvalidPhoneError("Too many digits")
        return PhoneNumber(normalised=digits, uk=False)
    national = digits[2:].lstrip("0") if digits.startswith("44") else digits
    if not national.startswith("7"):
        raise InvalidPhoneError("Not a UK mobile number")
    if len(national) > 10:
        raise InvalidPhoneError("Too many digits")
    if len(national) < 10:
        raise InvalidPhoneError("Not enough digits")
    return PhoneNumber(normalised=f"44{national}", uk=True)


def sms_fragment_count(body: str) -> int:
    """How many SMS fragments ``body`` costs (GSM 160/153 a fragment, else 70/67)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in body):
        length = _sms_length(body)
        return 1 if length <= 160 else math.ceil(length / 153)
    return 1 if len(body) <= 70 else math.ceil(len(body) / 67)


def _sms_length(body: str) -> int:
    # GSM extension characters take two septets each.
    return len(body) + sum(1 for c in body if c in _GSM_EXTENDED)


def split_api_key(api_key: str) -> tuple[str, str]:
    """``(service_id, secret)`` from ``{key_name}-{service_id}-{secret}``, as the client splits it.

    Raises ``ValueError`` if the key is not in Notify's format.
    """
    service_id, secret = api_key[-73:-37], api_key[-36:]
    try:
        uuid.UUID(service_id)
        uuid.UUID(secret)
    except ValueError:
        raise ValueError(
            "not a Notify API key: expected {name}-{service uuid}-{secret uuid}"
        ) from None
    if len(api_key) < 75 or api_key[-74] != "-" or api_key[-37] != "-":
        raise ValueError("not a Notify API key: expected {name}-{service uuid}-{secret uuid}")
    return service_id, secret


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    """Notify's timestamp format (UTC, microseconds, ``Z``)."""
    return moment.astimezone(UTC).strftime(DATETIME_FORMAT)


def _parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=UTC)


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _quoted(value: Any) -> str:
    # Notify builds messages from jsonschema's, which quote with repr() and then drop the quotes.
    return repr(value).replace("'", "")


def _personalisation_key(key: str) -> str:
    # Notify matches placeholders case- and space/underscore/hyphen-insensitively.
    return re.sub(r"[\s_\-]", "", key).lower()


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (temp file then rename), mode 0600."""
    partial = path.with_name(f".{path.name}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # a leftover .part may have had looser permissions
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(partial, path)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@dataclass
class _Callback:
    kind: str  # "delivery-status" or "inbound-sms", for logs
    ref: str  # the notification / received text id, for logs
    url: str
    token: str
    payload: dict[str, Any]


Handler = Callable[[Request], Awaitable[Response]]


class NotifyStandin:
    """The stand-in as an ASGI app: Notify's v2 API plus ``/_standin/`` controls.

    ``api_key`` is the one key it accepts (``{name}-{service id}-{secret}``); ``sms_template_id``
    its one text template (content ``((body))``); ``folder`` where texts are kept. Delivery
    receipts go to ``delivery_callback_url`` and received texts to ``inbound_callback_url``, each
    with ``Authorization: Bearer <its token>``; ``inbound_number`` is the service's number
    (``destination_number`` of received texts; the sender of outgoing ones unless ``sms_sender``
    says otherwise). ``sms_senders`` maps accepted ``sms_sender_id`` values to sender names.
    ``delivery_delay_seconds`` is how long a text stays ``sending``; a failed callback is retried
    ``callback_retries`` times, ``callback_retry_seconds`` apart (Notify: 5 times, 5 minutes).

    State lives on the serving event loop: run one server per instance.
    """

    def __init__(
        self,
        *,
        api_key: str,
        sms_template_id: str,
        folder: Path | str,
        delivery_callback_url: str | None = None,
        delivery_callback_token: str | None = None,
        inbound_callback_url: str | None = None,
        inbound_callback_token: str | None = None,
        inbound_number: str = DEFAULT_INBOUND_NUMBER,
        sms_sender: str | None = None,
        sms_senders: Mapping[str, str] | None = None,
        default_outcome: str = "delivered",
        delivery_delay_seconds: float = 0.5,
        callback_retries: int = CALLBACK_MAX_RETRIES,
        callback_retry_seconds: float = 5.0,
        callback_timeout_seconds: float = CALLBACK_TIMEOUT_SECONDS,
        page_size: int = API_PAGE_SIZE,
    ) -> None:
        self.service_id, self._secret = split_api_key(api_key)
        if not _is_uuid(sms_template_id):
            raise ValueError("sms_template_id must be a UUID")
        if default_outcome not in OUTCOMES:
            raise ValueError(f"default_outcome must be one of {', '.join(OUTCOMES)}")
        for url, token, what in (
            (delivery_callback_url, delivery_callback_token, "delivery"),
            (inbound_callback_url, inbound_callback_token, "inbound"),
        ):
            # Notify will not store a callback without a bearer token of 10+ characters.
            if url and (not token or len(token) < 10):
                raise ValueError(f"the {what} callback needs a bearer token of 10+ characters")
        if page_size < 1 or callback_retries < 0 or delivery_delay_seconds < 0:
            raise ValueError("page_size must be >= 1, retries and delays >= 0")
        self.sms_template_id = str(uuid.UUID(sms_template_id))
        self.folder = Path(folder)
        self.received_folder = self.folder / "received"
        self.delivery_callback_url = delivery_callback_url or None
        self.delivery_callback_token = delivery_callback_token
        self.inbound_callback_url = inbound_callback_url or None
        self.inbound_callback_token = inbound_callback_token
        self.inbound_number = inbound_number
        self.sms_sender = sms_sender or inbound_number
        self.sms_senders = {str(uuid.UUID(k)): v for k, v in (sms_senders or {}).items()}
        self.default_outcome = default_outcome
        self.delivery_delay_seconds = delivery_delay_seconds
        self.callback_retries = callback_retries
        self.callback_retry_seconds = callback_retry_seconds
        self.callback_timeout_seconds = callback_timeout_seconds
        self.page_size = page_size

        # Texts (outgoing and received) in creation order, with where each one is stored.
        self._sent: dict[str, dict[str, Any]] = {}
        self._received: dict[str, dict[str, Any]] = {}
        self._paths: dict[str, Path] = {}
        self._planned: dict[str, str] = {}  # notification id -> outcome fixed when it was sent
        # Controls.
        self._outcomes: dict[str, str] = {}  # normalised number -> outcome
        self._forced: deque[int] = deque()  # status codes the next sends answer with
        self._paused = False
        self._held: list[_Callback] = []
        self._callbacks_sent = 0
        self._callbacks_failed = 0
        # Serving-loop resources (set up in the lifespan).
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http: httpx.AsyncClient | None = None

        private_dir(self.folder)
        private_dir(self.received_folder)
        self._load()

        notify = self._notify_endpoint
        control = self._control_endpoint
        self.app = Starlette(
            routes=[
                Route("/v2/notifications/sms", notify(self._post_sms), methods=["POST"]),
                Route("/v2/notifications", notify(self._list_notifications), methods=["GET"]),
                Route(
                    "/v2/notifications/{notification_id}",
                    notify(self._get_notification),
                    methods=["GET"],
                ),
                Route("/v2/received-text-messages", notify(self._received_texts), methods=["GET"]),
                Route("/_standin/health", control(self._health), methods=["GET"]),
                Route("/_standin/sms", control(self._control_sms), methods=["GET"]),
                Route("/_standin/received", control(self._control_received), methods=["GET"]),
                Route(
                    "/_standin/outcomes",
                    control(self._control_outcomes),
                    methods=["GET", "POST", "DELETE"],
                ),
                Route("/_standin/fail-next", control(self._control_fail_next), methods=["POST"]),
                Route("/_standin/callbacks", control(self._control_callbacks), methods=["GET"]),
                Route("/_standin/callbacks/pause", control(self._control_pause), methods=["POST"]),
                Route(
                    "/_standin/callbacks/resume", control(self._control_resume), methods=["POST"]
                ),
                Route("/_standin/inbound", control(self._control_inbound), methods=["POST"]),
                Route("/_standin/reset", control(self._control_reset), methods=["POST"]),
            ],
            lifespan=self._lifespan,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        await self.app(scope, receive, send)

    # ----------------------------------------------------------------- storage

    def _load(self) -> None:
        """Read back texts stored by an earlier run, so ids and received texts survive restarts."""
        for folder, target in ((self.folder, self._sent), (self.received_folder, self._received)):
            records: list[tuple[str, str, Path, dict[str, Any]]] = []
            for path in folder.glob("*.json"):
                try:
                    record = json.loads(path.read_text(encoding="utf-8"))
                    records.append((record["created_at"], path.name, path, record))
                except (OSError, ValueError, KeyError, TypeError):
                    log.warning("notify_standin.unreadable_file", file=path.name)
            for _, _, path, record in sorted(records, key=lambda r: (r[0], r[1])):
                target[record["id"]] = record
                self._paths[record["id"]] = path

    def _store(self, record: dict[str, Any], folder: Path) -> None:
        """Write a new text to ``folder`` as ``<UTC stamp>-<id>.json``."""
        created = _parse_stamp(record["created_at"])
        path = folder / f"{created.strftime('%Y%m%dT%H%M%S%fZ')}-{record['id']}.json"
        _write_json(path, record)
        self._paths[record["id"]] = path

    def _update(self, notification_id: str, **changes: Any) -> dict[str, Any]:
        # Synchronous on the loop on purpose: updates to one file then never overtake each other.
        record = self._sent[notification_id]
        record.update(changes)
        _write_json(self._paths[notification_id], record)
        return record

    # ----------------------------------------------------------------- lifecycle

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # Redirects followed, as Notify's requests session does; no proxy from the environment
        # (one would swallow callbacks to a local Harbour).
        self._http = httpx.AsyncClient(
            timeout=self.callback_timeout_seconds, follow_redirects=True, trust_env=False
        )
        # Texts a previous run left in flight finish now rather than stay "sending" forever.
        for notification_id, record in self._sent.items():
            if record["status"] in ("created", "sending"):
                self._spawn(self._deliver(notification_id))
        try:
            yield
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._http.aclose()
            self._http = None

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)  # a reference, or the loop may drop the task half-way
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, notification_id: str) -> None:
        """created → sending → the planned outcome, then the delivery-status callback."""
        record = self._sent[notification_id]
        if record["status"] == "created":
            self._update(notification_id, status="sending", sent_at=_stamp(_now()))
        await asyncio.sleep(self.delivery_delay_seconds)
        outcome = self._planned.pop(notification_id, None) or self._outcome_for(
            record["normalised_to"]
        )
        record = self._update(notification_id, status=outcome, updated_at=_stamp(_now()))
        log.info("notify_standin.delivered", notification_id=notification_id, status=outcome)
        if self.delivery_callback_url and self.delivery_callback_token:
            self._queue_callback(
                _Callback(
                    kind="delivery-status",
                    ref=notification_id,
                    url=self.delivery_callback_url,
                    token=self.delivery_callback_token,
                    payload={
                        "id": notification_id,
                        "reference": record["reference"],
                        "to": record["phone_number"],
                        "status": record["status"],
                        "created_at": record["created_at"],
                        "completed_at": record["updated_at"],
                        "sent_at": record["sent_at"],
                        "notification_type": "sms",
                        "template_id": record["template_id"],
                        "template_version": record["template_version"],
                    },
                )
            )

    def _outcome_for(self, normalised: str) -> str:
        return self._outcomes.get(normalised, self.default_outcome)

    def _queue_callback(self, callback: _Callback) -> None:
        if self._paused:
            self._held.append(callback)
        else:
            self._spawn(self._send_callback(callback))

    async def _send_callback(self, callback: _Callback) -> None:
        """POST one callback like Notify: retry on a connection error, 5xx or 429 only."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {callback.token}"}
        body = json.dumps(callback.payload)
        for attempt in range(self.callback_retries + 1):
            if self._http is None:  # shutting down
                return
            try:
                response = await self._http.post(callback.url, content=body, headers=headers)
            except httpx.HTTPError as err:
                retry, outcome = True, type(err).__name__
            else:
                if response.status_code < 400:  # requests' raise_for_status, as Notify uses
                    self._callbacks_sent += 1
                    return
                code = response.status_code
                retry, outcome = code >= 500 or code == 429, str(code)
            log.warning(
                "notify_standin.callback_failed",
                kind=callback.kind,
                id=callback.ref,
                attempt=attempt + 1,
                outcome=outcome,
            )
            if not retry or attempt == self.callback_retries:
                break
            await asyncio.sleep(self.callback_retry_seconds)
        self._callbacks_failed += 1

    # ----------------------------------------------------------------- endpoint wrappers

    def _notify_endpoint(self, handler: Handler) -> Handler:
        """Authenticate like Notify and turn errors into Notify's error bodies."""

        async def endpoint(request: Request) -> Response:
            try:
                self._authenticate(request)
                return await handler(request)
            except NotifyError as err:
                return err.response()
            except Exception:
                log.exception("notify_standin.internal_error", path=request.url.path)
                return NotifyError(500, "Exception", "Internal server error").response()

        return endpoint

    def _control_endpoint(self, handler: Handler) -> Handler:
        """Controls answer loopback clients only: they need no token."""

        async def endpoint(request: Request) -> Response:
            if not _is_loopback(request.client.host if request.client else None):
                return JSONResponse({"error": "controls answer loopback clients only"}, 403)
            try:
                return await handler(request)
            except _ControlError as err:
                return JSONResponse({"error": str(err)}, 400)

        return endpoint

    def _authenticate(self, request: Request) -> None:
        """Check the bearer JWT as Notify's ``requires_auth`` does; raise its AuthError."""
        header = request.headers.get("Authorization")
        if not header:
            raise NotifyError(
                401, "AuthError", "Unauthorized: authentication token must be provided"
            )
        if header[:7].title() != "Bearer ":
            raise NotifyError(
                401, "AuthError", "Unauthorized: authentication bearer scheme must be used"
            )
        token = header[7:]
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise NotifyError(403, "AuthError", GENERAL_TOKEN_ERROR_MESSAGE) from None
        if "iss" not in unverified:
            raise NotifyError(403, "AuthError", "Invalid token: iss field not provided")
        try:
            issuer = uuid.UUID(str(unverified["iss"]))
        except ValueError:
            raise NotifyError(
                403, "AuthError", "Invalid token: service id is not the right data type"
            ) from None
        if issuer != uuid.UUID(self.service_id):
            raise NotifyError(403, "AuthError", "Invalid token: service not found")
        try:
            decoded = jwt.decode(
                token,
                key=self._secret,
                algorithms=["HS256"],
                leeway=TOKEN_BOUND_SECONDS,
                options={"verify_signature": True},
            )
        except (jwt.InvalidIssuedAtError, jwt.ImmatureSignatureError):
            raise NotifyError(403, "AuthError", CLOCK_ERROR_MESSAGE) from None
        except jwt.InvalidAlgorithmError:
            raise NotifyError(
                403, "AuthError", "Invalid token: algorithm used is not HS256"
            ) from None
        except jwt.DecodeError:
            # Signed with another secret: Notify tries each of the service's keys, finds none.
            raise NotifyError(403, "AuthError", "Invalid token: API key not found") from None
        except jwt.PyJWTError:
            raise NotifyError(403, "AuthError", GENERAL_TOKEN_ERROR_MESSAGE) from None
        if "iat" not in decoded:
            raise NotifyError(403, "AuthError", "Invalid token: API key not found")
        try:
            issued_at = int(decoded["iat"])
        except (TypeError, ValueError):
            raise NotifyError(403, "AuthError", GENERAL_TOKEN_ERROR_MESSAGE) from None
        now = int(_now().timestamp())
        if now > issued_at + TOKEN_BOUND_SECONDS or issued_at > now + TOKEN_BOUND_SECONDS:
            raise NotifyError(403, "AuthError", CLOCK_ERROR_MESSAGE)

    # ----------------------------------------------------------------- Notify's v2 API

    async def _post_sms(self, request: Request) -> Response:
        if self._forced:
            self._raise_forced(self._forced.popleft())
        try:
            raw = await request.body()
            data = json.loads(raw) if raw else None
        except ValueError:
            raise NotifyError(
                400, "BadRequestError", "Invalid JSON supplied in POST data"
            ) from None
        form, phone = self._validate_sms_request({} if data is None else data)

        if uuid.UUID(form["template_id"]) != uuid.UUID(self.sms_template_id):
            raise NotifyError(400, "BadRequestError", "Template not found")
        values = {
            _personalisation_key(str(k)): v for k, v in (form.get("personalisation") or {}).items()
        }
        if "body" not in values:
            raise NotifyError(400, "BadRequestError", "Missing personalisation: body")
        body = "" if values["body"] is None else str(values["body"]).strip()
        if not body:
            raise NotifyError(400, "BadRequestError", "Your message is empty.")
        if _sms_length(body) > SMS_CHAR_COUNT_LIMIT:
            raise NotifyError(
                400,
                "BadRequestError",
                "Your message is too long. Text messages cannot be longer than "
                f"{SMS_CHAR_COUNT_LIMIT} characters. Your message is {_sms_length(body)} "
                "characters long.",
            )
        sender = self.sms_sender
        if form.get("sms_sender_id"):
            sender_id = str(uuid.UUID(form["sms_sender_id"]))
            if sender_id not in self.sms_senders:
                raise NotifyError(
                    400,
                    "BadRequestError",
                    f"sms_sender_id {form['sms_sender_id']} does not exist in database for "
                    f"service id {self.service_id}",
                )
            sender = self.sms_senders[sender_id]
        if not phone.uk:
            # A UK service without the international permission, which Harbour's is.
            raise NotifyError(400, "BadRequestError", "Cannot send to international mobile numbers")

        notification_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "direction": "outbound",
            "id": notification_id,
            "reference": form.get("reference"),
            "phone_number": form["phone_number"],
            "normalised_to": phone.normalised,
            "template_id": self.sms_template_id,
            "template_version": TEMPLATE_VERSION,
            "personalisation": form.get("personalisation") or {},
            "body": body,
            "from_number": sender,
            "billable_units": sms_fragment_count(body),
            "status": "created",
            "created_at": _stamp(_now()),
            "sent_at": None,
            "updated_at": None,
        }
        self._store(record, self.folder)
        self._sent[notification_id] = record
        self._planned[notification_id] = self._outcome_for(phone.normalised)
        self._spawn(self._deliver(notification_id))
        log.info("notify_standin.accepted", notification_id=notification_id)

        root = str(request.base_url)
        return JSONResponse(
            {
                "id": notification_id,
                "reference": record["reference"],
                "content": {"body": body, "from_number": sender},
                "uri": f"{root}v2/notifications/{notification_id}",
                "template": {
                    "id": self.sms_template_id,
                    "version": TEMPLATE_VERSION,
                    "uri": f"{root}services/{self.service_id}/templates/{self.sms_template_id}",
                },
                "scheduled_for": None,
            },
            status_code=201,
        )

    def _raise_forced(self, status_code: int) -> None:
        if status_code == 429:
            raise NotifyError(
                429,
                "RateLimitError",
                "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
            )
        raise NotifyError(status_code, "Exception", "Internal server error")

    def _validate_sms_request(self, data: Any) -> tuple[dict[str, Any], PhoneNumber]:
        """Notify's ``post_sms_request`` JSON schema, with its messages, in its order."""
        if not isinstance(data, dict):
            raise NotifyError(400, "ValidationError", f"{_quoted(data)} is not of type object")
        errors: list[str] = []
        phone: PhoneNumber | None = None

        reference = data.get("reference")
        if "reference" in data:
            if not isinstance(reference, str):
                errors.append(f"reference {_quoted(reference)} is not of type string")
            elif len(reference) > REFERENCE_MAX_LENGTH:
                errors.append(f"reference {_quoted(reference)} is too long")
        if "phone_number" in data:
            number = data["phone_number"]
            if not isinstance(number, str):
                errors.append(f"phone_number {_quoted(number)} is not of type string")
            else:
                try:
                    phone = parse_phone_number(number)
                except InvalidPhoneError as err:
                    errors.append(f"phone_number {err}")
        if "template_id" in data and not _is_uuid(data["template_id"]):
            errors.append("template_id is not a valid UUID")
        if "personalisation" in data and not isinstance(data["personalisation"], dict):
            errors.append(
                f"personalisation {_quoted(data['personalisation'])} is not of type object"
            )
        if data.get("scheduled_for") is not None:
            # Scheduling is an invite-only Notify feature Harbour does not have.
            errors.append("scheduled_for is not supported by this service")
        if "sms_sender_id" in data and not _is_uuid(data["sms_sender_id"]):
            errors.append("sms_sender_id is not a valid UUID")
        for required in ("phone_number", "template_id"):
            if required not in data:
                errors.append(f"{required} is a required property")
        allowed = {
            "reference",
            "phone_number",
            "template_id",
            "personalisation",
            "scheduled_for",
            "sms_sender_id",
        }
        extra = [key for key in data if key not in allowed]
        if extra:
            verb = "was" if len(extra) == 1 else "were"
            names = ", ".join(_quoted(key) for key in extra)
            errors.append(f"Additional properties are not allowed ({names} {verb} unexpected)")
        if errors:
            raise NotifyError(400, "ValidationError", *dict.fromkeys(errors))
        assert phone is not None
        return data, phone

    async def _get_notification(self, request: Request) -> Response:
        notification_id = request.path_params["notification_id"]
        if not _is_uuid(notification_id):
            raise NotifyError(400, "ValidationError", "notification_id is not a valid UUID")
        record = self._sent.get(str(uuid.UUID(notification_id)))
        if record is None or not self._retained(record):
            raise NotifyError(404, "NoResultFound", "No result found")
        return JSONResponse(self._serialise_notification(record, str(request.base_url)))

    async def _list_notifications(self, request: Request) -> Response:
        query = request.query_params
        errors: list[str] = []
        statuses = query.getlist("status")
        types = query.getlist("template_type")
        for status in statuses:
            if status not in _FILTER_STATUSES:
                errors.append(f"status {status} is not one of [{', '.join(_FILTER_STATUSES)}]")
        for kind in types:
            if kind not in _TEMPLATE_TYPES:
                errors.append(f"template_type {kind} is not one of [{', '.join(_TEMPLATE_TYPES)}]")
        older_than = query.get("older_than")
        if older_than is not None and not _is_uuid(older_than):
            errors.append("older_than is not a valid UUID")
        include_jobs = query.get("include_jobs")
        if include_jobs is not None and include_jobs not in ("true", "True"):
            errors.append(f"include_jobs {include_jobs} is not one of [true, True]")
        extra = [key for key in dict.fromkeys(query.keys()) if key not in _LIST_PARAMETERS]
        if extra:
            verb = "was" if len(extra) == 1 else "were"
            errors.append(
                f"Additional properties are not allowed ({', '.join(extra)} {verb} unexpected)"
            )
        if errors:
            raise NotifyError(400, "ValidationError", *dict.fromkeys(errors))

        wanted = set(statuses)
        if "failed" in wanted:  # Notify's deprecated catch-all for the three failure kinds
            wanted |= {"technical-failure", "temporary-failure", "permanent-failure"}
        reference = query.get("reference")
        candidates = [
            record
            for record in self._sent.values()
            if self._retained(record)
            and (not wanted or record["status"] in wanted)
            and (not types or "sms" in types)
            and (reference is None or record["reference"] == reference)
        ]
        page = self._page(candidates, self._sent, older_than)

        root = str(request.base_url)
        params: list[tuple[str, str]] = [
            (key, value) for key, value in query.multi_items() if key != "older_than"
        ]
        links = {"current": _link(f"{root}v2/notifications", query.multi_items())}
        if page:
            links["next"] = _link(
                f"{root}v2/notifications", [*params, ("older_than", page[-1]["id"])]
            )
        return JSONResponse(
            {
                "notifications": [self._serialise_notification(r, root) for r in page],
                "links": links,
            }
        )

    async def _received_texts(self, request: Request) -> Response:
        query = request.query_params
        errors = [
            f"Additional properties are not allowed ({key} was unexpected)"
            for key in dict.fromkeys(query.keys())
            if key != "older_than"
        ]
        older_than = query.get("older_than")
        if older_than is not None and not _is_uuid(older_than):
            errors.insert(0, "older_than is not a valid UUID")
        if errors:
            raise NotifyError(400, "ValidationError", *errors)
        candidates = [r for r in self._received.values() if self._retained(r)]
        page = self._page(candidates, self._received, older_than)
        root = str(request.base_url)
        links = {"current": f"{root}v2/received-text-messages"}
        if page:
            links["next"] = _link(
                f"{root}v2/received-text-messages", [("older_than", page[-1]["id"])]
            )
        return JSONResponse(
            {"received_text_messages": [self._serialise_received(r) for r in page], "links": links}
        )

    def _page(
        self,
        candidates: list[dict[str, Any]],
        everything: Mapping[str, dict[str, Any]],
        older_than: str | None,
    ) -> list[dict[str, Any]]:
        """Newest first, one page, strictly older than ``older_than`` (unknown id: nothing)."""
        ordered = list(reversed(candidates))  # kept in creation order
        if older_than is not None:
            anchor = everything.get(str(uuid.UUID(older_than)))
            if anchor is None:
                return []  # Notify compares with NULL here, which matches nothing
            ordered = [r for r in ordered if r["created_at"] < anchor["created_at"]]
        return ordered[: self.page_size]

    @staticmethod
    def _retained(record: Mapping[str, Any]) -> bool:
        # Notify keeps texts for 7 days by default.
        return _parse_stamp(record["created_at"]) >= _now() - RETENTION

    def _serialise_notification(self, record: Mapping[str, Any], root: str) -> dict[str, Any]:
        """Notify's ``serialize_with_cost_data`` for a text."""
        finished = record["status"] in OUTCOMES
        cost_ready = record["status"] != "created"
        fragments = record["billable_units"]
        return {
            "id": record["id"],
            "reference": record["reference"],
            "email_address": None,
            "phone_number": record["phone_number"],
            "line_1": None,
            "line_2": None,
            "line_3": None,
            "line_4": None,
            "line_5": None,
            "line_6": None,
            "postcode": None,
            "type": "sms",
            "status": record["status"],
            "template": {
                "version": record["template_version"],
                "id": record["template_id"],
                "uri": f"{root}v2/template/{record['template_id']}/version/"
                f"{record['template_version']}",
            },
            "body": record["body"],
            "subject": None,
            "created_at": record["created_at"],
            "created_by_name": None,
            "sent_at": record["sent_at"],
            "completed_at": record["updated_at"] if finished else None,
            "scheduled_for": None,
            "postage": None,
            "one_click_unsubscribe_url": None,
            "cost_details": (
                {
                    "billable_sms_fragments": fragments,
                    "international_rate_multiplier": 1.0,
                    "sms_rate": SMS_RATE_POUNDS,
                }
                if cost_ready
                else {}
            ),
            "cost_in_pounds": round(fragments * SMS_RATE_POUNDS, 4) if cost_ready else None,
            "is_cost_data_ready": cost_ready,
        }

    def _serialise_received(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Notify's ``InboundSms.serialize``."""
        return {
            "id": record["id"],
            "created_at": record["created_at"],
            "service_id": self.service_id,
            "notify_number": record["notify_number"],
            "user_number": record["user_number"],
            "content": record["content"],
        }

    # ----------------------------------------------------------------- controls

    async def _json(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            raise _ControlError("the body is not JSON") from None
        if not isinstance(data, dict):
            raise _ControlError("the body must be a JSON object")
        return data

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _control_sms(self, request: Request) -> Response:
        to = request.query_params.get("to")
        wanted = _control_number(to) if to else None
        texts = [
            record
            for record in self._sent.values()
            if wanted is None or record["normalised_to"] == wanted
        ]
        return JSONResponse({"sms": texts})

    async def _control_received(self, request: Request) -> Response:
        sender = request.query_params.get("from")
        wanted = _control_number(sender) if sender else None
        texts = [r for r in self._received.values() if wanted is None or r["user_number"] == wanted]
        return JSONResponse({"received": texts})

    async def _control_outcomes(self, request: Request) -> Response:
        if request.method == "POST":
            data = await self._json(request)
            outcome = data.get("outcome")
            if outcome not in OUTCOMES:
                raise _ControlError(f"outcome must be one of {', '.join(OUTCOMES)}")
            number = _control_number(data.get("phone_number"))
            if outcome == self.default_outcome:
                self._outcomes.pop(number, None)
            else:
                self._outcomes[number] = outcome
        elif request.method == "DELETE":
            self._outcomes.clear()
        return JSONResponse({"default": self.default_outcome, "outcomes": self._outcomes})

    async def _control_fail_next(self, request: Request) -> Response:
        data = await self._json(request)
        status = data.get("status")
        count = data.get("count", 1)
        if status not in (429, 500):
            raise _ControlError("status must be 429 or 500")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _ControlError("count must be a whole number >= 0")
        self._forced.extend([status] * count)
        return JSONResponse({"pending": list(self._forced)})

    def _callback_state(self) -> dict[str, Any]:
        return {
            "paused": self._paused,
            "held": len(self._held),
            "sent": self._callbacks_sent,
            "failed": self._callbacks_failed,
        }

    async def _control_callbacks(self, request: Request) -> Response:
        return JSONResponse(self._callback_state())

    async def _control_pause(self, request: Request) -> Response:
        self._paused = True
        return JSONResponse(self._callback_state())

    async def _control_resume(self, request: Request) -> Response:
        self._resume()
        return JSONResponse(self._callback_state())

    def _resume(self) -> None:
        self._paused = False
        held, self._held = self._held, []
        for callback in held:
            self._spawn(self._send_callback(callback))

    async def _control_reset(self, request: Request) -> Response:
        self._outcomes.clear()
        self._forced.clear()
        self._resume()
        return JSONResponse(self._callback_state())

    async def _control_inbound(self, request: Request) -> Response:
        data = await self._json(request)
        message = data.get("message")
        if not isinstance(message, str) or not message:
            raise _ControlError("message must be a non-empty string")
        sender = _control_number(data.get("from"), allow_international=True)
        received_at = _now()
        if data.get("received_at") is not None:
            try:
                received_at = datetime.fromisoformat(str(data["received_at"]))
            except ValueError:
                raise _ControlError("received_at must be an ISO 8601 date-time") from None
            if received_at.tzinfo is None:
                received_at = received_at.replace(tzinfo=UTC)
        record = {
            "direction": "inbound",
            "id": str(uuid.uuid4()),
            "user_number": sender,
            "notify_number": self.inbound_number,
            "content": message,
            "created_at": _stamp(received_at),
            "provider_date": _stamp(received_at),
        }
        self._store(record, self.received_folder)
        self._received[record["id"]] = record
        log.info("notify_standin.received", id=record["id"])
        if self.inbound_callback_url and self.inbound_callback_token:
            self._queue_callback(
                _Callback(
                    kind="inbound-sms",
                    ref=record["id"],
                    url=self.inbound_callback_url,
                    token=self.inbound_callback_token,
                    payload={
                        "id": record["id"],
                        "source_number": record["user_number"],
                        "destination_number": record["notify_number"],
                        "message": record["content"],
                        "date_received": record["provider_date"],
                    },
                )
            )
        return JSONResponse(self._serialise_received(record), status_code=201)


_LIST_PARAMETERS = ("reference", "status", "template_type", "include_jobs", "older_than")


class _ControlError(ValueError):
    """A control request that makes no sense (answered 400 with ``{"error": ...}``)."""


def _control_number(value: Any, *, allow_international: bool = False) -> str:
    if not isinstance(value, str):
        raise _ControlError("a phone number (string) is required")
    try:
        phone = parse_phone_number(value)
    except InvalidPhoneError as err:
        raise _ControlError(f"phone number: {err}") from None
    if not phone.uk and not allow_international:
        raise _ControlError("phone number: not a UK mobile number")
    return phone.normalised


def _link(base: str, params: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(params)}" if params else base


class _ThreadServer(uvicorn.Server):
    """uvicorn that never installs signal handlers (it runs off the main thread)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class NotifyStandinServer:
    """Serve a :class:`NotifyStandin` with uvicorn in a background thread.

    ``port=0`` picks a free port; :attr:`port` and :attr:`url` then report the real one.
    The control methods call the ``/_standin/`` endpoints over HTTP (safe from any thread).
    """

    START_TIMEOUT_SECONDS = 10.0
    STOP_TIMEOUT_SECONDS = 10.0

    def __init__(
        self, standin: NotifyStandin, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
    ) -> None:
        self.standin = standin
        self.host = host
        self.port = port
        self._server: _ThreadServer | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL to give ``NotificationsAPIClient``, e.g. ``http://127.0.0.1:8026``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind, start serving, return once connections are accepted (``OSError`` if busy)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.standin,
            log_config=None,  # leave the host process's logging alone
            access_log=False,  # request lines can carry phone numbers (?to=...)
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        self._server = _ThreadServer(config)
        self._error = None
        self._thread = threading.Thread(target=self._run, name="notify-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive():
                self._cleanup()
                raise RuntimeError(f"the Notify stand-in failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("the Notify stand-in did not start in time")
            time.sleep(0.01)
        log.info("notify_standin.started", url=self.url)

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as err:  # reported by start()
            self._error = err

    def stop(self) -> None:
        """Stop serving (requests in flight finish; pending callbacks are dropped)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(self.STOP_TIMEOUT_SECONDS)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._thread = None
        self._server = None

    def __enter__(self) -> NotifyStandinServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Controls, over HTTP so they are safe from any thread.

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.url}/_standin/{path}", timeout=10, trust_env=False, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def set_outcome(self, phone_number: str, outcome: str) -> None:
        """Texts to ``phone_number`` end in ``outcome`` (one of :data:`OUTCOMES`)."""
        self._control("POST", "outcomes", json={"phone_number": phone_number, "outcome": outcome})

    def clear_outcomes(self) -> None:
        """Every number back to the default outcome."""
        self._control("DELETE", "outcomes")

    def fail_next(self, status: int, count: int = 1) -> None:
        """The next ``count`` sends answer ``status`` (429 RateLimitError or 500)."""
        self._control("POST", "fail-next", json={"status": status, "count": count})

    def pause_callbacks(self) -> None:
        """Hold callbacks (statuses still change) until :meth:`resume_callbacks`."""
        self._control("POST", "callbacks/pause")

    def resume_callbacks(self) -> None:
        """Send the held callbacks and stop holding new ones."""
        self._control("POST", "callbacks/resume")

    def callback_state(self) -> dict[str, Any]:
        """``{"paused", "held", "sent", "failed"}``."""
        return dict(self._control("GET", "callbacks"))

    def receive_text(self, from_number: str, message: str) -> dict[str, Any]:
        """A text from ``from_number`` to the service; returns it as Notify lists it."""
        return dict(
            self._control("POST", "inbound", json={"from": from_number, "message": message})
        )

    def sent_texts(self, to: str | None = None) -> list[dict[str, Any]]:
        """Stored outgoing texts (oldest first), optionally only those to ``to``."""
        params = {"to": to} if to else None
        return list(self._control("GET", "sms", params=params)["sms"])

    def reset(self) -> None:
        """Clear outcomes and forced failures, release held callbacks (texts stay)."""
        self._control("POST", "reset")


def start_standin(host: str, port: int, folder: Path | str, **kwargs: Any) -> NotifyStandinServer:
    """Start a stand-in on ``host:port`` keeping texts in ``folder``; the caller stops it.

    ``kwargs`` go to :class:`NotifyStandin` (``api_key`` and ``sms_template_id`` default to
    :data:`DEV_API_KEY` and :data:`DEV_SMS_TEMPLATE_ID`).
    """
    kwargs.setdefault("api_key", DEV_API_KEY)
    kwargs.setdefault("sms_template_id", DEV_SMS_TEMPLATE_ID)
    server = NotifyStandinServer(NotifyStandin(folder=folder, **kwargs), host=host, port=port)
    server.start()
    return server


def server_from_env(environ: Mapping[str, str] | None = None) -> NotifyStandinServer:
    """A (not yet started) server configured from ``HARBOUR_*`` variables.

    ``HARBOUR_NOTIFY_STANDIN_HOST`` (127.0.0.1), ``HARBOUR_NOTIFY_STANDIN_PORT`` (8026),
    ``HARBOUR_NOTIFY_API_KEY`` (:data:`DEV_API_KEY`), ``HARBOUR_NOTIFY_SMS_TEMPLATE_ID``
    (:data:`DEV_SMS_TEMPLATE_ID`), ``HARBOUR_DATA_DIR`` (``data``; texts in ``<it>/sms``),
    ``HARBOUR_NOTIFY_CALLBACK_TOKEN`` (:data:`DEV_CALLBACK_TOKEN`, both callbacks),
    ``HARBOUR_NOTIFY_DELIVERY_CALLBACK_URL`` and ``HARBOUR_NOTIFY_INBOUND_CALLBACK_URL``
    (unset: no callbacks).
    """
    env = os.environ if environ is None else environ
    token = env.get("HARBOUR_NOTIFY_CALLBACK_TOKEN") or DEV_CALLBACK_TOKEN
    standin = NotifyStandin(
        api_key=env.get("HARBOUR_NOTIFY_API_KEY") or DEV_API_KEY,
        sms_template_id=env.get("HARBOUR_NOTIFY_SMS_TEMPLATE_ID") or DEV_SMS_TEMPLATE_ID,
        folder=Path(env.get("HARBOUR_DATA_DIR") or "data") / "sms",
        delivery_callback_url=env.get("HARBOUR_NOTIFY_DELIVERY_CALLBACK_URL") or None,
        delivery_callback_token=token,
        inbound_callback_url=env.get("HARBOUR_NOTIFY_INBOUND_CALLBACK_URL") or None,
        inbound_callback_token=token,
    )
    return NotifyStandinServer(
        standin,
        host=env.get("HARBOUR_NOTIFY_STANDIN_HOST") or DEFAULT_HOST,
        port=int(env.get("HARBOUR_NOTIFY_STANDIN_PORT") or DEFAULT_PORT),
    )


def main() -> None:
    """Run the stand-in from the environment until interrupted."""
    server = server_from_env()
    server.start()
    print(
        f"GOV.UK Notify stand-in on {server.url}, keeping texts in "
        f"{server.standin.folder.resolve()} (Ctrl-C to stop)"
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
