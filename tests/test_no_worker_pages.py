"""With no worker running, against the dev server (which, unlike the time-skipping server,
knows who polls a task queue): every page and API read that must ask a referral's workflow
says so at once, in words for its reader, instead of waiting out the query timeout and
blaming Temporal; the pages that read only the read model keep working."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio

from api.dashboard import configure
from infra.database import make_engine, make_session_factory, write_transaction
from models.policy import ServicePolicy
from models.settings import Settings
from models.tables import ReferralRow
from readmodel.person_search import index_person
from readmodel.practitioners import add_practitioner
from tests.factories import submission
from tests.fixtures.api import ORG_A, Api, api_settings, running_api
from tests.fixtures.dashboard import dashboard_settings, sign_in
from tests.fixtures.temporal import TEST_PSEUDONYM_KEY, Harness, dev_server

# Long enough that a page waiting for it could not pass: the words differ too.
QUERY_TIMEOUT = 30.0


@pytest_asyncio.fixture
async def no_worker(smtp_settings: Settings, sqlite_url: str) -> AsyncIterator[Api]:
    """The API and dashboard over a dev server on whose task queue no worker polls."""
    engine = make_engine(sqlite_url)
    try:
        async with dev_server() as env:
            h = Harness(
                env=env,
                settings=smtp_settings.model_copy(
                    update={"database_url": sqlite_url, "allocator_sweep_every": None}
                ),
                engine=engine,
                session_factory=make_session_factory(engine),
                policy=ServicePolicy(auto_allocate=False),
                task_queue=f"no-worker-{uuid.uuid4()}",
            )
            settings = api_settings().model_copy(update={"query_timeout_seconds": QUERY_TIMEOUT})
            async with running_api(h, settings) as api:
                configure(api.app, dashboard_settings())
                yield api
            for handle in h.handles:
                await handle.terminate("test finished")
    finally:
        await engine.dispose()


async def test_pages_that_ask_a_workflow_say_at_once_that_no_worker_runs(no_worker: Api) -> None:
    api = no_worker
    h = api.h
    # Durable without a worker: the workflow exists, nothing has run it.
    ref = await h.refer(submission(client={"name": "Hannah Lee"}))
    # What the read model would hold had a worker recorded it once (it has not run since).
    now = datetime.now(UTC)
    async with write_transaction(h.session_factory) as session:
        session.add(
            ReferralRow(
                ref=ref,
                stage="triage",
                urgency="routine",
                referrer_organisation=ORG_A,
                received_at=now,
                updated_at=now,
            )
        )
    await index_person(h.session_factory, TEST_PSEUDONYM_KEY, ref, "Hannah Lee", None, None)
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 5)
    coordinator = await api.key("coordinator", label="c-dana")
    assert (await sign_in(api.http, coordinator)).status_code == 303

    page = await api.http.get(f"/dashboard/referrals/{ref}")
    assert page.status_code == 503
    assert "The worker is not running" in page.text and "make run" in page.text
    assert "Temporal is not answering" not in page.text
    assert 'href="/dashboard/waiting-list"' in page.text  # the normal header, to go on

    # Pages that can do without the workflow still come, saying what is missing.
    found = await api.http.post(
        "/dashboard/referrals/search", data={"csrf": _csrf(page.text), "ref": "Hannah Lee"}
    )
    assert found.status_code == 200 and ref in found.text
    assert "Names cannot be shown just now" in found.text
    caseload = await api.http.get("/dashboard/caseloads/p-ana")
    assert caseload.status_code == 200 and 'id="diary-unavailable"' in caseload.text
    assert (await api.http.get("/dashboard/waiting-list")).status_code == 200

    # The API says the same in its own terms.
    state = await api.get(f"/v1/referrals/{ref}", coordinator)
    assert state.status_code == 503, state.text
    assert state.headers["content-type"].startswith("application/problem+json")
    assert "no Harbour worker is running" in state.json()["detail"]

    # A practitioner's workspace needs the workflows for names and the diary: the same page.
    ana = await api.key("practitioner", practitioner="p-ana", label="p-ana")
    api.http.cookies.clear()
    assert (await sign_in(api.http, ana)).status_code == 303
    workspace = await api.http.get("/dashboard/practice")
    assert workspace.status_code == 503 and "The worker is not running" in workspace.text


def _csrf(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
