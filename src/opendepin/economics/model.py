"""The token-economics model: a compiled daily step (:mod:`.kernel`, numba) over runs × parameter sets.

Each day, in order (burn-and-mint with data credits; the kernel's docstring has every rule):
  1. demand per sector = trend × log walk; served = min(demand, capacity of the sector's devices); in the
     market model with scarcity pricing the price first rises until demand buys at most a share of the
     circulating supply;
  2. oracle: TWAP of reported prices; a missed update ages it; older than the staleness bound → credit
     minting halts and the day's demand is lost;
  3. burn B = min(served / P_oracle, circulating supply): burns are what was actually burned, and demand the
     circulating supply cannot meet is recorded as unmet (the supply is exhausted);
  4. mint M = scheduled emission (halving, fixed, declining, Filecoin baseline, or a custom path) +
     Helium-style re-mint; S ← S + M − B;
  5. the reward policy (:mod:`.policy`, the network's `[rewards.usage]`): r = B / M, w = w(r); the device
     pool M × device share splits into usage (w, paid for service carried, capped) and coverage (1 − w plus
     what flows back, by weight × count, less what cheaters take: the sectors' fraud leakage);
  6. contributors sell by the `[selling]` rule (costs, price, expectations), other recipients and
     unlocked allocations likewise, cheaters sell everything; staking moves toward its target; devices join
     on payback and leave below their operating cost;
  7. the price moves: exogenous walk, plus net buying for the market model.
No per-step Python objects and no state copies: the state is a few arrays of N columns, each column walked
through a block of days by compiled code. Custom policies (:class:`.custom.Policies`, plain Python functions
of the day's arrays) run the same code phase by phase. Everything is float64 (a forecast, not settlement);
recorded channels are window means kept as float32.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from opendepin.economics import layout as L
from opendepin.economics import schedules
from opendepin.economics.batch import Batch
from opendepin.economics.channels import ChannelLayout, choose_record_every, window_ends
from opendepin.economics.inputs import ModelInputs, build_inputs, has_leakage, has_locks
from opendepin.economics.spec import DAYS_PER_YEAR, ScenarioSpec

if TYPE_CHECKING:
    from opendepin.economics.custom import Policies

FloatArray = NDArray[np.float64]
ProgressCallback = Callable[[int], None]

BLOCK_DAYS = 365


@dataclass(frozen=True)
class SimulationResult:
    """Recorded channels (means over windows), shape (points, channels, N); windows end at `ends`."""

    variants: tuple[ScenarioSpec, ...]
    runs: int
    days: int
    every: int
    layout: ChannelLayout
    records: NDArray[np.float32]
    ends: NDArray[np.int64]

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
        return self.ends.astype(np.float64)

    @property
    def window_days(self) -> FloatArray:
        """Days in each recorded window."""
        return np.diff(np.concatenate([[0.0], self.record_days]))

    def channel(self, name: str) -> FloatArray:
        """One channel as float64, shape (points, N); aliases resolve to the channel they equal."""
        source = self.layout.resolve(name)
        if source is None:
            return np.zeros((self.records.shape[0], self.records.shape[2]))
        return self.records[:, self.layout.index[source], :].astype(np.float64)


def layout_for(variants: tuple[ScenarioSpec, ...]) -> ChannelLayout:
    """The channels `simulate` records for these parameter sets."""
    return _layout(variants[0], build_inputs(Batch(variants, 1)))


def _layout(spec: ScenarioSpec, inputs: ModelInputs) -> ChannelLayout:
    return ChannelLayout.for_model(
        spec,
        inputs.flag(L.F_ORACLE),
        inputs.flag(L.F_REMINT),
        inputs.flag(L.F_CAPACITY),
        locks=has_locks(spec),
        leakage=has_leakage(spec),
    )


def compute_column_seeds(seed: int, runs: int, sets: int) -> NDArray[np.uint64]:
    """One 64-bit seed per column from the experiment seed and the column's run number (so parameter sets
    share their random paths)."""
    per_run = np.random.SeedSequence(seed).generate_state(runs, dtype=np.uint64)
    return np.tile(per_run, sets)


def _initial_state(inputs: ModelInputs) -> NDArray[np.float64]:
    n = inputs.size
    x = np.zeros((L.N_STATE, n))
    first_price = inputs.base_price[0, inputs.set_of]
    x[L.X_SUPPLY] = inputs.initial_supply
    x[L.X_EMITTED] = inputs.initial_supply
    x[L.X_PRICE] = first_price
    x[L.X_REPORTED] = first_price
    for _ in range(inputs.twap_days):  # the initial window's sum (the TWAP window holds the first price)
        x[L.X_TWAP_TOTAL] += first_price
    x[L.X_EXPECT] = inputs.initial_expectation
    x[L.X_STAKED] = inputs.initial_staked
    if inputs.filecoin is not None:
        power = (inputs.device_params[L.D_RAW_POWER] * inputs.initial_counts).sum(axis=0)
        history = schedules.compute_capped_power_increment(
            inputs.filecoin, power, 0.0, inputs.start_day / DAYS_PER_YEAR
        )
        x[L.X_CAPPED_POWER] = history * np.ones(n)
        theta = schedules.compute_filecoin_effective_time(inputs.filecoin, x[L.X_CAPPED_POWER])
        x[L.X_BASELINE_MINTED] = schedules.compute_filecoin_baseline_minted(inputs.filecoin, theta)
    return x


def simulate(
    variants: tuple[ScenarioSpec, ...],
    runs: int,
    *,
    seed: int = 0,
    record_every: int | None = None,
    progress: ProgressCallback | None = None,
    policies: Policies | None = None,
    channels: tuple[str, ...] | None = None,
) -> SimulationResult:
    """Simulate `runs` Monte Carlo runs of each parameter set (same structure) over `variants[0].days`;
    channels are recorded as means over windows of `record_every` days, restarting at each year's end
    (default: fit a memory budget). `policies` replaces built-in decisions with plain functions; `channels`
    records only those channels (default: all of the model's)."""
    from opendepin.economics import kernel  # numba: compiled (and cached) on the first simulation only

    emission = policies.emission if policies is not None else None
    inputs = build_inputs(Batch(variants, runs), emission)
    layout = _layout(variants[0], inputs)
    if channels is not None:
        layout = layout.only(channels)
    every = record_every or choose_record_every(inputs.days, inputs.size, len(layout.recorded))
    ends = window_ends(inputs.days, every)
    point_of = np.repeat(np.arange(ends.shape[0], dtype=np.int64), np.diff(np.concatenate([[0], ends])))
    n, sectors, types = inputs.size, inputs.sectors, inputs.types
    x = _initial_state(inputs)
    window = np.repeat(x[L.X_PRICE][None, :], inputs.twap_days, axis=0)
    rng = kernel.seed_streams(compute_column_seeds(seed, runs, len(variants)))
    zd = np.zeros((L.N_DEVICE_DAY, types, n))
    zd[L.ZD_COUNT] = inputs.initial_counts
    sources = layout.sources()
    # column-major while simulating (a column's windows are written one after another), then viewed as
    # (points, channels, N)
    records = np.zeros((n, ends.shape[0], sources.shape[0]), dtype=np.float32)
    state = (
        x,
        np.zeros((sectors, n)),
        window,
        rng,
        np.zeros((L.N_DAY, n)),
        np.zeros((L.N_SECTOR_DAY, sectors, n)),
        zd,
        np.zeros((n, sources.shape[0])),
        records,
        sources,
        ends,
        point_of,
    )
    inp = inputs.kernel_inputs()
    if policies is not None and policies.decides_daily:
        from opendepin.economics.custom import run_phased

        run_phased(kernel, inputs, inp, state, policies, variants, runs, progress)
    else:
        plain = kernel.is_plain(inputs.flags, inputs.types)
        step = kernel.run_block_plain if plain else kernel.run_block_full  # the same paths as run_block
        for start in range(0, inputs.days, BLOCK_DAYS):
            stop = min(start + BLOCK_DAYS, inputs.days)
            step(start, stop, inp, state)
            if progress is not None:
                progress(stop - start)
    return SimulationResult(variants, runs, inputs.days, every, layout, records.transpose(1, 2, 0), ends)
