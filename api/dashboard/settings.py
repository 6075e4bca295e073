"""Settings only the dashboard reads (``HARBOUR_API_DASHBOARD_*``), and its session secret.

The secret signs the dashboard's session cookie. In production set
``HARBOUR_API_DASHBOARD_SESSION_SECRET`` (the same value on every API process behind one
address). On the embedded defaults it is generated on first use into
``<data_dir>/dashboard_session.key`` (mode 0600), like the payload keys in ``keys.json``, so a
laptop works out of the box and sessions survive a restart.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE_NAME = "dashboard_session.key"
SECRET_MIN_BYTES = 32


# The longest a session may be configured to last (a week); the cookie check enforces it too.
MAX_SESSION_HOURS = 24 * 7


class DashboardSecretError(ValueError):
    """The session secret is malformed. The message never contains the secret."""


class DashboardSettings(BaseSettings):
    """How the dashboard signs sessions, how long they last, and what it shows."""

    model_config = SettingsConfigDict(
        env_prefix="HARBOUR_API_DASHBOARD_",
        env_file=os.environ.get("HARBOUR_CONFIG_FILE", "harbour.env"),
        extra="ignore",
    )

    # Base64 of at least 32 random bytes. Unset: generated into <data_dir>/dashboard_session.key.
    session_secret: SecretStr | None = None
    # A session ends this long after signing in, whatever happens in between.
    session_hours: float = Field(default=8.0, gt=0, le=MAX_SESSION_HOURS)
    # Mark the cookie Secure. None: when the request itself came over https.
    secure_cookie: bool | None = None
    # Show the dev mailbox. None: when the embedded SMTP sink's folder (<data_dir>/mailbox)
    # exists and SMTP goes to this machine, i.e. on the embedded defaults only.
    dev_mailbox: bool | None = None
    # Times are shown in this zone (stored and compared in UTC).
    timezone: str = "Europe/London"
    page_size: int = Field(default=50, ge=5, le=500)


def load_session_secret(settings: DashboardSettings, data_dir: Path) -> bytes:
    """The secret that signs sessions: from settings, else ``<data_dir>/dashboard_session.key``
    (created with a random secret on first use)."""
    if settings.session_secret is not None:
        return _decode(
            settings.session_secret.get_secret_value(), "HARBOUR_API_DASHBOARD_SESSION_SECRET"
        )
    path = Path(data_dir) / SECRET_FILE_NAME
    if not path.exists():
        _create(path)
    return _decode(path.read_text(encoding="ascii").strip(), str(path))


def _decode(encoded: str, what: str) -> bytes:
    try:
        secret = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise DashboardSecretError(f"{what} is not valid base64") from None
    if len(secret) < SECRET_MIN_BYTES:
        raise DashboardSecretError(f"{what} must decode to at least {SECRET_MIN_BYTES} bytes")
    return secret


def _create(path: Path) -> None:
    """Write a fresh secret atomically (mode 0600); if another process won the race, keep its."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(SECRET_MIN_BYTES)).decode() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
