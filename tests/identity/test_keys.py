from __future__ import annotations

import pytest

from opendepin.identity.keys import DeviceKey, DeviceKeyError, parse_device_id, verify_signature


@pytest.mark.parametrize("key_type", ["ed25519", "p256"])
def test_sign_and_verify(key_type: str) -> None:
    key = DeviceKey.generate(key_type)  # type: ignore[arg-type]
    signature = key.sign(b"hello")
    assert key.public.verify(b"hello", signature)
    assert parse_device_id(key.device_id) == key.public


@pytest.mark.parametrize("key_type", ["ed25519", "p256"])
def test_invalid_signature_rejected(key_type: str) -> None:
    key = DeviceKey.generate(key_type)  # type: ignore[arg-type]
    signature = bytearray(key.sign(b"hello"))
    assert not key.public.verify(b"hellp", bytes(signature))
    signature[-1] ^= 1
    assert not key.public.verify(b"hello", bytes(signature))
    assert not verify_signature(key_type, key.public.raw, b"hello", b"")


def test_secret_determines_key() -> None:
    a = DeviceKey("ed25519", bytes(32))
    b = DeviceKey("ed25519", bytes(32))
    assert a.device_id == b.device_id


@pytest.mark.parametrize(
    "bad", ["ed25519", "rsa:00", "ed25519:zz", "ed25519:" + "00" * 31, "p256:" + "02" * 32]
)
def test_invalid_device_id(bad: str) -> None:
    with pytest.raises(DeviceKeyError):
        parse_device_id(bad)
