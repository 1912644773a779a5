"""The fleet's sensors simulation: what each simulated station sends is what the sector accepts."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from opendepin.sectors.base import SimDevice
from opendepin.sectors.sensors.params import SensorsParams
from opendepin.sectors.sensors.plugin import SensorsSector
from opendepin.sectors.sensors.reports import AIR_QUALITY, LOCATION, WEATHER
from opendepin.sectors.sensors.sim.simulation import FLEET_BEHAVIOURS, SensorsSimulation

START = 1_780_272_000


class NoServices:
    def challenges(self, kind: str) -> list[Any]:
        return []

    def get(self, route: str) -> Any:
        raise AssertionError("the stations ask the node nothing")


def _devices() -> list[SimDevice]:
    behaviours = ["honest", "honest", "honest", *FLEET_BEHAVIOURS]
    return [
        SimDevice(i, f"d{i}", "0xo", "8c1f1d48945d9ff", 52.52 + i * 0.003, 13.41, b, 7)
        for i, b in enumerate(behaviours)
    ]


def test_an_hour_of_reports_validates_against_the_report_kinds() -> None:
    sector = SensorsSector(SensorsParams())
    simulation = sector.simulation()
    assert isinstance(simulation, SensorsSimulation)
    devices = _devices()
    reports = simulation.hour(devices, START, NoServices())
    kinds = sector.report_kinds()
    seen: dict[tuple[int, str], int] = {}
    for report in reports:
        kinds[report.kind].model_validate(dict(report.payload), strict=True)
        assert START <= report.ts < START + 3_600
        seen[(report.device, report.kind)] = seen.get((report.device, report.kind), 0) + 1
    assert seen[(0, WEATHER)] == 20 and seen[(0, LOCATION)] == 1 and seen[(0, AIR_QUALITY)] == 30
    models = sector.attributes()
    for device in devices:
        maker, owner = simulation.attributes(device)
        assert models.maker is not None and models.owner is not None
        models.maker.model_validate(dict(maker), strict=True)
        models.owner.model_validate(dict(owner), strict=True)


def test_the_field_is_reproducible_and_continuous_across_hours() -> None:
    devices = _devices()[:2]
    a = SensorsSimulation(SensorsParams())
    b = SensorsSimulation(SensorsParams())
    first = a.hour(devices, START, NoServices()) + a.hour(devices, START + 3_600, NoServices())
    again = b.hour(devices, START, NoServices()) + b.hour(devices, START + 3_600, NoServices())
    assert [r.payload for r in first] == [r.payload for r in again]
    temps = [r.payload["temperature_c"] for r in first if r.device == 0 and r.kind == WEATHER]
    assert max(abs(x - y) for x, y in pairwise(temps)) < 2.0
