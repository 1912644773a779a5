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

from itertools import pairwise
from typing import Annotated, Literal

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
    also moves by `impact` × net buying in USD, (demand − sell_fraction · minted · price) / depth_usd.
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


class SectorSpec(_Spec):
    """One sector's paid service and its USD demand (burned by users through data credits)."""

    name: str
    service: str = "network service"
    payer: str = "users who buy data credits"
    initial_usd_per_day: NonNegative = 100.0
    growth: GrowthSpec = GrowthSpec()
    seasonality: list[SeasonalitySpec] = Field(default_factory=list)
    shocks: list[ShockSpec] = Field(default_factory=list)
    volatility_per_year: NonNegative = 0.0
    capacity_usd_per_device_day: Positive | None = None


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
        return self
