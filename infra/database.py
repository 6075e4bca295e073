"""The read-model database: engines, sessions, transactions and migrations.

Works on SQLite (``sqlite+aiosqlite``, the embedded default) and PostgreSQL
(``postgresql+asyncpg``, scale-out). A PostgreSQL URL may carry a ``search_path`` query
parameter (``...?search_path=t_abc``) to keep the tables in a schema of their own; tests use
it to give every test a fresh schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from infra.keys import KeyRing
from infra.private_files import private_dir, private_file, tighten

# How long a SQLite connection waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option naming how a SQLite transaction begins ("DEFERRED" or "IMMEDIATE").
SQLITE_BEGIN_OPTION = "harbour_sqlite_begin"
# Where the Alembic scripts live, whether run from a checkout or an installed package.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _split_search_path(url: URL) -> tuple[URL, str | None]:
    """Take ``search_path`` out of a PostgreSQL URL: asyncpg wants it as a server setting."""
    search_path = url.query.get("search_path")
    if search_path is None:
        return url, None
    if isinstance(search_path, tuple):  # repeated parameter: the last one wins
        search_path = search_path[-1]
    return url.difference_update_query(["search_path"]), search_path


def make_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``, configured for this project's databases.

    SQLite: the file database and its folder are created owner-only (0600 and 0700, as are
    the ``-wal`` and ``-shm`` files SQLite makes beside it); every connection uses WAL
    (readers never block the writer; ``synchronous`` stays FULL so a committed inbound message
    survives a power cut), a busy timeout (writers queue rather than fail),
    enforced foreign keys, and SQLAlchemy-controlled ``BEGIN`` so a transaction can ask for
    ``BEGIN IMMEDIATE`` (see :func:`write_transaction`). PostgreSQL: a ``search_path`` query
    parameter becomes the connection's search path.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        parsed, search_path = _split_search_path(parsed)
        if search_path is not None:
            connect_args = dict(kwargs.pop("connect_args", {}))
            settings = dict(connect_args.get("server_settings", {}))
            settings["search_path"] = search_path
            connect_args["server_settings"] = settings
            kwargs["connect_args"] = connect_args
        return create_async_engine(parsed, **kwargs)

    if backend != "sqlite":
        return create_async_engine(parsed, **kwargs)

    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        _private_sqlite_files(Path(database).expanduser())
    engine = create_async_engine(parsed, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 driver (it skips it for SELECT and DDL);
        # _on_begin below emits it, deferred or immediate as the transaction asks.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so switching to WAL waits for a lock instead of failing.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")  # as PostgreSQL would enforce them
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE"):
            raise ValueError(f"unsupported SQLite begin mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _private_sqlite_files(path: Path) -> None:
    """The database file owner-only before SQLite opens it: SQLite creates the ``-wal`` and
    ``-shm`` files with the database file's own mode, so they are owner-only too (older ones
    are tightened)."""
    private_dir(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix))


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for ``engine``. Objects stay readable after commit (no lazy reloads)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def write_transaction(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session in one transaction that will write: committed on success, else rolled back.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE``: it takes the database's single
    write lock up front (waiting up to the busy timeout), so what it reads stays true until it
    commits, and it never fails half-way with "database is locked" when upgrading a read
    snapshot to a write. Writers of one process queue on an asyncio lock first: SQLite's busy
    handler would make them poll with sleeps of up to 100 ms, the lock hands over at once
    (other processes still meet the busy handler). On PostgreSQL this is an ordinary READ
    COMMITTED transaction.
    """
    engine = session_factory.kw.get("bind")
    queue = _sqlite_writers(engine) if isinstance(engine, AsyncEngine) else None
    async with queue if queue is not None else nullcontext():
        async with session_factory.begin() as session:
            await session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            yield session


# One writers' queue per SQLite engine (one database). Its connections belong to one event
# loop, so its lock does too.
_WRITERS: WeakKeyDictionary[Engine, asyncio.Lock] = WeakKeyDictionary()


def _sqlite_writers(engine: AsyncEngine) -> asyncio.Lock | None:
    if engine.dialect.name != "sqlite":
        return None
    lock = _WRITERS.get(engine.sync_engine)
    if lock is None:
        lock = _WRITERS[engine.sync_engine] = asyncio.Lock()
    return lock


def insert_for(session: AsyncSession, entity: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for ``entity`` in the session's dialect, so ``on_conflict_do_nothing`` /
    ``on_conflict_do_update`` (same API on both) make writes idempotent upserts."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(entity)
    if dialect == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"no upsert support for the {dialect} dialect")


def alembic_config(url: str) -> Config:
    """An Alembic configuration for this project's migrations against ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % (e.g. in an encoded password) must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(url: str, *, keyring: KeyRing | None = None) -> None:
    """Bring the database at ``url`` to the latest schema (``alembic upgrade head``).

    Safe to call from inside a running event loop: Alembic runs on one of our own async
    connections through ``run_sync`` (migrations/env.py picks the connection up from the
    config's attributes) rather than starting a loop of its own. ``keyring`` seals free text
    that an older schema kept in clear (0006); without it a migration that needs one loads
    it from the settings, as the worker does.
    """
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_head, url, keyring)
    finally:
        await engine.dispose()


def _upgrade_head(connection: Connection, url: str, keyring: KeyRing | None) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    config.attributes["keyring"] = keyring
    command.upgrade(config, "head")


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite hands back naive datetimes, meant as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
