"""The emission schedule as the rewards distributor enforces it on chain (specs/economics.md).

The contract cannot evaluate the exact schedule of `opendepin.rewards.emissions` (rational geometric sums),
so it enforces a simple upper bound: `cap(e) = initial_epoch_cap · (decay_bps/10⁴)^⌊e/period⌋`, each step
rounded up. `compute_emission_cap` derives parameters that are never below the exact per-epoch
emission, rounding every quantity up: a valid posting is never refused, a larger one always is.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from opendepin.config import (
    DecliningEmission,
    EmissionConfig,
    EpochConfig,
    FixedEmission,
    HalvingEmission,
    TokenConfig,
)

BPS = 10_000
SECONDS_PER_DAY = 86_400
SECONDS_PER_YEAR = 365 * SECONDS_PER_DAY


@dataclass(frozen=True)
class EmissionCap:
    """Constructor arguments of the distributor's schedule bound (smallest units per epoch)."""

    initial_epoch_cap: int
    decay_bps: int
    decay_period_epochs: int

    def cap(self, periods: int) -> int:
        """The cap after `periods` decays, computed as the contract does (rounded up each step)."""
        cap = self.initial_epoch_cap
        if self.decay_period_epochs == 0:
            return cap
        for _ in range(min(periods, 512)):
            cap = (cap * self.decay_bps + BPS - 1) // BPS
            if cap == 0:
                break
        return cap

    def epoch_cap(self, epoch: int, first_epoch: int = 0) -> int:
        """Largest emission epoch `epoch` may post (mirror of `epoch_cap` on chain)."""
        if epoch < first_epoch:
            return 0
        if self.decay_period_epochs == 0:
            return self.initial_epoch_cap
        return self.cap((epoch - first_epoch) // self.decay_period_epochs)


def _first_period_rate(per_year_units: int, epoch_seconds: int) -> int:
    # Units per epoch at the initial rate, rounded up.
    return ceil(Fraction(per_year_units * epoch_seconds, SECONDS_PER_YEAR))


def compute_emission_cap(schedule: EmissionConfig, token: TokenConfig, epochs: EpochConfig) -> EmissionCap:
    """Distributor cap parameters bounding `schedule` from above for epochs of `epochs.length_seconds`."""
    length = epochs.length_seconds
    if isinstance(schedule, FixedEmission):
        return EmissionCap(_first_period_rate(schedule.per_year * token.unit, length), BPS, 0)
    if isinstance(schedule, HalvingEmission):
        initial, factor, days = schedule.initial_per_year, Fraction(1, 2), schedule.halving_period_days
    elif isinstance(schedule, DecliningEmission):
        factor = Fraction(str(schedule.factor))
        initial, days = schedule.initial_per_year, schedule.period_days
    else:  # pragma: no cover - the config union is closed
        raise TypeError(f"unknown emission schedule {schedule!r}")
    # A period of ceil(period / epoch length) epochs decays no earlier than the real schedule does.
    period_epochs = ceil(Fraction(days * SECONDS_PER_DAY, length))
    return EmissionCap(
        initial_epoch_cap=_first_period_rate(initial * token.unit, length),
        decay_bps=ceil(factor * BPS),
        decay_period_epochs=period_epochs,
    )
