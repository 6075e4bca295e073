"""The inbound-message webhook: authentication before anything, deduplication on the gateway's
id, unknown senders to the inbox, crisis alerts, and a client's "RETURN" by SMS after discharge
starting a new episode — through the ASGI app, the time-skipping server and real SMTP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from limits.aio.storage import MemoryStorage
from sqlalchemy import func, select

from api.routes.inbound_messages import sign
from infra.notify_standin import NotifyStandinServer
from models.tables import InboundMessageRow
from readmodel.practitioners import add_practitioner
from services.api_keys import revoke_api_key
from tests.factories import CLIENT_PHONE
from tests.fixtures.api import EMAIL_SECRET, ORG_A, Api, api_settings, intake_body, running_api
from tests.fixtures.temporal import Harness
from tests.helpers import eventually, mails_for

# Notify sends international numbers without the plus.
NOTIFY_SENDER = CLIENT_PHONE.removeprefix("+")
COORDINATORS = "coordinators@harbour.example"


def notify(message: str, *, sender: str = NOTIFY_SENDER, id: str | None = None) -> dict[str, Any]:
    """A GOV.UK Notify inbound-SMS callback body."""
    return {
        "id": id or str(uuid.uuid4()),
        "source_number": sender,
        "destination_number": "07700900000",
        "message": message,
        "date_received": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def email(body: str, *, sender: str = "Someone <someone@example.org>") -> dict[str, Any]:
    return {
        "from": sender,
        "to": "replies@harbour.example",
        "subject": "Re: your referral",
        "body": body,
        "message_id": f"<{uuid.uuid4()}@mail.example.org>",
    }


async def _stored(api: Api) -> int:
    async with api.h.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundMessageRow)) or 0)


async def test_unauthenticated_or_badly_signed_calls_change_nothing(api: Api) -> None:
    gateway = await api.key("gateway")
    coordinator = await api.key("coordinator")
    referrer = await api.key("referrer", organisation=ORG_A)
    revoked = await api.key("gateway")
    await revoke_api_key(api.h.session_factory, revoked.split("_")[1])
    body = notify("hello")
    wrong = gateway[:-4] + ("AAAA" if not gateway.endswith("AAAA") else "BBBB")
    attempts = [
        await api.post("/v1/messages/inbound", json=body),
        await api.post("/v1/messages/inbound", wrong, json=body),
        await api.post("/v1/messages/inbound", "hbk_not-a-key", json=body),
        await api.post("/v1/messages/inbound", revoked, json=body),
        await api.post(
            "/v1/messages/inbound", json=body, headers={"Authorization": f"Basic {gateway}"}
        ),
    ]
    for response in attempts:
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
    for key in (coordinator, referrer):
        assert (await api.post("/v1/messages/inbound", key, json=body)).status_code == 403

    # The email shape: a wrong secret, a tampered body, a malformed or missing signature.
    payload = email("please stop")
    assert (await api.signed_email(payload, secret="not-the-secret")).status_code == 401
    raw = json.dumps(payload).encode()
    signature = sign(EMAIL_SECRET, raw)
    tampered = raw.replace(b"please stop", b"please STOP")
    for content, headers in (
        (tampered, {"X-Harbour-Signature": signature}),
        (raw, {"X-Harbour-Signature": "sha256=zz"}),
        (raw, {}),
    ):
        response = await api.http.post(
            "/v1/messages/inbound",
            content=content,
            headers={"Content-Type": "application/json", **headers},
        )
        assert response.status_code == 401, response.text
    assert await _stored(api) == 0

    # A valid key still has to send a valid body (422), and that stores nothing either.
    invalid = await api.post("/v1/messages/inbound", gateway, json={"id": "x"})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")
    assert await _stored(api) == 0


async def test_email_webhook_is_off_without_a_secret(harness: Harness) -> None:
    async with running_api(harness, api_settings(inbound_email_secret=None)) as api:
        response = await api.signed_email(email("hello"))
        assert response.status_code == 401
        assert await _stored(api) == 0


async def test_unknown_sender_duplicates_and_replays(api: Api) -> None:
    gateway = await api.key("gateway")
    coordinator = await api.key("coordinator")
    async with api.h.worker():
        body = notify("who is this?", sender="447700900999")
        first = await api.post("/v1/messages/inbound", gateway, json=body)
        again = await api.post("/v1/messages/inbound", gateway, json=body)
        assert first.status_code == again.status_code == 202
        assert first.json()["duplicate"] is False and again.json() == {
            "id": first.json()["id"],
            "duplicate": True,
        }
        # The answer never says whether the sender matched anyone.
        assert set(first.json()) == {"id", "duplicate"}

        signed = email("hello, is this the right place?")
        received = await api.signed_email(signed)
        replayed = await api.signed_email(signed)
        assert received.status_code == replayed.status_code == 202
        assert replayed.json() == {"id": received.json()["id"], "duplicate": True}
        assert await _stored(api) == 2

        inbox = (await api.get("/v1/inbox", coordinator)).json()
        assert {item["id"] for item in inbox} == {first.json()["id"], received.json()["id"]}
        assert all(item["ref"] is None and item["in_inbox"] for item in inbox)
        by_id = {item["id"]: item for item in inbox}
        assert by_id[received.json()["id"]]["channel"] == "email"

        resolved = await api.post(
            f"/v1/inbox/{first.json()['id']}/resolution", coordinator, json={"note": "wrong no."}
        )
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
        assert [i["id"] for i in (await api.get("/v1/inbox", coordinator)).json()] == [
            received.json()["id"]
        ]
        history = await api.get("/v1/inbox", coordinator, params={"include_resolved": "true"})
        assert len(history.json()) == 2
        missing = await api.post(
            f"/v1/inbox/{'0' * 32}/resolution", coordinator, json={"note": "x"}
        )
        assert missing.status_code == 404


async def test_crisis_text_alerts_coordinators_at_once(
    api: Api, smtp_server: Any, notify_standin: NotifyStandinServer
) -> None:
    smtp_server.clear()
    gateway = await api.key("gateway")
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator")
    async with api.h.worker():
        ref = await api.refer(referrer)
        await api.post(f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"})
        response = await api.post(
            "/v1/messages/inbound", gateway, json=notify("I want to end it all tonight")
        )
        assert response.status_code == 202

        def alerted() -> bool:
            return any(
                m["X-Harbour-Kind"] == "coordinator_alert"
                for m in mails_for(smtp_server, COORDINATORS)
            )

        await eventually(alerted)
        # The crisis contacts go back the way the message came: by text.
        message_id = response.json()["id"]
        [reply] = await eventually(
            lambda: [
                t
                for t in notify_standin.sent_texts(CLIENT_PHONE)
                if t["reference"] == f"message:{message_id}:first:crisis_reply:client"
            ]
        )
        assert "116 123" in reply["body"] and "999" in reply["body"]

        async def crisis_in_inbox() -> bool:
            items = (await api.get("/v1/inbox", coordinator)).json()
            return bool(items) and items[0]["crisis"] and items[0]["ref"] == ref

        await eventually(crisis_in_inbox)
        # Still waiting: a crisis message never changes the referral's stage by itself.
        assert (await api.get(f"/v1/referrals/{ref}", coordinator)).json()["stage"] == "waiting"


async def test_return_by_sms_after_discharge_starts_a_new_episode(api: Api) -> None:
    gateway = await api.key("gateway")
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator")
    practitioner = await api.key("practitioner", practitioner="p-ana")
    await add_practitioner(
        api.h.session_factory, "p-ana", "Ana Lowry", "ana.lowry@harbour.example", capacity=2
    )
    async with api.h.worker():
        ref = await api.refer(referrer)
        base = f"/v1/referrals/{ref}"
        await api.post(f"{base}/triage", coordinator, json={"outcome": "accept"})
        await api.post(f"{base}/allocation", coordinator, json={"practitioner_id": "p-ana"})
        recorded = await api.post(
            f"{base}/session-records", practitioner, json={"outcome": "attended"}
        )
        assert recorded.status_code == 200, recorded.text
        discharged = await api.post(
            f"{base}/discharge", practitioner, json={"reason": "completed", "summary": "done"}
        )
        assert discharged.json()["stage"] == "discharged"
        await api.h.advance(timedelta(days=60))

        response = await api.post("/v1/messages/inbound", gateway, json=notify("RETURN"))
        assert response.status_code == 202

        async def second_episode() -> bool:
            view = (await api.get(base, coordinator)).json()
            return bool(view["episode_number"] == 2 and view["stage"] == "allocated")

        await eventually(second_episode)
        view = (await api.get(base, practitioner)).json()
        assert view["practitioner_id"] == "p-ana"

        async def recorded_message() -> bool:
            kinds = [e["kind"] for e in (await api.get(base, practitioner)).json()["timeline"]]
            return kinds.count("allocated") == 2 and "client_message" in kinds

        await eventually(recorded_message)


async def test_rate_limits_answer_429_and_store_nothing(harness: Harness) -> None:
    settings = api_settings(
        inbound_burst=2, inbound_per_minute=1, intake_burst=1, intake_per_minute=1
    )
    async with running_api(harness, settings) as api:
        gateway = await api.key("gateway")
        other_gateway = await api.key("gateway")
        referrer = await api.key("referrer", organisation=ORG_A)
        async with harness.worker():
            statuses = [
                (await api.post("/v1/messages/inbound", gateway, json=notify("hi"))).status_code
                for _ in range(3)
            ]
            assert statuses == [202, 202, 429]
            limited = await api.post("/v1/messages/inbound", gateway, json=notify("hi"))
            assert int(limited.headers["retry-after"]) >= 1
            assert limited.headers["content-type"].startswith("application/problem+json")
            assert await _stored(api) == 2
            # Per key: another gateway key has its own bucket.
            ok = await api.post("/v1/messages/inbound", other_gateway, json=notify("hi"))
            assert ok.status_code == 202

            assert (
                await api.post("/v1/referrals", referrer, json=intake_body())
            ).status_code == 202
            second = await api.post("/v1/referrals", referrer, json=intake_body())
            assert second.status_code == 429 and "retry-after" in second.headers
            # One referral; the unknown senders' messages each start only their follow-up.
            assert [i for i in api.started.ids if i.startswith("referral-")] == [
                i for i in api.started.ids if not i.startswith("message-")
            ]
            assert len([i for i in api.started.ids if i.startswith("referral-")]) == 1


async def test_api_processes_sharing_a_limits_storage_share_the_limits(harness: Harness) -> None:
    # Two applications over one storage, as two API processes over one Redis would be.
    settings = api_settings(intake_burst=2, intake_per_minute=1)
    shared = MemoryStorage()
    async with (
        running_api(harness, settings, limits_storage=shared) as one,
        running_api(harness, settings, limits_storage=shared) as two,
    ):
        referrer = await one.key("referrer", organisation=ORG_A)
        assert (await one.post("/v1/referrals", referrer, json=intake_body())).status_code == 202
        assert (await two.post("/v1/referrals", referrer, json=intake_body())).status_code == 202
        for api in (one, two):
            refused = await api.post("/v1/referrals", referrer, json=intake_body())
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        started = [*one.started.ids, *two.started.ids]
        assert len([i for i in started if i.startswith("referral-")]) == 2
        # An application counting in a storage of its own (memory://, the default) does not
        # see the others' requests.
        async with running_api(harness, settings) as apart:
            accepted = await apart.post("/v1/referrals", referrer, json=intake_body())
            assert accepted.status_code == 202


async def test_a_repeated_idempotency_key_is_answered_not_counted_by_the_intake_limit(
    harness: Harness,
) -> None:
    """A retry of a submission already made starts nothing: past the limit it still gets its
    reference back (202, duplicate), while a new submission is refused (429)."""
    async with running_api(harness, api_settings(intake_burst=1, intake_per_minute=0.1)) as api:
        referrer = await api.key("referrer", organisation=ORG_A)
        once = {"Idempotency-Key": "retry-me-0001"}
        first = await api.post("/v1/referrals", referrer, json=intake_body(), headers=once)
        assert first.status_code == 202 and first.json()["duplicate"] is False
        for _ in range(3):
            again = await api.post("/v1/referrals", referrer, json=intake_body(), headers=once)
            assert again.status_code == 202, again.text
            assert again.json()["ref"] == first.json()["ref"] and again.json()["duplicate"]
        other = {"Idempotency-Key": "a-new-one-0002"}
        refused = await api.post("/v1/referrals", referrer, json=intake_body(), headers=other)
        assert refused.status_code == 429
        assert len([i for i in api.started.ids if i.startswith("referral-")]) == 1
