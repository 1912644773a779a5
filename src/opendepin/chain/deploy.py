"""Deployment parameters from `network.toml` and first-start deployment (issue 3, `depin chain deploy`).

Values not yet in `ChainConfig` (credit price, onboarding fee, price bounds, genesis allocation) are read
from it when present and otherwise take the documented defaults of `DeployParams`.
"""

from __future__ import annotations

from typing import Any

from opendepin.chain.backend import ChainBackend, DeployParams, usd_to_wad
from opendepin.chain.keys import ChainKeys
from opendepin.chain.schedule import compute_emission_cap
from opendepin.chain.signing import address_of
from opendepin.config import NetworkConfig

_OPTIONAL_CHAIN_FIELDS: dict[str, str] = {
    "dc_price_usd": "dc_price_usd_wad",
    "onboarding_fee_dc": "onboarding_fee_dc",
    "price_max_age_seconds": "price_max_age_seconds",
    "price_max_change_bps": "price_max_change_bps",
    "initial_price_usd": "initial_price_usd_wad",
    "genesis_amount": "genesis_amount",
}


def params_from_config(config: NetworkConfig, keys: ChainKeys, **overrides: Any) -> DeployParams:
    """DeployParams for `config`: token, on-chain schedule cap, oracles, makers (config + data dir keys)."""
    values: dict[str, Any] = {
        "token_name": config.token.name,
        "token_symbol": config.token.symbol,
        "decimals": config.token.decimals,
        "max_supply": config.token.max_supply_units,
        "emission_cap": compute_emission_cap(config.emission, config.token, config.epochs),
        "oracles": tuple(address_of(k) for k in keys.oracles),
        "oracle_threshold": keys.threshold,
        "epoch_genesis_ts": config.epochs.genesis_ts,
        "epoch_seconds": config.epochs.length_seconds,
        "makers": tuple(
            dict.fromkeys([*(m.address for m in config.makers), *(address_of(k) for k in keys.makers)])
        ),
    }
    for field, param in _OPTIONAL_CHAIN_FIELDS.items():
        value = getattr(config.chain, field, None)
        if value is not None:
            values[param] = usd_to_wad(value) if param.endswith("_usd_wad") else int(value)
    values.update(overrides)  # e.g. epoch_seconds=0 when epochs run ahead of the chain's clock
    return DeployParams(**values)


def ensure_deployed(backend: ChainBackend, config: NetworkConfig, **overrides: Any) -> dict[str, str]:
    """The recorded contracts of `backend`, deploying on first start (`overrides`: DeployParams fields)."""
    if backend.is_deployed():
        return backend.contracts
    return backend.deploy(params_from_config(config, backend.keys, **overrides))
