"""One position and one wait estimate, wherever a person looks: the client's waiting-list
letter, the API's waiting list and the coordinators' dashboard say the same, for every
referral on a list of a few hundred (returning clients, holds, three urgencies, recent
allocations and joins), read at the same moment.

Each side is read through its own surface: the letter from the activity that feeds it and the
letter's own rendering; the API over HTTP; the dashboard's HTML page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from activities.notifications import estimate_sentence, render
from activities.records import RecordActivities
from api.dashboard import configure
from bench.dashboard_pages import fill
from models.notifications import LetterKind, Recipient
from models.records import WaitingPositionRequest
from models.settings import Settings
from tests.fixtures.api import running_api
from tests.fixtures.dashboard import dashboard_settings, sign_in
from tests.fixtures.temporal import TEST_KEYRING, Harness

NOW = datetime(2026, 3, 30, 10, 17, 5, tzinfo=UTC)
COUNT = 400
KEY = b"test pseudonym key for the read model"


async def _at_now() -> datetime:
    return NOW


def _dashboard_rows(html: str) -> dict[str, tuple[int, str]]:
    """{ref: (position, estimate text)} of the waiting list page's rows."""
    found = {}
    for match in re.finditer(r'<tr data-ref="(?P<ref>[^"]+)"[^>]*>(?P<cells>.*?)</tr>', html, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", match["cells"], re.S)
        position = int(re.sub(r"\D", "", cells[1]))
        found[match["ref"]] = (position, cells[5].strip())
    return found


def _weeks_range(low: int | None, high: int | None) -> str:
    """How the dashboard writes an estimate (``api.dashboard.formatting``)."""
    if low is None or high is None:
        return "not yet known"
    return f"about {high} wk" if low == high else f"{low}–{high} wk"


async def test_the_letter_the_api_and_the_dashboard_agree(harness: Harness) -> None:
    await fill(harness.session_factory, COUNT, NOW, TEST_KEYRING)
    async with running_api(harness) as api:
        api.app.state.harbour.clock = _at_now
        configure(api.app, dashboard_settings(page_size=100), clock=_at_now)
        key = await api.key("coordinator")

        # The API, page by page.
        from_api: dict[str, tuple[int, int, int | None, int | None]] = {}
        cursor = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/v1/waiting-list", key, params=params)).json()
            total = page["total_waiting"]
            for item in page["items"]:
                from_api[item["ref"]] = (
                    item["position"],
                    total,
                    item["estimate_weeks_low"],
                    item["estimate_weeks_high"],
                )
            cursor = page["next_cursor"]
            if cursor is None:
                break

        # The dashboard, page by page.
        assert (await sign_in(api.http, key)).status_code == 303
        from_dashboard: dict[str, tuple[int, str]] = {}
        number = 1
        while len(from_dashboard) < len(from_api):
            html = (await api.http.get(f"/dashboard/waiting-list?page={number}")).text
            rows = _dashboard_rows(html)
            assert rows, f"page {number} of the waiting list is empty"
            from_dashboard.update(rows)
            number += 1

    # The letters: the activity the workflow asks, rendered as the client's letter.
    records = RecordActivities(harness.session_factory, KEY, TEST_KEYRING)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    known = 0
    assert len(from_api) == total > 100
    assert from_dashboard.keys() == from_api.keys()
    for ref, (position, waiting, low, high) in from_api.items():
        letter = await records.waiting_position(WaitingPositionRequest(ref=ref, at=NOW))
        assert (
            letter.position,
            letter.waiting_total,
            letter.estimate_weeks_low,
            letter.estimate_weeks_high,
        ) == (position, waiting, low, high), ref
        assert from_dashboard[ref] == (position, _weeks_range(low, high)), ref
        _, text, _ = render(
            LetterKind.WAITING_LIST,
            {"ref": ref, **letter.model_dump()},
            settings,
            Recipient.CLIENT,
        )
        assert f"You are number {position} of {waiting} people waiting" in text
        assert " ".join(estimate_sentence(low, high).split()) in " ".join(text.split())
        known += high is not None
    # The list has estimates to agree on, not only "not yet known".
    assert known > len(from_api) // 2
