"""Text as it may come in: one-line fields, and free text.

Names, organisations, labels, locations, ids and every other one-line field refuse control
characters — CR and LF (a line break in a name is how a header gets into an email), NUL, the
rest of C0 and C1, the Unicode line and paragraph separators — and the bidirectional
embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make text read as
something other than what it holds. Free text (a reason, a question, a note) may have line
breaks and tabs, and nothing else of those.

These are boundary types, for what enters: the API's bodies, the webhook's, the dashboard's
forms and the CLI's input. The models that the workflows read back from their histories keep
plain ``str``: a referral started before these rules must still replay
(``tests/test_replay.py``), so no rule here may be applied to what is already stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    EmailStr,
    Field,
    GetJsonSchemaHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
# C0 but TAB, LF and CR; DEL and C1.
_CONTROLS_BUT_LINE_BREAKS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_NOT_ONE_LINE = re.compile(f"[\t\n\r{_CONTROLS_BUT_LINE_BREAKS}\u2028\u2029{_BIDI_CONTROLS}]")
_NOT_FREE_TEXT = re.compile(f"[{_CONTROLS_BUT_LINE_BREAKS}{_BIDI_CONTROLS}]")

# The same rules as JSON Schema patterns (ECMA-262), published in the OpenAPI document so that
# a client generated from it knows them.
_JSON_BIDI = "\\u202a-\\u202e\\u2066-\\u2069"
_JSON_CONTROLS = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
ONE_LINE_PATTERN = f"^[^\\u0009\\u000a\\u000d{_JSON_CONTROLS}\\u2028\\u2029{_JSON_BIDI}]*$"
FREE_TEXT_PATTERN = f"^[^{_JSON_CONTROLS}{_JSON_BIDI}]*$"

# Something other than whitespace somewhere (unanchored: JSON Schema patterns search). The
# boundary models strip surrounding whitespace before the length check, so a required field of
# spaces is empty: this states that. The class is Unicode's White_Space, which pydantic strips.
NOT_BLANK_PATTERN = (
    "[^\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029"
    "\\u202f\\u205f\\u3000]"
)

ONE_LINE_RULE = (
    "must be one line of plain text, without line breaks, tabs, other control characters "
    "or direction overrides"
)
FREE_TEXT_RULE = "must be plain text, without control characters or direction overrides"


def one_line(value: Any) -> Any:
    """``value`` if it is one line of plain text; else a validation error naming the rule
    (never the value). Anything but text is left to the type's own check."""
    if isinstance(value, str) and _NOT_ONE_LINE.search(value):
        raise PydanticCustomError("one_line", ONE_LINE_RULE)
    return value


def free_text(value: Any) -> Any:
    """``value`` if it holds no control character but line breaks and tabs, and no direction
    override; else a validation error naming the rule (never the value)."""
    if isinstance(value, str) and _NOT_FREE_TEXT.search(value):
        raise PydanticCustomError("free_text", FREE_TEXT_RULE)
    return value


@dataclass(frozen=True)
class Published:
    """A JSON Schema keyword added to a type's schema: the rule a validator enforces, stated
    where a client (and a schema-driven test) can read it."""

    keyword: str
    value: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        if self.keyword in schema and schema[self.keyword] != self.value:
            # Another rule of the same keyword (a field's own pattern): both must hold.
            schema.setdefault("allOf", []).append({self.keyword: self.value})
        else:
            schema[self.keyword] = self.value
        return schema


# For a text field that must not be blank (``min_length=1``): its schema says so.
NOT_BLANK = Published("pattern", NOT_BLANK_PATTERN)

# Checked before pydantic strips surrounding whitespace: "Bob\n" is refused, as the pattern
# says, not quietly trimmed.
OneLine = Annotated[str, BeforeValidator(one_line), Published("pattern", ONE_LINE_PATTERN)]
FreeText = Annotated[str, BeforeValidator(free_text), Published("pattern", FREE_TEXT_PATTERN)]


# Domains reserved for tests, local networks and the like (RFC 6761 and kin), which no mail
# reaches: email-validator refuses them; JSON Schema's "email" format does not know them.
_RESERVED_DOMAIN = re.compile(
    r"@(?:[^@]*\.)?(?:arpa|invalid|local|localhost|onion|test)\.?$", re.IGNORECASE
)
RESERVED_DOMAIN_RULE = "the domain is reserved (.test, .invalid, .local…) and receives no email"


def _name_reserved_domains(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        if isinstance(value, str) and _RESERVED_DOMAIN.search(value):
            raise PydanticCustomError("email_reserved_domain", RESERVED_DOMAIN_RULE) from None
        raise


# An email address as it may come in: pydantic's EmailStr, whose refusal of a reserved domain
# (a rule JSON Schema's "email" format cannot state) has an error type of its own.
EmailAddress = Annotated[
    EmailStr,
    WrapValidator(_name_reserved_domains),
    Field(
        description="an email address (not at a reserved domain such as .test, .invalid or "
        ".local, which receives no email)"
    ),
]
