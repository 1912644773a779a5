"""The reward policy: how each epoch's device emission moves from coverage to usage as usage grows
(docs/architecture.md, "Users pay, providers earn").

Let E be the epoch's emission and P the token price (USD per whole token, the oracle's). The value users
paid for service in the epoch is U = Σ credits × credit_usd. The usage ratio is r = U / (E · P) (1 when users
burn as much value as the network emits). The usage weight w(r) is a piecewise-linear function of r given
by points in network.toml (flat beyond the first and last point); the device part of the emission is split
w to the usage categories and 1 − w to the coverage categories, each side in proportion to the categories'
configured basis points. Everything is exact (`Fraction`); amounts round toward zero and what rounding
leaves goes to the epoch's remainder.

A device's usage reward is capped at `cap` × the token value of the credits it carried (HIP-10's rule for
data transfer): a payer who buys service from its own device recovers at most what it burned, so wash
usage does not pay. What the cap leaves flows on like an unused pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

BASIS_POINTS = 10_000
WAD = 10**18


def compute_usage_ratio(
    usage_usd: Fraction, emission_units: int, token_unit: int, price_usd: Fraction
) -> Fraction:
    """r = value paid by users ÷ value emitted (0 when nothing is emitted or the price is 0)."""
    emitted_usd = Fraction(emission_units, token_unit) * price_usd
    if emitted_usd <= 0:
        return Fraction(0)
    return usage_usd / emitted_usd


def compute_usage_weight(ratio: Fraction, points: Sequence[tuple[Fraction, Fraction]]) -> Fraction:
    """w(r): linear between the policy's points (sorted by r), flat before the first and after the last."""
    if not points:
        return Fraction(0)
    if ratio <= points[0][0]:
        return points[0][1]
    for (r0, w0), (r1, w1) in pairwise(points):
        if ratio <= r1:
            return w0 + (w1 - w0) * (ratio - r0) / (r1 - r0)
    return points[-1][1]


@dataclass(frozen=True, slots=True)
class PolicySplit:
    """Category pools after applying the usage weight, with what rounding left."""

    pools: dict[str, int]
    remainder: int
    weight: Fraction


def split_device_emission(
    device_emission: int,
    weight: Fraction,
    usage_bp: Mapping[str, int],
    coverage_bp: Mapping[str, int],
) -> PolicySplit:
    """Usage categories share ⌊device_emission × w⌋ by their basis points, coverage categories share the
    rest by theirs; each category's amount rounds toward zero. A side with no basis points gives its part
    to the other side (there is nobody to pay it)."""
    usage_total_bp, coverage_total_bp = sum(usage_bp.values()), sum(coverage_bp.values())
    if usage_total_bp == 0:
        weight = Fraction(0)
    elif coverage_total_bp == 0:
        weight = Fraction(1)
    usage_amount = int(device_emission * weight)
    coverage_amount = device_emission - usage_amount
    pools: dict[str, int] = {}
    for side_amount, side_bp, total in (
        (usage_amount, usage_bp, usage_total_bp),
        (coverage_amount, coverage_bp, coverage_total_bp),
    ):
        for name, bp in sorted(side_bp.items()):
            pools[name] = side_amount * bp // total if total else 0
    return PolicySplit(pools, device_emission - sum(pools.values()), weight)


def compute_usage_cap(
    credits: int, credit_usd: Fraction, price_usd: Fraction, token_unit: int, cap: Fraction
) -> int:
    """Most a device may earn from usage pools: cap × the token value of the credits it carried, in smallest
    units, rounded toward zero; 0 when the price is unknown (nothing can be valued: the pool flows on)."""
    if price_usd <= 0:
        return 0
    return int(cap * credits * credit_usd / price_usd * token_unit)
