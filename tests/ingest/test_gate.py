"""The gate: one passing case and one failing case per check, in the documented order."""

from __future__ import annotations

import pytest

from opendepin.config import IngestConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.gate import GateState, gate_report
from opendepin.reports.envelope import sign_report
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.wireless.reports import HEARTBEAT, HeartbeatPayload

KEY = DeviceKey("ed25519", bytes(range(32)))
DEVICE = DeviceInfo(KEY.device_id, "0x" + "11" * 20, "0x" + "22" * 20, "ed25519", "8c1f1d48945d9ff", 0)
NOW = 1_800_000_000
PARAMS = IngestConfig()
KINDS = {HEARTBEAT: HeartbeatPayload}
OK_PAYLOAD = {"lat": 52.52, "lon": 13.405}


def _state(last_seq: int = 10, stored: frozenset[str] = frozenset(), closed_until: int = 0) -> GateState:
    return GateState({DEVICE.device_id: DEVICE}, {DEVICE.device_id: last_seq}, stored, closed_until)


def _wire(
    ts: int = NOW,
    seq: int = 11,
    payload: dict[str, object] | None = None,
    kind: str = HEARTBEAT,
    key: DeviceKey = KEY,
) -> bytes:
    return sign_report(key, kind, ts, seq, OK_PAYLOAD if payload is None else payload).to_wire()


def test_accepts_valid_report() -> None:
    result = gate_report(_wire(), _state(), NOW, PARAMS, KINDS)
    assert result.accepted and result.record is not None
    assert result.record.seq == 11 and result.record.received_at == NOW


def test_invalid_malformed() -> None:
    assert gate_report(b"\x00junk", _state(), NOW, PARAMS, KINDS).reason == "report.malformed"


def test_invalid_unknown_device() -> None:
    result = gate_report(_wire(key=DeviceKey("ed25519", bytes(32))), _state(), NOW, PARAMS, KINDS)
    assert result.reason == "device.unknown"


def test_invalid_signature() -> None:
    import cbor2

    env, sig = cbor2.loads(_wire())
    forged = cbor2.dumps([env, sig[:-1] + bytes([sig[-1] ^ 0x80])])
    assert gate_report(forged, _state(), NOW, PARAMS, KINDS).reason == "signature.invalid"


def test_invalid_duplicate_and_replay() -> None:
    wire = _wire(seq=10)
    from opendepin.reports.envelope import decode_report

    report_id = decode_report(wire).report_id
    assert (
        gate_report(wire, _state(stored=frozenset({report_id})), NOW, PARAMS, KINDS).reason
        == "report.duplicate"
    )
    assert gate_report(wire, _state(), NOW, PARAMS, KINDS).reason == "report.replay"


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (-PARAMS.max_past_seconds, "accepted"),
        (-PARAMS.max_past_seconds - 1, "report.stale"),
        (PARAMS.max_future_seconds, "accepted"),
        (PARAMS.max_future_seconds + 1, "report.future"),
    ],
)
def test_timestamp_window_edges(offset: int, reason: str) -> None:
    assert gate_report(_wire(ts=NOW + offset), _state(), NOW, PARAMS, KINDS).reason == reason


def test_invalid_closed_epoch() -> None:
    assert (
        gate_report(_wire(ts=NOW - 10), _state(closed_until=NOW), NOW, PARAMS, KINDS).reason
        == "report.epoch_closed"
    )


def test_invalid_kind_and_schema() -> None:
    assert (
        gate_report(_wire(kind="storage.proof"), _state(), NOW, PARAMS, KINDS).reason == "report.unknown_kind"
    )
    result = gate_report(_wire(payload={"lat": 200, "lon": 0}), _state(), NOW, PARAMS, KINDS)
    assert result.reason == "report.schema_invalid" and "lat" in result.message
