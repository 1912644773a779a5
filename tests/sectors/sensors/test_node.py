"""The sensors sector through the node, as an installed plug-in: stations onboard with attested attributes,
sign observations and fixes, one uploads a day late (counted in the epoch it arrives in), epochs pay exact
integer amounts for quality, and a cheating indoor station earns nothing; epochs recompute from their
bundle."""

from __future__ import annotations

from pathlib import Path

import h3
import pytest

from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, parse_config
from opendepin.identity.attestation import OnboardingError
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.rewards.audit import verify_bundle
from opendepin.rewards.bundle import decode_bundle
from opendepin.sectors.registry import available_sectors
from opendepin.sectors.sensors.reports import LOCATION, WEATHER
from opendepin.sectors.sensors.sim.world import HONEST, INDOOR, build_world, fix_payloads, weather_payloads
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

DAY = 86_400
GENESIS = "2026-06-01T00:00:00Z"


@pytest.fixture
def node(tmp_path: Path) -> Node:
    config = parse_config(
        {
            "name": "weather-test",
            "epochs": {"genesis": GENESIS},
            "emission": {"kind": "fixed", "per_year": 365_000},
            "rewards": {
                "categories": {"data_quality": 8_000, "data_api": 1_000, "oracles": 1_000},
                "device_categories": ["data_quality", "data_api"],
                "unused_flows_to": {"data_api": {"data_quality": 10_000}},
            },
            "sectors": {"sensors": {}},
            "makers": [MakerConfig(name="m", address=MAKER.address).model_dump()],
        }
    )
    return Node(config, SQLiteStore(tmp_path / "s.sqlite"), SimulatedClock(config.epochs.genesis_ts))


def test_the_sector_is_an_entry_point() -> None:
    assert "sensors" in available_sectors()


def test_attributes_are_validated(node: Node) -> None:
    key = DeviceKey("ed25519", b"\x05" * 32)
    with pytest.raises(OnboardingError, match="sensors"):
        node.onboard(onboard_request(node.config.name, key, maker_attributes={"sensors": "radio"}))


def test_stations_are_paid_through_the_node(node: Node) -> None:
    genesis = node.config.epochs.genesis_ts
    behaviours = [HONEST] * 5 + [INDOOR]
    world = build_world(6, behaviours, 3, genesis, 2, box_km=20.0)
    keys = [DeviceKey("ed25519", bytes([60 + i]) * 32) for i in range(6)]
    owners = [Wallet(bytes([90 + i]) * 32) for i in range(6)]
    for station, key, owner in zip(world.stations, keys, owners, strict=True):
        cell = h3.latlng_to_cell(station.claimed[0], station.claimed[1], 12)
        node.onboard(
            onboard_request(
                node.config.name,
                key,
                owner=owner,
                cell=cell,
                maker_attributes={"model": "WS2000", "sensors": "weather"},
                owner_attributes={"elevation_m": station.claimed_elevation_m},
            )
        )
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    seq = dict.fromkeys(range(6), 0)

    def wires(index: int, start: int, end: int) -> list[bytes]:
        station, key = world.stations[index], keys[index]
        out = []
        for kind, (ts, payloads) in (
            (WEATHER, weather_payloads(world, station, start, end)),
            (LOCATION, fix_payloads(station, start, end)),
        ):
            for t, payload in zip(ts.tolist(), payloads, strict=True):
                seq[index] += 1
                out.append(sign_report(key, kind, int(t), seq[index], payload).to_wire())
        return out

    for hour in range(24):
        start = genesis + hour * 3_600
        clock.set(start + 3_600)
        batch = [w for i in range(1, 6) for w in wires(i, start, start + 3_600)]  # station 0 is offline
        for k in range(0, len(batch), 500):
            results = node.ingest(batch[k : k + 500])
            assert all(r.accepted for r in results), {r.reason for r in results}
    clock.set(genesis + DAY + node.config.epochs.lateness_seconds)
    first = node.close_due_epochs()[-1]
    # station 0 comes back and uploads its whole buffered day (late: counted in epoch 1), then lives on
    late = wires(0, genesis, genesis + DAY)
    for hour in range(24):
        start = genesis + DAY + hour * 3_600
        clock.set(start + 3_600)
        if hour == 2:
            for k in range(0, len(late), 500):
                assert all(r.accepted for r in node.ingest(late[k : k + 500]))
        batch = [w for i in range(6) for w in wires(i, start, start + 3_600)]
        for k in range(0, len(batch), 500):
            assert all(r.accepted for r in node.ingest(batch[k : k + 500]))
    clock.set(genesis + 2 * DAY + node.config.epochs.lateness_seconds)
    second = node.close_due_epochs()[-1]
    ids = [k.device_id for k in keys]
    paid_first = {d: node.store.device_epoch(first.number, d) for d in ids}
    paid_second = {d: node.store.device_epoch(second.number, d) for d in ids}

    def amount(detail: dict) -> int:
        return sum(int(r["amount"]) for r in detail.get("rewards", []))

    assert amount(paid_first[ids[0]]) == 0  # offline on day 0
    assert all(amount(paid_first[d]) > 0 for d in ids[1:5])
    assert amount(paid_first[ids[5]]) == 0 and amount(paid_second[ids[5]]) == 0  # indoors
    # on day 1 station 0 is paid for both days: each hour of a station is paid once, when it is scored
    assert amount(paid_second[ids[0]]) > amount(paid_second[ids[1]]) * 3 // 2
    notes = {n["reason"] for n in paid_second[ids[5]].get("notes", [])}
    assert notes & {"sensors.indoor_suspect", "sensors.neighbour_mismatch"}
    for number in (first.number, second.number):
        assert node.audit_epoch(number).matches
        assert verify_bundle(decode_bundle(node.export_epoch(number))).matches
