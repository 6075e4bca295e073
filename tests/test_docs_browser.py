"""``/docs`` in a real browser (Debian's Chromium): Swagger UI loads from this server alone,
runs under its strict Content-Security-Policy with nothing refused, and shows every operation
of the schema."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.dashboard import Dashboard, screenshot

pytestmark = pytest.mark.slow


async def test_swagger_ui_runs_offline_under_the_policy(dashboard: Dashboard, browser: Any) -> None:
    page = await browser.new_page()
    problems: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request",
        lambda r: None if r.url.startswith(dashboard.url) else elsewhere.append(r.url),
    )
    try:
        await page.goto(dashboard.link("/docs"))
        await page.wait_for_selector(".opblock", timeout=15_000)
        shown = await page.locator(".opblock").count()
        await screenshot(page, "docs")
    finally:
        await page.close()
    schema = (await dashboard.api.get("/openapi.json")).json()
    operations = sum(len(item) for item in schema["paths"].values())
    assert shown == operations
    assert problems == []  # a refused script or style would show here
    assert elsewhere == []  # nothing from another origin
