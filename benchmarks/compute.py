"""Benchmark: the compute sector's verification overhead and its market's matching throughput.

1. Verification overhead as a fraction of job cost, at the default parameters: for each job kind, the CPU
   time the engine (`evaluate_compute`) spends on an epoch of R delivered results (spot checks of s units,
   whole re-execution with probability q, roots, replica comparison), less the same epoch without the
   results (bids and matching only), divided by the CPU time of running the R jobs. Printed next to the
   expected share s/n · (1 − q) + q of the units recomputed.
2. Matching throughput: orders per second through the engine for N orders with B bids each (signed orders
   checked once per order, bids checked, cheapest qualifying bids matched, leases opened), against a bare
   sort of the same bids per order (`sorted` by price, time, id; the first wins) in the same run.

Times are CPU seconds of this process (`time.process_time`, best of interleaved rounds): the machine is
shared and wall time mostly measures the neighbours.

    .venv/bin/python benchmarks/compute.py [--results 16] [--orders 1000] [--bids 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageRecord
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import Challenge, ChallengeSeed, DeviceInfo, EpochWindow, SectorInput
from opendepin.sectors.compute.challenges import AUDIT, challenge_id
from opendepin.sectors.compute.evaluate import evaluate_compute
from opendepin.sectors.compute.jobs import JobSpec, run_job
from opendepin.sectors.compute.merkle import outputs_root
from opendepin.sectors.compute.orders import Order, Requirements, sign_order
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.reports import BID, RESULT

DAY = 86_400
START = 1_700_006_400
TENANT = Wallet(hashlib.sha256(b"bench-tenant").digest())
ATTRS = {"cpu_cores": 8, "memory_mb": 16_384, "benchmark_hps": 10**6}
JOBS = {"hashchain": 20_000, "matmul": 48, "mlp": 64}


def cpu(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def audits(params: ComputeParams) -> list[Challenge]:
    out = []
    for t in range(START, START + DAY, params.verify.audit_period_s):
        seed = ChallengeSeed("0x" + hashlib.sha256(str(t).encode()).hexdigest(), t)
        out.append(Challenge(AUDIT, challenge_id(AUDIT, seed), t, seed))
    return out


def market(orders: int, bids: int, units: int, kind: str, size: int, results: bool) -> SectorInput:
    """An epoch of `orders` signed orders, `bids` bids each from distinct owners, and (if `results`) every
    winner's honest result."""
    devices = {
        f"d{j}": DeviceInfo(f"d{j}", f"0x{j:040x}", "0xm", "ed25519", None, START - DAY, ATTRS)
        for j in range(bids)
    }
    usage = [UsageRecord("t", "compute", "d0", TENANT.address, 10**15, 1, "credits", "escrow", START, START)]
    usage += [
        UsageRecord(
            f"b{j}", "compute", f"d{j}", f"0x{j:040x}", 10**12, 1, "credits", f"bond:d{j}", START, START
        )
        for j in range(bids)
    ]
    reports = []
    for i in range(orders):
        ts = START + 40 * i
        seed = hashlib.sha256(f"{kind}{i}".encode()).hexdigest()
        order = Order(
            TENANT.address, JobSpec(kind, seed, units, size), Requirements(), 100, 10**9, 1, 1, DAY, ts, i
        )
        data, sig = sign_order(order, TENANT.sign_text)
        for j in range(bids):
            price = 50 + (i * 7 + j * 13) % 40
            payload = {"order": data, "order_sig": sig, "price": price, "deposit": price * units}
            reports.append(
                ReportRecord(f"{i:032x}{j:032x}", BID, f"d{j}", ts + 1 + j, j, payload, ts + 1 + j)
            )
        if results:
            winner = min(range(bids), key=lambda j: (50 + (i * 7 + j * 13) % 40, j))
            outputs = run_job(order.job)
            payload = {
                "order": order.order_id,
                "run": 0,
                "root": outputs_root(outputs).hex(),
                "outputs": outputs,
            }
            reports.append(ReportRecord(f"r{i:063x}", RESULT, f"d{winner}", ts + 35, 99, payload, ts + 35))
    return SectorInput(EpochWindow(0, START, START + DAY), devices, reports, challenges=[], usage=usage)


def bare_match(data: SectorInput) -> int:
    """The same bids sorted per order by (price, time, id); the first of each wins."""
    by_order: dict[bytes, list[tuple[int, int, str]]] = {}
    for r in data.reports:
        if r.kind == BID:
            by_order.setdefault(r.payload["order"], []).append(
                (r.payload["price"], r.received_at, r.report_id)
            )
    return sum(1 for bids in by_order.values() if sorted(bids)[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=int, default=16)
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--bids", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    params = ComputeParams()
    units, s, q = 32, params.verify.spot_checks, params.verify.reexec_bps / 10_000
    expected = s / units * (1 - q) + q
    print(
        f"1. verification overhead at the defaults: s = {s} of n = {units} units, q = {q:.0%} "
        f"(expected share of units recomputed: {expected:.3f})"
    )
    challenges = audits(params)
    for kind, size in JOBS.items():
        with_results = replace(market(args.results, 2, units, kind, size, True), challenges=challenges)
        without = replace(market(args.results, 2, units, kind, size, False), challenges=challenges)
        jobs = [
            JobSpec(kind, hashlib.sha256(f"{kind}{i}".encode()).hexdigest(), units, size)
            for i in range(args.results)
        ]
        best_run = best_verify = float("inf")
        for _ in range(args.rounds):
            best_run = min(best_run, cpu(lambda jobs=jobs: [run_job(j) for j in jobs]))
            verify = cpu(lambda data=with_results: evaluate_compute(data, params)) - cpu(
                lambda data=without: evaluate_compute(data, params)
            )
            best_verify = min(best_verify, verify)
        outcome = evaluate_compute(with_results, params)
        checked = sum(len(v.evidence.get("checked_units", ())) for v in outcome.verdicts if v.reason == "ok")
        share = checked / (args.results * units)
        print(
            f"   {kind:9} size {size:>6}: units recomputed {share:.3f} of all (re-executions drawn from the "
            f"audit seeds); jobs {best_run:7.3f} s CPU, verification {best_verify:7.3f} s CPU "
            f"-> overhead {best_verify / best_run:.3f} of job cost (expected ~{expected:.3f})"
        )
    print(f"2. matching: {args.orders} orders x {args.bids} bids")
    data = market(args.orders, args.bids, units, "hashchain", 10, False)
    engine = bare = float("inf")
    for _ in range(args.rounds):
        engine = min(engine, cpu(lambda: evaluate_compute(data, params)))
        bare = min(bare, cpu(lambda: bare_match(data)))
    outcome = evaluate_compute(data, params)
    leased = sum(1 for o in outcome.state["orders"].values() if o["leases"])
    print(
        f"   engine: {args.orders / engine:,.0f} orders/s ({leased} leased, every bid checked, one signature "
        f"recovery per order); bare sort: {args.orders / bare:,.0f} orders/s; "
        f"engine / bare = {bare / engine:.4f}"
    )


if __name__ == "__main__":
    main()
