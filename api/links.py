"""The pathway as OpenAPI links: from each answer that names a referral, where its ``ref`` can
go next.

A link is a promise to every client: the ``ref`` in this answer is the ``ref`` of that
operation, and the callers that operation is for can see the referral (no 404): its referrer's
organisation, every coordinator, its practitioner once it is on their caseload. It does not
promise the stage: whether the action fits the referral *now* is the workflow's to say (409,
with the reason). So intake links to the reads, the referrer's answer and every coordinator
action, but not to the practitioners' actions: nobody's caseload holds a referral that has not
been allocated, and a practitioner would get 404. Allocation links to those.

schemathesis's stateful phase follows these links (``tests/test_api_stateful.py``).
"""

from __future__ import annotations

from typing import Any

REFERRAL = "/v1/referrals/{ref}"
Operation = tuple[str, str]  # (method, path) as the document spells them

# Each target operation, and the name its links carry.
LINK_NAMES: dict[Operation, str] = {
    ("get", REFERRAL): "Referral",
    ("get", f"{REFERRAL}/views"): "Views",
    ("post", f"{REFERRAL}/information"): "AnswerInformation",
    ("post", f"{REFERRAL}/triage"): "Triage",
    ("post", f"{REFERRAL}/allocation"): "Allocate",
    ("post", f"{REFERRAL}/validation"): "Validate",
    ("post", f"{REFERRAL}/hold"): "Hold",
    ("delete", f"{REFERRAL}/hold"): "ReleaseHold",
    ("post", f"{REFERRAL}/closure"): "Close",
    ("post", f"{REFERRAL}/withdrawal-confirmation"): "ConfirmWithdrawal",
    ("post", f"{REFERRAL}/sessions"): "BookSession",
    ("post", f"{REFERRAL}/session-records"): "RecordSession",
    ("post", f"{REFERRAL}/reqol"): "RecordReqol",
    ("post", f"{REFERRAL}/extension"): "Extend",
    ("post", f"{REFERRAL}/discharge"): "Discharge",
}

_READS: tuple[Operation, ...] = (("get", REFERRAL), ("get", f"{REFERRAL}/views"))
_BEFORE_EPISODE: tuple[Operation, ...] = (
    ("post", f"{REFERRAL}/closure"),
    ("post", f"{REFERRAL}/withdrawal-confirmation"),
)
_WAITING: tuple[Operation, ...] = (
    ("post", f"{REFERRAL}/allocation"),
    ("post", f"{REFERRAL}/hold"),
    ("delete", f"{REFERRAL}/hold"),
    ("post", f"{REFERRAL}/validation"),
)
_EPISODE: tuple[Operation, ...] = (
    ("post", f"{REFERRAL}/sessions"),
    ("post", f"{REFERRAL}/session-records"),
    ("post", f"{REFERRAL}/reqol"),
    ("post", f"{REFERRAL}/extension"),
    ("post", f"{REFERRAL}/discharge"),
    ("post", f"{REFERRAL}/closure"),
)

# (method, path, status) of an answer carrying ``ref`` -> the operations it leads to.
NEXT: dict[tuple[str, str, str], tuple[Operation, ...]] = {
    # Received: triage (or the referrer's answer to a question), or close it.
    ("post", "/v1/referrals", "202"): (
        *_READS,
        ("post", f"{REFERRAL}/information"),
        ("post", f"{REFERRAL}/triage"),
        *_WAITING,
        *_BEFORE_EPISODE,
    ),
    # Answered: back to triage.
    ("post", f"{REFERRAL}/information", "200"): (
        *_READS,
        ("post", f"{REFERRAL}/triage"),
        *_BEFORE_EPISODE,
    ),
    # Accepted (waiting), declined, or a question for the referrer.
    ("post", f"{REFERRAL}/triage", "200"): (
        *_READS,
        ("post", f"{REFERRAL}/information"),
        *_WAITING,
        *_BEFORE_EPISODE,
    ),
    ("post", f"{REFERRAL}/validation", "200"): (*_READS, *_WAITING, *_BEFORE_EPISODE),
    ("post", f"{REFERRAL}/hold", "200"): (*_READS, *_WAITING, *_BEFORE_EPISODE),
    ("delete", f"{REFERRAL}/hold", "200"): (*_READS, *_WAITING, *_BEFORE_EPISODE),
    # Allocated: the practitioner's episode (their caseload now holds it).
    ("post", f"{REFERRAL}/allocation", "200"): (
        *_READS,
        *_EPISODE,
        ("post", f"{REFERRAL}/withdrawal-confirmation"),
    ),
    ("post", f"{REFERRAL}/sessions", "200"): (*_READS, *_EPISODE),
    ("post", f"{REFERRAL}/session-records", "200"): (*_READS, *_EPISODE),
    ("post", f"{REFERRAL}/reqol", "200"): (*_READS, *_EPISODE),
    ("post", f"{REFERRAL}/extension", "200"): (*_READS, *_EPISODE),
    # Discharged: it can still be read, and closed.
    ("post", f"{REFERRAL}/discharge", "200"): (*_READS, ("post", f"{REFERRAL}/closure")),
    ("post", f"{REFERRAL}/closure", "200"): _READS,
    ("post", f"{REFERRAL}/withdrawal-confirmation", "200"): _READS,
}


def add_links(schema: dict[str, Any]) -> None:
    """Add ``NEXT`` to ``schema`` (an OpenAPI document) as ``links`` on each answer, each
    passing ``$response.body#/ref`` as the target's ``ref``."""
    paths = schema["paths"]
    for (method, path, status), targets in NEXT.items():
        response = paths[path][method]["responses"][status]
        response["links"] = {
            LINK_NAMES[target]: {
                "operationId": paths[target[1]][target[0]]["operationId"],
                "parameters": {"ref": "$response.body#/ref"},
                "description": "the same referral",
            }
            for target in targets
        }
