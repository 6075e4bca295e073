"""Test data. Free text carries a marker so tests can prove it never leaves encrypted storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from models.policy import ServicePolicy
from models.referral import Episode, ReferralState, ReferralSubmission, Stage
from models.tables import ReferralRow
from services import practitioners

CLINICAL_MARKER = "CLINICAL-MARKER-7731"
CLIENT_NAME = "Robin Quill-Ashdown"
CLIENT_EMAIL = "robin.quill@example.org"
CLIENT_PHONE = "+447700900461"
REFERRER_EMAIL = "gp.referrals@harbourside-gp.example.org"


def submission(**overrides: Any) -> ReferralSubmission:
    """A valid referral; keyword overrides replace top-level fields or nested dicts."""
    data: dict[str, Any] = {
        "client": {
            "name": CLIENT_NAME,
            "email": CLIENT_EMAIL,
            "phone": CLIENT_PHONE,
            "nhs_number": "9434765919",
        },
        "referrer": {
            "organisation": "Harbourside GP",
            "name": "Dr Sam Patel",
            "email": REFERRER_EMAIL,
        },
        "consent": True,
        "urgency": "routine",
        "reason": f"{CLINICAL_MARKER} diagnosis: psychosis; risk history noted",
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return ReferralSubmission.model_validate(data)


# A fixed moment for tests of the rules in models/ (no Temporal clock needed).
RULES_NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def referral_state(
    stage: Stage = Stage.WAITING,
    *,
    policy: ServicePolicy | None = None,
    client: dict[str, Any] | None = None,
    **fields: Any,
) -> ReferralState:
    """A referral's workflow state in ``stage``, received at ``RULES_NOW`` (a waiting one on
    the list since then; one in an episode with practitioner ``p-ana``)."""
    data: dict[str, Any] = {
        "ref": "R00000001",
        "submission": submission(**({"client": client} if client else {})),
        "policy": policy or ServicePolicy(),
        "stage": stage,
        "received_at": RULES_NOW,
        "stage_since": RULES_NOW,
    }
    if stage == Stage.WAITING:
        data["waiting_since"] = RULES_NOW
    if stage in (Stage.ALLOCATED, Stage.IN_EPISODE, Stage.DISCHARGED):
        data.update(episode_number=1, practitioner_id="p-ana", practitioner_history=["p-ana"])
    if stage in (Stage.ALLOCATED, Stage.IN_EPISODE):
        data["episode"] = Episode(
            number=1,
            practitioner_id="p-ana",
            allocated_at=RULES_NOW,
            planned_sessions=(policy or ServicePolicy()).planned_sessions,
            last_contact_at=RULES_NOW,
        )
    if stage == Stage.DISCHARGED:
        data["discharged_at"] = RULES_NOW
    data.update(fields)
    return ReferralState(**data)


def reqol(total_hint: int) -> dict[int, int]:
    """Responses (0–4 as answered) whose scored total is close to ``total_hint``."""
    per_item = max(0, min(4, round(total_hint / 10)))
    # Negatively worded items (1, 3, 6, 9) are reversed when scored.
    return {i: (4 - per_item if i in (1, 3, 6, 9) else per_item) for i in range(1, 11)}


async def save_practitioner(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    pid: str,
    capacity: int,
    active: bool = True,
) -> None:
    """Add or change practitioner ``pid`` the way coordinators do (which wakes the allocator)."""
    await practitioners.save(
        client,
        sessions,
        task_queue=task_queue,
        id=pid,
        name=f"Practitioner {pid}",
        email=f"{pid}@harbour.example",
        capacity=capacity,
        active=active,
    )


def listed_referrals(organisation: str, count: int, prefix: str = "RA") -> list[ReferralRow]:
    """``count`` waiting referrals of ``organisation`` as the read model holds them (an hour
    apart from 5 January 2026, references ``RA000000000`` up): for lists, without workflows."""
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return [
        ReferralRow(
            ref=f"{prefix}{n:09d}",
            stage="waiting",
            urgency="routine",
            referrer_organisation=organisation,
            received_at=start + timedelta(hours=n),
            updated_at=start + timedelta(hours=n),
        )
        for n in range(count)
    ]
