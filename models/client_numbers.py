"""The numbers a client gives: a phone number to reach them, an NHS number to identify them.

Both are read by well-kept libraries: ``phonenumbers`` (Google's libphonenumber metadata) and
``nhs-number`` (the modulus-11 check digit). ``ClientDetails`` is a workflow input, so both run
inside the workflow sandbox too (``worker.workflow_runner`` passes them through): an old
history's numbers must read back exactly as they were stored.
"""

from __future__ import annotations

import re

import nhs_number
import phonenumbers
from pydantic_core import PydanticCustomError

# A number written without +country is a UK number (07700 900123, 020 7946 0000).
DEFAULT_REGION = "GB"
# Ofcom reserves these UK ranges for drama and tests: well-formed numbers that reach nobody,
# which is why tests, samples and the dev stack use them. libphonenumber calls the mobile
# (07700 900xxx) and no-area (01632 960xxx) ones invalid, since no call can ever reach them;
# the geographic ones (020 7946 0xxx, 0161 496 0xxx, ...) it already accepts.
_OFCOM_DRAMA = re.compile(r"\+44(?:7700900|1632960)\d{3}")

# Fixed text: the number typed is never shown back (nor any example a test could mistake for it).
PHONE_INVALID = (
    "not a valid phone number; give a UK number starting with 0, or + and the country code, "
    "without an extension"
)
NHS_NUMBER_CHECK_DIGIT = "the NHS number's check digit is wrong; check it was copied correctly"
NHS_NUMBER_INVALID = "not a valid NHS number (a Scottish CHI number starts with a date of birth)"


def normalise_phone(value: str) -> str:
    """A phone number in E.164 form: ``07700 900123``, ``+44 (0)7700-900123`` and
    ``0044 7700 900123`` all give ``+447700900123``; ``+1 202 555 0143`` gives ``+12025550143``.

    Raises ``ValueError`` (the message never holds the number) when it is not a number a phone
    could have: libphonenumber's validity check for its country, or one of Ofcom's drama ranges.
    """
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValueError(PHONE_INVALID) from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    valid = phonenumbers.is_valid_number(number) or _OFCOM_DRAMA.fullmatch(e164)
    # An extension cannot receive a text, and E.164 has no place for one.
    if not valid or number.extension:
        raise ValueError(PHONE_INVALID)
    return e164


def check_nhs_number(value: str) -> str:
    """``value`` (an NHS number, 10 digits) when its check digit is right; else ``ValueError``
    saying what is wrong, without the number."""
    digits = nhs_number.standardise_format(value)
    if not digits:
        raise ValueError("an NHS number has 10 digits")
    if nhs_number.calculate_checksum(digits[:9]) != int(digits[9]):
        raise ValueError(NHS_NUMBER_CHECK_DIGIT)
    if not nhs_number.is_valid(digits):
        raise ValueError(NHS_NUMBER_INVALID)
    return digits


def phone_field(value: str) -> str:
    """``normalise_phone`` for a pydantic validator: its refusal, typed ``phone_number``, keeps
    its whole message in the API's 422 (which shortens plain ``value_error`` messages)."""
    try:
        return normalise_phone(value)
    except ValueError as refused:
        raise PydanticCustomError("phone_number", str(refused)) from None


def nhs_number_field(value: str) -> str:
    """``check_nhs_number`` for a pydantic validator (error type ``nhs_number``)."""
    try:
        return check_nhs_number(value)
    except ValueError as refused:
        raise PydanticCustomError("nhs_number", str(refused)) from None
