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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    total, denominator = _exact_sum(values)
    return Fraction(total, denominator * len(values))


SPEED_FIELDS = ("download_mbps", "upload_mbps", "latency_ms")
"""The payload fields of a speed test the multiplier reads, in `SpeedValues` order."""
SpeedValues = tuple[float, float, float]
"""A speed test's download and upload (Mb/s) and latency (ms), each `float(payload[field])`."""


def compute_speedtest_multiplier(
    tests: Sequence[tuple[float, float, float]], params: WirelessParams
) -> tuple[Fraction, dict[str, float | int | str]]:
    """HIP-74: average the latest `speedtest_window` tests (need `speedtest_min`); worst of three tiers.

    The same numbers as comparing each field's exact mean (`compute_mean`) with each tier's threshold
    (`compute_tier_multiplier`), in integers: a field's tests sum exactly to S / D (D the largest power of
    two of their doubles), so mean ≥ p / q ⟺ S·q ≥ p·D·n; the evidence shows `S / (D·n)`, which Python
    rounds correctly, as it does the Fraction. No Fraction is built per radio (a million radios an epoch);
    for many radios, `speedtest_rule(params)` reads the tiers once."""
    return speedtest_rule(params)(tests)


SpeedOutcome = tuple[Fraction, dict[str, float | int | str]]


def speedtest_rule(params: WirelessParams) -> Callable[[Sequence[SpeedValues]], SpeedOutcome]:
    """`compute_speedtest_multiplier` with `params` read once (its tiers as exact integer limits)."""
    table = _tier_table(tuple(params.speedtest_tiers))
    window, minimum = params.speedtest_window, params.speedtest_min

    def rule(tests: Sequence[SpeedValues]) -> SpeedOutcome:
        latest = list(tests)[-window:]
        count = len(latest)
        if count < minimum:
            return Fraction(0), {"tests": count, "required": minimum}
        down, up, latency = (_exact_sum([t[field] for t in latest]) for field in range(3))
        reached = (
            _first_tier(down, count, table.download, True),
            _first_tier(up, count, table.upload, True),
            _first_tier(latency, count, table.latency, False),
        )
        multiplier = table.worst(reached)
        return multiplier, {
            "tests": count,
            "download_mbps": round(down[0] / (down[1] * count), 3),
            "upload_mbps": round(up[0] / (up[1] * count), 3),
            "latency_ms": round(latency[0] / (latency[1] * count), 3),
            "multiplier": str(multiplier),
        }

    return rule


Limit = tuple[int, int]
"""A threshold as the exact (numerator, positive denominator) of the decimal it spells."""


@dataclass(frozen=True)
class _TierTable:
    """The speed tiers (best first) as exact limits per field, their multipliers (then 0: no tier
    reached), and the worst multiplier of each combination of reached tiers, computed once."""

    download: tuple[Limit, ...]
    upload: tuple[Limit, ...]
    latency: tuple[Limit, ...]
    multipliers: tuple[Fraction, ...]
    _worst: dict[tuple[int, int, int], Fraction] = field(default_factory=dict, compare=False)

    def worst(self, reached: tuple[int, int, int]) -> Fraction:
        """`min` of the three fields' multipliers (tier index; past the last tier: 0)."""
        found = self._worst.get(reached)
        if found is None:
            found = self._worst[reached] = min(self.multipliers[i] for i in reached)
        return found


@lru_cache(maxsize=64)
def _tier_table(tiers: tuple[SpeedTier, ...]) -> _TierTable:
    def limit(value: float) -> Limit:
        exact = decimal_fraction(value)
        return exact.numerator, exact.denominator

    return _TierTable(
        tuple(limit(t.download_mbps) for t in tiers),
        tuple(limit(t.upload_mbps) for t in tiers),
        tuple(limit(t.latency_ms) for t in tiers),
        (*(decimal_fraction(t.multiplier) for t in tiers), Fraction(0)),
    )


def _exact_sum(values: Sequence[float]) -> tuple[int, int]:
    """Σ values exactly, as (S, D): S / D with D the largest power of two of the doubles' denominators."""
    ratios = [v.as_integer_ratio() for v in values]
    denominator = max(d for _, d in ratios)  # powers of two (1 for an integer): the largest is their lcm
    return sum(n * (denominator // d) for n, d in ratios), denominator


def _first_tier(total: tuple[int, int], count: int, limits: Sequence[Limit], higher_is_better: bool) -> int:
    """The first tier whose limit the mean S / (D·count) reaches (≥ it, or below it when lower is better);
    `len(limits)` if none does."""
    value, scale = total[0], total[1] * count
    for index, (numerator, denominator) in enumerate(limits):
        if higher_is_better:
            reached = value * denominator >= numerator * scale
        else:
            reached = value * denominator < numerator * scale
        if reached:
            return index
    return len(limits)


def compute_rank_multiplier(rank: int, params: WirelessParams) -> Fraction:
    """HIP-105-style rank in a hex: the n-th radio asserted in the same cell gets rank_multipliers[n]."""
    if rank < len(params.rank_multipliers):
        return decimal_fraction(params.rank_multipliers[rank])
    return Fraction(0)
