"""Emission schedules (halving, fixed, declining) as exact integer functions of time.

`cumulative_emission(schedule, token, seconds)` is the number of smallest units the schedule has released
`seconds` after genesis, rounded toward zero and capped at max supply. An epoch's emission is the
difference of two such values, so epochs never drift from the schedule and their sum is exact.
"""

from __future__ import annotations

from fractions import Fraction

from opendepin.config import (
    DecliningEmission,
    EmissionConfig,
    FixedEmission,
    HalvingEmission,
    TokenConfig,
)
from opendepin.rewards.amounts import TokenUnits
from opendepin.sectors.base import EpochWindow

SECONDS_PER_DAY = 86_400
SECONDS_PER_YEAR = 365 * SECONDS_PER_DAY


def compute_period_emission(per_year_units: int, period_seconds: int) -> Fraction:
    """Units released by a rate of `per_year_units` per 365-day year over `period_seconds`."""
    return Fraction(per_year_units * period_seconds, SECONDS_PER_YEAR)


def _geometric_cumulative(
    initial_per_year: int, factor: Fraction, period_days: int, unit: int, t: int
) -> int:
    """Σ of full periods with the rate multiplied by `factor` each period, plus the current partial one."""
    period_s = period_days * SECONDS_PER_DAY
    full, partial = divmod(t, period_s)
    first = compute_period_emission(initial_per_year * unit, period_s)
    total = first * full if factor == 1 else first * (1 - factor**full) / (1 - factor)
    total += first * factor**full * Fraction(partial, period_s)
    return int(total)  # toward zero


def cumulative_emission(schedule: EmissionConfig, token: TokenConfig, seconds: int) -> TokenUnits:
    """Units emitted from genesis to `seconds` after it (≤ max supply); rounded toward zero."""
    t = max(0, seconds)
    unit = token.unit
    if isinstance(schedule, HalvingEmission):
        total = _geometric_cumulative(
            schedule.initial_per_year, Fraction(1, 2), schedule.halving_period_days, unit, t
        )
    elif isinstance(schedule, DecliningEmission):
        factor = Fraction(str(schedule.factor))
        total = _geometric_cumulative(schedule.initial_per_year, factor, schedule.period_days, unit, t)
    elif isinstance(schedule, FixedEmission):
        total = int(compute_period_emission(schedule.per_year * unit, t))
    else:  # pragma: no cover - the config union is closed
        raise TypeError(f"unknown emission schedule {schedule!r}")
    return TokenUnits(min(total, token.max_supply_units))


def compute_epoch_emission(
    schedule: EmissionConfig, token: TokenConfig, window: EpochWindow, genesis_ts: int
) -> TokenUnits:
    """Units the schedule releases during `window` (difference of cumulative emissions)."""
    end = cumulative_emission(schedule, token, window.end - genesis_ts)
    start = cumulative_emission(schedule, token, window.start - genesis_ts)
    return TokenUnits(end - start)
