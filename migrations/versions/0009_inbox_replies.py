"""Coded replies from the inbox: which reply a coordinator sent to a message, who, when.

Revision ID: 0009_inbox_replies
Revises: 0008_client_links
Create Date: 2026-12-05

``reply_code`` is one of ``models.inbox_replies.ReplyCode`` (never free text); ``replied_by``
the coordinator's staff id; ``replied_at`` when the reply was recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_inbox_replies"
down_revision: str | Sequence[str] | None = "0008_client_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the reply's columns to inbound messages."""
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("reply_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("replied_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Back to 0008."""
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("replied_at")
        batch.drop_column("replied_by")
        batch.drop_column("reply_code")
