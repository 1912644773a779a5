"""Heartbeats and speed tests of the `depin up` fleet's hotspots, hour by hour, as unsigned reports.

Each hotspot sends one heartbeat an hour (at a second of the hour drawn from the seed) with its GPS
position jittered by a few tens of metres, and a speed test every SPEEDTEST_EVERY_HOURS hours around its
link's speeds. Where a hotspot really stands follows its behaviour:

- `gps-far`: it stands 1.5–5 km from its assertion and its GPS says so (`heartbeat.location_too_far`);
- `gps-spoof`: its radio stands 6–15 km away while its GPS reports the asserted position (only proof of
  coverage can catch it);
- anyone else stands where the fleet placed it, in its asserted cell.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from opendepin.geo import offset_point
from opendepin.sectors.base import SimDevice, SimReport
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST

HOUR = 3_600
GPS_FAR = "gps-far"
GPS_SPOOF = "gps-spoof"
FAR_DISTANCE_M = (1_500.0, 5_000.0)
SPOOF_DISTANCE_M = (6_000.0, 15_000.0)
SPEEDTEST_EVERY_HOURS = 4
HEARTBEAT_SECONDS = (60, 3_000)
"""A heartbeat leaves in [60 s, 3 000 s) of its hour."""
GPS_JITTER_M = 25.0


@dataclass(frozen=True, slots=True)
class LinkSpeeds:
    """The backhaul a hotspot's speed tests measure around."""

    download_mbps: float
    upload_mbps: float
    latency_ms: float


def compute_far_position(seed: int, index: int, lat: float, lon: float) -> tuple[float, float]:
    """Where a `gps-far` hotspot stands: 1.5–5 km from where it was placed (and asserted)."""
    rng = random.Random(f"{seed}:gps-far:{index}")
    return offset_point(lat, lon, rng.uniform(*FAR_DISTANCE_M), rng.uniform(0.0, 360.0))


def compute_spoofed_radio(seed: int, index: int, lat: float, lon: float) -> tuple[float, float]:
    """Where a `gps-spoof` hotspot's radio really stands: 6–15 km from the position it reports."""
    rng = random.Random(f"{seed}:spoof:{index}")
    return offset_point(lat, lon, rng.uniform(*SPOOF_DISTANCE_M), rng.uniform(0.0, 360.0))


def compute_radio_position(device: SimDevice) -> tuple[float, float]:
    """Where the hotspot's radio transmits and hears from (see the module docstring)."""
    if device.behaviour == GPS_FAR:
        return compute_far_position(device.seed, device.index, device.lat, device.lon)
    if device.behaviour == GPS_SPOOF:
        return compute_spoofed_radio(device.seed, device.index, device.lat, device.lon)
    return device.lat, device.lon


def compute_gps_position(device: SimDevice) -> tuple[float, float]:
    """What the hotspot's GPS reports: the truth, except a spoofer's, which reports where it was placed."""
    if device.behaviour == GPS_SPOOF:
        return device.lat, device.lon
    return compute_radio_position(device)


def compute_link_speeds(seed: int, index: int) -> LinkSpeeds:
    """Hotspot `index`'s backhaul: 60–400 Mbit/s down, 6–40 up, 12–70 ms latency."""
    rng = random.Random(f"{seed}:link:{index}")
    return LinkSpeeds(rng.uniform(60, 400), rng.uniform(6, 40), rng.uniform(12, 70))


def heartbeat_reports(device: SimDevice, hour_ts: int) -> list[SimReport]:
    """The hotspot's heartbeat of the hour and, every SPEEDTEST_EVERY_HOURS hours, a speed test."""
    rng = random.Random(f"{device.seed}:{device.index}:{hour_ts}")
    ts = hour_ts + rng.randrange(*HEARTBEAT_SECONDS)
    lat, lon = compute_gps_position(device)
    lat, lon = offset_point(lat, lon, abs(rng.gauss(0, GPS_JITTER_M)), rng.uniform(0, 360))
    reports = [SimReport(device.index, HEARTBEAT, ts, {"lat": round(lat, 7), "lon": round(lon, 7)})]
    if (hour_ts // HOUR) % SPEEDTEST_EVERY_HOURS == 0:
        link = compute_link_speeds(device.seed, device.index)
        test = {
            "download_mbps": round(max(0.0, rng.gauss(link.download_mbps, 5)), 2),
            "upload_mbps": round(max(0.0, rng.gauss(link.upload_mbps, 1)), 2),
            "latency_ms": round(max(1.0, rng.gauss(link.latency_ms, 3)), 2),
        }
        reports.append(SimReport(device.index, SPEEDTEST, ts, test))
    return reports
