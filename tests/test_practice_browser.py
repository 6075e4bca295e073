"""A practitioner's whole episode in a real headless Chromium (Debian's ``chromium``, driven by
Playwright), by KEYBOARD ONLY — Tab, arrows, Space, Enter and typing; nothing is clicked —
against the app on a real uvicorn, the time-skipping server with Harbour's worker, real SMTP
and SQLite: sign in, find the client on the caseload, book a session (after an error), record
it, ReQoL-10 at the start (after an error), five more sessions, extend the plan and record a
seventh, ReQoL-10 at the end, discharge (after an error).

axe-core (``axe-playwright-python``, its WCAG 2.0/2.1/2.2 A and AA rules) checks every
practitioner page in every state — empty, full, error — at 1366 px, at 390 px and at 200 %
zoom (a 1366 px window at 200 % lays out as 683 CSS px), with zero violations, and no page
scrolls sideways at the narrow widths. Screenshots go to tests/screenshots/ for review."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.async_playwright import Axe

from readmodel.practitioners import add_practitioner
from tests.fixtures.api import ORG_A
from tests.fixtures.dashboard import Dashboard, focus_lands_on, screenshot

# A tier of `make check` (and CI), not of `make test`: a real browser.
pytestmark = pytest.mark.slow

LAPTOP = {"width": 1366, "height": 900}
VIEWPORTS = {
    "1366px": LAPTOP,
    "390px": {"width": 390, "height": 844},
    "zoom200": {"width": 683, "height": 450},
}
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}
}
CLIENT = "Hannah Whitlock"
LONDON = ZoneInfo("Europe/London")  # the dashboard's zone: the form takes local times
MAX_TABS = 120


async def _focused(page: Any, selector: str) -> bool:
    return bool(await page.evaluate("s => document.activeElement?.matches(s) ?? false", selector))


async def settled(page: Any) -> None:
    """Wait for a new page's ``autofocus`` (a confirmation, an error summary, the key field)
    to have taken the focus, so that no keystroke lands before it and is moved."""
    await page.wait_for_function(
        "() => { const a = document.querySelector('[autofocus]');"
        " return !a || document.activeElement === a; }",
        timeout=10_000,
    )


async def press_and_follow(page: Any, key: str = "Enter") -> None:
    """Press ``key`` on a link or a form's button and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.keyboard.press(key)
    await settled(page)


async def tab_to(page: Any, selector: str) -> None:
    """Press Tab until the element matching ``selector`` has the focus (as a person would)."""
    for _ in range(MAX_TABS):
        if await _focused(page, selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


async def type_into(page: Any, selector: str, text: str) -> None:
    await tab_to(page, selector)
    await page.keyboard.type(text)


async def choose(page: Any, name: str, value: str | None = None) -> None:
    """Tab into a radio group (its first radio takes the focus, nothing being chosen), arrow
    to ``value`` (arrows choose as they move), and Space to choose it."""
    await tab_to(page, f"#{name}")
    if value is not None:
        for _ in range(12):
            if await _focused(page, f"input[name='{name}'][value='{value}']"):
                break
            await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Space")
    checked = await page.eval_on_selector(f"input[name='{name}']:checked", "e => e.value")
    assert value is None or checked == value


async def submit(page: Any, button: str) -> None:
    """Tab to the form's button and press Enter; wait for the page that answers."""
    await tab_to(page, button)
    await press_and_follow(page)


async def check_page(page: Any, axe: Axe, name: str) -> None:
    """Zero axe violations at each viewport, no sideways scrolling when narrow, and a
    screenshot at the laptop's and the phone's widths."""
    for label, size in VIEWPORTS.items():
        await page.set_viewport_size(size)
        results = await axe.run(page, options=WCAG)
        assert results.violations_count == 0, f"{name} at {label}:\n{results.generate_report()}"
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if overflow > 0:
            wide = await page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
                    .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
            )
            raise AssertionError(f"{name} at {label} scrolls sideways by {overflow}px: {wide}")
        if label != "zoom200":
            await screenshot(page, f"practice-{name}-{label}")
    await page.set_viewport_size(LAPTOP)


async def test_a_practitioner_runs_a_whole_episode_by_keyboard(
    dashboard: Dashboard, browser: Any
) -> None:
    api, h = dashboard.api, dashboard.h
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 4)
    await add_practitioner(h.session_factory, "p-ben", "Ben Okafor", "ben@harbour.example", 4)
    referrer = await api.key("referrer", organisation=ORG_A)
    coordinator = await api.key("coordinator", label="c-dana")
    practitioner = await api.key("practitioner", practitioner="p-ana", label="p-ana")
    axe = Axe()
    context = await browser.new_context(viewport=LAPTOP, locale="en-GB")
    page = await context.new_page()
    async with h.worker():
        refs = {}
        for who, name in (("p-ana", CLIENT), ("p-ben", "Someone Else")):
            ref = await api.refer(referrer, client={"name": name})
            for path, body in (
                ("triage", {"outcome": "accept"}),
                ("allocation", {"practitioner_id": who}),
            ):
                done = await api.post(f"/v1/referrals/{ref}/{path}", coordinator, json=body)
                assert done.status_code == 200, done.text
            refs[who] = ref
        ref = refs["p-ana"]

        # --- sign in: the key field has the focus; typing and Enter sign in
        await page.goto(dashboard.link("/dashboard/practice"))
        await settled(page)
        assert page.url.endswith("/dashboard/login")
        await focus_lands_on(page, "#api_key")
        await check_page(page, axe, "01-login")
        await page.keyboard.type(practitioner)
        await press_and_follow(page)
        assert page.url.endswith("/dashboard/practice")
        assert await page.inner_text("h1") == "My caseload and diary"
        assert CLIENT in await page.inner_text("#caseload")
        assert "Someone Else" not in await page.content()
        await check_page(page, axe, "02-workspace")

        # --- to the client's page from the caseload
        await tab_to(page, f"#caseload a[href$='/clients/{ref}']")
        await press_and_follow(page)
        assert await page.inner_text("h1") == CLIENT
        assert await page.locator("input[type=radio]:checked").count() == 0
        await check_page(page, axe, "03-client-allocated")

        # --- book a session; first without saying where: the error summary takes the focus
        now = await h.env.get_current_time()
        await page.wait_for_load_state()
        when = now.timestamp() + 2 * 86400
        from datetime import UTC, datetime
        from zoneinfo import ZoneInfo

        local = datetime.fromtimestamp(when, UTC).astimezone(ZoneInfo("Europe/London"))
        await type_into(page, "#book-day", str(local.day))
        await type_into(page, "#book-month", str(local.month))
        await type_into(page, "#book-year", str(local.year))
        await type_into(page, "#book-time", "14:30")
        await submit(page, "form[action$='/book'] button")
        await focus_lands_on(page, "#error-summary")
        assert "Enter where the session will be" in await page.inner_text("#error-summary")
        assert await page.input_value("#book-time") == "14:30"  # kept
        await check_page(page, axe, "04-client-book-error")
        # The summary's link leads to the field.
        await page.keyboard.press("Tab")
        assert await _focused(page, "#error-summary a[href='#book-where']")
        await page.keyboard.press("Enter")
        assert await _focused(page, "#book-where")
        await page.keyboard.type("the café on the harbour")
        await submit(page, "form[action$='/book'] button")
        await focus_lands_on(page, ".flash-ok")
        assert "Session booked for" in await page.inner_text(".flash-ok")
        await check_page(page, axe, "05-client-booked")
        await page.goto(dashboard.link("/dashboard/practice"))
        await settled(page)
        assert "the café on the harbour" in await page.inner_text("#diary")
        await check_page(page, axe, "06-workspace-diary")
        await page.go_back()
        await settled(page)

        # --- record the booked session, with liaison
        await choose(page, "record-session")
        await choose(page, "record-outcome", "attended")
        await tab_to(page, "#record-liaison")
        await page.keyboard.press("Space")
        await submit(page, "form[action$='/record'] button")
        assert "1 of 6 planned sessions attended" in await page.inner_text(".flash-ok")

        # --- ReQoL-10 at the start: nine answers, the missing one named, then all ten
        await tab_to(page, "a[href$='/reqol/baseline']")
        await press_and_follow(page)
        assert "Item 1" in await page.inner_text("main")
        await check_page(page, axe, "07-reqol")
        answers = [1, 3, 1, 3, 3, 0, 3, 3, 1, 3]
        for item, answer in list(enumerate(answers, start=1))[:9]:
            await choose(page, f"item-{item}", None if answer == 0 else str(answer))
        await submit(page, "form[action$='/reqol/baseline'] button")
        await focus_lands_on(page, "#error-summary")
        assert "Choose an answer for item 10" in await page.inner_text("#error-summary")
        assert await page.locator("input[type=radio]:checked").count() == 9
        await check_page(page, axe, "08-reqol-error")
        await choose(page, "item-10", "3")
        await submit(page, "form[action$='/reqol/baseline'] button")
        assert "recorded" in await page.inner_text(".flash-ok")
        assert "Total" in await page.inner_text("#episode")

        # --- five more sessions, not booked beforehand
        for n in range(2, 7):
            await choose(page, "record-outcome", "attended")
            await submit(page, "form[action$='/record'] button")
            assert f"{n} of 6 planned sessions attended" in await page.inner_text(".flash-ok")
        # The plan of six is done: extend it to seven, and record the seventh.
        await type_into(page, "#extend-sessions", "7")
        await submit(page, "form[action$='/extend'] button")
        assert "The plan now has 7 sessions" in await page.inner_text(".flash-ok")
        await choose(page, "record-outcome", "attended")
        await submit(page, "form[action$='/record'] button")
        assert "7 of 7 planned sessions attended" in await page.inner_text(".flash-ok")
        await check_page(page, axe, "09-client-sessions")

        # --- ReQoL-10 at the end, then discharge (first without a summary)
        await tab_to(page, "a[href$='/reqol/end']")
        await press_and_follow(page)
        for item, answer in enumerate([0, 4, 0, 4, 4, 1, 4, 4, 0, 4], start=1):
            await choose(page, f"item-{item}", None if answer == 0 else str(answer))
        await submit(page, "form[action$='/reqol/end'] button")
        assert "end of the episode recorded" in await page.inner_text(".flash-ok")
        await choose(page, "discharge-reason", "completed")
        await submit(page, "form[action$='/discharge'] button")
        await focus_lands_on(page, "#error-summary")
        assert await page.is_checked("#discharge-reason")  # the choice is kept
        await check_page(page, axe, "10-client-discharge-error")
        await type_into(page, "#discharge-summary", "Met the goals she set; back to the choir.")
        await submit(page, "form[action$='/discharge'] button")
        assert "Discharged" in await page.inner_text(".flash-ok")
        await check_page(page, axe, "11-client-discharged")
        state = (await api.get(f"/v1/referrals/{ref}", coordinator)).json()
        assert state["stage"] == "discharged" and state["practitioner_id"] == "p-ana"
        assert await page.locator("#sessions tbody tr").count() == 7

        # --- the caseload is empty now; others' clients and coordinators' pages are closed
        await page.goto(dashboard.link("/dashboard/practice"))
        await settled(page)
        assert "Nobody is on your caseload" in await page.inner_text("#caseload")
        await check_page(page, axe, "12-workspace-empty")
        await page.goto(dashboard.link(f"/dashboard/practice/clients/{refs['p-ben']}"))
        await settled(page)
        assert await page.inner_text("h1") == "Not on your caseload"
        await check_page(page, axe, "13-not-yours")
        await page.goto(dashboard.link("/dashboard/waiting-list"))
        await settled(page)
        assert await page.inner_text("h1") == "Not for practitioners"
        await check_page(page, axe, "14-coordinators-only")
    await context.close()
