"""The service policy: every duration and limit of the pathway in one place.

Defaults are the real service's. A demo can run "fast time" by scaling every
duration (``ServicePolicy.fast(seconds_per_day=...)``) so a week passes in seconds.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

# Durations that fast time leaves as they are.
_REAL_TIME = frozenset({"crisis_acknowledge_within"})


class ServicePolicy(BaseModel):
    """Durations and limits that shape one referral's pathway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    triage_deadline: timedelta = Field(default=timedelta(days=5))
    triage_reminder_every: timedelta = Field(default=timedelta(days=2))
    checkin_every: timedelta = Field(default=timedelta(weeks=4))
    unanswered_checkins_before_validation: int = Field(default=2, ge=1)
    waiting_standard: timedelta = Field(default=timedelta(weeks=4))
    planned_sessions: int = Field(default=6, ge=1)
    max_sessions: int = Field(default=10, ge=1)
    session_reminder_before: timedelta = Field(default=timedelta(hours=24))
    silence_nudge_after: timedelta = Field(default=timedelta(weeks=3))
    dna_nudge_after: int = Field(default=2, ge=1, description="consecutive did-not-attends")
    reentry_window: timedelta | None = Field(
        default=None, description="close an open discharged referral after this long; None: never"
    )
    auto_allocate: bool = Field(
        default=True, description="the allocator allocates waiting referrals as capacity frees"
    )
    reqol_clinical_cutoff: int = Field(default=24, ge=0, le=40)
    reqol_reliable_change: int = Field(default=5, ge=1, le=40)
    withdrawal_confirmation_within: timedelta = Field(
        default=timedelta(days=14),
        description="a client's CONFIRM withdraws them only this soon after they asked",
    )
    crisis_acknowledge_within: timedelta = Field(
        default=timedelta(minutes=15),
        description="a crisis alert nobody acknowledged by then is sent again and escalated "
        "to the duty lead (and again at this interval); real time even in fast-time demos",
    )
    texts_per_number_per_hour: int = Field(
        default=5, ge=1, description="at most this many texts an hour to one number; more wait"
    )
    texts_limit_window: timedelta = Field(
        default=timedelta(hours=1),
        description="the hour of the limit above (shrinks with fast time, like the pathway)",
    )
    timeline_kept_in_workflow: int = Field(
        default=60,
        ge=10,
        description="recent events kept in workflow state (all are in the database)",
    )

    def model_post_init(self, _context: object) -> None:
        if self.planned_sessions > self.max_sessions:
            raise ValueError("planned_sessions cannot exceed max_sessions")

    @classmethod
    def fast(cls, seconds_per_day: float = 2.0, **overrides: object) -> ServicePolicy:
        """The default policy with every duration scaled so one day lasts ``seconds_per_day``."""
        scale = seconds_per_day / 86400.0
        scaled: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            # A person's time to answer an alarm does not shrink in a demo.
            if isinstance(field.default, timedelta) and name not in _REAL_TIME:
                scaled[name] = field.default * scale
        scaled.update(overrides)
        return cls.model_validate(scaled)
