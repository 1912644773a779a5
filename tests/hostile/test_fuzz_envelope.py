"""Property-based fuzzing of the envelope decoder and the gate: arbitrary bytes, arbitrary CBOR structures
(tags, bignums, undefined, deep nesting) in every position of a report, and mutated valid reports. Whatever
the input, `decode_report` raises nothing but EnvelopeError and the gate returns a reason code."""

from __future__ import annotations

import math

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendepin.config import IngestConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.gate import GateState, gate_report
from opendepin.reports.envelope import EnvelopeError, decode_report, sign_report
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.wireless.poc.reports import POC_REPORT_KINDS
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST, HeartbeatPayload, SpeedtestPayload

KEY = DeviceKey("ed25519", bytes(range(32)))
DEVICE = DeviceInfo(KEY.device_id, "0x" + "11" * 20, "0x" + "22" * 20, "ed25519", "8c1f1d48945d9ff", 0)
NOW = 1_800_000_000
PARAMS = IngestConfig()
KINDS = {HEARTBEAT: HeartbeatPayload, SPEEDTEST: SpeedtestPayload, **POC_REPORT_KINDS}
DECODE_REASONS = {
    "report.malformed",
    "report.not_canonical",
    "report.too_large",
    "report.unsupported_version",
}
GATE_REASONS = DECODE_REASONS | {
    "accepted",
    "device.unknown",
    "signature.invalid",
    "report.duplicate",
    "report.replay",
    "report.stale",
    "report.future",
    "report.epoch_closed",
    "report.unknown_kind",
    "report.schema_invalid",
}
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.booleans(),
    st.none(),
    st.just(cbor2.undefined),
    st.builds(cbor2.CBORSimpleValue, st.integers(32, 255)),
)
tags = st.sampled_from([0, 1, 2, 3, 4, 5, 24, 25, 28, 29, 30, 35, 36, 37, 256, 258, 260, 261, 55799, 4711])


def _tagged(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.builds(cbor2.CBORTag, tags, children)


cbor_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 9)), children, max_size=4),
        _tagged(children),
    ),
    max_leaves=20,
)


def _dumps(value: object) -> bytes:
    try:
        return cbor2.dumps(value, canonical=True)
    except Exception:
        return cbor2.dumps(repr(value))


def _state() -> GateState:
    return GateState({DEVICE.device_id: DEVICE}, {}, frozenset(), 0)


def _check(wire: bytes) -> str:
    """Decoding raises only EnvelopeError with a known reason; the gate answers with a known reason."""
    try:
        decode_report(wire)
    except EnvelopeError as error:
        assert error.reason in DECODE_REASONS, error.reason
        assert str(error)
    result = gate_report(wire, _state(), NOW, PARAMS, KINDS)
    assert result.reason in GATE_REASONS, result.reason
    assert result.message
    assert result.accepted == (result.record is not None)
    return result.reason


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes(wire: bytes) -> None:
    assert _check(wire) != "accepted"


@FUZZ
@given(cbor_values, st.sampled_from(["wire", "envelope", "payload", "field"]), st.binary(max_size=64))
def test_arbitrary_cbor_in_every_position(value: object, where: str, signature: bytes) -> None:
    if where == "wire":
        wire = _dumps(value)
    else:
        envelope = {"v": 1, "kind": HEARTBEAT, "device": KEY.device_id, "ts": NOW, "seq": 1}
        envelope["payload"] = (
            value if where == "payload" else {"lat": value, "lon": 13.4} if where == "field" else {}
        )
        if where == "envelope":
            envelope = value  # type: ignore[assignment]
        data = _dumps(envelope)
        wire = cbor2.dumps([data, KEY.sign(data) if signature[:1] == b"\x00" else signature])
    reason = _check(wire)
    if reason == "accepted":
        payload = decode_report(wire).envelope.payload
        lat = payload["lat"]
        assert type(lat) in (int, float) and not (isinstance(lat, float) and math.isnan(lat))


payload_values = st.one_of(
    st.floats(-90, 90), st.integers(-90, 90), st.text(max_size=5), st.booleans(), st.binary(max_size=4)
)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["lat", "lon", "x"]), payload_values, max_size=3),
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "insert", "delete", "truncate", "append"]), st.integers(0, 10_000)
        ),
        min_size=1,
        max_size=4,
    ),
    st.binary(min_size=1, max_size=8),
)
def test_mutated_valid_reports(
    payload: dict[str, object], mutations: list[tuple[str, int]], junk: bytes
) -> None:
    wire = bytearray(sign_report(KEY, HEARTBEAT, NOW, 1, payload).to_wire())
    original = bytes(wire)
    for operation, position in mutations:
        at = position % (len(wire) or 1)
        if operation == "flip" and wire:
            wire[at] ^= 1 << (position % 8)
        elif operation == "insert":
            wire[at:at] = junk
        elif operation == "delete" and wire:
            del wire[at]
        elif operation == "truncate":
            del wire[at:]
        else:
            wire += junk
    reason = _check(bytes(wire))
    if reason == "accepted":
        assert bytes(wire) == original  # a changed byte is never accepted as the device's report
