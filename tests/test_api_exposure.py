"""What the API gives away without meaning to: its access log, keys in URLs, caching and
sniffing headers, the Host it reflects, a CDN behind /docs, and whether "not yours" can be
told from "does not exist" by the work it takes."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from api.server import ApiServer
from bootstrap import configure_logging
from models.settings import Settings
from readmodel.practitioners import add_practitioner
from tests.fixtures.api import ORG_A, ORG_B, Api
from workflows.referral import workflow_id

TYPED_NAME = "Bobbie Quinton-Marsh"
TYPED_PHONE = "07700900461"
UNKNOWN_REF = "R0000000000"


@pytest.fixture
def access_records(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Logging as the API process sets it up, captured at INFO (root level put back)."""
    root = logging.getLogger()
    level = root.level
    configure_logging(Settings(_env_file=None, log_level="INFO"))  # type: ignore[call-arg]
    caplog.set_level(logging.INFO)
    try:
        yield caplog
    finally:
        root.setLevel(level)


async def test_the_access_log_holds_no_typed_text_and_no_key(
    api: Api, access_records: pytest.LogCaptureFixture
) -> None:
    coordinator = await api.key("coordinator")
    server = ApiServer(api.app, "127.0.0.1", 0, access_log=True)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            auth = {"Authorization": f"Bearer {coordinator}"}
            # Typed text in a query string, and in a path.
            search = await http.get(
                "/v1/referrals",
                params={"referrer_organisation": f"{TYPED_NAME} {TYPED_PHONE}"},
                headers=auth,
            )
            assert search.status_code == 200
            typed_path = await http.get(f"/v1/referrals/{TYPED_NAME}", headers=auth)
            assert typed_path.status_code == 422
            # A key in a URL (refused) and a key in its header (accepted).
            in_url = await http.get("/v1/waiting-list", params={"api_key": coordinator})
            assert in_url.status_code in (
                400,
                422,
            )  # refused (test_keys_are_never_accepted_in_urls)
            one = await http.get(f"/v1/referrals/{UNKNOWN_REF}", headers=auth)
            assert one.status_code == 404
    finally:
        await server.stop()

    # What the server logged (the test's own HTTP client logs its URLs: not the server's).
    logged = "\n".join(
        f"{record.getMessage()} {record.msg}"
        for record in access_records.records
        if record.name.startswith(("harbour", "uvicorn"))
    )
    assert "/v1/referrals" in logged and "/v1/referrals/{ref}" in logged, logged
    assert UNKNOWN_REF in logged  # an opaque reference is what the log is for
    key_secret = coordinator.split("_")[-1]
    for secret in (TYPED_NAME.split()[0], TYPED_PHONE, "Quinton", key_secret, "hbk_"):
        assert secret not in logged, secret


def test_a_uvicorn_access_log_would_hold_no_link_token_and_no_query(
    access_records: pytest.LogCaptureFixture,
) -> None:
    """Harbour's servers run uvicorn without its access log (``api.access_log`` logs route
    templates); should any uvicorn in the process log requests, a client's link token — the
    key to their page — and query strings are cut from the line as uvicorn writes it."""
    token = "c.R7K2M9QX4PT.0123456789abcdef.Z1x2Y3.AbCdEfGhIjKlMnOpQrStUv"
    access = logging.getLogger("uvicorn.access")
    assert access.isEnabledFor(logging.INFO)  # as the API process sets it up
    for path in (f"/c/{token}", f"/c/{token}/done/ok", f"/v1/referrals?q={TYPED_NAME}"):
        # uvicorn's own call: (client address, method, path with query, HTTP version, status)
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    access.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/c/static/public.css", "1.1", 200
    )
    lines = [r.getMessage() for r in access_records.records if r.name == "uvicorn.access"]
    assert len(lines) == 4
    logged = "\n".join(lines)
    assert token not in logged and "0123456789abcdef" not in logged and TYPED_NAME not in logged
    assert "/c/{token}/done/ok" in logged and "/c/static/public.css" in logged


async def test_keys_are_never_accepted_in_urls(api: Api) -> None:
    coordinator = await api.key("coordinator")
    for path, params in (
        ("/v1/referrals", {"api_key": coordinator}),
        ("/v1/waiting-list", {"key": coordinator}),
        ("/v1/referrals", {"cursor": coordinator}),  # a key's shape under any name
        ("/dashboard/login", {"api_key": coordinator}),
        ("/healthz", {"access_token": coordinator}),
    ):
        response = await api.get(path, params=params)
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "credentials_in_url"
        assert "Authorization" in response.json()["detail"]
        assert coordinator not in response.text and coordinator.split("_")[1] not in response.text
    # The same key in its header works.
    assert (await api.get("/v1/referrals", coordinator)).status_code == 200


async def test_every_response_says_no_store_and_nosniff(api: Api) -> None:
    coordinator = await api.key("coordinator")
    responses = [
        await api.get("/v1/referrals", coordinator),  # 200, personal data
        await api.get("/v1/referrals"),  # 401
        await api.get(f"/v1/referrals/{UNKNOWN_REF}", coordinator),  # 404
        await api.get("/v1/referrals", coordinator, params={"limit": "x"}),  # 422
        await api.get("/v1/inbox", coordinator),
        await api.get("/openapi.json"),
        await api.get("/healthz"),
    ]
    for response in responses:
        assert response.headers["cache-control"] == "no-store", response.request.url
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url
        assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_only_configured_hosts_are_answered_or_reflected(api: Api) -> None:
    coordinator = await api.key("coordinator")
    # The trailing-slash redirect builds its Location from Host: only a trusted one.
    trusted = await api.get("/v1/referrals/", coordinator)
    assert trusted.status_code == 307
    assert trusted.headers["location"] == "http://testserver/v1/referrals"
    for host in ("evil.example", "testserver.evil.example", "127.0.0.2"):
        response = await api.get("/v1/referrals/", coordinator, headers={"Host": host})
        assert response.status_code == 400, host
        assert host not in response.headers.get("location", "")
        assert host not in response.text


async def test_docs_are_served_from_this_server_under_a_strict_policy(api: Api) -> None:
    page = await api.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "://" not in page.text  # nothing from another origin
    assert "<script>" not in page.text  # no inline script: the policy allows none
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "connect-src 'self'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assets = re.findall(r'(?:src|href)="(/docs/[^"]+)"', page.text)
    assert {"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/docs.js"} <= set(assets)
    for asset in assets:
        response = await api.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["x-content-type-options"] == "nosniff"
        kind = response.headers["content-type"]
        assert kind.startswith(
            {"js": "text/javascript", "css": "text/css", "png": "image/png"}[asset.rsplit(".")[-1]]
        )
    bundle = await api.get("/docs/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert "/openapi.json" in (await api.get("/docs/docs.js")).text
    assert (await api.get("/docs/../app.py")).status_code == 404
    assert (await api.get("/docs/index.html")).status_code == 404


class Lookups:
    """What answering one request took: every statement sent to the database, and every call
    made to Temporal about a workflow, with the reference asked about written as ``<ref>``."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.statements: list[str] = []
        engine = api.h.session_factory.kw["bind"].sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.statements.append(statement)

        self._listener = _record
        self._engine = engine

    async def of(self, method: str, path: str, key: str, ref: str, **kw: Any) -> dict[str, Any]:
        self.statements.clear()
        self.api.started.calls.clear()
        response = await self.api.request(method, path.format(ref=ref), key, **kw)
        return {
            "status": response.status_code,
            "body": response.json(),
            "database": list(self.statements),
            "temporal": [(name, wid.replace(ref, "<ref>")) for name, wid in self.api.started.calls],
        }

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._listener)


async def test_not_yours_and_not_there_take_the_same_lookups(api: Api) -> None:
    coordinator = await api.key("coordinator")
    referrer_a = await api.key("referrer", organisation=ORG_A)
    referrer_b = await api.key("referrer", organisation=ORG_B)
    practitioner_ben = await api.key("practitioner", practitioner="p-ben")
    await add_practitioner(api.h.session_factory, "p-ana", "Ana Lowry", "a@h.example", capacity=5)
    lookups = Lookups(api)
    try:
        async with api.h.worker():
            ref = await api.refer(referrer_a)
            await api.post(f"/v1/referrals/{ref}/triage", coordinator, json={"outcome": "accept"})
            allocated = await api.post(
                f"/v1/referrals/{ref}/allocation", coordinator, json={"practitioner_id": "p-ana"}
            )
            assert allocated.status_code == 200, allocated.text
            # The allocation's letters follow it: let them go, so that only the requests
            # below touch the database while their statements are counted.
            api.h.handles.append(api.h.client.get_workflow_handle(workflow_id(ref)))
            await api.h.settle()
            checks: list[tuple[str, str, str, dict[str, Any]]] = [
                ("GET", "/v1/referrals/{ref}", referrer_b, {}),
                ("GET", "/v1/referrals/{ref}", practitioner_ben, {}),
                ("POST", "/v1/referrals/{ref}/information", referrer_b, {"json": {"answer": "a"}}),
                (
                    "POST",
                    "/v1/referrals/{ref}/extension",
                    practitioner_ben,
                    {"json": {"planned_sessions": 8}},
                ),
            ]
            for method, path, key, kw in checks:
                hidden = await lookups.of(method, path, key, ref, **kw)
                missing = await lookups.of(method, path, key, UNKNOWN_REF, **kw)
                assert hidden["status"] == missing["status"] == 404, (method, path)
                assert hidden == missing, (method, path)
                # Neither asked the workflow itself (only one that exists could answer).
                assert not any(
                    name.startswith(("query", "update")) for name, _ in hidden["temporal"]
                )
            # The owner's request does ask the workflow: the check above is not vacuous.
            own = await lookups.of("GET", "/v1/referrals/{ref}", referrer_a, ref)
            assert own["status"] == 200
            assert ("query:state", "referral-<ref>") in own["temporal"]
    finally:
        lookups.close()
