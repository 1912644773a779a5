"""The generic fleet runs a sector it has never heard of: the test sector `probe` (installed through an entry
point) brings its simulation; `depin up` onboards its devices with the probe's attributes, sends what the
simulation says (late readings, pongs to the pings the node issued), applies the generic misbehaviours to
probe reports, and pays. On a network with two sectors, devices take them in turn and say which they serve.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cbor2
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig, parse_config
from opendepin.fleet.behaviours import MISBEHAVIOURS
from opendepin.fleet.services import NodeServices
from opendepin.fleet.simulator import Fleet, FleetSpec
from opendepin.node import Node
from opendepin.reports.envelope import split_wire
from opendepin.store.sqlite import SQLiteStore
from opendepin.up import UpOptions, run_network
from tests.fleet.test_simulator import onboard_from_body

HOUR = 3_600
PROBE_NETWORK = """
name = "probe-net"

[emission]
kind = "fixed"
per_year = 365000

[rewards]
categories = { probe_coverage = 3000, probe_usage = 5000, oracles = 2000 }
device_categories = ["probe_coverage", "probe_usage"]
unused_flows_to = { probe_usage = { probe_coverage = 10000 } }

[sectors.probe]
"""


def test_depin_up_runs_the_probe_sector(probe_installed: Path, tmp_path: Path) -> None:
    network = tmp_path / "probe.toml"
    network.write_text(PROBE_NETWORK)
    summary = run_network(
        UpOptions(
            data_dir=tmp_path / "net",
            epochs=1,
            devices=24,
            misbehaving_share=0.6,
            network=network,
            chain="none",
        )
    )
    assert summary["network"] == "probe-net"
    assert set(summary["behaviours"]) == {"honest", *MISBEHAVIOURS, "probe-overflow"}
    (epoch,) = summary["epochs"]
    assert epoch["accepted"] > 24 * 12 and epoch["rewarded_devices"] > 0 and int(epoch["paid"]) > 0
    caught = {"signature.invalid", "report.duplicate", "report.replay", "report.malformed", "device.unknown"}
    assert caught <= set(epoch["rejected"]), epoch["rejected"]
    assert {"report.future", "report.stale"} & set(epoch["rejected"]), epoch["rejected"]
    assert epoch["invalid"].get("probe.out_of_range", 0) > 0


def _two_sector_network(maker: str) -> NetworkConfig:
    return parse_config(
        {
            "name": "two-sectors",
            "rewards": {
                "categories": {
                    "coverage": 3000,
                    "data_transfer": 2000,
                    "probe_coverage": 2000,
                    "probe_usage": 1000,
                    "oracles": 2000,
                },
                "device_categories": ["coverage", "data_transfer", "probe_coverage", "probe_usage"],
                "unused_flows_to": {
                    "data_transfer": {"coverage": 10000},
                    "probe_usage": {"probe_coverage": 10000},
                },
            },
            "sectors": {"wireless": {}, "probe": {}},
            "makers": [MakerConfig(name="fleet", address=maker).model_dump()],
        }
    )


def test_devices_take_the_simulated_sectors_in_turn(probe_installed: Path, tmp_path: Path) -> None:
    spec = FleetSpec(seed=4, region="berlin", devices=12, owners=4, misbehaving_share=0.0, p256_share=0.3)
    maker = Fleet.create(spec).maker.address  # the keys follow the seed, whatever the network
    config = _two_sector_network(maker)
    fleet = Fleet.create(spec, network=config)
    assert [d.sector for d in fleet.devices] == ["probe", "wireless"] * 6
    clock = SimulatedClock(config.epochs.genesis_ts)
    node = Node(config, SQLiteStore(tmp_path / "db.sqlite"), clock)
    for device in fleet.devices:
        body = fleet.onboarding_request(config.name, device)
        assert body["attributes"]["sector"] == device.sector
        recorded = node.onboard(onboard_from_body(body))
        assert ("capacity" in recorded.attributes) == (device.sector == "probe")
        assert ("gain_dbi" in recorded.attributes) == (device.sector == "wireless")
    services = NodeServices(TestClient(create_app(node)), node.current_challenge)
    hour = config.epochs.genesis_ts
    clock.set(hour + HOUR - 1)
    wires = fleet.reports_for_hour(hour, services)
    kinds = Counter(cbor2.loads(split_wire(w)[0])["kind"] for w in wires)
    assert kinds["wireless.heartbeat"] == 6 and kinds["probe.reading"] == 6 and kinds["probe.pong"] > 0
    assert {r.reason for r in node.ingest(wires)} == {"accepted"}


def test_depin_up_pays_the_probe_sector_from_emission_and_from_usage(
    probe_installed: Path, tmp_path: Path
) -> None:
    """The bar of the issue: a sector defined under tests/, installed through an entry point, onboarded with
    attributes, serving a route and challenges, accepting late uploads, paid from emission and from a usage
    pool, end to end through `depin up` with a chain and users buying its service."""
    network = tmp_path / "probe.toml"
    network.write_text(PROBE_NETWORK)
    summary = run_network(
        UpOptions(
            data_dir=tmp_path / "net",
            epochs=2,
            devices=16,
            misbehaving_share=0.0,
            network=network,
            chain="embedded",
            usage_growth=0.5,
        )
    )
    first, second = summary["epochs"]
    assert int(first["totals"]["probe_coverage"]) > 0  # emission: answered pings and readings
    assert int(second["totals"].get("probe_usage", 0)) > 0  # users paid probe devices for readings
    assert second["users"]["receipts_accepted"] > 0 and second["credits_spent"] > 0
    assert second["usage_weight"] != "0.0000"
