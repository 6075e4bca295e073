"""A coordinator's day in a real Chromium, by keyboard only (Tab, Shift+Tab, Enter, Space, arrow
keys; no clicks): sign in, find a client by name, read who they are and why they were referred,
triage (the error summary, the choice kept), allocate, and handle a crisis message from the
overview to its acknowledgement. axe-core (``axe-playwright-python``) checks every coordinator
page in each state it is met in — empty, full, with an error, the 503 and 500 pages — at
1366 px, 390 px and 200 % zoom (683 CSS px), with zero violations and no page wider than the
screen. Screenshots of each go to tests/screenshots/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from sqlalchemy import select, text

from models.tables import InboundMessageRow, OutcomeRow
from readmodel import reports
from readmodel.practitioners import add_practitioner
from tests.factories import reqol
from tests.fixtures.api import ORG_A, Api
from tests.fixtures.dashboard import Dashboard, focus_lands_on, screenshot
from tests.fixtures.smtp import SmtpServer
from tests.helpers import eventually

# A tier of `make check` (and CI), not of `make test`: a real browser.
pytestmark = pytest.mark.slow

# 200 % zoom of a 1366 px laptop screen is a 683 CSS px wide viewport.
VIEWPORTS = {"1366": (1366, 900), "390": (390, 844), "zoom200": (683, 450)}
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
    },
    "resultTypes": ["violations"],
}
HANNAH = {"name": "Hannah Lee", "phone": "+447700900201", "email": "hl@example.org"}
CATHERINE = {"name": "Catherine Hanna", "phone": "+447700900202", "email": "ch@example.org"}
SAM = {"name": "Sam Okafor", "phone": "+447700900203", "email": "so@example.org"}
URGENT = {"name": "Ola Nowak", "phone": "+447700900204", "email": "on@example.org"}
JO = {"name": "Jo Brennan", "phone": "+447700900205", "email": "jb@example.org"}
_axe = Axe()
# The elements that reach past the right edge (outermost first), to say what is too wide.
WIDEST = """w => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-scroll'))
  .slice(0, 6)
  .map(e => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)"""


async def check_page(page: Any, name: str) -> None:
    """axe finds nothing at each viewport, the page is never wider than the screen, and a
    screenshot of each is saved."""
    for label, (width, height) in VIEWPORTS.items():
        await page.set_viewport_size({"width": width, "height": height})
        results = await _axe.run(page, options=AXE_OPTIONS)
        assert results.violations_count == 0, f"{name} at {label}:\n{results.generate_report()}"
        scroll_width = await page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            wide = await page.evaluate(WIDEST, width)
            raise AssertionError(f"{name} at {label} is {scroll_width} px wide: {wide}")
        await screenshot(page, f"coord-{name}-{label}")
    await page.set_viewport_size({"width": 1366, "height": 900})


async def focused(page: Any, selector: str) -> bool:
    """Whether the element with focus matches ``selector``."""
    return bool(
        await page.evaluate(
            "s => !!document.activeElement && document.activeElement.matches(s)", selector
        )
    )


async def tab_to(page: Any, selector: str, limit: int = 120) -> None:
    """Press Tab until the element matching ``selector`` has focus."""
    for _ in range(limit):
        if await focused(page, selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


async def press_enter_on(page: Any, selector: str) -> None:
    """Tab to ``selector`` and press Enter, waiting for the page it leads to."""
    await tab_to(page, selector)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


def _sms(message: str, sender: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "source_number": sender.removeprefix("+"),
        "destination_number": "07700900000",
        "message": message,
        "date_received": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


async def _stage(api: Api, key: str, ref: str) -> str:
    return str((await api.get(f"/v1/referrals/{ref}", key)).json()["stage"])


async def test_a_coordinator_triages_allocates_and_handles_a_crisis_by_keyboard(
    dashboard: Dashboard, browser: Any, smtp_server: SmtpServer
) -> None:
    api, h = dashboard.api, dashboard.h
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    referrer = await api.key("referrer", organisation=ORG_A)
    gateway = await api.key("gateway")
    coordinator = await api.key("coordinator", label="c-dana")
    helper = await api.key("coordinator", label="c-api")
    context = await browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="en-GB", bypass_csp=True
    )
    page = await context.new_page()
    async with h.worker():
        # --- signing in, by keyboard: the key field has focus; Enter signs in
        await page.goto(dashboard.link("/dashboard"))
        await check_page(page, "login")
        await focus_lands_on(page, "#api_key")
        await page.keyboard.type(coordinator)
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert await page.inner_text("h1") == "Overview"

        # --- empty: every page before there is anything to show
        for path, name in (
            ("/dashboard", "overview-empty"),
            ("/dashboard/waiting-list", "waiting-list-empty"),
            ("/dashboard/referrals", "referrals-empty"),
            ("/dashboard/caseloads", "caseloads-empty"),
            ("/dashboard/caseloads/p-ana", "caseload-practitioner-empty"),
            ("/dashboard/inbox", "inbox-empty"),
            ("/dashboard/reports", "report-waits-empty"),
            ("/dashboard/reports/referrers", "report-referrers-empty"),
            ("/dashboard/reports/outcomes", "report-outcomes-empty"),
            ("/dashboard/reports/reentry", "report-reentry-empty"),
            ("/dashboard/mailbox", "mailbox-empty"),
            ("/dashboard/referrals?ref=Nobody", "search-nothing-found"),
            ("/dashboard/no/such/page", "not-found"),
            ("/dashboard/referrals/R0000000000", "referral-not-found"),
        ):
            await page.goto(dashboard.link(path))
            await check_page(page, name)
        assert "Sign out" in await page.inner_text("header")  # the error page's normal header

        hannah = await api.refer(referrer, client=HANNAH)
        catherine = await api.refer(referrer, client=CATHERINE)
        sam = await api.refer(referrer, client=SAM)
        urgent = await api.refer(referrer, urgency="urgent", client=URGENT)
        for ref in (hannah, catherine, sam, urgent):
            await eventually(lambda ref=ref: _triage(api, helper, ref), timeout=20)

        # --- find a client by a misspelt name, by keyboard: both Hannah and Catherine Hanna
        await page.goto(dashboard.link("/dashboard"))
        await tab_to(page, "#find-ref")
        await page.keyboard.type("Hanna")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "Hanna" not in page.url  # posted: a name never sits in an address
        found = await page.inner_text("#referrals tbody")
        assert hannah in found and catherine in found and sam not in found
        assert "Hannah Lee" in found and "Catherine Hanna" in found  # named, to choose between
        await check_page(page, "search-results")

        # --- Hannah's page: who she is and why she was referred; no decision chosen
        await press_enter_on(page, f"a[href='/dashboard/referrals/{hannah}']")
        person = await page.inner_text(".person")
        assert "Hannah Lee" in person and HANNAH["phone"] in person and "Dr Sam Patel" in person
        assert "CLINICAL-MARKER" in person  # the reason, decrypted for display
        assert await page.locator("#triage input[name=outcome]:checked").count() == 0
        assert not await page.is_visible("#decline_reason")
        assert not await page.is_visible("#question")
        await check_page(page, "referral-triage")

        # Nothing chosen: the error summary, in a coordinator's words, has focus.
        await press_enter_on(page, "#triage button[type=submit]")
        await focus_lands_on(page, ".error-summary")
        summary = await page.inner_text(".error-summary")
        assert "Choose a decision" in summary and "outcome" not in summary
        assert await page.get_attribute(".error-summary a", "href") == "#outcome-accept"
        await check_page(page, "referral-triage-error")
        # Accept: Tab into the radios (the first has focus), Space chooses it, then submit.
        await tab_to(page, "#outcome-accept")
        await page.keyboard.press("Space")
        await press_enter_on(page, "#triage button[type=submit]")
        await focus_lands_on(page, ".flash-ok")
        assert "accepted" in await page.inner_text(".flash-ok")
        assert "Accepted onto the waiting list" in await page.inner_text("#timeline")

        # --- Catherine: decline, first without a reason (the choice is kept), then with one
        await page.goto(dashboard.link(f"/dashboard/referrals/{catherine}"))
        await tab_to(page, "#outcome-accept")
        await page.keyboard.press("ArrowDown")  # moves to, and chooses, "decline"
        assert await page.is_checked("#outcome-decline")
        assert await page.is_visible("#decline_reason") and not await page.is_visible("#question")
        await press_enter_on(page, "#triage button[type=submit]")
        assert "Choose why the referral is declined" in await page.inner_text(".error-summary")
        assert await page.is_checked("#outcome-decline")
        await check_page(page, "referral-decline-error")
        await tab_to(page, "#decline_reason")
        await page.keyboard.press("ArrowDown")
        assert await page.eval_on_selector("#decline_reason", "s => s.value") != ""
        await tab_to(page, "#signposting")
        await page.keyboard.type("Their local recovery college")
        await press_enter_on(page, "#triage button[type=submit]")
        assert "declined" in await page.inner_text(".flash-ok")

        # --- Sam accepted (through the API); the page and the list agree on where he stands
        accepted = await api.post(f"/v1/referrals/{sam}/triage", helper, json={"outcome": "accept"})
        assert accepted.status_code == 200, accepted.text
        # An urgent referral accepted after Sam goes ahead of him: his workflow saved "2 of 2"
        # at acceptance; the list (and so every page) says 3 of 3 now.
        accepted = await api.post(
            f"/v1/referrals/{urgent}/triage", helper, json={"outcome": "accept"}
        )
        assert accepted.status_code == 200, accepted.text
        await page.goto(dashboard.link(f"/dashboard/referrals/{sam}"))
        on_page = await page.inner_text("#position")
        assert on_page == "3 of 3"
        estimate = await page.inner_text("#estimate")
        await check_page(page, "referral-waiting")
        await page.goto(dashboard.link("/dashboard/waiting-list"))
        row = page.locator(f"#waiting-list tr[data-ref='{sam}']")
        total = (await page.inner_text(".lead")).split(" waiting")[0]
        assert on_page == f"{await row.locator('td.num').first.inner_text()} of {total}"
        assert estimate == await row.locator("td.nowrap").nth(1).inner_text()
        # The API says the same (not what the workflow saved at acceptance).
        through_api = (await api.get(f"/v1/referrals/{sam}", helper)).json()
        assert on_page == f"{through_api['position']} of {through_api['waiting_total']}"

        # --- allocate Hannah from her page, by keyboard
        await page.goto(dashboard.link(f"/dashboard/referrals/{hannah}"))
        await tab_to(page, "#practitioner_id")
        await press_enter_on(page, "form[action$='/allocate'] button[type=submit]")
        assert "allocated to p-ana" in await page.inner_text(".flash-ok")
        await eventually(lambda: _is(api, helper, hannah, "allocated"), timeout=20)

        # --- a crisis message from Sam: first on the overview, flagged on every row, a banner
        sent = await api.post(
            "/v1/messages/inbound", gateway, json=_sms("I want to kill myself", SAM["phone"])
        )
        assert sent.status_code == 202
        await eventually(lambda: _crisis_open(h, sam), timeout=20)
        await page.goto(dashboard.link("/dashboard"))
        first = page.locator("main > section").first
        assert await first.get_attribute("id") == "crisis"
        assert sam in await first.inner_text()
        await check_page(page, "overview-crisis")
        await page.goto(dashboard.link("/dashboard/waiting-list"))
        assert "Crisis message" in await page.inner_text(f"#waiting-list tr[data-ref='{sam}']")
        await check_page(page, "waiting-list-full")
        await page.goto(dashboard.link("/dashboard/referrals"))
        assert "Crisis message" in await page.inner_text(
            "#referrals tbody tr:has(a:text('" + sam + "'))"
        )
        await check_page(page, "referrals-full")
        await page.goto(dashboard.link("/dashboard/inbox"))
        message = page.locator("#inbox > li").first
        text = await message.inner_text()
        assert SAM["phone"] in text and " ago" in text and "Nobody has taken this yet" in text
        assert "Harbour’s reading: no request Harbour acts on" in text  # words, not "other"
        # Take it, by keyboard: the owner is shown to everyone.
        await press_enter_on(page, "#inbox form.claim button")
        assert "Taken by c-dana" in await page.inner_text("#inbox > li")
        await check_page(page, "inbox-full")

        # From the overview to Sam's page and the acknowledgement, by keyboard.
        await page.goto(dashboard.link("/dashboard"))
        await press_enter_on(page, f"#crisis a[href='/dashboard/referrals/{sam}']")
        banner = await page.inner_text(".crisis-banner")
        assert "I want to kill myself" in banner
        assert await page.locator("form[action$='/withdrawal']").count() == 0
        await check_page(page, "referral-crisis")
        await tab_to(page, ".crisis-banner textarea")
        await page.keyboard.type("Rang Sam; safety plan agreed; GP told")
        await press_enter_on(page, ".crisis-banner button[type=submit]")
        assert "acknowledged" in await page.inner_text(".flash-ok")
        assert await page.locator(".crisis-banner").count() == 0
        async with h.session_factory() as session:
            row_ = (
                await session.execute(select(InboundMessageRow).where(InboundMessageRow.ref == sam))
            ).scalar_one()
        assert row_.crisis_acknowledged_by == "c-dana"
        assert row_.crisis_acknowledgement_note and "safety" not in row_.crisis_acknowledgement_note

        # --- caseloads: each practitioner's clients, linked, by keyboard
        await page.goto(dashboard.link("/dashboard/caseloads"))
        await press_enter_on(page, "a[href='/dashboard/caseloads/p-ana']")
        assert await page.locator(f"#caseload a[href='/dashboard/referrals/{hannah}']").count()
        await check_page(page, "caseload-practitioner")

        # --- the dev mailbox: what the SMTP sink would have written (as the sink names files)
        await eventually(lambda: _any_mail(smtp_server), timeout=20)
        mailbox = h.settings.mailbox_dir
        mailbox.mkdir(parents=True, exist_ok=True)
        for n, message in enumerate(smtp_server.messages):
            (mailbox / f"20260101T0000{n:08d}Z-{n:08x}.eml").write_bytes(bytes(message))

        # --- full: the other pages once there is something on them
        for path, name in (
            (f"/dashboard/referrals/{hannah}", "referral-allocated"),
            (f"/dashboard/referrals/{catherine}", "referral-closed"),
            ("/dashboard/caseloads", "caseloads-full"),
            ("/dashboard/reports", "report-waits-full"),
            ("/dashboard/reports/referrers", "report-referrers-full"),
            ("/dashboard/mailbox", "mailbox-full"),
        ):
            await page.goto(dashboard.link(path))
            await check_page(page, name)
        # One email of the dev mailbox, reached from the list.
        first_mail = page.locator("#mailbox tbody a").first
        await first_mail.wait_for()
        await page.goto(dashboard.link(str(await first_mail.get_attribute("href"))))
        await check_page(page, "mail-one")

        # --- asked for more: a fifth referral, its referrer asked a question
        asked = await api.refer(referrer, client=JO)
        await eventually(lambda: _triage(api, helper, asked), timeout=20)
        question = {"outcome": "request_information", "question": "Any recent change of GP?"}
        posted = await api.post(f"/v1/referrals/{asked}/triage", helper, json=question)
        assert posted.status_code == 200, posted.text
        await page.goto(dashboard.link(f"/dashboard/referrals/{asked}"))
        assert "information" in (await page.inner_text("main")).lower()
        await check_page(page, "referral-information-requested")

        # --- in episode: Hannah's practitioner books and records a session, both measures
        ana = await api.key("practitioner", practitioner="p-ana")
        at = (await h.env.get_current_time()) + timedelta(days=2)
        booked = await api.post(
            f"/v1/referrals/{hannah}/sessions", ana, json={"at": at.isoformat(), "location": "GP"}
        )
        assert booked.status_code == 200, booked.text
        record = {
            "session_id": booked.json()["booked_sessions"][0]["session_id"],
            "outcome": "attended",
            "liaison": ["housing", "benefits"],
        }
        recorded = await api.post(f"/v1/referrals/{hannah}/session-records", ana, json=record)
        assert recorded.json()["stage"] == "in_episode", recorded.text
        for when, total in (("baseline", 12), ("end", 30)):
            responses = {str(item): answer for item, answer in reqol(total).items()}
            measured = await api.post(
                f"/v1/referrals/{hannah}/reqol", ana, json={"when": when, "responses": responses}
            )
            assert measured.status_code == 200, measured.text
        await page.goto(dashboard.link(f"/dashboard/referrals/{hannah}"))
        await check_page(page, "referral-sessions")

        # --- discharged, then back by a text of her own: the outcomes and re-entry reports
        ended = {"reason": "completed", "summary": "Goals met"}
        discharged = await api.post(f"/v1/referrals/{hannah}/discharge", ana, json=ended)
        assert discharged.json()["stage"] == "discharged", discharged.text
        await eventually(lambda: _has_outcome(h), timeout=20)
        await page.goto(dashboard.link(f"/dashboard/referrals/{hannah}"))
        await check_page(page, "referral-discharged")
        await page.goto(dashboard.link("/dashboard/reports/outcomes"))
        assert "Episodes ended\n1" in await page.inner_text(".stats")
        await check_page(page, "report-outcomes-full")
        back = _sms("Hello, can I come back please?", HANNAH["phone"])
        assert (await api.post("/v1/messages/inbound", gateway, json=back)).status_code == 202
        await eventually(lambda: _returned(h), timeout=20)
        await page.goto(dashboard.link("/dashboard/reports/reentry"))
        assert "1 / 1" in await page.inner_text(".stats")
        await check_page(page, "report-reentry-full")

    # --- errors. 503: no worker answers the referral's query (the API's query timeout).
    response = await page.goto(dashboard.link(f"/dashboard/referrals/{sam}"))
    assert response is not None and response.status == 503
    assert "Sign out" in await page.inner_text("header")
    await check_page(page, "error-503")
    # 500: the database breaks under a page (its table renamed away, then back): the real
    # DashboardRoute error path, no route added for the test.
    await _rename_table(h, "outcomes", "outcomes_away")
    try:
        response = await page.goto(dashboard.link("/dashboard/reports/outcomes"))
        assert response is not None and response.status == 500
        assert await page.inner_text("h1") == "Something went wrong"
        await check_page(page, "error-500")
    finally:
        await _rename_table(h, "outcomes_away", "outcomes")
    await context.close()


async def _triage(api: Api, key: str, ref: str) -> bool:
    return await _stage(api, key, ref) == "triage"


async def _is(api: Api, key: str, ref: str, stage: str) -> bool:
    return await _stage(api, key, ref) == stage


async def _any_mail(smtp_server: SmtpServer) -> bool:
    return bool(smtp_server.messages)


async def _has_outcome(h: Any) -> bool:
    # Anonymised rows (no ref): Hannah's is the only episode that has ended.
    async with h.session_factory() as session:
        return (await session.execute(select(OutcomeRow.pseudonym))).first() is not None


async def _returned(h: Any) -> bool:
    async with h.session_factory() as session:
        return (await reports.reentry(session)).returned >= 1


async def _rename_table(h: Any, old: str, new: str) -> None:
    async with h.session_factory() as session:
        await session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
        await session.commit()


async def _crisis_open(h: Any, ref: str) -> bool:
    async with h.session_factory() as session:
        found = await session.execute(
            select(InboundMessageRow.id).where(
                InboundMessageRow.ref == ref, InboundMessageRow.crisis.is_(True)
            )
        )
        return found.first() is not None
