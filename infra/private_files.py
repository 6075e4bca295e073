"""Data files only their owner can read: folders 0700, files 0600.

The read model (``harbour.db`` and its ``-wal``/``-shm``), the key file, the dev mailbox's
letters and the Notify stand-in's texts hold personal data or the keys to it: another account
on the same machine must not be able to read them. Each is created private here, whatever
the process's umask; a file an older version left readable is tightened when it is next
opened. A folder that already existed is left as it is (it may be a home or a shared folder).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as owner-only folders (0700)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile
        os.chmod(folder, DIR_MODE)  # mkdir's mode is cut by the umask; this one is not


def private_file(path: Path) -> None:
    """Create ``path`` empty and owner-only (0600) if it is missing; tighten it to 0600 if it
    exists and others may read it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
        return
    os.fchmod(fd, FILE_MODE)
    os.close(fd)


def tighten(path: Path) -> None:
    """Make an existing file owner-only (0600) if its group or others have any access."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, mode & 0o700 or FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new or truncated owner-only file (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # a leftover file may have had looser permissions
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)
