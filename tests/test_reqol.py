"""ReQoL-10 scoring: reversal of negatively worded items, totals, change classes, alerts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.reqol import Change, ReqolResponses, change, item_score, score

ALL_TWOS = {i: 2 for i in range(1, 11)}


def test_negatively_worded_items_are_reversed() -> None:
    assert [item_score(i, 4) for i in range(1, 11)] == [0, 4, 0, 4, 4, 0, 4, 4, 0, 4]
    assert [item_score(i, 0) for i in range(1, 11)] == [4, 0, 4, 0, 0, 4, 0, 0, 4, 0]


def test_best_and_worst_totals() -> None:
    best = {i: (0 if i in (1, 3, 6, 9) else 4) for i in range(1, 11)}
    worst = {i: (4 if i in (1, 3, 6, 9) else 0) for i in range(1, 11)}
    assert score(ReqolResponses(responses=best)).total == 40
    assert score(ReqolResponses(responses=worst)).total == 0
    assert score(ReqolResponses(responses=ALL_TWOS)).total == 20


def test_physical_health_item_is_kept_apart() -> None:
    result = score(ReqolResponses(responses=ALL_TWOS, physical_health=0))
    assert result.total == 20 and result.physical_health == 0


@pytest.mark.parametrize(
    ("response", "alert"), [(0, False), (1, False), (2, False), (3, True), (4, True)]
)
def test_item_6_at_its_two_worst_levels_alerts(response: int, alert: bool) -> None:
    assert score(ReqolResponses(responses={**ALL_TWOS, 6: response})).alert is alert


def test_clinical_cutoff_from_policy() -> None:
    assert score(ReqolResponses(responses=ALL_TWOS), cutoff=24).clinical is True
    assert score(ReqolResponses(responses=ALL_TWOS), cutoff=19).clinical is False


@pytest.mark.parametrize(
    ("baseline", "end", "kind", "recovered"),
    [
        (15, 20, Change.RELIABLE_IMPROVEMENT, False),
        (20, 25, Change.RELIABLE_IMPROVEMENT, True),
        (24, 28, Change.NO_RELIABLE_CHANGE, True),
        (30, 25, Change.RELIABLE_DETERIORATION, False),
        (30, 34, Change.NO_RELIABLE_CHANGE, False),
    ],
)
def test_change_classes(baseline: int, end: int, kind: Change, recovered: bool) -> None:
    result = change(baseline, end, cutoff=24, reliable=5)
    assert result.change == kind
    assert result.recovered is recovered
    assert result.reliably_recovered is (recovered and kind == Change.RELIABLE_IMPROVEMENT)


@pytest.mark.parametrize(
    "responses",
    [{i: 2 for i in range(1, 10)}, {**ALL_TWOS, 11: 2}, {**ALL_TWOS, 3: 5}, {**ALL_TWOS, 4: -1}],
)
def test_incomplete_or_out_of_range_responses_are_refused(responses: dict[int, int]) -> None:
    with pytest.raises(ValidationError):
        ReqolResponses(responses=responses)


@given(st.dictionaries(st.integers(1, 10), st.integers(0, 4), min_size=10, max_size=10))
def test_total_is_the_sum_of_item_scores_within_0_40(responses: dict[int, int]) -> None:
    result = score(ReqolResponses(responses=responses))
    assert 0 <= result.total <= 40
    assert result.total == sum(result.item_scores.values())
