"""Scenario files: the shipped ones by name, a user's own TOML by path, and the network's own parameters.

A network is simulated from its own `network.toml`: :func:`with_network` replaces a scenario's emission
schedule, max supply, category splits and reward policy with the network's, so that the forecast follows the
same definition the epoch engine pays by (the network is data, not code).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from opendepin.config import BASIS_POINTS, ConfigError, NetworkConfig
from opendepin.economics.schedules import emission_from_network
from opendepin.economics.spec import RewardsSpec, ScenarioSpec, TokenSpec, UsagePolicySpec

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


def network_usage_categories(network: NetworkConfig) -> list[str]:
    """The device categories the network's enabled sectors pay for metered usage (their plug-ins say)."""
    from opendepin.sectors.registry import load_sectors  # loads the sector plug-ins: only when asked

    try:
        plugins = load_sectors(network)
    except ConfigError as error:
        raise ScenarioError(f"the network's sectors cannot be loaded: {error}") from None
    return sorted({category for plugin in plugins.values() if (category := plugin.usage_category())})


def compute_flow_to_coverage(
    flows: Mapping[str, Mapping[str, int]], usage: Sequence[str], categories: Mapping[str, int]
) -> float:
    """Share of unpaid usage pay that reaches coverage categories by `unused_flows_to`.

    A unit left in usage category c reaches coverage with reach(c) = Σ_t bp(c→t)/10,000 · reach(t), where
    reach(t) = 1 for a device category that is not a usage category, and reach(c) = 0 when c has no flow
    (it stays unminted). The simulator pools the usage categories, so their reaches are averaged by the
    categories' basis points (equal weights if all have none). The network validates flows as acyclic.
    """

    def reach(category: str) -> float:
        if category not in usage:
            return 1.0
        targets = flows.get(category, {})
        return sum(bp / BASIS_POINTS * reach(target) for target, bp in targets.items())

    if not usage:
        return 1.0
    shares = [float(categories.get(c, 0)) for c in usage]
    if sum(shares) == 0:
        shares = [1.0] * len(usage)
    return sum(share * reach(c) for share, c in zip(shares, usage, strict=True)) / sum(shares)


def usage_policy_from_network(network: NetworkConfig, usage_categories: Sequence[str]) -> UsagePolicySpec:
    """The network's `[rewards.usage]` policy for the simulator: its points and cap, and the share of unpaid
    usage pay its `unused_flows_to` sends to coverage. A network whose sectors meter no usage pays its whole
    device part to coverage (the engine applies no usage weight then): w = 0 at every ratio."""
    rewards = network.rewards
    if not usage_categories:
        return UsagePolicySpec(weight=[(0.0, 0.0)], cap=rewards.usage.cap)
    return UsagePolicySpec(
        weight=[(float(r), float(w)) for r, w in rewards.usage.weight],
        cap=float(rewards.usage.cap),
        unused_to_coverage=compute_flow_to_coverage(
            rewards.unused_flows_to, usage_categories, rewards.categories
        ),
    )


def with_network(
    spec: ScenarioSpec, network: NetworkConfig, usage_categories: Sequence[str] | None = None
) -> ScenarioSpec:
    """The scenario with the network's emission schedule, max supply, symbol, category splits, reward policy
    and credit price. `usage_categories` are the categories the network's sectors pay for usage (default:
    asked of the sector plug-ins it enables)."""
    token = TokenSpec(
        symbol=network.token.symbol,
        max_supply=float(network.token.max_supply),
        initial_supply=spec.token.initial_supply,
    )
    categories = network_usage_categories(network) if usage_categories is None else list(usage_categories)
    rewards = RewardsSpec(
        categories=dict(network.rewards.categories),
        device_categories=list(network.rewards.device_categories),
        usage=usage_policy_from_network(network, categories),
    )
    burn_mint = spec.burn_mint.model_copy(update={"credit_usd": float(network.rewards.usage.credit_usd)})
    return spec.model_copy(
        update={
            "token": token,
            "emission": emission_from_network(network.emission),
            "rewards": rewards,
            "burn_mint": burn_mint,
        }
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
