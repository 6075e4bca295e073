"""Clients' secure links (issue 12, part 1): letters that ask something carry a signed,
expiring, single-purpose link for their own referral; its page takes the answer and hands it
to the referral's workflow the way a text would. Real servers: the time-skipping Temporal
server, SMTP, SQLite, the FastAPI app."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from activities.notifications import client_link, render_sms
from infra.link_tokens import LinkExpired, LinkInvalid, LinkSigner
from models.actions import (
    Allocation,
    Discharge,
    DischargeReason,
    ReqolSubmission,
    SessionBooking,
    SessionRecord,
    TriageDecision,
    TriageOutcome,
)
from models.client_links import (
    LINK_ANSWERS,
    LINK_PURPOSES,
    LinkAnswer,
    LinkPurpose,
    answer_allowed,
    lifetime,
    purpose_code,
    purpose_from_code,
    reqol_due_before_session,
    spends_link,
)
from models.notifications import LetterKind, Notification, Recipient
from models.referral import (
    Episode,
    RecordedSession,
    ReqolRecord,
    ReqolWhen,
    SessionOutcome,
    Stage,
)
from models.settings import Settings
from models.tables import ClientLinkUseRow, InboundMessageRow
from readmodel.practitioners import add_practitioner
from tests.factories import CLIENT_EMAIL, submission
from tests.fixtures.api import Api
from tests.fixtures.smtp import SmtpServer
from tests.fixtures.temporal import TEST_PSEUDONYM_KEY
from tests.helpers import body, eventually, mails_for

ACCEPT = TriageDecision(outcome=TriageOutcome.ACCEPT, coordinator="c-1")
COORDINATORS = "coordinators@harbour.example"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/c/[A-Za-z0-9_.-]+)")
CRISIS_NUMBERS = ("111", "116 123", "999")


# ------------------------------------------------------------------------------ the rules


def test_every_letter_that_asks_something_has_a_link_purpose_and_every_purpose_offers_help() -> (
    None
):
    assert set(LINK_PURPOSES.values()) == set(LinkPurpose)
    for purpose in LinkPurpose:
        assert LinkAnswer.HELP in LINK_ANSWERS[purpose]
        assert purpose_from_code(purpose_code(purpose)) is purpose
        assert timedelta(days=1) <= lifetime(purpose) <= timedelta(days=366)
    assert not answer_allowed(LinkPurpose.CHECKIN, LinkAnswer.COME_BACK)
    assert not answer_allowed(LinkPurpose.CHECKIN, LinkAnswer.CONFIRM_WITHDRAWAL)
    assert not answer_allowed(LinkPurpose.REENTRY, LinkAnswer.TAKE_ME_OFF)
    assert not spends_link(LinkAnswer.HELP)
    assert all(spends_link(a) for a in LinkAnswer if a is not LinkAnswer.HELP)


def test_a_token_is_refused_when_altered_signed_with_another_key_or_too_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = LinkSigner(TEST_PSEUDONYM_KEY)
    token = signer.make("c", "R7K2M9QX4PT", "0123456789abcdef")
    read = signer.read(token, max_age_seconds=60)
    assert (read.purpose_code, read.ref, read.token_id) == ("c", "R7K2M9QX4PT", "0123456789abcdef")
    head, signature = token.rsplit(".", 1)
    altered = [
        token.replace("R7K2M9QX4PT", "R7K2M9QX4PV"),  # another referral
        "w" + token[1:],  # another purpose
        f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}",  # the signature
        token[:-5],
    ]
    for bad in altered:
        with pytest.raises(LinkInvalid):
            signer.read(bad)
    with pytest.raises(LinkInvalid):
        LinkSigner(b"another key" * 3).read(token)
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    old = signer.make("c", "R7K2M9QX4PT", "0123456789abcdef")
    monkeypatch.undo()
    with pytest.raises(LinkExpired):
        signer.read(old, max_age_seconds=int(lifetime(LinkPurpose.CHECKIN).total_seconds()))


def test_only_client_letters_that_ask_something_carry_a_link_and_texts_stay_within_306() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, public_url="https://referrals.harbour-recovery.example.org.uk"
    )
    signer = LinkSigner(TEST_PSEUDONYM_KEY)
    context = {
        "ref": "R0123456789ABCDEF",
        "client_first_name": "Bartholomew-Alexander",
        "practitioner_first_name": "Christabel-Anastasia",
        "position": 123,
        "session_at": datetime(2026, 12, 9, 14, 30, tzinfo=UTC).isoformat(),
        "texts_stopped": True,
        "reqol_due": True,
    }
    for kind in LetterKind:
        letter = Notification(
            key=f"R0123456789ABCDEF:{kind.value}:client:1",
            ref="R0123456789ABCDEF",
            kind=kind,
            recipient=Recipient.CLIENT,
            context=context,
        )
        link = client_link(signer, settings, letter)
        assert (link is not None) == (kind in LINK_PURPOSES), kind
        if link is None:
            continue
        assert link.startswith("https://referrals.harbour-recovery.example.org.uk/c/")
        text = render_sms(kind, {**context, "link": link}, settings)
        assert link in text and len(text) <= 306, (kind, len(text), text)
        if kind is LetterKind.SESSION_REMINDER:  # the ReQoL link: only while the baseline is due
            done = {**context, "reqol_due": False}
            assert (
                client_link(signer, settings, letter.model_copy(update={"context": done})) is None
            )
        for other in (Recipient.REFERRER, Recipient.COORDINATORS):
            assert (
                client_link(signer, settings, letter.model_copy(update={"recipient": other}))
                is None
            )
        assert client_link(signer, settings, letter.model_copy(update={"discreet": True})) is None


# ------------------------------------------------------------------------ the journeys


def _link(smtp: SmtpServer, kind: str) -> str:
    """The path of the link in the newest client email of ``kind``."""
    mails = [m for m in mails_for(smtp, CLIENT_EMAIL) if m["X-Harbour-Kind"] == kind]
    assert mails, kind
    found = LINK.search(body(mails[-1]))
    assert found, body(mails[-1])
    return found.group(1)


async def _timeline_kinds(api: Api, ref: str) -> list[str]:
    return [event.kind for event in (await api.h.state(ref)).timeline]


def _crisis_alerted(smtp: SmtpServer, ref: str) -> bool:
    """Whether coordinators got the crisis alert for ``ref``."""
    return any(
        m["X-Harbour-Alert"] == "crisis_message" and m["X-Harbour-Ref"] == ref
        for m in mails_for(smtp, COORDINATORS)
    )


async def _waiting_with_checkin(api: Api, smtp: SmtpServer) -> str:
    ref = await api.h.refer(submission())
    await api.h.act(ref, "triage", ACCEPT)
    await api.h.advance(timedelta(weeks=4, days=1))
    await eventually(
        lambda: any(m["X-Harbour-Kind"] == "checkin" for m in mails_for(smtp, CLIENT_EMAIL))
    )
    return ref


async def test_a_check_in_answered_by_link_once_and_never_again(
    api: Api, smtp_server: SmtpServer
) -> None:
    async with api.h.worker():
        ref = await _waiting_with_checkin(api, smtp_server)
        path = _link(smtp_server, "checkin")
        page = await api.get(path)
        assert page.status_code == 200
        for label in ("still waiting", "I am OK", "I need help now", "take me off the list"):
            assert label in page.text
        assert page.headers["Referrer-Policy"] == "same-origin"  # the token stays here
        # A link does its own thing only.
        wrong = await api.post(path, data={"answer": "come_back"})
        assert wrong.status_code == 404
        answered = await api.post(path, data={"answer": "still_waiting"})
        assert answered.status_code == 303
        done = await api.get(answered.headers["location"])
        assert done.status_code == 200 and "Nothing changes" in done.text

        async def checkin_answered() -> bool:
            return "checkin_answered" in await _timeline_kinds(api, ref)

        await eventually(checkin_answered)
        again = await api.post(path, data={"answer": "take_me_off"})
        assert again.status_code == 410 and "already been used" in again.text
        assert (await api.h.state(ref)).stage == Stage.WAITING
        assert not (await api.h.state(ref)).withdrawal_pending
        reopened = await api.get(path)
        assert reopened.status_code == 200 and "already used this link" in reopened.text
    async with api.h.session_factory() as session:
        uses = (await session.scalars(select(ClientLinkUseRow))).all()
        kept = (
            await session.scalars(select(InboundMessageRow).where(InboundMessageRow.ref == ref))
        ).all()
    assert [u.ref for u in uses] == [ref]
    assert [m.channel for m in kept] == ["link"]


async def test_a_spent_link_takes_its_own_answer_again_but_never_another(
    api: Api, smtp_server: SmtpServer
) -> None:
    """While the workflow has not read a link's first answer (no worker: it waits), the same
    answer again (a double tap, a retry after an error) is delivered again under the first's
    id, which the workflow takes once; a different one is refused, so the workflow can only
    ever act on the answer kept. (Once read, any answer is refused: the check-in test.)"""
    async with api.h.worker():
        ref = await _waiting_with_checkin(api, smtp_server)
        path = _link(smtp_server, "checkin")
    first = await api.post(path, data={"answer": "still_waiting"})
    assert first.status_code == 303
    other = await api.post(path, data={"answer": "take_me_off"})
    assert other.status_code == 410 and "already been used" in other.text
    again = await api.post(path, data={"answer": "still_waiting"})
    assert again.status_code == 303
    async with api.h.session_factory() as session:
        kept = (
            await session.scalars(select(InboundMessageRow).where(InboundMessageRow.ref == ref))
        ).all()
    assert [m.channel for m in kept] == ["link"]


async def test_help_now_through_an_expired_link_still_alerts_coordinators(
    api: Api, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check-in page left open in a phone's browser past its link's lifetime: "I need help
    now" still reaches a person (any other answer is refused as too old)."""
    signer = LinkSigner(TEST_PSEUDONYM_KEY)
    async with api.h.worker():
        ref = await api.h.refer(submission())
        await api.h.act(ref, "triage", ACCEPT)
        made = time.time() - lifetime(LinkPurpose.CHECKIN).total_seconds() - 3600
        monkeypatch.setattr(time, "time", lambda: made)
        token = signer.make(purpose_code(LinkPurpose.CHECKIN), ref, "expiredhelp00001")
        monkeypatch.undo()
        ended = await api.get(f"/c/{token}")
        assert ended.status_code == 410
        # The ended link's page still offers the one button that works: help, through it.
        assert f'action="/c/{token}"' in ended.text and 'value="help"' in ended.text
        assert 'value="ok"' not in ended.text
        assert (await api.post(f"/c/{token}", data={"answer": "ok"})).status_code == 410
        help_page = await api.post(f"/c/{token}", data={"answer": "help"})
        assert help_page.status_code == 200 and "told our team" in help_page.text

        await eventually(lambda: _crisis_alerted(smtp_server, ref))


async def test_help_now_shows_the_crisis_contacts_and_alerts_coordinators_even_after_use(
    api: Api, smtp_server: SmtpServer
) -> None:
    async with api.h.worker():
        ref = await _waiting_with_checkin(api, smtp_server)
        path = _link(smtp_server, "checkin")
        assert (await api.post(path, data={"answer": "ok"})).status_code == 303
        help_page = await api.post(path, data={"answer": "help"})
        assert help_page.status_code == 200
        for number in CRISIS_NUMBERS:
            assert number in help_page.text
        assert "told our team" in help_page.text

        await eventually(lambda: _crisis_alerted(smtp_server, ref))
    async with api.h.session_factory() as session:
        crisis = (
            await session.scalars(
                select(InboundMessageRow).where(
                    InboundMessageRow.ref == ref, InboundMessageRow.crisis.is_(True)
                )
            )
        ).all()
    assert len(crisis) == 1 and crisis[0].in_inbox
    # Coordinators see it in their inbox like a crisis text (a fixed sentence, no free text).
    inbox = await api.get("/v1/inbox", await api.key("coordinator"))
    assert inbox.status_code == 200, inbox.text
    [item] = [i for i in inbox.json() if i["id"] == crisis[0].id]
    assert (item["channel"], item["crisis"]) == ("link", True)
    assert item["body"] == "Answered by link: I need help now"


async def test_take_me_off_still_needs_the_confirmation_then_its_own_link_confirms(
    api: Api, smtp_server: SmtpServer
) -> None:
    async with api.h.worker():
        ref = await _waiting_with_checkin(api, smtp_server)
        path = _link(smtp_server, "checkin")
        assert (await api.post(path, data={"answer": "take_me_off"})).status_code == 303

        async def asked() -> bool:
            return (await api.h.state(ref)).withdrawal_pending

        await eventually(asked)
        assert (await api.h.state(ref)).stage == Stage.WAITING  # not yet withdrawn
        await eventually(
            lambda: any(
                m["X-Harbour-Kind"] == "withdrawal_confirmation_request"
                for m in mails_for(smtp_server, CLIENT_EMAIL)
            )
        )
        confirm = _link(smtp_server, "withdrawal_confirmation_request")
        assert confirm != path
        assert (await api.post(confirm, data={"answer": "still_waiting"})).status_code == 404
        assert (await api.post(confirm, data={"answer": "confirm_withdrawal"})).status_code == 303

        async def closed() -> bool:
            return (await api.h.state(ref)).stage == Stage.CLOSED

        await eventually(closed)


async def test_come_back_after_discharge_and_a_reqol_before_a_session_by_link(
    api: Api, smtp_server: SmtpServer
) -> None:
    h = api.h
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        await h.act(ref, "allocate", Allocation(practitioner_id="p-ana", coordinator="c-1"))
        at = await h.env.get_current_time() + timedelta(days=2)
        await h.act(ref, "book_session", SessionBooking(at=at, location="the café"))
        await h.advance(timedelta(days=1, hours=1))  # the reminder 24 h before
        await eventually(
            lambda: any(
                m["X-Harbour-Kind"] == "session_reminder"
                for m in mails_for(smtp_server, CLIENT_EMAIL)
            )
        )
        reqol = _link(smtp_server, "session_reminder")
        form = await api.get(reqol)
        assert form.status_code == 200 and "Question 10" in form.text
        partial = await api.post(reqol, data={"answer": "reqol", "q1": "3", "q2": "9"})
        assert partial.status_code == 422
        assert 'href="#q2-0"' in partial.text and 'href="#q1-0"' not in partial.text
        assert 'value="3" checked' in partial.text
        answers = {f"q{i}": "2" for i in range(1, 11)}
        sent = await api.post(reqol, data={"answer": "reqol", **answers})
        assert sent.status_code == 303, sent.text
        assert "reqol_recorded" in await _timeline_kinds(api, ref)
        assert (await api.post(reqol, data={"answer": "reqol", **answers})).status_code == 410
        # The next session's reminder asks for nothing more: the baseline is in.
        reminders = len(
            [
                m
                for m in mails_for(smtp_server, CLIENT_EMAIL)
                if m["X-Harbour-Kind"] == "session_reminder"
            ]
        )
        later = await h.env.get_current_time() + timedelta(days=3)
        await h.act(ref, "book_session", SessionBooking(at=later, location="the library"))
        await h.advance(timedelta(days=2, hours=1))
        await eventually(
            lambda: (
                len(
                    [
                        m
                        for m in mails_for(smtp_server, CLIENT_EMAIL)
                        if m["X-Harbour-Kind"] == "session_reminder"
                    ]
                )
                > reminders
            )
        )
        newest = [
            m
            for m in mails_for(smtp_server, CLIENT_EMAIL)
            if m["X-Harbour-Kind"] == "session_reminder"
        ][-1]
        assert LINK.search(body(newest)) is None

        await h.act(ref, "record_session", SessionRecord(outcome=SessionOutcome.ATTENDED))
        await h.act(ref, "discharge", Discharge(reason=DischargeReason.COMPLETED, summary="done"))
        await eventually(
            lambda: any(
                m["X-Harbour-Kind"] == "discharge" for m in mails_for(smtp_server, CLIENT_EMAIL)
            )
        )
        back = _link(smtp_server, "discharge")
        page = await api.get(back)
        assert page.status_code == 200 and "come back" in page.text
        assert (await api.post(back, data={"answer": "come_back"})).status_code == 303

        async def second_episode() -> bool:
            view = await h.state(ref)
            return view.episode_number == 2

        await eventually(second_episode)


def test_the_reqol_due_by_link_is_the_baseline_first_and_the_end_before_the_last_session() -> None:
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    measure = ReqolRecord(total=20, recorded_at=at)

    def episode(attended: int, baseline: bool, end: bool, planned: int = 6) -> Episode:
        return Episode(
            number=1,
            practitioner_id="p-ana",
            allocated_at=at,
            planned_sessions=planned,
            sessions=[
                RecordedSession(
                    session_id=f"s{n}", at=at, outcome=SessionOutcome.ATTENDED, location="café"
                )
                for n in range(attended)
            ],
            baseline=measure if baseline else None,
            end=measure if end else None,
            last_contact_at=at,
        )

    assert reqol_due_before_session(None) is None  # no episode (waiting)
    assert reqol_due_before_session(episode(0, False, False)) is ReqolWhen.BASELINE
    assert reqol_due_before_session(episode(3, False, False)) is ReqolWhen.BASELINE  # late
    assert reqol_due_before_session(episode(0, True, False)) is None
    assert reqol_due_before_session(episode(4, True, False)) is None
    assert reqol_due_before_session(episode(5, True, False)) is ReqolWhen.END  # the 6th next
    assert reqol_due_before_session(episode(6, True, False)) is ReqolWhen.END  # past the plan
    assert reqol_due_before_session(episode(5, True, True)) is None  # given already
    assert reqol_due_before_session(episode(5, True, False, planned=8)) is None  # extended


async def test_the_end_measure_by_link_before_the_last_planned_session(
    api: Api, smtp_server: SmtpServer
) -> None:
    h = api.h
    await add_practitioner(h.session_factory, "p-ana", "Ana Lowry", "ana@harbour.example", 3)
    async with h.worker():
        ref = await h.refer(submission())
        await h.act(ref, "triage", ACCEPT)
        await h.act(ref, "allocate", Allocation(practitioner_id="p-ana", coordinator="c-1"))
        await h.act(
            ref,
            "record_reqol",
            ReqolSubmission(when=ReqolWhen.BASELINE, responses=dict.fromkeys(range(1, 11), 1)),
        )
        for _ in range(5):
            await h.act(ref, "record_session", SessionRecord(outcome=SessionOutcome.ATTENDED))
        assert (await h.state(ref)).reqol_due is ReqolWhen.END
        at = await h.env.get_current_time() + timedelta(days=2)
        await h.act(ref, "book_session", SessionBooking(at=at, location="the café"))
        await h.advance(timedelta(days=1, hours=1))  # the reminder 24 h before the sixth
        await eventually(
            lambda: any(
                m["X-Harbour-Kind"] == "session_reminder"
                for m in mails_for(smtp_server, CLIENT_EMAIL)
            )
        )
        reqol = _link(smtp_server, "session_reminder")
        answers = {f"q{i}": "3" for i in range(1, 11)}
        sent = await api.post(reqol, data={"answer": "reqol", **answers})
        assert sent.status_code == 303, sent.text
        view = await h.state(ref)
        recorded = [e.detail for e in view.timeline if e.kind == "reqol_recorded"]
        assert [d["when"] for d in recorded] == ["baseline", "end"]
        assert view.reqol_due is None


async def test_links_that_are_not_ours_say_so_plainly(api: Api) -> None:
    signer = LinkSigner(TEST_PSEUDONYM_KEY)
    genuine = signer.make("c", "R7K2M9QX4PT", "0123456789abcdef")
    head, signature = genuine.rsplit(".", 1)
    for path in (
        "/c/not-a-token-at-all",
        f"/c/{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}",
        "/c/" + signer.make("x", "R7K2M9QX4PT", "0123456789abcdef"),  # no such purpose
        "/c/%3Cscript%3E",
    ):
        for response in (await api.get(path), await api.post(path, data={"answer": "ok"})):
            assert response.status_code == 404, (path, response.status_code)
            assert "does not work" in response.text
            assert "116 123" in response.text  # the crisis contacts, even here
            assert "Traceback" not in response.text
    bad_answer = await api.post("/c/" + genuine, data={"answer": "delete everything"})
    assert bad_answer.status_code == 400


async def test_a_reqol_answer_that_only_looks_like_a_digit_is_asked_again(api: Api) -> None:
    """ "²" and "٣" pass ``str.isdigit()``; the first made ``int()`` fail with a 500. Both are
    named as unanswered, the form kept, nothing recorded or spent."""
    signer = LinkSigner(TEST_PSEUDONYM_KEY)
    token = signer.make(purpose_code(LinkPurpose.REQOL), "R7K2M9QX4PT", "digitsdigits0001")
    answers = {f"q{item}": "2" for item in range(1, 11)} | {"q1": "²", "q2": "٣"}
    response = await api.post(f"/c/{token}", data={"answer": "reqol", **answers})
    assert response.status_code == 422
    assert "Question 1 has no answer" in response.text
    assert "Question 2 has no answer" in response.text
    assert "Question 3 has no answer" not in response.text
    async with api.h.session_factory() as session:
        assert not (await session.scalars(select(ClientLinkUseRow))).all()


async def test_a_reqol_with_no_worker_to_take_it_comes_back_to_send_again(api: Api) -> None:
    """The measure is kept only by the workflow: with no worker the page does not hang (the
    configured wait) and does not claim it was kept — the answers come back to send again,
    and the link is not spent."""
    context = api.app.state.harbour
    context.settings = context.settings.model_copy(update={"worker_wait_seconds": 1.0})
    ref = await api.h.refer(submission())  # no worker runs in this test
    token = LinkSigner(TEST_PSEUDONYM_KEY).make(
        purpose_code(LinkPurpose.REQOL), ref, "noworkernowork01"
    )
    answers = {f"q{item}": str(item % 5) for item in range(1, 11)}
    response = await api.post(f"/c/{token}", data={"answer": "reqol", **answers})
    assert response.status_code == 503
    assert "could not save your answers just now" in response.text
    assert "kept what you sent" not in response.text
    assert response.text.count(" checked") == 10  # every answer kept on the page
    async with api.h.session_factory() as session:
        assert not (await session.scalars(select(ClientLinkUseRow))).all()


async def test_a_reqol_the_referral_cannot_take_changes_nothing_and_keeps_the_link(
    api: Api,
) -> None:
    async with api.h.worker():
        ref = await api.h.refer(submission())
        await api.h.act(ref, "triage", ACCEPT)  # waiting: no episode to measure yet
        token = LinkSigner(TEST_PSEUDONYM_KEY).make(
            purpose_code(LinkPurpose.REQOL), ref, "0123456789abcdef"
        )
        answers = {f"q{i}": "1" for i in range(1, 11)}
        refused = await api.post(f"/c/{token}", data={"answer": "reqol", **answers})
        assert refused.status_code == 409 and "could not add these answers" in refused.text
        assert "reqol_recorded" not in await _timeline_kinds(api, ref)
        again = await api.get(f"/c/{token}")
        assert again.status_code == 200 and "already used" not in again.text


async def test_a_link_is_spent_once_with_its_answer_on_each_database(db_url: str) -> None:
    """The single-use record and the kept answer go together, on SQLite and PostgreSQL: a
    second change finds the first answer; asking for help keeps a message each time and
    spends nothing."""
    from infra.database import make_engine, make_session_factory
    from readmodel.client_links import keep_link_answer, link_used, spend_link
    from tests.fixtures.temporal import TEST_KEYRING

    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    at = datetime.now(UTC)
    try:
        common = {"ref": "R7K2M9QX4PT", "purpose": "checkin", "at": at}
        first = await keep_link_answer(
            factory, TEST_KEYRING, token_id="t" * 16, body="still", spend=True, **common
        )
        second = await keep_link_answer(
            factory, TEST_KEYRING, token_id="t" * 16, body="stop", spend=True, **common
        )
        assert first.spent_now and not second.spent_now
        assert second.message_id == first.message_id and not second.same_answer
        third = await keep_link_answer(
            factory, TEST_KEYRING, token_id="t" * 16, body="still", spend=True, **common
        )
        assert not third.spent_now and third.same_answer and third.message_id == first.message_id
        assert await link_used(factory, "t" * 16)
        helps = [
            await keep_link_answer(
                factory, TEST_KEYRING, token_id="h" * 16, body="help", spend=False, **common
            )
            for _ in range(2)
        ]
        assert len({h.message_id for h in helps}) == 2 and not await link_used(factory, "h" * 16)
        assert await spend_link(factory, token_id="q" * 16, **common)
        assert not await spend_link(factory, token_id="q" * 16, **common)
        async with factory() as session:
            kept = (
                await session.scalars(
                    select(InboundMessageRow).where(InboundMessageRow.ref == "R7K2M9QX4PT")
                )
            ).all()
        assert sorted(m.channel for m in kept) == ["link"] * 3
        assert all(m.in_inbox and "still" not in m.body for m in kept)  # sealed
    finally:
        await engine.dispose()


async def test_the_reqol_page_shows_the_services_licensed_wording_when_it_has_a_file(
    api: Api, tmp_path: Path
) -> None:
    """Item numbers and responses are all that is stored; the words come from the service's
    file at run time (made-up words here: the real ones are licensed)."""
    wording = tmp_path / "reqol.json"
    wording.write_text(
        json.dumps(
            {
                "items": {str(n): f"Made-up statement number {n}" for n in range(1, 11)},
                "responses": {str(r): f"Made-up answer {r}" for r in range(5)},
            }
        )
    )
    context = api.app.state.harbour
    context.settings = context.settings.model_copy(update={"reqol_wording_file": wording})
    token = LinkSigner(TEST_PSEUDONYM_KEY).make(
        purpose_code(LinkPurpose.REQOL), "R7K2M9QX4PT", "0123456789abcdef"
    )
    page = await api.get(f"/c/{token}")
    assert page.status_code == 200
    assert "10. Made-up statement number 10" in page.text and "Made-up answer 4" in page.text
    context.settings = context.settings.model_copy(update={"reqol_wording_file": None})
    plain = await api.get(f"/c/{token}")
    assert "Question 10" in plain.text and "Made-up" not in plain.text
