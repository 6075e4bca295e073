"""Data files are their owner's only: the read model (with its -wal and -shm), the key file,
the dev mailbox's letters and the Notify stand-in's texts are created 0600 in folders made
0700 — under the permissive umask most machines have (022), not only a strict one."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bootstrap import load_settings
from infra.database import make_engine
from infra.keys import load_keyring, load_pseudonym_key
from infra.notify_standin import DEV_API_KEY, NotifyStandin, _write_json
from infra.smtp_sink import MailboxSink


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The umask of a typical login (022) for the test, the earlier one put back after."""
    earlier = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(earlier)


async def test_the_sqlite_read_model_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "harbour.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x TEXT)"))
            await connection.execute(text("INSERT INTO t VALUES ('a client''s name')"))
        async with engine.connect() as connection:
            await connection.execute(text("SELECT x FROM t"))
            wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
            assert wal.exists() and shm.exists()  # WAL mode: both beside the database
            for file in (path, wal, shm):
                assert _mode(file) == 0o600, (file.name, oct(_mode(file)))
    finally:
        await engine.dispose()
    for folder in (tmp_path / "data", tmp_path / "data" / "nested"):
        assert _mode(folder) == 0o700, folder


async def test_a_database_left_readable_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "harbour.db"
    path.touch()
    os.chmod(path, 0o644)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await engine.dispose()
    assert _mode(path) == 0o600


def test_the_key_file_is_private(tmp_path: Path) -> None:
    settings = load_settings().model_copy(
        update={"data_dir": tmp_path / "keys-here", "encryption_keys": None, "pseudonym_key": None}
    )
    os.umask(0o022)  # load_settings made this process private: measure the files' own modes
    load_keyring(settings)
    load_pseudonym_key(settings)
    assert _mode(tmp_path / "keys-here" / "keys.json") == 0o600
    assert _mode(tmp_path / "keys-here") == 0o700


def test_the_dev_mailbox_letters_are_private(tmp_path: Path) -> None:
    sink = MailboxSink(tmp_path / "data" / "mailbox")
    written = sink._write(b"To: robin@example.org\r\nSubject: hello\r\n\r\nbody\r\n")
    assert _mode(written) == 0o600
    assert _mode(tmp_path / "data" / "mailbox") == 0o700
    assert _mode(tmp_path / "data") == 0o700


def test_the_notify_standin_texts_are_private(tmp_path: Path) -> None:
    standin = NotifyStandin(
        api_key=DEV_API_KEY,
        folder=tmp_path / "data" / "sms",
        sms_template_id=str(uuid.uuid4()),
    )
    record = standin.folder / "one.json"
    _write_json(record, {"phone_number": "+447700900461", "body": "hello"})
    assert _mode(record) == 0o600
    assert _mode(standin.folder) == 0o700 and _mode(standin.received_folder) == 0o700


def test_every_entry_point_creates_private_files(tmp_path: Path) -> None:
    # load_settings is where every entry point starts: what the process creates after it —
    # the Temporal dev server's files included, through the umask it inherits — is private.
    load_settings()
    made = tmp_path / "made-later"
    made.write_text("x")
    (tmp_path / "folder-later").mkdir()
    assert _mode(made) == 0o600 and _mode(tmp_path / "folder-later") == 0o700
