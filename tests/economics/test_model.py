"""The vectorised model: closed-form BME checks, conservation, oracle, devices, sweeps and seeds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.economics.batch import Batch, StructureMismatchError
from opendepin.economics.inputs import build_inputs
from opendepin.economics.model import simulate
from opendepin.economics.spec import (
    BurnMintSpec,
    DeviceTypeSpec,
    FilecoinSchedule,
    HalvingSchedule,
    OracleSpec,
    PriceSpec,
    RewardsSpec,
    SectorSpec,
    SellingSpec,
    ShockSpec,
    TokenSpec,
    UsagePolicySpec,
)
from tests.economics.helpers import steady_scenario

REL = 1e-6  # records are float32


def test_price_at_equilibrium_burns_what_is_minted() -> None:
    """P = D / M ⇒ B = D / P = M every day: net emissions 0, supply constant, B/M = 1."""
    spec = steady_scenario(price=PriceSpec(kind="gbm", initial=10_000 / 100, volatility_per_year=0.0))
    result = simulate((spec,), 3, seed=0)
    assert result.channel("minted") == pytest.approx(np.full((200, 3), 100.0), rel=REL)
    assert result.channel("burned") == pytest.approx(result.channel("minted"), rel=REL)
    assert result.channel("supply") == pytest.approx(np.full((200, 3), 1_000_000.0), rel=REL)


def test_price_above_equilibrium_is_inflationary() -> None:
    """P = 2 · D/M ⇒ B = M/2: supply grows by M/2 a day."""
    spec = steady_scenario(price=PriceSpec(kind="gbm", initial=200.0, volatility_per_year=0.0))
    result = simulate((spec,), 2, seed=0)
    assert result.channel("burned")[-1] == pytest.approx([50.0, 50.0], rel=REL)
    assert result.channel("supply")[-1] == pytest.approx([1_000_000 + 200 * 50.0] * 2, rel=REL)


def test_market_price_converges_to_d_over_m() -> None:
    """A market where every recipient sells all of every mint (the fixed rule) settles at P* = D / M."""
    spec = steady_scenario(
        days=2_000,
        selling=SellingSpec(rule="fixed"),
        price=PriceSpec(
            kind="market",
            initial=20.0,
            volatility_per_year=0.0,
            impact=2.0,
            depth_usd=50_000,
            sell_fraction=1.0,
        ),
    )
    result = simulate((spec,), 2, seed=0)
    assert result.channel("price")[-1] == pytest.approx([100.0, 100.0], rel=1e-3)
    assert result.channel("burned")[-1] == pytest.approx([100.0, 100.0], rel=1e-3)


def test_invalid_burn_never_exceeds_supply() -> None:
    """Demand worth more than every token burns the supply to zero, never below."""
    spec = steady_scenario(
        token=TokenSpec(initial_supply=10.0),
        price=PriceSpec(kind="gbm", initial=0.01, volatility_per_year=0.0),
    )
    result = simulate((spec,), 2, seed=0)
    assert np.all(result.channel("supply") >= 0.0)
    # Day 0 can burn only the 10 tokens that existed before its mint; later days burn each day's mint.
    assert result.channel("burned")[0] == pytest.approx([10.0, 10.0], rel=REL)
    assert result.channel("burned")[1:] == pytest.approx(np.full((199, 2), 100.0), rel=REL)


def test_halving_totals_through_the_model() -> None:
    spec = steady_scenario(
        days=1_460, emission=HalvingSchedule(initial_per_year=60_000_000, halving_period_days=730)
    )
    result = simulate((spec,), 2, seed=0, record_every=30)
    total = (result.channel("minted") * result.window_days[:, None]).sum(axis=0)
    assert total == pytest.approx([180e6, 180e6], rel=REL)


def test_filecoin_minting_with_power_above_baseline() -> None:
    """Raw power far above the baseline: cumulative = 1.1B (1 − e^{−λt}) = 550M at 6 years."""
    spec = steady_scenario(
        days=6 * 365,
        emission=FilecoinSchedule(),
        devices=[
            DeviceTypeSpec(
                name="miner",
                sector="svc",
                initial=1_000,
                raw_power_eib=1e6,
                join_rate_per_day=0.0,
                leave_rate_per_day=0.0,
            )
        ],
    )
    result = simulate((spec,), 2, seed=0, record_every=30)
    total = (result.channel("minted") * result.window_days[:, None]).sum(axis=0)
    assert total == pytest.approx([550e6, 550e6], rel=REL)


def test_filecoin_without_power_mints_only_the_simple_part() -> None:
    spec = steady_scenario(days=6 * 365, emission=FilecoinSchedule())
    result = simulate((spec,), 1, seed=0, record_every=365)
    total = (result.channel("minted") * result.window_days[:, None]).sum()
    assert total == pytest.approx(165e6, rel=REL)


@settings(max_examples=15, deadline=None)
@given(
    demand=st.floats(0.0, 1e6),
    price=st.floats(0.01, 100.0),
    vol=st.floats(0.0, 1.5),
    seed=st.integers(0, 2**32 - 1),
)
def test_supply_is_conserved(demand: float, price: float, vol: float, seed: int) -> None:
    """Property: S_t = S_0 + Σ M − Σ B, supply ≥ 0, burns ≤ what existed (any demand, price, noise)."""
    spec = steady_scenario(
        days=60,
        sectors=[SectorSpec(name="svc", initial_usd_per_day=demand, volatility_per_year=vol)],
        price=PriceSpec(kind="market", initial=price, volatility_per_year=vol, impact=1.0),
    )
    result = simulate((spec,), 4, seed=seed, record_every=1)
    minted, burned, supply = (result.channel(k) for k in ("minted", "burned", "supply"))
    expected = 1_000_000 + np.cumsum(minted - burned, axis=0)
    scale = 1_000_000 + np.cumsum(minted + burned, axis=0)  # float32 records: error relative to the flows
    assert np.all(np.abs(supply - expected) <= 1e-5 * scale)
    assert np.all(supply >= 0)


def test_oracle_staleness_halts_credit_minting() -> None:
    """An oracle that never updates is stale after max_staleness_days: from then on nothing is burned."""
    spec = steady_scenario(
        days=10, oracle=OracleSpec(twap_days=1, miss_probability=1.0, max_staleness_days=3)
    )
    result = simulate((spec,), 2, seed=0)
    assert result.channel("halted")[:, 0].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert np.all(result.channel("burned")[3:] == 0)
    assert result.channel("burned")[:3] == pytest.approx(np.full((3, 2), 100.0), rel=REL)


def test_twap_lags_a_price_jump() -> None:
    """A 7-day TWAP moves one seventh of a jump per day."""
    spec = steady_scenario(
        days=20,
        oracle=OracleSpec(twap_days=7),
        price=PriceSpec(
            kind="gbm", initial=100.0, volatility_per_year=0.0, shocks=[ShockSpec(day=10, factor=2.0)]
        ),
    )
    result = simulate((spec,), 1, seed=0)
    oracle = result.channel("oracle_price")[:, 0]
    assert oracle[9] == pytest.approx(100.0)
    assert oracle[10] == pytest.approx(100.0 + 100.0 / 7, rel=REL)
    assert oracle[16] == pytest.approx(200.0, rel=REL)


def test_helium_remint_is_smoothed_and_capped() -> None:
    spec = steady_scenario(days=300, burn_mint=BurnMintSpec(remint=True, remint_cap_per_day=60.0))
    result = simulate((spec,), 1, seed=0)
    remint = result.channel("remint")[:, 0]
    assert remint[0] == pytest.approx(100.0 / 7, rel=REL)
    assert remint.max() == pytest.approx(60.0, rel=REL)
    assert result.channel("minted")[-1, 0] == pytest.approx(160.0, rel=REL)


def _hotspots(**update: object) -> DeviceTypeSpec:
    base = DeviceTypeSpec(
        name="hotspot", sector="svc", hardware_cost_usd=100.0, opex_usd_per_day=1.0, initial=100
    )
    return base.model_copy(update=update)


def test_devices_leave_when_rewards_do_not_cover_opex() -> None:
    """100 tokens a day at $0.001 for 100 devices pays $0.001 each against $1 of opex: they leave."""
    spec = steady_scenario(
        price=PriceSpec(kind="gbm", initial=0.001, volatility_per_year=0.0),
        devices=[_hotspots(leave_rate_per_day=0.05)],
    )
    result = simulate((spec,), 8, seed=1)
    devices = result.channel("devices[hotspot]")
    assert devices[-1].mean() < 10
    assert result.channel("joins[hotspot]").sum() == 0


def test_devices_join_while_payback_beats_the_threshold() -> None:
    """Earnings $1 a day per device on $100 hardware with no opex: payback 100 days < 365, so they join."""
    spec = steady_scenario(
        price=PriceSpec(kind="gbm", initial=100.0, volatility_per_year=0.0),
        devices=[_hotspots(opex_usd_per_day=0.0, initial=8_000)],
    )
    result = simulate((spec,), 4, seed=1)
    devices = result.channel("devices[hotspot]")
    assert devices[0].mean() == pytest.approx(8_000 * 1.0, rel=0.01)
    assert np.all(devices[-1] > devices[0])
    earnings = result.channel("earnings_usd_per_device[hotspot]")
    # Σ rewards paid to devices (counted before the day's joins) = 80 % of the mint, at price 100.
    assert earnings[0] == pytest.approx(np.full(4, 1.0), rel=REL)
    assert earnings[1:] * devices[:-1] == pytest.approx(np.full((199, 4), 0.8 * 100 * 100.0), rel=1e-5)


def test_coverage_split_follows_weights() -> None:
    """With a policy that keeps usage weight at 0, the whole device pool pays coverage by weight × count."""
    spec = steady_scenario(
        rewards=RewardsSpec(usage=UsagePolicySpec(weight=[(0.0, 0.0)])),
        devices=[
            _hotspots(name="big", reward_weight=3.0, join_rate_per_day=0.0, leave_rate_per_day=0.0),
            _hotspots(name="small", reward_weight=1.0, join_rate_per_day=0.0, leave_rate_per_day=0.0),
        ],
    )
    result = simulate((spec,), 1, seed=0)
    big, small = result.channel("tokens_per_device[big]"), result.channel("tokens_per_device[small]")
    assert big[0, 0] == pytest.approx(3 * small[0, 0], rel=REL)
    assert 100 * (big[0, 0] + small[0, 0]) == pytest.approx(80.0, rel=REL)


def test_parameter_sets_are_columns_of_one_batch() -> None:
    low = steady_scenario(price=PriceSpec(kind="gbm", initial=50.0, volatility_per_year=0.0))
    high = steady_scenario(price=PriceSpec(kind="gbm", initial=200.0, volatility_per_year=0.0))
    result = simulate((low, high), 3, seed=0)
    assert result.set_index.tolist() == [0, 0, 0, 1, 1, 1]
    assert result.channel("burned")[0] == pytest.approx([200.0] * 3 + [50.0] * 3, rel=REL)


def test_invalid_sets_of_different_structure() -> None:
    other = steady_scenario(devices=[_hotspots()])
    with pytest.raises(StructureMismatchError, match="numbers only"):
        simulate((steady_scenario(), other), 1)


def test_seeds_reproduce_and_differ() -> None:
    spec = steady_scenario(price=PriceSpec(kind="gbm", initial=100.0, volatility_per_year=0.8))
    a, b, c = (simulate((spec,), 5, seed=s).channel("price") for s in (7, 7, 8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_mean_demand_follows_the_trend_despite_noise() -> None:
    """The log walk is mean-preserving: across runs, mean demand ≈ the deterministic trend."""
    spec = steady_scenario(
        days=365, sectors=[SectorSpec(name="svc", initial_usd_per_day=1_000, volatility_per_year=0.5)]
    )
    demand = simulate((spec,), 4_000, seed=3, record_every=365).channel("demand_usd")
    assert demand.mean() == pytest.approx(1_000, rel=0.02)


def test_scarcity_pricing_keeps_burns_within_the_tradable_share() -> None:
    """Market model with max_burn_share_per_day = 1 %: $10,000 of demand against 1,000 tokens lifts the
    price to D / (0.01 · S) = $1,000 and burns exactly 1 % of the supply that day."""
    spec = steady_scenario(
        days=30,
        token=TokenSpec(initial_supply=1_000.0),
        price=PriceSpec(kind="market", initial=1.0, volatility_per_year=0.0, max_burn_share_per_day=0.01),
    )
    result = simulate((spec,), 2, seed=0)
    supply, burned, price = (result.channel(k) for k in ("supply", "burned", "price"))
    assert price[0] == pytest.approx([1_000.0, 1_000.0], rel=REL)
    assert burned[0] == pytest.approx([10.0, 10.0], rel=REL)
    before = np.vstack([np.full((1, 2), 1_000.0), supply[:-1]])
    assert np.all(burned <= 0.01 * before * (1 + 1e-5))
    assert np.all(supply > 0)


def test_invalid_scarcity_pricing_outside_the_market_model() -> None:
    with pytest.raises(ValueError, match="max_burn_share_per_day"):
        PriceSpec(kind="gbm", max_burn_share_per_day=0.01)


def test_a_sector_without_a_limit_serves_all_even_without_devices() -> None:
    """A capacity-limited sector next to an unlimited one that no device type serves: the unlimited sector
    serves all of its demand (it used to become inf × 0 = NaN and poison supply and price)."""
    spec = steady_scenario(
        days=10,
        sectors=[
            SectorSpec(name="svc", initial_usd_per_day=10_000, capacity_usd_per_device_day=1.0),
            SectorSpec(name="free", initial_usd_per_day=500),
        ],
        devices=[_hotspots(join_rate_per_day=0.0, leave_rate_per_day=0.0)],
    )
    result = simulate((spec,), 2, seed=0)
    assert result.channel("served_usd") == pytest.approx(np.full((10, 2), 100 * 1.0 + 500), rel=REL)
    assert np.all(np.isfinite(result.channel("supply")))


@pytest.mark.parametrize("kind", ["market", "gbm"])
def test_the_plain_kernel_walks_the_same_paths_as_the_general_one(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without devices, oracle, re-mint or agents the lean kernel runs: the same paths, to the bit."""
    from opendepin.economics import kernel

    spec = steady_scenario(
        days=400,
        selling=SellingSpec(rule="fixed"),
        emission=HalvingSchedule(initial_per_year=36_500, halving_period_days=150),
        price=PriceSpec(kind=kind, initial=50.0, volatility_per_year=0.6)
        if kind == "gbm"
        else PriceSpec(kind=kind, initial=50.0, volatility_per_year=0.6, impact=0.3, depth_usd=50_000),
        sectors=[
            SectorSpec(name="a", initial_usd_per_day=4_000, volatility_per_year=0.4),
            SectorSpec(name="b", initial_usd_per_day=9_000, volatility_per_year=0.2),
        ],
    )
    inputs = build_inputs(Batch((spec,), 1))
    assert kernel.is_plain(inputs.flags, inputs.types)
    lean = simulate((spec,), 12, seed=9, record_every=7)
    monkeypatch.setattr(kernel, "is_plain", lambda flags, types: False)
    general = simulate((spec,), 12, seed=9, record_every=7)
    np.testing.assert_array_equal(lean.records, general.records)
    assert float(np.std(lean.channel("price")[-1])) > 0  # random paths, not a constant


def test_only_the_requested_channels_are_recorded() -> None:
    spec = steady_scenario(days=100)
    full = simulate((spec,), 4, seed=1, record_every=5)
    some = simulate((spec,), 4, seed=1, record_every=5, channels=("supply", "burned", "oracle_price"))
    assert some.layout.recorded == ("supply", "price", "burned")  # the oracle price is the spot price here
    np.testing.assert_array_equal(some.channel("supply"), full.channel("supply"))
    np.testing.assert_array_equal(some.channel("oracle_price"), full.channel("price"))
    with pytest.raises(KeyError):
        some.channel("minted")
