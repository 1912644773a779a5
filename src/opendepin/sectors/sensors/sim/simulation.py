"""What weather and air-quality stations do in the generic fleet of `depin up` (the sector's
`SectorSimulation`).

Each station stands where the fleet put it and measures the shared simulated field there (`field.py`): every
hour it sends its weather samples of the hour (one `weather.obs` every 3 minutes, WeatherXM's WS2000), its
air-quality samples if it has that sensor (`aq.obs` every 2 minutes) and a GNSS fix (`location.fix`). The
field is drawn in blocks of `BLOCK_DAYS` days from the first hour the fleet asks about, so a run is
reproducible from the fleet's seed.

Sector misbehaviours (each caught by the rule named in `behaviours`): a clone replaying the nearest honest
station a few samples later, a frozen station, an indoor station, a spiky temperature sensor, an air-quality
station whose channel B copies A, and a station whose GPS puts it 3 km from the cell its owner asserted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from opendepin.sectors.base import SectorSimulation, SimDevice, SimReport, SimServices
from opendepin.sectors.sensors.params import SensorsParams
from opendepin.sectors.sensors.reports import AIR_QUALITY, LOCATION, WEATHER
from opendepin.sectors.sensors.sim.field import DAY, regional_field, terrain_m
from opendepin.sectors.sensors.sim.world import (
    AB_IDENTICAL,
    CLONE,
    FROZEN,
    HONEST,
    INDOOR,
    SPIKY,
    WEATHER_STEP_S,
    Site,
    Station,
    World,
    aq_payloads,
    fix_payloads,
    weather_payloads,
)

HOUR = 3_600
BLOCK_DAYS = 8
DISPLACED = "fake_location"
FLEET_BEHAVIOURS = {
    CLONE: "sensors.neighbour_clone",
    FROZEN: "sensors.faulty_sensor",
    INDOOR: "sensors.indoor_suspect",
    SPIKY: "sensors.faulty_sensor",
    AB_IDENTICAL: "sensors.ab_identical",
    DISPLACED: "sensors.location_unverified",
}


def sensor_set(device: SimDevice) -> str:
    """Air-quality-only for the copied-channel cheat; one honest station in five carries both."""
    if device.behaviour == AB_IDENTICAL:
        return "aq"
    return "weather+aq" if device.behaviour == HONEST and device.index % 5 == 0 else "weather"


def station_of(device: SimDevice) -> Station:
    site = Site(
        device.lat,
        device.lon,
        terrain_m(device.lat, device.lon),
        device.seed * 100_003 + device.index,
        (device.index * 37) % WEATHER_STEP_S,
    )
    station = Station(
        device.index,
        device.behaviour,
        site,
        (device.lat, device.lon),
        site.elevation_m,
        sensor_set(device),
        device.index,
        lag_steps=2 + device.index % 3,
    )
    if device.behaviour == DISPLACED:
        # it stands 3 km north of where its owner said; its GPS says so
        station.claimed = (device.lat + 3.0 / 111.32, device.lon)
        station.spoof_gps = True
    return station


class SensorsSimulation(SectorSimulation):
    """Honest and cheating stations measuring one simulated field."""

    def __init__(self, params: SensorsParams) -> None:
        self.params = params
        self.world: World | None = None

    @property
    def behaviours(self) -> Mapping[str, str]:
        return {**FLEET_BEHAVIOURS, "lazy": "fewer available hours: paid less"}

    def attributes(self, device: SimDevice) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        return (
            {"model": "WS2000", "sensors": sensor_set(device)},
            {"elevation_m": terrain_m(device.lat, device.lon)},
        )

    def _world(self, devices: Sequence[SimDevice], hour_ts: int) -> World:
        world = self.world
        if world is None or hour_ts + HOUR > world.start + world.days * DAY:
            start = hour_ts if world is None else world.start + world.days * DAY
            seed = devices[0].seed if devices else 0
            lat = sum(d.lat for d in devices) / len(devices) if devices else 0.0
            lon = sum(d.lon for d in devices) / len(devices) if devices else 0.0
            field = regional_field(seed, start, BLOCK_DAYS, lon, lat=lat)
            distant = regional_field(seed + 7_919, start, BLOCK_DAYS, lon, warm=4.0, lat=lat)
            world = World((lat, lon), [], start, BLOCK_DAYS, seed, field, distant)
            self.world = world
        return world

    def hour(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> list[SimReport]:
        if not devices:
            return []
        world = self._world(devices, hour_ts)
        stations = {d.index: station_of(d) for d in devices}
        honest = [stations[d.index] for d in devices if d.behaviour == HONEST]
        end = hour_ts + HOUR
        reports: list[SimReport] = []
        for device in devices:
            station = stations[device.index]
            source = None
            if device.behaviour == CLONE and honest:
                source = min(honest, key=lambda h: _metres(h, station))
            streams = [(LOCATION, fix_payloads(station, hour_ts, end))]
            if "weather" in station.sensors:
                streams.append((WEATHER, weather_payloads(world, station, hour_ts, end, source)))
            if "aq" in station.sensors:
                streams.append((AIR_QUALITY, aq_payloads(world, station, hour_ts, end)))
            for kind, (ts, payloads) in streams:
                reports.extend(
                    SimReport(device.index, kind, int(t), payload)
                    for t, payload in zip(np.asarray(ts).tolist(), payloads, strict=True)
                )
        return reports

    def session(self, device: SimDevice, credits: int) -> tuple[int, str]:
        """A data buyer's queries of the station's observations."""
        return max(1, credits // self.params.credits_per_query), "queries"


def _metres(a: Station, b: Station) -> float:
    dy = (a.site.lat - b.site.lat) * 111_320.0
    dx = (a.site.lon - b.site.lon) * 111_320.0 * math.cos(math.radians(a.site.lat))
    return math.hypot(dx, dy) if a.index != b.index else math.inf
