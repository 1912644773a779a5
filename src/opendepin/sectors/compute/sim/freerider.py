"""The free-rider tenant through the engine itself (`evaluate_compute`): it funds only the order deposit and
hopes providers run what it never pays for."""

from __future__ import annotations

import hashlib
from typing import Any

from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageRecord
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo, EpochWindow, SectorInput
from opendepin.sectors.compute import market
from opendepin.sectors.compute.evaluate import evaluate_compute
from opendepin.sectors.compute.jobs import JobSpec
from opendepin.sectors.compute.orders import Order, Requirements, sign_order
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.reports import BID

DAY = 86_400


def free_rider(
    params: ComputeParams,
    seed: int,
    orders: int = 20,
    units: int = 32,
    price: int = 12,
    value_per_credit: float = 1.5,
) -> dict[str, Any]:
    """`orders` orders of a tenant that escrows only the order deposit of each; one honest provider bids
    on each and runs only runs the escrow covers. Returns the tenant's net (value of results received less
    credits spent) per order, the providers' compensation and when the engine stopped each order."""
    start = 1_700_000_000 - 1_700_000_000 % DAY
    tenant = Wallet(hashlib.sha256(f"tenant{seed}".encode()).digest())
    owner = Wallet(hashlib.sha256(f"owner{seed}".encode()).digest())
    attrs = {"cpu_cores": 8, "memory_mb": 16_384, "benchmark_hps": 10**6}
    devices = {
        f"p{i}": DeviceInfo(f"p{i}", owner.address, "0xm", "ed25519", None, start - DAY, attrs)
        for i in range(orders)
    }
    m = params.market
    order_deposit = market.required_deposit(price * units, 1, m.order_deposit_bps, 0)
    bid_deposit = market.required_deposit(price, units, m.deposit_bps, m.min_deposit)
    usage, reports = [], []
    for i in range(orders):
        ts = start + 600 * (i + 1)
        order = Order(
            tenant.address,
            JobSpec("hashchain", f"{seed % 256:02x}" * 32, units, 100),
            Requirements(),
            price * 2,
            price * units * 10,
            1,
            10,
            600,
            ts,
            i,
        )
        data, sig = sign_order(order, tenant.sign_text)
        usage.append(
            UsageRecord(
                f"t{i}",
                "compute",
                f"p{i}",
                tenant.address,
                order_deposit,
                1,
                "credits",
                f"escrow:{i}",
                ts - 5,
                ts - 5,
            )
        )
        usage.append(
            UsageRecord(
                f"b{i}",
                "compute",
                f"p{i}",
                owner.address,
                bid_deposit,
                1,
                "credits",
                f"bond:p{i}",
                ts - 5,
                ts - 5,
            )
        )
        rid = hashlib.sha256(f"bid{seed}{i}".encode()).hexdigest()
        reports.append(
            ReportRecord(
                rid,
                BID,
                f"p{i}",
                ts + 1,
                i,
                {"order": data, "order_sig": sig, "price": price, "deposit": bid_deposit},
                ts + 1,
            )
        )
    outcome = evaluate_compute(
        SectorInput(EpochWindow(0, start, start + DAY), devices, reports, usage=usage), params
    )
    closed = [o for o in outcome.state["orders"].values() if o.get("reason") == "compute.insufficient_funds"]
    stopped_after = sorted(o["ended"] - o["opened"] for o in closed)
    spent = order_deposit * orders
    received_runs = 0  # providers ran nothing the escrow did not cover
    compensation = sum(outcome.usage_credits.values())
    net = received_runs * price * units * value_per_credit - spent
    honest_net = (value_per_credit - 1) * price * units  # a tenant that pays gets the value less the price
    return {
        "strategy": "free_rider_tenant",
        "expected_value": net / orders,
        "expected_value_closed_form": -order_deposit,
        "honest_tenant_net_per_run": honest_net,
        "orders": orders,
        "orders_closed_insufficient_funds": len(closed),
        "detection_rate": len(closed) / orders,
        "seconds_to_penalty_median": stopped_after[len(stopped_after) // 2] if stopped_after else None,
        "providers_compensated_credits": compensation,
        "unpaid_runs_received": received_runs,
    }
