"""Heartbeat and speed-test rules of mobile-style coverage (HIP-74 family; docs/wireless-poc.md).

Each rule is a small pure function. Heartbeats are truncated to the hour; one per hour counts. A radio
needs `min_heartbeats_per_day` valid hours (scaled to the epoch length) to be rewardable. Location trust per
heartbeat (HIP-119): ≤ 300 m from the asserted cell → 1.0, ≤ 400 m → 0.25, else 0 and the heartbeat is
invalid (`heartbeat.location_too_far`); the radio's multiplier is the mean over its located heartbeats.

Exact: multipliers are Fractions (network.toml decimals read as the decimal they spell), speed-test
figures are the signed payload's doubles converted exactly (`Fraction(float)`), and the distance of the
300/400 m rule is computed deterministically (quantised cell centre, `opendepin.detmath`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

from opendepin.sectors.wireless.params import SpeedTier, WirelessParams
from opendepin.sectors.wireless.poc.geo import compute_distance_m as compute_great_circle_m
from opendepin.sectors.wireless.poc.geo import get_cell_center

SECONDS_PER_HOUR = 3_600


def truncate_to_hour(ts: int) -> int:
    """HIP-74: heartbeats are bucketed by the hour they were sent in."""
    return ts - ts % SECONDS_PER_HOUR


def compute_distance_m(cell: str, lat: float, lon: float) -> float:
    """Great-circle distance between an asserted H3 cell's (quantised) centre and a measured position, in
    metres; the same bits on every machine."""
    return compute_great_circle_m(get_cell_center(cell), (lat, lon))


def compute_location_trust(distance_m: float, params: WirelessParams) -> Fraction:
    """HIP-119 location-trust multiplier for one heartbeat."""
    if distance_m <= params.trust_full_radius_m:
        return Fraction(1)
    if distance_m <= params.trust_partial_radius_m:
        return decimal_fraction(params.trust_partial_multiplier)
    return Fraction(0)


def compute_required_heartbeats(params: WirelessParams, epoch_seconds: int) -> int:
    """Valid hours needed per epoch: the daily minimum scaled to the epoch length, rounded up."""
    return max(1, math.ceil(params.min_heartbeats_per_day * epoch_seconds / 86_400))


def compute_mean_trust(trusts: Sequence[Fraction]) -> Fraction:
    """Radio location multiplier: mean of per-heartbeat trust (0 when there is none)."""
    return sum(trusts, Fraction(0)) / len(trusts) if trusts else Fraction(0)


def compute_tier_multiplier(
    value: Fraction, thresholds: Sequence[tuple[float, float]], higher_is_better: bool
) -> Fraction:
    """Multiplier of the best tier `value` reaches ((threshold, multiplier) pairs best first; thresholds
    and multipliers are read as the decimals they spell)."""
    for threshold, multiplier in thresholds:
        limit = decimal_fraction(threshold)
        if (value >= limit) if higher_is_better else (value < limit):
            return decimal_fraction(multiplier)
    return Fraction(0)


@lru_cache(maxsize=1024)
def decimal_fraction(value: float) -> Fraction:
    """The decimal a configured number spells, exactly (`Fraction(str(value))`: 0.1 is 1/10)."""
    return Fraction(str(value))


def compute_mean(values: Sequence[float]) -> Fraction:
    """Exact mean of signed payload doubles (each converted exactly, `Fraction(float)`). A double is an
    integer over a power of two, so the sum is one integer over the largest of those powers: one Fraction
    built, not one per value and per addition (the same number)."""
    ratios = [v.as_integer_ratio() for v in values]
    denominator = math.lcm(*(d for _, d in ratios))
    return Fraction(sum(n * (denominator // d) for n, d in ratios), denominator * len(ratios))


SPEED_FIELDS = ("download_mbps", "upload_mbps", "latency_ms")
"""The payload fields of a speed test the multiplier reads, in `SpeedValues` order."""
SpeedValues = tuple[float, float, float]
"""A speed test's download and upload (Mb/s) and latency (ms), each `float(payload[field])`."""


def compute_speedtest_multiplier(
    tests: Sequence[tuple[float, float, float]], params: WirelessParams
) -> tuple[Fraction, dict[str, float | int | str]]:
    """HIP-74: average the latest `speedtest_window` tests (need `speedtest_min`); worst of three tiers."""
    latest = list(tests)[-params.speedtest_window :]
    if len(latest) < params.speedtest_min:
        return Fraction(0), {"tests": len(latest), "required": params.speedtest_min}
    down = compute_mean([t[0] for t in latest])
    up = compute_mean([t[1] for t in latest])
    latency = compute_mean([t[2] for t in latest])
    tiers: Sequence[SpeedTier] = params.speedtest_tiers
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


def compute_rank_multiplier(rank: int, params: WirelessParams) -> Fraction:
    """HIP-105-style rank in a hex: the n-th radio asserted in the same cell gets rank_multipliers[n]."""
    if rank < len(params.rank_multipliers):
        return decimal_fraction(params.rank_multipliers[rank])
    return Fraction(0)
