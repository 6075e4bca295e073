"""Whole numbers as JSON Schema's ``integer`` means them, for the bodies that take one.

JSON Schema calls 5 and 5.0 alike an integer; text ("5") and true are not numbers. pydantic's
strict int refuses 5.0 and its lax int takes "5": this takes exactly what the published schema
says. The bounds sit before the check in the chain, so the schema states them as ``minimum``
and ``maximum`` (after it, pydantic would publish ``ge``/``le``, which JSON Schema ignores).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("an integer")
        return int(value)
    return value


def json_int(minimum: int, maximum: int) -> Any:
    """An integer from ``minimum`` to ``maximum``, as a JSON body states it."""
    return Annotated[int, Field(ge=minimum, le=maximum), BeforeValidator(_whole_number)]
