"""ReQoL-10 scoring. Item numbers and scores only: the item wording is licensed and is
never stored in this repository.

Responses arrive as answered, 0–4 on the frequency scale (0 = the least often, 4 = the most
often). Items 1, 3, 6 and 9 are negatively worded, so their scores are reversed (4 − response);
then every item scores 0–4 with higher meaning better, and the total is 0–40. The physical
health item is scored apart and never enters the total.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

ITEMS = range(1, 11)


class ReqolSkipReason(StrEnum):
    """Why a ReQoL-10 measure was not taken. A code, never typed text: it is what the
    anonymised outcomes keep (a note, if any, stays with the referral's encrypted state)."""

    DECLINED = "declined"  # the client chose not to answer
    UNWELL = "unwell"  # too unwell or distressed to answer
    ACCESS_NEEDS = "access_needs"  # language, literacy, sight or another access need
    NOT_SEEN = "not_seen"  # no session to ask it in (ended early, did not attend)
    NOT_APPROPRIATE = "not_appropriate"  # the practitioner judged it not right at the time
    OTHER = "other"


def skip_code(reason: str | None) -> ReqolSkipReason | None:
    """The code of a stored skip reason: the code itself, or ``OTHER`` for the free text that
    referrals recorded before reasons were codes (their histories still hold it)."""
    if reason is None:
        return None
    try:
        return ReqolSkipReason(reason)
    except ValueError:
        return ReqolSkipReason.OTHER


NEGATIVELY_WORDED = frozenset({1, 3, 6, 9})
# The item that alerts the practitioner at once when answered at its two worst levels.
ALERT_ITEM = 6
ALERT_RESPONSES = frozenset({3, 4})


class ReqolResponses(BaseModel):
    """Answers to the ten items (by number) and, apart, the physical-health item."""

    responses: dict[int, int]
    physical_health: int | None = Field(default=None, ge=0, le=4)

    @field_validator("responses")
    @classmethod
    def _complete(cls, value: dict[int, int]) -> dict[int, int]:
        missing = sorted(set(ITEMS) - set(value))
        extra = sorted(set(value) - set(ITEMS))
        if missing or extra:
            raise ValueError(
                f"ReQoL-10 needs items 1–10 exactly: missing {missing or 'none'}, "
                f"unknown {extra or 'none'}"
            )
        bad = sorted(item for item, response in value.items() if not 0 <= response <= 4)
        if bad:
            raise ValueError(f"responses must be 0–4; items out of range: {bad}")
        return value


class ReqolScore(BaseModel):
    item_scores: dict[int, int]
    total: int
    physical_health: int | None
    clinical: bool
    alert: bool


class Change(StrEnum):
    RELIABLE_IMPROVEMENT = "reliable_improvement"
    NO_RELIABLE_CHANGE = "no_reliable_change"
    RELIABLE_DETERIORATION = "reliable_deterioration"


class ReqolChange(BaseModel):
    baseline_total: int
    end_total: int
    difference: int
    change: Change
    baseline_clinical: bool
    end_clinical: bool
    recovered: bool = Field(description="clinical at baseline, non-clinical at the end")
    reliably_recovered: bool = Field(description="recovered with reliable improvement")


def item_score(item: int, response: int) -> int:
    """The 0–4 score of one item (higher is better), reversing negatively worded items."""
    return 4 - response if item in NEGATIVELY_WORDED else response


def is_clinical(total: int, cutoff: int) -> bool:
    """Totals at or below the cut-off lie in the clinical range."""
    return total <= cutoff


def score(answers: ReqolResponses, cutoff: int = 24) -> ReqolScore:
    """Score one completed ReQoL-10."""
    items = {item: item_score(item, answers.responses[item]) for item in ITEMS}
    total = sum(items.values())
    return ReqolScore(
        item_scores=items,
        total=total,
        physical_health=answers.physical_health,
        clinical=is_clinical(total, cutoff),
        alert=answers.responses[ALERT_ITEM] in ALERT_RESPONSES,
    )


def change(baseline_total: int, end_total: int, cutoff: int = 24, reliable: int = 5) -> ReqolChange:
    """Classify change between two totals: reliable change and clinical → non-clinical."""
    for total in (baseline_total, end_total):
        if not 0 <= total <= 40:
            raise ValueError("ReQoL-10 totals lie in 0–40")
    difference = end_total - baseline_total
    if difference >= reliable:
        kind = Change.RELIABLE_IMPROVEMENT
    elif difference <= -reliable:
        kind = Change.RELIABLE_DETERIORATION
    else:
        kind = Change.NO_RELIABLE_CHANGE
    baseline_clinical = is_clinical(baseline_total, cutoff)
    end_clinical = is_clinical(end_total, cutoff)
    recovered = baseline_clinical and not end_clinical
    return ReqolChange(
        baseline_total=baseline_total,
        end_total=end_total,
        difference=difference,
        change=kind,
        baseline_clinical=baseline_clinical,
        end_clinical=end_clinical,
        recovered=recovered,
        reliably_recovered=recovered and kind == Change.RELIABLE_IMPROVEMENT,
    )
