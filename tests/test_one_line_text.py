"""Control characters at every door: a name, an organisation, a label, a place or an id with a
line break, a NUL, another C0 or C1 control, or a bidirectional override is refused — by the
API and the webhook (422 naming the field), the dashboard (a message naming the field) and
the CLI (exit status 2 naming the option or field) — and nothing is stored or started."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

import starter
from api.dashboard import configure
from models.text import FreeText, OneLine
from tests.factories import submission
from tests.fixtures.api import ORG_A, Api, intake_body
from tests.fixtures.dashboard import dashboard_settings
from tests.helpers import eventually

INJECTION = "Bob\r\nBcc: x@y.example"
# One of each kind a one-line field refuses.
NOT_ONE_LINE = [
    "Bob\r\nBcc: x@y.example",
    "Bob\nSmith",
    "Bob\rSmith",
    "Bob\x00Smith",
    "Bob\tSmith",
    "Bob\x1bSmith",
    "Bob\x7fSmith",
    "Bob\x85Smith",  # C1: next line
    "Bob\u2028Smith",  # line separator
    "Bob\u202eSmith",  # right-to-left override
    "Bob\u202aSmith",
    "Bob\u2066Smith",
    "Bob\u2069Smith",
]
ONE_LINE = ["Bob Smith", "Zoë O’Brien-Łukasz", "محمد علي", "Anne-Marie 😊", "St. Mary's, Ward 4"]


@pytest.mark.parametrize("value", NOT_ONE_LINE, ids=lambda v: repr(v))
def test_one_line_text_refuses_control_characters(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(OneLine).validate_python(value)
    [error] = refused.value.errors()
    assert error["type"] == "one_line" and "one line" in error["msg"]
    assert "Bob" not in error["msg"]


def test_one_line_text_keeps_real_names_and_free_text_keeps_line_breaks() -> None:
    for value in ONE_LINE:
        assert TypeAdapter(OneLine).validate_python(value) == value
    note = "Called back.\r\nLeft a message\tat 10:00 — she’ll ring on Monday."
    assert TypeAdapter(FreeText).validate_python(note) == note
    for value in ("a\x00b", "a\u202eb", "a\x1bb", "a\x85b"):
        with pytest.raises(ValidationError):
            TypeAdapter(FreeText).validate_python(value)


def _field_error(response: Any, loc: list[Any]) -> None:
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert loc in [e["loc"] for e in errors], errors
    assert "Bob" not in response.text and "x@y.example" not in response.text


async def test_the_api_and_the_webhook_refuse_them_naming_the_field(api: Api) -> None:
    referrer = await api.key("referrer", organisation=ORG_A)
    practitioner = await api.key("practitioner", practitioner="p-ana")
    coordinator = await api.key("coordinator")
    gateway = await api.key("gateway")
    ref = "R0000000000"
    for overrides, loc in (
        ({"client": {"name": INJECTION}}, ["body", "client", "name"]),
        ({"client": {"phone": "07700\n900123"}}, ["body", "client", "phone"]),
        ({"referrer": {"name": "Dr\u202eSam"}}, ["body", "referrer", "name"]),
        ({"referrer": {"organisation": f"{ORG_A}\x00"}}, ["body", "referrer", "organisation"]),
        ({"reason": "see notes\x00"}, ["body", "reason"]),
    ):
        _field_error(await api.post("/v1/referrals", referrer, json=intake_body(**overrides)), loc)
    assert api.started.ids == []  # nothing was started

    for path, key, body, loc in (
        (
            f"/v1/referrals/{ref}/sessions",
            practitioner,
            {"at": "2030-01-01T10:00:00Z", "location": "café\r\nX-Header: 1"},
            ["body", "location"],
        ),
        (
            f"/v1/referrals/{ref}/session-records",
            practitioner,
            {"outcome": "attended", "location": "home\u202e"},
            ["body", "location"],
        ),
        (
            f"/v1/referrals/{ref}/triage",
            coordinator,
            {"outcome": "decline", "decline_reason": "other", "signposting": "Mind\u202e"},
            ["body", "signposting"],
        ),
        (
            "/v1/practitioners/p-ana",
            coordinator,
            {"name": "Ana\x85Lowry", "email": "ana@harbour.example", "capacity": 3},
            ["body", "name"],
        ),
        (
            "/v1/inbox/0123456789abcdef0123456789abcdef/resolution",
            coordinator,
            {"note": "done\x00"},
            ["body", "note"],
        ),
        (
            "/v1/messages/inbound",
            gateway,
            {
                "id": "sms-1",
                "source_number": "447700900999\n",
                "destination_number": "0770",
                "message": "hello",
                "date_received": "2026-11-24T10:00:00Z",
            },
            ["body", "source_number"],
        ),
    ):
        method = "PUT" if path.startswith("/v1/practitioners") else "POST"
        _field_error(await api.request(method, path, key, json=body), loc)
    signed = await api.signed_email(
        {"from": "a@b.example", "subject": "re: \u202eevil", "body": "hi", "message_id": "m-1"}
    )
    _field_error(signed, ["body", "subject"])


async def test_the_dashboard_refuses_them_naming_the_field(api: Api) -> None:
    configure(api.app, dashboard_settings())
    key = await api.key("coordinator")
    login = await api.http.get("/dashboard/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token is not None
    signed_in = await api.http.post(
        "/dashboard/login", data={"csrf": token.group(1), "api_key": key}
    )
    assert signed_in.status_code == 303
    page = await api.http.get("/dashboard")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    referrer = await api.key("referrer", organisation=ORG_A)
    async with api.h.worker():
        ref = await api.refer(referrer)
        await eventually(lambda: _in_triage(api, key, ref), timeout=20)
        posted = await api.http.post(
            f"/dashboard/referrals/{ref}/triage",
            data={
                "csrf": csrf.group(1),
                "outcome": "decline",
                "decline_reason": "other",
                "signposting": "Coastal Mind\u202e",
                "back": "/dashboard",
            },
        )
        # The form comes back as posted, its error summary naming the field in words.
        assert posted.status_code == 400
        summary = posted.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
        assert 'href="#signposting"' in summary and "The services to suggest" in summary
        assert "control characters" in summary
        assert (await api.get(f"/v1/referrals/{ref}", key)).json()["stage"] == "triage"


async def _in_triage(api: Api, key: str, ref: str) -> bool:
    return bool((await api.get(f"/v1/referrals/{ref}", key)).json()["stage"] == "triage")


def test_the_cli_refuses_them_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARBOUR_CONFIG_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("HARBOUR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HARBOUR_TEMPORAL_ADDRESS", "127.0.0.1:1")  # never reached
    monkeypatch.setenv("HARBOUR_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    data = json.loads(submission().model_dump_json())
    data["client"]["name"] = INJECTION
    referral = tmp_path / "referral.json"
    referral.write_text(json.dumps(data))

    def refused(*argv: str) -> str:
        capsys.readouterr()
        assert starter.main(list(argv)) == 2, argv
        err = capsys.readouterr().err
        assert "Bob" not in err and "x@y.example" not in err
        return err

    assert "invalid client.name" in refused("refer", str(referral))
    assert "--where" in refused("book", "R0000000000", "--where", INJECTION)
    assert "--coordinator" in refused("close", "R0000000000", "other", "--coordinator", "c\r\n1")
    assert "--signposting" in refused(
        "triage", "R0000000000", "decline", "--reason", "other", "--signposting", "a\x00b"
    )
    assert "invalid name" in refused(
        "practitioner",
        "add",
        "p-bob",
        "--name",
        INJECTION,
        "--email",
        "b@h.example",
        "--capacity",
        "3",
    )
    assert "organisation" in refused(
        "apikey", "create", "--role", "referrer", "--organisation", "Harbourside\nGP"
    )
    assert "--from" in refused("message", "--from", "bob@example.org\r\nBcc: x", "hello")
    assert "--skip" in refused("reqol", "R0000000000", "baseline", "--skip", "too anxious")
    assert not (tmp_path / "h.db").exists() or (tmp_path / "h.db").stat().st_size == 0
