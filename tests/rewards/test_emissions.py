"""Emission schedules: closed-form totals and exact epoch sums."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.config import DecliningEmission, FixedEmission, HalvingEmission, NetworkConfig, TokenConfig
from opendepin.rewards.emissions import SECONDS_PER_DAY, compute_epoch_emission, cumulative_emission
from opendepin.rewards.epoch import window_for

TOKEN = TokenConfig()
UNIT = TOKEN.unit


def test_halving_totals() -> None:
    schedule = HalvingEmission(initial_per_year=60_000_000, halving_period_days=730)
    assert cumulative_emission(schedule, TOKEN, 730 * SECONDS_PER_DAY) == 120_000_000 * UNIT
    assert cumulative_emission(schedule, TOKEN, 2 * 730 * SECONDS_PER_DAY) == 180_000_000 * UNIT
    # the limit is 240M: after 40 periods it is within a token of it
    assert 240_000_000 * UNIT - cumulative_emission(schedule, TOKEN, 40 * 730 * SECONDS_PER_DAY) < UNIT


def test_fixed_and_declining() -> None:
    assert cumulative_emission(FixedEmission(per_year=365), TOKEN, SECONDS_PER_DAY) == UNIT
    declining = DecliningEmission(initial_per_year=100, factor=0.5, period_days=365)
    assert cumulative_emission(declining, TOKEN, 2 * 365 * SECONDS_PER_DAY) == 150 * UNIT


def test_capped_by_max_supply() -> None:
    token = TokenConfig(max_supply=1_000)
    assert cumulative_emission(FixedEmission(per_year=10**9), token, 10**8) == 1_000 * UNIT


@settings(max_examples=50, deadline=None)
@given(epochs=st.integers(1, 60), length=st.sampled_from([3_600, 86_400, 7 * 86_400]))
def test_epochs_sum_to_cumulative(epochs: int, length: int) -> None:
    config = NetworkConfig.model_validate({"epochs": {"length_seconds": length}})
    total = sum(
        compute_epoch_emission(config.emission, config.token, window_for(config, n), config.epochs.genesis_ts)
        for n in range(epochs)
    )
    assert total == cumulative_emission(config.emission, config.token, epochs * length)
