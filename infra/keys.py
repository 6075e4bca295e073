"""Key material: the payload encryption key ring and the outcome pseudonym key.

Keys come from settings (``HARBOUR_ENCRYPTION_KEYS``, ``HARBOUR_PSEUDONYM_KEY``) in production.
For the embedded demo they are generated on first run into ``<data_dir>/keys.json`` (mode 0600,
its folder 0700 when this creates it),
so a laptop works out of the box and keeps decrypting its own history across restarts.

Errors name key ids and positions only: key material never appears in a message, a log line or
a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.private_files import private_dir, tighten

KEY_BYTES = 32  # AES-256
PSEUDONYM_KEY_MIN_BYTES = 32
KEYS_FILE_NAME = "keys.json"

# Key ids travel unencrypted in payload metadata: keep them short, opaque and printable.
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeyConfigError(ValueError):
    """Key configuration is malformed. The message never contains key material."""


class _KeySettings(Protocol):
    data_dir: Path
    encryption_keys: str | None
    pseudonym_key: str | None


@dataclass(frozen=True)
class KeyRing:
    """Encryption keys by id: ``active_key_id`` encrypts, every key decrypts (rotation)."""

    active_key_id: str
    # repr=False: a KeyRing printed in a traceback or a debugger must not leak keys.
    keys: dict[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyConfigError("the key ring is empty")
        for key_id, key in self.keys.items():
            _check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise KeyConfigError(
                    f"encryption key {key_id!r} must be {KEY_BYTES} bytes (AES-256)"
                )
        if self.active_key_id not in self.keys:
            raise KeyConfigError(f"active key id {self.active_key_id!r} is not in the key ring")

    @property
    def active_key(self) -> bytes:
        """The key new payloads are encrypted with."""
        return self.keys[self.active_key_id]

    def __repr__(self) -> str:
        return f"KeyRing(active_key_id={self.active_key_id!r}, key_ids={sorted(self.keys)!r})"

    def seal(self, plaintext: bytes) -> str:
        """Encrypt data kept at rest in the read model: ``<key id>:<base64 nonce+ciphertext>``
        (AES-256-GCM under the active key, as the payload codec does)."""
        nonce = os.urandom(12)
        sealed = AESGCM(self.active_key).encrypt(nonce, plaintext, None)
        return f"{self.active_key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def unseal(self, sealed: str) -> bytes:
        """Decrypt what :meth:`seal` produced, with whichever key it names."""
        key_id, _, data = sealed.partition(":")
        if key_id not in self.keys:
            raise KeyConfigError(f"sealed data names unknown key id {key_id!r}")
        raw = base64.b64decode(data)
        try:
            return AESGCM(self.keys[key_id]).decrypt(raw[:12], raw[12:], None)
        except InvalidTag:
            raise KeyConfigError(f"sealed data failed authentication under {key_id!r}") from None


def generate_key() -> bytes:
    """A fresh random 256-bit key."""
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """Base64 text for a key, as used in settings and ``keys.json``."""
    return base64.b64encode(key).decode("ascii")


def parse_keys(spec: str) -> KeyRing:
    """Parse ``"kid:base64key,kid:base64key"``; the first key encrypts, all decrypt."""
    entries = [entry.strip() for entry in spec.split(",")]
    if not spec.strip() or not all(entries):
        raise KeyConfigError(
            "HARBOUR_ENCRYPTION_KEYS must be 'kid:base64key[,kid:base64key...]' with no empty entry"
        )
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep:
            raise KeyConfigError(f"encryption key entry #{position} has no 'kid:' prefix")
        _check_key_id(key_id, f"encryption key entry #{position}")
        if key_id in keys:
            raise KeyConfigError(f"encryption key id {key_id!r} appears more than once")
        keys[key_id] = _decode_key(encoded.strip(), f"encryption key {key_id!r}", exact=KEY_BYTES)
    return KeyRing(active_key_id=entries[0].partition(":")[0].strip(), keys=keys)


def load_keyring(settings: _KeySettings) -> KeyRing:
    """The key ring from ``settings.encryption_keys``, else ``<data_dir>/keys.json``.

    The file is created with one random key on first run.
    """
    if settings.encryption_keys:
        return parse_keys(settings.encryption_keys)
    path = Path(settings.data_dir) / KEYS_FILE_NAME
    data = _load_or_create(path)
    section = data.get("encryption")
    if not isinstance(section, dict):
        raise KeyConfigError(f"{path}: 'encryption' must be an object")
    active = section.get("active_key_id")
    raw_keys = section.get("keys")
    if not isinstance(active, str) or not isinstance(raw_keys, dict) or not raw_keys:
        raise KeyConfigError(f"{path}: 'encryption' needs 'active_key_id' and a non-empty 'keys'")
    keys: dict[str, bytes] = {}
    for key_id, encoded in raw_keys.items():
        _check_key_id(key_id, f"{path}: key id")
        if not isinstance(encoded, str):
            raise KeyConfigError(f"{path}: encryption key {key_id!r} must be a base64 string")
        keys[key_id] = _decode_key(encoded, f"{path}: encryption key {key_id!r}", exact=KEY_BYTES)
    return KeyRing(active_key_id=active, keys=keys)


def load_pseudonym_key(settings: _KeySettings) -> bytes:
    """The HMAC key that pseudonymises outcomes: ``settings.pseudonym_key`` (base64), else
    ``<data_dir>/keys.json`` (generated on first run)."""
    if settings.pseudonym_key:
        return _decode_key(
            settings.pseudonym_key, "HARBOUR_PSEUDONYM_KEY", minimum=PSEUDONYM_KEY_MIN_BYTES
        )
    path = Path(settings.data_dir) / KEYS_FILE_NAME
    encoded = _load_or_create(path).get("pseudonym_key")
    if not isinstance(encoded, str):
        raise KeyConfigError(f"{path}: 'pseudonym_key' must be a base64 string")
    return _decode_key(encoded, f"{path}: pseudonym_key", minimum=PSEUDONYM_KEY_MIN_BYTES)


def _check_key_id(key_id: Any, where: str = "encryption key id") -> None:
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        # The id is shown only when it is a plausible id (it could be a mis-pasted key otherwise).
        raise KeyConfigError(
            f"{where}: key ids must be 1-64 characters of letters, digits, '.', '_' or '-'"
        )


def _decode_key(encoded: str, what: str, *, exact: int | None = None, minimum: int = 0) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        # `from None`: the underlying error could quote part of the input.
        raise KeyConfigError(f"{what} is not valid base64") from None
    if exact is not None and len(key) != exact:
        raise KeyConfigError(f"{what} must decode to {exact} bytes, not {len(key)}")
    if len(key) < minimum:
        raise KeyConfigError(f"{what} must decode to at least {minimum} bytes")
    return key


def _new_keys_document() -> dict[str, Any]:
    # A random id rather than "k1": ids from two demo installs never collide by accident.
    key_id = f"local-{secrets.token_hex(4)}"
    return {
        "encryption": {"active_key_id": key_id, "keys": {key_id: encode_key(generate_key())}},
        "pseudonym_key": encode_key(secrets.token_bytes(PSEUDONYM_KEY_MIN_BYTES)),
    }


def _load_or_create(path: Path) -> dict[str, Any]:
    """Read ``keys.json``, creating it atomically (mode 0600) when absent.

    Two processes starting together (worker and starter) must end up with the same keys, so the
    file is written to a temporary name and hard-linked into place: the link fails if another
    process won the race, and then its file is read instead.
    """
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(_new_keys_document(), handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    tighten(path)  # one an older version left readable
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        # No position/excerpt: the excerpt would be key material.
        raise KeyConfigError(f"{path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise KeyConfigError(f"{path} must hold a JSON object")
    return data
