"""Self-referral: a person refers themselves through the public form; a coordinator triages
it like any referral (its referrer is ``models.self_referral.SELF_REFERRAL``).

The referral's reference is derived from the form's one-time id, so a form sent twice
(double click, refresh, retry) starts one referral. Nothing is looked up about the person:
the answer is the same whether or not they are known to the service.
"""

from __future__ import annotations

import structlog
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from models.policy import ServicePolicy
from models.referral import ReferralSubmission
from services import referrals

log = structlog.get_logger()


async def submit_self_referral(
    client: Client,
    pseudonym_key: bytes,
    submission: ReferralSubmission,
    form_id: str,
    policy: ServicePolicy,
    *,
    task_queue: str,
) -> str:
    """Start the referral once per ``form_id``; its reference (not shown to the person)."""
    ref = referrals.derived_reference(pseudonym_key, "self-referral:" + form_id)
    try:
        await referrals.submit(client, submission, policy, task_queue=task_queue, ref=ref)
    except WorkflowAlreadyStartedError:
        log.info("self-referral sent again", ref=ref)
        return ref
    log.info("self-referral", ref=ref)
    return ref
