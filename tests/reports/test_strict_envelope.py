"""Strict envelopes: integer version, plain CBOR payloads, nothing after the signed report, batches read
without a general CBOR decoder (regressions of issue 11, "lax types in signed reports")."""

from __future__ import annotations

import datetime
import decimal
import re
import struct

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.identity.keys import DeviceKey
from opendepin.reports.envelope import (
    BatchError,
    EnvelopeError,
    _split_wire_generally,
    canonical_cbor,
    decode_report,
    scan_plain_cbor,
    sign_report,
    split_batch,
    split_wire,
)

KEY = DeviceKey("ed25519", bytes(range(32)))


def _signed_wire(envelope: dict[str, object]) -> bytes:
    data = cbor2.dumps(envelope, canonical=True)
    return cbor2.dumps([data, KEY.sign(data)])


def _envelope(**changes: object) -> dict[str, object]:
    env: dict[str, object] = {
        "v": 1,
        "kind": "wireless.heartbeat",
        "device": KEY.device_id,
        "ts": 1_800_000_000,
        "seq": 1,
        "payload": {"lat": 52.5, "lon": 13.4},
    }
    env.update(changes)
    return env


def _reason(wire: bytes) -> str:
    with pytest.raises(EnvelopeError) as info:
        decode_report(wire)
    return info.value.reason


def test_valid_envelope_decodes() -> None:
    assert decode_report(_signed_wire(_envelope())).envelope.v == 1


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_version_must_be_the_integer_one(version: object) -> None:
    assert _reason(_signed_wire(_envelope(v=version))) == "report.malformed"


@pytest.mark.parametrize("field", ["kind", "device"])
@pytest.mark.parametrize("control", ["\x00", "\n", "\x1b", "\u2028"])
def test_kind_and_device_are_printable_text(field: str, control: str) -> None:
    """Identifiers never hold a control character (NUL cannot even be kept in PostgreSQL text)."""
    value = ("wireless.heartbeat" if field == "kind" else KEY.device_id) + control
    assert _reason(_signed_wire(_envelope(**{field: value}))) == "report.malformed"


def test_other_integer_versions_are_unsupported() -> None:
    assert _reason(_signed_wire(_envelope(v=2))) == "report.unsupported_version"


@pytest.mark.parametrize("trailing", [b"\x00", b"junk", cbor2.dumps([b"a", b"b"])])
def test_trailing_bytes_after_the_signed_report_are_refused(trailing: bytes) -> None:
    wire = _signed_wire(_envelope())
    assert _reason(wire + trailing) == "report.malformed"


@pytest.mark.parametrize(
    "wire",
    [
        b"\x9f\x41a\x41b\xff",  # indefinite-length outer array
        b"\x82\x5f\x41a\xff\x41b",  # indefinite-length byte string
        b"\xd8\x18\x82\x41a\x41b",  # a tag around the outer array
        b"\x83\x41a\x41b\x41c",  # three elements
    ],
)
def test_outer_array_is_exactly_two_definite_byte_strings(wire: bytes) -> None:
    assert _reason(wire) == "report.malformed"


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        decimal.Decimal("52.5"),
        frozenset({1}),
        cbor2.CBORTag(4711, 1),
        cbor2.undefined,
    ],
)
def test_payload_holds_plain_cbor_only(value: object) -> None:
    data = cbor2.dumps(
        _envelope(payload={"lat": value, "lon": 13.4}), canonical=True, datetime_as_timestamp=True
    )
    assert _reason(cbor2.dumps([data, KEY.sign(data)])) == "report.malformed"


def test_payload_map_keys_must_be_text() -> None:
    assert _reason(_signed_wire(_envelope(payload={1: 52.5}))) == "report.malformed"


def test_regex_tag_is_refused_before_cbor2_compiles_it(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    monkeypatch.setattr(re, "compile", lambda pattern, *a: compiled.append(pattern))
    env = cbor2.dumps(_envelope(payload={"lat": cbor2.CBORTag(35, "(" * 50 + ")" * 50)}), canonical=True)
    with pytest.raises(EnvelopeError) as info:
        decode_report(cbor2.dumps([env, KEY.sign(env)]))
    assert info.value.reason == "report.malformed" and "tags are not allowed" in str(info.value)
    assert compiled == []


def test_float_bytes_that_look_like_a_regex_tag_are_still_accepted() -> None:
    lat = struct.unpack(">d", b"\x40\x4a\xd8\x23\x00\x00\x00\x01")[0]  # ≈ 53.7, holds d8 23
    signed = sign_report(KEY, "wireless.heartbeat", 1_800_000_000, 1, {"lat": lat, "lon": 13.4})
    assert b"\xd8\x23" in signed.envelope_bytes
    assert decode_report(signed.to_wire()).envelope.payload["lat"] == lat


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (cbor2.dumps({"a": [1, 2.5, True, None, b"x", "y"]}), None),
        (cbor2.dumps({"a": 1}) + b"\x00", "1 trailing bytes"),
        (cbor2.dumps({1: 1}), "map keys must be text"),
        (b"\xa1\x61a\xd8\x23\x61x", "tags are not allowed"),
        (b"\xa1\x61a\xf7", "simple values other than false, true and null are not allowed"),
        (b"\x9f\xff", "truncated CBOR, indefinite length or reserved value"),
        (b"\x81" * 40 + b"\x00", "nested deeper than 17 levels"),
        (b"\x62\xff\xfe", "text is not UTF-8"),
        (b"\x9b" + (2**40).to_bytes(8, "big"), "truncated CBOR container"),
    ],
)
def test_scan_plain_cbor(data: bytes, problem: str | None) -> None:
    assert scan_plain_cbor(data) == problem


def test_split_batch() -> None:
    assert split_batch(cbor2.dumps([b"a", b"bc"]), 10) == [b"a", b"bc"]
    assert split_batch(b"\x9f\x41a\x41b\xff", 10) == [b"a", b"b"]
    assert split_batch(cbor2.dumps([]), 10) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (cbor2.dumps({"a": 1}), "batch.malformed"),
        (cbor2.dumps([1, 2]), "batch.malformed"),
        (cbor2.dumps([b"a"]) + b"\x00", "batch.malformed"),
        (b"\xd8\x23\x81\x41a", "batch.malformed"),  # a tag is never interpreted
        (b"\x9f\x41a", "batch.malformed"),  # indefinite array without its end
        (cbor2.dumps([b"a"] * 11), "batch.too_large"),
        (b"\x9f" + b"\x41a" * 11 + b"\xff", "batch.too_large"),
        (b"\x9b" + (2**63).to_bytes(8, "big"), "batch.too_large"),
        (b"", "batch.malformed"),
    ],
)
def test_split_batch_refuses(body: bytes, reason: str) -> None:
    with pytest.raises(BatchError) as info:
        split_batch(body, 10)
    assert info.value.reason == reason


def _split_or_reason(split: object, wire: bytes) -> object:
    try:
        return split(wire)  # type: ignore[operator]
    except EnvelopeError as error:
        return error.reason


@settings(max_examples=400, deadline=None)
@given(
    envelope=st.binary(min_size=0, max_size=300),
    signature=st.binary(min_size=0, max_size=80),
    cut=st.integers(min_value=0, max_value=400),
    extra=st.binary(max_size=3),
    flip=st.integers(min_value=0, max_value=400),
)
def test_split_wire_fast_path_agrees_with_the_general_reader(
    envelope: bytes, signature: bytes, cut: int, extra: bytes, flip: int
) -> None:
    """The fast path for the usual wire shape gives what the general head reader gives, whatever the bytes
    (whole, truncated, with trailing bytes, or with one byte changed)."""
    wire = cbor2.dumps([envelope, signature])
    variants = [wire, wire[:cut], wire + extra]
    if wire:
        changed = bytearray(wire)
        changed[flip % len(wire)] ^= 0xFF
        variants.append(bytes(changed))
    for candidate in variants:
        assert _split_or_reason(split_wire, candidate) == _split_or_reason(_split_wire_generally, candidate)


_PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_PLAIN)
def test_reused_canonical_encoder_gives_cbor2s_bytes(value: object) -> None:
    assert canonical_cbor(value) == cbor2.dumps(value, canonical=True)


def test_reused_canonical_encoder_recovers_after_a_value_it_cannot_encode() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(Exception):  # noqa: B017 - cbor2 raises its own error type for cycles
        canonical_cbor({"a": cyclic})
    assert canonical_cbor({"b": 1, "a": [2.5]}) == cbor2.dumps({"b": 1, "a": [2.5]}, canonical=True)
