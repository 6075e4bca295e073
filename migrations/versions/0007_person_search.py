"""Finding a person without holding who they are; the inbox's sender, owner and crisis notes.

Revision ID: 0007_person_search
Revises: 0006_at_rest
Create Date: 2026-12-05

- ``person_search``: a keyed blind index of each referral's client — HMACs of the normalised
  name's tokens and their phonetic keys, the NHS number and the phone number
  (``models/person_search.py`` normalises, ``readmodel/person_search.py`` hashes and looks
  up). Never the value itself. Referrals received before this revision are not indexed (their
  details live only in their workflows); they are still found by reference.
- ``inbound_messages.sender``: the sender's number or address, sealed like the body, so a
  coordinator can read who wrote (and reply); ``claimed_by`` / ``claimed_at``: who took the
  message; ``crisis_acknowledgement_note``: what the coordinator who acknowledged a crisis
  alert wrote (sealed).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_person_search"
down_revision: str | Sequence[str] | None = "0006_at_rest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the blind index and the inbox's new columns."""
    op.create_table(
        "person_search",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("ref", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_person_search_ref", "person_search", ["ref"])
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("sender", sa.Text(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(80), nullable=True))
        batch.add_column(sa.Column("claimed_at", UTC_DT, nullable=True))
        batch.add_column(sa.Column("crisis_acknowledgement_note", sa.Text(), nullable=True))


def downgrade() -> None:
    """Back to 0006: the index and the columns dropped."""
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("crisis_acknowledgement_note")
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
        batch.drop_column("sender")
    op.drop_index("ix_person_search_ref", table_name="person_search")
    op.drop_table("person_search")
