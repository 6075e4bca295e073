"""Read access is audited: every view of a referral — the API's ``GET /v1/referrals/{ref}``, the
dashboard's referral page, the CLI's ``state`` — is recorded with who (a staff id and key id,
never the key), when, which referral and through what; a coordinator lists who has looked
(``GET /v1/referrals/{ref}/views``, the referral page). The list's query on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.dashboard import configure
from models.read_audit import AccessChannel
from models.roles import Role
from readmodel.read_audit import accesses
from services.api_keys import Principal
from services.read_audit import InvalidStaffId, record_access
from tests.fixtures.api import ORG_A, ORG_B, Api
from tests.fixtures.dashboard import dashboard_settings, sign_in
from tests.fixtures.temporal import Harness
from tests.helpers import eventually
from tests.test_cli import Cli, cli, on_harness  # noqa: F401  (fixtures)

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


async def _views(api: Api, ref: str, key: str) -> list[dict[str, object]]:
    response = await api.get(f"/v1/referrals/{ref}/views", key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ref"] == ref and body["total"] == len(body["items"])
    items: list[dict[str, object]] = body["items"]
    return items


def _who(items: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(i["actor"], i["key_id"], i["role"], i["through"]) for i in items]


async def test_api_views_are_recorded_and_coordinators_list_them(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    other_referrer = await api.key("referrer", organisation=ORG_B)
    coordinator = await api.key("coordinator", label="c-dana")
    practitioner = await api.key("practitioner", practitioner="p-ana")
    coordinator_id, referrer_id = coordinator.split("_")[1], referrer.split("_")[1]
    async with api.h.worker():
        ref = await api.refer(referrer)

        async def recorded() -> bool:
            return (await api.get(f"/v1/referrals/{ref}/views", coordinator)).status_code == 200

        await eventually(recorded)  # the read model knows the referral
        assert await _views(api, ref, coordinator) == []

        assert (await api.get(f"/v1/referrals/{ref}", coordinator)).status_code == 200
        assert (await api.get(f"/v1/referrals/{ref}", referrer)).status_code == 200
        # Not theirs: a 404 like a referral that does not exist, and nothing was seen.
        assert (await api.get(f"/v1/referrals/{ref}", other_referrer)).status_code == 404
        assert (await api.get(f"/v1/referrals/{ref}", practitioner)).status_code == 404

    listed = await _views(api, ref, coordinator)
    assert _who(listed) == [  # newest first
        (f"key-{referrer_id}", referrer_id, "referrer", "api"),
        ("c-dana", coordinator_id, "coordinator", "api"),
    ]
    first, second = (datetime.fromisoformat(str(i["at"])) for i in reversed(listed))
    assert first <= second <= datetime.now(UTC)
    # Never the key itself.
    response = await api.get(f"/v1/referrals/{ref}/views", coordinator)
    for key in (referrer, coordinator):
        assert key not in response.text and key.split("_", 2)[2] not in response.text
    # Listing who looked is not itself a view of the referral.
    assert len(await _views(api, ref, coordinator)) == 2
    limited = await api.get(f"/v1/referrals/{ref}/views", coordinator, params={"limit": 1})
    assert limited.json()["total"] == 2 and len(limited.json()["items"]) == 1


async def test_only_coordinators_list_views_and_errors_are_problems(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator")
    practitioner = await api.key("practitioner", practitioner="p-ana")
    path = "/v1/referrals/R0123456789/views"
    for key, status in ((None, 401), (referrer, 403), (practitioner, 403), (coordinator, 404)):
        response = await api.get(path, key)
        assert response.status_code == status, (key, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
    for bad in ("/v1/referrals/not-a-ref/views", f"{path}?limit=0", f"{path}?limit=9999"):
        response = await api.get(bad, coordinator)
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith(PROBLEM)

    schema = (await api.get("/openapi.json")).json()
    operation = schema["paths"]["/v1/referrals/{ref}/views"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReferralAccessLog"
    }
    for status in ("401", "403", "404", "422"):
        assert PROBLEM in operation["responses"][status]["content"], status
    assert "ReferralAccess" in schema["components"]["schemas"]


async def test_dashboard_views_are_recorded_and_shown_on_the_referral_page(api: Api) -> None:
    configure(api.app, dashboard_settings())
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator", label="c-dana")
    other = await api.key("coordinator", label="c-olu")
    async with api.h.worker():
        ref = await api.refer(referrer)
        assert (await api.get(f"/v1/referrals/{ref}", other)).status_code == 200
        assert (await sign_in(api.http, coordinator)).status_code == 303
        page = await api.http.get(f"/dashboard/referrals/{ref}")
        assert page.status_code == 200
        missing = await api.http.get("/dashboard/referrals/R0123456789")
        assert missing.status_code == 404

    # The page lists who has looked, this very view first.
    section = page.text.split('id="views-h"', 1)[1].split("</section>", 1)[0]
    assert "2 views recorded" in section
    rows = section.split("<tbody>", 1)[1].split("</tr>")
    assert "c-dana" in rows[0] and "dashboard" in rows[0]
    assert "c-olu" in rows[1] and "API" in rows[1]
    listed = await _views(api, ref, other)
    assert _who(listed)[0] == ("c-dana", coordinator.split("_")[1], "coordinator", "dashboard")
    assert len(listed) == 2  # the page of a referral that does not exist recorded nothing


async def test_cli_state_is_recorded_with_the_staff_id(
    cli: Cli,  # noqa: F811
    on_harness: Harness,  # noqa: F811
) -> None:
    h = on_harness
    async with h.worker():
        from tests.factories import submission

        ref = await h.refer(submission())
        shown = await cli("state", ref, "--staff", "c-mo")
        assert shown.status == 0, shown.err
        assert json.loads(shown.out)["ref"] == ref
        default = await cli("state", ref)
        assert default.status == 0, default.err
        # A staff id that is not an id (or is a key) is refused before anything is read.
        for bad in ("Mo Farah", "hbk_0123456789abcdef_" + "x" * 43):
            refused = await cli("state", ref, "--staff", bad)
            assert refused.status == 2 and refused.err.startswith("error: --staff:")
            assert bad not in refused.err
        missing = await cli("state", "R0123456789", "--staff", "c-mo")
        assert missing.status == 2

    async with h.session_factory() as session:
        log = await accesses(session, ref)
        unknown = await accesses(session, "R0123456789")
    assert [(a.actor, a.key_id, a.role, a.through) for a in log.items] == [
        ("c-cli", None, None, AccessChannel.CLI),
        ("c-mo", None, None, AccessChannel.CLI),
    ]
    assert unknown.total == 0


async def test_the_audit_lists_newest_first_with_a_total(session_factory: Sessions) -> None:
    coordinator = Principal(key_id="0123456789abcdef", role=Role.COORDINATOR, label="c-dana")
    referrer = Principal(key_id="fedcba9876543210", role=Role.REFERRER, organisation=ORG_A)
    looks = [
        (T0, AccessChannel.API, referrer),
        (T0 + timedelta(minutes=5), AccessChannel.DASHBOARD, coordinator),
        (T0 + timedelta(minutes=5), AccessChannel.CLI, "c-mo"),  # the same instant: by order
        (T0 + timedelta(hours=1), AccessChannel.API, coordinator),
    ]
    for at, through, who in looks:
        await record_access(session_factory, "R0000000001", through, who, at=at)
    await record_access(session_factory, "R0000000002", AccessChannel.CLI, "c-mo", at=T0)

    async with session_factory() as session:
        log = await accesses(session, "R0000000001")
        latest = await accesses(session, "R0000000001", limit=2)
        other = await accesses(session, "R0000000002")
    assert log.total == 4 and other.total == 1
    dana = ("c-dana", "0123456789abcdef", Role.COORDINATOR)
    assert [(a.at, a.through, a.actor, a.key_id, a.role) for a in log.items] == [
        (T0 + timedelta(hours=1), AccessChannel.API, *dana),
        (T0 + timedelta(minutes=5), AccessChannel.CLI, "c-mo", None, None),
        (T0 + timedelta(minutes=5), AccessChannel.DASHBOARD, *dana),
        (T0, AccessChannel.API, "key-fedcba9876543210", "fedcba9876543210", Role.REFERRER),
    ]
    assert latest.total == 4 and latest.items == log.items[:2]

    for bad in ("", "Mo Farah", "hbk_0123456789abcdef_" + "x" * 43, "x" * 65):
        with pytest.raises(InvalidStaffId):
            await record_access(session_factory, "R0000000001", AccessChannel.CLI, bad)
    async with session_factory() as session:
        assert (await accesses(session, "R0000000001")).total == 4


async def test_every_look_at_the_person_is_audited(api: Api) -> None:
    """The referral page shows the person (name, contacts, the reason) decrypted for display,
    and each showing — the page, the triage form coming back with an error — is one audited
    view; the person is never shown without one."""
    configure(api.app, dashboard_settings())
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator", label="c-dana")
    async with api.h.worker():
        ref = await api.refer(referrer, client={"name": "Hannah Lee"})
        await eventually(lambda: _in_triage(api, coordinator, ref), timeout=20)
        assert (await sign_in(api.http, coordinator)).status_code == 303
        shown = 0
        for _ in range(3):
            page = await api.http.get(f"/dashboard/referrals/{ref}")
            assert page.status_code == 200 and "Hannah Lee" in page.text
            assert "CLINICAL-MARKER" in page.text  # the reason, for a coordinator to read
            shown += 1
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        # A triage without a decision comes back (400) with the person shown again: audited.
        error = await api.http.post(
            f"/dashboard/referrals/{ref}/triage", data={"csrf": csrf, "back": "/dashboard"}
        )
        assert error.status_code == 400 and "Hannah Lee" in error.text
        assert "Choose a decision" in error.text and "outcome:" not in error.text
        shown += 1
        accept = {"csrf": csrf, "back": "/dashboard", "outcome": "accept"}
        accepted = await api.http.post(f"/dashboard/referrals/{ref}/triage", data=accept)
        assert accepted.status_code == 303
        # The same form sent again (a stale page): the workflow's refusal, in the summary.
        stale = await api.http.post(f"/dashboard/referrals/{ref}/triage", data=accept)
        assert stale.status_code == 409 and "Hannah Lee" in stale.text
        summary = stale.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
        assert 'href="#actions"' in summary and "Not recorded" in summary
        shown += 1
    listed = await _views(api, ref, coordinator)
    dashboard_views = [v for v in listed if v["through"] == "dashboard"]
    assert len(dashboard_views) == shown
    assert {v["actor"] for v in dashboard_views} == {"c-dana"}


async def test_a_practitioner_sees_only_their_own_clients_person() -> None:
    from services.person_display import may_see_person

    def principal(role: Role, practitioner: str | None = None) -> Principal:
        return Principal(key_id="k1", role=role, practitioner_id=practitioner)

    assert may_see_person(principal(Role.COORDINATOR), None)
    assert may_see_person(principal(Role.PRACTITIONER, "p-ana"), "p-ana")
    assert not may_see_person(principal(Role.PRACTITIONER, "p-ana"), "p-ben")
    assert not may_see_person(principal(Role.PRACTITIONER, "p-ana"), None)
    assert not may_see_person(principal(Role.REFERRER), "p-ana")
    assert not may_see_person(principal(Role.GATEWAY), None)


async def _in_triage(api: Api, key: str, ref: str) -> bool:
    return bool((await api.get(f"/v1/referrals/{ref}", key)).json()["stage"] == "triage")
