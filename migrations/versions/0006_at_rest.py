"""Free text sealed at rest, the read audit, and dashboard sessions kept on the server.

Revision ID: 0006_at_rest
Revises: 0005_sms
Create Date: 2026-12-05

- Inbound message bodies, coordinators' resolution notes, session locations and ReQoL skip
  reasons are sealed with the key ring (``readmodel/sealed_text.py``): the columns become
  ``TEXT`` (a sealed value is longer than its text) and every existing row is sealed here.
  Sealing needs the key ring: ``infra.database.migrate(url, keyring=...)`` hands it in; the
  ``alembic`` command line loads it as the worker does (``infra.keys.load_keyring`` over the
  ``HARBOUR_*`` settings: ``HARBOUR_ENCRYPTION_KEYS``, else ``<data_dir>/keys.json``). A
  database with no such text yet needs no key. On SQLite the rows are rewritten with
  ``secure_delete`` on, so the old text is overwritten rather than left in free pages (copies
  made before, such as backups, still hold it).
- ``read_audit``: every look at a referral (who, when, which, through what).
- ``dashboard_sessions``: a dashboard sign-in, ended by signing out or revoking the key.

``alembic upgrade head --sql`` (offline) cannot read rows, so this revision refuses it: run
it against the database (``alembic upgrade head``, or ``make run``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import context, op

if TYPE_CHECKING:
    from infra.keys import KeyRing

revision: str = "0006_at_rest"
down_revision: str | Sequence[str] | None = "0005_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DT = sa.DateTime(timezone=True)
BATCH = 500

# The sealed columns of each table, and the table's primary key (rows are rewritten by key).
SEALED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "inbound_messages": (("id",), ("body", "resolution_note")),
    "sessions": (("ref", "episode", "session_id"), ("location",)),
    "outcomes": (("pseudonym", "episode"), ("baseline_skipped_reason", "end_skipped_reason")),
}
# Columns whose type changes (a sealed value is longer than the text it seals).
RETYPED: dict[str, dict[str, sa.types.TypeEngine[str]]] = {
    "sessions": {"location": sa.String(200)},
    "outcomes": {
        "baseline_skipped_reason": sa.String(500),
        "end_skipped_reason": sa.String(500),
    },
}


def upgrade() -> None:
    """Widen the free-text columns, seal their rows, add the audit and the sessions."""
    for table, columns in RETYPED.items():
        with op.batch_alter_table(table) as batch:
            for column, old_type in columns.items():
                batch.alter_column(column, existing_type=old_type, type_=sa.Text())
    _rewrite_free_text(lambda keyring, text: keyring.seal(text.encode("utf-8")))

    op.create_table(
        "read_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.Column("at", UTC_DT, nullable=False),
        sa.Column("through", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
    )
    op.create_index("ix_read_audit_ref_at", "read_audit", ["ref", "at", "id"])
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("created_at", UTC_DT, nullable=False),
        sa.Column("expires_at", UTC_DT, nullable=False),
        sa.Column("ended_at", UTC_DT, nullable=True),
    )
    op.create_index("ix_dashboard_sessions_key_id", "dashboard_sessions", ["key_id"])


def downgrade() -> None:
    """Back to 0005: the text opened again (with the same key ring), the tables dropped."""
    op.drop_index("ix_dashboard_sessions_key_id", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index("ix_read_audit_ref_at", table_name="read_audit")
    op.drop_table("read_audit")
    _rewrite_free_text(lambda keyring, sealed: keyring.unseal(sealed).decode("utf-8"))
    for table, columns in RETYPED.items():
        with op.batch_alter_table(table) as batch:
            for column, old_type in columns.items():
                batch.alter_column(column, existing_type=sa.Text(), type_=old_type)


def _rewrite_free_text(change: Callable[[KeyRing, str], str]) -> None:
    """Apply ``change`` to every non-empty free-text value, a batch of rows at a time."""
    if context.is_offline_mode():
        # Schema alone would leave old rows in clear for good, and readers refusing them.
        raise RuntimeError(
            "revision 0006 seals the text already stored, so it runs only against the database "
            "(alembic upgrade head, without --sql)"
        )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Overwrite what is rewritten or freed with zeros: the text must not linger on disk.
        bind.exec_driver_sql("PRAGMA secure_delete = ON")
    keyring: KeyRing | None = None
    for name, (key_columns, text_columns) in SEALED.items():
        table = sa.table(name, *(sa.column(c) for c in (*key_columns, *text_columns)))
        keys = [table.c[c] for c in key_columns]
        after: tuple[object, ...] | None = None
        while True:
            query = sa.select(*keys, *(table.c[c] for c in text_columns)).order_by(*keys)
            if after is not None:
                query = query.where(sa.tuple_(*keys) > sa.tuple_(*after))
            rows = bind.execute(query.limit(BATCH)).all()
            if not rows:
                break
            for row in rows:
                values = {
                    column: row._mapping[column]
                    for column in text_columns
                    if row._mapping[column]  # NULL and "" hold nothing to hide
                }
                if not values:
                    continue
                keyring = keyring or _keyring()
                bind.execute(
                    table.update()
                    .where(*(k == row._mapping[k.name] for k in keys))
                    .values({c: change(keyring, v) for c, v in values.items()})
                )
            after = tuple(rows[-1][: len(keys)])


def _keyring() -> KeyRing:
    """The key ring ``migrate`` was given, else the one the worker would load."""
    given = context.config.attributes.get("keyring")
    if given is not None:
        return given  # type: ignore[no-any-return]
    from infra.keys import load_keyring
    from models.settings import Settings

    return load_keyring(Settings())
