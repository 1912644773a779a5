"""The on-chain emission cap bounds the exact schedule from above (specs/economics.md, emission schedules)."""

from __future__ import annotations

import pytest

from opendepin.chain.schedule import compute_emission_cap
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
def test_cap_bounds_every_epoch(schedule: object, length: int) -> None:
    token, epochs = TokenConfig(), EpochConfig(length_seconds=length)
    cap = compute_emission_cap(schedule, token, epochs)  # type: ignore[arg-type]
    previous = 0
    for epoch in range(0, 2_000):
        total = cumulative_emission(schedule, token, (epoch + 1) * length)  # type: ignore[arg-type]
        assert total - previous <= cap.epoch_cap(epoch), f"epoch {epoch}"
        previous = total


def test_invalid_cap_is_tight_for_halving() -> None:
    token, epochs = TokenConfig(), EpochConfig()
    cap = compute_emission_cap(HalvingEmission(), token, epochs)
    first_epoch = cumulative_emission(HalvingEmission(), token, 86_400)
    assert first_epoch <= cap.initial_epoch_cap <= first_epoch + 1
    assert cap.epoch_cap(730) == (cap.initial_epoch_cap + 1) // 2
    assert cap.epoch_cap(730) < first_epoch  # a first-period emission is refused after the halving
