"""Deployment parameters from network.toml (token, schedule, oracles, role keys, price, fee)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from opendepin.chain.deploy import ensure_deployed, params_from_config
from opendepin.chain.embedded import EmbeddedBackend
from opendepin.chain.keys import load_or_create_keys
from opendepin.chain.schedule import compute_emission_cap
from opendepin.config import ChainConfig, MakerConfig, NetworkConfig
from tests.chain.helpers import addr_of, key_of


def test_params_follow_the_config(tmp_path: Path) -> None:
    maker = addr_of(key_of(800))
    config = NetworkConfig(
        chain=ChainConfig(oracle_count=3, oracle_threshold=2), makers=[MakerConfig(name="m", address=maker)]
    )
    keys = load_or_create_keys(tmp_path, 3, 2)
    params = params_from_config(config, keys)
    assert (params.token_symbol, params.max_supply) == ("ODP", config.token.max_supply_units)
    assert params.emission_cap == compute_emission_cap(config.emission, config.token, config.epochs)
    assert params.oracles == keys.oracle_addresses and params.oracle_threshold == 2
    assert (params.admin, params.pauser, params.feeder) == tuple(
        keys.address(role) for role in ("admin", "pauser", "feeder")
    )
    assert params.makers[0] == maker and keys.maker_addresses[0] in params.makers
    assert (params.epoch_genesis_ts, params.epoch_seconds) == (config.epochs.genesis_ts, 86_400)
    assert params_from_config(config, keys, onboarding_fee_dc=5).onboarding_fee_dc == 5


def test_invalid_zero_epoch_length(tmp_path: Path) -> None:
    """Regression: `epoch_seconds = 0` (the old default) let a quorum post every future epoch at once."""
    params = params_from_config(NetworkConfig(), load_or_create_keys(tmp_path))
    with pytest.raises(ValueError, match="epoch_seconds must be positive"):
        replace(params, epoch_seconds=0).check()


def test_ensure_deployed_once(tmp_path: Path) -> None:
    config = NetworkConfig()
    chain = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path))
    first = ensure_deployed(chain, config, onboarding_fee_dc=7)
    assert ensure_deployed(chain, config) == first
    assert chain.read("DeviceRegistry", "onboarding_fee") == 7
    assert chain.read("RewardsDistributor", "epoch_seconds") == 86_400
    chain.close()
