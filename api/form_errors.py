"""A form's validation errors in plain words, each tied to the field it is about: the public
forms' shared wording (the referrers' form, ``api.portal.pages``; the self-referral form,
``api.self_referral.pages``), from the pydantic errors of the model that validates them.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def plain_error(item: Any, label: str) -> str:
    """A validation error in words for the form: what to do, naming the field."""
    kind, message = str(item.get("type", "")), str(item.get("msg", ""))
    if kind in ("missing", "string_too_short"):
        return f"Enter {label[0].lower()}{label[1:]}"
    if kind == "string_too_long":
        limit = (item.get("ctx") or {}).get("max_length")
        return f"{label} must be {limit} characters or fewer" if limit else f"{label} is too long"
    if "email address" in message and kind == "value_error":
        return f"{label}: enter an email address like name@example.org"
    return f"{label}: {message.removeprefix('Value error, ')}"


def form_errors(
    error: ValidationError,
    fields: dict[tuple[str, ...], str],
    labels: dict[str, str],
    *,
    fallback: str = "reason",
) -> list[tuple[str, str]]:
    """(field id, plain message) for each error, the first per field, in the form's order;
    ``fields`` maps an error's location to a field id (a location it does not know goes to
    ``fallback``), ``labels`` names the fields in the form's order."""
    found: dict[str, str] = {}
    for item in error.errors():
        loc = tuple(str(part) for part in item["loc"] if not isinstance(part, int))
        field = None
        while loc and field is None:
            field = fields.get(loc)
            loc = loc[:-1]
        field = field or fallback
        found.setdefault(field, plain_error(item, labels[field]))
    order = list(labels)
    return sorted(found.items(), key=lambda pair: order.index(pair[0]))
