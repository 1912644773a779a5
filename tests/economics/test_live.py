"""Live data through the store interface and the chain: paid (not emitted), rewarded devices, refusals,
burns on the chain, and a forecast withheld for a network too small to calibrate one."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from opendepin.config import NetworkConfig
from opendepin.economics.live import (
    MIN_FORECAST_DEVICES,
    LiveDataError,
    calibrate,
    compute_growth_per_day,
    compute_live_metrics,
    compute_totals,
    forecast_readiness,
    read_chain,
    read_live_data,
)
from opendepin.economics.scenarios import load_scenario
from opendepin.sectors.base import DeviceInfo
from opendepin.store.base import EpochRecord, Rejection
from opendepin.store.factory import open_store

GENESIS = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
UNIT = 10**18
NETWORK_TOML = """
name = "testnet"
[token]
symbol = "TST"
[emission]
kind = "fixed"
per_year = 36500000
[epochs]
length_seconds = 86400
genesis = 2026-01-01T00:00:00Z
"""


def write_store(data_dir: Path, epochs: int = 5, devices: int = 20, store_toml: str = "") -> Path:
    """Epochs of one day whose schedule allows 100,000 tokens and which pay 60,000 to devices (the rest has
    no recipient); half the devices from genesis, the rest from day 2; the rewarded devices grow from half
    to all; two refused reports a day."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "network.toml").write_text(NETWORK_TOML + store_toml)
    store = open_store(NetworkConfig.model_validate(tomllib.loads(NETWORK_TOML + store_toml)).store, data_dir)
    try:
        for d in range(devices):
            onboarded = GENESIS + (0 if d < devices // 2 else 2 * DAY)
            store.add_device(
                DeviceInfo(f"dev{d}", "0x" + "11" * 20, "0x" + "22" * 20, "ed25519", None, onboarded), {}
            )
        for n in range(epochs):
            start = GENESIS + n * DAY
            rewarded = devices // 2 if n < 2 else devices
            manifest = {
                "number": n,
                "emitted": 100_000 * UNIT,
                "paid": 60_000 * UNIT,
                "rewarded_devices": rewarded,
                "reports": 10 * rewarded,
                "ingest_rejections": {"signature.invalid": 2},
                "invalid_by_reason": {"heartbeat.too_far": 1},
                "usage": {"credits": 1_000 * n, "value_usd": str(0.01 * n)},
                "root": "0x00",
            }
            store.save_epoch(EpochRecord(n, start, start + DAY, manifest, {}))
            for k in range(2):
                store.append([], [Rejection("signature.invalid", "bad", start + 60 + k, source="test")])
    finally:
        store.close()
    return data_dir / "depin.sqlite"


def test_minted_is_what_was_paid_not_the_emission(tmp_path: Path) -> None:
    write_store(tmp_path)
    live = read_live_data(tmp_path)
    metrics = compute_live_metrics(live, price_usd=0.5)
    assert metrics["emitted"].to_list() == [100_000.0] * 5
    assert metrics["minted"].to_list() == [60_000.0] * 5
    assert metrics["unminted"].to_list() == [40_000.0] * 5
    assert metrics["supply_paid"].to_list()[-1] == 300_000.0
    assert metrics["devices_rewarded"].to_list() == [10.0, 10.0, 20.0, 20.0, 20.0]
    assert metrics["devices_onboarded"].to_list() == [10.0, 20.0, 20.0, 20.0, 20.0]
    # reward per rewarded device (not per reporting or onboarded one)
    assert metrics["tokens_per_rewarded_device_per_day"].to_list() == [
        6_000.0,
        6_000.0,
        3_000.0,
        3_000.0,
        3_000.0,
    ]
    assert metrics["usd_per_rewarded_device_per_day"].to_list()[-1] == 1_500.0
    assert metrics["rejected_reports"].to_list() == [2.0] * 5
    assert metrics["usage_credits"].to_list() == [0, 1_000, 2_000, 3_000, 4_000]
    assert live.rejections == {"signature.invalid": 10}
    assert live.chain is None and "no chain deployment" in live.chain_note


def test_totals_without_a_chain_say_burns_are_unknown(tmp_path: Path) -> None:
    write_store(tmp_path)
    live = read_live_data(tmp_path)
    metrics = compute_live_metrics(live, 1.0)
    totals = compute_totals(live, metrics, price_usd=None)
    assert totals.paid == 300_000.0 and totals.emitted == 500_000.0
    assert totals.burned is None and totals.burn_mint_ratio is None
    assert totals.price_source.startswith("assumed")


def test_a_tiny_network_gets_no_forecast(tmp_path: Path) -> None:
    write_store(tmp_path)
    metrics = compute_live_metrics(read_live_data(tmp_path), 1.0)
    ready, why = forecast_readiness(metrics)
    assert not ready
    assert "5 closed epochs" in why and f"20 rewarded devices (at least {MIN_FORECAST_DEVICES}" in why


def test_a_network_with_history_and_devices_can_be_forecast(tmp_path: Path) -> None:
    write_store(tmp_path, epochs=15, devices=200)
    metrics = compute_live_metrics(read_live_data(tmp_path), 1.0)
    assert forecast_readiness(metrics)[0]


def test_calibrated_forecast_starts_from_the_network(tmp_path: Path) -> None:
    write_store(tmp_path)
    live = read_live_data(tmp_path)
    metrics = compute_live_metrics(live, 1.0)
    totals = compute_totals(live, metrics, price_usd=0.25)
    calibration = calibrate(load_scenario("bootstrap"), live, metrics, totals)
    spec = calibration.scenario
    assert spec.start_day == 5 and spec.token.initial_supply == 300_000.0
    assert spec.price.initial == 0.25
    assert calibration.devices == 20.0 and spec.devices[0].initial == 20.0
    assert calibration.observed_growth_per_day == pytest.approx(np.log(2) / 4)
    assert calibration.demand_usd_per_day == 0.0  # no chain: no burns observed
    assert spec.sectors[0].initial_usd_per_day == 0.0
    assumed = calibrate(load_scenario("bootstrap"), live, metrics, totals, demand_usd_per_day=40.0)
    assert assumed.scenario.sectors[0].initial_usd_per_day == 40.0
    assert assumed.demand_source == "assumed on the command line"


def test_growth_needs_two_points() -> None:
    assert compute_growth_per_day(np.array([1.0]), np.array([5.0])) == 0.0
    assert compute_growth_per_day(np.array([1.0, 2.0]), np.array([0.0, 5.0])) == 0.0


def test_invalid_missing_store(tmp_path: Path) -> None:
    with pytest.raises(LiveDataError, match="depin up"):
        read_live_data(tmp_path)


def test_invalid_store_without_epochs(tmp_path: Path) -> None:
    write_store(tmp_path, epochs=0)
    with pytest.raises(LiveDataError, match="no closed epoch"):
        compute_live_metrics(read_live_data(tmp_path), 1.0)


@pytest.mark.slow
def test_burns_are_read_from_the_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens burned for credits on the embedded chain appear as the network's burns, at the oracle price."""
    from opendepin.chain.deploy import ensure_deployed
    from opendepin.chain.factory import open_backend

    monkeypatch.setenv("DEPIN_KEYSTORE_FAST_KDF", "1")
    monkeypatch.setenv("DEPIN_KEYSTORE_PASSWORD", "test-password")
    write_store(tmp_path)
    network = read_live_data(tmp_path).network
    with open_backend(tmp_path, network.chain) as backend:
        ensure_deployed(backend, network, genesis_amount=1_000 * UNIT)
        backend.set_price(Decimal(1))  # fresh (a move beyond ±20 % a period is refused)
        purchase = backend.buy_credits(Decimal(5))  # the operator holds the genesis allocation
    chain, note = read_chain(tmp_path, network)
    assert chain is not None and "embedded" in note
    assert chain.total_burned == purchase.tokens_burned == 5 * UNIT
    live = read_live_data(tmp_path)
    metrics = compute_live_metrics(live, 1.0)
    totals = compute_totals(live, metrics, price_usd=None)
    assert totals.burned == 5.0 and totals.price_usd == 1.0 and totals.price_source == "the chain's oracle"
    assert totals.burn_mint_ratio == pytest.approx(5.0 / 300_000)
    assert totals.supply == 1_000 - 5.0
    calibration = calibrate(load_scenario("bootstrap"), live, metrics, totals)
    assert calibration.demand_usd_per_day == pytest.approx(5.0 / 5)  # $5 burned over 5 days


@pytest.mark.integration
def test_a_postgresql_backed_network_is_read_through_the_store_interface(tmp_path: Path) -> None:
    from tests.store.pg import postgres_database

    with postgres_database() as dsn:
        write_store(tmp_path, store_toml=f'\n[store]\nkind = "postgres"\ndsn = "{dsn}"\n')
        assert not (tmp_path / "depin.sqlite").exists()
        live = read_live_data(tmp_path)
        assert live.store_kind == "postgres"
        metrics = compute_live_metrics(live, 1.0)
        assert metrics["minted"].to_list() == [60_000.0] * 5
        assert live.rejections == {"signature.invalid": 10}
