"""The ReQoL-10 wording the pages show: the service's licensed file, else placeholders.

The file's path comes from settings (``HARBOUR_REQOL_WORDING_FILE``); its shape is
``models.reqol_wording``. It is read when first needed and again whenever it changes on disk.
A file that cannot be used is reported in the log by its path and the problem — never its
text — and the pages fall back to "Item 1" ... "Item 10", so a form is never blocked by it.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from models.reqol_wording import (
    ReqolWording,
    WordingFileError,
    parse_wording,
    placeholder_wording,
)

log = structlog.get_logger(__name__)

# The last file read: its path, its modification time and size, and its wording.
_cache: dict[Path, tuple[tuple[int, int], ReqolWording]] = {}


def load_reqol_wording(path: Path | None) -> ReqolWording:
    """The wording from ``path`` (re-read when it changes), or placeholders when there is no
    path or the file cannot be used."""
    if path is None:
        return placeholder_wording()
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        wording = parse_wording(path.read_text(encoding="utf-8-sig"), path.suffix)
    except (OSError, UnicodeDecodeError) as error:
        log.warning("reqol wording file unreadable", path=str(path), error=type(error).__name__)
        return placeholder_wording()
    except WordingFileError as error:
        log.warning("reqol wording file not used", path=str(path), problem=str(error))
        return placeholder_wording()
    _cache.clear()
    _cache[path] = (stamp, wording)
    return wording
