"""The referrers' own pages (issue 12, part 2), over the real app, the time-skipping Temporal
server, SMTP and SQLite: sign in with a referrer key, refer through the form (errors
summarised, nothing stored until valid, one referral per idempotency key), answer a triage
question, read the decision; another organisation's referral is not found."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import func, select

from api.portal.pages import LIST_PAGE
from infra.database import write_transaction
from models.actions import DeclineReason, TriageDecision, TriageOutcome
from models.referral import Stage
from models.tables import IdempotencyKeyRow
from tests.factories import listed_referrals
from tests.fixtures.api import ORG_A, ORG_B, Api, api_settings, running_api
from tests.fixtures.temporal import Harness
from tests.helpers import eventually

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
IDEMPOTENCY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def login(api: Api, key: str) -> Any:
    """Post the sign-in form as a browser would: the form's token with its nonce cookie."""
    page = await api.get("/referrer/login")
    found = CSRF.search(page.text)
    assert found
    return await api.post("/referrer/login", data={"csrf": found.group(1), "api_key": key})


async def sign_in(api: Api, organisation: str = ORG_A) -> None:
    key = await api.key("referrer", organisation=organisation)
    response = await login(api, key)
    assert response.status_code == 303 and response.headers["location"] == "/referrer"


def form(page: str, **fields: str) -> dict[str, str]:
    csrf = CSRF.search(page)
    assert csrf
    values = {"csrf": csrf.group(1), **fields}
    key = IDEMPOTENCY.search(page)
    if key:
        values.setdefault("idempotency_key", key.group(1))
    return values


VALID = {
    "client_name": "Robin Quill",
    "client_email": "robin.quill@example.org",
    "client_phone": "",
    "reason": "Low mood since losing work; would like support getting out again.",
    "urgency": "routine",
    "referrer_name": "Dr Shore",
    "referrer_email": "gp.referrals@harbourside-gp.example.org",
    "consent": "yes",
}


async def referrals_stored(api: Api) -> int:
    async with api.h.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(IdempotencyKeyRow)) or 0)


async def test_pages_need_a_referrer_key_and_refuse_other_roles(api: Api) -> None:
    for path in ("/referrer", "/referrer/refer", "/referrer/referrals/R7K2M9QX4PT"):
        response = await api.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/referrer/login"
    coordinator = await api.key("coordinator")
    refused = await login(api, coordinator)
    assert refused.status_code == 401 and "Only a referrer key" in refused.text
    wrong = await login(api, "hbk_nonsense")
    assert wrong.status_code == 401 and "not recognised" in wrong.text
    assert "harbour_referrer=" not in wrong.headers.get("set-cookie", "")
    # Without the form's own token (a page elsewhere posting a key): refused.
    forged = await api.post(
        "/referrer/login", data={"api_key": await api.key("referrer", organisation=ORG_A)}
    )
    assert forged.status_code == 403


async def test_the_form_summarises_errors_stores_nothing_then_refers_once(api: Api) -> None:
    await sign_in(api)
    page = (await api.get("/referrer/refer")).text
    bad = form(page, **{**VALID, "client_email": "not an email", "consent": "", "reason": " "})
    refused = await api.post("/referrer/refer", data=bad)
    assert refused.status_code == 422
    assert "There is a problem" in refused.text
    for field in ("client_email", "reason", "consent"):
        assert f'href="#{field}"' in refused.text, field
        assert f'id="{field}-error"' in refused.text
    assert 'value="Robin Quill"' in refused.text  # what was typed is kept
    assert await referrals_stored(api) == 0
    async with api.h.worker():
        good = form(refused.text, **VALID)
        first = await api.post("/referrer/refer", data=good)
        again = await api.post("/referrer/refer", data=good)  # a double click, a refresh
        assert first.status_code == again.status_code == 303
        assert first.headers["location"] == again.headers["location"]
        ref = first.headers["location"].rsplit("/", 1)[-1]
        shown = await api.get(first.headers["location"])
        assert shown.status_code == 200 and ref in shown.text
        assert await referrals_stored(api) == 1

        listed = await eventually(lambda: _listed(api, ref))
        assert "Being looked at" in listed or "Received" in listed


async def _listed(api: Api, ref: str) -> str | None:
    page = await api.get("/referrer")
    return page.text if ref in page.text else None


async def test_a_referrer_answers_a_question_and_reads_the_decision(api: Api) -> None:
    await sign_in(api)
    async with api.h.worker():
        page = (await api.get("/referrer/refer")).text
        sent = await api.post("/referrer/refer", data=form(page, **VALID))
        ref = sent.headers["location"].rsplit("/", 1)[-1]
        await api.h.act(
            ref,
            "triage",
            TriageDecision(
                outcome=TriageOutcome.REQUEST_INFORMATION,
                coordinator="c-1",
                question="Is there a safe number to text?",
            ),
        )
        view = await api.get(f"/referrer/referrals/{ref}")
        assert "Is there a safe number to text?" in view.text
        empty = await api.post(
            f"/referrer/referrals/{ref}/answer", data=form(view.text, answer="  ")
        )
        assert empty.status_code == 422 and "Please write an answer" in empty.text
        answered = await api.post(
            f"/referrer/referrals/{ref}/answer", data=form(view.text, answer="Yes, the mobile.")
        )
        assert answered.status_code == 303
        assert (await api.h.state(ref)).stage == Stage.TRIAGE
        await api.h.act(
            ref,
            "triage",
            TriageDecision(
                outcome=TriageOutcome.DECLINE,
                coordinator="c-1",
                decline_reason=DeclineReason.OUT_OF_AREA,
                signposting="Quayside Wellbeing Hub",
            ),
        )
        decided = await api.get(f"/referrer/referrals/{ref}")
        assert "outside the area" in decided.text
        assert "Quayside Wellbeing Hub" in decided.text  # the signposting, with the decision
        assert "Robin Quill" not in decided.text and "Low mood" not in decided.text


async def test_another_organisations_referral_is_not_found(api: Api) -> None:
    other = await api.key("referrer", organisation=ORG_B)
    async with api.h.worker():
        ref = await api.refer(other)
        await sign_in(api, ORG_A)
        response = await api.get(f"/referrer/referrals/{ref}")
        assert response.status_code == 404
        assert ref not in (await api.get("/referrer")).text
        answer = await api.post(
            f"/referrer/referrals/{ref}/answer",
            data=form((await api.get("/referrer")).text, answer="hello"),
        )
        assert answer.status_code == 404
        assert (await api.get(f"/referrer/referred/{ref}")).status_code == 404


async def test_a_post_without_the_session_token_changes_nothing(api: Api) -> None:
    await sign_in(api)
    page = (await api.get("/referrer/refer")).text
    forged = {**form(page, **VALID), "csrf": "forged"}
    response = await api.post("/referrer/refer", data=forged)
    assert response.status_code == 403
    assert await referrals_stored(api) == 0


async def test_over_the_intake_limit_the_form_comes_back_as_written(harness: Harness) -> None:
    """The key's intake limit (the API's) met through the form: told to wait, with what was
    typed kept — not an error page that loses it — and nothing stored."""
    async with running_api(harness, api_settings(intake_burst=1, intake_per_minute=0.1)) as api:
        await sign_in(api)
        page = (await api.get("/referrer/refer")).text
        sent = form(page, **VALID)
        first = await api.post("/referrer/refer", data=sent)
        assert first.status_code == 303
        # The same form sent again (a double click, a refresh) after the limit is met: the
        # same reference, not "too many" — it starts nothing, so it is not counted.
        again = await api.post("/referrer/refer", data=sent)
        assert again.status_code == 303 and again.headers["location"] == first.headers["location"]
        page = (await api.get("/referrer/refer")).text
        second = await api.post(
            "/referrer/refer", data=form(page, **{**VALID, "client_name": "Sam Reed"})
        )
        assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
        assert "Nothing was sent this time" in second.text
        assert 'value="Sam Reed"' in second.text and VALID["reason"] in second.text
        assert await referrals_stored(api) == 1


async def test_the_list_pages_fifty_at_a_time_newest_first_own_organisation_only(
    api: Api,
) -> None:
    """An organisation that has referred more than a page's worth sees them all, fifty at a
    time, through "Older referrals" links; another organisation's never appear."""
    rows = [*listed_referrals(ORG_A, LIST_PAGE + 5), *listed_referrals(ORG_B, 1, prefix="RB")]
    async with write_transaction(api.h.session_factory) as session:
        session.add_all(rows)
    await sign_in(api)

    first = await api.get("/referrer")
    shown = re.findall(r'href="/referrer/referrals/(R[A-Z0-9]+)"', first.text)
    newest = [f"RA{n:09d}" for n in reversed(range(LIST_PAGE + 5))]
    assert shown == newest[:LIST_PAGE]
    older = re.search(r'href="(/referrer\?after=[^"]+)"', first.text)
    assert older and "Newest referrals" not in first.text

    second = await api.get(html.unescape(older.group(1)))
    assert second.status_code == 200
    shown = re.findall(r'href="/referrer/referrals/(R[A-Z0-9]+)"', second.text)
    assert shown == newest[LIST_PAGE:]  # the rest, and never ORG_B's
    assert "Older referrals" not in second.text and 'href="/referrer">Newest' in second.text

    for bad in ("not-a-cursor", "1.RZZZZZZZZZZ."):
        refused = await api.get("/referrer", params={"after": bad})
        assert refused.status_code == 404 and "That list page does not exist" in refused.text
