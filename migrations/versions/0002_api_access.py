"""HTTP API access: hashed API keys, idempotency keys, and an index for paging referrals.

Revision ID: 0002_api_access
Revises: 0001
Create Date: 2026-11-24

``api_keys`` keeps only the SHA-256 of each key (the key is shown once, when created);
``idempotency_keys`` maps a referrer's ``Idempotency-Key`` to the reference it was given, stored
before the referral's workflow is started. ``ix_referrals_received_ref`` serves the keyset
pagination of ``GET /v1/referrals`` (newest first) without sorting the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_api_access"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the API's tables and the paging index."""
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("practitioner_id", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("revoked_at", UTC_DT, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("started_at", UTC_DT, nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("api_key_id", "idempotency_key"),
    )
    op.create_index("ix_referrals_received_ref", "referrals", ["received_at", "ref"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_referrals_received_ref", table_name="referrals")
    op.drop_table("idempotency_keys")
    op.drop_table("api_keys")
