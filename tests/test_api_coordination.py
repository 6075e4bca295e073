"""What coordinators read and decide over HTTP: the waiting list (order, pages, holds, the
validation queue), practitioners and caseloads, reports, health — through the ASGI app,
the time-skipping server and real SMTP."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from api.app import create_app
from infra.database import make_engine, make_session_factory
from models.allocation import URGENCY_RANK, allocation_order_key, returning_order_key
from models.allocation import WaitingReferral as RuleReferral
from models.referral import Urgency
from models.tables import ReferralRow
from tests.factories import reqol
from tests.fixtures.api import ORG_A, ORG_B, Api, api_settings
from tests.fixtures.temporal import TEST_PSEUDONYM_KEY, Harness
from tests.helpers import eventually


async def _accept(api: Api, coordinator: str, ref: str) -> None:
    response = await api.post(
        f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"}
    )
    assert response.json()["stage"] == "waiting", response.text


async def _waiting(api: Api, key: str, **params: Any) -> dict[str, Any]:
    response = await api.get("/v1/waiting-list", key, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_waiting_list_order_pages_holds_and_validation(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator")
    async with api.h.worker():
        routine_1 = await api.refer(referrer)
        soon = await api.refer(referrer, urgency="soon")
        routine_2 = await api.refer(referrer)
        urgent = await api.refer(referrer, urgency="urgent")
        for ref in (routine_1, soon, routine_2, urgent):
            await _accept(api, coordinator, ref)

        async def listed() -> bool:
            return (await _waiting(api, coordinator))["total_waiting"] == 4

        await eventually(listed)
        page = await _waiting(api, coordinator)
        assert [i["ref"] for i in page["items"]] == [urgent, soon, routine_1, routine_2]
        assert [i["position"] for i in page["items"]] == [1, 2, 3, 4]
        assert page["next_cursor"] is None
        first = await _waiting(api, coordinator, limit=3)
        rest = await _waiting(api, coordinator, limit=3, cursor=first["next_cursor"])
        assert [i["ref"] for i in first["items"] + rest["items"]] == [
            urgent,
            soon,
            routine_1,
            routine_2,
        ]
        # Filters keep each referral's place on the whole list.
        routine = await _waiting(api, coordinator, urgency="routine")
        assert [(i["ref"], i["position"]) for i in routine["items"]] == [
            (routine_1, 3),
            (routine_2, 4),
        ]

        # A hold keeps the place, flagged with its reason; releasing it clears the flag.
        held = await api.post(f"/v1/referrals/{soon}/hold", coordinator, json={"reason": "other"})
        assert held.status_code == 200, held.text
        assert held.json()["held_reason"] == "other"

        async def held_listed() -> bool:
            items = (await _waiting(api, coordinator, held="true"))["items"]
            return [(i["ref"], i["position"], i["hold_reason"]) for i in items] == [
                (soon, 2, "other")
            ]

        await eventually(held_listed)
        released = await api.delete(f"/v1/referrals/{soon}/hold", coordinator)
        assert released.status_code == 200 and released.json()["held_reason"] is None

        # Twelve weeks of silence: check-ins unanswered, the validation queue, the breach flag.
        await api.h.advance(timedelta(weeks=13))

        async def queued() -> bool:
            items = (await _waiting(api, coordinator, validation="true"))["items"]
            return len(items) == 4 and all(i["breach"] for i in items)

        await eventually(queued)
        kept = await api.post(
            f"/v1/referrals/{urgent}/validation", coordinator, json={"decision": "keep"}
        )
        assert kept.status_code == 200 and kept.json()["in_validation_queue"] is False
        removed = await api.post(
            f"/v1/referrals/{routine_2}/validation",
            coordinator,
            json={"decision": "remove", "reason": "no_response"},
        )
        assert removed.status_code == 200, removed.text
        assert removed.json()["stage"] == "closed"
        no_reason = await api.post(
            f"/v1/referrals/{routine_1}/validation", coordinator, json={"decision": "remove"}
        )
        assert no_reason.status_code == 422

        async def after() -> bool:
            page = await _waiting(api, coordinator)
            return [i["ref"] for i in page["items"]] == [urgent, soon, routine_1] and not page[
                "items"
            ][0]["in_validation_queue"]

        await eventually(after)


async def test_practitioners_caseloads_and_reports(api: Api) -> None:
    referrer_a = await api.key("referrer", organisation=ORG_A)
    referrer_b = await api.key("referrer", organisation=ORG_B)
    coordinator = await api.key("coordinator")
    practitioner = await api.key("practitioner", practitioner="p-ana")
    async with api.h.worker():
        put = await api.request(
            "PUT",
            "/v1/practitioners/p-ana",
            coordinator,
            json={"name": "Ana Lowry", "email": "ana.lowry@harbour.example", "capacity": 4},
        )
        assert put.status_code == 200 and put.json()["caseload"] == 0
        bad = await api.request(
            "PUT",
            "/v1/practitioners/p-ana",
            coordinator,
            json={"name": "Ana", "email": "ana@x.example", "capacity": "4"},
        )
        assert bad.status_code == 422  # "4" is not 4: nothing is coerced

        seen = await api.refer(referrer_a)
        declined = await api.refer(referrer_b)
        waiting = await api.refer(referrer_b, urgency="urgent")
        await _accept(api, coordinator, seen)
        await _accept(api, coordinator, waiting)
        await api.post(
            f"/v1/referrals/{declined}/triage",
            coordinator,
            json={"outcome": "decline", "decline_reason": "needs_secondary_care"},
        )
        base = f"/v1/referrals/{seen}"
        await api.post(f"{base}/allocation", coordinator, json={"practitioner_id": "p-ana"})
        responses = {str(k): v for k, v in reqol(12).items()}
        await api.post(
            f"{base}/reqol", practitioner, json={"when": "baseline", "responses": responses}
        )
        await api.post(f"{base}/session-records", practitioner, json={"outcome": "attended"})
        ended = {str(k): v for k, v in reqol(32).items()}
        await api.post(f"{base}/reqol", practitioner, json={"when": "end", "responses": ended})

        listed = (await api.get("/v1/practitioners", coordinator)).json()
        assert [(p["id"], p["caseload"], p["capacity"]) for p in listed] == [("p-ana", 1, 4)]
        caseload = (await api.get("/v1/practitioners/p-ana/caseload", practitioner)).json()
        assert [(c["ref"], c["episode"], c["stage"]) for c in caseload] == [(seen, 1, "in_episode")]
        assert (
            await api.get("/v1/practitioners/p-nobody/caseload", coordinator)
        ).status_code == 404
        discharged = await api.post(
            f"{base}/discharge", practitioner, json={"reason": "completed", "summary": "s"}
        )
        assert discharged.json()["stage"] == "discharged"

        async def reported() -> bool:
            outcomes = (await api.get("/v1/reports/outcomes", coordinator)).json()
            return bool(outcomes["overall"]["episodes"] == 1)

        await eventually(reported)
        outcomes = await api.get("/v1/reports/outcomes", coordinator)
        overall = outcomes.json()["overall"]
        assert overall["measured_pairs"] == 1 and overall["mean_change"] > 0
        assert overall["change"] == {"reliable_improvement": 1}
        assert overall["discharge_reasons"] == {"completed": 1}
        assert len(outcomes.json()["periods"]) == 1
        # Never per practitioner, never per referral.
        assert "p-ana" not in outcomes.text and seen not in outcomes.text

        referrers = {
            r["organisation"]: r
            for r in (await api.get("/v1/reports/referrers", coordinator)).json()
        }
        assert referrers[ORG_A] == {
            "organisation": ORG_A,
            "received": 1,
            "in_triage": 0,
            "accepted": 1,
            "declined": 0,
            "acceptance_rate": 1.0,
            "decline_reasons": {},
        }
        assert referrers[ORG_B]["declined"] == 1 and referrers[ORG_B]["accepted"] == 1
        assert referrers[ORG_B]["decline_reasons"] == {"needs_secondary_care": 1}
        assert referrers[ORG_B]["acceptance_rate"] == 0.5

        waits = (await api.get("/v1/reports/waiting-times", coordinator)).json()
        assert waits["standard_days"] == 28
        assert waits["seen"]["count"] == 1 and waits["seen"]["median_days"] is not None
        assert waits["still_waiting"]["count"] == 1
        none_yet = await api.get(
            "/v1/reports/waiting-times", coordinator, params={"received_to": "2000-01-01"}
        )
        assert none_yet.json()["seen"]["count"] == 0
        assert (
            await api.get("/v1/reports/waiting-times", coordinator, params={"received_to": "0"})
        ).status_code == 422


async def test_health_readiness_and_problem_responses(api: Api, harness: Harness) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": True, "temporal": True}

    # A database that does not answer: not ready (503), and says which part.
    engine = make_engine(
        "postgresql+asyncpg://nobody@127.0.0.1:9/none", connect_args={"timeout": 1}
    )
    try:
        broken = create_app(
            harness.settings,
            harness.client,
            make_session_factory(engine),
            TEST_PSEUDONYM_KEY,
            api_settings=api_settings(),
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=broken), base_url="http://testserver"
        ) as http:
            response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "database": False, "temporal": True}
    finally:
        await engine.dispose()

    coordinator = await api.key("coordinator")
    for method, path, status in (
        ("GET", "/v1/nothing-here", 404),
        ("PATCH", "/v1/referrals", 405),
        ("GET", "/v1/referrals?stag=waiting", 422),
        ("GET", "/v1/referrals?limit=0", 422),
        ("GET", "/v1/waiting-list?breach=1", 422),
    ):
        response = await api.request(method, path, coordinator)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == status
        assert "stag" not in response.text  # an unknown name is not echoed back

    schema = (await api.get("/openapi.json")).json()
    assert schema["info"]["title"] == "Harbour API"
    assert (await api.get("/docs")).status_code == 200


async def test_waiting_list_pages_match_the_allocation_rule(api: Api) -> None:
    """Rows straight in the read model (returning clients, holds, flags, all urgencies): every
    page, filtered or not, in any page size, agrees with ``models.allocation``'s order."""
    coordinator = await api.key("coordinator")
    now = datetime.now(UTC)
    rng = random.Random(4)
    rows = []
    for n in range(240):
        urgency = rng.choice(["urgent", "soon", "routine", "routine"])
        returning = rng.random() < 0.1
        received = now - timedelta(hours=rng.randrange(0, 24 * 400))
        rows.append(
            {
                "ref": f"R{n:010d}",
                "stage": "waiting" if rng.random() < 0.85 else "triage",
                "urgency": urgency,
                "urgency_rank": URGENCY_RANK[Urgency(urgency)],
                "referrer_organisation": ORG_A,
                # Ties in received time, so the reference must break them.
                "received_at": received if rng.random() < 0.8 else now - timedelta(days=30),
                "waiting_since": now - timedelta(hours=rng.randrange(0, 24 * 30)),
                "practitioner_id": "p-ana" if returning else None,
                "returning_to": "p-ana" if returning else None,
                "held": rng.random() < 0.15,
                "hold_reason": None,
                "episode_number": 1 if returning else 0,
                "breach": rng.random() < 0.5,
                "in_validation_queue": rng.random() < 0.2,
                "withdrawal_pending": False,
                "last_seq": 1,
                "updated_at": now,
            }
        )
    async with api.h.session_factory.begin() as session:
        await session.execute(insert(ReferralRow), rows)

    def rule_key(row: dict[str, Any]) -> tuple[Any, ...]:
        referral = RuleReferral(
            ref=row["ref"],
            urgency=Urgency(row["urgency"]),
            received_at=row["received_at"],
            waiting_since=row["waiting_since"],
            returning_to=row["returning_to"],
            held=row["held"],
        )
        if referral.returning_to:
            return (0, *returning_order_key(referral))
        return (1, *allocation_order_key(referral))

    expected = sorted((r for r in rows if r["stage"] == "waiting"), key=rule_key)
    position = {row["ref"]: n for n, row in enumerate(expected, start=1)}
    for filters in (
        {},
        {"breach": "true"},
        {"validation": "true", "held": "false"},
        {"held": "true"},
        {"urgency": "soon"},
        {"urgency": "routine", "breach": "false"},
    ):
        for limit in (7, 50, 500):
            seen: list[tuple[int, str]] = []
            cursor = None
            while True:
                params = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
                page = await _waiting(api, coordinator, **params)
                seen += [(i["position"], i["ref"]) for i in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            wanted = [
                (position[r["ref"]], r["ref"])
                for r in expected
                if ("breach" not in filters or str(r["breach"]).lower() == filters["breach"])
                and (
                    "validation" not in filters
                    or str(r["in_validation_queue"]).lower() == filters["validation"]
                )
                and ("held" not in filters or str(r["held"]).lower() == filters["held"])
                and ("urgency" not in filters or r["urgency"] == filters["urgency"])
            ]
            assert seen == wanted, (filters, limit)
    assert (await _waiting(api, coordinator))["total_waiting"] == len(expected)
    bad = await api.get("/v1/waiting-list", coordinator, params={"cursor": "bm9wZQ"})
    assert bad.status_code == 422
