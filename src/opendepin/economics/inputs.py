"""Model inputs: every scenario parameter of a batch as a float or an (rows, N) array, and the paths.

Built once before the time loop (see :mod:`opendepin.economics.batch` for the layout), so the loop reads
plain attributes and does vector arithmetic only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from opendepin.economics import policy, price, schedules
from opendepin.economics.batch import Batch, PathTable
from opendepin.economics.demand import compute_demand_trend
from opendepin.economics.paths import compute_walk_drift, compute_walk_scale
from opendepin.economics.spec import DAYS_PER_YEAR, FilecoinSchedule, ScenarioSpec

FloatArray = NDArray[np.float64]
Param = FloatArray | float


@dataclass(frozen=True)
class DeviceInputs:
    """Per device type (rows), each (types, 1) or (types, N)."""

    initial: FloatArray
    weights: FloatArray
    hardware: FloatArray
    opex: FloatArray
    threshold: FloatArray
    join_rate: FloatArray
    join_floor: FloatArray
    organic: FloatArray
    leave_rate: FloatArray
    base_churn: FloatArray
    raw_power: FloatArray
    sector_of: FloatArray

    @property
    def types(self) -> int:
        return int(self.initial.shape[0])


@dataclass(frozen=True)
class ModelInputs:
    """Everything the time loop reads."""

    days: int
    size: int
    start_day: int
    base_price: PathTable
    demand_trend: PathTable
    mint_path: PathTable
    demand_drift: FloatArray
    demand_scale: FloatArray
    capacity: FloatArray
    price_drift: Param
    price_scale: Param
    impact: Param
    sell_fraction: Param
    max_burn_share: Param
    depth_usd: Param
    market: bool
    miss: Param
    max_stale: Param
    twap_days: int
    remint: bool
    remint_cap: Param
    smoothing: Param
    device_share: Param
    inverse_mint: PathTable | None
    usage_ratios: FloatArray
    usage_weights: FloatArray
    usage_cap: Param
    usage_to_coverage: Param
    max_supply: Param
    initial_supply: Param
    filecoin: FilecoinSchedule | None
    devices: DeviceInputs

    @cached_property
    def sectors(self) -> int:
        return int(self.demand_drift.shape[0])

    @cached_property
    def demand_random(self) -> bool:
        return bool(np.any(self.demand_scale > 0))

    @cached_property
    def price_random(self) -> bool:
        return bool(np.any(np.asarray(self.price_scale) > 0))

    @cached_property
    def oracle_active(self) -> bool:
        return self.twap_days > 1 or bool(np.any(np.asarray(self.miss) > 0))

    @cached_property
    def scarcity_pricing(self) -> bool:
        return self.market and bool(np.any(np.asarray(self.max_burn_share) > 0))

    @cached_property
    def unminting(self) -> bool:
        """Some usage pay may be neither earned nor flow back to coverage: it is then not minted."""
        return self.devices.types > 0 and bool(np.any(np.asarray(self.usage_to_coverage) < 1))

    @cached_property
    def limited_capacity(self) -> tuple[FloatArray, FloatArray]:
        """Capacity per device split as (finite part, 0 for unlimited sectors) and (+inf for unlimited
        sectors, else 0): a sector's capacity is finite × devices + unlimited, never inf × 0 = NaN."""
        finite = np.isfinite(self.capacity)
        return np.where(finite, self.capacity, 0.0), np.where(finite, 0.0, np.inf)

    @cached_property
    def capacity_limited(self) -> bool:
        return self.devices.types > 0 and bool(np.any(np.isfinite(self.capacity)))


def _mint_path(spec: ScenarioSpec) -> FloatArray:
    """Scheduled mint per day; for Filecoin only the simple part (the baseline part needs power)."""
    if isinstance(spec.emission, FilecoinSchedule):
        edges = (spec.start_day + np.arange(spec.days + 1, dtype=np.float64)) / DAYS_PER_YEAR
        return np.diff(schedules.compute_filecoin_simple_minted(spec.emission, edges))
    return schedules.compute_daily_mint(spec.emission, spec.start_day, spec.days, spec.token.max_supply)


def _inverse_mint(spec: ScenarioSpec) -> FloatArray:
    """1 / scheduled mint per day (0 on days nothing is minted): the usage ratio r = tokens bought for credits
    × this, one multiplication a day when the mint is the schedule alone (no re-mint, not Filecoin)."""
    mint = _mint_path(spec)
    return np.where(mint > 0, 1.0 / np.where(mint > 0, mint, 1.0), 0.0)


def _demand_trend(spec: ScenarioSpec) -> FloatArray:
    grid = np.arange(spec.days, dtype=np.float64)
    return np.stack([compute_demand_trend(sector, grid) for sector in spec.sectors], axis=1)


def _device_inputs(batch: Batch) -> DeviceInputs:
    first = batch.variants[0]
    rows = batch.rows
    sector_names = [sector.name for sector in first.sectors]
    sector_of = np.array(
        [[1.0 if device.sector == name else 0.0 for device in first.devices] for name in sector_names]
    ).reshape(len(sector_names), len(first.devices))
    return DeviceInputs(
        initial=rows(lambda s: [d.initial for d in s.devices]),
        weights=rows(lambda s: [d.reward_weight for d in s.devices]),
        hardware=rows(lambda s: [d.hardware_cost_usd for d in s.devices]),
        opex=rows(lambda s: [d.opex_usd_per_day for d in s.devices]),
        threshold=rows(lambda s: [d.payback_threshold_days for d in s.devices]),
        join_rate=rows(lambda s: [d.join_rate_per_day for d in s.devices]),
        join_floor=rows(lambda s: [d.join_floor for d in s.devices]),
        organic=rows(lambda s: [d.organic_growth_per_day for d in s.devices]),
        leave_rate=rows(lambda s: [d.leave_rate_per_day for d in s.devices]),
        base_churn=rows(lambda s: [d.base_churn_per_day for d in s.devices]),
        raw_power=rows(lambda s: [d.raw_power_eib for d in s.devices]),
        sector_of=sector_of,
    )


def _capacity(spec: ScenarioSpec) -> list[float]:
    return [
        np.inf if s.capacity_usd_per_device_day is None else s.capacity_usd_per_device_day
        for s in spec.sectors
    ]


def build_inputs(batch: Batch) -> ModelInputs:
    """Gather a batch's parameters and paths (price base has days + 1 points, the rest `days`)."""
    first = batch.variants[0]
    col = batch.column
    price_grid = np.arange(first.days + 1, dtype=np.float64)
    emission = first.emission
    usage_ratios, usage_weights = policy.build_points(
        [variant.rewards.usage.weight for variant in batch.variants], batch.runs
    )
    return ModelInputs(
        days=first.days,
        size=batch.size,
        start_day=first.start_day,
        base_price=batch.path(lambda s: price.compute_price_base(s.price, price_grid)),
        demand_trend=batch.path(_demand_trend),
        mint_path=batch.path(_mint_path),
        demand_drift=batch.rows(lambda s: [compute_walk_drift(x.volatility_per_year) for x in s.sectors]),
        demand_scale=batch.rows(lambda s: [compute_walk_scale(x.volatility_per_year) for x in s.sectors]),
        capacity=batch.rows(_capacity),
        price_drift=col(lambda s: compute_walk_drift(s.price.volatility_per_year, s.price.drift_per_year)),
        price_scale=col(lambda s: compute_walk_scale(s.price.volatility_per_year)),
        impact=col(lambda s: s.price.impact),
        sell_fraction=col(lambda s: s.price.sell_fraction),
        max_burn_share=col(lambda s: s.price.max_burn_share_per_day),
        depth_usd=col(lambda s: s.price.depth_usd),
        market=first.price.kind == "market",
        miss=col(lambda s: s.oracle.miss_probability),
        max_stale=col(lambda s: s.oracle.max_staleness_days),
        twap_days=first.oracle.twap_days,
        remint=first.burn_mint.remint,
        remint_cap=col(lambda s: s.burn_mint.remint_cap_per_day),
        smoothing=col(lambda s: s.burn_mint.remint_smoothing),
        device_share=col(lambda s: s.rewards.device_share),
        inverse_mint=None if isinstance(emission, FilecoinSchedule) else batch.path(_inverse_mint),
        usage_ratios=usage_ratios,
        usage_weights=usage_weights,
        usage_cap=col(lambda s: s.rewards.usage.cap),
        usage_to_coverage=col(lambda s: s.rewards.usage.unused_to_coverage),
        max_supply=col(lambda s: s.token.max_supply),
        initial_supply=col(lambda s: s.token.initial_supply),
        filecoin=emission if isinstance(emission, FilecoinSchedule) else None,
        devices=_device_inputs(batch),
    )
