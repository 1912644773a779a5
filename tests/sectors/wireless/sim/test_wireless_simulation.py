"""The wireless sector's simulation for the generic fleet: its behaviours, onboarding attributes, heartbeats
and speed tests from the seed alone, beacons and witnesses citing the entropy its route serves, sessions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h3
import pytest

from opendepin.geo import cell_of
from opendepin.sectors.base import Challenge, SimDevice
from opendepin.sectors.wireless.heartbeat import compute_distance_m
from opendepin.sectors.wireless.params import WirelessParams
from opendepin.sectors.wireless.plugin import WirelessSector
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.sim.heartbeats import compute_radio_position
from opendepin.sectors.wireless.sim.onboarding import compute_frequency_plan
from opendepin.sectors.wireless.sim.simulation import WirelessSimulation

HOUR_TS = 1_767_225_600  # a multiple of 4 hours: heartbeats and speed tests
BERLIN = (52.52, 13.405)


def device(index: int, behaviour: str = "honest", where: tuple[float, float] = BERLIN) -> SimDevice:
    lat, lon = where[0] + index * 0.004, where[1]
    owner = "0x" + "00" * 20
    return SimDevice(index, f"ed25519:{index:064x}", owner, cell_of(lat, lon), lat, lon, behaviour, 5)


class Entropy:
    """The node as a hotspot sees it: the wireless entropy route, counted."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get(self, route: str) -> Any:
        self.asked.append(route)
        return {"value": "ab" * 32, "timestamp": HOUR_TS + 3_540, "expires_at": HOUR_TS + 3_720}

    def challenges(self, kind: str) -> Sequence[Challenge]:
        raise AssertionError("the wireless simulation reads its entropy from its route")


def test_the_plugin_brings_its_simulation_and_its_scenarios() -> None:
    plugin = WirelessSector(WirelessParams())
    assert isinstance(plugin.simulation(), WirelessSimulation)
    app = WirelessSector.simulate_app()
    assert app is not None and [c.name for c in app.registered_commands] == ["wireless"]


def test_behaviours_follow_the_network() -> None:
    assert set(WirelessSimulation(WirelessParams()).behaviours) == {"gps-far", "lazy"}
    with_poc = WirelessSimulation(WirelessParams(poc=PocParams()))
    assert with_poc.behaviours["gps-spoof"].startswith("trust")


@pytest.mark.parametrize(
    ("where", "plan"),
    [(BERLIN, "EU868"), ((40.71, -74.0), "US915"), ((-23.55, -46.63), "AU915"), ((6.52, 3.38), "EU868")],
)
def test_attributes_the_maker_and_owner_state(where: tuple[float, float], plan: str) -> None:
    simulation = WirelessSimulation(WirelessParams())
    made, stated = simulation.attributes(device(3, where=where))
    assert made == {"mode": "full", "region": plan} and plan == compute_frequency_plan(*where)
    assert set(stated) == {"gain_dbi"} and simulation.attributes(device(3, where=where)) == (made, stated)


def test_heartbeats_and_speed_tests_without_the_node() -> None:
    simulation = WirelessSimulation(WirelessParams())
    devices = [device(0), device(1, "gps-far"), device(2, "gps-spoof")]
    node = Entropy()
    reports = simulation.hour(devices, HOUR_TS, node)
    assert node.asked == []  # no proof of coverage: nothing to ask the node
    assert sorted((r.device, r.kind) for r in reports) == [
        (i, kind) for i in range(3) for kind in ("wireless.heartbeat", "wireless.speedtest")
    ]
    assert reports == simulation.hour(devices, HOUR_TS, node)  # from the seed, the index and the hour
    later = simulation.hour(devices, HOUR_TS + 3_600, node)
    assert {r.kind for r in later} == {"wireless.heartbeat"}
    away = {
        r.device: compute_distance_m(devices[r.device].cell, r.payload["lat"], r.payload["lon"])
        for r in reports
        if r.kind == "wireless.heartbeat"
    }
    assert away[0] < 200 and 1_300 < away[1] < 5_300 and away[2] < 200  # a spoofer reports its assertion
    radio = compute_radio_position(devices[2])
    assert h3.great_circle_distance(radio, (devices[2].lat, devices[2].lon), unit="m") > 5_500


def test_beacons_and_witnesses_cite_the_served_entropy() -> None:
    simulation = WirelessSimulation(WirelessParams(poc=PocParams()))
    devices = [device(i) for i in range(8)]
    node = Entropy()
    reports = [r for hour in range(6) for r in simulation.hour(devices, HOUR_TS + hour * 3_600, node)]
    assert node.asked == ["entropy"] * 6
    beacons = [r for r in reports if r.kind == "wireless.beacon"]
    witnesses = [r for r in reports if r.kind == "wireless.witness"]
    assert len(beacons) == 8  # one per hotspot and 6-hour bucket
    assert witnesses and {w.payload["entropy"] for w in witnesses} == {"ab" * 32}
    assert all(HOUR_TS + 3_540 <= r.ts < HOUR_TS + 3_590 for r in beacons)  # just after the entropy


def test_a_data_session_is_metered_in_bytes() -> None:
    assert WirelessSimulation(WirelessParams()).session(device(0), 10) == (240, "bytes")
