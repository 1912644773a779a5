"""Model inputs: every scenario parameter of a batch packed into the compiled kernel's arrays.

Built once before the time loop (see :mod:`opendepin.economics.batch` for the batch layout and
:mod:`opendepin.economics.layout` for the rows): per-column parameters P[k, N], flags F[k], per device type
D[k, types, N], per sector S[k, sectors, N], and the per-set paths (time first, one column per parameter
set): base price (days + 1 points), demand trend (days, sectors), scheduled mint (days) and the tokens still
locked by allocations (days + 1 points).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from opendepin.economics import layout as L
from opendepin.economics import price, schedules
from opendepin.economics.batch import Batch
from opendepin.economics.demand import compute_demand_trend
from opendepin.economics.paths import compute_walk_drift, compute_walk_scale
from opendepin.economics.spec import (
    DAYS_PER_YEAR,
    AllocationSpec,
    FilecoinSchedule,
    ScenarioSpec,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
MintPath = Callable[[ScenarioSpec, FloatArray], FloatArray]
"""A custom emission: (scenario, days since genesis of each simulated day) → tokens scheduled that day."""


@dataclass(frozen=True)
class ModelInputs:
    """Everything the kernel reads (see the module docstring), plus what the Python side needs."""

    days: int
    size: int
    start_day: int
    params: FloatArray
    flags: IntArray
    device_params: FloatArray
    sector_params: FloatArray
    sector_of: IntArray
    set_of: IntArray
    base_price: FloatArray
    trend: FloatArray
    mint_path: FloatArray
    vest: FloatArray
    usage_ratios: FloatArray
    usage_weights: FloatArray
    initial_counts: FloatArray
    initial_supply: FloatArray
    initial_staked: FloatArray
    initial_expectation: FloatArray
    twap_days: int
    filecoin: FilecoinSchedule | None

    @property
    def sectors(self) -> int:
        return int(self.sector_params.shape[1])

    @property
    def types(self) -> int:
        return int(self.device_params.shape[1])

    def flag(self, index: int) -> bool:
        return bool(self.flags[index])

    def kernel_inputs(self) -> tuple[object, ...]:
        """The `inp` tuple of the kernel."""
        return (
            self.params,
            self.flags,
            self.device_params,
            self.sector_params,
            self.sector_of,
            self.set_of,
            self.base_price,
            self.trend,
            self.mint_path,
            self.vest,
            self.usage_ratios,
            self.usage_weights,
        )


def compute_locked_allocations(allocations: Sequence[AllocationSpec], days: FloatArray) -> FloatArray:
    """Tokens of the allocations still locked at the given days since genesis (see AllocationSpec)."""
    locked = np.zeros_like(days, dtype=np.float64)
    for a in allocations:
        elapsed = days - a.start_day
        if a.vesting_days > 0:
            vested = np.clip(elapsed / a.vesting_days, 0.0, 1.0)
        else:
            vested = (elapsed >= a.cliff_days).astype(np.float64)
        vested = np.where(elapsed >= a.cliff_days, vested, 0.0)
        locked += a.tokens * (1.0 - a.unlocked_at_start) * (1.0 - vested)
    return locked


def _mint_path(spec: ScenarioSpec, custom: MintPath | None) -> FloatArray:
    """Scheduled mint per day; for Filecoin only the simple part (the baseline part needs power); a custom
    emission replaces the schedule (capped at max supply like the schedules)."""
    if custom is not None:
        grid = spec.start_day + np.arange(spec.days, dtype=np.float64)
        values = np.asarray(custom(spec, grid), dtype=np.float64)
        if values.shape != (spec.days,) or not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(
                f"a custom emission must return {spec.days} finite, non-negative tokens a day (one per "
                f"simulated day), got shape {values.shape}"
            )
        room = max(spec.token.max_supply - spec.token.initial_supply, 0.0)
        cumulative = np.minimum(np.cumsum(values), room)
        return np.diff(np.concatenate([[0.0], cumulative]))
    if isinstance(spec.emission, FilecoinSchedule):
        edges = (spec.start_day + np.arange(spec.days + 1, dtype=np.float64)) / DAYS_PER_YEAR
        return np.diff(schedules.compute_filecoin_simple_minted(spec.emission, edges))
    return schedules.compute_daily_mint(spec.emission, spec.start_day, spec.days, spec.token.max_supply)


def _demand_trend(spec: ScenarioSpec) -> FloatArray:
    grid = np.arange(spec.days, dtype=np.float64)
    return np.stack([compute_demand_trend(sector, grid) for sector in spec.sectors], axis=1)


def _stack_paths(batch: Batch, compute: Callable[[ScenarioSpec], FloatArray]) -> FloatArray:
    """(time, …, sets) table of a per-set path, contiguous."""
    return np.ascontiguousarray(np.stack([compute(v) for v in batch.variants], axis=-1))


def _column(batch: Batch, get: Callable[[ScenarioSpec], float]) -> FloatArray:
    return np.repeat(np.array([float(get(v)) for v in batch.variants], dtype=np.float64), batch.runs)


def _rows(batch: Batch, get: Callable[[ScenarioSpec], Sequence[float]], count: int) -> FloatArray:
    """(count, N) of a parameter per device type or sector."""
    table = np.array([[float(x) for x in get(v)] for v in batch.variants], dtype=np.float64)
    return np.repeat(table.reshape(len(batch.variants), count).T, batch.runs, axis=1)


def _stake_share(spec: ScenarioSpec) -> float:
    if spec.staking is None:
        return 0.0
    return spec.rewards.categories[spec.staking.category] / 10_000


def _usage_points(batch: Batch) -> tuple[FloatArray, FloatArray]:
    """(m, N) ratios and weights of every column, each set's points padded to the longest by repeating its
    last point (a repeated point adds an empty segment, so w is unchanged)."""
    sets = [v.rewards.usage.weight for v in batch.variants]
    longest = max(len(points) for points in sets)
    padded = np.array(
        [list(points) + [points[-1]] * (longest - len(points)) for points in sets], dtype=np.float64
    )
    columns = np.repeat(padded, batch.runs, axis=0)
    return (
        np.ascontiguousarray(columns[:, :, 0].T),
        np.ascontiguousarray(columns[:, :, 1].T),
    )


def _leakage(spec: ScenarioSpec) -> list[float]:
    by_sector = {s.name: (s.fraud.leakage if s.fraud is not None else 0.0) for s in spec.sectors}
    return [by_sector[d.sector] for d in spec.devices]


def has_locks(spec: ScenarioSpec) -> bool:
    """Some tokens may be locked (allocations or staking): circulating and total supply differ."""
    return bool(spec.allocations) or spec.staking is not None


def has_leakage(spec: ScenarioSpec) -> bool:
    return any(s.fraud is not None and s.fraud.leakage > 0 for s in spec.sectors)


def build_inputs(batch: Batch, emission: MintPath | None = None) -> ModelInputs:
    """Gather a batch's parameters and paths."""
    first = batch.variants[0]
    n = batch.size
    col = lambda get: _column(batch, get)  # noqa: E731
    params = np.zeros((L.N_PARAMS, n))
    params[L.P_PRICE_DRIFT] = col(
        lambda s: compute_walk_drift(s.price.volatility_per_year, s.price.drift_per_year)
    )
    params[L.P_PRICE_SCALE] = col(lambda s: compute_walk_scale(s.price.volatility_per_year))
    params[L.P_IMPACT] = col(lambda s: s.price.impact)
    params[L.P_DEPTH] = col(lambda s: s.price.depth_usd)
    params[L.P_SELL_FRACTION] = col(lambda s: s.price.sell_fraction)
    params[L.P_MAX_BURN_SHARE] = col(lambda s: s.price.max_burn_share_per_day)
    params[L.P_MISS] = col(lambda s: s.oracle.miss_probability)
    params[L.P_MAX_STALE] = col(lambda s: s.oracle.max_staleness_days)
    params[L.P_REMINT_CAP] = col(lambda s: s.burn_mint.remint_cap_per_day)
    params[L.P_SMOOTHING] = col(lambda s: s.burn_mint.remint_smoothing)
    params[L.P_DEVICE_SHARE] = col(lambda s: s.rewards.device_share)
    params[L.P_STAKE_SHARE] = col(_stake_share)
    params[L.P_USAGE_CAP] = col(lambda s: s.rewards.usage.cap)
    params[L.P_TO_COVERAGE] = col(lambda s: s.rewards.usage.unused_to_coverage)
    params[L.P_MAX_SUPPLY] = col(lambda s: s.token.max_supply)
    params[L.P_COVER_COSTS] = col(lambda s: s.selling.cover_costs)
    params[L.P_HURDLE] = col(lambda s: s.selling.hurdle_per_year)
    params[L.P_SENSITIVITY] = col(lambda s: s.selling.sensitivity)
    params[L.P_MAX_HOLD] = col(lambda s: s.selling.max_hold)
    params[L.P_EXPECT_ALPHA] = col(lambda s: 1.0 - 0.5 ** (1.0 / s.selling.expectation_half_life_days))
    params[L.P_LIQUIDATION] = col(lambda s: s.selling.liquidation_per_day)
    if first.staking is not None:
        params[L.P_COMPOUND] = col(lambda s: s.staking.compound_share if s.staking else 0.0)
        params[L.P_MIN_YIELD] = col(lambda s: s.staking.min_yield_per_year if s.staking else 1.0)
        params[L.P_STAKE_ADJUST] = col(lambda s: 1.0 / s.staking.adjust_days if s.staking else 0.0)
        params[L.P_UNBOND_RATE] = col(lambda s: 1.0 / s.staking.unbonding_days if s.staking else 0.0)
        params[L.P_MAX_STAKED] = col(lambda s: s.staking.max_staked_share if s.staking else 0.0)
    filecoin = first.emission if isinstance(first.emission, FilecoinSchedule) else None
    if filecoin is not None:
        params[L.P_FC_LAMBDA] = col(lambda s: schedules.compute_filecoin_lambda(s.emission))  # type: ignore[arg-type]
        params[L.P_FC_GROWTH] = col(lambda s: schedules.compute_filecoin_growth(s.emission))  # type: ignore[arg-type]
        params[L.P_FC_B0] = col(lambda s: s.emission.baseline_initial_eib)  # type: ignore[union-attr]
        params[L.P_FC_BASELINE] = col(lambda s: s.emission.baseline_total)  # type: ignore[union-attr]
    params[L.P_START_DAY] = col(lambda s: s.start_day)

    sectors, types = len(first.sectors), len(first.devices)
    sector_params = np.zeros((L.N_SECTOR_PARAMS, sectors, n))
    sector_params[L.S_DRIFT] = _rows(
        batch, lambda s: [compute_walk_drift(x.volatility_per_year) for x in s.sectors], sectors
    )
    sector_params[L.S_SCALE] = _rows(
        batch, lambda s: [compute_walk_scale(x.volatility_per_year) for x in s.sectors], sectors
    )
    sector_params[L.S_CAPACITY] = _rows(
        batch,
        lambda s: [
            np.inf if x.capacity_usd_per_device_day is None else x.capacity_usd_per_device_day
            for x in s.sectors
        ],
        sectors,
    )
    device_params = np.zeros((L.N_DEVICE_PARAMS, types, n))
    fields = {
        L.D_WEIGHT: "reward_weight",
        L.D_HARDWARE: "hardware_cost_usd",
        L.D_OPEX: "opex_usd_per_day",
        L.D_THRESHOLD: "payback_threshold_days",
        L.D_JOIN_RATE: "join_rate_per_day",
        L.D_JOIN_FLOOR: "join_floor",
        L.D_ORGANIC: "organic_growth_per_day",
        L.D_LEAVE_RATE: "leave_rate_per_day",
        L.D_BASE_CHURN: "base_churn_per_day",
        L.D_RAW_POWER: "raw_power_eib",
    }
    for row, name in fields.items():
        device_params[row] = _rows(batch, lambda s, name=name: [getattr(d, name) for d in s.devices], types)
    device_params[L.D_LEAK] = _rows(batch, _leakage, types)
    sector_names = [s.name for s in first.sectors]
    sector_of = np.array([sector_names.index(d.sector) for d in first.devices], dtype=np.int64)

    capacity_limited = types > 0 and bool(np.any(np.isfinite(sector_params[L.S_CAPACITY])))
    oracle_active = first.oracle.twap_days > 1 or bool(np.any(params[L.P_MISS] > 0))
    flags = np.zeros(L.N_FLAGS, dtype=np.int64)
    flags[L.F_MARKET] = first.price.kind == "market"
    flags[L.F_PRICE_RANDOM] = bool(np.any(params[L.P_PRICE_SCALE] > 0))
    flags[L.F_ORACLE] = oracle_active
    flags[L.F_REMINT] = first.burn_mint.remint
    flags[L.F_FILECOIN] = filecoin is not None
    flags[L.F_CAPACITY] = capacity_limited
    flags[L.F_SCARCITY] = first.price.kind == "market" and bool(np.any(params[L.P_MAX_BURN_SHARE] > 0))
    flags[L.F_AGENTS] = first.selling.rule == "agents"
    flags[L.F_STAKING] = first.staking is not None
    flags[L.F_TWAP] = first.oracle.twap_days

    price_grid = np.arange(first.days + 1, dtype=np.float64)
    vest_grid = first.start_day + price_grid
    ratios, weights = _usage_points(batch)
    return ModelInputs(
        days=first.days,
        size=n,
        start_day=first.start_day,
        params=params,
        flags=flags,
        device_params=device_params,
        sector_params=sector_params,
        sector_of=sector_of,
        set_of=batch.set_index.astype(np.int64),
        base_price=_stack_paths(batch, lambda s: price.compute_price_base(s.price, price_grid)),
        trend=_stack_paths(batch, _demand_trend),
        mint_path=_stack_paths(batch, lambda s: _mint_path(s, emission)),
        vest=_stack_paths(batch, lambda s: compute_locked_allocations(s.allocations, vest_grid)),
        usage_ratios=ratios,
        usage_weights=weights,
        initial_counts=_rows(batch, lambda s: [round(d.initial) for d in s.devices], types),
        initial_supply=col(lambda s: s.token.initial_supply),
        initial_staked=col(lambda s: s.staking.initial_staked if s.staking else 0.0),
        initial_expectation=col(lambda s: s.selling.initial_expectation_per_year),
        twap_days=first.oracle.twap_days,
        filecoin=filecoin,
    )
