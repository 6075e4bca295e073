"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright),
against the app on a real uvicorn, the time-skipping server with Harbour's worker, real SMTP
and SQLite: sign in, find a referral, triage, hold and allocate from the waiting list, watch
the timeline change, resolve an inbox message, see every chart drawn with data, read the dev
mailbox, sign out. A screenshot of each page goes to tests/screenshots/ for review."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from readmodel.practitioners import add_practitioner
from tests.factories import reqol
from tests.fixtures.api import ORG_A, ORG_B, Api
from tests.fixtures.dashboard import Dashboard, focus_lands_on, screenshot
from tests.fixtures.smtp import SmtpServer
from tests.helpers import eventually

# A tier of `make check` (and CI), not of `make test`: a real browser.
pytestmark = pytest.mark.slow

VIEWPORT = {"width": 1366, "height": 900}  # a laptop


def _client(n: int) -> dict[str, Any]:
    return {"client": {"email": f"client{n}@example.org", "phone": f"+4477009001{n:02d}"}}


def _sms(message: str, sender: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "source_number": sender.removeprefix("+"),
        "destination_number": "07700900000",
        "message": message,
        "date_received": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


async def _in_triage(api: Api, key: str, ref: str) -> bool:
    return bool((await api.get(f"/v1/referrals/{ref}", key)).json()["stage"] == "triage")


async def _chart_values(page: Any, scope: str = "main") -> list[float]:
    """The data values drawn in the SVG charts on the page."""
    values = await page.eval_on_selector_all(
        f"{scope} svg.chart [data-value]", "marks => marks.map(m => m.dataset.value)"
    )
    return [float(v) for v in values]


async def test_a_coordinator_runs_the_pathway_from_the_dashboard(
    dashboard: Dashboard, browser: Any, smtp_server: SmtpServer
) -> None:
    api, h = dashboard.api, dashboard.h
    smtp_server.clear()
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    await add_practitioner(h.session_factory, "p-ben", "Ben Okafor", "ben@harbour.example", 2)
    referrer = await api.key("referrer", organisation=ORG_A)
    other_referrer = await api.key("referrer", organisation=ORG_B)
    practitioner = await api.key("practitioner", practitioner="p-ana")
    gateway = await api.key("gateway")
    coordinator = await api.key("coordinator", label="c-dana")
    helper = await api.key("coordinator", label="c-api")

    context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")
    page = await context.new_page()
    async with h.worker():
        routine = await api.refer(referrer, **_client(1))
        soon = await api.refer(referrer, urgency="soon", **_client(2))
        urgent = await api.refer(referrer, urgency="urgent", **_client(3))
        later = await api.refer(referrer, **_client(4))
        unsuitable = await api.refer(other_referrer, **_client(5))
        for ref in (routine, soon, urgent, later, unsuitable):
            await eventually(lambda ref=ref: _in_triage(api, helper, ref), timeout=20)

        # --- sign in: no session leads to the login page; a coordinator key opens it
        await page.goto(dashboard.link("/dashboard"))
        assert page.url.endswith("/dashboard/login")
        await focus_lands_on(page, "#api_key")  # autofocus lands a rendering step after load
        await screenshot(page, "01-login")
        await page.fill("#api_key", coordinator)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/dashboard")
        assert await page.inner_text("h1") == "Overview"
        assert "Signed in as c-dana" in await page.inner_text("header")
        # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.className") == "skip-link"
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "content"

        # --- find a referral and triage it: accept
        await page.fill("#find-ref", routine.lower())
        await page.press("#find-ref", "Enter")
        await page.wait_for_url(f"**/dashboard/referrals/{routine}")
        assert "Triage" in await page.inner_text(".head-tags")
        temporal = await page.get_attribute("a[href*='/workflows/']", "href")
        assert temporal is not None and temporal.endswith(
            f"/namespaces/default/workflows/referral-{routine}"
        )
        assert await page.locator("form[action$='/allocate']").count() == 0  # not yet
        await screenshot(page, "03-referral-triage")
        await page.check("#outcome-accept")
        await page.click("text=Record triage")
        await page.wait_for_selector(".flash-ok")
        assert "accepted" in await page.inner_text(".flash-ok")
        assert await page.inner_text("#timeline tbody tr:first-child th") == (
            "Accepted onto the waiting list"
        )
        assert "Waiting" in await page.inner_text(".head-tags")

        # --- decline another, with a reason and signposting for the referrer
        await page.goto(dashboard.link(f"/dashboard/referrals/{unsuitable}"))
        await page.check("#outcome-decline")
        await page.select_option("#decline_reason", "out_of_area")
        await page.fill("#signposting", "Their local recovery college")
        await page.click("text=Record triage")
        await page.wait_for_load_state()
        await page.wait_for_selector(".flash-ok")
        assert "Closed" in await page.inner_text(".head-tags")
        assert await page.locator("form[action$='/triage']").count() == 0
        for ref in (soon, urgent, later):
            response = await api.post(
                f"/v1/referrals/{ref}/triage", helper, json={"outcome": "accept"}
            )
            assert response.status_code == 200, response.text

        # --- the waiting list, in allocation order: urgent, soon, then the longest wait
        await page.click("nav.site-nav >> text=Waiting list")
        # A click waits only for the next page to start loading: counting rows (or reading
        # the charts) at once may see a page not yet parsed whole. So wait for its load.
        await page.wait_for_load_state()
        rows = page.locator("#waiting-list tbody tr")
        assert await rows.count() == 4
        order = [await rows.nth(i).get_attribute("data-ref") for i in range(4)]
        assert order == [urgent, soon, routine, later]
        await screenshot(page, "04-waiting-list")
        # Hold one back, then allocate the first to p-ana.
        await page.check(f"#tick-{later}")
        await page.select_option("#act-reason", "client_unavailable")
        await page.click("button[value=hold]")
        await page.wait_for_selector(".flash-ok")
        assert "Held client unavailable" in (
            await page.inner_text(f"#waiting-list tr[data-ref='{later}']")
        ).replace(":", "")
        await page.check(f"#tick-{urgent}")
        await page.select_option("#act-practitioner", "p-ana")
        await page.click("button[value=allocate]")
        await page.wait_for_load_state()
        await page.wait_for_selector(".flash-ok")
        assert f"Allocated to p-ana: {urgent}" in await page.inner_text(".flash-ok")
        assert await page.locator(f"#waiting-list tr[data-ref='{urgent}']").count() == 0

        # --- the referral's timeline changed; letters are subjects only
        await page.goto(dashboard.link(f"/dashboard/referrals/{urgent}"))
        assert "Allocated" in await page.inner_text(".head-tags")
        first_event = await page.inner_text("#timeline tbody tr:first-child")
        assert "Allocated" in first_event and "p-ana" in first_event
        letters = await page.inner_text("#letters")
        assert "client" in letters and urgent in letters
        await screenshot(page, "05-referral-allocated")

        # --- an episode, recorded by the practitioner over the API, then discharge
        base = f"/v1/referrals/{urgent}"
        responses = [
            await api.post(
                f"{base}/session-records",
                practitioner,
                json={"outcome": "attended", "liaison": ["housing", "benefits"]},
            ),
            await api.post(
                f"{base}/reqol",
                practitioner,
                json={"when": "baseline", "responses": {str(k): v for k, v in reqol(12).items()}},
            ),
            await api.post(
                f"{base}/session-records",
                practitioner,
                json={"outcome": "attended", "liaison": ["community_group"]},
            ),
            await api.post(
                f"{base}/reqol",
                practitioner,
                json={"when": "end", "responses": {str(k): v for k, v in reqol(30).items()}},
            ),
            await api.post(
                f"{base}/discharge",
                practitioner,
                json={"reason": "completed", "summary": "went well"},
            ),
        ]
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]

        # --- thirteen weeks pass: breaches, check-ins, the validation queue; then a return
        await h.advance(timedelta(weeks=13))
        await h.settle()
        returned = await api.post(
            "/v1/messages/inbound", gateway, json=_sms("RETURN", _client(3)["client"]["phone"])
        )
        assert returned.status_code == 202
        await eventually(lambda: _reallocated(api, helper, urgent), timeout=20)
        # Messages for the inbox: an unknown number's question, then a waiting client's crisis.
        for body, sender in (
            ("Hello, is this the recovery service? Can someone ring me?", "+447700900778"),
            ("I can't go on, I want to end it all tonight", _client(2)["client"]["phone"]),
        ):
            response = await api.post("/v1/messages/inbound", gateway, json=_sms(body, sender))
            assert response.status_code == 202

        await eventually(lambda: _inbox_has_crisis(api, helper), timeout=20)

        # --- inbox: crisis first and marked; resolve it with a note
        await page.click("nav.site-nav >> text=Inbox")
        await page.wait_for_load_state()
        messages = page.locator("#inbox > li")
        assert await messages.count() == 2
        assert "message-crisis" in (await messages.nth(0).get_attribute("class") or "")
        assert "Crisis" in await messages.nth(0).inner_text()
        assert "end it all" in await messages.nth(0).inner_text()
        assert "message-crisis" not in (await messages.nth(1).get_attribute("class") or "")
        await screenshot(page, "06-inbox")
        crisis_id = await messages.nth(0).get_attribute("data-id")
        await page.fill(f"#note-{crisis_id}", "Rang back; safety plan agreed; GP informed")
        await page.click(f"li[data-id='{crisis_id}'] button:text('Resolve')")
        await page.wait_for_load_state()
        await page.wait_for_selector(".flash-ok")
        assert await page.locator("#inbox > li").count() == 1
        assert "safety plan agreed" in await page.inner_text("#resolved-h + .table-scroll table")

        # --- caseloads
        await page.click("nav.site-nav >> text=Caseloads")
        ana = await page.inner_text("#caseloads tr[data-practitioner='p-ana']")
        assert "Ana Lowry" in ana
        assert (
            await page.locator("#caseloads tr[data-practitioner='p-ana'] td").nth(1).inner_text()
        ) == "1"
        await screenshot(page, "07-caseloads")

        # --- the waiting list after thirteen weeks: breaches and the validation queue
        await page.goto(dashboard.link("/dashboard/waiting-list?breach=yes"))
        assert await page.locator("#waiting-list tbody tr .flag-breach").count() == 3
        await page.goto(dashboard.link("/dashboard/waiting-list?validation=yes"))
        validation = page.locator("#waiting-list tbody tr[data-ref]")
        assert await validation.count() >= 1
        assert await page.locator("#waiting-list tbody tr[data-ref] .flag-validation").count() == (
            await validation.count()
        )
        await screenshot(page, "04b-waiting-list-validation")

        # --- reports: every chart is drawn, with data
        await page.click("nav.site-nav >> text=Reports")
        await page.wait_for_load_state()
        assert sum(await _chart_values(page)) > 0
        assert await page.locator("svg.chart line.marker").count() >= 3  # standard, median, p90
        await screenshot(page, "08-reports-waits")
        await page.click("nav.tabs >> text=Referrers")
        referrers = await page.inner_text("#referrers")
        assert ORG_B in referrers and "out of area" in referrers
        await screenshot(page, "09-reports-referrers")
        await page.click("nav.tabs >> text=Outcomes and liaison")
        await page.wait_for_load_state()
        assert (
            sum(await _chart_values(page, "#liaison-h ~ figure")) == 3
        )  # housing, benefits, group
        assert [v for v in await _chart_values(page, "#outcomes-h ~ div") if v > 0]
        await screenshot(page, "10-reports-outcomes")
        await page.click("nav.tabs >> text=Re-entry")
        await page.wait_for_load_state()
        assert sum(await _chart_values(page)) >= 1
        assert "100%" in await page.inner_text(".stats")
        await screenshot(page, "11-reports-reentry")

        # --- the overview, with its charts and the counts as links
        await page.click("nav.site-nav >> text=Overview")
        await page.wait_for_load_state()
        assert sum(await _chart_values(page, "#demand ~ figure")) > 0
        assert sum(await _chart_values(page, "#length ~ figure")) > 0
        tiles = await page.inner_text(".tiles")
        assert "1\nin the inbox" in tiles and "crisis" not in tiles
        await screenshot(page, "02-overview")
        await page.click(".tiles a[href$='validation=yes']")
        await page.wait_for_url("**/waiting-list?validation=yes")

    # --- the dev mailbox shows what the SMTP sink received
    mailbox = h.settings.mailbox_dir
    mailbox.mkdir(parents=True, exist_ok=True)
    for n, message in enumerate(smtp_server.messages):
        (mailbox / f"20260101T0000{n:08d}Z-{n:08x}.eml").write_bytes(bytes(message))
    await page.goto(dashboard.link("/dashboard/mailbox"))
    assert await page.locator("#mailbox tbody tr").count() == min(len(smtp_server.messages), 50)
    await screenshot(page, "12-mailbox")
    await page.click("#mailbox tbody tr:first-child a")
    assert await page.inner_text("pre.mail-text")
    await screenshot(page, "13-mail")

    # --- sign out: the session is gone
    await page.click("text=Sign out")
    await page.wait_for_url("**/dashboard/login")
    assert "signed out" in await page.inner_text(".flash-ok")
    await page.goto(dashboard.link("/dashboard/inbox"))
    assert page.url.endswith("/dashboard/login")
    await context.close()


async def _inbox_has_crisis(api: Api, key: str) -> bool:
    items = (await api.get("/v1/inbox", key)).json()
    return len(items) == 2 and bool(items[0]["crisis"])


async def _reallocated(api: Api, key: str, ref: str) -> bool:
    view = (await api.get(f"/v1/referrals/{ref}", key)).json()
    return bool(view["episode_number"] == 2 and view["stage"] == "allocated")
