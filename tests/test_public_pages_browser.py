"""The public pages in a real headless Chromium at a phone's width (390 px), against the app
on a real uvicorn over the time-skipping server, SMTP and SQLite (issue 12, part 5):

- a referrer signs in, refers through the form by keyboard alone, answers a question and
  reads the decision;
- a client answers a check-in by keyboard alone, asks for help, completes a ReQoL-10 and
  comes back — each through the link in their letter;
- a person refers themselves and the referral reaches triage.

axe-core (``axe-playwright-python``, WCAG 2.x A and AA) finds nothing on every page and state.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest

import models.self_referral
from api.portal.pages import LIST_PAGE
from infra.database import write_transaction
from infra.link_tokens import LinkSigner
from models.actions import (
    Allocation,
    DeclineReason,
    Discharge,
    DischargeReason,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.client_links import LinkPurpose, lifetime, purpose_code
from models.referral import SessionOutcome, Stage
from readmodel.practitioners import add_practitioner
from tests.factories import CLIENT_EMAIL, listed_referrals, submission
from tests.fixtures.api import ORG_A
from tests.fixtures.dashboard import Dashboard, screenshot
from tests.fixtures.smtp import SmtpServer
from tests.fixtures.temporal import TEST_PSEUDONYM_KEY
from tests.helpers import body, eventually, mails_for

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
LINK = re.compile(r"http://127\.0\.0\.1:8000(/c/[A-Za-z0-9_.-]+)")
ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")


async def no_axe_violations(page: Any, state: str) -> None:
    """axe-core finds nothing on the page as it is now."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    assert results.violations_count == 0, (state, results.generate_report())
    await screenshot(page, f"public-{state}")


async def tab_to(page: Any, element_id: str, limit: int = 80) -> None:
    """Move the focus with the Tab key alone until it is on ``element_id``."""
    for _ in range(limit):
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


async def tab_to_button(page: Any, text: str, limit: int = 40) -> None:
    """Move the focus with Tab alone until it is on the button whose text is ``text``."""
    for _ in range(limit):
        focused = await page.evaluate(
            "document.activeElement && document.activeElement.tagName === 'BUTTON'"
            " ? document.activeElement.textContent.trim() : null"
        )
        if focused == text:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached the button {text!r}")


def _client_link(smtp: SmtpServer, kind: str) -> str:
    mails = [m for m in mails_for(smtp, CLIENT_EMAIL) if m["X-Harbour-Kind"] == kind]
    assert mails, kind
    found = LINK.search(body(mails[-1]))
    assert found
    return found.group(1)


async def test_a_referrer_refers_by_keyboard_answers_a_question_and_reads_the_decision(
    dashboard: Dashboard, browser: Any
) -> None:
    api, h = dashboard.api, dashboard.h
    key = await api.key("referrer", organisation=ORG_A)
    context = await browser.new_context(viewport=PHONE, locale="en-GB")
    page = await context.new_page()
    async with h.worker():
        await page.goto(dashboard.link("/referrer"))
        assert page.url.endswith("/referrer/login")
        await no_axe_violations(page, "referrer-login")
        await page.fill("#api_key", "hbk_wrong")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".error-summary")
        await no_axe_violations(page, "referrer-login-error")
        await page.fill("#api_key", key)
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/referrer$"))
        await no_axe_violations(page, "referrer-list-empty")

        await page.goto(dashboard.link("/referrer/refer"))
        await no_axe_violations(page, "referrer-form")
        # First by keyboard with mistakes: the errors are summarised and linked.
        await tab_to(page, "client_name")
        await page.keyboard.type("Robin Quill")
        await tab_to_button(page, "Send the referral")
        await page.keyboard.press("Enter")
        await page.wait_for_selector(".error-summary")
        await no_axe_violations(page, "referrer-form-errors")
        await page.click(".error-summary a[href='#reason']")
        assert await page.evaluate("document.activeElement.id") == "reason"
        # Then completed by keyboard alone.
        await page.keyboard.type("Would like support to get out of the house again.")
        await tab_to(page, "client_email")
        await page.keyboard.type("robin.quill@example.org")
        await tab_to(page, "referrer_name")
        await page.keyboard.type("Dr Shore")
        await tab_to(page, "referrer_email")
        await page.keyboard.type("gp.referrals@harbourside-gp.example.org")
        await tab_to(page, "consent")
        await page.keyboard.press("Space")
        await tab_to_button(page, "Send the referral")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/referrer/referred/R[0-9A-Z]+$"))
        ref = page.url.rsplit("/", 1)[-1]
        assert ref in await page.inner_text(".reference")
        await no_axe_violations(page, "referrer-referred")

        await eventually(lambda: _stage_is(h, ref, Stage.TRIAGE))
        await h.act(
            ref,
            "triage",
            TriageDecision(
                outcome=TriageOutcome.REQUEST_INFORMATION,
                coordinator="c-1",
                question="Is there a safe number to text?",
            ),
        )
        await page.goto(dashboard.link(f"/referrer/referrals/{ref}"))
        assert "Is there a safe number to text?" in await page.inner_text("main")
        await no_axe_violations(page, "referrer-question")
        await page.fill("#answer", "Yes, the mobile number in the referral.")
        await page.click("text=Send your answer")
        await eventually(lambda: _stage_is(h, ref, Stage.TRIAGE))
        await h.act(
            ref,
            "triage",
            TriageDecision(
                outcome=TriageOutcome.DECLINE,
                coordinator="c-1",
                decline_reason=DeclineReason.OUT_OF_AREA,
                signposting="Quayside Wellbeing Hub",
            ),
        )
        await page.goto(dashboard.link(f"/referrer/referrals/{ref}"))
        decision = await page.inner_text("main")
        assert "outside the area" in decision and "Quayside Wellbeing Hub" in decision
        await no_axe_violations(page, "referrer-decision")
        await page.goto(dashboard.link("/referrer"))
        assert ref in await page.inner_text("main")
        await no_axe_violations(page, "referrer-list")

    # More than a page's worth (as the read model would hold them): the pager.
    async with write_transaction(h.session_factory) as session:
        session.add_all(listed_referrals(ORG_A, LIST_PAGE))
    await page.goto(dashboard.link("/referrer"))
    await no_axe_violations(page, "referrer-list-full")
    async with page.expect_navigation():
        await page.click("text=Older referrals")
    assert "RA000000000" in await page.inner_text("main")
    await no_axe_violations(page, "referrer-list-older")
    await context.close()


async def _stage_is(h: Any, ref: str, stage: Stage) -> bool:
    return (await h.state(ref)).stage == stage


async def test_a_client_answers_a_check_in_by_keyboard_fills_a_reqol_and_comes_back(
    dashboard: Dashboard, browser: Any, smtp_server: SmtpServer
) -> None:
    h = dashboard.h
    smtp_server.clear()
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    context = await browser.new_context(viewport=PHONE, locale="en-GB")
    page = await context.new_page()
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        await h.advance(timedelta(weeks=4, days=1))
        await eventually(
            lambda: any(
                m["X-Harbour-Kind"] == "checkin" for m in mails_for(smtp_server, CLIENT_EMAIL)
            )
        )
        checkin = dashboard.link(_client_link(smtp_server, "checkin"))
        await page.goto(checkin)
        await no_axe_violations(page, "client-checkin")
        await tab_to_button(page, "I am still waiting and want to stay on the list")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/done/still_waiting$"))
        await no_axe_violations(page, "client-checkin-done")
        await page.goto(checkin)
        await no_axe_violations(page, "client-checkin-used")
        await tab_to_button(page, "I need help now")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("text=Please call one of these now")
        assert "116 123" in await page.inner_text("main")
        await no_axe_violations(page, "client-help")
        await page.goto(dashboard.link("/c/not-a-real-link-at-all"))
        await no_axe_violations(page, "client-link-not-found")

        await h.act(ref, "allocate", Allocation(practitioner_id="p-ana", coordinator="c-1"))
        at = await h.env.get_current_time() + timedelta(days=2)
        await h.act(ref, "book_session", SessionBooking(at=at, location="the café"))
        await h.advance(timedelta(days=1, hours=1))
        await eventually(
            lambda: any(
                m["X-Harbour-Kind"] == "session_reminder"
                for m in mails_for(smtp_server, CLIENT_EMAIL)
            )
        )
        await page.goto(dashboard.link(_client_link(smtp_server, "session_reminder")))
        await no_axe_violations(page, "client-reqol")
        await page.click("text=Send my answers")
        await page.wait_for_selector(".error-summary")
        await no_axe_violations(page, "client-reqol-missing")
        for item in range(1, 11):
            await page.check(f"#q{item}-{item % 5}")
        await page.click("text=Send my answers")
        await page.wait_for_url(re.compile(r"/done/reqol$"))
        await no_axe_violations(page, "client-reqol-done")
        # An expired link's page (410) still offers help, through the link.
        with pytest.MonkeyPatch.context() as clock:
            made = time.time() - lifetime(LinkPurpose.CHECKIN).total_seconds() - 3600
            clock.setattr(time, "time", lambda: made)
            expired = LinkSigner(TEST_PSEUDONYM_KEY).make(
                purpose_code(LinkPurpose.CHECKIN), ref, "expiredpage00001"
            )
        ended = await page.goto(dashboard.link(f"/c/{expired}"))
        assert ended is not None and ended.status == 410
        assert await page.is_visible("button.button-help")
        await no_axe_violations(page, "client-link-ended")
        assert "reqol_recorded" in [e.kind for e in (await h.state(ref)).timeline]

        await h.act(ref, "record_session", SessionRecord(outcome=SessionOutcome.ATTENDED))
        await h.act(ref, "discharge", Discharge(reason=DischargeReason.COMPLETED, summary="done"))
        await eventually(
            lambda: any(
                m["X-Harbour-Kind"] == "discharge" for m in mails_for(smtp_server, CLIENT_EMAIL)
            )
        )
        await page.goto(dashboard.link(_client_link(smtp_server, "discharge")))
        await no_axe_violations(page, "client-come-back")
        await page.click("text=Yes, I would like to come back")
        await page.wait_for_url(re.compile(r"/done/come_back$"))
        await no_axe_violations(page, "client-come-back-done")

        async def second_episode() -> bool:
            return (await h.state(ref)).episode_number == 2

        await eventually(second_episode)
    await context.close()


async def test_a_self_referral_reaches_triage(
    dashboard: Dashboard, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The time check's minimum is for people; the browser here is quicker than any person.
    monkeypatch.setattr(models.self_referral, "MIN_FORM_SECONDS", 0.0)
    h = dashboard.h
    context = await browser.new_context(viewport=PHONE, locale="en-GB")
    page = await context.new_page()
    async with h.worker():
        await page.goto(dashboard.link("/refer-yourself"))
        await no_axe_violations(page, "self-referral")
        await page.click("text=Send")
        await page.wait_for_selector(".error-summary")
        await no_axe_violations(page, "self-referral-errors")
        await page.fill("#name", "Robin Quill")
        await page.fill("#phone", "07700 900461")
        await page.check("#channels-sms")
        await page.fill("#help_with", "I find it hard to leave the house.")
        await page.check("#consent")
        await page.click("button:text-is('Send')")
        await page.wait_for_url(re.compile(r"/refer-yourself/sent$"))
        await no_axe_violations(page, "self-referral-sent")

        async def in_triage() -> str | None:
            listed = await dashboard.api.get(
                "/v1/referrals?referrer_organisation=Self-referral",
                await dashboard.api.key("coordinator"),
            )
            items = listed.json()["items"]
            return items[0]["ref"] if items and items[0]["stage"] == "triage" else None

        ref = await eventually(in_triage)
        dashboard.api.started.ids.append(f"referral-{ref}")
    await context.close()
