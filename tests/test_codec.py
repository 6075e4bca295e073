"""Payload encryption (infra/codec.py) and key handling (infra/keys.py), without a server."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from temporalio.api.common.v1 import Payload

from infra.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
    UnknownEncryptionKeyError,
)
from infra.keys import KeyConfigError, KeyRing, load_keyring, load_pseudonym_key, parse_keys
from infra.temporal import data_converter

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
SECRET = "Jane Example, 07700 900123, jane@example.org"


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _payload(text: str = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


def _settings(tmp_path: Path, **overrides: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "encryption_keys": None,
        "pseudonym_key": None,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


async def test_round_trip_restores_payload_exactly() -> None:
    codec = EncryptionCodec(KeyRing(active_key_id="k1", keys={"k1": OLD_KEY}))
    originals = [_payload(), _payload("second"), Payload()]
    encoded = await codec.encode(originals)
    assert len(encoded) == 3
    assert await codec.decode(encoded) == originals


async def test_encoded_payload_names_encoding_and_key_id() -> None:
    codec = EncryptionCodec(KeyRing(active_key_id="k1", keys={"k1": OLD_KEY}))
    [encoded] = await codec.encode([_payload()])
    assert encoded.metadata["encoding"] == ENCODING == b"binary/encrypted"
    assert encoded.metadata[KEY_ID_METADATA] == b"k1"
    # Only the two metadata entries: the original's metadata is inside the ciphertext.
    assert set(encoded.metadata) == {"encoding", KEY_ID_METADATA}


async def test_plaintext_not_present_in_encoded_bytes() -> None:
    codec = EncryptionCodec(KeyRing(active_key_id="k1", keys={"k1": OLD_KEY}))
    [encoded] = await codec.encode([_payload()])
    wire = encoded.SerializeToString()
    for fragment in (b"Jane", b"07700", b"example.org", b"json/plain"):
        assert fragment not in wire


async def test_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(KeyRing(active_key_id="k1", keys={"k1": OLD_KEY}))
    [first] = await codec.encode([_payload()])
    [second] = await codec.encode([_payload()])
    assert first.data[:12] != second.data[:12]  # fresh nonce
    assert first.data != second.data


async def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old_codec = EncryptionCodec(parse_keys(f"old:{_b64(OLD_KEY)}"))
    [written_before_rotation] = await old_codec.encode([_payload()])

    rotated = EncryptionCodec(parse_keys(f"new:{_b64(NEW_KEY)},old:{_b64(OLD_KEY)}"))
    [written_after_rotation] = await rotated.encode([_payload()])

    assert written_after_rotation.metadata[KEY_ID_METADATA] == b"new"
    assert await rotated.decode([written_before_rotation]) == [_payload()]
    assert await rotated.decode([written_after_rotation]) == [_payload()]


async def test_unknown_key_id_error_names_the_id_only() -> None:
    [encoded] = await EncryptionCodec(parse_keys(f"gone:{_b64(OLD_KEY)}")).encode([_payload()])
    codec = EncryptionCodec(parse_keys(f"current:{_b64(NEW_KEY)}"))
    with pytest.raises(UnknownEncryptionKeyError, match="'gone'") as caught:
        await codec.decode([encoded])
    message = str(caught.value)
    for material in (_b64(OLD_KEY), _b64(NEW_KEY), "Jane"):
        assert material not in message
    assert OLD_KEY.hex() not in message and NEW_KEY.hex() not in message


@pytest.mark.parametrize("position", [0, 5, 20, -1])
async def test_tampered_ciphertext_fails(position: int) -> None:
    codec = EncryptionCodec(KeyRing(active_key_id="k1", keys={"k1": OLD_KEY}))
    [encoded] = await codec.encode([_payload()])
    data = bytearray(encoded.data)
    data[position] ^= 0x01
    tampered = Payload(metadata=dict(encoded.metadata), data=bytes(data))
    with pytest.raises(PayloadDecryptionError, match="failed authentication") as caught:
        await codec.decode([tampered])
    assert _b64(OLD_KEY) not in str(caught.value)


async def test_wrong_key_under_same_id_fails() -> None:
    [encoded] = await EncryptionCodec(parse_keys(f"k1:{_b64(OLD_KEY)}")).encode([_payload()])
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec(parse_keys(f"k1:{_b64(NEW_KEY)}")).decode([encoded])


async def test_unencrypted_payloads_pass_through_decode() -> None:
    codec = EncryptionCodec(KeyRing(active_key_id="k1", keys={"k1": OLD_KEY}))
    plain = [_payload(), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(plain) == plain


async def test_data_converter_encrypts_pydantic_values_end_to_end() -> None:
    converter = data_converter(KeyRing(active_key_id="k1", keys={"k1": OLD_KEY}))
    [payload] = await converter.encode([{"name": SECRET}])
    assert payload.metadata["encoding"] == ENCODING
    assert b"Jane" not in payload.SerializeToString()
    assert await converter.decode([payload], [dict]) == [{"name": SECRET}]


def test_parse_keys_first_key_is_active() -> None:
    ring = parse_keys(f" a:{_b64(OLD_KEY)} , b:{_b64(NEW_KEY)} ")
    assert ring.active_key_id == "a"
    assert ring.keys == {"a": OLD_KEY, "b": NEW_KEY}
    assert _b64(OLD_KEY) not in repr(ring) and "OLD" not in repr(ring)


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "k1",  # no kid:
        f"{_b64(OLD_KEY)}",  # a bare key pasted without an id
        "k1:not base64!!",
        f"k1:{_b64(b'short')}",
        f"k1:{_b64(OLD_KEY)},k1:{_b64(NEW_KEY)}",  # duplicate id
        f"k1:{_b64(OLD_KEY)},",  # empty entry
        f"bad id:{_b64(OLD_KEY)}",
    ],
)
def test_malformed_keys_error_without_key_material(spec: str) -> None:
    with pytest.raises(KeyConfigError) as caught:
        parse_keys(spec)
    message = str(caught.value)
    assert _b64(OLD_KEY) not in message and _b64(NEW_KEY) not in message
    assert "not base64" not in message
    assert caught.value.__cause__ is None


def test_keys_file_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data")
    ring = load_keyring(settings)
    pseudonym = load_pseudonym_key(settings)
    path = tmp_path / "data" / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(ring.active_key) == 32 and len(pseudonym) == 32
    # Stable across restarts: the same keys come back.
    assert load_keyring(settings) == ring
    assert load_pseudonym_key(settings) == pseudonym
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]  # no temp files left


def test_settings_keys_take_precedence_over_file(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, encryption_keys=f"prod:{_b64(NEW_KEY)}", pseudonym_key=_b64(OLD_KEY)
    )
    assert load_keyring(settings).keys == {"prod": NEW_KEY}
    assert load_pseudonym_key(settings) == OLD_KEY
    assert not (tmp_path / "keys.json").exists()


def test_malformed_pseudonym_key_error_without_material(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="HARBOUR_PSEUDONYM_KEY") as caught:
        load_pseudonym_key(_settings(tmp_path, pseudonym_key="c2hvcnQ="))  # b"short"
    assert "c2hvcnQ" not in str(caught.value)


def test_corrupt_keys_file_error_without_material(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text('{"encryption": {"active_key_id": "k1", "keys": ')
    with pytest.raises(KeyConfigError, match="not valid JSON"):
        load_keyring(_settings(tmp_path))
