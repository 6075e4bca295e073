"""A practitioner's booked sessions on the coordinators' caseload page (the ASGI app over the
time-skipping server, SQLite and Harbour's worker): the same diary the practitioner sees in
their workspace (``services.practice.caseload_and_diary``), only on that practitioner's page,
each look at a client's name audited as the coordinator's; and with no worker to answer, the
page still shows the clients and says plainly that sessions cannot be shown now. The slow
test checks both states with axe-core in Chromium."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe

from models.actions import SessionBooking
from readmodel.practitioners import add_practitioner
from readmodel.read_audit import accesses
from tests.fixtures.api import ORG_A, Api
from tests.fixtures.dashboard import Dashboard, allocated, screenshot, sign_in

CLIENT_NAME = "Hannah Whitlock"
PLACE = "the café on the harbour"
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}


def _diary(page: str) -> str:
    section = re.search(r'<section class="card" aria-labelledby="diary-h".*?</section>', page, re.S)
    assert section is not None, "no diary on the page"
    return html.unescape(section.group(0))


async def test_a_booked_session_shows_on_its_practitioners_caseload_page_only(
    dash: Api,
) -> None:
    api = dash
    for pid, name in (("p-ana", "Ana Lowry"), ("p-ben", "Ben Okafor")):
        await add_practitioner(api.h.session_factory, pid, name, f"{pid}@harbour.example", 5)
    coordinator = await api.key("coordinator", label="c-dana")
    referrer = await api.key("referrer", organisation=ORG_A)
    ana = await api.key("practitioner", practitioner="p-ana", label="p-ana")
    ana_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app), base_url="http://testserver"
    )
    async with api.h.worker(), ana_http:
        ref = await allocated(api, coordinator, referrer, "p-ana", client={"name": CLIENT_NAME})
        when = await api.h.env.get_current_time() + timedelta(days=2)
        await api.h.act(ref, "book_session", SessionBooking(at=when, location=PLACE))
        assert (await sign_in(api.http, coordinator)).status_code == 303

        page = await api.http.get("/dashboard/caseloads/p-ana")
        assert page.status_code == 200, page.text
        diary = _diary(page.text)
        assert 'id="diary-later"' in diary  # two days ahead: coming up
        assert PLACE in diary and CLIENT_NAME in diary
        assert f'href="/dashboard/referrals/{ref}"' in diary
        assert "cannot be shown" not in diary
        # The clients' table names the client too (the same audited look).
        assert CLIENT_NAME in page.text.split('id="caseload"')[1].split("</table>")[0]

        # The same sessions the practitioner sees in their own workspace: one implementation.
        assert (await sign_in(ana_http, ana)).status_code == 303
        workspace = await ana_http.get("/dashboard/practice")
        assert PLACE in html.unescape(workspace.text)
        sessions = set(re.findall(r'data-session="([^"]+)"', workspace.text))
        assert sessions and sessions == set(re.findall(r'data-session="([^"]+)"', diary))

        # Another practitioner's page does not show it.
        other = await api.http.get("/dashboard/caseloads/p-ben")
        assert other.status_code == 200
        assert "No sessions booked" in _diary(other.text)
        assert PLACE not in html.unescape(other.text) and CLIENT_NAME not in other.text
        assert ref not in other.text

        # The look at the client's name was recorded as the coordinator's.
        async with api.h.session_factory() as session:
            looks = await accesses(session, ref, limit=50)
        assert any(a.actor == "c-dana" and a.through.value == "dashboard" for a in looks.items)


async def test_with_no_worker_the_caseload_page_shows_clients_and_says_sessions_cannot(
    dash: Api,
) -> None:
    api = dash
    await add_practitioner(api.h.session_factory, "p-ana", "Ana Lowry", "a@harbour.example", 5)
    coordinator = await api.key("coordinator", label="c-dana")
    referrer = await api.key("referrer", organisation=ORG_A)
    async with api.h.worker():
        ref = await allocated(api, coordinator, referrer, "p-ana", client={"name": CLIENT_NAME})
    assert (await sign_in(api.http, coordinator)).status_code == 303
    context = api.app.state.harbour
    # No worker runs now: the workflow's queries wait until this bound, then the page goes on.
    context.api_settings = context.api_settings.model_copy(update={"query_timeout_seconds": 0.5})

    page = await api.http.get("/dashboard/caseloads/p-ana")
    assert page.status_code == 200, page.text
    assert f'href="/dashboard/referrals/{ref}"' in page.text  # the clients, from the read model
    diary = _diary(page.text)
    assert 'id="diary-unavailable"' in diary and "cannot be shown just now" in diary
    assert "No sessions booked" not in diary


@pytest.mark.slow
async def test_the_caseload_page_with_its_diary_passes_axe_in_chromium(
    dashboard: Dashboard, browser: Any
) -> None:
    """axe-core (WCAG 2.0-2.2 A and AA) finds nothing on the page with a booked session and
    with the note that sessions cannot be shown, at 1366 px and 390 px, and it is never wider
    than the screen."""
    api = dashboard.api
    await add_practitioner(api.h.session_factory, "p-ana", "Ana Lowry", "a@harbour.example", 5)
    coordinator = await api.key("coordinator", label="c-dana")
    referrer = await api.key("referrer", organisation=ORG_A)
    context = await browser.new_context(locale="en-GB", bypass_csp=True)
    page = await context.new_page()
    axe = Axe()

    async def check(name: str) -> None:
        for width, height in ((1366, 900), (390, 844)):
            await page.set_viewport_size({"width": width, "height": height})
            results = await axe.run(page, options=AXE_OPTIONS)
            assert results.violations_count == 0, f"{name} {width}:\n{results.generate_report()}"
            assert await page.evaluate("document.documentElement.scrollWidth") <= width, name
            await screenshot(page, f"caseload-diary-{name}-{width}")

    try:
        async with api.h.worker():
            ref = await allocated(api, coordinator, referrer, "p-ana", client={"name": CLIENT_NAME})
            when = await api.h.env.get_current_time() + timedelta(days=2)
            await api.h.act(ref, "book_session", SessionBooking(at=when, location=PLACE))
            await page.goto(dashboard.link("/dashboard/login"))
            await page.fill("#api_key", coordinator)
            async with page.expect_navigation():
                await page.keyboard.press("Enter")
            await page.goto(dashboard.link("/dashboard/caseloads/p-ana"))
            assert await page.locator(f"#diary-later tr[data-ref='{ref}']").count() == 1
            await check("booked")
        harbour = api.app.state.harbour
        harbour.api_settings = harbour.api_settings.model_copy(
            update={"query_timeout_seconds": 0.5}
        )
        await page.goto(dashboard.link("/dashboard/caseloads/p-ana"))
        assert await page.locator("#diary-unavailable").count() == 1
        await check("unavailable")
    finally:
        await context.close()
