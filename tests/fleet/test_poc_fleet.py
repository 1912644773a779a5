"""The `depin up` fleet on a proof-of-coverage network: hotspots onboarded with the attributes the wireless
simulation gives, beacons and witnesses over the node's ingest citing the entropy its route served (read
over HTTP, as hotspots do), paid in the beacon and witness categories, GPS spoofers paid less than honest
hotspots."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cbor2
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.fleet.services import NodeServices
from opendepin.fleet.simulator import Fleet, FleetSpec
from opendepin.node import Node
from opendepin.reports.envelope import split_wire
from opendepin.sectors.wireless.sim.network import load_network
from opendepin.sectors.wireless.sim.onboarding import compute_gain_dbi, hotspot_attributes
from opendepin.store.sqlite import SQLiteStore
from tests.fleet.test_simulator import onboard_from_body

SPEC = FleetSpec(seed=11, region="berlin", devices=60, owners=20, misbehaving_share=0.4, p256_share=0.2)
HOUR = 3_600


def _node(tmp_path: Path, fleet: Fleet, base: NetworkConfig) -> Node:
    config = base.model_copy(update={"makers": [MakerConfig(name="fleet", address=fleet.maker.address)]})
    return Node(config, SQLiteStore(tmp_path / "db.sqlite3"), SimulatedClock(config.epochs.genesis_ts - HOUR))


def test_hotspots_are_onboarded_with_their_attributes(tmp_path: Path) -> None:
    network = load_network()
    fleet = Fleet.create(SPEC, network=network)
    node = _node(tmp_path, fleet, network)
    device = fleet.devices[0]
    recorded = node.onboard(onboard_from_body(fleet.onboarding_request(node.config.name, device)))
    expected = hotspot_attributes("EU868", compute_gain_dbi(SPEC.seed, device.index))  # Berlin: EU868
    assert dict(recorded.attributes) == expected
    assert expected == {"gain_dbi": expected["gain_dbi"], "mode": "full", "region": "EU868"}


def test_a_day_of_beacons_and_witnesses_is_verified_and_paid(tmp_path: Path) -> None:
    network = load_network()
    fleet = Fleet.create(SPEC, network=network)
    assert "gps-spoof" in fleet.behaviours
    node = _node(tmp_path, fleet, network)
    for device in fleet.devices:
        if device.behaviour != "unregistered":
            node.onboard(onboard_from_body(fleet.onboarding_request(node.config.name, device)))
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    services = NodeServices(TestClient(create_app(node)), node.current_challenge)
    genesis = node.config.epochs.genesis_ts
    reasons: dict[str, int] = defaultdict(int)
    kinds: set[str] = set()
    for hour in range(genesis, genesis + 24 * HOUR, HOUR):
        clock.set(hour + HOUR - 1)
        wires = fleet.reports_for_hour(hour, services)
        kinds.update(cbor2.loads(split_wire(w)[0])["kind"] for w in wires if w[:1] == b"\x82")
        for result in node.ingest(wires):
            reasons[result.reason] += 1
    assert {"wireless.heartbeat", "wireless.beacon", "wireless.witness"} <= kinds
    assert reasons["accepted"] > 1_000 and reasons["signature.invalid"] > 0
    clock.set(genesis + 24 * HOUR + node.config.epochs.lateness_seconds)
    record = node.close_epoch(0)
    manifest = record.manifest
    assert manifest["totals"]["beacons"] > 0 and manifest["totals"]["witnesses"] > 0
    paid: dict[str, int] = defaultdict(int)
    for device in fleet.devices:
        detail = node.store.device_epoch(0, fleet.key_of(device).device_id)
        paid[device.behaviour] += sum(
            int(r["amount"]) for r in detail.get("rewards", []) if r["category"] in ("beacons", "witnesses")
        )
    count: dict[str, int] = defaultdict(int)
    for device in fleet.devices:
        count[device.behaviour] += 1
    honest = paid["honest"] / count["honest"]
    assert honest > 0
    assert count["gps-spoof"] >= 2 and paid["gps-spoof"] / count["gps-spoof"] < 0.5 * honest
    assert paid["bad-signature"] == paid["unregistered"] == 0
