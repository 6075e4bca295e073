"""Indexes the allocator cannot mistake: returning clients, and active caseload places.

Revision ID: 0004_allocation_indexes
Revises: 0003_waiting_list
Create Date: 2026-12-01

Without planner statistics SQLite read the returning clients ("stage = 'waiting' AND held IS 0
AND returning_to IN (...)") through ``ix_referrals_queue`` — two equality columns, like the old
``ix_referrals_returning (stage, returning_to)`` — walking every unheld waiting referral: 94 ms
p50 per allocation decision with 50 000 waiting (BENCHMARKS.md). With all three columns in
``ix_referrals_returning`` it is the index that matches most, with or without statistics.
``ix_caseload_active`` keeps counting each practitioner's active episodes flat as the
service's history of ended episodes grows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_allocation_indexes"
down_revision: str | Sequence[str] | None = "0003_waiting_list"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = sa.text("ended_at IS NULL")


def upgrade() -> None:
    """Widen the returning-clients index; index the active caseload places."""
    op.drop_index("ix_referrals_returning", table_name="referrals")
    op.create_index("ix_referrals_returning", "referrals", ["stage", "returning_to", "held"])
    op.create_index(
        "ix_caseload_active",
        "caseload",
        ["practitioner_id"],
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )


def downgrade() -> None:
    """Back to 0003's indexes."""
    op.drop_index("ix_caseload_active", table_name="caseload")
    op.drop_index("ix_referrals_returning", table_name="referrals")
    op.create_index("ix_referrals_returning", "referrals", ["stage", "returning_to"])
