"""The words a practitioner reads for the pathway's codes (outcomes, liaison, reasons).

Codes stay what the workflow, the API and the reports use; only the pages say them this way.
"""

from __future__ import annotations

from models.actions import DischargeReason
from models.referral import LiaisonKind, SessionOutcome
from models.reqol import ReqolSkipReason

SESSION_OUTCOMES: dict[str, str] = {
    SessionOutcome.ATTENDED.value: "Attended",
    SessionOutcome.DID_NOT_ATTEND.value: "Did not attend",
    SessionOutcome.CANCELLED.value: "Cancelled",
}

LIAISON: dict[str, str] = {
    LiaisonKind.HOUSING.value: "Housing",
    LiaisonKind.BENEFITS.value: "Benefits (PIP, Universal Credit)",
    LiaisonKind.EMPLOYMENT.value: "Work and employment",
    LiaisonKind.COMMUNITY_GROUP.value: "Community groups (music, gardening and the like)",
    LiaisonKind.PHYSICAL_HEALTH.value: "Physical health",
    LiaisonKind.OTHER.value: "Something else",
}

DISCHARGE_REASONS: dict[str, str] = {
    DischargeReason.COMPLETED.value: "The work we agreed is done",
    DischargeReason.ENDED_EARLY_BY_AGREEMENT.value: "Ended early, by agreement",
    DischargeReason.NOT_ENGAGED.value: "They have not engaged",
    DischargeReason.OTHER.value: "Another reason",
}

SKIP_REASONS: dict[str, str] = {
    ReqolSkipReason.DECLINED.value: "They chose not to answer",
    ReqolSkipReason.UNWELL.value: "Too unwell or distressed to answer",
    ReqolSkipReason.ACCESS_NEEDS.value: "An access need (language, literacy, sight or another)",
    ReqolSkipReason.NOT_SEEN.value: "Not seen (the episode ended early, or they did not attend)",
    ReqolSkipReason.NOT_APPROPRIATE.value: "It was not right to ask at the time",
    ReqolSkipReason.OTHER.value: "Another reason",
}

MEASURES: dict[str, str] = {
    "baseline": "at the start",
    "end": "at the end",
}
