"""Category pools of one epoch: the split, the usage policy, caps and flows (docs/architecture.md).

Order: the emission is split into categories by basis points (toward zero); with usage metered, the device
part is re-split between usage and coverage categories by the policy's weight (rewards/policy.py); then each
device category is allocated pro rata to its units, sources before the categories they flow to: a pool
nobody earned, and what the usage cap leaves, flows on by `unused_flows_to` (toward zero, the rounding to
the remainder) or, with no flow configured, stays unminted in the remainder under its cause.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from opendepin.config import NetworkConfig
from opendepin.market.receipts import UsageRecord
from opendepin.rewards.allocate import allocate_pool, split_by_basis_points
from opendepin.rewards.policy import (
    WAD,
    compute_usage_cap,
    compute_usage_ratio,
    compute_usage_weight,
    split_device_emission,
)


@dataclass(frozen=True)
class UsageFigures:
    """What users paid this epoch and the policy it implies."""

    credits: dict[str, dict[str, int]]
    """usage category → device → credits carried"""
    receipts: dict[str, dict[str, int]]
    """usage category → device → receipts counted"""
    credit_usd: Fraction
    price_usd: Fraction
    price_source: str
    value_usd: Fraction
    ratio: Fraction
    weight: Fraction

    def summary(self) -> dict[str, object]:
        """The manifest's `usage` entry: exact figures as fraction strings, credits as integers."""
        return {
            "credits": sum(sum(by_device.values()) for by_device in self.credits.values()),
            "credits_by_category": {c: sum(d.values()) for c, d in sorted(self.credits.items())},
            "value_usd": str(self.value_usd),
            "price_usd": str(self.price_usd),
            "price_source": self.price_source,
            "usage_ratio": str(self.ratio),
            "usage_weight": str(self.weight),
        }


def compute_usage_figures(
    config: NetworkConfig,
    usage_categories: Mapping[str, str],
    usage: Sequence[UsageRecord],
    emission: int,
    price_wad: int | None,
    released: Mapping[str, Mapping[str, int]] | None = None,
) -> UsageFigures:
    """Credits per usage category and device (receipts of sectors without a usage category are ignored),
    their USD value, the usage ratio and the policy's weight. A sector in `released` (sector → device →
    credits) keeps its receipts in escrow: its receipts are not counted, the credits it released are."""
    policy = config.rewards.usage
    credit_usd = Fraction(str(policy.credit_usd))
    if price_wad is not None and price_wad > 0:
        price, source = Fraction(price_wad, WAD), "oracle"
    else:
        price, source = Fraction(str(policy.reference_price_usd)), "reference"
    credits: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    released = released or {}
    for record in usage:
        category = usage_categories.get(record.sector)
        if category is not None and record.sector not in released:
            credits[category][record.device] += record.credits
            counts[category][record.device] += 1
    for sector, by_device in sorted(released.items()):
        category = usage_categories.get(sector)
        for device, amount in sorted(by_device.items()):
            if category is not None and amount > 0:
                credits[category][device] += amount
                counts[category][device] += 0  # released from escrow: no receipt of this epoch
    value = sum((sum(d.values()) for d in credits.values()), 0) * credit_usd
    ratio = compute_usage_ratio(value, emission, config.token.unit, price)
    points = [(Fraction(str(r)), Fraction(str(w))) for r, w in policy.weight]
    return UsageFigures(
        credits={c: dict(d) for c, d in credits.items()},
        receipts={c: dict(d) for c, d in counts.items()},
        credit_usd=credit_usd,
        price_usd=price,
        price_source=source,
        value_usd=value,
        ratio=ratio,
        weight=compute_usage_weight(ratio, points),
    )


def process_pools(
    config: NetworkConfig, emission: int, usage_categories: Sequence[str], weight: Fraction
) -> tuple[dict[str, int], dict[str, int]]:
    """Category pools before allocation: basis points, then the usage policy on the device part."""
    rewards = config.rewards
    split = split_by_basis_points(emission, rewards.categories)
    pools: dict[str, int] = {name: int(amount) for name, amount in split.amounts.items()}
    remainder: dict[str, int] = {"split_rounding": split.remainder}
    if usage_categories:
        device = [c for c in rewards.device_categories if c in rewards.categories]
        device_emission = sum(pools[c] for c in device)
        policy = split_device_emission(
            device_emission,
            weight,
            {c: rewards.categories[c] for c in device if c in usage_categories},
            {c: rewards.categories[c] for c in device if c not in usage_categories},
        )
        pools.update(policy.pools)
        remainder["policy_rounding"] = policy.remainder
    return pools, remainder


def flow_order(config: NetworkConfig) -> list[str]:
    """Device categories ordered so that every flow source comes before the categories it flows to."""
    flows = config.rewards.unused_flows_to
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(category: str) -> None:
        if category in ordered:
            return
        if category in visiting:
            raise ValueError(f"rewards.unused_flows_to has a cycle through {category!r}")
        visiting.add(category)
        for source, targets in sorted(flows.items()):
            if category in targets:
                visit(source)
        visiting.discard(category)
        ordered.append(category)

    for category in sorted(config.rewards.device_categories):
        visit(category)
    return ordered


@dataclass
class Allocation:
    """Per (device, category) amounts, what flowed where, and the remainder by cause."""

    amounts: dict[tuple[str, str], int] = field(default_factory=dict)
    pools: dict[str, int] = field(default_factory=dict)
    flows: list[list[object]] = field(default_factory=list)
    """[source, target, amount, cause]"""


def allocate_categories(
    config: NetworkConfig,
    pools: Mapping[str, int],
    units: Mapping[str, Mapping[str, int]],
    caps: Mapping[str, Mapping[str, int]],
    remainder: dict[str, int],
) -> Allocation:
    """Pro-rata amounts per (device, category), sources first; unused pools and capped amounts flow on."""
    pools = dict(pools)
    result = Allocation()
    for category in flow_order(config):
        pool = pools.get(category, 0)
        allocation = allocate_pool(pool, units.get(category, {}))
        category_caps = caps.get(category)
        capped = 0
        for device_id, amount in allocation.amounts.items():
            paid = min(amount, category_caps.get(device_id, 0)) if category_caps is not None else amount
            capped += amount - paid
            result.amounts[(device_id, category)] = paid
        result.pools[category] = pool if allocation.amounts else 0
        if allocation.amounts and allocation.remainder:
            key = f"rounding.{category}"
            remainder[key] = remainder.get(key, 0) + allocation.remainder
        for cause, amount in (("unused", 0 if allocation.amounts else pool), ("cap", capped)):
            if amount:
                flow_on(config, category, amount, cause, pools, result, remainder)
    return result


def flow_on(
    config: NetworkConfig,
    source: str,
    amount: int,
    cause: str,
    pools: dict[str, int],
    result: Allocation,
    remainder: dict[str, int],
) -> None:
    """Move `amount` of `source` to its `unused_flows_to` targets (toward zero), else to the remainder."""
    targets = config.rewards.unused_flows_to.get(source)
    if not targets:
        key = f"unallocated.{source}" if cause == "unused" else f"capped.{source}"
        remainder[key] = remainder.get(key, 0) + amount
        return
    moved = split_by_basis_points(amount, targets)
    for target, share in sorted(moved.amounts.items()):
        pools[target] = pools.get(target, 0) + share
        result.flows.append([source, target, share, cause])
    remainder["flow_rounding"] = remainder.get("flow_rounding", 0) + moved.remainder


def compute_caps(config: NetworkConfig, usage: UsageFigures) -> dict[str, dict[str, int]]:
    """Per usage category and device: the most the device may earn from it (cap × value of its credits)."""
    cap = Fraction(str(config.rewards.usage.cap))
    return {
        category: {
            device: compute_usage_cap(credits, usage.credit_usd, usage.price_usd, config.token.unit, cap)
            for device, credits in by_device.items()
        }
        for category, by_device in usage.credits.items()
    }
