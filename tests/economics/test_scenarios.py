"""Scenario files: the shipped ones, a user's own file, the network's parameters, overrides and sweeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from opendepin.config import DecliningEmission, NetworkConfig, RewardsConfig, SectorConfig, TokenConfig
from opendepin.economics.model import simulate
from opendepin.economics.scenarios import (
    ScenarioError,
    list_scenarios,
    load_scenario,
    with_network,
    with_overrides,
)
from opendepin.economics.spec import DecliningSchedule, SweepSpec
from opendepin.economics.sweeps import expand_sweep

SHIPPED = {"bootstrap", "demand-stall", "price-crash", "halving-shock", "growth"}


def test_shipped_scenarios_load_by_name() -> None:
    assert set(list_scenarios()) >= SHIPPED
    for name in SHIPPED:
        spec = load_scenario(name)
        assert spec.name == name
        assert spec.description


def test_a_user_file_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ndays = 30\n[[sectors]]\nname = "svc"\ninitial_usd_per_day = 5\n')
    spec = load_scenario(str(path))
    assert (spec.name, spec.days, spec.sectors[0].initial_usd_per_day) == ("mine", 30, 5.0)


def test_invalid_unknown_scenario_names_the_shipped_ones() -> None:
    with pytest.raises(ScenarioError, match="bootstrap"):
        load_scenario("no-such-scenario")


def test_invalid_scenario_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[price]\ninitial = -1\n")
    with pytest.raises(ScenarioError, match=r"price\.initial"):
        load_scenario(path)


def test_invalid_device_sector_reference(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[sectors]]\nname = "a"\n[[devices]]\nname = "d"\nsector = "b"\n')
    with pytest.raises(ScenarioError, match="sector 'b'"):
        load_scenario(path)


def test_network_parameters_replace_the_scenarios() -> None:
    network = NetworkConfig(
        token=TokenConfig(symbol="NET", max_supply=5_000_000),
        emission=DecliningEmission(initial_per_year=1_000, factor=0.5, period_days=100),
        rewards=RewardsConfig(
            categories={"coverage": 6_000, "ops": 4_000}, device_categories=["coverage"], unused_flows_to={}
        ),
        sectors={"wireless": SectorConfig(usage_category="")},  # type: ignore[call-arg]
    )
    spec = with_network(load_scenario("growth"), network)
    assert spec.emission == DecliningSchedule(initial_per_year=1_000, factor=0.5, period_days=100)
    assert (spec.token.symbol, spec.token.max_supply) == ("NET", 5_000_000)
    assert spec.rewards.device_share == pytest.approx(0.6)
    assert spec.sectors == load_scenario("growth").sectors


def test_overrides_by_dotted_path_and_name() -> None:
    spec = with_overrides(
        load_scenario("growth"), {"price.initial": 2.0, "devices.hotspot.hardware_cost_usd": 99}
    )
    assert spec.price.initial == 2.0
    assert next(d for d in spec.devices if d.name == "hotspot").hardware_cost_usd == 99


def test_invalid_override_path() -> None:
    with pytest.raises(ScenarioError, match="no devices entry named 'nope'"):
        with_overrides(load_scenario("growth"), {"devices.nope.initial": 1})


def test_grid_and_random_sweeps() -> None:
    grid = load_scenario("bootstrap").model_copy(
        update={"sweep": SweepSpec(kind="grid", values={"price.initial": [0.1, 0.2], "seed": [1, 2, 3]})}
    )
    variants, sets = expand_sweep(grid)
    assert len(variants) == 6
    assert sets[0] == {"price.initial": 0.1, "seed": 1}
    assert [v.price.initial for v in variants] == [0.1, 0.1, 0.1, 0.2, 0.2, 0.2]
    rand = grid.model_copy(
        update={"sweep": SweepSpec(kind="random", ranges={"price.initial": (1.0, 2.0)}, samples=5, seed=4)}
    )
    variants, sets = expand_sweep(rand)
    assert len(variants) == 5
    assert all(1.0 <= v.price.initial <= 2.0 for v in variants)
    assert expand_sweep(rand)[1] == sets  # seeded


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_scenarios_simulate_to_finite_paths(name: str) -> None:
    """Every shipped scenario runs (3 runs, 1 year) with finite, non-negative supply, price and devices."""
    spec = load_scenario(name).model_copy(update={"days": 365})
    result = simulate((spec,), 3, seed=1, record_every=7)
    for channel in ("supply", "price", "minted", "burned"):
        values = result.channel(channel)
        assert np.all(np.isfinite(values)) and np.all(values >= 0), channel
    for device in spec.devices:
        assert np.all(result.channel(f"devices[{device.name}]") >= 0)
