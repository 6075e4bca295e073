"""The GOV.UK Notify stand-in, driven only by the real ``notifications-python-client``.

Notify's API is used exactly as Harbour uses it (``NotificationsAPIClient`` against the
stand-in's URL); callbacks land on a small local HTTP receiver; the behaviour controls are
called over HTTP like a demo would. Polls have deadlines, never fixed sleeps.
"""

from __future__ import annotations

import json
import stat
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from notifications_python_client import authentication
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from infra.notify_standin import (
    DEV_API_KEY,
    DEV_CALLBACK_TOKEN,
    DEV_SMS_TEMPLATE_ID,
    NotifyStandin,
    NotifyStandinServer,
    parse_phone_number,
    server_from_env,
)

MOBILE = "07700 900123"
MOBILE_NORMALISED = "447700900123"


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
    """Retry ``check`` until it returns something truthy; fail after ``timeout`` seconds (a
    bound for a busy machine, as ``tests.helpers.eventually``'s, not an expectation)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except AssertionError as error:
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout}s (last: {last!r})")
        time.sleep(interval)


class Receiver:
    """A local HTTP endpoint recording the callbacks it is sent; answers from a script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.responses: deque[int] = deque()  # status codes to answer first, then 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "json": json.loads(body),
                        }
                    )
                    status = receiver.responses.popleft() if receiver.responses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def received(self, path: str) -> list[dict[str, Any]]:
        """The requests that came to ``path`` so far."""
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def make_standin(
    tmp_path: Path, receiver: Receiver
) -> Iterator[Callable[..., NotifyStandinServer]]:
    """Start stand-ins on free ports with callbacks to the receiver; all stopped afterwards."""
    started: list[NotifyStandinServer] = []

    def make(**overrides: Any) -> NotifyStandinServer:
        options: dict[str, Any] = {
            "api_key": DEV_API_KEY,
            "sms_template_id": DEV_SMS_TEMPLATE_ID,
            "folder": tmp_path / "sms",
            "delivery_callback_url": f"{receiver.url}/delivery",
            "delivery_callback_token": DEV_CALLBACK_TOKEN,
            "inbound_callback_url": f"{receiver.url}/inbound",
            "inbound_callback_token": DEV_CALLBACK_TOKEN,
            "delivery_delay_seconds": 0.0,
            "callback_retry_seconds": 0.05,
        }
        options.update(overrides)
        server = NotifyStandinServer(NotifyStandin(**options), host="127.0.0.1", port=0)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def standin(make_standin: Callable[..., NotifyStandinServer]) -> NotifyStandinServer:
    return make_standin()


def client_for(server: NotifyStandinServer, api_key: str = DEV_API_KEY) -> NotificationsAPIClient:
    return NotificationsAPIClient(api_key, base_url=server.url)


def send(client: NotificationsAPIClient, number: str = MOBILE, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("personalisation", {"body": "Your appointment is on Monday."})
    return client.send_sms_notification(
        phone_number=number, template_id=DEV_SMS_TEMPLATE_ID, **kwargs
    )


def status_of(client: NotificationsAPIClient, notification_id: str) -> str:
    return str(client.get_notification_by_id(notification_id)["status"])


def error_of(excinfo: pytest.ExceptionInfo[HTTPError]) -> tuple[int, list[dict[str, str]]]:
    body = excinfo.value.response.json()
    assert body["status_code"] == excinfo.value.status_code
    return excinfo.value.status_code, body["errors"]


def test_a_text_is_answered_like_notify_kept_on_disk_and_readable_by_id(
    standin: NotifyStandinServer,
) -> None:
    client = client_for(standin)

    answer = send(client, reference="ref-1")

    assert answer["reference"] == "ref-1"
    assert answer["content"] == {
        "body": "Your appointment is on Monday.",
        "from_number": "07700900000",
    }
    assert answer["uri"] == f"{standin.url}/v2/notifications/{answer['id']}"
    assert answer["template"]["id"] == DEV_SMS_TEMPLATE_ID
    assert answer["template"]["version"] == 1
    assert answer["scheduled_for"] is None

    files = list((standin.standin.folder).glob(f"*-{answer['id']}.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    stored = json.loads(files[0].read_text())
    assert stored["phone_number"] == MOBILE
    assert stored["normalised_to"] == MOBILE_NORMALISED
    assert stored["body"] == "Your appointment is on Monday."

    eventually(lambda: status_of(client, answer["id"]) == "delivered")
    assert json.loads(files[0].read_text())["status"] == "delivered"
    assert not list(standin.standin.folder.glob(".*.part"))  # written, then renamed
    notification = client.get_notification_by_id(answer["id"])
    assert notification["type"] == "sms"
    assert notification["phone_number"] == MOBILE
    assert notification["reference"] == "ref-1"
    assert notification["body"] == "Your appointment is on Monday."
    assert notification["completed_at"] is not None
    assert notification["is_cost_data_ready"] is True

    # The client's lookup by reference (how Harbour finds a text it may have sent already).
    found = client.get_all_notifications(reference="ref-1", template_type="sms")
    assert [n["id"] for n in found["notifications"]] == [answer["id"]]
    assert client.get_all_notifications(reference="other")["notifications"] == []

    # Any spelling of the number finds it in the stand-in's listing.
    listed = standin.sent_texts(to="+44 (0)7700-900123")
    assert [t["id"] for t in listed] == [answer["id"]]


def test_an_unknown_notification_is_notifys_404(standin: NotifyStandinServer) -> None:
    client = client_for(standin)
    with pytest.raises(HTTPError) as excinfo:
        client.get_notification_by_id(str(uuid.uuid4()))
    assert error_of(excinfo) == (404, [{"error": "NoResultFound", "message": "No result found"}])


def test_a_wrong_key_or_a_stale_token_is_refused(
    standin: NotifyStandinServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    service_id = DEV_API_KEY[-73:-37]
    wrong_secret = f"harbour_local-{service_id}-{uuid.uuid4()}"
    wrong_service = f"harbour_local-{uuid.uuid4()}-{DEV_API_KEY[-36:]}"

    with pytest.raises(HTTPError) as excinfo:
        send(client_for(standin, wrong_secret))
    assert error_of(excinfo) == (
        403,
        [{"error": "AuthError", "message": "Invalid token: API key not found"}],
    )
    with pytest.raises(HTTPError) as excinfo:
        client_for(standin, wrong_service).get_received_texts()
    assert error_of(excinfo) == (
        403,
        [{"error": "AuthError", "message": "Invalid token: service not found"}],
    )

    # A token issued more than 30 s ago (a client with a slow clock).
    real = authentication.epoch_seconds
    monkeypatch.setattr(authentication, "epoch_seconds", lambda: real() - 60)
    with pytest.raises(HTTPError) as excinfo:
        send(client_for(standin))
    status, errors = error_of(excinfo)
    assert status == 403
    assert errors[0]["error"] == "AuthError"
    assert "30 seconds" in errors[0]["message"]
    assert standin.sent_texts() == []


def test_requests_notify_would_refuse_get_its_400s(standin: NotifyStandinServer) -> None:
    client = client_for(standin)

    with pytest.raises(HTTPError) as excinfo:
        send(client, "01632 960000")  # a landline
    assert error_of(excinfo) == (
        400,
        [{"error": "ValidationError", "message": "phone_number Not a UK mobile number"}],
    )
    with pytest.raises(HTTPError) as excinfo:
        send(client, "07700 9OO123")
    assert error_of(excinfo)[1][0]["message"] == (
        "phone_number Must not contain letters or symbols"
    )
    with pytest.raises(HTTPError) as excinfo:
        client.send_sms_notification(phone_number=MOBILE, template_id=str(uuid.uuid4()))
    assert error_of(excinfo) == (
        400,
        [{"error": "BadRequestError", "message": "Template not found"}],
    )
    with pytest.raises(HTTPError) as excinfo:
        client.send_sms_notification(phone_number=MOBILE, template_id=DEV_SMS_TEMPLATE_ID)
    assert error_of(excinfo)[1] == [
        {"error": "BadRequestError", "message": "Missing personalisation: body"}
    ]
    with pytest.raises(HTTPError) as excinfo:
        send(client, "+1 202 555 0143")
    assert error_of(excinfo)[1] == [
        {"error": "BadRequestError", "message": "Cannot send to international mobile numbers"}
    ]
    assert standin.sent_texts() == []


def test_the_delivery_callback_carries_the_token_and_the_reference(
    standin: NotifyStandinServer, receiver: Receiver
) -> None:
    answer = send(client_for(standin), reference="harbour-key-42")

    [callback] = eventually(lambda: receiver.received("/delivery"))
    assert callback["headers"]["Authorization"] == f"Bearer {DEV_CALLBACK_TOKEN}"
    assert callback["headers"]["Content-Type"] == "application/json"
    payload = callback["json"]
    assert payload["id"] == answer["id"]
    assert payload["reference"] == "harbour-key-42"
    assert payload["to"] == MOBILE
    assert payload["status"] == "delivered"
    assert payload["notification_type"] == "sms"
    assert payload["template_id"] == DEV_SMS_TEMPLATE_ID
    assert payload["template_version"] == 1
    for moment in ("created_at", "completed_at", "sent_at"):
        assert payload[moment].endswith("Z")
        datetime.strptime(payload[moment], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_number_set_to_permanent_failure_fails_in_the_callback_and_by_id(
    standin: NotifyStandinServer, receiver: Receiver
) -> None:
    client = client_for(standin)
    standin.set_outcome("+447700900999", "permanent-failure")

    failed = send(client, "07700 900999", reference="bad")
    fine = send(client, MOBILE, reference="good")

    callbacks = eventually(lambda: (r := receiver.received("/delivery")) and len(r) == 2 and r)
    statuses = {c["json"]["reference"]: c["json"]["status"] for c in callbacks}
    assert statuses == {"bad": "permanent-failure", "good": "delivered"}
    assert status_of(client, failed["id"]) == "permanent-failure"
    assert status_of(client, fine["id"]) == "delivered"
    failures = client.get_all_notifications(status="failed")["notifications"]
    assert [n["id"] for n in failures] == [failed["id"]]


def test_rate_limit_and_outage_modes_answer_the_next_sends(standin: NotifyStandinServer) -> None:
    client = client_for(standin)
    standin.fail_next(429, count=1)
    standin.fail_next(500, count=1)

    with pytest.raises(HTTPError) as excinfo:
        send(client)
    status, errors = error_of(excinfo)
    assert status == 429
    assert errors[0]["error"] == "RateLimitError"
    assert errors[0]["message"].startswith("Exceeded rate limit for key type LIVE")
    with pytest.raises(HTTPError) as excinfo:
        send(client)
    assert excinfo.value.status_code == 500

    assert send(client)["id"]  # back to normal
    assert len(standin.sent_texts()) == 1


def test_a_text_from_a_phone_reaches_the_inbound_callback_and_the_received_list(
    standin: NotifyStandinServer, receiver: Receiver
) -> None:
    response = httpx.post(
        f"{standin.url}/_standin/inbound", json={"from": "07700 900123", "message": "RETURN"}
    )
    assert response.status_code == 201
    text_id = response.json()["id"]

    [callback] = eventually(lambda: receiver.received("/inbound"))
    assert callback["headers"]["Authorization"] == f"Bearer {DEV_CALLBACK_TOKEN}"
    payload = callback["json"]
    assert set(payload) == {"id", "source_number", "destination_number", "message", "date_received"}
    assert payload["id"] == text_id
    assert payload["source_number"] == MOBILE_NORMALISED
    assert payload["destination_number"] == "07700900000"
    assert payload["message"] == "RETURN"
    datetime.strptime(payload["date_received"], "%Y-%m-%dT%H:%M:%S.%fZ")

    [received] = client_for(standin).get_received_texts()["received_text_messages"]
    assert received["id"] == text_id
    assert received["user_number"] == MOBILE_NORMALISED
    assert received["notify_number"] == "07700900000"
    assert received["content"] == "RETURN"
    assert received["service_id"] == DEV_API_KEY[-73:-37]

    files = list((standin.standin.folder / "received").glob(f"*-{text_id}.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_received_texts_page_newest_first_and_only_seven_days_back(
    make_standin: Callable[..., NotifyStandinServer],
) -> None:
    server = make_standin(page_size=2, inbound_callback_url=None)
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    httpx.post(
        f"{server.url}/_standin/inbound",
        json={"from": MOBILE, "message": "too old", "received_at": old},
    ).raise_for_status()
    ids = [server.receive_text(MOBILE, f"text {n}")["id"] for n in range(3)]
    client = client_for(server)

    first = client.get_received_texts()
    assert [t["id"] for t in first["received_text_messages"]] == [ids[2], ids[1]]
    assert first["links"]["next"].endswith(f"older_than={ids[1]}")
    assert [t["content"] for t in client.get_received_texts_iterator()] == [
        "text 2",
        "text 1",
        "text 0",
    ]


def test_a_callback_is_retried_when_the_receiver_first_fails(
    standin: NotifyStandinServer, receiver: Receiver
) -> None:
    receiver.responses.extend([500, 503])

    answer = send(client_for(standin))

    callbacks = eventually(lambda: (r := receiver.received("/delivery")) and len(r) == 3 and r)
    assert {c["json"]["id"] for c in callbacks} == {answer["id"]}
    assert eventually(lambda: standin.callback_state()["sent"] == 1)
    assert standin.callback_state()["failed"] == 0


def test_paused_callbacks_are_held_until_resumed(
    standin: NotifyStandinServer, receiver: Receiver
) -> None:
    client = client_for(standin)
    standin.pause_callbacks()

    answer = send(client)

    eventually(lambda: status_of(client, answer["id"]) == "delivered")
    assert eventually(lambda: standin.callback_state()["held"] == 1)
    assert receiver.received("/delivery") == []
    standin.resume_callbacks()
    [callback] = eventually(lambda: receiver.received("/delivery"))
    assert callback["json"]["id"] == answer["id"]


def test_texts_survive_a_restart(make_standin: Callable[..., NotifyStandinServer]) -> None:
    first = make_standin()
    answer = send(client_for(first))
    eventually(lambda: status_of(client_for(first), answer["id"]) == "delivered")
    inbound = first.receive_text(MOBILE, "RETURN")
    first.stop()

    second = make_standin()
    assert status_of(client_for(second), answer["id"]) == "delivered"
    texts = client_for(second).get_received_texts()["received_text_messages"]
    assert [t["id"] for t in texts] == [inbound["id"]]


async def test_controls_answer_loopback_clients_only(tmp_path: Path) -> None:
    app = NotifyStandin(api_key=DEV_API_KEY, sms_template_id=DEV_SMS_TEMPLATE_ID, folder=tmp_path)

    async def status(client_host: str, path: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://notify.test") as c:
            return (await c.get(path)).status_code

    assert await status("203.0.113.5", "/_standin/health") == 403
    assert await status("203.0.113.5", "/_standin/sms") == 403
    assert await status("127.0.0.1", "/_standin/health") == 200
    assert await status("::1", "/_standin/health") == 200


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    server = server_from_env(
        {
            "HARBOUR_NOTIFY_STANDIN_PORT": "0",
            "HARBOUR_DATA_DIR": str(tmp_path),
            "HARBOUR_NOTIFY_DELIVERY_CALLBACK_URL": "http://127.0.0.1:9/notify/status",
        }
    )
    assert server.host == "127.0.0.1"
    assert server.standin.folder == tmp_path / "sms"
    assert server.standin.delivery_callback_token == DEV_CALLBACK_TOKEN
    assert server.standin.inbound_callback_url is None
    with server:
        assert server.port != 0
        assert httpx.get(f"{server.url}/_standin/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("07700 900123", "447700900123"),
        ("+44 7700 900123", "447700900123"),
        ("(0044) 7700-900123", "447700900123"),
        ("447700900123", "447700900123"),
        ("7700900123", "447700900123"),
    ],
)
def test_uk_mobile_numbers_normalise_like_notify(raw: str, normalised: str) -> None:
    assert parse_phone_number(raw).normalised == normalised
