"""The network a simulated fleet runs in: a `NetworkConfig` read from a network.toml.

The default is the wireless IoT definition shipped next to this module, the same file as
`examples/wireless-iot.toml` (tested byte for byte): its category splits, `unused_flows_to` and the
wireless sector's parameters are what `depin simulate wireless` pays with, through the network's own
`process_epoch`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opendepin.config import ConfigError, NetworkConfig, load_config, parse_config

DEFAULT_NETWORK = Path(__file__).with_name("wireless-iot.toml")


def load_network(path: Path | None = None) -> NetworkConfig:
    """The network definition at `path` (default: the wireless IoT example); it must run beacon/witness
    proof of coverage (`[sectors.wireless.poc]`)."""
    config = load_config(path or DEFAULT_NETWORK)
    wireless = config.sector_params("wireless") if "wireless" in config.enabled_sectors else {}
    if wireless.get("poc") is None:
        raise ConfigError(f"{path or DEFAULT_NETWORK}: the network has no [sectors.wireless.poc] to simulate")
    return config


def with_trust(config: NetworkConfig, enabled: bool) -> NetworkConfig:
    """The same network with the trust detectors on or off (`[sectors.wireless.poc.trust] enabled`): off
    leaves Helium's per-report rules alone, the baseline the detection is measured against."""
    data: dict[str, Any] = config.model_dump(mode="json")
    poc = data["sectors"]["wireless"].setdefault("poc", {})
    poc["trust"] = {**(poc.get("trust") or {}), "enabled": enabled}
    return parse_config(data)
