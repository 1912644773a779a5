"""Proof-of-coverage traffic of the `depin up` fleet, hour by hour, as unsigned reports.

Each hotspot beacons once per beacon bucket (`beacon_interval_s`, 6 h by default), in an hour of the
bucket drawn from the fleet's seed; a beacon cites the entropy the node served (the wireless entropy
route, read at the end of the hour when the hour's reports are sent). Every other hotspot whose radio
hears it reports a witness with what it measured, by the simulator's radio physics (`propagation.py`:
log-distance path loss, static shadowing per link, per-packet fading, per-site offsets, receiver
sensitivity, SNR against the noise floor). The fleet signs the reports and applies the generic
misbehaviours (bad signatures, skewed clocks, ...); hotspots that are down in the hour are not handed in,
so they neither beacon nor witness.

Behaviours (`heartbeats.py`): `gps-spoof` radios stand 6–15 km from their assertion and report witness
RSSI clamped under Helium's free-space bound at the asserted distance; `gps-far` radios stand where their
GPS says (1.5–5 km off) and report what they hear.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np

from opendepin.sectors.base import SimDevice, SimReport
from opendepin.sectors.wireless.poc.entropy import compute_beacon_data
from opendepin.sectors.wireless.poc.geo import pairs_within
from opendepin.sectors.wireless.poc.reports import BEACON, WITNESS
from opendepin.sectors.wireless.sim.heartbeats import GPS_SPOOF, HOUR, compute_radio_position
from opendepin.sectors.wireless.sim.onboarding import GAINS_DBI, compute_frequency_plan, compute_gain_dbi
from opendepin.sectors.wireless.sim.propagation import (
    RadioPhysics,
    compute_fspl_db,
    compute_received_dbm,
    compute_snr_db,
)

BEACON_INTERVAL_S = 21_600
"""One beacon per 6-hour bucket (the network's default `beacon_interval_s`)."""
EARTH_RADIUS_M = 6_371_008.8
CHANNELS_HZ: dict[str, tuple[int, ...]] = {
    "EU868": tuple(867_100_000 + 200_000 * k for k in range(8)),
    "US915": tuple(903_900_000 + 200_000 * k for k in range(8)),
    "AU915": tuple(916_800_000 + 200_000 * k for k in range(8)),
}


@dataclass(frozen=True, slots=True)
class FleetRadios:
    """Per hotspot (in the order handed in): real and asserted positions on a local plane (metres), gain,
    site offset, sensitivity, frequency plan; plus the static shadowing of every pair within radio range."""

    real_xy: np.ndarray
    asserted_xy: np.ndarray
    gain_dbi: np.ndarray
    site_db: np.ndarray
    sensitivity_dbm: np.ndarray
    plans: tuple[str, ...]
    src: np.ndarray
    dst: np.ndarray
    distance_m: np.ndarray
    shadowing_db: np.ndarray


def _plane(lat: np.ndarray, lon: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Equirectangular metres around `origin` (lat, lon)."""
    y = np.radians(lat - origin[0]) * EARTH_RADIUS_M
    x = np.radians(lon - origin[1]) * EARTH_RADIUS_M * math.cos(math.radians(origin[0]))
    return np.stack([x, y], axis=1)


def build_radios(devices: Sequence[SimDevice], physics: RadioPhysics) -> FleetRadios:
    """The hotspots' radios, each drawn from the seed and its index (the same every hour); the plane is
    centred on the hotspots' mean position."""
    real = [compute_radio_position(d) for d in devices]
    centres = [h3.cell_to_latlng(d.cell) for d in devices]
    origin = (
        (sum(d.lat for d in devices) / len(devices), sum(d.lon for d in devices) / len(devices))
        if devices
        else (0.0, 0.0)
    )
    radio = [random.Random(f"{d.seed}:radio:{d.index}") for d in devices]
    real_xy = _plane(np.array([p[0] for p in real]), np.array([p[1] for p in real]), origin).reshape(-1, 2)
    radius = physics.max_range_m(2 * max(GAINS_DBI))
    src, dst = pairs_within(real_xy, radius)
    delta = real_xy[src] - real_xy[dst]
    ids = [d.index for d in devices]
    shadowing = [
        random.Random(f"{devices[a].seed}:shadow:{min(ids[a], ids[b])}:{max(ids[a], ids[b])}").gauss(
            0.0, physics.shadowing_sigma_db
        )
        for a, b in zip(src.tolist(), dst.tolist(), strict=True)
    ]
    asserted = _plane(np.array([c[0] for c in centres]), np.array([c[1] for c in centres]), origin)
    return FleetRadios(
        real_xy=real_xy,
        asserted_xy=asserted.reshape(-1, 2),
        gain_dbi=np.array([compute_gain_dbi(d.seed, d.index) for d in devices]),
        site_db=np.array([r.gauss(0.0, physics.site_sigma_db) for r in radio]),
        sensitivity_dbm=np.array(
            [r.gauss(physics.sensitivity_dbm, physics.sensitivity_sigma_db) for r in radio]
        ),
        plans=tuple(compute_frequency_plan(d.lat, d.lon) for d in devices),
        src=src,
        dst=dst,
        distance_m=np.sqrt((delta * delta).sum(axis=1)),
        shadowing_db=np.array(shadowing),
    )


def is_beacon_hour(seed: int, index: int, hour_ts: int, interval_s: int = BEACON_INTERVAL_S) -> bool:
    """Each hotspot beacons in one hour of every beacon bucket, drawn from the seed."""
    bucket, offset = divmod(hour_ts, interval_s)
    slot = random.Random(f"{seed}:beacon:{index}:{bucket}").randrange(max(1, interval_s // HOUR))
    return offset // HOUR == slot


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
    devices: Sequence[SimDevice],
    radios: FleetRadios,
    hour_ts: int,
    entropy: Mapping[str, Any],
    physics: RadioPhysics,
    interval_s: int = BEACON_INTERVAL_S,
) -> list[SimReport]:
    """This hour's beacons and the witnesses who hear them, at the end of the hour (after `entropy`)."""
    if not devices:
        return []
    rng = random.Random(f"{devices[0].seed}:poc:{hour_ts}")
    entropy_value, entropy_ts = str(entropy["value"]), int(entropy["timestamp"])
    reports: list[SimReport] = []
    for k, device in enumerate(devices):
        if not is_beacon_hour(device.seed, device.index, hour_ts, interval_s):
            continue
        plan = radios.plans[k]
        channels = CHANNELS_HZ.get(plan, CHANNELS_HZ["EU868"])
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
        reports.append(SimReport(device.index, BEACON, at, beacon))
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
            if rssi < radios.sensitivity_dbm[w]:
                continue
            spoofer = devices[w].behaviour == GPS_SPOOF
            reported = claimed_rssi(radios, k, w, rssi, frequency, physics.tx_power_dbm, spoofer)
            snr = float(compute_snr_db(np.array([rssi]), physics)[0])
            witness = {
                "beaconer": device.device_id,
                "entropy": entropy_value,
                "data": data,
                "region": plan,
                "frequency_hz": frequency + round(rng.gauss(0.0, 3_000.0)),
                "rssi_dbm": round(reported, 1),
                "snr_db": round(snr, 1),
                "rx_ms": tx_ms + int(abs(rng.gauss(0.0, physics.clock_jitter_ms))),
            }
            reports.append(SimReport(devices[w].index, WITNESS, at, witness))
    return reports


def poc_reports_for_hour(
    devices: Sequence[SimDevice],
    hour_ts: int,
    entropy: Mapping[str, Any],
    physics: RadioPhysics | None = None,
    interval_s: int = BEACON_INTERVAL_S,
) -> list[SimReport]:
    """Beacons and witnesses of the hour starting at `hour_ts` among `devices` (the hotspots up in that
    hour), citing `entropy` (`{"value", "timestamp"}`, as the wireless entropy route serves it)."""
    physics = physics or RadioPhysics()
    return plan_hour(devices, build_radios(devices, physics), hour_ts, entropy, physics, interval_s)
