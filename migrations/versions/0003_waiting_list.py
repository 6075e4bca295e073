"""Waiting list and allocation: returning clients, holds, and the queue index.

Revision ID: 0003_waiting_list
Revises: 0002_api_access
Create Date: 2026-11-24

``returning_to`` names the practitioner a returning client waits for; ``held`` and
``hold_reason`` keep a referral out of automatic allocation; ``urgency_rank`` (0 urgent,
1 soon, 2 routine) lets the database read the head of the waiting list in allocation order
(models/allocation.py) straight off ``ix_referrals_queue`` even with 50 000 waiting.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_waiting_list"
down_revision: str | Sequence[str] | None = "0002_api_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the waiting-list columns and indexes."""
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("returning_to", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("hold_reason", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("urgency_rank", sa.Integer(), nullable=False, server_default="2")
        )
    op.execute(
        "UPDATE referrals SET urgency_rank = CASE urgency WHEN 'urgent' THEN 0 "
        "WHEN 'soon' THEN 1 ELSE 2 END"
    )
    op.create_index(
        "ix_referrals_queue", "referrals", ["stage", "held", "urgency_rank", "received_at", "ref"]
    )
    op.create_index("ix_referrals_returning", "referrals", ["stage", "returning_to"])


def downgrade() -> None:
    """Remove them again."""
    op.drop_index("ix_referrals_returning", table_name="referrals")
    op.drop_index("ix_referrals_queue", table_name="referrals")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("urgency_rank")
        batch.drop_column("hold_reason")
        batch.drop_column("held")
        batch.drop_column("returning_to")
