"""The shape of ReQoL-10's wording as a page shows it, and how a wording file is read.

The item wording is licensed: it is never in this repository. A service that holds the
licence supplies it at run time in a file (``HARBOUR_REQOL_WORDING_FILE``, read by
``services.reqol_wording``); without one, every item reads "Item 1" ... "Item 10" and the
responses read as their numbers. What is stored is always item numbers and responses only.

A wording file is JSON or CSV:

- JSON: ``{"1": "text", ..., "10": "text"}``, or ``{"items": {...}, "responses": {"0": "text",
  ..., "4": "text"}}`` to word the response scale as well;
- CSV: rows of ``item number,text`` (a header row ``item,text`` is allowed); a row
  ``r0,text`` ... ``r4,text`` words a response.

Every item 1-10 must be worded (a file that words some items only is refused, so a form never
mixes licensed text and placeholders); responses are optional, all five or none.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import BaseModel, Field, field_validator

from models.reqol import ITEMS

RESPONSES = range(0, 5)
MAX_TEXT = 500
PLACEHOLDER_ITEM = "Item {n}"
PLACEHOLDER_RESPONSES: dict[int, str] = {
    0: "0 (least often)",
    1: "1",
    2: "2",
    3: "3",
    4: "4 (most often)",
}


class WordingFileError(ValueError):
    """A wording file that cannot be used; the message names the problem, never its text."""


class ReqolWording(BaseModel):
    """What a ReQoL-10 form shows: each item's words and each response's words."""

    items: dict[int, str] = Field(description="item number (1-10) -> its words")
    responses: dict[int, str] = Field(description="response (0-4) -> its words")
    supplied: bool = Field(description="from the service's licensed file, not placeholders")

    @field_validator("items")
    @classmethod
    def _every_item(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != list(ITEMS):
            raise ValueError("the wording needs items 1-10 exactly")
        return value

    @field_validator("responses")
    @classmethod
    def _every_response(cls, value: dict[int, str]) -> dict[int, str]:
        if sorted(value) != list(RESPONSES):
            raise ValueError("the wording needs responses 0-4 exactly")
        return value


def placeholder_wording() -> ReqolWording:
    """Item numbers and response numbers only: what shows when no licensed file is given."""
    return ReqolWording(
        items={n: PLACEHOLDER_ITEM.format(n=n) for n in ITEMS},
        responses=dict(PLACEHOLDER_RESPONSES),
        supplied=False,
    )


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise WordingFileError(f"{where}: the wording must be text")
    text = " ".join(value.split())
    if not text or len(text) > MAX_TEXT:
        raise WordingFileError(f"{where}: the wording must be 1-{MAX_TEXT} characters")
    return text


def _number(key: Any, allowed: range, what: str) -> int:
    try:
        number = int(str(key).strip())
    except ValueError:
        raise WordingFileError(f"{what} numbers must be whole numbers") from None
    if number not in allowed:
        raise WordingFileError(f"{what} {number} is not one of {allowed.start}-{allowed.stop - 1}")
    return number


def _wording(items: dict[int, str], responses: dict[int, str]) -> ReqolWording:
    missing = sorted(set(ITEMS) - set(items))
    if missing:
        raise WordingFileError(f"the file does not word items {missing}")
    if responses and sorted(responses) != list(RESPONSES):
        raise WordingFileError("the file must word all five responses 0-4, or none")
    return ReqolWording(
        items=items, responses=responses or dict(PLACEHOLDER_RESPONSES), supplied=True
    )


def parse_json_wording(text: str) -> ReqolWording:
    """A JSON wording file's wording; ``WordingFileError`` says what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise WordingFileError(f"not valid JSON (line {error.lineno})") from None
    if not isinstance(data, dict):
        raise WordingFileError("the JSON must be an object")
    # Either the items alone, or {"items": ..., "responses": ...}.
    nested = "items" in data
    raw_items: Any = data["items"] if nested else data
    raw_responses: Any = data.get("responses", {}) if nested else {}
    if not isinstance(raw_items, dict) or not isinstance(raw_responses, dict):
        raise WordingFileError("items and responses must be JSON objects")
    if nested and set(data) - {"items", "responses"}:
        raise WordingFileError("only 'items' and 'responses' may be given")
    items = {_number(k, ITEMS, "item"): _text(v, f"item {k}") for k, v in raw_items.items()}
    responses = {
        _number(k, RESPONSES, "response"): _text(v, f"response {k}")
        for k, v in raw_responses.items()
    }
    return _wording(items, responses)


def parse_csv_wording(text: str) -> ReqolWording:
    """A CSV wording file's wording (``item,text`` rows; ``r0,text`` words a response)."""
    items: dict[int, str] = {}
    responses: dict[int, str] = {}
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise WordingFileError(f"line {line}: a row is a number and its wording")
        key, value = row[0].strip(), row[1]
        if line == 1 and key.lower() in ("item", "number", "item number"):
            continue
        if key.lower().startswith("r"):
            responses[_number(key[1:], RESPONSES, "response")] = _text(value, f"line {line}")
        else:
            items[_number(key, ITEMS, "item")] = _text(value, f"line {line}")
    return _wording(items, responses)


def parse_wording(text: str, suffix: str) -> ReqolWording:
    """A wording file's wording by its kind (``.json`` or ``.csv``)."""
    kind = suffix.lower()
    if kind == ".json":
        return parse_json_wording(text)
    if kind == ".csv":
        return parse_csv_wording(text)
    raise WordingFileError("a wording file is .json or .csv")
