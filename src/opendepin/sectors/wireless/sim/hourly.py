"""Proof-of-coverage traffic of the `depin up` fleet, hour by hour, as signed wire reports.

Each hotspot beacons once per beacon bucket (6 h), in an hour of the bucket drawn from the fleet's seed; a
beacon cites the entropy the node served (`GET /v1/entropy`). Every other hotspot whose radio hears it
reports a witness with what it measured, by the simulator's radio physics (`propagation.py`: log-distance
path loss, static shadowing per link, per-packet fading, per-site offsets, receiver sensitivity, SNR
against the noise floor). Reports are signed with the device keys.

Behaviours (`fleet/behaviours.py`): `gps-spoof` radios stand 6–15 km from their assertion and report
witness RSSI clamped under Helium's free-space bound at the asserted distance; `gps-far` radios stand where
their GPS says (1.5–5 km off) and report what they hear; `lazy` hotspots are up one hour in three;
`clock-skew` and `bad-signature` reports are refused by the ingest gate as their heartbeats are.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cbor2
import h3
import numpy as np

from opendepin.fleet.radio.fleet import GAINS_DBI
from opendepin.fleet.radio.propagation import (
    RadioPhysics,
    compute_fspl_db,
    compute_received_dbm,
    compute_snr_db,
)
from opendepin.fleet.region import REGIONS, offset_point
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.poc.entropy import compute_beacon_data
from opendepin.sectors.wireless.poc.geo import pairs_within
from opendepin.sectors.wireless.poc.reports import BEACON, WITNESS

if TYPE_CHECKING:
    from opendepin.fleet.simulator import Fleet, SimDevice

HOUR = 3_600
BEACON_INTERVAL_S = 21_600
"""One beacon per 6-hour bucket (the network's default `beacon_interval_s`)."""
POC_SEQ_OFFSET_S = 3_100
"""Proof-of-coverage reports take sequence numbers after the hour's heartbeat (sent before second 3 000)."""
EARTH_RADIUS_M = 6_371_008.8
SPOOF_DISTANCE_M = (6_000.0, 15_000.0)
CHANNELS_HZ: dict[str, tuple[int, ...]] = {
    "EU868": tuple(867_100_000 + 200_000 * k for k in range(8)),
    "US915": tuple(903_900_000 + 200_000 * k for k in range(8)),
    "AU915": tuple(916_800_000 + 200_000 * k for k in range(8)),
}
ONLINE_EVERY_HOURS = {"lazy": 3}


def compute_gain_dbi(seed: int, index: int) -> float:
    """The antenna a hotspot carries (its owner states it at onboarding)."""
    return float(GAINS_DBI[random.Random(f"{seed}:antenna:{index}").randrange(len(GAINS_DBI))])


def compute_spoofed_radio(seed: int, index: int, lat: float, lon: float) -> tuple[float, float]:
    """Where a `gps-spoof` hotspot's radio really stands: 6–15 km from the position it reports."""
    rng = random.Random(f"{seed}:spoof:{index}")
    return offset_point(lat, lon, rng.uniform(*SPOOF_DISTANCE_M), rng.uniform(0.0, 360.0))


@dataclass(frozen=True, slots=True)
class FleetRadios:
    """Per hotspot (fleet order): real and asserted positions on a local plane (metres), gain, site
    offset, sensitivity; plus the static shadowing of every pair within radio range."""

    real_xy: np.ndarray
    asserted_xy: np.ndarray
    gain_dbi: np.ndarray
    site_db: np.ndarray
    sensitivity_dbm: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    distance_m: np.ndarray
    shadowing_db: np.ndarray


def _plane(lat: np.ndarray, lon: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Equirectangular metres around `origin` (lat, lon)."""
    y = np.radians(lat - origin[0]) * EARTH_RADIUS_M
    x = np.radians(lon - origin[1]) * EARTH_RADIUS_M * math.cos(math.radians(origin[0]))
    return np.stack([x, y], axis=1)


def build_radios(fleet: Fleet, physics: RadioPhysics) -> FleetRadios:
    """The fleet's radios, deterministic from its seed (same every hour)."""
    seed, devices = fleet.spec.seed, fleet.devices
    region = REGIONS[fleet.spec.region]
    origin = ((region.south + region.north) / 2, (region.west + region.east) / 2)
    real = [
        compute_spoofed_radio(seed, d.index, d.lat, d.lon) if d.behaviour == "gps-spoof" else (d.lat, d.lon)
        for d in devices
    ]
    centres = [h3.cell_to_latlng(d.cell) for d in devices]
    radio = [random.Random(f"{seed}:radio:{d.index}") for d in devices]
    real_xy = _plane(np.array([p[0] for p in real]), np.array([p[1] for p in real]), origin)
    radius = physics.max_range_m(2 * max(GAINS_DBI))
    src, dst = pairs_within(real_xy, radius)
    delta = real_xy[src] - real_xy[dst]
    shadowing = [
        random.Random(f"{seed}:shadow:{min(a, b)}:{max(a, b)}").gauss(0.0, physics.shadowing_sigma_db)
        for a, b in zip(src.tolist(), dst.tolist(), strict=True)
    ]
    return FleetRadios(
        real_xy=real_xy,
        asserted_xy=_plane(np.array([c[0] for c in centres]), np.array([c[1] for c in centres]), origin),
        gain_dbi=np.array([compute_gain_dbi(seed, d.index) for d in devices]),
        site_db=np.array([r.gauss(0.0, physics.site_sigma_db) for r in radio]),
        sensitivity_dbm=np.array(
            [r.gauss(physics.sensitivity_dbm, physics.sensitivity_sigma_db) for r in radio]
        ),
        src=src,
        dst=dst,
        distance_m=np.sqrt((delta * delta).sum(axis=1)),
        shadowing_db=np.array(shadowing),
    )


def is_online(device: SimDevice, hour_ts: int) -> bool:
    """A lazy hotspot is up one hour in three (as for its heartbeats); others always."""
    every = ONLINE_EVERY_HOURS.get(device.behaviour, 1)
    return (hour_ts // HOUR) % every == 0


def is_beacon_hour(seed: int, index: int, hour_ts: int, interval_s: int = BEACON_INTERVAL_S) -> bool:
    """Each hotspot beacons in one hour of every beacon bucket, drawn from the seed."""
    bucket, offset = divmod(hour_ts, interval_s)
    slot = random.Random(f"{seed}:beacon:{index}:{bucket}").randrange(max(1, interval_s // HOUR))
    return offset // HOUR == slot


@dataclass(slots=True)
class PendingReport:
    """An unsigned report of one device in the hour (signed once all of its reports are known)."""

    device: int
    ts: int
    kind: str
    payload: dict[str, Any]


def claimed_rssi(
    radios: FleetRadios,
    beaconer: int,
    witness: int,
    true_rssi: float,
    frequency_hz: int,
    tx_power_dbm: float,
    spoofer: bool,
) -> float:
    """What a witness reports: the RSSI measured, or (GPS spoofer) clamped 1 dB under the free-space bound
    of the asserted distance, so Helium's RSSI rule passes it."""
    if not spoofer:
        return true_rssi
    delta = radios.asserted_xy[beaconer] - radios.asserted_xy[witness]
    distance = float(np.sqrt((delta * delta).sum()))
    gains = float(radios.gain_dbi[beaconer] + radios.gain_dbi[witness])
    bound = tx_power_dbm + gains - float(compute_fspl_db(np.array([distance]), frequency_hz)[0]) - 1.0
    return min(true_rssi, bound)


def plan_hour(
    fleet: Fleet,
    radios: FleetRadios,
    hour_ts: int,
    entropy: Mapping[str, Any],
    physics: RadioPhysics,
    interval_s: int = BEACON_INTERVAL_S,
) -> list[PendingReport]:
    """This hour's beacons and the witnesses who hear them, at the end of the hour (after `entropy`)."""
    seed, devices = fleet.spec.seed, fleet.devices
    rng = random.Random(f"{seed}:poc:{hour_ts}")
    channels = CHANNELS_HZ.get(REGIONS[fleet.spec.region].lora_plan, CHANNELS_HZ["EU868"])
    plan = REGIONS[fleet.spec.region].lora_plan
    entropy_value, entropy_ts = str(entropy["value"]), int(entropy["timestamp"])
    reports: list[PendingReport] = []
    for k, device in enumerate(devices):
        if not (is_online(device, hour_ts) and is_beacon_hour(seed, device.index, hour_ts, interval_s)):
            continue
        at = entropy_ts + rng.randrange(0, 50)
        tx_ms = at * 1_000 + rng.randrange(0, 1_000)
        local = rng.randbytes(8).hex()
        frequency = channels[rng.randrange(len(channels))]
        data = compute_beacon_data(entropy_value, local, plan, frequency)
        beacon = {
            "entropy": entropy_value,
            "local_entropy": local,
            "region": plan,
            "frequency_hz": frequency,
            "tx_power_dbm": physics.tx_power_dbm,
            "tx_ms": tx_ms,
            "data": data,
        }
        reports.append(PendingReport(k, at, BEACON, beacon))
        rows = np.flatnonzero(radios.src == k)
        listeners = radios.dst[rows]
        received = compute_received_dbm(
            np.full(len(rows), physics.tx_power_dbm),
            radios.gain_dbi[k] + radios.gain_dbi[listeners],
            radios.site_db[k] + radios.site_db[listeners],
            radios.distance_m[rows],
            radios.shadowing_db[rows],
            np.array([rng.gauss(0.0, physics.fading_sigma_db) for _ in rows]),
            physics,
        )
        for w, rssi in zip(listeners.tolist(), received.tolist(), strict=True):
            if rssi < radios.sensitivity_dbm[w] or not is_online(devices[w], hour_ts):
                continue
            spoofer = devices[w].behaviour == "gps-spoof"
            reported = claimed_rssi(radios, k, w, rssi, frequency, physics.tx_power_dbm, spoofer)
            snr = float(compute_snr_db(np.array([rssi]), physics)[0])
            witness = {
                "beaconer": fleet.key_of(device).device_id,
                "entropy": entropy_value,
                "data": data,
                "region": plan,
                "frequency_hz": frequency + round(rng.gauss(0.0, 3_000.0)),
                "rssi_dbm": round(reported, 1),
                "snr_db": round(snr, 1),
                "rx_ms": tx_ms + int(abs(rng.gauss(0.0, physics.clock_jitter_ms))),
            }
            reports.append(PendingReport(w, at, WITNESS, witness))
    return reports


def flip_signature_byte(wire: bytes, rng: random.Random) -> bytes:
    """The same report with one bit of its signature flipped (the gate must refuse it)."""
    envelope, signature = cbor2.loads(wire)
    flipped = bytearray(signature)
    flipped[rng.randrange(len(flipped))] ^= 0x01
    return bytes(cbor2.dumps([envelope, bytes(flipped)]))


def sign_hour(fleet: Fleet, reports: list[PendingReport], hour_ts: int) -> list[bytes]:
    """Sign each device's reports in time order with sequence numbers after its heartbeat of the hour."""
    seq: dict[int, int] = {}
    wires: list[bytes] = []
    skew = random.Random(f"{fleet.spec.seed}:poc-skew:{hour_ts}")
    for report in sorted(reports, key=lambda r: (r.ts, r.device, r.kind)):
        device = fleet.devices[report.device]
        number = seq.get(report.device, (hour_ts + POC_SEQ_OFFSET_S) * 16)
        seq[report.device] = number + 1
        ts = report.ts
        if device.behaviour == "clock-skew" and (hour_ts // HOUR) % 2 == 0:
            ts += skew.choice((-2, 2)) * 7_200
        wire = sign_report(fleet.key_of(device), report.kind, ts, number, report.payload).to_wire()
        if device.behaviour == "bad-signature":
            wire = flip_signature_byte(wire, skew)
        wires.append(wire)
    return wires


def poc_wires_for_hour(
    fleet: Fleet,
    hour_ts: int,
    entropy: Mapping[str, Any],
    physics: RadioPhysics | None = None,
    interval_s: int = BEACON_INTERVAL_S,
) -> list[bytes]:
    """Signed beacons and witnesses of the hour starting at `hour_ts`, citing `entropy` (as served by
    `GET /v1/entropy` at the end of the hour, when the hour's reports are sent)."""
    physics = physics or RadioPhysics()
    radios = build_radios(fleet, physics)
    return sign_hour(fleet, plan_hour(fleet, radios, hour_ts, entropy, physics, interval_s), hour_ts)
