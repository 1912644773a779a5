"""Envelope: deterministic CBOR round trip; any flipped bit fails verification (hypothesis)."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.identity.keys import DeviceKey, verify_signature
from opendepin.reports.envelope import (
    EnvelopeError,
    compute_report_id,
    decode_report,
    encode_envelope,
    sign_report,
)

KEYS = {"ed25519": DeviceKey("ed25519", bytes(range(32))), "p256": DeviceKey("p256", bytes(31) + b"\x07")}

scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
payloads = st.dictionaries(
    st.text(min_size=1, max_size=10), st.one_of(scalars, st.lists(scalars, max_size=4)), max_size=6
)


def _verifies(wire: bytes) -> bool:
    try:
        signed = decode_report(wire)
    except EnvelopeError:
        return False
    key_type, _, hex_key = signed.envelope.device.partition(":")
    try:
        raw = bytes.fromhex(hex_key)
    except ValueError:
        return False
    return verify_signature(key_type, raw, signed.envelope_bytes, signed.signature)


@settings(max_examples=150, deadline=None)
@given(
    payload=payloads,
    ts=st.integers(0, 2**40),
    seq=st.integers(0, 2**62),
    kind=st.sampled_from(["wireless.heartbeat", "x.y"]),
    key_type=st.sampled_from(sorted(KEYS)),
)
def test_round_trip(payload: dict[str, object], ts: int, seq: int, kind: str, key_type: str) -> None:
    signed = sign_report(KEYS[key_type], kind, ts, seq, payload)
    decoded = decode_report(signed.to_wire())
    assert decoded.envelope == signed.envelope
    assert decoded.report_id == compute_report_id(encode_envelope(signed.envelope))
    assert _verifies(signed.to_wire())


@settings(max_examples=300, deadline=None)
@given(payload=payloads, bit=st.integers(min_value=0), key_type=st.sampled_from(sorted(KEYS)))
def test_any_flipped_bit_fails_verification(payload: dict[str, object], bit: int, key_type: str) -> None:
    wire = bytearray(sign_report(KEYS[key_type], "k.x", 1_700_000_000, 5, payload).to_wire())
    position = bit % (len(wire) * 8)
    wire[position // 8] ^= 1 << (position % 8)
    assert not _verifies(bytes(wire))


def test_invalid_non_canonical_envelope() -> None:
    key = KEYS["ed25519"]
    env = {"v": 1, "kind": "k", "device": key.device_id, "ts": 1, "seq": 1, "payload": {}}
    data = cbor2.dumps(env)  # insertion order, not canonical key order
    assert data != cbor2.dumps(env, canonical=True)
    with pytest.raises(EnvelopeError) as info:
        decode_report(cbor2.dumps([data, key.sign(data)]))
    assert info.value.reason == "report.not_canonical"


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"", "report.malformed"),
        (b"\xff\x00garbage", "report.malformed"),
        (cbor2.dumps([b"x"]), "report.malformed"),
        (cbor2.dumps([cbor2.dumps({"v": 1}), b"s"]), "report.malformed"),
        (
            cbor2.dumps(
                [
                    cbor2.dumps(
                        {"v": 2, "kind": "k", "device": "d", "ts": 1, "seq": 1, "payload": {}}, canonical=True
                    ),
                    b"s",
                ]
            ),
            "report.unsupported_version",
        ),
        (
            cbor2.dumps(
                [
                    cbor2.dumps(
                        {"v": 1, "kind": "k", "device": "d", "ts": -1, "seq": 1, "payload": {}},
                        canonical=True,
                    ),
                    b"s",
                ]
            ),
            "report.malformed",
        ),
        (b"\x81" * 5000 + b"\x00", "report.malformed"),  # deep nesting
        (bytes(20_000), "report.too_large"),
    ],
)
def test_invalid_wire(wire: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode_report(wire)
    assert info.value.reason == reason
