"""The reward policy in the simulator: same rule as the epoch engine, coverage weight falling as usage grows,
the usage cap, what flows back to coverage, and the policy read from a network."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.config import NetworkConfig, RewardsConfig, UsageConfig
from opendepin.economics import policy
from opendepin.economics.bme import compute_tokens_for_credits
from opendepin.economics.model import SimulationResult, simulate
from opendepin.economics.scenarios import (
    ScenarioError,
    compute_flow_to_coverage,
    load_scenario,
    parse_scenario,
    with_network,
)
from opendepin.economics.spec import (
    BurnMintSpec,
    DeviceTypeSpec,
    GrowthSpec,
    OracleSpec,
    PriceSpec,
    RewardsSpec,
    ScenarioSpec,
    SectorSpec,
    UsagePolicySpec,
)
from opendepin.rewards.policy import compute_usage_ratio as engine_ratio
from opendepin.rewards.policy import compute_usage_weight as engine_weight
from tests.economics.helpers import steady_scenario

REL = 1e-6  # records are float32
DEVICE_SHARE = 0.8  # the default splits: coverage 30 % + data transfer 50 %
EMISSION_USD = 100 * 100.0  # the steady scenario mints 100 tokens a day at $100


def _fraction_points(points: list[tuple[float, float]]) -> list[tuple[Fraction, Fraction]]:
    return [(Fraction(r), Fraction(w)) for r, w in points]


def _engine_weights(ratios: np.ndarray, points: list[tuple[float, float]]) -> np.ndarray:
    exact = _fraction_points(points)
    return np.array([float(engine_weight(Fraction(float(r)), exact)) for r in ratios])


points_strategy = st.lists(
    st.tuples(st.floats(0.0, 10.0), st.floats(0.0, 1.0)), min_size=1, max_size=6, unique_by=lambda p: p[0]
).map(sorted)


@settings(max_examples=60, deadline=None)
@given(
    points=points_strategy,
    ratios=st.lists(st.floats(0.0, 20.0) | st.sampled_from([0.0, 0.5, 1.0, 2.0, 10.0]), min_size=1),
)
def test_usage_weight_agrees_with_the_engine(points: list[tuple[float, float]], ratios: list[float]) -> None:
    """Property: the float weight (shared points: np.interp; per-column points: the segment loop) equals the
    engine's exact `compute_usage_weight` on any points and ratios, to float64 rounding."""
    r = np.array(ratios)
    expected = _engine_weights(r, points)
    xs, ws = policy.build_points([points], 1)
    assert policy.compute_usage_weight(r, xs, ws) == pytest.approx(expected, abs=1e-12)
    other = [(0.0, 0.5)]  # a second set forces the per-column (m, N) evaluation
    xs2, ws2 = policy.build_points([points, other], len(r))
    both = policy.compute_usage_weight(np.concatenate([r, r]), xs2, ws2)
    assert both[: len(r)] == pytest.approx(expected, abs=1e-12)
    assert both[len(r) :] == pytest.approx(np.full(len(r), 0.5))


@settings(max_examples=60, deadline=None)
@given(points=points_strategy, ratios=st.lists(st.floats(0.0, 20.0), min_size=1))
def test_ramps_are_the_same_function(points: list[tuple[float, float]], ratios: list[float]) -> None:
    """Property: the sum of ramps used for large batches is the engine's piecewise-linear w(r) too."""
    r = np.array(ratios)
    xs, ws = policy.build_points([points], 1)
    assert policy.compute_usage_weight_by_ramps(r, xs, ws) == pytest.approx(
        _engine_weights(r, points), abs=1e-12
    )


def test_default_weight_agrees_with_the_engine_on_many_ratios() -> None:
    """The network's default points, 20,001 ratios from 0 to 4 (both sides of the last point); a batch this
    large takes the ramps, a small one np.interp."""
    points = list(UsageConfig().weight)
    ratios = np.linspace(0.0, 4.0, 20_001)
    expected = _engine_weights(ratios, points)
    xs, ws = policy.build_points([points], 1)
    assert ratios.size >= policy.RAMP_MIN_COLUMNS
    assert policy.compute_usage_weight(ratios, xs, ws) == pytest.approx(expected, abs=1e-12)
    assert policy.compute_usage_weight(ratios[::100], xs, ws) == pytest.approx(expected[::100], abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    served=st.floats(0.0, 1e9),
    minted_units=st.integers(1, 10**27),
    price=st.floats(1e-6, 1e6),
)
def test_usage_ratio_agrees_with_the_engine(served: float, minted_units: int, price: float) -> None:
    """r = (served / P) / M is the engine's U / (E · P), E = emission units ÷ 10^18 whole tokens."""
    bought = compute_tokens_for_credits(np.array([served]), price)
    ours = policy.compute_usage_ratio(bought, np.array([minted_units / 10**18]))[0]
    exact = engine_ratio(Fraction(served), minted_units, 10**18, Fraction(price))
    assert ours == pytest.approx(float(exact), rel=1e-12)
    assert policy.compute_usage_ratio(bought, np.array([0.0]))[0] == 0.0  # nothing minted: r = 0


def test_spec_defaults_are_the_networks() -> None:
    network = UsageConfig()
    assert UsagePolicySpec().weight == list(network.weight)
    assert UsagePolicySpec().cap == network.cap
    assert BurnMintSpec().credit_usd == network.credit_usd
    assert ScenarioSpec().rewards.usage == UsagePolicySpec()


def _fleet(name: str = "hotspot", sector: str = "svc", **update: object) -> DeviceTypeSpec:
    """A fleet that neither joins nor leaves, so pay can be checked against closed forms."""
    base = DeviceTypeSpec(
        name=name,
        sector=sector,
        initial=100,
        hardware_cost_usd=100.0,
        opex_usd_per_day=0.0,
        join_rate_per_day=0.0,
        leave_rate_per_day=0.0,
    )
    return base.model_copy(update=update)


def _growing_usage(days: int = 400, **update: object) -> ScenarioSpec:
    """Demand grows linearly from $1 a day (r = 0.0001) to $20,000 a day at day 365, twice the emission's
    value ($10,000 a day: 100 tokens at $100)."""
    sector = SectorSpec(
        name="svc", initial_usd_per_day=1.0, growth=GrowthSpec(kind="linear", rate_per_year=19_999.0)
    )
    return steady_scenario(days=days, sectors=[sector], devices=[_fleet()], **update)


def _device_pay(result: SimulationResult, names: tuple[str, ...]) -> np.ndarray:
    """Tokens paid to all devices a day: Σ tokens per device × devices (counts are fixed)."""
    return np.sum(
        [result.channel(f"tokens_per_device[{n}]") * result.channel(f"devices[{n}]") for n in names], axis=0
    )


def test_coverage_weight_falls_as_usage_grows_past_the_emission() -> None:
    """The bar: with the default policy, a network whose usage grows from zero to more than its emission
    sees the usage weight go from ~0 to 0.9 along the configured points, and coverage get the rest."""
    result = simulate((_growing_usage(),), 2, seed=0, record_every=1)
    ratio, weight = result.channel("usage_ratio"), result.channel("usage_weight")
    demand = result.channel("demand_usd")
    assert ratio == pytest.approx(demand / EMISSION_USD, rel=REL)
    assert ratio[0, 0] < 1e-3 and ratio[-1, 0] > 1.5  # from ~0 to past the emission's value
    assert weight[0] == pytest.approx([0.9e-4] * 2, rel=1e-3)  # ~0: coverage takes ~all
    assert weight == pytest.approx(0.9 * np.minimum(ratio, 1.0), rel=REL, abs=1e-7)
    assert np.all(np.diff(weight[:, 0]) >= -1e-7)
    crossed = ratio[:, 0] >= 1.0
    assert crossed.any() and weight[crossed] == pytest.approx(0.9, rel=REL)
    usage, coverage = result.channel("usage_paid"), result.channel("coverage_paid")
    pool = DEVICE_SHARE * result.channel("minted")
    assert usage == pytest.approx(weight * pool, rel=1e-5, abs=1e-6)  # the cap does not bind here
    assert coverage == pytest.approx((1.0 - weight) * pool, rel=1e-5, abs=1e-6)


def test_usage_ratio_with_re_minting_and_an_oracle() -> None:
    """With re-minting (the mint is not the schedule alone) and a TWAP oracle, r is still the USD users paid
    over the mint's value at the oracle price, recorded day by day."""
    spec = _growing_usage(
        burn_mint=BurnMintSpec(remint=True, remint_cap_per_day=30.0),
        oracle=OracleSpec(twap_days=5),
        price=PriceSpec(kind="gbm", initial=100.0, volatility_per_year=0.5),
    )
    result = simulate((spec,), 3, seed=4, record_every=1)
    served, oracle, minted = (result.channel(k) for k in ("served_usd", "oracle_price", "minted"))
    assert result.channel("remint").max() > 0
    assert result.channel("usage_ratio") == pytest.approx(served / (minted * oracle), rel=1e-5)


def test_custom_points_are_followed() -> None:
    """Points (0, 0.1), (0.5, 0.3), (2, 1): flat 0.1 before 0, then two slopes, flat 1 after r = 2."""
    points = [(0.0, 0.1), (0.5, 0.3), (2.0, 1.0)]
    spec = _growing_usage(days=500, rewards=RewardsSpec(usage=UsagePolicySpec(weight=points)))
    result = simulate((spec,), 1, seed=0, record_every=1)
    ratio, weight = result.channel("usage_ratio")[:, 0], result.channel("usage_weight")[:, 0]
    assert weight == pytest.approx(_engine_weights(ratio, points), rel=REL, abs=1e-7)
    assert weight[0] == pytest.approx(0.1, rel=1e-3)
    assert ratio[-1] > 2.0 and weight[-1] == pytest.approx(1.0, rel=REL)


def test_each_parameter_set_follows_its_own_points() -> None:
    """Sets with different policies (even different numbers of points) are columns of one batch."""
    default = _growing_usage()
    step = _growing_usage(
        rewards=RewardsSpec(usage=UsagePolicySpec(weight=[(0.0, 0.2), (0.25, 0.2), (0.5, 0.6)]))
    )
    result = simulate((default, step), 1, seed=0, record_every=1)
    ratio, weight = result.channel("usage_ratio"), result.channel("usage_weight")
    assert weight[:, 0] == pytest.approx(_engine_weights(ratio[:, 0], list(UsageConfig().weight)), abs=1e-6)
    assert weight[:, 1] == pytest.approx(
        _engine_weights(ratio[:, 1], [(0.0, 0.2), (0.25, 0.2), (0.5, 0.6)]), abs=1e-6
    )


def test_the_cap_leaves_usage_pay_to_coverage() -> None:
    """r = 1, w = 0.9: a usage pool of 72 tokens, but cap 0.5 × $10,000 / $100 = 50 tokens are earned; the
    22 left flow to coverage (8 + 22 = 30). Devices are paid the whole 80 tokens."""
    spec = steady_scenario(
        days=20,
        rewards=RewardsSpec(usage=UsagePolicySpec(cap=0.5)),
        devices=[_fleet()],
    )
    result = simulate((spec,), 1, seed=0)
    assert result.channel("usage_weight")[:, 0] == pytest.approx(np.full(20, 0.9), rel=REL)
    assert result.channel("usage_paid")[:, 0] == pytest.approx(np.full(20, 50.0), rel=REL)
    assert result.channel("coverage_paid")[:, 0] == pytest.approx(np.full(20, 30.0), rel=REL)
    assert _device_pay(result, ("hotspot",))[:, 0] == pytest.approx(np.full(20, 80.0), rel=REL)


@settings(max_examples=15, deadline=None)
@given(
    cap=st.floats(0.0, 3.0),
    demand=st.floats(0.0, 1e5),
    price=st.floats(1.0, 1e3),
    vol=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_usage_pay_never_exceeds_the_cap(
    cap: float, demand: float, price: float, vol: float, seed: int
) -> None:
    """Property: usage pay ≤ cap × tokens bought for the served credits (at the oracle price), and with
    everything flowing back devices are paid the whole device pool, whatever the cap, demand and price."""
    spec = steady_scenario(
        days=40,
        sectors=[SectorSpec(name="svc", initial_usd_per_day=demand, volatility_per_year=vol)],
        price=PriceSpec(kind="market", initial=price, volatility_per_year=vol, impact=1.0),
        oracle=OracleSpec(twap_days=3),
        rewards=RewardsSpec(usage=UsagePolicySpec(cap=cap)),
        devices=[_fleet(), _fleet(name="big", reward_weight=3.0, initial=10)],
    )
    result = simulate((spec,), 3, seed=seed, record_every=1)
    served, oracle = result.channel("served_usd"), result.channel("oracle_price")
    usage = result.channel("usage_paid")
    assert np.all(usage <= cap * served / oracle * (1 + 1e-5) + 1e-9)
    pool = DEVICE_SHARE * result.channel("minted")
    assert _device_pay(result, ("hotspot", "big")) == pytest.approx(pool, rel=1e-5)
    assert usage + result.channel("coverage_paid") == pytest.approx(pool, rel=1e-5)


def test_total_device_pay_is_unchanged_by_the_policy_when_everything_flows_back() -> None:
    """Same network, coverage only vs the default policy vs a binding cap: supply, mint and the total paid
    to devices are the same every day; only who gets it changes."""
    sectors = [
        SectorSpec(name="svc", initial_usd_per_day=3_000, volatility_per_year=0.5),
        SectorSpec(name="idle", initial_usd_per_day=2_000),  # no device serves it: its usage pay flows back
    ]
    devices = [_fleet(), _fleet(name="big", reward_weight=4.0, initial=20)]
    policies = [
        UsagePolicySpec(weight=[(0.0, 0.0)]),
        UsagePolicySpec(),
        UsagePolicySpec(weight=[(0.0, 1.0)], cap=0.2),
    ]
    runs = [
        simulate(
            (steady_scenario(sectors=sectors, devices=devices, rewards=RewardsSpec(usage=p)),),
            2,
            seed=5,
            record_every=1,
        )
        for p in policies
    ]
    paid = [_device_pay(r, ("hotspot", "big")) for r in runs]
    assert paid[0] == pytest.approx(DEVICE_SHARE * runs[0].channel("minted"), rel=1e-5)
    for other, result in zip(paid[1:], runs[1:], strict=True):
        assert other == pytest.approx(paid[0], rel=1e-5)
        assert result.channel("supply") == pytest.approx(runs[0].channel("supply"), rel=REL)
    assert runs[0].channel("usage_paid").max() == 0.0
    assert runs[1].channel("usage_paid").min() > 0.0
    # Per device: usage pays each device of the served sector equally, coverage by weight × count.
    big, small = (runs[2].channel(f"tokens_per_device[{n}]") for n in ("big", "hotspot"))
    assert not np.allclose(big, 4.0 * small)


def test_usage_pay_without_a_flow_back_is_not_minted() -> None:
    """unused_to_coverage = 0 and a sector no device serves: usage pay beyond what the serving devices may
    earn is neither paid nor minted, and supply still equals S0 + Σ minted − Σ burned."""
    spec = steady_scenario(
        days=30,
        sectors=[
            SectorSpec(name="svc", initial_usd_per_day=5_000),
            SectorSpec(name="idle", initial_usd_per_day=5_000),
        ],
        rewards=RewardsSpec(usage=UsagePolicySpec(unused_to_coverage=0.0)),
        devices=[_fleet()],
    )
    result = simulate((spec,), 1, seed=0, record_every=1)
    # r = $10,000 / $10,000 = 1 → w = 0.9: a usage pool of 72 tokens. Only the $5,000 the devices carried
    # earns (as in the engine: a sector without devices has no receipts), at most 1 × 5,000 / 100 = 50
    # tokens; the 22 left have no flow, so 100 − 22 = 78 tokens are minted.
    assert result.channel("unminted")[:, 0] == pytest.approx(np.full(30, 22.0), rel=REL)
    assert result.channel("minted")[:, 0] == pytest.approx(np.full(30, 78.0), rel=REL)
    assert result.channel("usage_paid")[:, 0] == pytest.approx(np.full(30, 50.0), rel=REL)
    assert result.channel("coverage_paid")[:, 0] == pytest.approx(np.full(30, 8.0), rel=REL)
    minted, burned = result.channel("minted")[:, 0], result.channel("burned")[:, 0]
    assert result.channel("supply")[:, 0] == pytest.approx(1_000_000 + np.cumsum(minted - burned), rel=REL)


def test_a_scenario_without_devices_records_the_policy() -> None:
    result = simulate((_growing_usage().model_copy(update={"devices": []}),), 1, seed=0, record_every=1)
    assert result.channel("usage_weight")[-1, 0] == pytest.approx(0.9, rel=REL)
    assert result.channel("usage_paid").max() == 0.0  # nothing modelled to pay
    assert "usage_paid" not in result.layout.recorded


def test_flow_share_follows_unused_flows_to() -> None:
    categories = {"coverage": 3_000, "data_transfer": 5_000, "storage": 1_000}
    default = RewardsConfig().unused_flows_to
    assert compute_flow_to_coverage(default, ["data_transfer"], categories) == 1.0
    assert compute_flow_to_coverage({}, ["data_transfer"], categories) == 0.0
    half = {"data_transfer": {"coverage": 5_000, "storage": 5_000}}
    assert compute_flow_to_coverage(half, ["data_transfer", "storage"], categories) == pytest.approx(
        5 / 6 * 0.5 + 1 / 6 * 0.0
    )
    chained = {"data_transfer": {"storage": 10_000}, "storage": {"coverage": 10_000}}
    assert compute_flow_to_coverage(chained, ["data_transfer", "storage"], categories) == 1.0


def test_the_networks_policy_replaces_the_scenarios() -> None:
    usage = UsageConfig(weight=[(0.0, 0.1), (2.0, 0.7)], cap=1.5, credit_usd=0.0001)
    network = NetworkConfig(rewards=RewardsConfig(usage=usage))
    spec = with_network(load_scenario("growth"), network, usage_categories=["data_transfer"])
    assert spec.rewards.usage == UsagePolicySpec(weight=[(0.0, 0.1), (2.0, 0.7)], cap=1.5)
    assert spec.burn_mint.credit_usd == 0.0001
    no_flow = NetworkConfig(rewards=RewardsConfig(usage=usage, unused_flows_to={}))
    spec = with_network(load_scenario("growth"), no_flow, usage_categories=["data_transfer"])
    assert spec.rewards.usage.unused_to_coverage == 0.0
    unmetered = with_network(load_scenario("growth"), network, usage_categories=[])
    assert unmetered.rewards.usage.is_off


def test_the_networks_sectors_say_which_categories_are_usage() -> None:
    """Without an explicit list, the sector plug-ins the network enables name its usage categories."""
    from opendepin.sectors.registry import load_sectors

    network = NetworkConfig()
    expected = {p.usage_category() for p in load_sectors(network).values()} - {None}
    spec = with_network(load_scenario("growth"), network)
    assert spec.rewards.usage.is_off == (not expected)


def test_invalid_policy_points_are_named() -> None:
    with pytest.raises(ScenarioError, match=r"rewards\.usage"):
        parse_scenario({"rewards": {"usage": {"weight": [[1.0, 0.5], [0.5, 0.9]]}}}, "test")
    with pytest.raises(ScenarioError, match=r"rewards\.usage\.weight"):
        parse_scenario({"rewards": {"usage": {"weight": [[0.0, 1.5]]}}}, "test")


def test_ramps_hold_for_points_closer_than_any_slope() -> None:
    """Two points a subnormal apart: the slope between them overflows to inf, and inf × 0 was NaN."""
    points = [(0.0, 0.0), (5e-324, 1.0), (2.0, 0.5)]
    ratios = np.array([0.0, 1e-300, 1.0, 3.0])
    xs, ws = policy.build_points([points], 1)
    weights = policy.compute_usage_weight_by_ramps(ratios, xs, ws)
    assert not np.isnan(weights).any()
    assert weights == pytest.approx(_engine_weights(ratios, points), abs=1e-12)
