"""An episode's outcome, as recorded (anonymously) when the client is discharged.

What the service reports on: why the episode ended, how many sessions were attended, the
liaison done, and the ReQoL-10 measures at baseline and end — with the change between them
(reliable improvement or deterioration, recovery across the clinical cut-off) when both were
scored. A skipped measure keeps its reason, and no change is claimed without both scores.
"""

from __future__ import annotations

from datetime import datetime

from models.actions import Discharge
from models.policy import ServicePolicy
from models.records import OutcomeRecord
from models.referral import Episode
from models.reqol import change


def episode_outcome(
    ref: str, episode: Episode, discharge: Discharge, now: datetime, policy: ServicePolicy
) -> OutcomeRecord:
    """The outcome of ``episode``, discharged at ``now`` for ``discharge.reason``."""
    record = OutcomeRecord(
        ref=ref,
        episode=episode.number,
        discharged_at=now,
        discharge_reason=discharge.reason,
        sessions_attended=episode.attended,
        baseline_total=episode.baseline.total if episode.baseline else None,
        end_total=episode.end.total if episode.end else None,
        baseline_skipped_reason=episode.baseline.skipped_reason if episode.baseline else None,
        end_skipped_reason=episode.end.skipped_reason if episode.end else None,
        liaison=sorted({k for s in episode.sessions for k in s.liaison}),
    )
    if record.baseline_total is not None and record.end_total is not None:
        moved = change(
            record.baseline_total,
            record.end_total,
            cutoff=policy.reqol_clinical_cutoff,
            reliable=policy.reqol_reliable_change,
        )
        record.change = moved.change.value
        record.recovered = moved.recovered
        record.reliably_recovered = moved.reliably_recovered
    return record
