"""Coded replies from the inbox (issue 11): the closed list, and a reply to an unknown
sender's text reaching that number once, through the outbox and the Notify stand-in, with no
clinical detail and recorded on the message (which, who, when)."""

from __future__ import annotations

import contextlib
import re
import uuid

import pytest

from activities.notifications import render_sms
from api.dashboard import configure
from infra.notify_standin import NotifyStandinServer
from models.inbox_replies import (
    REPLY_LABELS,
    REPLY_WORDING,
    ReplyCode,
    UnknownReplyCode,
    reply_code,
    reply_words,
)
from models.messages import Channel
from models.notifications import LetterKind
from models.settings import Settings
from models.tables import InboundMessageRow
from services import inbound_messages
from services.inbox_replies import ReplyRefused, send_reply
from tests.fixtures.api import Api
from tests.fixtures.dashboard import csrf_token, dashboard_settings, sign_in
from tests.fixtures.smtp import SmtpServer
from tests.fixtures.temporal import TEST_KEYRING, TEST_PSEUDONYM_KEY, Harness
from tests.helpers import body, eventually, mails_for
from tests.test_client_messages import _phone, text_in
from workflows.inbox_reply import inbox_reply_id

# A message whose words must never come back in a reply (what the client wrote stays here).
CLINICAL = "my new tablets from dr patel make me dizzy"


def test_every_reply_has_wording_and_a_label_and_is_short() -> None:
    assert set(REPLY_WORDING) == set(ReplyCode) == set(REPLY_LABELS)
    for code in ReplyCode:
        words = reply_words(code, "01234 567890")
        assert words and "{" not in words and len(words) <= 120, code
    assert "01234 567890" in reply_words(ReplyCode.PLEASE_CALL, "01234 567890")


def test_a_posted_code_is_one_of_the_list_or_named_as_wrong() -> None:
    assert reply_code("will_phone") is ReplyCode.WILL_PHONE
    for bad in (None, "", "WILL_PHONE ", "call me maybe", "<script>"):
        with pytest.raises(UnknownReplyCode, match="Choose one of the replies: will_phone"):
            reply_code(bad)
    # An unknown code in a queued letter still says something plain, never nothing.
    assert reply_words("from_a_later_version", "x") == reply_words(ReplyCode.WILL_PHONE, "x")


def test_a_texted_reply_is_short_and_carries_the_crisis_contacts() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    for code in ReplyCode:
        text = render_sms(LetterKind.INBOX_REPLY, {"reply_code": code.value}, settings)
        assert len(text) <= 306 and "116 123" in text and "999" in text
        assert text.startswith(settings.service_name)


async def _replied(h: Harness, message_id: str) -> InboundMessageRow | None:
    async with h.session_factory() as session:
        row = await session.get(InboundMessageRow, message_id)
    return row if row is not None and row.reply_code is not None else None


async def test_a_reply_to_an_unknown_senders_text_reaches_that_number_once(
    harness: Harness, notify_standin: NotifyStandinServer
) -> None:
    h = harness
    stranger = _phone()
    async with h.worker():
        stored = await text_in(h, CLINICAL, stranger)
        assert stored.ref is None
        await eventually(lambda: notify_standin.sent_texts(stranger))  # the holding reply

        async def reply() -> None:
            await send_reply(
                h.client,
                h.session_factory,
                TEST_KEYRING,
                stored.id,
                ReplyCode.WHO_ARE_YOU,
                "c-sam",
                h.task_queue,
            )

        await reply()
        with pytest.raises(ReplyRefused, match="already had a reply"):
            await reply()  # a double submit, before the first is recorded or after
        await h.client.get_workflow_handle(inbox_reply_id(stored.id)).result()
        with pytest.raises(ReplyRefused, match="already had a reply, sent by c-sam"):
            await reply()
    replies = [t for t in notify_standin.sent_texts(stranger) if "inbox_reply" in t["reference"]]
    assert len(replies) == 1
    text = replies[0]["body"]
    assert "name and date of birth" in text and "116 123" in text
    for word in ("tablets", "patel", "dizzy"):
        assert word not in text.lower()
    row = await _replied(h, stored.id)
    assert row is not None and row.reply_code == "who_are_you" and row.replied_by == "c-sam"
    assert row.replied_at is not None
    assert stored.id in inbox_reply_id(stored.id) and stranger not in inbox_reply_id(stored.id)


async def test_the_inbox_page_sends_a_chosen_reply_and_names_bad_input(
    api: Api, notify_standin: NotifyStandinServer
) -> None:
    configure(api.app, dashboard_settings())
    h = api.h
    stranger = _phone()
    assert (await sign_in(api.http, await api.key("coordinator"))).status_code == 303
    async with h.worker():
        stored = await text_in(h, CLINICAL, stranger)
        page = await api.http.get("/dashboard/inbox")
        assert f'action="/dashboard/inbox/{stored.id}/reply"' in page.text
        token = csrf_token(page.text)
        path = f"/dashboard/inbox/{stored.id}/reply"
        # No CSRF token: refused, nothing sent.
        assert (await api.http.post(path, data={"reply": "will_phone"})).status_code == 403
        unknown = await api.http.post(
            path, data={"csrf": token, "reply": "free text"}, follow_redirects=True
        )
        assert "Choose one of the replies" in unknown.text
        gone = await api.http.post(
            f"/dashboard/inbox/{'0' * 32}/reply",
            data={"csrf": token, "reply": "will_phone"},
            follow_redirects=True,
        )
        assert "no longer in the inbox" in gone.text
        assert await _replied(h, stored.id) is None
        sent = await api.http.post(
            path, data={"csrf": token, "reply": "please_call"}, follow_redirects=True
        )
        assert "Reply sent" in sent.text
        again = await api.http.post(
            path, data={"csrf": token, "reply": "please_call"}, follow_redirects=True
        )
        assert "already had a reply" in again.text
        await h.client.get_workflow_handle(inbox_reply_id(stored.id)).result()
        await eventually(
            lambda: [
                t for t in notify_standin.sent_texts(stranger) if "inbox_reply" in t["reference"]
            ]
        )
        shown = (await api.http.get("/dashboard/inbox")).text
        # Recorded on the message and shown: which reply, by whom; no second form.
        recorded = re.search(rf'<p class="message-reply" id="reply-{stored.id}">(.*?)</p>', shown)
        assert recorded is not None and "Please call us" in recorded.group(1)
        assert "Replied" in recorded.group(1) and "<strong>" in recorded.group(1)
        assert f'action="/dashboard/inbox/{stored.id}/reply"' not in shown
    replies = [t for t in notify_standin.sent_texts(stranger) if "inbox_reply" in t["reference"]]
    assert len(replies) == 1 and "Please call us on" in replies[0]["body"]


async def test_a_reply_to_an_email_goes_back_by_email_once(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    sender = f"someone-{uuid.uuid4().hex[:8]}@example.org"
    async with h.worker():
        stored = await inbound_messages.receive(
            h.client,
            h.session_factory,
            TEST_PSEUDONYM_KEY,
            TEST_KEYRING,
            channel=Channel.EMAIL,
            sender=sender,
            body=CLINICAL,
            policy=h.policy,
            task_queue=h.task_queue,
        )
        for _ in range(2):
            with contextlib.suppress(ReplyRefused):
                await send_reply(
                    h.client,
                    h.session_factory,
                    TEST_KEYRING,
                    stored.id,
                    ReplyCode.WILL_PHONE,
                    "c-sam",
                    h.task_queue,
                )
        await h.client.get_workflow_handle(inbox_reply_id(stored.id)).result()
    [reply] = mails_for(smtp_server, sender, "about your message")
    text = body(reply)
    assert "One of our team will phone you soon" in text and "116 123" in text
    assert "dizzy" not in text.lower() and "tablets" not in text.lower()


def test_every_reading_of_a_message_is_in_a_coordinators_words() -> None:
    """The inbox says how Harbour read each message in words, never a code such as "other"."""
    from api.dashboard.formatting import intent
    from models.messages import Intent

    for each in Intent:
        words = intent(each.value)
        assert words and "_" not in words and words != each.value, each
    assert intent(Intent.OTHER.value) == "no request Harbour acts on: a person reads it"
    # A message in the inbox was not acted on: the words never say that something happened.
    assert "leaving the list" not in intent(Intent.CONFIRM.value)
    assert "yes" in intent(Intent.STILL_WAITING.value)
