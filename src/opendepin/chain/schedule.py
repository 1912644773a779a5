"""The emission schedule as the rewards distributor enforces it on chain.

The contract cannot evaluate the node's exact schedule (`opendepin.rewards.emissions`: rational geometric
sums over seconds), so it enforces a simple upper bound per epoch,
`cap(e) = initial_epoch_cap · (decay_bps/10⁴)^⌊(e − first_epoch)/decay_period_epochs⌋`, and refuses a
running total above the sum of the caps of the posted epochs. `compute_emission_cap` derives parameters
that are never below the exact per-epoch emission, rounding every quantity up, so a valid posting is
never refused. `EmissionCap` holds the same rule twice: exactly, as a rational (`exact_epoch_cap`), and
as the contract computes it (`epoch_cap_scaled`: exponentiation by squaring in 36-decimal fixed point,
each product rounded down, the cap in 10⁻¹⁸ of the smallest unit), which is never above the exact value
and differs from it by less than `cap_error_bound`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil, floor

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
FIXED_POINT_ONE = 10**36
"""The contract's fixed-point one for the decay factor (36 decimals)."""
ALLOWANCE_SCALE = 10**18
"""The contract keeps caps and the cumulative allowance in 10⁻¹⁸ of the smallest unit."""


def compute_pow_down(base: int, exponent: int) -> int:
    """`base^exponent` for a 36-decimal fixed-point `base` ≤ 1, by squaring, each product rounded down
    (the contract's `_pow_down`): never above the exact power."""
    result, square, rest = FIXED_POINT_ONE, base, exponent
    while True:
        if rest & 1:
            result = result * square // FIXED_POINT_ONE
        rest >>= 1
        if rest == 0 or result == 0:
            return result
        square = square * square // FIXED_POINT_ONE


@dataclass(frozen=True)
class EmissionCap:
    """Constructor arguments of the distributor's schedule bound (smallest units per epoch)."""

    initial_epoch_cap: int
    decay_bps: int
    decay_period_epochs: int

    def periods(self, epoch: int, first_epoch: int = 0) -> int:
        """Decays applied to epoch `epoch`'s cap: ⌊(epoch − first_epoch) / decay_period_epochs⌋."""
        return 0 if self.decay_period_epochs == 0 else (epoch - first_epoch) // self.decay_period_epochs

    def exact_epoch_cap(self, epoch: int, first_epoch: int = 0) -> Fraction:
        """The schedule's cap of `epoch` as an exact rational (the reference the contract rounds down)."""
        if epoch < first_epoch:
            return Fraction(0)
        return self.initial_epoch_cap * Fraction(self.decay_bps, BPS) ** self.periods(epoch, first_epoch)

    def epoch_cap_scaled(self, epoch: int, first_epoch: int = 0) -> int:
        """The cap of `epoch` in 10⁻¹⁸ units exactly as the contract computes it (rounded down)."""
        if epoch < first_epoch:
            return 0
        if self.decay_period_epochs == 0:
            return self.initial_epoch_cap * ALLOWANCE_SCALE
        factor = compute_pow_down(self.decay_bps * (FIXED_POINT_ONE // BPS), self.periods(epoch, first_epoch))
        return self.initial_epoch_cap * factor // (FIXED_POINT_ONE // ALLOWANCE_SCALE)

    def epoch_cap(self, epoch: int, first_epoch: int = 0) -> int:
        """Largest emission of `epoch` in smallest units, rounded down (mirror of `epoch_cap` on chain)."""
        return self.epoch_cap_scaled(epoch, first_epoch) // ALLOWANCE_SCALE

    def cap_error_bound(self, epoch: int, first_epoch: int = 0) -> int:
        """An upper bound, in 10⁻¹⁸ units, of exact − `epoch_cap_scaled` (which is never negative).

        Squaring makes at most 2·b products for an exponent of b bits, each rounded down by less than one
        in 10⁻³⁶ of a factor ≤ 1, plus one final rounding: error < initial · (2b + 1) · 10⁻¹⁸ + 1.
        """
        bits = max(1, self.periods(epoch, first_epoch).bit_length())
        return self.initial_epoch_cap * (2 * bits + 1) // ALLOWANCE_SCALE + 2

    def allowance_scaled(self, through_epoch: int, first_epoch: int = 0) -> int:
        """Σ of the scaled caps of epochs first_epoch..through_epoch: the most the posted total may reach
        (times 10¹⁸) once `through_epoch` is posted. Linear in the number of epochs (tests, reports)."""
        return sum(self.epoch_cap_scaled(e, first_epoch) for e in range(first_epoch, through_epoch + 1))


def _first_period_rate(per_year_units: int, epoch_seconds: int) -> int:
    """Units per epoch at the initial rate, strictly above it (⌊rate⌋ + 1): the schedule's slack then
    exceeds the contract's rounding down of the allowance from the first epoch on."""
    return floor(Fraction(per_year_units * epoch_seconds, SECONDS_PER_YEAR)) + 1


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
