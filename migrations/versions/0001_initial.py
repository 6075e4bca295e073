"""Initial schema: the read model of models/tables.py.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Referrals by stage with their timeline, keyed contact hashes for message matching,
sessions and liaison actions, anonymised outcomes, the notification outbox, inbound
messages, practitioners and their caseloads. No server defaults: the application always
writes every column.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table of models/tables.py."""
    op.create_table(
        "referrals",
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("referrer_organisation", sa.String(length=200), nullable=False),
        sa.Column("received_at", UTC_DT, nullable=False),
        sa.Column("accepted_at", UTC_DT, nullable=True),
        sa.Column("waiting_since", UTC_DT, nullable=True),
        sa.Column("first_session_at", UTC_DT, nullable=True),
        sa.Column("discharged_at", UTC_DT, nullable=True),
        sa.Column("closed_reason", sa.String(length=64), nullable=True),
        sa.Column("decline_reason", sa.String(length=64), nullable=True),
        sa.Column("practitioner_id", sa.String(length=64), nullable=True),
        sa.Column("episode_number", sa.Integer(), nullable=False),
        sa.Column("breach", sa.Boolean(), nullable=False),
        sa.Column("in_validation_queue", sa.Boolean(), nullable=False),
        sa.Column("withdrawal_pending", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("ref"),
    )
    op.create_index("ix_referrals_stage", "referrals", ["stage"])
    op.create_index("ix_referrals_referrer_organisation", "referrals", ["referrer_organisation"])
    op.create_index("ix_referrals_practitioner_id", "referrals", ["practitioner_id"])
    op.create_index("ix_referrals_stage_received", "referrals", ["stage", "received_at"])

    op.create_table(
        "timeline_events",
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DT, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("ref", "seq"),
    )

    op.create_table(
        "contacts",
        sa.Column("contact_key", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("registered_at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("contact_key", "ref"),
    )

    op.create_table(
        "sessions",
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("at", UTC_DT, nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("ref", "episode", "session_id"),
    )

    op.create_table(
        "liaison_actions",
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", UTC_DT, nullable=False),
        sa.PrimaryKeyConstraint("ref", "episode", "session_id", "kind"),
    )

    op.create_table(
        "outcomes",
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("discharge_reason", sa.String(length=64), nullable=False),
        sa.Column("sessions_attended", sa.Integer(), nullable=False),
        sa.Column("baseline_total", sa.Integer(), nullable=True),
        sa.Column("end_total", sa.Integer(), nullable=True),
        sa.Column("baseline_skipped_reason", sa.String(length=500), nullable=True),
        sa.Column("end_skipped_reason", sa.String(length=500), nullable=True),
        sa.Column("change", sa.String(length=32), nullable=True),
        sa.Column("recovered", sa.Boolean(), nullable=True),
        sa.Column("reliably_recovered", sa.Boolean(), nullable=True),
        sa.Column("liaison", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("pseudonym", "episode"),
    )
    op.create_index("ix_outcomes_period", "outcomes", ["period"])

    op.create_table(
        "outbox",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("recipient_role", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("sent_at", UTC_DT, nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_outbox_ref", "outbox", ["ref"])

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", sa.String(length=128), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender_key", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTC_DT, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=True),
        sa.Column("crisis", sa.Boolean(), nullable=False),
        sa.Column("in_inbox", sa.Boolean(), nullable=False),
        sa.Column("resolved_at", UTC_DT, nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "gateway_id", name="uq_inbound_gateway"),
    )
    op.create_index("ix_inbound_messages_sender_key", "inbound_messages", ["sender_key"])
    op.create_index("ix_inbound_messages_ref", "inbound_messages", ["ref"])
    op.create_index("ix_inbound_messages_status", "inbound_messages", ["status"])
    op.create_index("ix_inbound_messages_in_inbox", "inbound_messages", ["in_inbox"])

    op.create_table(
        "practitioners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "caseload",
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTC_DT, nullable=False),
        sa.Column("ended_at", UTC_DT, nullable=True),
        sa.ForeignKeyConstraint(["practitioner_id"], ["practitioners.id"]),
        sa.PrimaryKeyConstraint("ref", "episode"),
    )
    op.create_index("ix_caseload_practitioner_id", "caseload", ["practitioner_id"])


def downgrade() -> None:
    """Drop every table (their indexes go with them), dependants first."""
    for table in (
        "caseload",
        "practitioners",
        "inbound_messages",
        "outbox",
        "outcomes",
        "liaison_actions",
        "sessions",
        "contacts",
        "timeline_events",
        "referrals",
    ):
        op.drop_table(table)
