"""The simulator measures the network a user runs: its network.toml, its `process_epoch`, and hotspot
attributes exactly as the node records them at onboarding."""

from __future__ import annotations

from pathlib import Path

import pytest

from opendepin.clock import SimulatedClock
from opendepin.config import ConfigError, MakerConfig, NetworkConfig, load_config
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.rewards.allocate import split_by_basis_points
from opendepin.rewards.emissions import compute_epoch_emission
from opendepin.rewards.epoch import window_for
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY
from opendepin.sectors.wireless.sim.network import DEFAULT_NETWORK, load_network, with_trust
from opendepin.sectors.wireless.sim.onboarding import (
    hotspot_attributes,
    hotspot_maker_attributes,
    hotspot_owner_attributes,
)
from opendepin.sectors.wireless.sim.runner import ModeTally, build_registry, run_epoch
from opendepin.sectors.wireless.sim.scenarios import build_fleet
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "wireless-iot.toml"


def test_the_default_network_is_the_wireless_iot_example() -> None:
    assert DEFAULT_NETWORK.read_bytes() == EXAMPLE.read_bytes()
    config = load_network()
    assert config == load_config(EXAMPLE)
    assert config.rewards.categories["beacons"] == 600 and config.rewards.categories["witnesses"] == 2400
    assert config.rewards.unused_flows_to == {"data_transfer": {"witnesses": 8000, "beacons": 2000}}


def test_rules_alone_is_the_same_network_with_trust_off() -> None:
    config = load_network()
    off = with_trust(config, False)
    assert off.sector_params("wireless")["poc"]["trust"]["enabled"] is False
    assert off.rewards == config.rewards and off.emission == config.emission
    assert with_trust(off, True) == with_trust(config, True)


def test_a_network_without_proof_of_coverage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "network.toml"
    path.write_text('name = "heartbeats-only"\n')
    with pytest.raises(ConfigError, match=r"no \[sectors.wireless.poc\]"):
        load_network(path)


def test_registry_attributes_are_what_the_node_records(tmp_path: Path) -> None:
    config = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
    node = Node(config, SQLiteStore(tmp_path / "db.sqlite3"), SimulatedClock(config.epochs.genesis_ts))
    key = DeviceKey("ed25519", bytes([7]) * 32)
    recorded = node.onboard(
        onboard_request(
            config.name,
            key,
            maker_attributes=hotspot_maker_attributes("US915"),
            owner_attributes=hotspot_owner_attributes(4.0),
        )
    )
    assert dict(recorded.attributes) == hotspot_attributes("US915", 4.0)
    fleet = build_fleet("honest", 20, seed=1)
    registry = build_registry(fleet)
    first = registry[fleet.ids[0]]
    assert dict(first.attributes) == hotspot_attributes("US915", float(fleet.gain_dbi[0]))
    assert first.owner.startswith("0x") and len(first.owner) == 42


def test_pay_is_the_networks_split_through_process_epoch() -> None:
    """Everything the beacons and witnesses pools hold (with unused data transfer flowing 80/20 to them)
    is paid to hotspots, less the integer rounding of the allocation."""
    import numpy as np

    from opendepin.sectors.wireless.sim.behaviour import simulate_epoch
    from opendepin.sectors.wireless.sim.links import build_radio_links
    from opendepin.sectors.wireless.sim.propagation import RadioPhysics

    config = load_network()
    mode = ModeTally.of(config)
    fleet = build_fleet("honest", 150, seed=2)
    rng = np.random.default_rng(3)
    physics = RadioPhysics()
    links = build_radio_links(fleet, physics, rng)
    window = window_for(config, 0)
    log = simulate_epoch(fleet, links, window, physics, mode.poc, rng, 2)
    run_epoch(mode, window, build_registry(fleet), log.reports, {ENTROPY_CONTEXT_KEY: log.entropies})
    emission = compute_epoch_emission(config.emission, config.token, window, config.epochs.genesis_ts)
    split = split_by_basis_points(emission, config.rewards.categories).amounts
    flow = split_by_basis_points(split["data_transfer"], {"witnesses": 8000, "beacons": 2000}).amounts
    pools = split["beacons"] + split["witnesses"] + flow["beacons"] + flow["witnesses"]
    paid = sum(mode.paid.values())
    assert 0 < pools - paid < 2 * len(fleet.ids)
    assert mode.cumulative and sum(mode.cumulative.values()) == paid
    assert "wireless" in mode.state and mode.trust_ppm
