"""Payload encryption: AES-256-GCM over every Temporal payload, with key rotation.

Temporal stores workflow inputs, results, signals, updates and activity arguments in its
history. Those payloads carry personal data (names, contacts), so they are encrypted before they
leave the process. Workflow ids, search attributes and failure messages are *not* payloads and
stay in clear: they must only ever hold opaque ids and stages.

Wire format (compatible with temporalio/samples-python ``encryption``):
``metadata.encoding = b"binary/encrypted"``, ``metadata["encryption-key-id"] = key id``,
``data = nonce (12 bytes) + AES-GCM ciphertext of the serialized original Payload``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from infra.keys import KeyRing

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptionError(Exception):
    """A payload could not be decrypted. The message names the key id only."""


class UnknownEncryptionKeyError(PayloadDecryptionError):
    """A payload was encrypted with a key id that is not in the key ring."""


class EncryptionCodec(PayloadCodec):
    """Encrypts with the key ring's active key; decrypts with whichever key the payload names.

    Payloads without the ``binary/encrypted`` encoding pass through ``decode`` unchanged, so
    history written before encryption was switched on stays readable.
    """

    def __init__(self, keyring: KeyRing) -> None:
        """Build one AES-GCM cipher per key; the active key encrypts."""
        self._active_key_id = keyring.active_key_id
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the active key."""
        cipher = self._ciphers[self._active_key_id]
        key_id = self._active_key_id.encode("ascii")
        encoded = []
        for payload in payloads:
            # A fresh random nonce per payload: GCM is broken by nonce reuse under one key.
            nonce = os.urandom(NONCE_BYTES)
            ciphertext = cipher.encrypt(nonce, payload.SerializeToString(), None)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id},
                    data=nonce + ciphertext,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads with the key they name; pass others through."""
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            decoded.append(self._decrypt(payload))
        return decoded

    def _decrypt(self, payload: Payload) -> Payload:
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if raw_id is None:
            raise PayloadDecryptionError(f"encrypted payload has no {KEY_ID_METADATA!r} metadata")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownEncryptionKeyError(
                f"payload was encrypted with unknown key id {key_id!r}; "
                "add that key to HARBOUR_ENCRYPTION_KEYS (old keys must be kept to decrypt)"
            )
        nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plaintext = cipher.decrypt(nonce, ciphertext, None)
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r} failed authentication "
                "(wrong key or tampered data)"
            ) from None
        return Payload.FromString(plaintext)
