"""Every report kind's payload is validated strictly by the gate: no text, boolean or bytes becomes a
number, an integer field takes only integers, a float field takes integers and floats (issue 11, "lax
types in signed reports")."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from opendepin.config import IngestConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.gate import GateState, check_payload, gate_report
from opendepin.reports.envelope import sign_report
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.wireless.poc.reports import BEACON, POC_REPORT_KINDS, WITNESS
from opendepin.sectors.wireless.reports import (
    HEARTBEAT,
    SPEEDTEST,
    HeartbeatPayload,
    SpeedtestPayload,
)

KINDS: dict[str, type[BaseModel]] = {
    HEARTBEAT: HeartbeatPayload,
    SPEEDTEST: SpeedtestPayload,
    **POC_REPORT_KINDS,
}
VALID: dict[str, dict[str, Any]] = {
    HEARTBEAT: {"lat": 52.5, "lon": 13.4},
    SPEEDTEST: {"download_mbps": 100.0, "upload_mbps": 20.0, "latency_ms": 15.0},
    BEACON: {
        "entropy": "ab" * 16,
        "local_entropy": "cd" * 16,
        "region": "EU868",
        "frequency_hz": 868_100_000,
        "tx_power_dbm": 14.0,
        "tx_ms": 1_800_000_000_000,
        "data": "ef" * 8,
    },
    WITNESS: {
        "beaconer": "ed25519:" + "00" * 32,
        "entropy": "ab" * 16,
        "data": "ef" * 8,
        "region": "EU868",
        "frequency_hz": 868_100_000,
        "rssi_dbm": -90.0,
        "snr_db": 5.0,
        "rx_ms": 1_800_000_000_000,
    },
}
KEY = DeviceKey("ed25519", bytes(range(32)))
DEVICE = DeviceInfo(KEY.device_id, "0x" + "11" * 20, "0x" + "22" * 20, "ed25519", "8c1f1d48945d9ff", 0)
NOW = 1_800_000_000


def _numeric_fields() -> list[tuple[str, str, Any]]:
    return [
        (kind, name, value)
        for kind, payload in VALID.items()
        for name, value in payload.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    ]


def test_every_kind_is_covered_and_its_sample_is_valid() -> None:
    assert set(VALID) == set(KINDS)
    for kind, payload in VALID.items():
        assert check_payload(kind, payload, KINDS) is None, kind


@pytest.mark.parametrize(("kind", "field", "value"), _numeric_fields())
@pytest.mark.parametrize("as_lax", [lambda v: str(v), lambda v: True, lambda v: str(v).encode()])
def test_no_text_boolean_or_bytes_becomes_a_number(kind: str, field: str, value: Any, as_lax: Any) -> None:
    payload = {**VALID[kind], field: as_lax(value)}
    assert check_payload(kind, payload, KINDS) is not None


@pytest.mark.parametrize(("kind", "field", "value"), _numeric_fields())
def test_integer_fields_take_integers_float_fields_take_both(kind: str, field: str, value: Any) -> None:
    if isinstance(value, int):
        assert check_payload(kind, {**VALID[kind], field: float(value)}, KINDS) is not None
    else:
        assert check_payload(kind, {**VALID[kind], field: int(value)}, KINDS) is None


@pytest.mark.parametrize("lat", ["52.5", True, b"52.5"])
def test_gate_refuses_lax_latitude(lat: object) -> None:
    """The reproduced finding: `lat` as text, as `true` or as bytes was accepted."""
    state = GateState({DEVICE.device_id: DEVICE}, {}, frozenset(), 0)
    wire = sign_report(KEY, HEARTBEAT, NOW, 1, {"lat": lat, "lon": 13.4}).to_wire()
    result = gate_report(wire, state, NOW, IngestConfig(), KINDS)
    assert result.reason == "report.schema_invalid" and "lat" in result.message
    assert result.authenticated  # the device signed it: counted against the device


def test_gate_accepts_an_integer_latitude() -> None:
    state = GateState({DEVICE.device_id: DEVICE}, {}, frozenset(), 0)
    wire = sign_report(KEY, HEARTBEAT, NOW, 1, {"lat": 52, "lon": 13}).to_wire()
    assert gate_report(wire, state, NOW, IngestConfig(), KINDS).accepted
