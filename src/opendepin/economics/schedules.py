"""Emission schedules (halving, fixed, declining, Filecoin-style) as vectorised float64 functions of time.

These mirror the exact integer schedules of :mod:`opendepin.rewards.emissions` (same formulas, same
365-day year) in float64 whole tokens, so that a whole daily path is one numpy expression. The Filecoin
baseline minting depends on the network's power, so it is advanced one step at a time by the model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from opendepin.config import DecliningEmission, EmissionConfig, FixedEmission, HalvingEmission
from opendepin.economics.spec import (
    DAYS_PER_YEAR,
    DecliningSchedule,
    EmissionSpec,
    FilecoinSchedule,
    FixedSchedule,
    HalvingSchedule,
)

FloatArray = NDArray[np.float64]


def compute_geometric_cumulative(
    initial_per_year: float, factor: float, period_days: float, days: FloatArray
) -> FloatArray:
    """Σ of full periods whose rate is multiplied by `factor` each period, plus the running partial one."""
    full = np.floor(days / period_days)
    per_period = initial_per_year * period_days / DAYS_PER_YEAR
    total = per_period * (1.0 - factor**full) / (1.0 - factor)
    partial = days - full * period_days
    return total + initial_per_year / DAYS_PER_YEAR * factor**full * partial


def compute_cumulative_emission(spec: EmissionSpec, days: FloatArray) -> FloatArray:
    """Tokens released from genesis to `days` after it (uncapped); Filecoin needs power, see below."""
    t = np.maximum(np.asarray(days, dtype=np.float64), 0.0)
    if isinstance(spec, HalvingSchedule):
        return compute_geometric_cumulative(spec.initial_per_year, 0.5, spec.halving_period_days, t)
    if isinstance(spec, DecliningSchedule):
        return compute_geometric_cumulative(spec.initial_per_year, spec.factor, spec.period_days, t)
    if isinstance(spec, FixedSchedule):
        return spec.per_year / DAYS_PER_YEAR * t
    raise TypeError(f"{spec.kind} emission depends on network power: use the filecoin_* functions")


def compute_daily_mint(spec: EmissionSpec, start_day: int, days: int, max_supply: float) -> FloatArray:
    """Scheduled mint of each day [start_day + i, start_day + i + 1), cumulative capped at `max_supply`."""
    edges = np.arange(start_day, start_day + days + 1, dtype=np.float64)
    cumulative = np.minimum(compute_cumulative_emission(spec, edges), max_supply)
    return np.diff(cumulative)


def compute_filecoin_lambda(spec: FilecoinSchedule) -> float:
    """λ = ln 2 / half-life (per year)."""
    return float(np.log(2.0) / spec.half_life_years)


def compute_filecoin_growth(spec: FilecoinSchedule) -> float:
    """g = ln 2 / baseline doubling time (per year)."""
    return float(np.log(2.0) / spec.baseline_doubling_years)


def compute_filecoin_simple_minted(spec: FilecoinSchedule, years: FloatArray | float) -> FloatArray:
    """M_S(t) = 330M · (1 − e^{−λt})."""
    return spec.simple_total * (1.0 - np.exp(-compute_filecoin_lambda(spec) * np.asarray(years)))


def compute_filecoin_baseline_target(spec: FilecoinSchedule, years: FloatArray | float) -> FloatArray:
    """b(t) = b₀ · e^{gt} in EiB."""
    return spec.baseline_initial_eib * np.exp(compute_filecoin_growth(spec) * np.asarray(years))


def compute_filecoin_effective_time(
    spec: FilecoinSchedule, capped_power_sum: FloatArray | float
) -> FloatArray:
    """θ = (1/g) · ln(1 + g · R̄Σ / b₀), R̄Σ in EiB·years."""
    g = compute_filecoin_growth(spec)
    return np.log1p(g * np.asarray(capped_power_sum) / spec.baseline_initial_eib) / g


def compute_filecoin_baseline_minted(spec: FilecoinSchedule, theta: FloatArray | float) -> FloatArray:
    """M_B(θ) = 770M · (1 − e^{−λθ})."""
    return spec.baseline_total * (1.0 - np.exp(-compute_filecoin_lambda(spec) * np.asarray(theta)))


def compute_capped_power_increment(
    spec: FilecoinSchedule, raw_power_eib: FloatArray, t0_years: float, t1_years: float
) -> FloatArray:
    """∫_{t0}^{t1} min(b(t), raw) dt for a raw power constant over the step (exact, not a Riemann sum).

    b(t) grows, so min(b, raw) follows b until the crossing t_c = ln(raw/b₀)/g and stays at raw after it.
    """
    g = compute_filecoin_growth(spec)
    b0 = spec.baseline_initial_eib
    raw = np.asarray(raw_power_eib, dtype=np.float64)
    with np.errstate(divide="ignore"):
        crossing = np.log(np.maximum(raw, 1e-300) / b0) / g
    tc = np.clip(crossing, t0_years, t1_years)
    return b0 * (np.exp(g * tc) - np.exp(g * t0_years)) / g + raw * (t1_years - tc)


def emission_from_network(emission: EmissionConfig) -> EmissionSpec:
    """The simulator's schedule for a network.toml `[emission]` table (same parameters, float64)."""
    if isinstance(emission, HalvingEmission):
        return HalvingSchedule(
            initial_per_year=emission.initial_per_year, halving_period_days=emission.halving_period_days
        )
    if isinstance(emission, DecliningEmission):
        return DecliningSchedule(
            initial_per_year=emission.initial_per_year,
            factor=emission.factor,
            period_days=emission.period_days,
        )
    if isinstance(emission, FixedEmission):
        return FixedSchedule(per_year=emission.per_year)
    raise TypeError(f"unknown network emission {emission!r}")  # pragma: no cover - closed union
