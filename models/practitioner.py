"""What a coordinator may say about a practitioner: the one check behind the API's
``PUT /v1/practitioners/{id}`` and ``starter.py practitioner add``, so the same input gets the
same answer everywhere."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool

from models.numbers import json_int
from models.referral import Strict
from models.text import NOT_BLANK, EmailAddress, OneLine

# Opaque ids chosen by people (practitioner ids, staff labels): short, printable, no spaces.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

PractitionerId = Annotated[str, Field(pattern=ID_PATTERN, description="a practitioner's id")]


class PractitionerDetails(Strict):
    """Add or update a practitioner."""

    name: Annotated[OneLine, NOT_BLANK] = Field(min_length=1, max_length=200)
    email: EmailAddress
    capacity: json_int(0, 1000) = Field(  # type: ignore[valid-type]
        description="active episodes at most"
    )
    active: StrictBool = Field(default=True, description="false while on leave")


class PractitionerChange(PractitionerDetails):
    """A practitioner's details with their id: what ``services.practitioners.save`` checks
    (the API takes the id from the path, the CLI from its argument)."""

    id: PractitionerId
