"""Referrals over HTTP, through the ASGI app, against the time-skipping server, real SMTP and a
real SQLite read model: intake (idempotent, organisation from the key), reading, every action
of the lifecycle, 409s with the workflow's reason, 422s that echo nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from api.idempotency import fingerprint
from infra.database import write_transaction
from models.referral import ReferralSubmission
from models.tables import IdempotencyKeyRow, OutcomeRow
from readmodel.practitioners import add_practitioner
from readmodel.sealed_text import open_optional
from tests.factories import (
    CLIENT_EMAIL,
    CLIENT_NAME,
    CLINICAL_MARKER,
    REFERRER_EMAIL,
    reqol,
    submission,
)
from tests.fixtures.api import ORG_A, ORG_B, Api, intake_body
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY
from tests.helpers import body as mail_body
from tests.helpers import eventually, mails_for


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    return body


async def test_intake_read_and_the_whole_lifecycle(api: Api, smtp_server: Any) -> None:
    smtp_server.clear()
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator", label="c-ana")
    practitioner = await api.key("practitioner", practitioner="p-ana")
    await add_practitioner(
        api.h.session_factory, "p-ana", "Ana Lowry", "ana.lowry@harbour.example", capacity=3
    )
    async with api.h.worker():
        response = await api.post("/v1/referrals", referrer, json=intake_body())
        assert response.status_code == 202, response.text
        ref = response.json()["ref"]
        assert response.json() == {
            "ref": ref,
            "status_url": f"/v1/referrals/{ref}",
            "duplicate": False,
        }
        assert response.headers["location"] == f"/v1/referrals/{ref}"
        await eventually(lambda: mails_for(smtp_server, REFERRER_EMAIL, "acknowledg"))

        # The referrer sees the milestones of its own referral; a coordinator sees it all.
        mine = (await api.get(f"/v1/referrals/{ref}", referrer)).json()
        assert mine["stage"] == "triage" and mine["awaiting_information"] is False
        assert [e["kind"] for e in mine["timeline"]] == ["received"]
        assert "referrer_organisation" not in mine
        full = (await api.get(f"/v1/referrals/{ref}", coordinator)).json()
        assert full["referrer_organisation"] == ORG_A and full["stage"] == "triage"

        # Triage: a question, the referrer's answer, then acceptance.
        asked = await api.post(
            f"/v1/referrals/{ref}/triage",
            coordinator,
            json={"outcome": "request_information", "question": f"{CLINICAL_MARKER} meds?"},
        )
        assert asked.status_code == 200 and asked.json()["stage"] == "info_requested"
        assert (await api.get(f"/v1/referrals/{ref}", referrer)).json()["awaiting_information"]
        answered = await api.post(
            f"/v1/referrals/{ref}/information", referrer, json={"answer": "none"}
        )
        assert answered.status_code == 200 and answered.json()["stage"] == "triage"
        accepted = await api.post(
            f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"}
        )
        assert accepted.json()["stage"] == "waiting"
        # The coordinator is the API key's label, not something the body could claim.
        triaged = [e for e in accepted.json()["timeline"] if e["kind"] == "accepted"]
        assert triaged[0]["detail"]["coordinator"] == "c-ana"

        # A wrong action is a 409 with the workflow's reason; nothing changes.
        again = await api.post(
            f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"}
        )
        body = _problem(again, 409, "action_rejected")
        assert "cannot triage while the referral is waiting" in body["detail"]
        full_room = await api.post(
            f"/v1/referrals/{ref}/allocation", coordinator, json={"practitioner_id": "p-nobody"}
        )
        assert (
            "unknown practitioner p-nobody" in _problem(full_room, 409, "action_rejected")["detail"]
        )

        # Allocation, then the practitioner's episode.
        allocated = await api.post(
            f"/v1/referrals/{ref}/allocation", coordinator, json={"practitioner_id": "p-ana"}
        )
        assert allocated.json()["stage"] == "allocated"
        at = (await api.h.env.get_current_time()) + timedelta(days=2)
        booked = await api.post(
            f"/v1/referrals/{ref}/sessions",
            practitioner,
            json={"at": at.isoformat(), "location": "café"},
        )
        assert booked.status_code == 200, booked.text
        session_id = booked.json()["booked_sessions"][0]["session_id"]
        recorded = await api.post(
            f"/v1/referrals/{ref}/session-records",
            practitioner,
            json={"session_id": session_id, "outcome": "attended", "liaison": ["housing"]},
        )
        assert recorded.json()["stage"] == "in_episode"
        assert recorded.json()["sessions_done"] == 1
        baseline = await api.post(
            f"/v1/referrals/{ref}/reqol",
            practitioner,
            json={"when": "baseline", "responses": {str(k): v for k, v in reqol(16).items()}},
        )
        assert baseline.status_code == 200, baseline.text
        extended = await api.post(
            f"/v1/referrals/{ref}/extension", practitioner, json={"planned_sessions": 8}
        )
        assert extended.json()["sessions_planned"] == 8
        too_many = await api.post(
            f"/v1/referrals/{ref}/extension", practitioner, json={"planned_sessions": 11}
        )
        _problem(too_many, 409, "action_rejected")
        discharged = await api.post(
            f"/v1/referrals/{ref}/discharge",
            practitioner,
            json={"reason": "completed", "summary": f"{CLINICAL_MARKER} went well"},
        )
        assert discharged.json()["stage"] == "discharged"

        # The whole timeline comes from the database; the referrer's view is the milestones.
        await eventually(lambda: _kinds_include(api, ref, coordinator, "discharged"))
        full = (await api.get(f"/v1/referrals/{ref}", coordinator)).json()
        kinds = [e["kind"] for e in full["timeline"]]
        assert kinds[0] == "received" and "session_recorded" in kinds
        mine = (await api.get(f"/v1/referrals/{ref}", referrer)).json()
        assert [e["kind"] for e in mine["timeline"]] == [
            "received",
            "information_requested",
            "information_received",
            "accepted",
            "allocated",
            "discharged",
        ]
        assert all(
            set(e["detail"]) <= {"decline_reason", "reason", "episode"} for e in mine["timeline"]
        )

    # Nothing clinical or personal came back in any response body of this test's flow.
    assert CLINICAL_MARKER not in str(full) and CLIENT_NAME not in str(full)


async def _kinds_include(api: Api, ref: str, key: str, kind: str) -> bool:
    response = await api.get(f"/v1/referrals/{ref}", key)
    return kind in [e["kind"] for e in response.json()["timeline"]]


async def test_idempotent_intake(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    other_referrer = await api.key("referrer", organisation=ORG_A)
    async with api.h.worker():
        headers = {"Idempotency-Key": "gp-system-4711"}
        first = await api.post("/v1/referrals", referrer, json=intake_body(), headers=headers)
        second = await api.post("/v1/referrals", referrer, json=intake_body(), headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json()["ref"] == second.json()["ref"]
        assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
        # One workflow, however often the submission is retried.
        assert api.started.ids.count(f"referral-{first.json()['ref']}") == 1

        # The same key with a different referral is refused, not answered with the first ref.
        changed = await api.post(
            "/v1/referrals", referrer, json=intake_body(urgency="urgent"), headers=headers
        )
        assert _problem(changed, 422, "idempotency_key_reused")
        assert first.json()["ref"] not in changed.text

        # Keys are per API key: another key's identical Idempotency-Key is a new referral.
        elsewhere = await api.post(
            "/v1/referrals", other_referrer, json=intake_body(), headers=headers
        )
        assert elsewhere.json()["ref"] != first.json()["ref"]

        # A crash between storing the key and starting the workflow: the retry starts it.
        ref = "R0000CRASH1"
        key_id = referrer.split("_")[1]
        body = intake_body(urgency="soon")
        expected = ReferralSubmission.model_validate(
            {**body, "referrer": {**body["referrer"], "organisation": ORG_A}}
        )
        async with write_transaction(api.h.session_factory) as session:
            session.add(
                IdempotencyKeyRow(
                    api_key_id=key_id,
                    idempotency_key="crashed-once",
                    ref=ref,
                    request_hash=fingerprint(TEST_PSEUDONYM_KEY, expected),
                    created_at=datetime.now(UTC),
                    started_at=None,
                )
            )
        retried = await api.post(
            "/v1/referrals", referrer, json=body, headers={"Idempotency-Key": "crashed-once"}
        )
        assert retried.status_code == 202 and retried.json() == {
            "ref": ref,
            "status_url": f"/v1/referrals/{ref}",
            "duplicate": True,
        }
        state = await api.get(f"/v1/referrals/{ref}", referrer)
        assert state.status_code == 200 and state.json()["urgency"] == "soon"
        async with api.h.session_factory() as session:
            row = (
                await session.scalars(select(IdempotencyKeyRow).where(IdempotencyKeyRow.ref == ref))
            ).one()
            assert row.started_at is not None


async def test_intake_validation_never_echoes_input(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator")
    cases: list[tuple[dict[str, Any], list[str]]] = [
        (intake_body(consent=False), ["body", "consent"]),
        (intake_body(referrer={"organisation": ORG_B}), ["body", "referrer", "organisation"]),
        (intake_body(stage="waiting"), ["body", "stage"]),
        (intake_body(client={"email": f"{CLIENT_NAME}@@bad"}), ["body", "client", "email"]),
        (intake_body(client={"nhs_number": "12345"}), ["body", "client", "nhs_number"]),
    ]
    for body, loc in cases:
        response = await api.post("/v1/referrals", referrer, json=body)
        problem = _problem(response, 422, "validation")
        assert loc in [e["loc"] for e in problem["errors"]], problem
        for secret in (CLIENT_NAME, CLIENT_EMAIL, CLINICAL_MARKER, "Robin", "12345"):
            assert secret not in response.text, (secret, response.text)
    # Only a referrer refers; and nothing was started by any of the refusals.
    _problem(await api.post("/v1/referrals", coordinator, json=intake_body()), 403, "forbidden")
    assert api.started.ids == []
    malformed = await api.post(
        "/v1/referrals",
        referrer,
        content=b'{"client": ',
        headers={"Content-Type": "application/json"},
    )
    _problem(malformed, 422, "validation")


async def test_nhs_and_phone_numbers_are_checked_at_intake(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    refused = [
        (intake_body(client={"nhs_number": "9434765918"}), "nhs_number", "check digit is wrong"),
        (intake_body(client={"phone": "07700 90012"}), "phone", "not a valid phone number"),
        (intake_body(client={"phone": "+12345678"}), "phone", "not a valid phone number"),
    ]
    for body, field, message in refused:
        response = await api.post("/v1/referrals", referrer, json=body)
        problem = _problem(response, 422, "validation")
        [error] = [e for e in problem["errors"] if e["loc"] == ["body", "client", field]]
        assert message in error["msg"], error
        typed = str(body["client"][field])
        assert typed not in response.text and typed.replace(" ", "") not in response.text
    assert api.started.ids == []
    # A right check digit, and a phone number as people write it, are taken (and stored E.164).
    accepted = await api.post(
        "/v1/referrals",
        referrer,
        json=intake_body(client={"nhs_number": "4010232137", "phone": "+44 (0)7700-900461"}),
    )
    assert accepted.status_code == 202, accepted.text
    assert len(api.started.ids) == 1


async def test_actions_map_to_updates_and_reject_unknown_fields(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator")
    async with api.h.worker():
        ref = await api.refer(referrer)
        withdrawn_ref = await api.refer(referrer)
        # Mass assignment: a body cannot name the acting coordinator, or set a stage.
        for extra in ({"coordinator": "someone-else"}, {"stage": "closed"}):
            response = await api.post(
                f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept", **extra}
            )
            _problem(response, 422, "validation")
        # A decline without a reason is the workflow's 409, with its reason.
        no_reason = await api.post(
            f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "decline"}
        )
        assert "decline_reason" in _problem(no_reason, 409, "action_rejected")["detail"]
        declined = await api.post(
            f"/v1/referrals/{ref}/triage",
            coordinator,
            json={"outcome": "decline", "decline_reason": "out_of_area", "signposting": "x"},
        )
        assert declined.json()["stage"] == "closed"
        assert declined.json()["closed_reason"] == "declined"
        mine = (await api.get(f"/v1/referrals/{ref}", referrer)).json()
        assert mine["timeline"][-1]["kind"] == "declined"
        assert mine["timeline"][-1]["detail"] == {"decline_reason": "out_of_area"}

        # Withdrawal confirmation and closure, and keeping on the list needs the queue.
        keep = await api.post(
            f"/v1/referrals/{withdrawn_ref}/validation", coordinator, json={"decision": "keep"}
        )
        assert "cannot keep on the waiting list" in _problem(keep, 409, "action_rejected")["detail"]
        confirmed = await api.post(
            f"/v1/referrals/{withdrawn_ref}/withdrawal-confirmation", coordinator
        )
        assert confirmed.json()["closed_reason"] == "withdrawn"
        closed = await api.post(
            f"/v1/referrals/{withdrawn_ref}/closure", coordinator, json={"reason": "moved_away"}
        )
        assert "closed" in _problem(closed, 409, "action_rejected")["detail"]

        # Unknown references are 404 for everyone, malformed ones 422.
        _problem(await api.get("/v1/referrals/R0000000000", coordinator), 404, "not_found")
        _problem(
            await api.post(
                "/v1/referrals/R0000000000/closure", coordinator, json={"reason": "other"}
            ),
            404,
            "not_found",
        )
        _problem(await api.get("/v1/referrals/not-a-ref", coordinator), 422, "validation")


async def test_list_filters_and_keyset_pagination(api: Api) -> None:
    referrer_a = await api.key("referrer", organisation=ORG_A)
    referrer_b = await api.key("referrer", organisation=ORG_B)
    coordinator = await api.key("coordinator")
    async with api.h.worker():
        refs_a = [await api.refer(referrer_a) for _ in range(5)]
        refs_b = [await api.refer(referrer_b) for _ in range(2)]
        accepted = refs_a[0]
        await api.post(f"/v1/referrals/{accepted}/triage", coordinator, json={"outcome": "accept"})
        await eventually(lambda: _listed(api, coordinator, 7))

        pages: list[str] = []
        cursor = None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/v1/referrals", coordinator, params=params)).json()
            pages += [item["ref"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(pages) == sorted(refs_a + refs_b) and len(pages) == len(set(pages))
        # Compared as instants: the JSON drops a zero fraction ("…:04Z" beside "…:04.188000Z"),
        # so the texts do not sort as the times do.
        received = [
            datetime.fromisoformat(item["received_at"])
            for item in (await api.get("/v1/referrals", coordinator)).json()["items"]
        ]
        assert received == sorted(received, reverse=True)

        waiting = (await api.get("/v1/referrals", coordinator, params={"stage": "waiting"})).json()
        assert [item["ref"] for item in waiting["items"]] == [accepted]
        by_org = await api.get(
            "/v1/referrals", coordinator, params={"referrer_organisation": ORG_B}
        )
        assert sorted(i["ref"] for i in by_org.json()["items"]) == sorted(refs_b)
        breach = await api.get("/v1/referrals", coordinator, params={"breach": "true"})
        assert breach.json()["items"] == []
        # A referrer's list is its own organisation's, whatever filter it asks for.
        own = await api.get("/v1/referrals", referrer_b, params={"referrer_organisation": ORG_A})
        assert own.json()["items"] == []
        own = await api.get("/v1/referrals", referrer_b)
        assert sorted(i["ref"] for i in own.json()["items"]) == sorted(refs_b)
        bad = await api.get("/v1/referrals", coordinator, params={"cursor": "bm90IGEgY3Vyc29y"})
        _problem(bad, 422, "validation")


async def _listed(api: Api, key: str, count: int) -> bool:
    response = await api.get("/v1/referrals", key, params={"limit": 200})
    return len(response.json()["items"]) >= count


def test_factories_submission_is_valid() -> None:
    # intake_body() is the factory's submission minus the organisation (the key supplies it).
    assert "organisation" not in intake_body()["referrer"]
    assert submission().referrer.organisation == ORG_A


async def test_an_action_with_no_worker_answers_503_and_is_never_applied_twice(
    api: Api,
) -> None:
    """With no worker to run it, a staff action does not hang: 503 problem+json within the
    configured wait, telling the coordinator to check before repeating. Temporal may still
    deliver the action once a worker starts; repeating it then is refused, never applied
    twice."""
    context = api.app.state.harbour
    context.settings = context.settings.model_copy(update={"worker_wait_seconds": 1.0})
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator")
    ref = await api.refer(referrer)

    refused = await api.post(f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"})
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["retry-after"]
    assert "check the referral's state" in refused.json()["detail"]

    context.settings = context.settings.model_copy(update={"worker_wait_seconds": 60.0})
    async with api.h.worker():
        again = await api.post(
            f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"}
        )
        state = (await api.get(f"/v1/referrals/{ref}", coordinator)).json()
    assert state["stage"] == "waiting"
    accepted = [e for e in state["timeline"] if e["kind"] == "accepted"]
    assert len(accepted) == 1, state["timeline"]
    # Either the first request went through once the worker came, and the repeat is refused,
    # or it did not, and the repeat did it.
    assert again.status_code in (200, 409), again.text


async def test_the_referrer_sees_the_triage_question_and_the_email_says_where(
    api: Api, smtp_server: Any
) -> None:
    smtp_server.clear()
    referrer = await api.key("referrer", organisation=ORG_A)
    other_referrer = await api.key("referrer", organisation=ORG_B)
    coordinator = await api.key("coordinator")
    question = f"{CLINICAL_MARKER} Is the client taking lithium?"
    async with api.h.worker():
        ref = await api.refer(referrer)
        before = (await api.get(f"/v1/referrals/{ref}", referrer)).json()
        assert before["question"] is None and before["awaiting_information"] is False
        asked = await api.post(
            f"/v1/referrals/{ref}/triage",
            coordinator,
            json={"outcome": "request_information", "question": question},
        )
        assert asked.status_code == 200, asked.text

        # The referrer reads the question with their own referral; nobody else can.
        mine = await api.get(f"/v1/referrals/{ref}", referrer)
        assert mine.status_code == 200
        assert mine.json()["awaiting_information"] is True
        assert mine.json()["question"] == question
        assert (await api.get(f"/v1/referrals/{ref}", other_referrer)).status_code == 404

        # The email says a question waits, and where; never the question itself.
        [letter] = await eventually(lambda: mails_for(smtp_server, REFERRER_EMAIL, "more info"))
        text = mail_body(letter)
        assert "question is waiting" in text
        assert f"GET /v1/referrals/{ref}" in text and f"/v1/referrals/{ref}/information" in text
        assert CLINICAL_MARKER not in text + str(letter["Subject"]) and "lithium" not in text

        # Answered: the question is no longer shown.
        answered = await api.post(
            f"/v1/referrals/{ref}/information", referrer, json={"answer": "Yes, 400 mg"}
        )
        assert answered.status_code == 200 and answered.json()["question"] is None
        after = (await api.get(f"/v1/referrals/{ref}", referrer)).json()
        assert after["question"] is None and after["stage"] == "triage"


async def test_a_skipped_measure_reaches_the_outcomes_as_a_code_only(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator")
    practitioner = await api.key("practitioner", practitioner="p-ana")
    await add_practitioner(api.h.session_factory, "p-ana", "Ana Lowry", "a@h.example", capacity=3)
    typed = f"{CLIENT_NAME} on 07700 900461 was too anxious"
    async with api.h.worker():
        ref = await api.refer(referrer)
        await api.post(f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"})
        await api.post(
            f"/v1/referrals/{ref}/allocation", coordinator, json={"practitioner_id": "p-ana"}
        )
        # Free text as the reason is refused (422 naming the field), and changes nothing.
        free = await api.post(
            f"/v1/referrals/{ref}/reqol",
            practitioner,
            json={"when": "baseline", "skipped_reason": typed},
        )
        assert free.status_code == 422
        assert [["body", "skipped_reason"]] == [e["loc"] for e in free.json()["errors"]]
        assert CLIENT_NAME not in free.text
        # A code, with a note that stays with the referral's encrypted state.
        skipped = await api.post(
            f"/v1/referrals/{ref}/reqol",
            practitioner,
            json={"when": "baseline", "skipped_reason": "unwell", "note": typed},
        )
        assert skipped.status_code == 200, skipped.text
        discharged = await api.post(
            f"/v1/referrals/{ref}/discharge",
            practitioner,
            json={"reason": "not_engaged", "summary": "ended"},
        )
        assert discharged.json()["stage"] == "discharged"

        async def outcome_rows() -> list[Any]:
            async with api.h.session_factory() as session:
                return list((await session.scalars(select(OutcomeRow))).all())

        [row] = await eventually(outcome_rows)
        # The code alone (sealed at rest like every text column of the read model).
        assert open_optional(TEST_KEYRING, row.baseline_skipped_reason) == "unwell"
        assert row.end_skipped_reason is None
        stored = " ".join(str(getattr(row, c.key)) for c in OutcomeRow.__table__.columns)
        assert CLIENT_NAME not in stored and "900461" not in stored and "anxious" not in stored
