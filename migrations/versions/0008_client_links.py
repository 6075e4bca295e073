"""Clients' secure links: the ids of links already used (single use).

Revision ID: 0008_client_links
Revises: 0007_person_search
Create Date: 2026-12-05

A link in a letter is a signed, expiring token (``infra.link_tokens``); nothing is stored
when it is made. When a link makes its change, its token id is recorded here, and a second
change through the same link is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_client_links"
down_revision: str | Sequence[str] | None = "0007_person_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the table of used links."""
    op.create_table(
        "client_link_uses",
        sa.Column("token_id", sa.String(40), primary_key=True),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_client_link_uses_ref", "client_link_uses", ["ref"])


def downgrade() -> None:
    """Back to 0007."""
    op.drop_index("ix_client_link_uses_ref", "client_link_uses")
    op.drop_table("client_link_uses")
