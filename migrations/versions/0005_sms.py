"""Texts through GOV.UK Notify: delivery receipts on the outbox, unreachable contacts, and
crisis alerts acknowledged.

Revision ID: 0005_sms
Revises: 0004_allocation_indexes
Create Date: 2026-12-01

The outbox learns a text's gateway id, its delivery status and the keyed hash of the number it
went to (for the hourly limit per number); it keeps the notification sealed with the key ring
so a text that fails for good can be sent again on the client's next channel. A contact that
fails for good is remembered (keyed hash only). An inbound crisis message records who
acknowledged its alert.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_sms"
down_revision: str | Sequence[str] | None = "0004_allocation_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the delivery columns, the unreachable contacts and crisis acknowledgement."""
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("recipient_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("provider_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("delivery_status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("delivered_at", UTC_DT, nullable=True))
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
    op.create_index("ix_outbox_provider_id", "outbox", ["provider_id"])
    op.create_index("ix_outbox_recipient_sent", "outbox", ["recipient_key", "sent_at"])
    op.create_table(
        "unreachable_contacts",
        sa.Column("contact_key", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("since", UTC_DT, nullable=False),
        sa.Column("ref", sa.String(32), nullable=False),
    )
    op.create_index("ix_unreachable_contacts_ref", "unreachable_contacts", ["ref"])
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(
            sa.Column("discreet", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("crisis_acknowledged_at", UTC_DT, nullable=True))
        batch.add_column(sa.Column("crisis_acknowledged_by", sa.String(200), nullable=True))


def downgrade() -> None:
    """Back to 0004."""
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("discreet")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("crisis_acknowledged_by")
        batch.drop_column("crisis_acknowledged_at")
    op.drop_index("ix_unreachable_contacts_ref", table_name="unreachable_contacts")
    op.drop_table("unreachable_contacts")
    op.drop_index("ix_outbox_recipient_sent", table_name="outbox")
    op.drop_index("ix_outbox_provider_id", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        for column in (
            "payload",
            "delivered_at",
            "delivery_status",
            "provider_id",
            "recipient_key",
        ):
            batch.drop_column(column)
