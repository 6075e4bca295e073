"""The practitioners' workspace's plain rules, without Temporal: the ReQoL-10 wording loader
(the licensed wording is never in the repository: these files are placeholders written for the
test), the diary's order (today first, in the service's own days) and which measures an episode
has."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog

from models.diary import DiaryEntry, arrange_diary
from models.episode_measures import episode_measures
from models.referral import Stage, TimelineEvent
from models.reqol_wording import (
    PLACEHOLDER_RESPONSES,
    WordingFileError,
    parse_json_wording,
    parse_wording,
    placeholder_wording,
)
from services.reqol_wording import load_reqol_wording

LONDON = ZoneInfo("Europe/London")
ITEM_WORDS = {str(n): f"Placeholder statement {n}" for n in range(1, 11)}


# ------------------------------------------------------------------------- ReQoL wording


def test_without_a_file_every_item_is_a_numbered_placeholder() -> None:
    wording = load_reqol_wording(None)
    assert wording == placeholder_wording()
    assert not wording.supplied
    assert [wording.items[n] for n in (1, 10)] == ["Item 1", "Item 10"]
    assert wording.responses == PLACEHOLDER_RESPONSES


def test_a_json_file_words_the_items_and_optionally_the_responses() -> None:
    plain = parse_json_wording(json.dumps(ITEM_WORDS))
    assert plain.supplied and plain.items[3] == "Placeholder statement 3"
    assert plain.responses == PLACEHOLDER_RESPONSES
    scale = {str(r): f"Scale point {r}" for r in range(5)}
    full = parse_json_wording(json.dumps({"items": ITEM_WORDS, "responses": scale}))
    assert full.responses[4] == "Scale point 4"
    # Whitespace inside the wording is tidied to single spaces.
    spaced = parse_json_wording(json.dumps({**ITEM_WORDS, "2": "  two\n words "}))
    assert spaced.items[2] == "two words"


def test_a_csv_file_words_items_by_number_and_responses_as_r0_to_r4() -> None:
    rows = ["item,text", *(f'{n},"Placeholder, statement {n}"' for n in range(10, 0, -1))]
    rows += [f"r{r},Scale {r}" for r in range(5)]
    wording = parse_wording("\n".join(rows) + "\n", ".CSV")
    assert wording.items[1] == "Placeholder, statement 1"
    assert wording.responses[0] == "Scale 0"


@pytest.mark.parametrize(
    ("text", "suffix", "problem"),
    [
        (json.dumps({k: v for k, v in ITEM_WORDS.items() if k != "7"}), ".json", "items [7]"),
        (json.dumps({**ITEM_WORDS, "11": "extra"}), ".json", "item 11 is not one of 1-10"),
        (json.dumps({**ITEM_WORDS, "2": ""}), ".json", "1-500 characters"),
        (json.dumps({**ITEM_WORDS, "2": 5}), ".json", "must be text"),
        (json.dumps({"items": ITEM_WORDS, "responses": {"0": "a"}}), ".json", "all five"),
        (json.dumps([1, 2]), ".json", "must be an object"),
        (json.dumps({"items": ITEM_WORDS, "notes": "x"}), ".json", "only 'items' and"),
        (json.dumps({"items": ["a"]}), ".json", "must be JSON objects"),
        ("{not json", ".json", "not valid JSON"),
        ("1,a,b\n", ".csv", "a number and its wording"),
        ("one,a\n", ".csv", "whole numbers"),
        ("1,x\n", ".txt", ".json or .csv"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_saying_why(
    text: str, suffix: str, problem: str
) -> None:
    with pytest.raises(WordingFileError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_wording(text, suffix)


def test_the_loader_reads_the_file_again_when_it_changes_and_falls_back_on_a_bad_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wording.json"
    path.write_text(json.dumps(ITEM_WORDS))
    assert load_reqol_wording(path).items[1] == "Placeholder statement 1"
    path.write_text(json.dumps({**ITEM_WORDS, "1": "Changed placeholder, longer"}))
    assert load_reqol_wording(path).items[1] == "Changed placeholder, longer"
    secret = "Sensitive wording that must not be logged"
    path.write_text(json.dumps({"1": secret}))
    with structlog.testing.capture_logs() as logs:
        fallback = load_reqol_wording(path)
    assert fallback == placeholder_wording()
    assert logs and secret not in repr(logs)
    assert load_reqol_wording(tmp_path / "absent.json") == placeholder_wording()


# --------------------------------------------------------------------------------- diary


def _entry(ref: str, at: datetime) -> DiaryEntry:
    return DiaryEntry(ref=ref, session_id=f"{ref}-s", at=at, location="café", client=ref)


def test_the_diary_puts_today_first_in_the_services_own_days() -> None:
    # 23:30 UTC on 1 July is 00:30 on 2 July in London: "today" is London's 2 July.
    now = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    later_today = _entry("today-late", now + timedelta(hours=20))  # 20:30 London, 2 July
    soon = _entry("today-soon", now + timedelta(hours=1))
    tomorrow = _entry("tomorrow", now + timedelta(hours=24))  # 00:30 London, 3 July
    missed = _entry("missed", now - timedelta(hours=2))
    diary = arrange_diary([tomorrow, later_today, missed, soon], now, LONDON)
    assert [e.ref for e in diary.today] == ["today-soon", "today-late"]
    assert [e.ref for e in diary.later] == ["tomorrow"]
    assert [e.ref for e in diary.to_record] == ["missed"]
    assert not diary.empty and arrange_diary([], now, LONDON).empty


# ---------------------------------------------------------------------- episode measures


def _event(seq: int, kind: str, **detail: str | int | bool | None) -> TimelineEvent:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=seq)
    return TimelineEvent(seq=seq, at=at, kind=kind, stage=Stage.IN_EPISODE, detail=detail)


def test_the_measures_are_those_of_the_latest_episode() -> None:
    timeline = [
        _event(1, "allocated", episode=1),
        _event(2, "reqol_recorded", when="baseline", total=14),
        _event(3, "reqol_recorded", when="end", skipped=True),
        _event(4, "discharged"),
        _event(5, "allocated", episode=2),
        _event(6, "reqol_recorded", when="baseline", total=20),
    ]
    measures = episode_measures(timeline)
    assert set(measures) == {"baseline"}
    assert measures["baseline"].total == 20 and not measures["baseline"].skipped
    first = episode_measures(timeline[:4])
    assert first["end"].skipped and first["end"].total is None
    assert episode_measures([]) == {}
