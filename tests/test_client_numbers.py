"""Clients' phone numbers (phonenumbers) and NHS numbers (nhs-number): valid ones in every usual
spelling read as before, invalid ones refused with a message that names no number, and the
workflow sandbox reads them as the API does."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from phonenumbers import is_valid_number, parse
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType

from models.client_numbers import (
    NHS_NUMBER_CHECK_DIGIT,
    NHS_NUMBER_INVALID,
    PHONE_INVALID,
    check_nhs_number,
    normalise_phone,
)
from models.referral import ClientDetails, Stage
from tests.factories import submission
from tests.fixtures.temporal import Harness
from tests.helpers import eventually
from workflows.referral import workflow_id

WORKFLOW_TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
WORKFLOW_TASK_FAILED = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED


def _before(value: str) -> str:
    """The hand-written normaliser phonenumbers replaced: the oracle for the numbers it read
    right (it also turned ``+44 (0)20…`` into ``+44020…`` and took any 8–15 digits)."""
    digits = re.sub(r"[^\d+]", "", value)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("0"):
        digits = "+44" + digits[1:]
    if not re.fullmatch(r"\+\d{8,15}", digits):
        raise ValueError("not a phone number")
    return digits


@pytest.mark.parametrize(
    ("spellings", "e164"),
    [
        (  # a mobile
            ["07123 456789", "07123456789", "+44 7123 456789", "0044 7123 456789",
             "+447123456789", "07123-456-789", "(07123) 456 789", " 07123 456789 "],
            "+447123456789",
        ),
        (  # a London landline
            ["020 7946 0958", "02079460958", "(020) 7946 0958", "+44 20 7946 0958",
             "0044 20 7946 0958", "020-7946-0958"],
            "+442079460958",
        ),
        (  # another area's landline
            ["0161 496 0000", "01614960000", "+44 161 496 0000"],
            "+441614960000",
        ),
        (  # Ofcom's drama numbers: the tests', the samples' and the committed histories'
            ["07700 900123", "07700900123", "+44 7700 900123", "+447700900123"],
            "+447700900123",
        ),
        (["01632 960000", "+441632960000"], "+441632960000"),
        (["+1 202 555 0143", "001 202 555 0143", "+12025550143"], "+12025550143"),  # abroad
    ],
)  # fmt: skip
def test_valid_numbers_in_every_spelling_read_as_before(spellings: list[str], e164: str) -> None:
    for spelling in spellings:
        assert normalise_phone(spelling) == e164, spelling
        assert _before(spelling) == e164, spelling  # exactly what was stored before
        assert normalise_phone(e164) == e164  # stored numbers read back unchanged (replay)


SPELLINGS = ["0{n}", "+44{n}", "0044{n}", "0{a} {b}", "+44 {a} {b}", "(0{a}) {b}", "0{a}-{b}"]


# ASCII digits: the old code kept other scripts' digits as they were; phonenumbers reads them.
@given(
    national=st.from_regex(r"(7[1-9]|1[1-9]|2[0-9])[0-9]{8}", fullmatch=True),
    spelling=st.sampled_from(SPELLINGS),
)
def test_any_valid_uk_number_normalises_as_the_old_code_did(national: str, spelling: str) -> None:
    assume(is_valid_number(parse("+44" + national)))
    written = spelling.format(n=national, a=national[:4], b=national[4:])
    assert normalise_phone(written) == _before(written) == "+44" + national


@pytest.mark.parametrize(
    "typed",
    [
        "12345",
        "07700 90012",  # a digit short
        "07123 4567890",  # a digit too many
        "+44 1234",
        "+12345678",  # the old code took any 8 to 15 digits after a +
        "+44 (0)1 2",
        "not a number",
        "",
        "020 7946 0958 ext. 12",  # a text cannot reach an extension
        "+999 123 456 789",  # no such country
    ],
)
def test_invalid_numbers_are_refused_clearly(typed: str) -> None:
    with pytest.raises(ValueError) as refused:
        normalise_phone(typed)
    assert str(refused.value) == PHONE_INVALID
    if re.fullmatch(r"\+\d{8,15}", typed):
        assert _before(typed) == typed  # taken before, refused now
    with pytest.raises(ValidationError) as invalid:
        ClientDetails(name="A", phone=typed)
    [error] = invalid.value.errors()
    assert error["loc"] == ("phone",) and error["type"] == "phone_number"
    assert error["msg"] == PHONE_INVALID  # one fixed message: the number is never echoed


def test_nhs_numbers_need_the_right_check_digit() -> None:
    for good in ("9434765919", "4010232137", "9876543210", "4857773457"):
        assert check_nhs_number(good) == good
        assert ClientDetails(name="A", phone="07700 900123", nhs_number=good).nhs_number == good
    for bad in ("9434765918", "4857773456", "3102900020"):  # the last can have no check digit
        with pytest.raises(ValueError, match="check digit is wrong"):
            check_nhs_number(bad)
        with pytest.raises(ValidationError) as refused:
            ClientDetails(name="A", phone="07700 900123", nhs_number=bad)
        [error] = refused.value.errors()
        assert error["loc"] == ("nhs_number",) and error["type"] == "nhs_number"
        assert error["msg"] == NHS_NUMBER_CHECK_DIGIT and bad not in error["msg"]
    # A Scottish CHI number begins with a date of birth: 31 February is none.
    with pytest.raises(ValueError) as chi:
        check_nhs_number("3102900003")
    assert str(chi.value) == NHS_NUMBER_INVALID
    # Still exactly 10 digits first, as the API's schema says.
    with pytest.raises(ValidationError, match="pattern"):
        ClientDetails(name="A", phone="07700 900123", nhs_number="943 476 5919")


# The workflow sandbox is where a worker first needs a country's phone metadata (in production
# the worker is not the API process that checked the number). Fiji's is loaded by no other test.
FIJI_LANDLINE = "+679 321 2345"


async def test_the_workflow_sandbox_reads_numbers_as_the_api_does(harness: Harness) -> None:
    referral = submission()
    # model_copy(update=...) does not validate: the number is first read by the workflow, when
    # it decodes its input inside the sandbox (phonenumbers passes through it: worker.py).
    overseas = referral.model_copy(
        update={"client": referral.client.model_copy(update={"phone": FIJI_LANDLINE})}
    )
    async with harness.worker():
        ref = await harness.refer(overseas)
        handle = harness.client.get_workflow_handle(workflow_id(ref))

        async def first_task_outcome() -> EventType | None:
            async for event in handle.fetch_history_events():
                if event.event_type in (WORKFLOW_TASK_COMPLETED, WORKFLOW_TASK_FAILED):
                    return event.event_type
            return None

        # Decoding the input fails the first workflow task if the sandbox cannot read the number.
        assert await eventually(first_task_outcome) == WORKFLOW_TASK_COMPLETED
        state = await harness.state(ref)
    assert state.stage == Stage.TRIAGE
    assert normalise_phone(FIJI_LANDLINE) == "+6793212345"
