"""Held amounts by provider age (Storj's held-back pay, in the sector's own units).

Rules (docs/storage.md, "Held amounts"):
- a provider's age is the number of whole epochs between its onboarding and the epoch's start;
- of what a paid provider earns in an epoch (the data credits of its receipts, the byte-hours of its
  capacity units), `held_percent(age)` percent is held, rounded toward zero (the provider is never held more
  than the percentage); the schedule is `held_schedule` = ((age below, percent), …), 0 % past its end;
- at each `held_returns` step (age, percent) the provider is returned that percent of what it holds then
  (rounded toward zero), once, in the first epoch at or after that age in which it is paid;
- everything held is forfeited when the provider is disqualified.

Held credits and byte-hours are not counted in the epoch they are earned; returned ones are counted in the
epoch they are returned (the engine values them then); forfeited ones are never counted.
"""

from __future__ import annotations

from collections.abc import Sequence


def age_in_epochs(onboarded_at: int, epoch_start: int, epoch_length: int) -> int:
    """Whole epochs from onboarding to the epoch's start (0 in the first epoch, never negative)."""
    return max(0, epoch_start - onboarded_at) // max(1, epoch_length)


def held_percent(age: int, schedule: Sequence[tuple[int, int]]) -> int:
    """The percent held at `age`: the first step whose bound is above the age, else 0."""
    for below, percent in schedule:
        if age < below:
            return percent
    return 0


def split_held(amount: int, percent: int) -> tuple[int, int]:
    """(counted now, held): held = ⌊amount × percent / 100⌋, counted = the rest."""
    held = amount * percent // 100
    return amount - held, held


def returns_due(age: int, done: int, steps: Sequence[tuple[int, int]]) -> list[int]:
    """The percents of the return steps reached by `age` and not yet applied (`done` steps applied)."""
    return [percent for at, percent in steps[done:] if age >= at]


def apply_returns(held: int, percents: Sequence[int]) -> tuple[int, int]:
    """(returned, still held) after applying each due percent in turn, each rounded toward zero."""
    returned = 0
    for percent in percents:
        step = held * percent // 100
        returned += step
        held -= step
    return returned, held
