"""Beacon checks of Helium's published rules (docs/wireless-poc.md), in order; each failure is a stable reason
code with evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opendepin.sectors.base import OK, DeviceInfo
from opendepin.sectors.wireless.poc.entropy import compute_beacon_data, is_entropy_fresh
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import BeaconPayload

Evidence = dict[str, Any]


def is_known_gateway(device_id: str, devices: Mapping[str, DeviceInfo]) -> bool:
    """The beaconer is in the device registry (Helium rule: unknown gateway)."""
    return device_id in devices


def is_location_asserted(device: DeviceInfo) -> bool:
    """The device has asserted an H3 location (Helium rule: location not asserted)."""
    return device.location is not None


def is_denylisted(device_id: str, params: PocParams) -> bool:
    """The device is on the network's denylist (Helium rule: denylisted)."""
    return device_id in params.denylist


def get_mode(device: DeviceInfo, params: PocParams) -> str:
    """The device's hotspot mode (`attributes.mode`, default `params.default_mode`)."""
    return str(device.attributes.get("mode", params.default_mode))


def is_full_hotspot(device: DeviceInfo, params: PocParams) -> bool:
    """Only full hotspots take part in proof of coverage (Helium rule: not a full hotspot)."""
    return get_mode(device, params) in params.full_hotspot_modes


def compute_beacon_bucket(ts: int, interval_s: int) -> int:
    """Index of the beacon schedule bucket of `ts` (Helium rule: one beacon per bucket, default 6 h)."""
    return ts // interval_s


def is_beacon_payload_valid(payload: BeaconPayload) -> bool:
    """The transmitted data equals the payload regenerated from the entropies and region (Helium rule)."""
    expected = compute_beacon_data(
        payload.entropy, payload.local_entropy, payload.region, payload.frequency_hz
    )
    return expected == payload.data


def check_beacon_device(
    device_id: str, devices: Mapping[str, DeviceInfo], params: PocParams
) -> tuple[str, Evidence]:
    """Device-level beacon checks: unknown gateway, location not asserted, denylisted, not full hotspot."""
    if not is_known_gateway(device_id, devices):
        return "beacon.unknown_gateway", {"device": device_id}
    device = devices[device_id]
    if not is_location_asserted(device):
        return "beacon.location_not_asserted", {"hint": "assert a location for the hotspot"}
    if is_denylisted(device_id, params):
        return "beacon.denylisted", {"device": device_id}
    return OK, {}


def check_beacon(
    payload: BeaconPayload,
    received_at: int,
    entropy_ts: int | None,
    already_beaconed: bool,
    device: DeviceInfo,
    params: PocParams,
) -> tuple[str, Evidence]:
    """Payload-level beacon checks after the device checks: entropy, mode, schedule, payload, in order."""
    if entropy_ts is None:
        return "beacon.entropy_unknown", {"entropy": payload.entropy}
    age = received_at - entropy_ts
    if not is_entropy_fresh(entropy_ts, received_at, params.entropy_lifespan_s):
        return "beacon.entropy_expired", {"entropy_age_s": age, "lifespan_s": params.entropy_lifespan_s}
    if not is_full_hotspot(device, params):
        return "beacon.not_full_hotspot", {
            "mode": get_mode(device, params),
            "allowed": params.full_hotspot_modes,
        }
    bucket = compute_beacon_bucket(received_at, params.beacon_interval_s)
    if already_beaconed:
        return "beacon.too_frequent", {"bucket": bucket, "interval_s": params.beacon_interval_s}
    if payload.region not in params.regions:
        return "beacon.unknown_region", {"region": payload.region, "allowed": params.regions}
    if not is_beacon_payload_valid(payload):
        return "beacon.payload_mismatch", {"data": payload.data[:16]}
    return OK, {"entropy_age_s": age, "bucket": bucket}
