"""The vectorised token-economics model: one loop over days, numpy vectors over runs × parameter sets.

Each day, in order (burn-and-mint with data credits):
  1. demand D per sector = trend × log walk; served = min(D, capacity of the sector's devices); in the
     market model with scarcity pricing the price first rises until D buys at most a share of supply;
  2. oracle: TWAP of reported prices; a missed update ages it; older than the staleness bound → credit
     minting halts and the day's demand is lost;
  3. burn B = served / P_oracle (data credits = served / credit price, derived from served USD);
  4. mint M = scheduled emission (halving, fixed, declining, Filecoin baseline) + Helium-style re-mint;
     S ← S + M − B;
  5. the reward policy (:mod:`.policy`, the network's `[rewards.usage]`): r = served / (M · P_oracle),
     w = w(r); the device pool M × device share splits into a usage pool w (paid pro rata to the service
     each device carried, capped at cap × its token value) and a coverage pool 1 − w plus what flows back
     from usage (paid by weight × count); usage pay that nobody earns and that does not flow back is not
     minted. Devices then join or leave on payback and cost;
  6. the price moves: exogenous walk, plus net buying for the market model.
No per-step Python objects and no state copies: the state is a handful of arrays of N columns, and
exogenous randomness (demand walks, price shocks, oracle misses) is drawn in blocks of days.
Everything is float64 (a forecast, not settlement); recorded channels are window means kept as float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from opendepin.economics import bme, devices, policy, price, schedules
from opendepin.economics.batch import Batch
from opendepin.economics.channels import ChannelLayout, choose_record_every
from opendepin.economics.inputs import ModelInputs, build_inputs
from opendepin.economics.paths import advance_log_walk
from opendepin.economics.spec import DAYS_PER_YEAR, ScenarioSpec

FloatArray = NDArray[np.float64]
ProgressCallback = Callable[[int], None]
Index = dict[str, int]

BLOCK_DAYS = 128
MAX_EXPECTED_EVENTS = 1e12  # numpy's Poisson sampler rejects means near 2**63; no fleet is that large
MAX_DAILY_PUSH = 0.5  # market flow moves log price by at most ±0.5 a day (a circuit breaker)


@dataclass(frozen=True)
class SimulationResult:
    """Recorded channels (means over windows of `every` days), shape (points, channels, N)."""

    variants: tuple[ScenarioSpec, ...]
    runs: int
    days: int
    every: int
    layout: ChannelLayout
    records: NDArray[np.float32]

    @property
    def sets(self) -> int:
        return len(self.variants)

    @property
    def set_index(self) -> NDArray[np.int64]:
        """Parameter set of each column."""
        return np.repeat(np.arange(self.sets), self.runs)

    @property
    def record_days(self) -> FloatArray:
        """Day at which each recorded window ends (day 1 is the first simulated day)."""
        return np.minimum(np.arange(1, self.records.shape[0] + 1) * self.every, self.days).astype(np.float64)

    @property
    def window_days(self) -> FloatArray:
        """Days in each recorded window (the last one may be shorter)."""
        return np.diff(np.concatenate([[0.0], self.record_days]))

    def channel(self, name: str) -> FloatArray:
        """One channel as float64, shape (points, N); aliases resolve to the channel they equal."""
        source = self.layout.resolve(name)
        if source is None:
            return np.zeros((self.records.shape[0], self.records.shape[2]))
        return self.records[:, self.layout.index[source], :].astype(np.float64)


@dataclass
class _State:
    """Per-column state vectors of one simulation, updated in place day by day (never copied)."""

    supply: FloatArray
    emitted: FloatArray
    walk: FloatArray
    price: FloatArray
    reported: FloatArray
    age: FloatArray
    window: FloatArray
    remint_target: FloatArray
    counts: FloatArray
    capped_power: FloatArray
    baseline_minted: FloatArray
    demand_walk: FloatArray


@dataclass(frozen=True)
class _Block:
    """Exogenous draws for days [start, stop)."""

    start: int
    sector_demand: FloatArray
    demand: FloatArray
    price_normals: FloatArray
    uniforms: FloatArray


def _initial_state(inputs: ModelInputs) -> _State:
    n = inputs.size
    first_price = inputs.base_price.at(0) * np.ones(n)
    counts = np.round(inputs.devices.initial * np.ones((inputs.devices.types, n)))
    state = _State(
        supply=np.zeros(n) + inputs.initial_supply,
        emitted=np.zeros(n) + inputs.initial_supply,
        walk=np.zeros(n),
        price=first_price,
        reported=first_price.copy(),
        age=np.zeros(n),
        window=np.repeat(first_price[None, :], inputs.twap_days, axis=0),
        remint_target=np.zeros(n),
        counts=counts,
        capped_power=np.zeros(n),
        baseline_minted=np.zeros(n),
        demand_walk=np.zeros((inputs.sectors, n)),
    )
    if inputs.filecoin is not None:
        power = (inputs.devices.raw_power * counts).sum(axis=0)
        history = schedules.compute_capped_power_increment(
            inputs.filecoin, power, 0.0, inputs.start_day / DAYS_PER_YEAR
        )
        state.capped_power = history * np.ones(n)
        theta = schedules.compute_filecoin_effective_time(inputs.filecoin, state.capped_power)
        state.baseline_minted = schedules.compute_filecoin_baseline_minted(inputs.filecoin, theta)
    return state


def _draw_block(
    inputs: ModelInputs, state: _State, rng: np.random.Generator, start: int, stop: int
) -> _Block:
    """Demand (trend × walk) and the price and oracle draws of a block of days."""
    size, n = stop - start, inputs.size
    trend = inputs.demand_trend.block(start, stop)
    if inputs.demand_random:
        normals = rng.standard_normal((size, inputs.sectors, n))
        walks = advance_log_walk(state.demand_walk, inputs.demand_drift, inputs.demand_scale, normals)
        sector_demand = trend * np.exp(np.concatenate([state.demand_walk[None], walks[:-1]]))
        state.demand_walk = walks[-1]
    else:
        sector_demand = trend
    return _Block(
        start=start,
        sector_demand=sector_demand,
        demand=sector_demand.sum(axis=1),
        price_normals=rng.standard_normal((size, n)) if inputs.price_random else np.zeros((size, 1)),
        uniforms=rng.random((size, n)) if inputs.oracle_active else np.zeros((size, 1)),
    )


def _oracle_step(
    inputs: ModelInputs, state: _State, t: int, uniforms: FloatArray
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """TWAP of reported prices and whether credit minting is halted by staleness."""
    updated = uniforms >= inputs.miss
    state.age = np.where(updated, 0.0, state.age + 1.0)
    state.reported = np.where(updated, state.price, state.reported)
    state.window[t % inputs.twap_days] = state.reported
    return price.compute_twap(state.window), price.is_oracle_halted(state.age, inputs.max_stale)


def _scheduled_mint(inputs: ModelInputs, state: _State, t: int) -> FloatArray:
    """Scheduled emission of day t; Filecoin adds the baseline part from the network's capped power."""
    if inputs.filecoin is None:
        return inputs.mint_path.at(t)
    spec = inputs.filecoin
    t0, t1 = (inputs.start_day + t) / DAYS_PER_YEAR, (inputs.start_day + t + 1) / DAYS_PER_YEAR
    power = (inputs.devices.raw_power * state.counts).sum(axis=0)
    state.capped_power = state.capped_power + schedules.compute_capped_power_increment(spec, power, t0, t1)
    theta = schedules.compute_filecoin_effective_time(spec, state.capped_power)
    baseline = schedules.compute_filecoin_baseline_minted(spec, theta)
    minted = np.minimum(
        inputs.mint_path.at(t) + baseline - state.baseline_minted, inputs.max_supply - state.emitted
    )
    state.baseline_minted = baseline
    return minted


@dataclass(frozen=True)
class _Pay:
    """What the reward policy paid devices today (tokens): per device of each type, and the totals."""

    tokens: FloatArray
    usage_paid: FloatArray
    coverage_paid: FloatArray
    unminted: FloatArray | float


def _pay_devices(
    inputs: ModelInputs,
    state: _State,
    minted: FloatArray,
    weight: FloatArray,
    sector_served: FloatArray,
    sector_counts: FloatArray,
    oracle: FloatArray,
) -> _Pay:
    """Split the device pool by the policy's weight and pay it (step 5 of the module docstring).

    Usage: each sector's served USD is carried by its devices equally (capacity is per device of a sector);
    a sector with no device earns nothing. Coverage: the rest of the pool plus the share of unpaid usage that
    flows back, split by weight × count."""
    d = inputs.devices
    pool = minted * inputs.device_share
    usage_pool = weight * pool
    carried = np.where(sector_counts > 0, sector_served, 0.0)
    per_usd, usage_paid = policy.compute_usage_pay(usage_pool, carried.sum(axis=0), inputs.usage_cap, oracle)
    unminted: FloatArray | float = 0.0
    if inputs.unminting:
        left = usage_pool - usage_paid
        coverage_pool = pool - usage_pool + inputs.usage_to_coverage * left
        unminted = (1.0 - inputs.usage_to_coverage) * left
    else:
        coverage_pool = pool - usage_paid  # (1 − w) · pool + everything usage did not pay
    coverage_tokens, coverage_paid = devices.compute_pool_pay(coverage_pool, state.counts, d.weights)
    usage_tokens = (d.sector_of.T @ (carried / np.maximum(sector_counts, 1.0))) * per_usd
    return _Pay(coverage_tokens + usage_tokens, usage_paid, coverage_paid, unminted)


def _device_step(
    inputs: ModelInputs, state: _State, rng: np.random.Generator, tokens: FloatArray
) -> tuple[FloatArray, ...]:
    """Devices paid `tokens` each today: contributors join (payback beats threshold) or leave (rewards
    below opex)."""
    d = inputs.devices
    earnings = tokens * state.price
    payback = devices.compute_payback_days(d.hardware, earnings, d.opex)
    attract = devices.compute_attractiveness(payback, d.threshold)
    expected = devices.compute_expected_joins(state.counts, attract, d.join_rate, d.join_floor, d.organic)
    joins = rng.poisson(np.minimum(expected, MAX_EXPECTED_EVENTS)).astype(np.float64)
    distress = devices.compute_distress(earnings, d.opex)
    leave_p = devices.compute_leave_probability(distress, d.leave_rate, d.base_churn)
    leaves = np.minimum(rng.poisson(np.minimum(state.counts * leave_p, MAX_EXPECTED_EVENTS)), state.counts)
    state.counts = state.counts + joins - leaves
    return tokens, earnings, joins, leaves


def _price_step(
    inputs: ModelInputs, state: _State, t: int, normals: FloatArray, served: FloatArray, minted: FloatArray
) -> None:
    """Advance the log walk (and, for the market model, net buying) and set tomorrow's price."""
    if inputs.market:
        flow = price.compute_market_flow(served, minted, inputs.sell_fraction, state.price, inputs.depth_usd)
        push = np.minimum(np.maximum(inputs.impact * flow, -MAX_DAILY_PUSH), MAX_DAILY_PUSH)  # clip, cheaper
        state.walk = state.walk + inputs.price_drift + inputs.price_scale * normals + push
    elif inputs.price_random:
        state.walk = state.walk + inputs.price_drift + inputs.price_scale * normals
    state.price = inputs.base_price.at(t + 1) * np.exp(state.walk)


def _served_demand(
    inputs: ModelInputs, block: _Block, i: int, sector_counts: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Demand the sectors' devices can serve today, in total and per sector (all of it without capacity
    limits)."""
    if not inputs.capacity_limited or sector_counts is None:
        return block.demand[i], block.sector_demand[i]
    per_device, unlimited = inputs.limited_capacity  # a sector without a limit serves all, devices or not
    sector_served = np.minimum(block.sector_demand[i], per_device * sector_counts + unlimited)
    return sector_served.sum(axis=0), sector_served


def _mint_step(
    inputs: ModelInputs, state: _State, t: int, burned: FloatArray, acc: FloatArray, ix: Index
) -> FloatArray:
    """Scheduled emission plus the Helium-style re-mint of burned tokens; updates emitted and supply."""
    scheduled = _scheduled_mint(inputs, state, t)
    if inputs.filecoin is not None:
        state.emitted = state.emitted + scheduled  # only the Filecoin cap reads it
    minted = scheduled
    if inputs.remint:
        state.remint_target = bme.compute_remint_target(state.remint_target, burned, inputs.smoothing)
        remint = bme.compute_remint(state.remint_target, inputs.remint_cap)
        minted = scheduled + remint
        acc[ix["scheduled_mint"]] += scheduled
        acc[ix["remint"]] += remint
    state.supply = state.supply + minted - burned
    return minted


def _clear_scarcity(inputs: ModelInputs, state: _State, served: FloatArray) -> None:
    """Market model: lift the price so that the day's demand buys at most `max_burn_share` of the supply,
    P ≥ D / (share · S); the lift is kept in the log walk (the tokens users burn are bought on the market)."""
    share = np.where(np.asarray(inputs.max_burn_share) > 0, inputs.max_burn_share, np.inf)
    floor = served / (share * np.maximum(state.supply, 1.0))
    lift = np.maximum(floor / state.price, 1.0)
    state.price = state.price * lift
    state.walk = state.walk + np.log(lift)


def _advance_day(
    inputs: ModelInputs,
    state: _State,
    rng: np.random.Generator,
    block: _Block,
    t: int,
    acc: FloatArray,
    ix: Index,
) -> None:
    """One day for every column (steps 1–6 of the module docstring); adds the day's values to `acc`."""
    i = t - block.start
    types = inputs.devices.types
    sector_counts = inputs.devices.sector_of @ state.counts if types else None
    served, sector_served = _served_demand(inputs, block, i, sector_counts)
    if inputs.scarcity_pricing:
        _clear_scarcity(inputs, state, served)
    spot = state.price
    oracle = spot
    if inputs.oracle_active:
        oracle, halted = _oracle_step(inputs, state, t, block.uniforms[i])
        served = np.where(halted, 0.0, served)
        if types:
            sector_served = np.where(halted, 0.0, sector_served)
        acc[ix["oracle_price"]] += oracle
        acc[ix["halted"]] += halted
    bought = bme.compute_tokens_for_credits(served, oracle)
    burned = np.minimum(bought, state.supply)
    minted = _mint_step(inputs, state, t, burned, acc, ix)
    if inputs.inverse_mint is not None and not inputs.remint:
        ratio = bought * inputs.inverse_mint.at(t)  # = compute_usage_ratio(bought, minted), cheaper
    else:
        ratio = policy.compute_usage_ratio(bought, minted)
    weight = policy.compute_usage_weight(ratio, inputs.usage_ratios, inputs.usage_weights)
    if sector_counts is not None:
        pay = _pay_devices(inputs, state, minted, weight, sector_served, sector_counts, oracle)
        if inputs.unminting:
            state.supply = state.supply - pay.unminted
            minted = minted - pay.unminted
            acc[ix["unminted"]] += pay.unminted
        first = ix["devices"]
        for k, values in enumerate(_device_step(inputs, state, rng, pay.tokens), start=1):
            acc[first + k * types : first + (k + 1) * types] += values
        acc[first : first + types] += state.counts
        acc[ix["usage_paid"]] += pay.usage_paid
        acc[ix["coverage_paid"]] += pay.coverage_paid
    if inputs.capacity_limited or inputs.oracle_active:
        acc[ix["served_usd"]] += served
    acc[ix["supply"]] += state.supply
    acc[ix["price"]] += spot
    acc[ix["minted"]] += minted
    acc[ix["burned"]] += burned
    acc[ix["demand_usd"]] += block.demand[i]
    acc[ix["incentives_usd"]] += minted * spot
    acc[ix["usage_ratio"]] += ratio
    acc[ix["usage_weight"]] += weight
    acc[ix["sector_demand"] : ix["sector_demand"] + inputs.sectors] += block.sector_demand[i]
    _price_step(inputs, state, t, block.price_normals[i], served, minted)


def layout_for(variants: tuple[ScenarioSpec, ...]) -> ChannelLayout:
    """The channels `simulate` records for these parameter sets."""
    inputs = build_inputs(Batch(variants, 1))
    return ChannelLayout.for_model(variants[0], inputs.oracle_active, inputs.remint, inputs.capacity_limited)


def simulate(
    variants: tuple[ScenarioSpec, ...],
    runs: int,
    *,
    seed: int = 0,
    record_every: int | None = None,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Simulate `runs` Monte Carlo runs of each parameter set (same structure) over `variants[0].days`;
    channels are recorded as means over windows of `record_every` days (default: fit a memory budget)."""
    inputs = build_inputs(Batch(variants, runs))
    layout = ChannelLayout.for_model(
        variants[0], inputs.oracle_active, inputs.remint, inputs.capacity_limited
    )
    every = record_every or choose_record_every(inputs.days, inputs.size, len(layout.recorded))
    rng = np.random.default_rng(seed)
    state = _initial_state(inputs)
    records = np.zeros((-(-inputs.days // every), len(layout.recorded), inputs.size), dtype=np.float32)
    acc = np.zeros((len(layout.recorded), inputs.size))
    ix = layout.index
    window_start = 0
    for start in range(0, inputs.days, BLOCK_DAYS):
        stop = min(start + BLOCK_DAYS, inputs.days)
        block = _draw_block(inputs, state, rng, start, stop)
        for t in range(start, stop):
            _advance_day(inputs, state, rng, block, t, acc, ix)
            if (t + 1) % every == 0 or t + 1 == inputs.days:
                length = t + 1 - window_start
                records[t // every] = acc if length == 1 else acc / length
                acc.fill(0.0)
                window_start = t + 1
        if progress is not None:
            progress(stop - start)
    return SimulationResult(variants, runs, inputs.days, every, layout, records)
