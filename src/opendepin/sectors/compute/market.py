"""The market's rules as small pure functions (docs/compute.md, "The market").

Akash's open marketplace, settled by the engine: a tenant signs an order (orders.py); providers bid a price
per unit with a deposit from their bond; when the order's bid window closes the cheapest bids that meet the
requirements win (one per owner, `replicas` of them), each a lease; the tenant's escrow account pays every
verified run at the provider's own price, the protocol keeps its take, and the engine settles every epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opendepin.sectors.compute.attributes import Hardware
from opendepin.sectors.compute.orders import Requirements

BPS = 10_000


def required_deposit(price: int, units: int, deposit_bps: int, min_deposit: int) -> int:
    """Rule: a bid's deposit is at least `deposit_bps` of one run at its price (rounded up), and at least
    `min_deposit`."""
    return max(min_deposit, -(-price * units * deposit_bps // BPS))


def unmet_requirements(hardware: Hardware, requirements: Requirements) -> list[str]:
    """The requirements a provider's signed attributes do not meet (empty: it qualifies). A GPU model, when
    asked for, must match exactly."""
    unmet = []
    if hardware.cpu_cores < requirements.cpu_cores:
        unmet.append("cpu_cores")
    if hardware.memory_mb < requirements.memory_mb:
        unmet.append("memory_mb")
    if requirements.gpu_model and hardware.gpu_model != requirements.gpu_model:
        unmet.append("gpu_model")
    if hardware.benchmark_hps < requirements.benchmark_hps:
        unmet.append("benchmark_hps")
    return unmet


@dataclass(frozen=True, slots=True)
class Bid:
    """A bid as the book keeps it."""

    device: str
    owner: str
    price: int
    deposit: int
    received_at: int
    report_id: str


def match(bids: Sequence[Bid], slots: int, excluded: frozenset[str] = frozenset()) -> list[Bid]:
    """Rule: the winners of an auction for `slots` leases: bids in ascending (price, received_at, report id)
    order, skipping devices in `excluded` (those that already held a lease on the order) and any owner that
    already won a slot (replicas must not share an owner), until `slots` are filled."""
    winners: list[Bid] = []
    owners: set[str] = set()
    for bid in sorted(bids, key=lambda b: (b.price, b.received_at, b.report_id)):
        if len(winners) == slots:
            break
        if bid.device in excluded or bid.owner in owners:
            continue
        winners.append(bid)
        owners.add(bid.owner)
    return winners


def split_take(amount: int, take_bps: int) -> tuple[int, int]:
    """(provider's share, protocol's take) of a release from escrow; the take is rounded toward zero, so the
    two always add up to `amount`."""
    take = amount * take_bps // BPS
    return amount - take, take


def run_due(start: int, first_run: int, run: int, deadline_s: int) -> int:
    """The time by which a lease that started at `start` with `first_run` must have delivered `run`."""
    return start + (run - first_run + 1) * deadline_s
