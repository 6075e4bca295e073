"""Referral intake that a retry cannot duplicate (``Idempotency-Key``).

The key is stored with the reference it gets *before* the workflow starts. A retry — after a
timeout, a crash between the two steps, or simply twice — finds the row and answers with the
same reference, starting the workflow if the first attempt never did (same workflow id, and
the start refuses a duplicate, so a second start is harmless). The request is fingerprinted
with a keyed hash, so a reused key with a different referral is refused rather than
silently answered with someone else's reference.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select, update
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.auth import Principal
from api.context import ApiContext
from api.problems import ProblemError
from infra.database import insert_for, write_transaction
from models.referral import ReferralSubmission
from models.tables import IdempotencyKeyRow
from services import referrals

log = structlog.get_logger("harbour.api")

_FINGERPRINT_PREFIX = b"harbour:idempotency:v1\x00"


@dataclass(frozen=True)
class Submitted:
    ref: str
    duplicate: bool


def fingerprint(pseudonym_key: bytes, submission: ReferralSubmission) -> str:
    """Keyed hash of a submission: equal submissions, equal fingerprints; reveals nothing."""
    body = submission.model_dump_json().encode()
    return hmac.new(pseudonym_key, _FINGERPRINT_PREFIX + body, hashlib.sha256).hexdigest()


async def submit_referral(
    context: ApiContext,
    caller: Principal,
    submission: ReferralSubmission,
    idempotency_key: str | None,
) -> Submitted:
    """Start the referral's workflow (durable once this returns); once per idempotency key."""
    if idempotency_key is None:
        return Submitted(ref=await _start(context, submission, None), duplicate=False)

    request_hash = fingerprint(context.pseudonym_key, submission)
    row, created = await _claim(context, caller.key_id, idempotency_key, request_hash)
    if not hmac.compare_digest(row.request_hash, request_hash):
        raise ProblemError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different referral",
        )
    if row.started_at is None:
        await _start(context, submission, row.ref)
        async with write_transaction(context.session_factory) as session:
            await session.execute(
                update(IdempotencyKeyRow)
                .where(
                    IdempotencyKeyRow.api_key_id == caller.key_id,
                    IdempotencyKeyRow.idempotency_key == idempotency_key,
                    IdempotencyKeyRow.started_at.is_(None),
                )
                .values(started_at=datetime.now(UTC))
            )
    if not created:
        log.info("intake retried", ref=row.ref)
    return Submitted(ref=row.ref, duplicate=not created)


async def already_claimed(context: ApiContext, key_id: str, idempotency_key: str | None) -> bool:
    """Whether this key has already been used for a submission by this API key: a repeat (a
    double click, a retry) answers with the same referral and starts nothing, so the intake
    limit does not count it."""
    if idempotency_key is None:
        return False
    async with context.session_factory() as session:
        found = await session.scalar(
            select(IdempotencyKeyRow.ref).where(
                IdempotencyKeyRow.api_key_id == key_id,
                IdempotencyKeyRow.idempotency_key == idempotency_key,
            )
        )
    return found is not None


async def _claim(
    context: ApiContext, key_id: str, idempotency_key: str, request_hash: str
) -> tuple[IdempotencyKeyRow, bool]:
    """The row for this key, inserted now (True) or found from an earlier attempt (False)."""
    async with write_transaction(context.session_factory) as session:
        inserted = (
            await session.execute(
                insert_for(session, IdempotencyKeyRow)
                .values(
                    api_key_id=key_id,
                    idempotency_key=idempotency_key,
                    ref=referrals.new_reference(),
                    request_hash=request_hash,
                    created_at=datetime.now(UTC),
                    started_at=None,
                )
                # Two concurrent first attempts: one inserts, the other reads the winner's row.
                .on_conflict_do_nothing()
                .returning(IdempotencyKeyRow.ref)
            )
        ).scalar_one_or_none()
        row = (
            await session.execute(
                select(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.api_key_id == key_id,
                    IdempotencyKeyRow.idempotency_key == idempotency_key,
                )
            )
        ).scalar_one()
    return row, inserted is not None


async def _start(context: ApiContext, submission: ReferralSubmission, ref: str | None) -> str:
    try:
        started = await referrals.submit(
            context.client,
            submission,
            context.settings.effective_policy(),
            task_queue=context.settings.task_queue,
            ref=ref,
        )
    except WorkflowAlreadyStartedError:
        # Only reachable with a fixed ref: an earlier attempt started it (or is running it).
        assert ref is not None
        started = ref
    # Staff find the client by name, NHS number or phone once the worker records the receipt
    # (the person's keyed hashes go in with the referral's first read-model row).
    return started
