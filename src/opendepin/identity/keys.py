"""Device keys: ed25519 (default, PyNaCl/libsodium) and P-256 (secure elements, `cryptography`).

A device id is `<key type>:<hex public key>`: `ed25519:<32 bytes>` or `p256:<33-byte compressed point>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

KeyType = Literal["ed25519", "p256"]
KEY_TYPES: tuple[KeyType, ...] = ("ed25519", "p256")


class DeviceKeyError(ValueError):
    """A malformed device id or public key."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    key_type: KeyType
    raw: bytes

    @property
    def device_id(self) -> str:
        return f"{self.key_type}:{self.raw.hex()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if `signature` is this key's signature of `message`."""
        return verify_signature(self.key_type, self.raw, message, signature)


def parse_device_id(device_id: str) -> PublicKey:
    """`ed25519:<hex>` or `p256:<hex>` → PublicKey; raises DeviceKeyError with what is expected."""
    key_type, sep, hex_key = device_id.partition(":")
    if not sep or key_type not in KEY_TYPES:
        raise DeviceKeyError(
            f"device id must look like 'ed25519:<64 hex>' or 'p256:<66 hex>', got {device_id[:80]!r}"
        )
    try:
        raw = bytes.fromhex(hex_key)
    except ValueError:
        raise DeviceKeyError(f"device id {device_id[:80]!r}: public key is not hex") from None
    expected = 32 if key_type == "ed25519" else 33
    if len(raw) != expected:
        raise DeviceKeyError(f"{key_type} public key must be {expected} bytes, got {len(raw)}")
    return PublicKey(key_type, raw)  # type: ignore[arg-type]


_p256_cache: dict[bytes, ec.EllipticCurvePublicKey] = {}
_ed_cache: dict[bytes, nacl.signing.VerifyKey] = {}


def verify_signature(key_type: str, raw: bytes, message: bytes, signature: bytes) -> bool:
    """Verify with the right algorithm; never raises on bad input, returns False."""
    try:
        if key_type == "ed25519":
            key = _ed_cache.get(raw)
            if key is None:
                key = _ed_cache.setdefault(raw, nacl.signing.VerifyKey(raw))
            key.verify(message, signature)
            return True
        if key_type == "p256":
            pkey = _p256_cache.get(raw)
            if pkey is None:
                pkey = _p256_cache.setdefault(
                    raw, ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
                )
            pkey.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            return True
    except (
        nacl.exceptions.BadSignatureError,
        nacl.exceptions.ValueError,
        InvalidSignature,
        ValueError,
        TypeError,
    ):
        return False
    return False


class DeviceKey:
    """A device's private key: signs report envelopes."""

    def __init__(self, key_type: KeyType, secret: bytes) -> None:
        self.key_type = key_type
        self.secret = secret
        if key_type == "ed25519":
            self._ed = nacl.signing.SigningKey(secret)
            public = bytes(self._ed.verify_key)
        elif key_type == "p256":
            self._ec = ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256R1())
            public = self._ec.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        else:
            raise DeviceKeyError(f"key type must be one of {KEY_TYPES}, got {key_type!r}")
        self.public = PublicKey(key_type, public)

    @classmethod
    def generate(cls, key_type: KeyType = "ed25519") -> DeviceKey:
        if key_type == "ed25519":
            return cls("ed25519", bytes(nacl.signing.SigningKey.generate()))
        private = ec.generate_private_key(ec.SECP256R1())
        return cls("p256", private.private_numbers().private_value.to_bytes(32, "big"))

    @property
    def device_id(self) -> str:
        return self.public.device_id

    def sign(self, message: bytes) -> bytes:
        if self.key_type == "ed25519":
            return self._ed.sign(message).signature
        return self._ec.sign(message, ec.ECDSA(hashes.SHA256()))
