"""Simulated stations, honest and cheating, and the reports they send (seeded).

Behaviours (the rule that must catch each, docs/sensors.md):

| behaviour | what it does | caught by |
|---|---|---|
| `honest` | an outdoor station measuring the field where it stands | — |
| `clone` | replays a neighbour's weather a few samples later with noise | `sensors.neighbour_clone` |
| `frozen` | every sensor stuck at one reading | constancy (`sensors.faulty_sensor`) |
| `indoor` | indoors: room temperature, window light, a made-up wind | `sensors.indoor_suspect`, mismatch |
| `spiky` | a temperature sensor with frequent jumps | `sensors.spike` (`sensors.faulty_sensor`) |
| `fake_location` | claims an empty cell elsewhere (GPS spoofed or not) | `location_unverified`, mismatch |
| `crowded` | 12 stations of sybil owners on one roof in one cell | cell grouping (`sensors.cell_group`) |
| `ab_identical` | an air-quality station whose channel B is a copy of A | `sensors.ab_identical` |
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opendepin.sectors.sensors.sim.field import (
    DAY,
    KM_PER_DEG,
    Regional,
    Site,
    aq_samples,
    regional_field,
    terrain_m,
    weather_samples,
)

HONEST = "honest"
CLONE = "clone"
FROZEN = "frozen"
INDOOR = "indoor"
SPIKY = "spiky"
FAKE_LOCATION = "fake_location"
CROWDED = "crowded"
AB_IDENTICAL = "ab_identical"
BEHAVIOURS = {
    CLONE: "sensors.neighbour_clone",
    FROZEN: "sensors.faulty_sensor",
    INDOOR: "sensors.indoor_suspect",
    SPIKY: "sensors.faulty_sensor",
    FAKE_LOCATION: "sensors.location_unverified",
    CROWDED: "sensors.cell_group",
    AB_IDENTICAL: "sensors.ab_identical",
}
WEATHER_STEP_S = 180
AQ_STEP_S = 120
FIX_EVERY_S = 3_600
SPACING_KM = 0.1
"""Honest stations of different owners stand at least 100 m apart (closer ones share one slot by rule)."""


@dataclass(slots=True)
class Station:
    """A simulated station: where it really is, where it says it is, what it carries and does."""

    index: int
    behaviour: str
    site: Site
    claimed: tuple[float, float]
    claimed_elevation_m: int
    sensors: str
    owner_index: int
    source: int | None = None
    """For a clone: the station it copies."""
    lag_steps: int = 0
    spoof_gps: bool = True
    elsewhere: bool = False
    """Measures a distant place's weather (a fake location's true site)."""
    extra: dict[str, Any] = field(default_factory=dict)


def _jitter(rng: np.random.Generator, lat: float, lon: float, km: float) -> tuple[float, float]:
    angle = rng.uniform(0, 2 * math.pi)
    r = km * math.sqrt(rng.uniform(0, 1))
    return lat + r * math.sin(angle) / KM_PER_DEG, lon + r * math.cos(angle) / (
        KM_PER_DEG * math.cos(math.radians(lat))
    )


@dataclass(slots=True)
class World:
    centre: tuple[float, float]
    stations: list[Station]
    start: int
    days: int
    seed: int
    field: Regional
    distant: Regional


def make_site(lat: float, lon: float, seed: int, index: int, rng: np.random.Generator) -> Site:
    return Site(lat, lon, terrain_m(lat, lon), seed * 100_003 + index, int(rng.integers(0, WEATHER_STEP_S)))


def place_stations(
    n: int, behaviour_of: Sequence[str], seed: int, centre: tuple[float, float], box_km: float
) -> list[Station]:
    """Stations spread uniformly over a square `box_km` wide around `centre`; the cheaters are then set up
    according to their behaviour."""
    rng = np.random.default_rng([seed, 0x51])
    half = box_km / 2
    lat0, lon0 = centre
    stations: list[Station] = []
    roof: tuple[float, float] | None = None
    for index in range(n):
        behaviour = behaviour_of[index]
        while True:  # honest owners' stations stand on distinct properties, at least SPACING_KM apart
            lat = lat0 + rng.uniform(-half, half) / KM_PER_DEG
            lon = lon0 + rng.uniform(-half, half) / (KM_PER_DEG * math.cos(math.radians(lat0)))
            if all(_km_between(lat, lon, s.claimed) >= SPACING_KM for s in stations):
                break
        if behaviour == CROWDED:
            if roof is None:
                roof = (lat, lon)
            lat, lon = _jitter(rng, roof[0], roof[1], 0.02)
        site = make_site(lat, lon, seed, index, rng)
        if behaviour == AB_IDENTICAL:
            sensors = "aq"
        elif behaviour == HONEST and index % 10 == 0:
            sensors = "weather+aq"
        else:
            sensors = "weather"  # a cheater's whole station cheats
        station = Station(index, behaviour, site, (lat, lon), site.elevation_m, sensors, index)
        stations.append(station)
    honest = [s for s in stations if s.behaviour == HONEST and "weather" in s.sensors]
    for station in stations:
        if station.behaviour == CLONE and honest:
            source = min(honest, key=lambda h: _km(h.site, station.site) if h.index != station.index else 1e9)
            station.source = source.index
            station.lag_steps = int(rng.integers(1, 6))
        elif station.behaviour == FAKE_LOCATION:
            # it claims an empty spot inside the network, but stands in a distant warmer lowland
            claimed = (
                lat0 + rng.uniform(-half, half) / KM_PER_DEG,
                lon0 + rng.uniform(-half, half) / (KM_PER_DEG * math.cos(math.radians(lat0))),
            )
            station.claimed = claimed
            station.claimed_elevation_m = terrain_m(*claimed)
            station.site = Site(
                station.site.lat - 1.5, station.site.lon, 150, station.site.seed, station.site.phase_s
            )
            station.spoof_gps = station.index % 2 == 0
            station.elsewhere = True
        elif station.behaviour == CROWDED:
            station.owner_index = 10_000 + station.index  # sybil wallets: one owner per device
    return stations


def _km_between(lat: float, lon: float, other: tuple[float, float]) -> float:
    dy = (lat - other[0]) * KM_PER_DEG
    dx = (lon - other[1]) * KM_PER_DEG * math.cos(math.radians(lat))
    return math.hypot(dx, dy)


def _km(a: Site, b: Site) -> float:
    dy = (a.lat - b.lat) * KM_PER_DEG
    dx = (a.lon - b.lon) * KM_PER_DEG * math.cos(math.radians(a.lat))
    return math.hypot(dx, dy)


def build_world(
    n: int, behaviour_of: Sequence[str], seed: int, start: int, days: int, box_km: float = 60.0
) -> World:
    centre = (47.0, 8.5)
    stations = place_stations(n, behaviour_of, seed, centre, box_km)
    field_ = regional_field(seed, start - DAY, days + 2, centre[1], lat=centre[0])
    distant = regional_field(seed + 7_919, start - DAY, days + 2, centre[1], warm=4.0, lat=centre[0] - 1.5)
    return World(centre, stations, start, days, seed, field_, distant)


def sample_times(station: Station, start: int, end: int, step_s: int) -> np.ndarray:
    first = start + station.site.phase_s % step_s
    return np.arange(first, end, step_s, dtype=np.int64)


def weather_payloads(
    world: World, station: Station, start: int, end: int, source: Station | None = None
) -> tuple[np.ndarray, list[dict]]:
    """(sample times, payloads) of a station's weather observations in [start, end); a clone copies
    `source` (default: `world.stations[station.source]`)."""
    ts = sample_times(station, start, end, WEATHER_STEP_S)
    if ts.size == 0:
        return ts, []
    behaviour = station.behaviour
    if source is None and behaviour == CLONE and station.source is not None:
        source = world.stations[station.source]
    if behaviour == CLONE and source is not None:
        shifted = ts - station.lag_steps * WEATHER_STEP_S - (station.site.phase_s - source.site.phase_s)
        values = weather_samples(source.site, world.field, shifted)
        rng = np.random.default_rng([station.site.seed, 0xC1])
        values["temperature_c"] = np.round(values["temperature_c"] + rng.normal(0, 0.03, ts.size), 2)
        values["humidity_pct"] = np.clip(
            np.round(values["humidity_pct"] + rng.normal(0, 0.1, ts.size), 1), 1, 99
        )
        # its pressure brought to its own elevation, so the neighbour check sees nothing wrong
        values["pressure_hpa"] = np.round(
            values["pressure_hpa"] * np.exp((source.site.elevation_m - station.site.elevation_m) / 8_400.0), 2
        )
    elif station.elsewhere:
        values = weather_samples(station.site, world.distant, ts)
    else:
        values = weather_samples(station.site, world.field, ts)
    if behaviour == FROZEN:  # stuck at what it read when it broke, at the start of the field
        stuck = weather_samples(station.site, world.field, np.array([world.field.start + 12 * 3_600]))
        values = {k: np.full(ts.size, v[0]) for k, v in stuck.items()}
    elif behaviour == INDOOR:
        rng = np.random.default_rng([station.site.seed, 0x1D])
        hours = (ts % DAY) / 3600.0
        values["temperature_c"] = np.round(
            21.0 + 0.6 * np.sin(2 * math.pi * hours / 24) + rng.normal(0, 0.05, ts.size), 2
        )
        values["humidity_pct"] = np.round(45.0 + rng.normal(0, 0.5, ts.size), 1)
        values["solar_wm2"] = np.round(values["solar_wm2"] * 0.03, 1)
    elif behaviour == SPIKY:
        rng = np.random.default_rng([station.site.seed, 0x5B])
        jumps = rng.random(ts.size) < 0.08
        values["temperature_c"] = np.round(values["temperature_c"] + jumps * rng.uniform(10, 14, ts.size), 2)
    return ts, rows_of(values)


def rows_of(values: dict[str, np.ndarray]) -> list[dict[str, float | None]]:
    """Columns → one payload per sample (a value that is not finite is a missing reading: None)."""
    names = list(values)
    columns = [[v if math.isfinite(v) else None for v in values[n].tolist()] for n in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def aq_payloads(world: World, station: Station, start: int, end: int) -> tuple[np.ndarray, list[dict]]:
    ts = sample_times(station, start, end, AQ_STEP_S)
    if ts.size == 0:
        return ts, []
    values = aq_samples(station.site, world.field, ts)
    if station.behaviour == AB_IDENTICAL:
        values["pm25_b"] = values["pm25_a"].copy()
    return ts, rows_of(values)


def fix_payloads(station: Station, start: int, end: int) -> tuple[np.ndarray, list[dict]]:
    """Hourly GNSS fixes: a few metres of jitter around where the receiver is (or is spoofed to be)."""
    ts = np.arange(start + 600 + station.index % 600, end, FIX_EVERY_S, dtype=np.int64)
    rng = np.random.default_rng([station.site.seed, 0xF1, start])
    if station.elsewhere and not station.spoof_gps:
        lat, lon = station.site.lat, station.site.lon
    else:
        lat, lon = station.claimed
    payloads = []
    for _ in range(ts.size):
        dlat, dlon = rng.normal(0, 3.0, 2) / (KM_PER_DEG * 1000)
        payloads.append(
            {"lat": round(lat + dlat, 7), "lon": round(lon + dlon, 7), "hdop": 0.9, "sats": 11, "fix_type": 3}
        )
    return ts, payloads
