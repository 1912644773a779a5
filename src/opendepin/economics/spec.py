"""The scenario file: everything a token-economics simulation needs, validated by pydantic.

A scenario is the network's own emission schedule, token, category splits and reward policy (taken from
`network.toml` through :func:`opendepin.economics.scenarios.with_network`, or written in the scenario) plus
the things only a forecast needs: demand per sector, the price process, the oracle, device types and their
costs. Every constant the model uses is a field here; the category splits, the reward policy and the
credit price default to the network's own defaults (imported from :mod:`opendepin.config`, not copied).

Money in a scenario is float64 USD or whole tokens: this is a forecast, not settlement. The exact integer
rules that pay real rewards live in :mod:`opendepin.rewards`; the simulator mirrors them in floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opendepin.config import BASIS_POINTS, DEFAULT_CATEGORY_SPLITS, DEFAULT_DEVICE_CATEGORIES, UsageConfig

DAYS_PER_YEAR = 365

NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Fraction01 = Annotated[float, Field(ge=0, le=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HalvingSchedule(_Spec):
    """Helium-style halving: `initial_per_year` tokens, halved every `halving_period_days`."""

    kind: Literal["halving"] = "halving"
    initial_per_year: Positive = 60_000_000
    halving_period_days: Positive = 730


class FixedSchedule(_Spec):
    """A constant `per_year` tokens until max supply."""

    kind: Literal["fixed"] = "fixed"
    per_year: Positive = 30_000_000


class DecliningSchedule(_Spec):
    """Declining pool (Render, DIMO): the rate is multiplied by `factor` every `period_days`."""

    kind: Literal["declining"] = "declining"
    initial_per_year: Positive = 60_000_000
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.85
    period_days: Positive = 364


class FilecoinSchedule(_Spec):
    """Filecoin storage-mining minting: a simple part of 330M tokens decaying with a 6-year half-life, and a
    baseline part of 770M released as the network's capped raw power keeps up with a baseline that starts at
    2.5 EiB and doubles every year (effective time θ advances only while power meets the baseline)."""

    kind: Literal["filecoin"] = "filecoin"
    simple_total: Positive = 330_000_000
    baseline_total: Positive = 770_000_000
    half_life_years: Positive = 6.0
    baseline_initial_eib: Positive = 2.5
    baseline_doubling_years: Positive = 1.0


EmissionSpec = Annotated[
    HalvingSchedule | FixedSchedule | DecliningSchedule | FilecoinSchedule, Field(discriminator="kind")
]


class TokenSpec(_Spec):
    """Supply cap and the supply already circulating when the simulation starts (whole tokens)."""

    symbol: str = "ODP"
    max_supply: Positive = 10_000_000_000
    initial_supply: NonNegative = 0.0


_NETWORK_USAGE = UsageConfig()
"""The network's default reward policy: the simulator's defaults are read from it, never copied."""


class UsagePolicySpec(_Spec):
    """The reward policy that moves the device part of the emission from coverage to usage as usage grows,
    the same rule as network.toml's `[rewards.usage]` (see :mod:`opendepin.rewards.policy`).

    With r = USD users paid for service ÷ (tokens minted × token price), the usage side gets w(r) of the
    device pool and coverage 1 − w(r); w is linear between the `weight` points (r, w), sorted by r, and flat
    before the first and after the last. Usage pay goes to devices pro rata to the USD of service they
    carried, at most `cap` × its token value; what the cap leaves and usage pay nobody earned goes to
    coverage for the share `unused_to_coverage` (the network's `unused_flows_to` of its usage categories),
    and the rest is not minted.
    """

    weight: list[tuple[NonNegative, Fraction01]] = Field(default_factory=lambda: list(_NETWORK_USAGE.weight))
    cap: NonNegative = _NETWORK_USAGE.cap
    unused_to_coverage: Fraction01 = 1.0

    @model_validator(mode="after")
    def _increasing(self) -> UsagePolicySpec:
        ratios = [r for r, _ in self.weight]
        if not ratios or any(b <= a for a, b in pairwise(ratios)):
            raise ValueError(
                "give (ratio, weight) points with strictly increasing ratios, e.g. [[0, 0], [1, 0.9]]"
            )
        return self

    @property
    def is_off(self) -> bool:
        """True when the usage weight is 0 at every ratio: the whole device pool pays coverage."""
        return all(w == 0 for _, w in self.weight)

    def describe(self) -> str:
        """The points in words, e.g. `w(r) through (0, 0), (1, 0.9), flat outside`."""
        points = ", ".join(f"({r:g}, {w:g})" for r, w in self.weight)
        return f"w(r) through {points}, flat outside"


class RewardsSpec(_Spec):
    """Category splits in basis points; devices are paid the `device_categories`, divided between usage
    and coverage by the reward policy `usage`."""

    categories: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_SPLITS)
    )
    device_categories: list[str] = Field(default_factory=lambda: list(DEFAULT_DEVICE_CATEGORIES))
    usage: UsagePolicySpec = UsagePolicySpec()

    @model_validator(mode="after")
    def _sums(self) -> RewardsSpec:
        total = sum(self.categories.values())
        if total != BASIS_POINTS:
            raise ValueError(f"rewards.categories must sum to {BASIS_POINTS} basis points, got {total}")
        missing = [name for name in self.device_categories if name not in self.categories]
        if missing:
            raise ValueError(
                f"rewards.device_categories {missing} are not in categories {sorted(self.categories)}"
            )
        return self

    @property
    def device_share(self) -> float:
        """Share of every mint paid to devices: Σ device-category basis points / 10,000."""
        return sum(self.categories[name] for name in self.device_categories) / BASIS_POINTS


class BurnMintSpec(_Spec):
    """Burn-and-mint with data credits (users burn tokens at the oracle price for credits of fixed USD value)
    and Helium-style net emissions (HIP-20: burned tokens are re-minted, smoothed and capped per day)."""

    credit_usd: Positive = _NETWORK_USAGE.credit_usd
    remint: bool = False
    remint_cap_per_day: NonNegative = 1_643.83561643
    remint_smoothing: Annotated[float, Field(gt=0, le=1)] = 1 / 7


class OracleSpec(_Spec):
    """Price oracle: TWAP over `twap_days`; an update is missed with `miss_probability`; credit minting
    halts while the last update is older than `max_staleness_days` (a stale price must not sell credits)."""

    twap_days: Annotated[int, Field(ge=1, le=365)] = 1
    miss_probability: Fraction01 = 0.0
    max_staleness_days: Annotated[int, Field(ge=0)] = 2


class ShockSpec(_Spec):
    """Multiply a path by `factor` from `day` for `duration_days` (None: for ever)."""

    day: Annotated[int, Field(ge=0)]
    factor: NonNegative
    duration_days: Annotated[int, Field(gt=0)] | None = None


class PriceSpec(_Spec):
    """The token price in USD: an exogenous path (`gbm`, `path`) or a simple `market` model whose log price
    also moves by `impact` × net buying in USD, (USD users pay for credits − tokens sold · price) /
    depth_usd. Who sells how much is the `[selling]` rule (contributors' costs, prices and expectations);
    `sell_fraction` is used only by its `fixed` rule (every recipient sells that share of every mint).
    With `max_burn_share_per_day` > 0 (market only), users cannot buy more than that share of the
    circulating supply in a day: the price rises until the day's demand fits, P ≥ D / (share · S)."""

    kind: Literal["gbm", "path", "market"] = "gbm"
    initial: Positive = 1.0
    drift_per_year: float = 0.0
    volatility_per_year: NonNegative = 0.8
    impact: NonNegative = 0.0
    depth_usd: Positive = 1_000_000.0
    sell_fraction: Fraction01 = 0.5
    max_burn_share_per_day: Fraction01 = 0.0
    path: list[tuple[NonNegative, Positive]] = Field(default_factory=list)
    shocks: list[ShockSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind_fields(self) -> PriceSpec:
        if self.kind == "path" and len(self.path) < 1:
            raise ValueError("price.kind = 'path' needs price.path = [[day, usd], ...]")
        if self.kind != "market" and (self.impact != 0 or self.max_burn_share_per_day != 0):
            raise ValueError(
                "price.impact and price.max_burn_share_per_day only apply to price.kind = 'market'"
            )
        return self


class GrowthSpec(_Spec):
    """Demand trend: constant, linear, exponential or logistic (ceiling: a multiple of the initial)."""

    kind: Literal["constant", "linear", "exponential", "logistic"] = "exponential"
    rate_per_year: float = 0.0
    ceiling_multiple: Annotated[float, Field(gt=1)] = 100.0


class SeasonalitySpec(_Spec):
    """A multiplicative cycle 1 + amplitude · sin(2π (day − phase_days) / period_days)."""

    amplitude: Annotated[float, Field(ge=0, lt=1)] = 0.0
    period_days: Positive = 365.0
    phase_days: float = 0.0


class FraudSpec(_Spec):
    """How well the sector's verification keeps cheaters out, as its simulator measures it (`depin simulate
    NAME --json`): `leakage` is the share of the sector's coverage pay that goes to cheating devices (paid
    from the emission, sold at once by the cheaters), `false_positive_rate` the share of honest devices
    wrongly denied pay in an epoch (their pay goes to the other honest devices), `adversary_share` the share
    of cheating devices in the simulated fleet and `adversary_pay_ratio` the pay of one relative to an honest
    device; `rules_only_leakage` is the leakage with the sector's rules alone (no fraud detector).
    `simulator` names the installed sector whose simulator measured the figures (`depin simulate NAME`),
    `source` says where the numbers come from."""

    leakage: Fraction01 = 0.0
    false_positive_rate: Fraction01 = 0.0
    adversary_share: Fraction01 = 0.0
    adversary_pay_ratio: NonNegative = 0.0
    rules_only_leakage: Fraction01 | None = None
    simulator: str | None = None
    source: str = ""

    @classmethod
    def from_simulation(cls, data: Mapping[str, Any], source: str) -> FraudSpec:
        """The figures of a sector simulator's JSON (`depin simulate NAME --json`): leakage, false positive
        rate, adversaries ÷ devices, adversary pay ratio, and the rules-only leakage of its `baseline`."""
        baseline = data.get("baseline") or {}
        devices = float(data.get("devices") or 0)
        return cls(
            leakage=float(data["leakage"]),
            false_positive_rate=float(data.get("false_positive_rate", 0.0)),
            adversary_share=float(data.get("adversaries", 0)) / devices if devices else 0.0,
            adversary_pay_ratio=float(data.get("adversary_pay_ratio", 0.0)),
            rules_only_leakage=float(baseline["leakage"]) if "leakage" in baseline else None,
            simulator=str(data["network"]) if "network" in data else None,
            source=source,
        )


class SectorSpec(_Spec):
    """One sector's paid service and its USD demand (burned by users through data credits), and how much
    of its pay cheaters take (`fraud`; None: not known, no leakage modelled and the report says so)."""

    name: str
    service: str = "network service"
    payer: str = "users who buy data credits"
    initial_usd_per_day: NonNegative = 100.0
    growth: GrowthSpec = GrowthSpec()
    seasonality: list[SeasonalitySpec] = Field(default_factory=list)
    shocks: list[ShockSpec] = Field(default_factory=list)
    volatility_per_year: NonNegative = 0.0
    capacity_usd_per_device_day: Positive | None = None
    fraud: FraudSpec | None = None


class DeviceTypeSpec(_Spec):
    """A kind of contributor hardware, the sector it serves, its costs and its join/leave behaviour.

    Joins per day ~ Poisson(join_rate · (n + join_floor) · attractiveness + organic_growth · n), where
    attractiveness = clip(1 − payback / payback_threshold_days, 0, 1); leaves ~ Poisson(n · (base_churn +
    leave_rate · clip((opex − earnings) / opex, 0, 1))), capped at n.
    """

    name: str
    sector: str
    hardware_cost_usd: NonNegative = 500.0
    opex_usd_per_day: NonNegative = 0.3
    initial: NonNegative = 1_000
    reward_weight: Positive = 1.0
    payback_threshold_days: Positive = 365.0
    join_rate_per_day: NonNegative = 0.01
    join_floor: NonNegative = 10.0
    organic_growth_per_day: NonNegative = 0.0
    leave_rate_per_day: NonNegative = 0.02
    base_churn_per_day: Fraction01 = 0.0
    raw_power_eib: NonNegative = 0.0


class SellingSpec(_Spec):
    """Who sells the tokens they are paid, and how much (the market price model's sell pressure).

    `agents` (default), every day, with μ̂ the expected yearly price return (an exponential average of
    daily log returns × 365, half-life `expectation_half_life_days`, starting at
    `initial_expectation_per_year`) and the hold share h = max_hold / (1 + e^{−sensitivity·(μ̂ − hurdle)}):
      contributors sell what pays `cover_costs` × their operating costs (tokens = opex USD ÷ price; from
      their holdings when rewards fall short), then sell (1 − h) of the rest of their rewards and
      `liquidation_per_day` × (1 − h) of what they hold;
      other recipients (non-device categories, unlocked allocations, staking rewards not re-staked) follow
      the same rule without costs; cheaters (fraud leakage) sell everything at once.
    `fixed`: every recipient sells `price.sell_fraction` of every mint, whatever costs and prices are (the
    old rule: the last-year burn/mint ratio of a market then converges to that fraction, an input)."""

    rule: Literal["agents", "fixed"] = "agents"
    cover_costs: Fraction01 = 1.0
    hurdle_per_year: float = 0.25
    sensitivity: NonNegative = 2.0
    max_hold: Fraction01 = 0.8
    expectation_half_life_days: Positive = 60.0
    initial_expectation_per_year: float = 0.0
    liquidation_per_day: Fraction01 = 0.005

    def describe(self) -> str:
        """The rule and its parameters in words (the report states them as an assumption)."""
        if self.rule == "fixed":
            return "every recipient sells a fixed share `price.sell_fraction` of every mint"
        return (
            f"contributors sell to pay {self.cover_costs:.0%} of their operating costs, then keep a share "
            f"h = {self.max_hold:g} / (1 + e^(−{self.sensitivity:g}·(μ̂ − {self.hurdle_per_year:.0%}))) of "
            f"the rest and sell the remainder, plus {self.liquidation_per_day:.1%} × (1 − h) of their "
            "holdings a day; μ̂ is the expected yearly price return (exponential average of daily returns, "
            f"half-life {self.expectation_half_life_days:g} days); other recipients follow the same rule "
            "without costs, cheaters sell everything"
        )


class AllocationSpec(_Spec):
    """Tokens that exist at the start (part of `token.initial_supply`) but are locked: `unlocked_at_start`
    is free at once, the rest vests linearly over `vesting_days` from `start_day` (days since genesis), and
    nothing vests before `cliff_days` after that start (the cliff releases what vested by then at once;
    `vesting_days` 0 releases everything at the cliff). Unlocked tokens go to holders, who sell by the
    `[selling]` rule."""

    name: str
    tokens: NonNegative
    unlocked_at_start: Fraction01 = 0.0
    start_day: NonNegative = 0.0
    cliff_days: NonNegative = 0.0
    vesting_days: NonNegative = 0.0


class StakingSpec(_Spec):
    """Staking: holders lock tokens for the emission category `category` (paid to stakers).

    Stakers want a yearly yield of at least max(hurdle − μ̂, `min_yield_per_year`) (the `[selling]` hurdle
    and price expectation): the staked amount moves by 1/`adjust_days` a day toward stakers' emission a
    year ÷ that yield, at most `max_staked_share` of the supply and never more than circulates. Unstaked
    tokens unbond at 1/`unbonding_days` a day before they circulate. `compound_share` of staking rewards is
    re-staked, the rest goes to holders. Staked and unbonding tokens are locked (not circulating)."""

    category: str = "stakers"
    initial_staked: NonNegative = 0.0
    compound_share: Fraction01 = 0.5
    min_yield_per_year: Positive = 0.02
    adjust_days: Positive = 30.0
    unbonding_days: Positive = 14.0
    max_staked_share: Fraction01 = 0.8


class SweepSpec(_Spec):
    """Parameter sets: a `grid` over `values`, or `samples` `random` draws in `ranges` (dotted paths)."""

    kind: Literal["grid", "random"] = "grid"
    values: dict[str, list[float]] = Field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    samples: Annotated[int, Field(ge=1)] = 8
    seed: int = 0

    @model_validator(mode="after")
    def _kind_fields(self) -> SweepSpec:
        if self.kind == "grid" and not self.values:
            raise ValueError("sweep.kind = 'grid' needs sweep.values = {'dotted.path' = [v1, v2, ...]}")
        if self.kind == "random" and not self.ranges:
            raise ValueError("sweep.kind = 'random' needs sweep.ranges = {'dotted.path' = [low, high]}")
        return self


class ScenarioSpec(_Spec):
    """Root of a scenario TOML file."""

    name: str = "custom"
    description: str = ""
    days: Annotated[int, Field(ge=1)] = 3_650
    runs: Annotated[int, Field(ge=1)] = 100
    seed: int = 0
    start_day: Annotated[int, Field(ge=0, description="days since genesis at simulation start")] = 0
    token: TokenSpec = TokenSpec()
    emission: EmissionSpec = HalvingSchedule()
    rewards: RewardsSpec = RewardsSpec()
    burn_mint: BurnMintSpec = BurnMintSpec()
    oracle: OracleSpec = OracleSpec()
    price: PriceSpec = PriceSpec()
    sectors: list[SectorSpec] = Field(default_factory=lambda: [SectorSpec(name="wireless")])
    devices: list[DeviceTypeSpec] = Field(default_factory=list)
    selling: SellingSpec = SellingSpec()
    allocations: list[AllocationSpec] = Field(default_factory=list)
    staking: StakingSpec | None = None
    sweep: SweepSpec | None = None

    @model_validator(mode="after")
    def _references(self) -> ScenarioSpec:
        sector_names = [sector.name for sector in self.sectors]
        if len(set(sector_names)) != len(sector_names):
            raise ValueError(f"sector names must be unique, got {sector_names}")
        if not sector_names:
            raise ValueError("a scenario needs at least one [[sectors]] table")
        device_names = [device.name for device in self.devices]
        if len(set(device_names)) != len(device_names):
            raise ValueError(f"device type names must be unique, got {device_names}")
        for device in self.devices:
            if device.sector not in sector_names:
                raise ValueError(
                    f"device type {device.name!r}: sector {device.sector!r} is not in {sector_names}"
                )
        locked = sum(a.tokens for a in self.allocations)
        locked += self.staking.initial_staked if self.staking is not None else 0.0
        if locked > self.token.initial_supply * (1 + 1e-12):
            raise ValueError(
                f"allocations and staking.initial_staked lock {locked:g} tokens, more than "
                f"token.initial_supply {self.token.initial_supply:g} (they are part of it)"
            )
        if self.staking is not None:
            category = self.staking.category
            if category not in self.rewards.categories or category in self.rewards.device_categories:
                raise ValueError(
                    f"staking.category {category!r} must be a non-device category of rewards.categories "
                    f"{sorted(self.rewards.categories)}"
                )
        return self
