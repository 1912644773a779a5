"""WeatherXM's range (OBC), spike and constancy checks and the hourly score, table by table."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendepin.sectors.sensors.params import ws1000, ws2000
from opendepin.sectors.sensors.qod.codes import (
    FROZEN_SENSOR,
    LONG_CONST,
    OBC,
    SHORT_CONST,
    SPIKE,
    UNIDENTIFIED_SPIKE,
    VALID,
)
from opendepin.sectors.sensors.qod.constancy import check_constancy, median_at_least, median_below
from opendepin.sectors.sensors.qod.hourly import flagged_hours, score_hours
from opendepin.sectors.sensors.qod.obc import check_ranges
from opendepin.sectors.sensors.qod.spikes import check_spikes, jump_threshold
from opendepin.sectors.sensors.reports import PARAMS
from tests.sectors.sensors.helpers import series

P = {name: k for k, name in enumerate(PARAMS)}

# (model, parameter, value in thousandths, expected annotation): WeatherXM's manufacturer limits, inclusive
OBC_TABLE = [
    ("WS1000", "temperature", -40_000, VALID),
    ("WS1000", "temperature", -40_001, OBC),
    ("WS1000", "temperature", 60_000, VALID),
    ("WS1000", "temperature", 60_001, OBC),
    ("WS2000", "temperature", 80_000, VALID),
    ("WS2000", "temperature", 80_001, OBC),
    ("WS1000", "humidity", 9_999, OBC),
    ("WS1000", "humidity", 10_000, VALID),
    ("WS2000", "humidity", 1_000, VALID),
    ("WS2000", "humidity", 999, OBC),
    ("WS1000", "humidity", 99_001, OBC),
    ("WS1000", "pressure", 299_999, OBC),
    ("WS1000", "pressure", 300_000, VALID),
    ("WS2000", "pressure", 539_999, OBC),
    ("WS2000", "pressure", 1_100_000, VALID),
    ("WS2000", "pressure", 1_100_001, OBC),
    ("WS1000", "wind_speed", 50_000, VALID),
    ("WS1000", "wind_speed", 50_001, OBC),
    ("WS1000", "wind_direction", 359_000, VALID),
    ("WS1000", "wind_direction", 359_001, OBC),
    ("WS1000", "solar", 3_157_063, VALID),  # 400000 lx / 126.7 lx per W/m² = 3157.1 W/m²
    ("WS1000", "solar", 3_157_101, OBC),
    ("WS2000", "solar", 1_578_500, VALID),  # 200000 lx → 1578.5 W/m²
    ("WS2000", "solar", 1_578_501, OBC),
]


@pytest.mark.parametrize(("model", "name", "value", "expected"), OBC_TABLE)
def test_range_limits(model: str, name: str, value: int, expected: int) -> None:
    profile = ws1000() if model == "WS1000" else ws2000()
    s = series([0, profile.step_s], {name: [value, value]})
    check_ranges(s, profile)
    assert s.codes[0, P[name]] == expected


def test_rain_accumulation_limit_grows_across_gaps() -> None:
    """0.254 mm/s × the seconds between samples: 4.064 mm in 16 s; 8.128 mm over a 32 s gap."""
    profile = ws1000()
    s = series([0, 16, 32, 64, 80], {"rain": [0, 4_064, 8_129, 16_257, 0]})
    check_ranges(s, profile)
    assert s.codes[:, P["rain"]].tolist() == [VALID, VALID, OBC, VALID, VALID]  # the counter may reset


# (model, parameter, seconds apart, threshold in thousandths): M5 fixed per sample (pressure swapped as in
# WeatherXM's code), Helium per minute × Δt up to the caps
THRESHOLDS = [
    ("WS1000", "temperature", 16, 2_000),
    ("WS1000", "humidity", 16, 5_000),
    ("WS1000", "wind_speed", 16, 20_000),
    ("WS1000", "pressure", 16, 800),
    ("WS1000", "temperature", 64, 2_000),
    ("WS2000", "temperature", 180, 9_000),
    ("WS2000", "temperature", 600, 15_000),
    ("WS2000", "humidity", 180, 30_000),
    ("WS2000", "humidity", 3_600, 80_000),
    ("WS2000", "wind_speed", 180, 15_000),
    ("WS2000", "pressure", 180, 2_400),
    ("WS2000", "pressure", 3_600, 15_000),
]


@pytest.mark.parametrize(("model", "name", "seconds", "expected"), THRESHOLDS)
def test_jump_thresholds(model: str, name: str, seconds: int, expected: int) -> None:
    profile = ws1000() if model == "WS1000" else ws2000()
    assert int(jump_threshold(profile, name, np.array([seconds]))[0]) == expected


def test_no_spike_check_for_wind_direction_and_rain() -> None:
    profile = ws2000()
    assert "wind_direction" not in profile.spike and "rain" not in profile.spike


def test_spike_marks_the_value_further_from_the_median_and_repeats() -> None:
    profile = ws2000()
    ts = [k * 180 for k in range(30)]
    temps = [15_000 + (k % 2) * 100 for k in range(30)]
    temps[25] = temps[26] = 30_000  # a jump of 15 °C (> 9 °C per 3 min) held for two samples
    s = series(ts, {"temperature": temps})
    check_spikes(s, profile)
    codes = s.codes[:, P["temperature"]].tolist()
    assert codes[25] == SPIKE and codes[26] == SPIKE
    assert codes.count(SPIKE) == 2 and UNIDENTIFIED_SPIKE not in codes


def test_spike_without_enough_data_for_a_median_is_unidentified() -> None:
    profile = ws2000()
    s = series([0, 180], {"temperature": [15_000, 30_000]})
    check_spikes(s, profile)
    assert s.codes[:, P["temperature"]].tolist() == [VALID, UNIDENTIFIED_SPIKE]


def test_a_jump_across_a_long_gap_is_not_a_spike() -> None:
    profile = ws2000()
    s = series([0, 3_600], {"temperature": [15_000, 30_000]})
    check_spikes(s, profile)
    assert s.codes[:, P["temperature"]].tolist() == [VALID, VALID]


def _stuck(profile_minutes: int, step: int, value: int, **others: list[int]) -> tuple[list[int], dict]:
    n = profile_minutes * 60 // step + 1
    return [k * step for k in range(n)], {"n": n, "value": value, **others}


# (parameter, stuck value, minutes stuck, humidity, temperature, expected annotation): WeatherXM Table 6
CONSTANCY = [
    ("temperature", 15_000, 239, 60_000, None, VALID),
    ("temperature", 15_000, 240, 60_000, None, SHORT_CONST),
    ("temperature", 15_000, 1_440, 60_000, None, LONG_CONST),
    ("temperature", 15_000, 1_440, 96_000, None, VALID),  # fog: humidity median ≥ 95 %
    ("humidity", 70_000, 360, None, None, SHORT_CONST),
    ("humidity", 96_000, 1_440, None, None, VALID),
    ("pressure", 1_000_000, 120, 60_000, None, SHORT_CONST),
    ("pressure", 1_000_000, 119, 60_000, None, VALID),
    ("solar", 0, 600, 60_000, None, VALID),  # dark at night
    ("solar", 120_000, 120, 60_000, None, SHORT_CONST),
    ("wind_speed", 2_000, 360, 60_000, 10_000, SHORT_CONST),
    ("wind_speed", 2_000, 1_440, 60_000, 10_000, LONG_CONST),
    ("wind_speed", 0, 360, 60_000, 10_000, SHORT_CONST),  # calm but dry
    ("wind_speed", 0, 360, 90_000, 10_000, VALID),  # calm and damp (RH ≥ 85 %)
    ("wind_speed", 0, 360, 90_000, -3_000, FROZEN_SENSOR),
    ("wind_direction", 90_000, 360, 60_000, 10_000, SHORT_CONST),
]


@pytest.mark.parametrize(("name", "value", "minutes", "rh", "t", "expected"), CONSTANCY)
def test_constancy_windows(
    name: str, value: int, minutes: int, rh: int | None, t: int | None, expected: int
) -> None:
    profile = ws2000()
    step = 60
    n = minutes + 1
    ts = [k * step for k in range(n)]
    columns: dict[str, list[int | None]] = {name: [value] * n}
    if rh is not None:
        columns["humidity"] = [rh + (k % 3) * 10 for k in range(n)]
    if t is not None:
        columns["temperature"] = [t + (k % 3) * 10 for k in range(n)]
    if name == "wind_direction":
        columns["wind_speed"] = [3_000 + (k % 3) * 10 for k in range(n)]
    s = series(ts, columns)
    check_constancy(s, profile, {})
    assert int(s.codes[-1, P[name]]) == expected


def test_a_run_carried_from_the_previous_epoch_counts() -> None:
    profile = ws2000()
    ts = [k * 180 for k in range(21)]  # one hour stuck here...
    s = series(ts, {"pressure": [1_000_000] * 21})
    check_constancy(s, profile, {P["pressure"]: (0, 1_000_000, -3_600)})  # ...and one before
    assert int(s.codes[-1, P["pressure"]]) == SHORT_CONST


def test_lower_median_counts() -> None:
    assert median_at_least(np.array([94, 95, 96]), 95)
    assert not median_at_least(np.array([94, 95, 96, 97]) - 1, 95)
    assert median_below(np.array([-1, 0, 1]), 1) and not median_below(np.array([]), 0)


def test_hourly_score_is_valid_share_and_day_the_mean_of_means() -> None:
    profile = ws2000()  # 20 slots an hour
    ts = [k * 180 for k in range(40)]
    temps: list[int | None] = [15_000 + (k % 2) for k in range(40)]
    for k in range(20, 27):
        temps[k] = None  # the second hour misses 7 of 20 temperatures: 13/20 < 0.67 → unavailable
    s = series(ts, {"temperature": temps})
    scores = score_hours(s, profile, [0, 3_600])
    t = P["temperature"]
    assert scores.valid[:, t].tolist() == [20, 13]
    assert scores.available[:, t].tolist() == [True, False]
    assert scores.quality() == Fraction(40 * 7 - 7, 40 * 7)
    assert scores.available_hours() == 1
    assert scores.parameter_scores()["temperature"] == str(Fraction(33, 40))


def test_availability_thresholds_are_exact() -> None:
    """0.67 of 20 slots is 13.4: 14 valid slots are needed; wind 0.75 → 15; rain 0.85 → 17."""
    profile = ws2000()
    for name, needed in (("temperature", 14), ("wind_speed", 15), ("rain", 17)):
        for valid in (needed - 1, needed):
            ts = [k * 180 for k in range(20)]
            column: list[int | None] = [None if k >= valid else 1_000 + k for k in range(20)]
            if name == "rain":
                column = [None if k >= valid else 0 for k in range(20)]
            s = series(ts, {name: column})
            assert bool(score_hours(s, profile, [0]).available[0, P[name]]) == (valid >= needed)


def test_flagged_hours_per_parameter() -> None:
    profile = ws2000()
    ts = [k * 180 for k in range(60)]
    temps = [15_000 + (k % 2) * 50 for k in range(60)]
    for k in (5, 25, 45):
        temps[k] = 40_000
    s = series(ts, {"temperature": temps})
    check_spikes(s, profile)
    assert flagged_hours(s, [0, 3_600, 7_200]) == {"temperature": 3}


@given(st.lists(st.integers(-1_900, 1_900), min_size=2, max_size=60), st.integers(-20_000, 40_000))
def test_no_spike_when_every_jump_is_within_the_threshold(steps: list[int], start: int) -> None:
    profile = ws1000()  # 2 °C per sample
    temps = [start]
    for step in steps:
        temps.append(temps[-1] + step)
    s = series([k * 16 for k in range(len(temps))], {"temperature": temps})
    check_spikes(s, profile)
    assert not s.codes[:, P["temperature"]].any()


@given(st.lists(st.one_of(st.none(), st.integers(0, 100_000)), min_size=20, max_size=40))
def test_quality_is_a_share(humidity: list[int | None]) -> None:
    profile = ws2000()
    s = series([k * 180 for k in range(len(humidity))], {"humidity": humidity})
    check_ranges(s, profile)
    check_spikes(s, profile)
    check_constancy(s, profile, {})
    scores = score_hours(s, profile, [0, 3_600])
    assert 0 <= scores.quality() <= 1
    assert scores.available_hours() <= 2
