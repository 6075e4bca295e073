"""The access matrix: every endpoint × every role × another organisation's referral.

Organisation A's referral is allocated to practitioner p-ana. Organisation B's referrer, another
practitioner (p-ben) and the gateway then call every operation of the OpenAPI schema on it, with
valid bodies: not one 2xx may touch or reveal organisation A's referral, and a referral they may
not see answers exactly like one that does not exist. The schema's operation list is the
matrix's, so a new endpoint cannot slip past it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from readmodel.practitioners import add_practitioner
from tests.fixtures.api import ORG_A, ORG_B, Api, intake_body
from tests.helpers import eventually

UNKNOWN_REF = "R0000000000"


def _bodies(at: str) -> dict[tuple[str, str], dict[str, Any] | None]:
    """A valid body for every operation (None: no body)."""
    return {
        ("POST", "/v1/referrals"): intake_body(),
        ("GET", "/v1/referrals"): None,
        ("GET", "/v1/referrals/{ref}"): None,
        ("GET", "/v1/referrals/{ref}/views"): None,
        ("POST", "/v1/referrals/{ref}/information"): {"answer": "an answer"},
        ("POST", "/v1/referrals/{ref}/triage"): {"outcome": "accept"},
        ("POST", "/v1/referrals/{ref}/allocation"): {"practitioner_id": "p-ben"},
        ("POST", "/v1/referrals/{ref}/validation"): {"decision": "keep"},
        ("POST", "/v1/referrals/{ref}/hold"): {"reason": "other"},
        ("DELETE", "/v1/referrals/{ref}/hold"): None,
        ("POST", "/v1/referrals/{ref}/closure"): {"reason": "moved_away"},
        ("POST", "/v1/referrals/{ref}/withdrawal-confirmation"): None,
        ("POST", "/v1/referrals/{ref}/sessions"): {"at": at, "location": "café"},
        ("POST", "/v1/referrals/{ref}/session-records"): {"outcome": "attended"},
        ("POST", "/v1/referrals/{ref}/reqol"): {"when": "baseline", "skipped_reason": "unwell"},
        ("POST", "/v1/referrals/{ref}/extension"): {"planned_sessions": 8},
        ("POST", "/v1/referrals/{ref}/discharge"): {"reason": "completed", "summary": "s"},
        ("GET", "/v1/waiting-list"): None,
        ("GET", "/v1/practitioners"): None,
        ("PUT", "/v1/practitioners/{practitioner_id}"): {
            "name": "Mallory",
            "email": "mallory@example.org",
            "capacity": 99,
        },
        ("GET", "/v1/practitioners/{practitioner_id}/caseload"): None,
        ("GET", "/v1/inbox"): None,
        ("POST", "/v1/inbox/{message_id}/resolution"): {"note": "done"},
        ("POST", "/v1/inbox/{message_id}/acknowledgement"): {},
        ("POST", "/v1/messages/delivery-receipts"): {
            "id": "0d4e2c3a-8c4b-4d0e-9a57-0b8f7c1d2e3f",
            "reference": "not-one-of-ours",
            "to": "07700900999",
            "status": "delivered",
            "created_at": "2026-11-24T10:00:00Z",
            "completed_at": "2026-11-24T10:00:05Z",
            "sent_at": "2026-11-24T10:00:01Z",
            "notification_type": "sms",
        },
        ("POST", "/v1/messages/inbound"): {
            "id": "matrix-1",
            "source_number": "447700900999",
            "destination_number": "07700900000",
            "message": "hello",
            "date_received": "2026-11-24T10:00:00Z",
        },
        ("GET", "/v1/reports/waiting-times"): None,
        ("GET", "/v1/reports/referrers"): None,
        ("GET", "/v1/reports/outcomes"): None,
        ("GET", "/healthz"): None,
        ("GET", "/readyz"): None,
    }


# 2xx a role may get at all, on its own resources or on lists filtered to its own.
OWN_2XX = {
    "referrer-b": {("POST", "/v1/referrals"), ("GET", "/v1/referrals")},
    "practitioner-ben": {("GET", "/v1/referrals")},
    # A receipt for a text that is not ours is answered "unknown" and changes nothing.
    "gateway": {("POST", "/v1/messages/inbound"), ("POST", "/v1/messages/delivery-receipts")},
}
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}


async def test_no_role_reaches_another_organisations_referral(api: Api) -> None:
    coordinator = await api.key("coordinator")
    referrer_a = await api.key("referrer", organisation=ORG_A)
    practitioner_ana = await api.key("practitioner", practitioner="p-ana")
    keys = {
        "referrer-b": await api.key("referrer", organisation=ORG_B),
        "practitioner-ben": await api.key("practitioner", practitioner="p-ben"),
        "gateway": await api.key("gateway"),
    }
    for pid, name in (("p-ana", "Ana Lowry"), ("p-ben", "Ben Okafor")):
        await add_practitioner(
            api.h.session_factory, pid, name, f"{pid}@harbour.example", capacity=5
        )
    async with api.h.worker():
        ref_a = await api.refer(referrer_a)
        await api.post(f"/v1/referrals/{ref_a}/triage", coordinator, json={"outcome": "accept"})
        allocated = await api.post(
            f"/v1/referrals/{ref_a}/allocation", coordinator, json={"practitioner_id": "p-ana"}
        )
        assert allocated.json()["stage"] == "allocated"
        unknown_sender = await api.post(
            "/v1/messages/inbound",
            keys["gateway"],
            json={**_bodies("")[("POST", "/v1/messages/inbound")], "id": "inbox-1"},
        )
        message_id = unknown_sender.json()["id"]
        before = (await api.get(f"/v1/referrals/{ref_a}", coordinator)).json()

        # The owners can see it: the matrix below is not vacuous.
        assert (await api.get(f"/v1/referrals/{ref_a}", referrer_a)).status_code == 200
        assert (await api.get(f"/v1/referrals/{ref_a}", practitioner_ana)).status_code == 200

        at = ((await api.h.env.get_current_time()) + timedelta(days=3)).isoformat()
        bodies = _bodies(at)
        schema = (await api.get("/openapi.json")).json()
        operations = {
            (method.upper(), path) for path, item in schema["paths"].items() for method in item
        }
        assert operations == set(bodies), operations ^ set(bodies)

        # Without a key (or with a made-up one) every operation but the health checks is a 401.
        for method, template in sorted(bodies):
            path = template.format(ref=ref_a, practitioner_id="p-ana", message_id=message_id)
            body = bodies[(method, template)]
            for key in (None, "hbk_0000000000000000_" + "A" * 43):
                response = await api.request(
                    method, path, key, **({"json": body} if body is not None else {})
                )
                if (method, template) in PUBLIC:
                    assert response.status_code == 200
                else:
                    assert response.status_code == 401, (method, template, response.text)
                    assert response.headers["www-authenticate"] == "Bearer"

        leaks = []
        for role, key in keys.items():
            for method, template in sorted(bodies):
                path = template.format(ref=ref_a, practitioner_id="p-ana", message_id=message_id)
                body = bodies[(method, template)]
                if body is not None and template == "/v1/messages/inbound":
                    body = {**body, "id": f"matrix-{role}"}
                response = await api.request(
                    method, path, key, **({"json": body} if body is not None else {})
                )
                assert response.status_code < 500, (role, method, template, response.text)
                if (method, template) in PUBLIC:
                    continue
                if 200 <= response.status_code < 300:
                    allowed = (method, template) in OWN_2XX[role]
                    if not allowed or ref_a in response.text or ORG_A in response.text:
                        leaks.append((role, method, template, response.status_code))
                elif "{ref}" in template:
                    # Not theirs reads exactly as "does not exist" (or the role may not at all).
                    assert response.status_code in (403, 404), (role, method, template)
        assert leaks == [], leaks

        # A referral the caller may not see is indistinguishable from one that does not exist.
        for key in (keys["referrer-b"], keys["practitioner-ben"]):
            hidden = await api.get(f"/v1/referrals/{ref_a}", key)
            missing = await api.get(f"/v1/referrals/{UNKNOWN_REF}", key)
            assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
            assert hidden.status_code == 404

        # Nothing changed on organisation A's referral.
        after = (await api.get(f"/v1/referrals/{ref_a}", coordinator)).json()
        for field in ("stage", "episode_number", "practitioner_id", "sessions_planned"):
            assert after[field] == before[field], field
        assert after["booked_sessions"] == [] and after["sessions_done"] == 0
        caseload = (await api.get("/v1/practitioners", coordinator)).json()
        assert {p["id"]: p["capacity"] for p in caseload} == {"p-ana": 5, "p-ben": 5}

        # Lists a referrer or practitioner may read are filtered to their own.
        referrals_b = await api.get("/v1/referrals", keys["referrer-b"])
        assert [i["referrer_organisation"] for i in referrals_b.json()["items"]] == [ORG_B]
        await eventually(lambda: _caseload_lists(api, practitioner_ana, ref_a))


async def _caseload_lists(api: Api, key: str, ref: str) -> bool:
    own = (await api.get("/v1/referrals", key)).json()["items"]
    caseload = (await api.get("/v1/practitioners/p-ana/caseload", key)).json()
    return [i["ref"] for i in own] == [ref] and [c["ref"] for c in caseload] == [ref]


async def test_no_key_session_or_link_reaches_another_referral_through_the_pages(
    api: Api,
) -> None:
    """The public pages' part of the matrix (``api.public_schema``): organisation B's signed-in
    referrer, and links made for referral B, reach nothing of referral A — 404, exactly as for
    a referral that does not exist — and change nothing."""
    import re

    from api.public_schema import public_pages_schema
    from infra.link_tokens import LinkSigner
    from models.client_links import LINK_ANSWERS, LinkAnswer, LinkPurpose, purpose_code
    from tests.fixtures.temporal import TEST_PSEUDONYM_KEY

    coordinator = await api.key("coordinator")
    referrer_a = await api.key("referrer", organisation=ORG_A)
    referrer_b = await api.key("referrer", organisation=ORG_B)
    templates = {
        (method.upper(), path)
        for path, item in public_pages_schema()["paths"].items()
        for method in item
    }
    by_ref = {op for op in templates if "{ref}" in op[1]}
    by_token = {op for op in templates if "{token}" in op[1]}
    assert by_ref == {
        ("GET", "/referrer/referrals/{ref}"),
        ("POST", "/referrer/referrals/{ref}/answer"),
        ("GET", "/referrer/referred/{ref}"),
    }
    assert by_token == {
        ("GET", "/c/{token}"),
        ("POST", "/c/{token}"),
        ("GET", "/c/{token}/done/{answer}"),
    }
    async with api.h.worker():
        ref_a = await api.refer(referrer_a)
        ref_b = await api.refer(referrer_b)
        for ref in (ref_a, ref_b):
            await api.post(f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"})
        before = (await api.get(f"/v1/referrals/{ref_a}", coordinator)).json()

        form = await api.get("/referrer/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        login = await api.post(
            "/referrer/login", data={"csrf": token.group(1), "api_key": referrer_b}
        )
        assert login.status_code == 303
        page = await api.get("/referrer")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf and ref_a not in page.text
        for method, template in sorted(by_ref):
            for ref, seen in ((ref_a, "hidden"), (UNKNOWN_REF, "missing")):
                data = {"csrf": csrf.group(1), "answer": "an answer"} if method == "POST" else None
                response = await api.request(method, template.format(ref=ref), data=data)
                assert response.status_code == 404, (method, template, seen, response.status_code)
                assert ref_a not in response.text and ORG_A not in response.text
        assert (await api.get(f"/referrer/referrals/{ref_b}")).status_code == 200  # not vacuous

        signer = LinkSigner(TEST_PSEUDONYM_KEY)
        for purpose in LinkPurpose:
            token_b = signer.make(purpose_code(purpose), ref_b, f"matrix{purpose.value:0>10}")
            # The same token re-pointed at referral A: its signature no longer holds.
            token_a = token_b.replace(ref_b, ref_a)
            for answer in LINK_ANSWERS[purpose]:
                for method, template in sorted(by_token):
                    path = template.format(token=token_a, answer=answer.value)
                    data = {"answer": answer.value} if method == "POST" else None
                    response = await api.request(method, path, data=data)
                    if method == "POST" and answer is LinkAnswer.HELP:
                        # Asking for help always shows the crisis contacts; nobody is alerted
                        # about a referral the link does not name.
                        assert response.status_code == 200 and "116 123" in response.text
                        assert "told our team" not in response.text
                        continue
                    assert response.status_code == 404, (purpose, answer, method, template)
            # A link does only its own thing: another purpose's answers are refused too.
            foreign = {a for p in LinkPurpose for a in LINK_ANSWERS[p]} - set(LINK_ANSWERS[purpose])
            for answer in foreign:
                response = await api.post(f"/c/{token_b}", data={"answer": answer.value})
                assert response.status_code == 404, (purpose, answer)

        after = (await api.get(f"/v1/referrals/{ref_a}", coordinator)).json()
        assert after["stage"] == before["stage"] and not after["withdrawal_pending"]
        assert [e["kind"] for e in after["timeline"]] == [e["kind"] for e in before["timeline"]]
