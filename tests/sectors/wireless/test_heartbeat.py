"""Wireless heartbeat rules at their thresholds (just inside, just outside)."""

from __future__ import annotations

import math
from fractions import Fraction

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.geo import offset_point
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo, EpochWindow, SectorInput
from opendepin.sectors.wireless.heartbeat import (
    compute_distance_m,
    compute_location_trust,
    compute_mean,
    compute_rank_multiplier,
    compute_required_heartbeats,
    compute_speedtest_multiplier,
    compute_tier_multiplier,
    truncate_to_hour,
)
from opendepin.sectors.wireless.params import SpeedTier, WirelessParams
from opendepin.sectors.wireless.plugin import WirelessSector
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST

P = WirelessParams()
CELL = "8c1f1d48945d9ff"
LAT, LON = h3.cell_to_latlng(CELL)
START = 1_767_225_600
WINDOW = EpochWindow(0, START, START + 86_400)


@pytest.mark.parametrize(
    ("distance", "trust"),
    [(299.9, 1), (300.0, 1), (300.1, Fraction(1, 4)), (400.0, Fraction(1, 4)), (400.1, 0)],
)
def test_location_trust_edges(distance: float, trust: Fraction) -> None:
    assert compute_location_trust(distance, P) == trust


def test_distance_matches_offset() -> None:
    lat, lon = offset_point(LAT, LON, 350, 90)
    assert compute_distance_m(CELL, lat, lon) == pytest.approx(350, abs=1)


def test_required_heartbeats_scale_with_epoch() -> None:
    assert compute_required_heartbeats(P, 86_400) == 12
    assert compute_required_heartbeats(P, 7 * 86_400) == 84
    assert compute_required_heartbeats(P, 3_600) == 1


@pytest.mark.parametrize(
    ("tests", "multiplier"),
    [
        ([(100, 10, 49)] * 2, Fraction(1)),
        ([(100, 10, 50)] * 2, Fraction(3, 4)),  # latency must be *below* 50 ms
        ([(99.9, 10, 10)] * 2, Fraction(3, 4)),
        ([(30, 2, 99)] * 6, Fraction(1, 4)),
        ([(29.9, 50, 10)] * 6, Fraction(0)),
        ([(500, 50, 10)], Fraction(0)),  # fewer than 2 tests
    ],
)
def test_speedtest_tiers(tests: list[tuple[float, float, float]], multiplier: Fraction) -> None:
    assert compute_speedtest_multiplier(tests, P)[0] == multiplier


def test_speedtest_uses_latest_six() -> None:
    tests = [(0.0, 0.0, 999.0)] * 3 + [(200.0, 20.0, 10.0)] * 6
    assert compute_speedtest_multiplier(tests, P)[0] == 1


def test_rank_multiplier() -> None:
    assert [compute_rank_multiplier(i, P) for i in range(4)] == [1, Fraction(3, 4), Fraction(1, 4), 0]


def _device(i: int, cell: str | None = CELL) -> DeviceInfo:
    return DeviceInfo(f"ed25519:{i:064x}", "0x" + "11" * 20, "0x" + "22" * 20, "ed25519", cell, i)


def _heartbeats(
    device: DeviceInfo, hours: int, metres: float = 10.0, per_hour: int = 1
) -> list[ReportRecord]:
    lat, lon = offset_point(LAT, LON, metres, 45)
    return [
        ReportRecord(
            f"{device.device_id}-{h}-{k}",
            HEARTBEAT,
            device.device_id,
            START + h * 3600 + 60 + k,
            h * 10 + k,
            {"lat": lat, "lon": lon},
            0,
        )
        for h in range(hours)
        for k in range(per_hour)
    ]


def _speedtests(device: DeviceInfo) -> list[ReportRecord]:
    return [
        ReportRecord(
            f"{device.device_id}-st{i}",
            SPEEDTEST,
            device.device_id,
            START + i * 4 * 3600 + 61,
            1000 + i,
            {"download_mbps": 150, "upload_mbps": 15, "latency_ms": 20},
            0,
        )
        for i in range(6)
    ]


def _evaluate(devices: list[DeviceInfo], reports: list[ReportRecord]):  # type: ignore[no-untyped-def]
    return WirelessSector(P).evaluate(SectorInput(WINDOW, {d.device_id: d for d in devices}, reports))


@pytest.mark.parametrize(("hours", "paid"), [(11, False), (12, True)])
def test_min_heartbeats_edge(hours: int, paid: bool) -> None:
    device = _device(1)
    outcome = _evaluate([device], _heartbeats(device, hours) + _speedtests(device))
    assert bool(outcome.contributions) is paid
    if not paid:
        assert outcome.notes[0].reason == "wireless.insufficient_heartbeats"
        assert outcome.notes[0].evidence == {"valid_hours": 11, "required": 12}


def test_duplicate_hour_counts_once() -> None:
    device = _device(1)
    outcome = _evaluate([device], _heartbeats(device, 11, per_hour=2) + _speedtests(device))
    reasons = [v.reason for v in outcome.verdicts if v.report_id.count("-") == 2]
    assert reasons.count("heartbeat.duplicate_hour") == 11
    assert not outcome.contributions


def test_invalid_far_heartbeats_have_evidence() -> None:
    device = _device(1)
    outcome = _evaluate([device], _heartbeats(device, 24, metres=2_000) + _speedtests(device))
    far = [v for v in outcome.verdicts if v.reason == "heartbeat.location_too_far"]
    assert len(far) == 24 and far[0].evidence["distance_m"] == pytest.approx(2_000, rel=0.005)
    assert far[0].evidence["limit_m"] == 400


def test_partial_trust_scales_share() -> None:
    device = _device(1)
    outcome = _evaluate([device], _heartbeats(device, 24, metres=350) + _speedtests(device))
    (contribution,) = outcome.contributions
    assert contribution.breakdown["location_trust"] == "1/4"
    assert contribution.units == 250_000_000


def test_invalid_no_asserted_location() -> None:
    device = _device(1, cell=None)
    outcome = _evaluate([device], _heartbeats(device, 24))
    assert {v.reason for v in outcome.verdicts if "st" not in v.report_id} == {
        "heartbeat.location_not_asserted"
    }


def test_rank_in_same_cell() -> None:
    devices = [_device(i) for i in range(4)]
    reports = [r for d in devices for r in _heartbeats(d, 24) + _speedtests(d)]
    outcome = _evaluate(devices, reports)
    units = {c.device_id: c.units for c in outcome.contributions}
    assert [units[d.device_id] for d in devices] == [10**9, 750_000_000, 250_000_000, 0]
    assert any(n.reason == "wireless.hex_rank_exceeded" for n in outcome.notes)


def test_hour_truncation() -> None:
    assert truncate_to_hour(START + 3_599) == START and truncate_to_hour(START + 3_600) == START + 3_600


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**80), 2**80)),
        min_size=1,
        max_size=8,
    )
)
def test_the_mean_is_the_exact_mean(values: list[float]) -> None:
    """`compute_mean` (one integer sum over a common power of two) is the mean of the values as Fractions."""
    assert compute_mean(values) == sum((Fraction(v) for v in values), Fraction(0)) / len(values)


def _reference_speedtest_multiplier(
    tests: list[tuple[float, float, float]], params: WirelessParams
) -> tuple[Fraction, dict[str, object]]:
    """The rule as first written, with Fractions: each field's exact mean against each tier."""
    latest = tests[-params.speedtest_window :]
    if len(latest) < params.speedtest_min:
        return Fraction(0), {"tests": len(latest), "required": params.speedtest_min}
    down, up, latency = (compute_mean([t[k] for t in latest]) for k in range(3))
    tiers = params.speedtest_tiers
    multiplier = min(
        compute_tier_multiplier(down, [(t.download_mbps, t.multiplier) for t in tiers], True),
        compute_tier_multiplier(up, [(t.upload_mbps, t.multiplier) for t in tiers], True),
        compute_tier_multiplier(latency, [(t.latency_ms, t.multiplier) for t in tiers], False),
    )
    return multiplier, {
        "tests": len(latest),
        "download_mbps": round(float(down), 3),
        "upload_mbps": round(float(up), 3),
        "latency_ms": round(float(latency), 3),
        "multiplier": str(multiplier),
    }


_threshold = st.one_of(st.sampled_from([0.1, 2.0, 10.0, 50.0, 75.5, 100.0]), st.floats(-1e3, 1e4))
_tier = st.builds(
    SpeedTier,
    download_mbps=_threshold,
    upload_mbps=_threshold,
    latency_ms=_threshold,
    multiplier=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 0.3]),
)
# values on and around thresholds (a mean exactly at a limit decides the tier), and anything finite
_speed = st.one_of(
    st.sampled_from([0.1, 2.0, 10.0, 50.0, 75.5, 100.0, 99.99999999999999, 100.00000000000001, 0.0, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    st.floats(min_value=0, max_value=500),
)


@settings(max_examples=600, deadline=None)
@given(
    data=st.data(),
    tiers=st.lists(_tier, min_size=1, max_size=5),
    window=st.integers(1, 7),
)
def test_the_integer_speed_rule_is_the_fraction_rule(
    data: st.DataObject, tiers: list[SpeedTier], window: int
) -> None:
    """`compute_speedtest_multiplier` (integer comparisons, no Fraction per radio) gives the multiplier and
    the evidence of the rule written with Fractions, for any tiers and any finite values; values are often
    the tiers' own thresholds and their neighbouring doubles, so that means fall exactly on a limit."""
    limits = [v for t in tiers for v in (t.download_mbps, t.upload_mbps, t.latency_ms)]
    near = st.sampled_from(
        [
            *limits,
            *(math.nextafter(v, math.inf) for v in limits),
            *(math.nextafter(v, -math.inf) for v in limits),
        ]
    )
    value = st.one_of(near, near, _speed)
    test = st.tuples(value, value, value)
    repeated = st.builds(lambda t, n: [t] * n, test, st.integers(1, 8))  # a mean that is the value itself
    tests = data.draw(st.one_of(st.lists(test, max_size=9), repeated))
    params = WirelessParams(speedtest_tiers=tiers, speedtest_window=window, speedtest_min=min(2, window))
    assert compute_speedtest_multiplier(tests, params) == _reference_speedtest_multiplier(tests, params)
