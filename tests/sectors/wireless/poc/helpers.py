"""Builders of small, exact proof-of-coverage epochs for the rule tests."""

from __future__ import annotations

import math
from typing import Any

import h3

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.wireless.poc.entropy import compute_beacon_data, compute_entropy
from opendepin.sectors.wireless.poc.reports import BEACON, WITNESS, BeaconPayload, WitnessPayload
from opendepin.sectors.wireless.poc.rules_witness import BeaconContext

BLOCK = "0x" + "ab" * 32
T0 = 1_767_225_600 + 3_600
ORIGIN = (37.5, -122.0)
FREQ = 904_300_000


def cell_at(north_m: float, east_m: float = 0.0, res: int = 12) -> str:
    """The resolution-`res` cell `north_m` metres north and `east_m` east of the origin."""
    lat = ORIGIN[0] + math.degrees(north_m / 6_371_008.8)
    lng = ORIGIN[1] + math.degrees(east_m / (6_371_008.8 * math.cos(math.radians(ORIGIN[0]))))
    return h3.latlng_to_cell(lat, lng, res)


def device(device_id: str, location: str | None, owner: str | None = None, **attributes: Any) -> DeviceInfo:
    return DeviceInfo(
        device_id,
        owner or f"owner-{device_id}",
        "maker",
        "ed25519",
        location,
        0,
        {"gain_dbi": 3.0, **attributes},
    )


def entropy_at(ts: int) -> tuple[str, int]:
    minute = ts - ts % 60
    return compute_entropy(BLOCK, minute), minute


def beacon_payload(ts: int = T0, local: str = "0102030405060708", **changes: Any) -> BeaconPayload:
    entropy, _ = entropy_at(ts)
    fields: dict[str, Any] = {
        "entropy": entropy,
        "local_entropy": local,
        "region": "US915",
        "frequency_hz": FREQ,
        "tx_power_dbm": 27.0,
        "tx_ms": ts * 1000,
    }
    fields["data"] = compute_beacon_data(entropy, local, "US915", FREQ)
    fields.update(changes)
    return BeaconPayload.model_validate(fields)


def witness_payload(beacon: BeaconPayload, beaconer: str = "b", **changes: Any) -> WitnessPayload:
    fields: dict[str, Any] = {
        "beaconer": beaconer,
        "entropy": beacon.entropy,
        "data": beacon.data,
        "region": beacon.region,
        "frequency_hz": beacon.frequency_hz,
        "rssi_dbm": -100.0,
        "snr_db": 5.0,
        "rx_ms": beacon.tx_ms + 2,
    }
    fields.update(changes)
    return WitnessPayload.model_validate(fields)


def context(beaconer: DeviceInfo, payload: BeaconPayload, first_rx_ms: int | None = None) -> BeaconContext:
    return BeaconContext(beaconer, payload, payload.tx_ms if first_rx_ms is None else first_rx_ms)


def record(report_id: str, kind: str, device_id: str, received_at: int, payload: Any) -> ReportRecord:
    data = payload.model_dump() if hasattr(payload, "model_dump") else dict(payload)
    return ReportRecord(report_id, kind, device_id, received_at - 1, 1, data, received_at)


__all__ = ["BEACON", "WITNESS"]
