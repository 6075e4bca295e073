"""The practitioners' workspace without a browser (the ASGI app over the time-skipping server,
SQLite and Harbour's worker): a practitioner signs in to their own caseload and diary, sees only
their own clients (anyone else's is a 404, as for one that does not exist), is refused the
coordinators' pages, and runs an episode's forms — with a GOV.UK error summary linked to the
fields, the choices kept after an error, and every look at the person audited."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from readmodel.practitioners import add_practitioner
from readmodel.read_audit import accesses
from tests.factories import CLIENT_PHONE
from tests.fixtures.api import ORG_A, Api
from tests.fixtures.dashboard import allocated, csrf_token, sign_in
from tests.helpers import eventually

ZONE = ZoneInfo("Europe/London")
CLIENT_NAME = "Hannah Whitlock"


def _summary(page: str) -> list[tuple[str, str]]:
    """The error summary's links: (field id, message)."""
    box = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert box is not None, "no error summary"
    return [
        (target, html.unescape(text))
        for target, text in re.findall(r'<a href="#([^"]+)">([^<]+)</a>', box.group(0))
    ]


def _ids(page: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', page))


async def test_a_practitioner_works_in_their_own_workspace_only(dash: Api, tmp_path: Path) -> None:
    api = dash
    for pid, name in (("p-ana", "Ana Lowry"), ("p-ben", "Ben Okafor")):
        await add_practitioner(api.h.session_factory, pid, name, f"{pid}@harbour.example", 5)
    coordinator = await api.key("coordinator", label="c-dana")
    referrer = await api.key("referrer", organisation=ORG_A)
    ana = await api.key("practitioner", practitioner="p-ana", label="p-ana")
    ben = await api.key("practitioner", practitioner="p-ben", label="p-ben")
    ben_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app), base_url="http://testserver"
    )
    async with api.h.worker(), ben_http:
        mine = await allocated(api, coordinator, referrer, "p-ana", client={"name": CLIENT_NAME})
        theirs = await allocated(
            api, coordinator, referrer, "p-ben", client={"name": "Other Person"}
        )

        # --- signing in lands on the workspace; the coordinators' pages are refused
        signed_in = await sign_in(api.http, ana)
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/dashboard/practice"
        again = await api.http.get("/dashboard/login")
        assert again.headers["location"] == "/dashboard/practice"
        for path in (
            "/dashboard",
            "/dashboard/waiting-list",
            f"/dashboard/referrals/{mine}",
            "/dashboard/caseloads",
            "/dashboard/inbox",
            "/dashboard/reports",
        ):
            refused = await api.http.get(path)
            assert refused.status_code == 403, path
            assert "This page is for coordinators" in refused.text
            assert 'href="/dashboard/practice"' in refused.text
            assert CLIENT_NAME not in refused.text and mine not in refused.text
        workspace = await api.http.get("/dashboard/practice")
        assert workspace.status_code == 200
        token = csrf_token(workspace.text)
        for path, data in (
            (f"/dashboard/referrals/{mine}/close", {"reason": "other"}),
            ("/dashboard/waiting-list/actions", {"action": "hold", "ref": mine}),
        ):
            assert (await api.http.post(path, data={**data, "csrf": token})).status_code == 403
        # The caseload names the client (opened for display) and links to their page.
        assert CLIENT_NAME in workspace.text
        assert f'href="/dashboard/practice/clients/{mine}"' in workspace.text
        assert theirs not in workspace.text and "Other Person" not in workspace.text
        assert "No sessions booked" in workspace.text
        assert 'aria-current="page"' in workspace.text and "Overview" not in workspace.text

        # --- only their own clients: someone else's reads exactly as one that does not exist
        other = await api.http.get(f"/dashboard/practice/clients/{theirs}")
        missing = await api.http.get("/dashboard/practice/clients/R0123456789")
        assert other.status_code == missing.status_code == 404
        assert other.text.replace(theirs, "R0123456789") == missing.text
        assert "Other Person" not in other.text
        for action in (
            "book",
            "record",
            "extend",
            "discharge",
            "reqol/baseline",
            "reqol/baseline/skip",
        ):
            posted = await api.http.post(
                f"/dashboard/practice/clients/{theirs}/{action}",
                data={
                    "csrf": token,
                    "record-outcome": "attended",
                    "discharge-reason": "other",
                    "discharge-summary": "x",
                    "extend-sessions": "8",
                    "skip-reason": "other",
                },
            )
            assert posted.status_code == 404, action
        assert (
            await api.http.get(f"/dashboard/practice/clients/{theirs}/reqol/end")
        ).status_code == 404
        untouched = (await api.get(f"/v1/referrals/{theirs}", coordinator)).json()
        assert untouched["stage"] == "allocated" and untouched["sessions_planned"] == 6
        # A coordinator is not a practitioner: the workspace is refused.
        await sign_in(ben_http, coordinator)
        assert (await ben_http.get("/dashboard/practice")).status_code == 403
        await ben_http.post(
            "/dashboard/logout", data={"csrf": csrf_token((await ben_http.get("/dashboard")).text)}
        )
        # Ben, signed in, sees his own client and not Ana's.
        await sign_in(ben_http, ben)
        assert (await ben_http.get(f"/dashboard/practice/clients/{theirs}")).status_code == 200
        assert (await ben_http.get(f"/dashboard/practice/clients/{mine}")).status_code == 404

        # --- the client's page: the person, decrypted for display; the look is audited
        page = await api.http.get(f"/dashboard/practice/clients/{mine}")
        assert page.status_code == 200
        assert f"<h1>{CLIENT_NAME}</h1>" in page.text and CLIENT_PHONE in page.text
        assert f"<title>{CLIENT_NAME} ·" in page.text
        async with api.h.session_factory() as session:
            looks = await accesses(session, mine, limit=50)
        assert any(a.actor == "p-ana" and a.through.value == "dashboard" for a in looks.items)
        assert not re.search(r'type="radio"[^>]*checked', page.text)  # no choice made for them

        # --- book: an empty form names every missing part, linked to its field
        empty = await api.http.post(
            f"/dashboard/practice/clients/{mine}/book", data={"csrf": token}
        )
        assert empty.status_code == 400
        errors = _summary(empty.text)
        assert [f for f, _ in errors] == ["book-day", "book-time", "book-where"]
        assert all(f in _ids(empty.text) for f, _ in errors)
        assert "Enter the date of the session" in empty.text
        assert "autofocus" in empty.text.split('class="error-summary"')[1][:200]
        now = (await api.h.env.get_current_time()).astimezone(ZONE)
        when = now + timedelta(days=2)
        typed = {
            "book-day": str(when.day),
            "book-month": str(when.month),
            "book-year": "20x6",
            "book-time": "25:00",
            "book-where": "the café on the harbour",
        }
        wrong = await api.http.post(
            f"/dashboard/practice/clients/{mine}/book", data={"csrf": token, **typed}
        )
        assert wrong.status_code == 400
        assert [f for f, _ in _summary(wrong.text)] == ["book-day", "book-time"]
        assert 'value="the café on the harbour"' in html.unescape(wrong.text)  # kept
        past = now - timedelta(days=1)
        refused = await api.http.post(
            f"/dashboard/practice/clients/{mine}/book",
            data={
                "csrf": token,
                **typed,
                "book-day": str(past.day),
                "book-month": str(past.month),
                "book-year": str(past.year),
                "book-time": "09:00",
            },
        )
        assert refused.status_code == 409
        assert _summary(refused.text) == [
            ("book-day", "A session can only be booked in the future")
        ]
        booked = await api.http.post(
            f"/dashboard/practice/clients/{mine}/book",
            data={"csrf": token, **typed, "book-year": str(when.year), "book-time": "14:30"},
        )
        assert booked.status_code == 303, booked.text
        confirmed = await api.http.get(booked.headers["location"])
        assert "Session booked for" in confirmed.text and "14:30" in confirmed.text
        diary = await api.http.get("/dashboard/practice")
        assert 'id="diary-later"' in diary.text and "the café on the harbour" in html.unescape(
            diary.text
        )

        # --- record: no choice made is an error; what was ticked stays ticked
        view = (await api.get(f"/v1/referrals/{mine}", coordinator)).json()
        session_id = view["booked_sessions"][0]["session_id"]
        unsure = await api.http.post(
            f"/dashboard/practice/clients/{mine}/record",
            data={"csrf": token, "record-liaison": ["housing", "benefits"]},
        )
        assert unsure.status_code == 400
        assert [f for f, _ in _summary(unsure.text)] == ["record-session", "record-outcome"]
        assert re.search(r'value="housing" checked', unsure.text)
        assert re.search(r'value="benefits" checked', unsure.text)
        assert not re.search(r'value="employment" checked', unsure.text)
        recorded = await api.http.post(
            f"/dashboard/practice/clients/{mine}/record",
            data={
                "csrf": token,
                "record-session": session_id,
                "record-outcome": "attended",
                "record-liaison": ["housing"],
            },
        )
        assert recorded.status_code == 303, recorded.text
        state = (await api.get(f"/v1/referrals/{mine}", coordinator)).json()
        assert state["stage"] == "in_episode" and state["sessions_done"] == 1
        assert state["booked_sessions"] == []

        # --- ReQoL-10: placeholders without a wording file; missing answers named, others kept
        form = await api.http.get(f"/dashboard/practice/clients/{mine}/reqol/baseline")
        assert "Item 1" in form.text and "Item 10" in form.text
        assert "<h1>ReQoL-10 at the start of the episode</h1>" in form.text
        partial = {f"item-{n}": "2" for n in range(1, 9)}
        short = await api.http.post(
            f"/dashboard/practice/clients/{mine}/reqol/baseline", data={"csrf": token, **partial}
        )
        assert short.status_code == 400
        assert _summary(short.text) == [
            ("item-9", "Choose an answer for item 9"),
            ("item-10", "Choose an answer for item 10"),
        ]
        assert len(re.findall(r'value="2" checked', short.text)) == 8
        # With the service's licensed wording file (here a placeholder written for the test).
        wording = tmp_path / "reqol.json"
        wording.write_text(json.dumps({str(n): f"Licensed words {n}" for n in range(1, 11)}))
        context = api.app.state.harbour
        context.settings = context.settings.model_copy(update={"reqol_wording_file": wording})
        worded = await api.http.get(f"/dashboard/practice/clients/{mine}/reqol/baseline")
        assert "1. Licensed words 1" in worded.text and "Item 1<" not in worded.text
        done = await api.http.post(
            f"/dashboard/practice/clients/{mine}/reqol/baseline",
            data={"csrf": token, **partial, "item-9": "0", "item-10": "4"},
        )
        assert done.status_code == 303
        skip_empty = await api.http.post(
            f"/dashboard/practice/clients/{mine}/reqol/end/skip",
            data={"csrf": token, "skip-note": "later"},
        )
        assert skip_empty.status_code == 400
        assert _summary(skip_empty.text) == [
            ("skip-reason", "Choose why the measure was not taken")
        ]
        assert ">later</textarea>" in skip_empty.text
        page = await api.http.get(f"/dashboard/practice/clients/{mine}")
        assert "Total" in page.text and "of 40" in page.text

        # --- a number int() cannot read ("²" passes str.isdigit()): said plainly, no 500
        odd = await api.http.post(
            f"/dashboard/practice/clients/{mine}/extend",
            data={"csrf": token, "extend-sessions": "²"},
        )
        assert odd.status_code == 400
        assert _summary(odd.text) == [
            ("extend-sessions", "Enter the number of sessions as a whole number, like 8")
        ]
        # --- extend beyond the maximum: the workflow's reason, on the field
        too_many = await api.http.post(
            f"/dashboard/practice/clients/{mine}/extend",
            data={"csrf": token, "extend-sessions": "12"},
        )
        assert too_many.status_code == 409
        assert _summary(too_many.text) == [
            ("extend-sessions", "An episode has at most 10 sessions")
        ]
        extended = await api.http.post(
            f"/dashboard/practice/clients/{mine}/extend",
            data={"csrf": token, "extend-sessions": "8"},
        )
        assert extended.status_code == 303

        # --- discharge needs a reason and a summary; the chosen reason is kept
        half = await api.http.post(
            f"/dashboard/practice/clients/{mine}/discharge",
            data={"csrf": token, "discharge-reason": "completed"},
        )
        assert half.status_code == 400
        assert [f for f, _ in _summary(half.text)] == ["discharge-summary"]
        assert re.search(r'value="completed" checked', half.text)
        out = await api.http.post(
            f"/dashboard/practice/clients/{mine}/discharge",
            data={
                "csrf": token,
                "discharge-reason": "completed",
                "discharge-summary": "Met her goals",
            },
        )
        assert out.status_code == 303
        final = (await api.get(f"/v1/referrals/{mine}", coordinator)).json()
        assert final["stage"] == "discharged" and final["practitioner_id"] == "p-ana"
        after = await api.http.get(f"/dashboard/practice/clients/{mine}")
        assert after.status_code == 200 and "Discharged" in after.text
        assert "/book" not in after.text


async def test_the_workspace_needs_a_session_and_its_forms_the_sessions_token(dash: Api) -> None:
    api = dash
    ref = "R0123456789"
    pages = [
        "/dashboard/practice",
        f"/dashboard/practice/clients/{ref}",
        f"/dashboard/practice/clients/{ref}/reqol/baseline",
    ]
    forms = ["book", "record", "extend", "discharge", "reqol/baseline", "reqol/end/skip"]
    for path in pages:
        response = await api.http.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    for form in forms:
        response = await api.http.post(f"/dashboard/practice/clients/{ref}/{form}", data={})
        assert response.status_code == 303, form
    await add_practitioner(api.h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 5)
    assert (
        await sign_in(api.http, await api.key("practitioner", practitioner="p-ana"))
    ).status_code == 303
    for form in forms:
        missing = await api.http.post(f"/dashboard/practice/clients/{ref}/{form}", data={})
        assert missing.status_code == 403 and "Form expired" in missing.text, form
        forged = await api.http.post(
            f"/dashboard/practice/clients/{ref}/{form}", data={"csrf": "x" * 43}
        )
        assert forged.status_code == 403, form
    # An address the workspace does not have is an HTML page, not JSON.
    odd = await api.http.get(f"/dashboard/practice/clients/{ref}/reqol/middle")
    assert odd.status_code == 404 and odd.headers["content-type"].startswith("text/html")


async def test_a_client_who_texted_stop_is_shown_so_on_both_staff_pages(dash: Api) -> None:
    """STOP by text stops texts at once; the coordinator's referral page and the
    practitioner's client page both say so, so nobody waits for a text that will not go."""
    from tests.test_client_messages import _phone, text_in

    api = dash
    await add_practitioner(api.h.session_factory, "p-ana", "Ana Lowry", "p-ana@h.example", 5)
    coordinator = await api.key("coordinator", label="c-dana")
    referrer = await api.key("referrer", organisation=ORG_A)
    ana = await api.key("practitioner", practitioner="p-ana", label="p-ana")
    phone = _phone()
    ana_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app), base_url="http://testserver"
    )
    async with api.h.worker(), ana_http:
        ref = await allocated(api, coordinator, referrer, "p-ana", client={"phone": phone})
        await sign_in(api.http, coordinator)
        await sign_in(ana_http, ana)
        pages = (
            (api.http, f"/dashboard/referrals/{ref}"),
            (ana_http, f"/dashboard/practice/clients/{ref}"),
        )
        for http, path in pages:
            before = await http.get(path)
            assert before.status_code == 200 and 'id="texts-stopped"' not in before.text, path
        await text_in(api.h, "STOP", phone)

        async def texts_stopped() -> bool:
            return (await api.h.state(ref)).texts_stopped

        await eventually(texts_stopped)
        for http, path in pages:
            after = await http.get(path)
            assert after.status_code == 200, path
            stopped = after.text.split('id="texts-stopped"', 1)[1].split("</div>", 1)[0]
            assert "texted STOP" in stopped and "one question" in stopped, path
