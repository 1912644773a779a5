"""The on-chain emission bound: its parameters bound the node's exact schedule from above, and the
contract's fixed-point cap is the exact geometric cap rounded down, for any schedule length."""

from __future__ import annotations

from fractions import Fraction

import pytest

from opendepin.chain.schedule import ALLOWANCE_SCALE, EmissionCap, compute_emission_cap
from opendepin.config import DecliningEmission, EpochConfig, FixedEmission, HalvingEmission, TokenConfig
from opendepin.rewards.emissions import cumulative_emission

SCHEDULES = [
    HalvingEmission(),
    HalvingEmission(initial_per_year=7, halving_period_days=3),
    DecliningEmission(),
    DecliningEmission(initial_per_year=1_000, factor=0.333, period_days=5),
    FixedEmission(),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: f"{s.kind}")
@pytest.mark.parametrize("length", [86_400, 7 * 3_600, 3_600 * 25])
def test_allowance_bounds_every_epoch(schedule: object, length: int) -> None:
    """What the node has emitted by the end of each epoch never exceeds the on-chain allowance."""
    token, epochs = TokenConfig(), EpochConfig(length_seconds=length)
    cap = compute_emission_cap(schedule, token, epochs)  # type: ignore[arg-type]
    allowance = 0
    for epoch in range(0, 2_000):
        allowance += cap.epoch_cap_scaled(epoch)
        total = cumulative_emission(schedule, token, (epoch + 1) * length)  # type: ignore[arg-type]
        assert total * ALLOWANCE_SCALE <= allowance, f"epoch {epoch}"
        assert cap.exact_epoch_cap(epoch) <= cap.initial_epoch_cap


DAILY_0999 = EmissionCap(
    initial_epoch_cap=164_383_561_643_835_616_438_357, decay_bps=9_990, decay_period_epochs=1
)
"""60 M tokens a year, ×0.999 a day: the schedule the cap used to stop decaying on."""


@pytest.mark.parametrize("epoch", [1, 512, 513, 3_650, 36_500])
def test_cap_is_the_exact_value_rounded_down(epoch: int) -> None:
    exact = DAILY_0999.exact_epoch_cap(epoch)
    scaled = DAILY_0999.epoch_cap_scaled(epoch)
    assert exact * ALLOWANCE_SCALE - DAILY_0999.cap_error_bound(epoch) <= scaled <= exact * ALLOWANCE_SCALE
    assert DAILY_0999.epoch_cap(epoch) == int(exact)  # whole units: the exact value, rounded down


def test_cap_at_ten_years_of_daily_decay() -> None:
    """Regression: at epoch 3,650 the cap was 98,489 tokens (decays stopped after 512) against 4,264."""
    assert DAILY_0999.epoch_cap(3_650) // 10**18 == 4_264
    assert (
        DAILY_0999.exact_epoch_cap(3_650) == DAILY_0999.initial_epoch_cap * Fraction(9_990, 10_000) ** 3_650
    )


def test_invalid_cap_is_tight_for_halving() -> None:
    token, epochs = TokenConfig(), EpochConfig()
    cap = compute_emission_cap(HalvingEmission(), token, epochs)
    first_epoch = cumulative_emission(HalvingEmission(), token, 86_400)
    assert first_epoch < cap.initial_epoch_cap <= first_epoch + 1
    assert cap.epoch_cap(730) == cap.initial_epoch_cap // 2
    assert cap.epoch_cap(730) < first_epoch  # a first-period emission is refused after the halving
