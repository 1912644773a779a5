"""Deployment parameters from `network.toml` and first-start deployment (issue 3, `depin chain deploy`).

Values not yet in `ChainConfig` (credit price, onboarding fee, price bounds, genesis allocation, timelock
delay) are read from it when present and otherwise take the documented defaults of `DeployParams`. Role
addresses (admin, pauser, feeder, router, oracles, makers) come from the data dir's keystore without
decrypting.
"""

from __future__ import annotations

from typing import Any

from opendepin.chain.backend import ChainBackend, DeployParams, usd_to_wad
from opendepin.chain.keys import ChainKeys
from opendepin.chain.schedule import compute_emission_cap
from opendepin.config import NetworkConfig

_OPTIONAL_CHAIN_FIELDS: dict[str, str] = {
    "dc_price_usd": "dc_price_usd_wad",
    "onboarding_fee_dc": "onboarding_fee_dc",
    "price_max_age_seconds": "price_max_age_seconds",
    "price_max_change_bps": "price_max_change_bps",
    "price_change_period_seconds": "price_change_period_seconds",
    "timelock_delay_seconds": "timelock_delay_seconds",
    "initial_price_usd": "initial_price_usd_wad",
    "genesis_amount": "genesis_amount",
}


def params_from_config(config: NetworkConfig, keys: ChainKeys, **overrides: Any) -> DeployParams:
    """DeployParams for `config`: token, on-chain schedule cap, epoch clock, and the data dir's role keys
    (admin, pauser, feeder, oracles; makers from the config and the keystore)."""
    values: dict[str, Any] = {
        "token_name": config.token.name,
        "token_symbol": config.token.symbol,
        "decimals": config.token.decimals,
        "max_supply": config.token.max_supply_units,
        "emission_cap": compute_emission_cap(config.emission, config.token, config.epochs),
        "oracles": keys.oracle_addresses,
        "oracle_threshold": keys.threshold,
        "admin": keys.address("admin"),
        "pauser": keys.address("pauser"),
        "feeder": keys.address("feeder"),
        "epoch_genesis_ts": config.epochs.genesis_ts,
        "epoch_seconds": config.epochs.length_seconds,
        "makers": tuple(dict.fromkeys([*(m.address for m in config.makers), *keys.maker_addresses])),
        "routers": (keys.address("router"),),
    }
    for field, param in _OPTIONAL_CHAIN_FIELDS.items():
        value = getattr(config.chain, field, None)
        if value is not None:
            values[param] = usd_to_wad(value) if param.endswith("_usd_wad") else int(value)
    values.update(overrides)  # e.g. onboarding_fee_dc=0
    return DeployParams(**values)


def ensure_deployed(backend: ChainBackend, config: NetworkConfig, **overrides: Any) -> dict[str, str]:
    """The recorded contracts of `backend`, deploying on first start (`overrides`: DeployParams fields)."""
    if backend.is_deployed():
        return backend.contracts
    return backend.deploy(params_from_config(config, backend.keys, **overrides))
