"""Witness checks of Helium's published proof-of-coverage rules (docs/wireless-poc.md, "Per-report rules");
each failure is a stable reason code with its numbers. Distances and path losses that decide a verdict are
computed deterministically (quantised cell centres, `opendepin.detmath`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from opendepin import detmath
from opendepin.sectors.base import OK, DeviceInfo
from opendepin.sectors.wireless.poc.entropy import is_entropy_fresh
from opendepin.sectors.wireless.poc.geo import (
    compute_cell_distance,
    compute_cell_distance_m,
    compute_cell_distances_m,
)
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import BeaconPayload, WitnessPayload

SPEED_OF_LIGHT = 2.998e8
FloatArray = npt.NDArray[np.float64]
Evidence = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BeaconContext:
    """What a witness is checked against: the valid beacon it cites and its transmitter."""

    beaconer: DeviceInfo
    payload: BeaconPayload
    first_rx_ms: int


@overload
def compute_fspl_db(distance_m: float, frequency_hz: float) -> float: ...
@overload
def compute_fspl_db(distance_m: FloatArray, frequency_hz: float | FloatArray) -> FloatArray: ...
def compute_fspl_db(distance_m: float | FloatArray, frequency_hz: float | FloatArray) -> float | FloatArray:
    """Free-space path loss 20·log10(4π·d·f/c) in dB, d at least 1 m (Helium rule: RSSI plausibility);
    floats or arrays, the same bits either way."""
    floor = np.maximum(distance_m, 1.0) if isinstance(distance_m, np.ndarray) else max(distance_m, 1.0)
    return 20 * detmath.log10(4 * math.pi * floor * frequency_hz / SPEED_OF_LIGHT)


@dataclass(frozen=True, slots=True)
class LinkGeometry:
    """Distance between the two asserted cells' centres and the free-space loss at the beacon's frequency."""

    distance_m: float
    fspl_db: float


def compute_link_geometry(witness_cell: str, beaconer_cell: str, frequency_hz: int) -> LinkGeometry:
    """The geometry of one witness link (see `compute_link_geometries` for many at once)."""
    distance = compute_cell_distance_m(witness_cell, beaconer_cell)
    return LinkGeometry(distance, compute_fspl_db(distance, frequency_hz))


@dataclass(frozen=True, slots=True)
class LinkGeometries:
    """The geometry of many witness links, computed in one batch: row of each key, distances, losses."""

    rows: dict[str, int]
    distance_m: list[float]
    fspl_db: list[float]

    def get(self, key: str) -> LinkGeometry | None:
        row = self.rows.get(key)
        return None if row is None else LinkGeometry(self.distance_m[row], self.fspl_db[row])


def compute_link_geometries(
    links: Sequence[tuple[str, str, int]], keys: Sequence[str] | None = None
) -> LinkGeometries:
    """`compute_link_geometry` of many (witness cell, beaconer cell, frequency) at once, vectorised and
    bit-identical to one at a time; `keys` name the links (default: their positions as text)."""
    distances = compute_cell_distances_m([(w, b) for w, b, _ in links])
    frequencies = np.array([f for _, _, f in links], dtype=np.float64)
    losses = compute_fspl_db(distances, frequencies)
    names = keys if keys is not None else [str(k) for k in range(len(links))]
    return LinkGeometries({key: row for row, key in enumerate(names)}, distances.tolist(), losses.tolist())


def get_gain_dbi(device: DeviceInfo, params: PocParams) -> float:
    """Antenna gain asserted for the device (`attributes.gain_dbi`), else the network default."""
    return float(device.attributes.get("gain_dbi", params.default_gain_dbi))


def compute_max_rssi_dbm(
    tx_power_dbm: float, gain_tx_dbi: float, gain_rx_dbi: float, fspl_db: float
) -> float:
    """Strongest physically possible RSSI: tx power + both gains − FSPL (Helium rule: RSSI plausibility)."""
    return tx_power_dbm + gain_tx_dbi - fspl_db + gain_rx_dbi


def is_rssi_plausible(rssi_dbm: float, max_rssi_dbm: float) -> bool:
    """Invalid if RSSI > tx_power + gain_beaconer − FSPL + gain_witness (Helium rule)."""
    return rssi_dbm <= max_rssi_dbm


def is_too_close(cell_distance: int, params: PocParams) -> bool:
    """Fewer than `min_witness_distance_cells` cells apart at resolution 11 (Helium rule: too close)."""
    return cell_distance < params.min_witness_distance_cells


def is_too_far(distance_m: float, params: PocParams) -> bool:
    """Over `max_witness_distance_m` between cell centres (Helium rule: too far, 100 km)."""
    return distance_m > params.max_witness_distance_m


def is_too_late(lag_ms: int, lag_after_first_ms: int, params: PocParams) -> bool:
    """More than 4000 ms after the beacon, or 1500 ms after the first witness (Helium rule: too late)."""
    return lag_ms > params.max_witness_lag_ms or lag_after_first_ms > params.max_lag_after_first_ms


def is_frequency_close(offset_hz: int, params: PocParams) -> bool:
    """Within `max_frequency_offset_hz` of the beacon's frequency (Helium rule: 100 kHz)."""
    return abs(offset_hz) <= params.max_frequency_offset_hz


def is_edge_denied(beaconer: str, witness: str, params: PocParams) -> bool:
    """The network denied witnesses of `beaconer` by `witness` (Helium rule: denied beaconer–witness edge)."""
    return (beaconer, witness) in params.denied_edges


def check_witness_device(
    witness_id: str, beaconer_id: str, devices: Mapping[str, DeviceInfo], params: PocParams
) -> tuple[str, Evidence]:
    """Device-level witness checks: unknown, not asserted, denylisted, denied edge, self-witness."""
    if witness_id not in devices:
        return "witness.unknown_gateway", {"device": witness_id}
    if devices[witness_id].location is None:
        return "witness.location_not_asserted", {"hint": "assert a location for the hotspot"}
    if witness_id in params.denylist:
        return "witness.denylisted", {"device": witness_id}
    if is_edge_denied(beaconer_id, witness_id, params):
        return "witness.denied_edge", {"beaconer": beaconer_id}
    if witness_id == beaconer_id:
        return "witness.self_witness", {"beaconer": beaconer_id}
    return OK, {}


def check_witness(
    payload: WitnessPayload,
    received_at: int,
    entropy_ts: int,
    witness: DeviceInfo,
    beacon: BeaconContext,
    params: PocParams,
    link: LinkGeometry | None = None,
) -> tuple[str, Evidence]:
    """Report-level witness checks against its beacon, in Helium's order; evidence carries every number.

    `link` is the link's geometry when the caller computed it in a batch (`compute_link_geometries`)."""
    if not is_entropy_fresh(entropy_ts, received_at, params.entropy_lifespan_s):
        return "witness.entropy_expired", {
            "entropy_age_s": received_at - entropy_ts,
            "lifespan_s": params.entropy_lifespan_s,
        }
    lag = payload.rx_ms - beacon.payload.tx_ms
    after_first = payload.rx_ms - beacon.first_rx_ms
    timing = {"lag_ms": lag, "lag_after_first_ms": after_first}
    if is_too_late(lag, after_first, params):
        return "witness.too_late", {
            **timing,
            "max_lag_ms": params.max_witness_lag_ms,
            "max_after_first_ms": params.max_lag_after_first_ms,
        }
    if payload.data != beacon.payload.data:
        return "witness.payload_mismatch", {"heard": payload.data[:16], "sent": beacon.payload.data[:16]}
    offset = payload.frequency_hz - beacon.payload.frequency_hz
    if not is_frequency_close(offset, params):
        return "witness.frequency_offset", {
            "offset_hz": offset,
            "max_offset_hz": params.max_frequency_offset_hz,
        }
    if payload.region != beacon.payload.region:
        return "witness.wrong_region", {
            "witness_region": payload.region,
            "beacon_region": beacon.payload.region,
        }
    assert witness.location is not None and beacon.beaconer.location is not None
    cells = compute_cell_distance(
        witness.location, beacon.beaconer.location, params.witness_distance_resolution
    )
    if link is None:
        link = compute_link_geometry(witness.location, beacon.beaconer.location, beacon.payload.frequency_hz)
    distance = link.distance_m
    geometry = {"distance_m": round(distance, 1), "cell_distance": min(cells, 10**6)}
    if is_too_close(cells, params):
        return "witness.too_close", {
            **geometry,
            "min_cells": params.min_witness_distance_cells,
            "resolution": params.witness_distance_resolution,
        }
    if is_too_far(distance, params):
        return "witness.too_far", {**geometry, "max_distance_m": params.max_witness_distance_m}
    fspl = link.fspl_db
    max_rssi = compute_max_rssi_dbm(
        beacon.payload.tx_power_dbm,
        get_gain_dbi(beacon.beaconer, params),
        get_gain_dbi(witness, params),
        fspl,
    )
    radio = {
        "rssi_dbm": payload.rssi_dbm,
        "max_rssi_dbm": round(max_rssi, 2),
        "fspl_db": round(fspl, 2),
        "frequency_offset_hz": offset,
    }
    if not is_rssi_plausible(payload.rssi_dbm, max_rssi):
        return "witness.rssi_too_strong", {**geometry, **radio}
    return OK, {**geometry, **radio, **timing}
