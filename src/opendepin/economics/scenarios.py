"""Scenario files: the shipped ones by name, a user's own TOML by path, and the network's own parameters.

A network is simulated from its own `network.toml`: :func:`with_network` replaces a scenario's emission
schedule, max supply and category splits with the network's (DESIGN.md principle 4, the network is data).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from opendepin.config import NetworkConfig
from opendepin.economics.schedules import emission_from_network
from opendepin.economics.spec import RewardsSpec, ScenarioSpec, TokenSpec

SCENARIO_FOLDER = "scenario_files"


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message says which key or name is wrong and what is allowed."""


def list_scenarios() -> list[str]:
    """Names of the scenario files shipped with the package."""
    folder = resources.files("opendepin.economics").joinpath(SCENARIO_FOLDER)
    return sorted(item.name.removesuffix(".toml") for item in folder.iterdir() if item.name.endswith(".toml"))


def parse_scenario(data: Mapping[str, Any], source: str) -> ScenarioSpec:
    """Validate a parsed scenario table; errors name each wrong key."""
    try:
        return ScenarioSpec.model_validate(dict(data))
    except ValidationError as error:
        lines = [
            f"{'.'.join(str(p) for p in item['loc']) or '(root)'}: {item['msg']}" for item in error.errors()
        ]
        raise ScenarioError(f"invalid scenario {source}:\n  " + "\n  ".join(lines)) from None


def load_scenario(name_or_path: str | Path) -> ScenarioSpec:
    """A shipped scenario by name (`bootstrap`, `growth`, …) or a TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ScenarioError(f"{path}: no such scenario file") from None
        source = str(path)
    else:
        names = list_scenarios()
        if str(name_or_path) not in names:
            raise ScenarioError(
                f"unknown scenario {name_or_path!r}; shipped: {', '.join(names)}, or pass a .toml path"
            )
        text = (
            resources.files("opendepin.economics")
            .joinpath(SCENARIO_FOLDER, f"{name_or_path}.toml")
            .read_text()
        )
        source = f"{name_or_path} (shipped)"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{source}: not valid TOML: {error}") from None
    return parse_scenario(data, source)


def with_network(spec: ScenarioSpec, network: NetworkConfig) -> ScenarioSpec:
    """The scenario with the network's emission schedule, max supply, symbol and category splits."""
    token = TokenSpec(
        symbol=network.token.symbol,
        max_supply=float(network.token.max_supply),
        initial_supply=spec.token.initial_supply,
    )
    rewards = RewardsSpec(
        categories=dict(network.rewards.categories), device_categories=list(network.rewards.device_categories)
    )
    return spec.model_copy(
        update={"token": token, "emission": emission_from_network(network.emission), "rewards": rewards}
    )


def _set_path(table: dict[str, Any], parts: list[str], value: float, dotted: str) -> None:
    key, rest = parts[0], parts[1:]
    if key not in table:
        raise ScenarioError(f"{dotted}: no key {key!r} here; available: {', '.join(sorted(table))}")
    if not rest:
        table[key] = value
        return
    child = table[key]
    if isinstance(child, list):
        named = [item for item in child if isinstance(item, dict) and item.get("name") == rest[0]]
        if not named:
            names = [item.get("name") for item in child if isinstance(item, dict)]
            raise ScenarioError(f"{dotted}: no {key} entry named {rest[0]!r}; names: {names}")
        _set_path(named[0], rest[1:], value, dotted)
    elif isinstance(child, dict):
        _set_path(child, rest, value, dotted)
    else:
        raise ScenarioError(f"{dotted}: {key!r} is a value, not a table")


def with_overrides(spec: ScenarioSpec, overrides: Mapping[str, float]) -> ScenarioSpec:
    """Set numbers by dotted path, e.g. `price.initial` or `devices.hotspot.hardware_cost_usd`
    (list entries are chosen by their `name`)."""
    data = spec.model_dump()
    for dotted, value in overrides.items():
        _set_path(data, dotted.split("."), value, dotted)
    return parse_scenario(data, f"{spec.name} with {dict(overrides)}")
