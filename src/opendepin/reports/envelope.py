"""The signed report envelope (DESIGN.md "Report envelope").

`{v, kind, device, ts, seq, payload}` encoded as deterministic CBOR (RFC 8949 §4.2.1: shortest forms,
map keys sorted by their encoded bytes), signed by the device key. On the wire a signed report is the
CBOR array `[envelope_bytes, signature]`. The report id is SHA-256 of the envelope bytes: the same
report re-sent is recognised whatever the transport, and a changed byte is a different report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from opendepin.identity.keys import DeviceKey

ENVELOPE_VERSION = 1
_ENVELOPE_KEYS = frozenset({"v", "kind", "device", "ts", "seq", "payload"})


class EnvelopeError(ValueError):
    """A report that cannot be decoded; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: str
    device: str
    ts: int
    seq: int
    payload: Mapping[str, Any]
    v: int = ENVELOPE_VERSION

    def to_map(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "kind": self.kind,
            "device": self.device,
            "ts": self.ts,
            "seq": self.seq,
            "payload": dict(self.payload),
        }


@dataclass(frozen=True, slots=True)
class SignedReport:
    """A decoded report: the exact envelope bytes that were signed, the signature, and their meaning."""

    envelope_bytes: bytes
    signature: bytes
    envelope: Envelope

    @property
    def report_id(self) -> str:
        return compute_report_id(self.envelope_bytes)

    def to_wire(self) -> bytes:
        return cbor2.dumps([self.envelope_bytes, self.signature])


def encode_envelope(envelope: Envelope) -> bytes:
    """Deterministic CBOR of the envelope."""
    return cbor2.dumps(envelope.to_map(), canonical=True)


def compute_report_id(envelope_bytes: bytes) -> str:
    return hashlib.sha256(envelope_bytes).hexdigest()


def sign_report(key: DeviceKey, kind: str, ts: int, seq: int, payload: Mapping[str, Any]) -> SignedReport:
    """Build, encode and sign an envelope with the device key."""
    envelope = Envelope(kind=kind, device=key.device_id, ts=ts, seq=seq, payload=payload)
    data = encode_envelope(envelope)
    return SignedReport(data, key.sign(data), envelope)


def _check_envelope_map(value: Any) -> Envelope:
    if not isinstance(value, dict) or value.keys() != _ENVELOPE_KEYS:
        keys = sorted(map(str, value)) if isinstance(value, dict) else type(value).__name__
        raise EnvelopeError(
            "report.malformed", f"envelope must be a map with keys {sorted(_ENVELOPE_KEYS)}, got {keys}"
        )
    v, kind, device, ts, seq = value["v"], value["kind"], value["device"], value["ts"], value["seq"]
    payload = value["payload"]
    if v != ENVELOPE_VERSION:
        raise EnvelopeError("report.unsupported_version", f"envelope version {v!r} is not supported (use 1)")
    if not isinstance(kind, str) or not isinstance(device, str):
        raise EnvelopeError("report.malformed", "envelope kind and device must be text")
    if type(ts) is not int or type(seq) is not int or not (0 <= ts < 2**63 and 0 <= seq < 2**63):
        raise EnvelopeError("report.malformed", "envelope ts and seq must be non-negative 63-bit integers")
    if not isinstance(payload, dict):
        raise EnvelopeError("report.malformed", "envelope payload must be a map")
    return Envelope(kind=kind, device=device, ts=ts, seq=seq, payload=payload, v=v)


def _read_bytestring(data: bytes, offset: int) -> tuple[bytes, int] | None:
    """A definite-length CBOR byte string at `offset` → (value, next offset); None if it is not one."""
    if offset >= len(data):
        return None
    head = data[offset]
    if head >> 5 != 2:
        return None
    info = head & 0x1F
    offset += 1
    if info < 24:
        length = info
    elif 24 <= info <= 27:
        size = 1 << (info - 24)
        length = int.from_bytes(data[offset : offset + size], "big")
        offset += size
    else:
        return None
    end = offset + length
    if end > len(data):
        return None
    return data[offset:end], end


def _split_wire(wire: bytes) -> tuple[bytes, bytes] | None:
    """Fast path for the usual `[envelope bytes, signature]`; None sends the bytes to the general decoder."""
    if wire[:1] != b"\x82":
        return None
    first = _read_bytestring(wire, 1)
    if first is None:
        return None
    second = _read_bytestring(wire, first[1])
    if second is None or second[1] != len(wire):
        return None
    return first[0], second[0]


def decode_report(wire: bytes, max_bytes: int = 16_384) -> SignedReport:
    """Decode `[envelope_bytes, signature]`; the envelope must be canonical CBOR. Never raises anything but
    EnvelopeError, whatever the bytes."""
    if len(wire) > max_bytes:
        raise EnvelopeError("report.too_large", f"report is {len(wire)} bytes; the limit is {max_bytes}")
    split = _split_wire(wire)
    if split is None:
        try:
            outer = cbor2.loads(wire)
        except Exception as error:  # cbor2 raises many types (and RecursionError) for hostile input
            raise EnvelopeError("report.malformed", f"not CBOR: {type(error).__name__}") from None
        if not (isinstance(outer, list) and len(outer) == 2 and all(isinstance(x, bytes) for x in outer)):
            raise EnvelopeError(
                "report.malformed", "a signed report is the CBOR array [envelope bytes, signature]"
            )
        split = (outer[0], outer[1])
    envelope_bytes, signature = split
    try:
        inner = cbor2.loads(envelope_bytes)
    except Exception as error:
        raise EnvelopeError("report.malformed", f"envelope is not CBOR: {type(error).__name__}") from None
    envelope = _check_envelope_map(inner)
    try:
        canonical = cbor2.dumps(inner, canonical=True)
    except Exception as error:
        raise EnvelopeError(
            "report.malformed", f"envelope cannot be re-encoded: {type(error).__name__}"
        ) from None
    if canonical != envelope_bytes:
        raise EnvelopeError("report.not_canonical", "envelope is not deterministic CBOR (RFC 8949 §4.2)")
    return SignedReport(envelope_bytes, signature, envelope)
