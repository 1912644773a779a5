"""Neighbours (robust median and MAD, lapse rate, sea-level pressure), clones, location hysteresis, cells,
the A/B channel rules and the EPA correction, the deployment classes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo, EpochWindow
from opendepin.sectors.sensors.airquality import (
    check_agreement,
    epa_correct,
    epa_correct_milli,
    identical_runs,
)
from opendepin.sectors.sensors.cells import Candidate, rank_cells
from opendepin.sectors.sensors.clones import CloneSeries, compare_pair, find_clones
from opendepin.sectors.sensors.deployment import classify_day, station_class
from opendepin.sectors.sensors.geometry import cell_at, distance_m, to_e7
from opendepin.sectors.sensors.location import locate
from opendepin.sectors.sensors.neighbours import mismatch_hours, nearest, robust_centre
from opendepin.sectors.sensors.params import (
    AirQualityParams,
    DeploymentParams,
    LocationParams,
    NeighbourParams,
)
from opendepin.sectors.sensors.reports import LOCATION
from opendepin.sectors.sensors.weather import SunStats, sea_level_pressure, sea_level_temperature

DAY = 86_400


# --- neighbours -------------------------------------------------------------------------------------------


def test_robust_centre_ignores_one_outlier() -> None:
    assert robust_centre([10, 11, 12, 13, 1_000]) == (12, 1)
    assert robust_centre([5]) == (5, 0)


@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=30), st.integers(-(10**6), 10**6))
def test_robust_centre_shifts_with_the_data(values: list[int], shift: int) -> None:
    med, mad = robust_centre(values)
    assert robust_centre([v + shift for v in values]) == (med + shift, mad)
    assert mad >= 0


def test_lapse_rate_and_sea_level_pressure() -> None:
    assert sea_level_temperature(10_000, 1_000, 6.5) == 16_500
    assert sea_level_temperature(10_000, 0, 6.5) == 10_000
    # 900 hPa at 1000 m and 10 °C: about 1014 hPa at sea level (hypsometric equation)
    assert 1_012_000 < sea_level_pressure(900_000, 10_000, 1_000) < 1_016_000
    assert sea_level_pressure(1_013_250, 15_000, 0) == 1_013_250


def _hours(values: dict[int, int | None]) -> dict[int, list[int | None]]:
    return {h: [v, None, None] for h, v in values.items()}


MISMATCH = [
    # own value, neighbours' values: with tolerance 3 °C, the band is max(3000, 3 × MAD)
    (15_000, [15_000, 15_500, 14_500, 16_000], False),
    (18_100, [15_000, 15_500, 14_500, 16_000], True),
    (17_900, [15_000, 15_500, 14_500, 16_000], False),
    (30_000, [15_000, 25_000, 5_000, 35_000], False),  # neighbours disagree a lot: wide band (3 × MAD)
    (30_000, [15_000, 15_000], False),  # fewer than 3 neighbours: not compared
]


@pytest.mark.parametrize(("own", "others", "mismatch"), MISMATCH)
def test_mismatch_band(own: int, others: list[int], mismatch: bool) -> None:
    params = NeighbourParams()
    bad, compared, _ = mismatch_hours(
        [0], _hours({0: own}), [_hours({0: v}) for v in others], {"temperature": 0}, params
    )
    assert bad["temperature"] == int(mismatch)
    assert compared["temperature"] == (1 if len(others) >= 3 else 0)


def test_nearest_within_radius() -> None:
    base = (to_e7(47.0), to_e7(8.5))
    positions = {
        "a": base,
        "b": (base[0] + to_e7(0.1), base[1]),  # 11 km north
        "c": (base[0], base[1] + to_e7(0.5)),  # 38 km east
        "d": (base[0] - to_e7(0.01), base[1]),  # 1.1 km south
    }
    near = nearest(positions, 25_000, 12)
    assert [d for d, _ in near["a"]] == ["d", "b"]
    assert near["c"] == []
    assert abs(near["a"][1][1] - 11_132) <= 2


# --- clones -----------------------------------------------------------------------------------------------


def _clone_pair(lag: int, noise: float, seed: int = 1) -> tuple[CloneSeries, CloneSeries]:
    rng = np.random.default_rng(seed)
    n = 500
    truth = np.cumsum(rng.normal(0, 80, n + 10)).astype(np.int64) + 15_000
    ts = 1_000_000 * 180 + 180 * np.arange(n, dtype=np.int64)
    source = CloneSeries(ts, truth[10:], ts + 30)
    copied = truth[10 - lag : 10 - lag + n] + np.rint(rng.normal(0, noise, n)).astype(np.int64)
    return source, CloneSeries(ts, copied, ts + 200)


def test_a_shifted_noisy_replay_is_a_clone_and_the_copier_is_found() -> None:
    params = NeighbourParams()
    source, copy = _clone_pair(lag=3, noise=40)
    evidence = compare_pair(copy, source, 180, params)
    assert evidence is not None and evidence["lag_slots"] == 3 and evidence["rms_milli"] < 150
    found = find_clones(
        {"src": source, "cpy": copy},
        {"src": [("cpy", 100)], "cpy": [("src", 100)]},
        {},
        {"src": 180, "cpy": 180},
        params,
    )
    assert set(found) == {"cpy"} and found["cpy"]["source"] == "src"


def test_independent_neighbours_are_not_clones() -> None:
    params = NeighbourParams()
    a, _ = _clone_pair(0, 0, seed=1)
    rng = np.random.default_rng(9)
    b = CloneSeries(a.ts, a.values + np.cumsum(rng.normal(0, 60, a.ts.size)).astype(np.int64), a.received)
    assert compare_pair(a, b, 180, params) is None


# --- location ---------------------------------------------------------------------------------------------


def _fixes(lat: float, lon: float, start: int, n: int = 4, hdop: float = 0.9) -> list[ReportRecord]:
    return [
        ReportRecord(
            f"f{start}:{k}",
            LOCATION,
            "st",
            start + k * 3_600,
            k,
            {"lat": lat, "lon": lon, "hdop": hdop, "sats": 10, "fix_type": 3},
            start + k * 3_600,
        )
        for k in range(n)
    ]


def test_location_hysteresis_jitter_then_a_real_move() -> None:
    params = LocationParams()
    home = (47.0, 8.5)
    cell = cell_at(to_e7(home[0]), to_e7(home[1]), 12)
    device = DeviceInfo("st", "0xo", "0xm", "ed25519", cell, 0)
    state = None
    day = [EpochWindow(n, n * DAY, (n + 1) * DAY) for n in range(7)]
    located = locate(device, _fixes(*home, 0), state, day[0], params)
    assert located.confidence == 1
    # 150 m of jitter: still home
    located = locate(device, _fixes(home[0] + 0.00135, home[1], DAY), located.state, day[1], params)
    assert located.confidence == 1 and located.evidence["offset_m"] < 200
    # 3 km away for a day: unverified, not moved
    away = (home[0] + 0.027, home[1])
    located = locate(device, _fixes(*away, 2 * DAY), located.state, day[2], params)
    assert located.confidence == 0 and [n for n, _ in located.notes] == ["sensors.location_unverified"]
    # a second day away: a real move; seniority restarts and pay waits out the cool-down
    located = locate(device, _fixes(*away, 3 * DAY), located.state, day[3], params)
    assert [n for n, _ in located.notes] == ["sensors.relocated"] and located.since == day[3].end
    located = locate(device, _fixes(*away, 4 * DAY), located.state, day[4], params)
    assert located.confidence == 0 and located.notes[0][0] == "sensors.relocation_cooldown"
    located = locate(device, _fixes(*away, 5 * DAY), located.state, day[5], params)
    assert located.confidence == 0  # two days at 0 after the move (relocation_zero_days)
    located = locate(device, _fixes(*away, 6 * DAY), located.state, day[6], params)
    assert located.confidence == 1


def test_inaccurate_fixes_are_refused_with_their_numbers() -> None:
    params = LocationParams()
    device = DeviceInfo("st", "0xo", "0xm", "ed25519", None, 0)
    located = locate(device, _fixes(47.0, 8.5, 0, n=2, hdop=9.0), None, EpochWindow(0, 0, DAY), params)
    assert {v.reason for v in located.verdicts} == {"sensors.fix_inaccurate"}
    assert located.confidence == 0 and located.notes[0][0] == "sensors.no_location_fix"


# --- cells ------------------------------------------------------------------------------------------------


def _candidate(i: int, owner: str, score: Fraction, since: int, dx_m: int = 0) -> Candidate:
    lat, lon = to_e7(47.0), to_e7(8.5) + i * 30_000 + dx_m * 131  # 230 m apart; 131 e-7° ≈ 1 m
    return Candidate(f"d{i:02}", owner, "cell", "weather", (lat, lon), score, since)


def test_capacity_ranks_by_quality_then_seniority() -> None:
    candidates = [_candidate(i, f"o{i}", Fraction(1 if i % 2 else 9, 10), 100 - i) for i in range(12)]
    out = rank_cells(candidates, capacity=10, colocated_m=50)
    unpaid = sorted(d for (d, _), o in out.items() if o.scaling == 0)
    # the six with score 0.9 first, then those with 0.1 by seniority (earlier `since` first): d11, d09, ...
    assert unpaid == ["d01", "d03"]
    assert out[("d10", "weather")].rank == 1 and out[("d11", "weather")].rank == 7


def test_owner_and_colocated_groups_share_one_slot() -> None:
    same_owner = [_candidate(i, "sybil", Fraction(1), 0) for i in range(3)]
    roof = [_candidate(10, "a", Fraction(1), 0), _candidate(10, "b", Fraction(1), 0, dx_m=2)]
    roof[1] = Candidate("d11", "b", "other-cell", "weather", roof[1].anchor, Fraction(1), 0)
    out = rank_cells([*same_owner, *roof], capacity=10, colocated_m=50)
    assert {out[(c.device_id, "weather")].scaling for c in same_owner} == {Fraction(1, 3)}
    assert out[("d10", "weather")].scaling == out[("d11", "weather")].scaling == Fraction(1, 2)
    assert out[("d11", "weather")].group_reason == "colocated"


def test_distance_is_integer_metres() -> None:
    assert distance_m(to_e7(47.0), to_e7(8.5), to_e7(47.001), to_e7(8.5)) == 111


# --- air quality ------------------------------------------------------------------------------------------

AB = [
    # A, B (thousandths of µg/m³), invalid?
    (10_000, 10_400, False),
    (10_000, 16_000, False),  # 6 µg/m³ apart but only 46 % relative
    (2_000, 8_000, False),  # 120 % relative but only 6 µg/m³... > 5 and > 0.7 → invalid below
    (1_000, 7_000, True),  # 6 apart, 150 %
    (100_000, 140_000, False),  # 40 apart, 33 %
    (0, 0, False),
]


@pytest.mark.parametrize(("a", "b", "invalid"), AB)
def test_ab_agreement(a: int, b: int, invalid: bool) -> None:
    expected = invalid or (abs(a - b) > 5_000 and 2 * abs(a - b) * 100 > 70 * (a + b))
    out = check_agreement(np.array([a]), np.array([b]), np.array([True]), AirQualityParams())
    assert bool(out[0]) == expected


def test_ab_missing_channel_is_invalid() -> None:
    out = check_agreement(np.array([5_000]), np.array([0]), np.array([False]), AirQualityParams())
    assert bool(out[0])


def test_identical_channels_for_an_hour() -> None:
    params = AirQualityParams()
    ts = np.arange(0, 7_200, 120, dtype=np.int64)
    a = 10_000 + ts // 120
    b = a.copy()
    b[40:] += 1  # identical for 80 minutes, then not
    out = identical_runs(ts, a, b, np.ones(ts.size, dtype=bool), params, 240)
    assert out[:40].all() and not out[40:].any()
    short = identical_runs(ts[:20], a[:20], a[:20], np.ones(20, dtype=bool), params, 240)
    assert not short.any()  # 38 minutes identical: too short


EPA = [
    # x (µg/m³), RH (%), corrected (exact)
    (Fraction(20), Fraction(50), Fraction(524, 1000) * 20 - Fraction(862, 10_000) * 50 + Fraction(575, 100)),
    (Fraction(0), Fraction(100), Fraction(0)),  # never below 0
    (
        Fraction(700),
        Fraction(30),
        Fraction(421, 10**6) * 700**2 + Fraction(392, 1000) * 700 + Fraction(344, 100),
    ),
]


@pytest.mark.parametrize(("x", "rh", "expected"), EPA)
def test_epa_correction(x: Fraction, rh: Fraction, expected: Fraction) -> None:
    assert epa_correct(x, rh) == expected


def test_epa_correction_blends_continuously_through_smoke() -> None:
    below, above = epa_correct(Fraction(570), Fraction(40)), epa_correct(Fraction(611), Fraction(40))
    w = Fraction(244, 10_000) * 600 - Fraction(139, 10)
    assert w > 0 and below < epa_correct(Fraction(600), Fraction(40)) < above
    assert epa_correct_milli(20_000, 50_000) == 11_920  # 10.48 − 4.31 + 5.75 = 11.92 exactly
    assert epa_correct_milli(20_001, 50_000) == 11_920  # 11.920524 → toward zero


# --- deployment -------------------------------------------------------------------------------------------


def test_deployment_classes() -> None:
    params = DeploymentParams()
    sunny = [Fraction(9, 10)] * 3
    lit = SunStats(expected=100, present=100, lit=90, measured=70_000_000, clear=100_000_000)
    assert classify_day(lit, 8_000, 2_000, sunny, 3, params)[0] == "OUTDOORS"
    dark = SunStats(expected=100, present=100, lit=0, measured=1_000_000, clear=100_000_000)
    assert classify_day(dark, 8_000, 2_000, sunny, 3, params)[0] == "INDOORS"
    assert classify_day(dark, 8_000, 2_000, [Fraction(0)] * 3, 3, params)[0] == "UNKNOWN"  # overcast for all
    shaded = SunStats(expected=100, present=100, lit=20, measured=20_000_000, clear=100_000_000)
    assert classify_day(shaded, 8_000, 2_000, sunny, 3, params)[0] == "BAD_DEPLOYMENT"
    tilted = SunStats(expected=100, present=100, lit=90, measured=50_000_000, clear=100_000_000)
    assert classify_day(tilted, 8_000, 2_000, sunny, 3, params)[0] == "INCLINED_NORTH"
    bright = SunStats(expected=100, present=100, lit=100, measured=160_000_000, clear=100_000_000)
    assert classify_day(bright, 8_000, 2_000, sunny, 3, params)[0] == "PROBABLY_BAD"
    sparse = SunStats(expected=100, present=30, lit=30, measured=1, clear=30_000_000)
    assert classify_day(sparse, 8_000, 2_000, sunny, 3, params)[0] == "UNKNOWN"


def test_station_class_is_the_week_majority() -> None:
    params = DeploymentParams()
    assert station_class(["OUTDOORS"] * 4 + ["INDOORS"] * 3, params) == ("OUTDOORS", Fraction(1))
    assert station_class(["INDOORS"] * 2 + ["OUTDOORS"] * 2, params)[0] == "INDOORS"  # ties: heavier penalty
    assert station_class(["UNKNOWN"] * 4 + ["INDOORS"] * 3, params)[0] == "UNKNOWN"
    assert station_class(["BAD_DEPLOYMENT"], params) == ("BAD_DEPLOYMENT", Fraction(29, 100))
