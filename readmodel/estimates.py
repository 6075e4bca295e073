"""The one wait estimate: what a client's letter, the API and the dashboard all say.

The rule is ``models.waiting_list.estimate_wait_weeks`` (allocations in the trailing window,
less the more urgent referrals that will go ahead); this module reads its inputs once, and
``tests/test_wait_estimate_agreement.py`` checks that the letter, the API and the dashboard
agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.allocation import URGENCY_RANK
from models.referral import Urgency
from models.tables import CaseloadRow, ReferralRow
from models.waiting_list import ALLOCATION_WINDOW_WEEKS, estimate_wait_weeks
from readmodel.sql import run


@dataclass(frozen=True)
class EstimateInputs:
    """What the honest wait estimate needs: allocations in the trailing window, and how many
    new referrals of each urgency rank joined the list in it."""

    allocations: int
    joined_by_rank: dict[int, int] = field(default_factory=dict)
    window_weeks: int = ALLOCATION_WINDOW_WEEKS

    def estimate(
        self, position: int, urgency: Urgency | str, returning: bool
    ) -> tuple[int | None, int | None]:
        """The range of weeks the referral at ``position`` may still wait. More urgent
        referrals that joined recently will go ahead of a new one (none of a returning one,
        who waits for their own practitioner)."""
        rank = URGENCY_RANK[Urgency(urgency)]
        overtaking = 0 if returning else sum(n for r, n in self.joined_by_rank.items() if r < rank)
        return estimate_wait_weeks(
            position, self.allocations, self.window_weeks, overtaking=overtaking
        )


async def estimate_inputs(session: AsyncSession, now: datetime) -> EstimateInputs:
    """Allocations and joins in the trailing ``ALLOCATION_WINDOW_WEEKS`` before ``now``."""
    since = now - timedelta(weeks=ALLOCATION_WINDOW_WEEKS)
    allocations = (
        await run(
            session,
            select(func.count())
            .select_from(CaseloadRow)
            .where(CaseloadRow.started_at > since, CaseloadRow.started_at <= now),
        )
    ).scalar_one()
    joined = (
        await run(
            session,
            select(ReferralRow.urgency_rank, func.count())
            .where(ReferralRow.accepted_at > since, ReferralRow.accepted_at <= now)
            .group_by(ReferralRow.urgency_rank),
        )
    ).all()
    return EstimateInputs(
        allocations=int(allocations), joined_by_rank={int(r): int(n) for r, n in joined}
    )
