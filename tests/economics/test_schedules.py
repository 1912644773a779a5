"""Emission schedules: closed-form totals (halving, Filecoin at known times), the network's schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.config import DecliningEmission, FixedEmission, HalvingEmission, TokenConfig
from opendepin.economics import schedules
from opendepin.economics.spec import DecliningSchedule, FilecoinSchedule, FixedSchedule, HalvingSchedule
from opendepin.rewards.emissions import SECONDS_PER_DAY, cumulative_emission

HELIUM = HalvingSchedule(initial_per_year=60_000_000, halving_period_days=730)


def test_halving_totals_match_helium() -> None:
    """60M/yr in years 1–2, then 30M, 15M …: 120M after 2 years, 180M after 4, → 240M."""
    days = np.array([365.0, 730.0, 1460.0, 2190.0, 730.0 * 40])
    total = schedules.compute_cumulative_emission(HELIUM, days)
    assert total == pytest.approx([60e6, 120e6, 180e6, 210e6, 240e6], rel=1e-12)


def test_daily_mint_halves_on_the_halving_day() -> None:
    mint = schedules.compute_daily_mint(HELIUM, start_day=0, days=1461, max_supply=1e12)
    assert mint[0] == pytest.approx(60e6 / 365)
    assert mint[729] == pytest.approx(60e6 / 365)
    assert mint[730] == pytest.approx(30e6 / 365)
    assert mint.sum() == pytest.approx(180e6 + 15e6 / 365)


def test_daily_mint_stops_at_max_supply() -> None:
    mint = schedules.compute_daily_mint(FixedSchedule(per_year=365), start_day=0, days=20, max_supply=10.5)
    assert mint.sum() == pytest.approx(10.5)
    assert mint[10] == pytest.approx(0.5)
    assert np.all(mint[11:] == 0)


def test_start_day_continues_the_schedule() -> None:
    whole = schedules.compute_daily_mint(HELIUM, 0, 1000, 1e12)
    later = schedules.compute_daily_mint(HELIUM, 700, 300, 1e12)
    assert later == pytest.approx(whole[700:])


@pytest.mark.parametrize(
    "network",
    [
        HalvingEmission(initial_per_year=60_000_000, halving_period_days=730),
        FixedEmission(per_year=30_000_000),
        DecliningEmission(initial_per_year=60_000_000, factor=0.85, period_days=364),
    ],
)
def test_float_schedule_matches_the_exact_integer_schedule(network: object) -> None:
    """The simulator's schedule for a network.toml is the one rewards/emissions.py pays (float precision)."""
    token = TokenConfig()
    spec = schedules.emission_from_network(network)  # type: ignore[arg-type]
    for day in (1, 100, 729, 730, 1000, 3650):
        exact = cumulative_emission(network, token, day * SECONDS_PER_DAY) / token.unit  # type: ignore[arg-type]
        assert schedules.compute_cumulative_emission(spec, np.array([float(day)]))[0] == pytest.approx(
            exact, rel=1e-9
        )


def test_declining_pool_multiplies_each_period() -> None:
    spec = DecliningSchedule(initial_per_year=365, factor=0.5, period_days=10)
    mint = schedules.compute_daily_mint(spec, 0, 30, 1e12)
    assert mint[:10] == pytest.approx([1.0] * 10)
    assert mint[10:20] == pytest.approx([0.5] * 10)
    assert mint[20:] == pytest.approx([0.25] * 10)


def test_invalid_filecoin_needs_power() -> None:
    with pytest.raises(TypeError, match="power"):
        schedules.compute_cumulative_emission(FilecoinSchedule(), np.array([1.0]))


FIL = FilecoinSchedule()


def test_filecoin_simple_minting_at_known_times() -> None:
    """M_S(t) = 330M (1 − e^{−λt}), λ = ln2/6: half of 330M after 6 years, three quarters after 12."""
    assert schedules.compute_filecoin_simple_minted(FIL, 0.0) == pytest.approx(0.0)
    assert schedules.compute_filecoin_simple_minted(FIL, 6.0) == pytest.approx(165e6)
    assert schedules.compute_filecoin_simple_minted(FIL, 12.0) == pytest.approx(247.5e6)


def _baseline_after(years: float, power: float, steps_per_year: int = 365) -> float:
    capped = 0.0
    for k in range(int(years * steps_per_year)):
        t0, t1 = k / steps_per_year, (k + 1) / steps_per_year
        capped += float(schedules.compute_capped_power_increment(FIL, np.array([power]), t0, t1)[0])
    return float(
        schedules.compute_filecoin_baseline_minted(
            FIL, schedules.compute_filecoin_effective_time(FIL, capped)
        )
    )


def test_filecoin_baseline_when_power_always_beats_the_baseline() -> None:
    """R̄Σ = ∫ b = b₀(e^{gt} − 1)/g ⇒ θ = t ⇒ M_B = 770M (1 − e^{−λt}): 385M after 6 years."""
    assert _baseline_after(6.0, power=1e9) == pytest.approx(385e6, rel=1e-9)
    lam = math.log(2) / 6
    assert _baseline_after(3.0, power=1e9) == pytest.approx(770e6 * (1 - math.exp(-lam * 3)), rel=1e-9)


def test_filecoin_baseline_without_power_mints_nothing() -> None:
    assert _baseline_after(2.0, power=0.0) == pytest.approx(0.0, abs=1e-6)


def test_capped_power_increment_crossing_is_exact() -> None:
    """Raw power between b(t0) and b(t1): the integral follows b, then raw (checked by fine quadrature)."""
    b_mid = float(schedules.compute_filecoin_baseline_target(FIL, 0.5))
    exact = float(schedules.compute_capped_power_increment(FIL, np.array([b_mid]), 0.0, 1.0)[0])
    grid = np.linspace(0.0, 1.0, 200_001)
    numeric = np.trapezoid(np.minimum(schedules.compute_filecoin_baseline_target(FIL, grid), b_mid), grid)
    assert exact == pytest.approx(numeric, rel=1e-8)


@settings(max_examples=50, deadline=None)
@given(
    initial=st.floats(1.0, 1e9),
    period=st.integers(1, 2000),
    a=st.floats(0.0, 5000.0),
    b=st.floats(0.0, 5000.0),
)
def test_halving_cumulative_is_monotone_and_bounded(initial: float, period: int, a: float, b: float) -> None:
    """Property: cumulative emission never decreases and stays below twice the first period's output."""
    spec = HalvingSchedule(initial_per_year=initial, halving_period_days=period)
    lo, hi = sorted((a, b))
    values = schedules.compute_cumulative_emission(spec, np.array([lo, hi]))
    assert values[0] <= values[1] * (1 + 1e-12)
    assert values[1] <= 2 * initial * period / 365 * (1 + 1e-9)
