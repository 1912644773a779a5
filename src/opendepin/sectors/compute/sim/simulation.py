"""What compute providers do in the generic fleet of `depin up` (the sector's `SectorSimulation`).

Every simulated provider is onboarded with attested hardware (maker: cores and memory) and the benchmark
its owner states (`benchmark_hps`). The simulated machines are deliberately tiny: an honest provider really
hashes `TRUE_HPS` hashes per second, so a capacity answer costs `TRUE_HPS · work_s` real SHA-256 hashes.
Each hour, at its end, every provider up reads the node's capacity challenge and really hashes its share
(`challenges.solve_capacity` over `TRUE_HPS · work_s` nonces, against the target its *claimed* benchmark
sets), and answers every canary job the node addressed to it by really running the job's units
(`jobs.run_job`) and committing their Merkle root.

Sector misbehaviours (the sector simulator's strategies, `depin simulate compute`):
- `compute-lazy` returns random outputs for every unit (under a root that matches them): caught by the
  known answer of its canaries (`compute.canary_missed`), disqualified after two;
- `compute-partial` is 95 % honest: it skips ⌈0.05 · n⌉ units of every job (random outputs there), as the
  simulator's `partial_95` strategy: caught the same way on every canary it gets;
- `compute-overclaim` states twice the speed it has: its answers hold about half the solutions the claim
  needs (`compute.benchmark_failed`), so it never builds the streak availability pays from.

The market, when the fleet has users (a chain): every hour, at its end (`now`, the node's clock),
- the audit seed of the hour is asked for (issuing it: a result delivered at the end of the previous hour
  is spot-checked with it);
- each provider up whose free bond is under `BOND` / 2 has its owner buy `BOND` credits and bond them (a
  `bond:` receipt the owner signs);
- each provider up that holds an active lease runs the run due (really: `jobs.run_job`, cheating as its
  behaviour does) and reports the result;
- each user (who buys a day's credits at the day's first hour) escrows `budget()` credits (a receipt it
  signs, anchored by a bonded provider), signs an order (`ORDER_UNITS` units of a small `hashchain`, one
  run, `DEADLINE_S` to deliver) and posts it to the board; up to `BIDDERS` bonded providers up, drawn per
  order, bid their own price (`price_of`) with the deposit the rules require. The bids arrive with the order
  (the same second), inside its bid window; the auction closes `bid_window_s` later, in the next hour, whose
  end is when the winner delivers: the order's `DEADLINE_S` (2 h) leaves it the hour. The epoch spot-checks
  the result with the next hour's audit seed (so the network's `verify.audit_period_s` must be the hour:
  examples/compute.toml) and pays it from the tenant's escrow.
A lazy or partly honest provider that wins a lease is caught by the spot checks (`compute.spot_check_failed`,
its deposit slashed) as well as by its canaries.

The fleet sends an hour's reports at its end (received about an hour after the challenge): the network
must let answers arrive within the hour (`capacity.grace_s`, `canary.deadline_s`; examples/compute.toml
does).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

import cbor2

from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.sectors.base import SectorSimulation, SimDevice, SimReport, SimServices
from opendepin.sectors.compute import market
from opendepin.sectors.compute.challenges import CANARY, CAPACITY, capacity_target, solve_capacity
from opendepin.sectors.compute.jobs import JobSpec, run_job
from opendepin.sectors.compute.merkle import outputs_root
from opendepin.sectors.compute.orders import Order, Requirements, parse_order, sign_order
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.reports import BID, MAX_SOLUTIONS, RESULT
from opendepin.sectors.compute.reports import CANARY as CANARY_REPORT
from opendepin.sectors.compute.reports import CAPACITY as CAPACITY_REPORT

LAZY = "compute-lazy"
PARTIAL = "compute-partial"
OVERCLAIM = "compute-overclaim"
TRUE_HPS = 10
"""Hashes per second a simulated provider really does (tiny, so `depin up` stays fast)."""
OVERCLAIM_FACTOR = 2
PARTIAL_SKIP = 0.05
CPU_CORES = 4
MEMORY_MB = 8_192
BOND = 2_000
"""Credits a provider's owner bonds (and bonds again when less than half is free)."""
ORDER_UNITS = 4
ORDER_SIZE = 2_000
"""Each tenant's order: `ORDER_UNITS` units of a 2,000-step hash chain (small, so `depin up` stays quick)."""
MAX_PRICE = 20
DEADLINE_S = 7_200
BIDDERS = 4
HOUR, DAY = 3_600, 86_400
"""Providers that bid on one order at most (drawn per order among the bonded ones up)."""


def price_of(device: SimDevice) -> int:
    """The provider's own price per unit: 5 to 14 credits, drawn from the fleet's seed and its index."""
    return 5 + random.Random(f"{device.seed}:compute:price:{device.index}").randrange(10)


def budget() -> int:
    """What a tenant escrows for an order: one run at the highest price it accepts, twice over (order
    deposit and change: what is not spent stays in its escrow for its next orders)."""
    return 2 * MAX_PRICE * ORDER_UNITS


def claimed_hps(behaviour: str) -> int:
    """The benchmark the provider's owner states: its real speed, or `OVERCLAIM_FACTOR` times it."""
    return TRUE_HPS * OVERCLAIM_FACTOR if behaviour == OVERCLAIM else TRUE_HPS


def skipped_units(behaviour: str, units: int) -> int:
    """Units of a job the provider does not compute: all (lazy), ⌈0.05 · n⌉ (partial), none (honest)."""
    if behaviour == LAZY:
        return units
    if behaviour == PARTIAL:
        return math.ceil(PARTIAL_SKIP * units)
    return 0


def output_length(job: JobSpec) -> int:
    """Bytes of one unit's output: a SHA-256 digest (hashchain, matmul), one class per input (mlp)."""
    return job.size if job.kind == "mlp" else 32


def answer_job(job: JobSpec, behaviour: str, rng: random.Random) -> list[bytes]:
    """The outputs the provider returns for `job`: the real ones, with its skipped units (drawn by `rng`)
    random bytes of the same length instead (a lazy provider computes nothing)."""
    skip = skipped_units(behaviour, job.units)
    if skip == job.units:
        return [rng.randbytes(output_length(job)) for _ in range(job.units)]
    outputs = run_job(job)
    for index in rng.sample(range(job.units), skip):
        outputs[index] = rng.randbytes(len(outputs[index]))
    return outputs


class ComputeSimulation(SectorSimulation):
    """Providers that answer capacity challenges and canary jobs, honestly or as a strategy cheats."""

    def __init__(self, params: ComputeParams) -> None:
        self.params = params

    @property
    def behaviours(self) -> Mapping[str, str]:
        return {
            LAZY: "compute.canary_missed",
            PARTIAL: "compute.canary_missed",
            OVERCLAIM: "compute.benchmark_failed",
            "lazy": "compute.benchmark_failed",
        }

    def attributes(self, device: SimDevice) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        return (
            {"cpu_cores": CPU_CORES, "memory_mb": MEMORY_MB},
            {"benchmark_hps": claimed_hps(device.behaviour)},
        )

    def hour(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> list[SimReport]:
        if not devices:
            return []
        c = self.params.capacity
        capacity = list(services.challenges(CAPACITY)) if c.enabled else []
        canaries = list(services.challenges(CANARY)) if self.params.canary.enabled else []
        by_device: dict[str, list[Any]] = {}
        for canary in canaries:
            if canary.device is not None:
                by_device.setdefault(canary.device, []).append(canary)
        reports: list[SimReport] = []
        for device in devices:
            for challenge in capacity:
                target = capacity_target(claimed_hps(device.behaviour), c.work_s, c.expected_solutions)
                nonces = solve_capacity(
                    challenge.challenge_id, device.device_id, target, TRUE_HPS * c.work_s, limit=MAX_SOLUTIONS
                )
                payload = {"challenge": challenge.challenge_id, "nonces": nonces}
                reports.append(SimReport(device.index, CAPACITY_REPORT, hour_ts + c.work_s, payload))
            for canary in by_device.get(device.device_id, []):
                rng = random.Random(f"{device.seed}:compute:canary:{device.index}:{canary.challenge_id}")
                job = JobSpec.from_map(dict(canary.payload))
                outputs = answer_job(job, device.behaviour, rng)
                payload = {
                    "challenge": canary.challenge_id,
                    "root": outputs_root(outputs).hex(),
                    "outputs": outputs,
                }
                reports.append(SimReport(device.index, CANARY_REPORT, hour_ts + c.work_s + 1, payload))
        if services.users():
            reports += self.market_hour(devices, hour_ts, services)
        return reports

    # --- the market ---------------------------------------------------------------------------------------
    def market_hour(
        self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices
    ) -> list[SimReport]:
        """Bonds, results of the leases held, tenants' orders and the providers' bids (module docstring)."""
        # the node's time; asking for the audit also issues the hour's seed (the spot checks of the results
        # delivered at the end of the previous hour are drawn from it)
        now = int(services.get("audit")["now"])
        mine = {d.device_id: d for d in devices}
        bonds = {p["device"]: p["bond"] for p in services.get("providers")["providers"]}
        receipts = []
        for device in devices:
            if bonds.get(device.device_id, 0) >= BOND // 2:
                continue
            if services.buy_credits(device.owner, BOND) < BOND:
                continue
            ref = f"bond:{device.device_id}:{hour_ts}"
            bond = UsageReceipt("compute", device.device_id, device.owner, BOND, BOND, "credits", ref, now)
            receipts.append(sign_receipt(bond, lambda text, who=device.owner: services.sign_text(who, text)))
        answers = services.send_usage([r.to_wire() for r in receipts])
        for receipt, answer in zip(receipts, answers, strict=True):
            if answer.get("status") == "accepted":
                bonds[receipt.receipt.device] = bonds.get(receipt.receipt.device, 0) + BOND
        reports = self.deliver(mine, now, services)
        bonded = [d for d in devices if bonds.get(d.device_id, 0) >= BOND // 2]
        if not bonded:
            return reports
        posted = self.post_orders(bonded, hour_ts, now, services)
        return reports + self.bid(bonded, posted, now, services)

    def deliver(self, mine: Mapping[str, SimDevice], now: int, services: SimServices) -> list[SimReport]:
        """The due run of every active lease one of `mine` holds, computed (or cheated) and reported."""
        reports = []
        for row in services.get("orders")["book"]:
            for lease in row.get("active", []):
                device = mine.get(lease["device"])
                if device is None:
                    continue
                order = parse_order(cbor2.loads(bytes.fromhex(row["order_hex"])))
                run = lease["run"]
                if run >= order.runs or row["escrow"] < lease["price"] * order.job.units:
                    continue
                job = order.job.for_run(run)
                rng = random.Random(f"{device.seed}:compute:run:{device.index}:{row['id']}:{run}")
                outputs = answer_job(job, device.behaviour, rng)
                root = outputs_root(outputs).hex()
                payload = {"order": row["id"], "run": run, "root": root, "outputs": outputs}
                reports.append(SimReport(device.index, RESULT, now, payload))
        return reports

    def post_orders(
        self, bonded: Sequence[SimDevice], hour_ts: int, now: int, services: SimServices
    ) -> list[tuple[Order, bytes, bytes]]:
        """Each user escrows `budget()` credits and posts one order (signed) to the board; at the first hour
        of a day (UTC) it first buys the day's credits (one purchase a day: chain transactions are slow)."""
        receipts, orders = [], []
        for k, user in enumerate(services.users()):
            if hour_ts % DAY == 0:
                services.buy_credits(user, DAY // HOUR * budget())
            anchor = bonded[k % len(bonded)].device_id
            ref = f"escrow:{hour_ts}:{k}"
            escrow = UsageReceipt("compute", anchor, user, budget(), budget(), "credits", ref, now)
            receipts.append(sign_receipt(escrow, lambda text, who=user: services.sign_text(who, text)))
            seed = random.Random(f"{bonded[0].seed}:compute:order:{user}:{hour_ts}").randbytes(32).hex()
            order = Order(
                user,
                JobSpec("hashchain", seed, ORDER_UNITS, ORDER_SIZE),
                Requirements(1, 64, "", 0),
                MAX_PRICE,
                budget(),
                1,
                1,
                DEADLINE_S,
                now,
                k,
            )
            data, signature = sign_order(order, lambda text, who=user: services.sign_text(who, text))
            orders.append((order, data, signature))
        answers = services.send_usage([r.to_wire() for r in receipts])
        posted = []
        for (order, data, signature), answer in zip(orders, answers, strict=True):
            if answer.get("status") != "accepted":
                continue
            services.post("orders", {"order": data.hex(), "signature": signature.hex()})
            posted.append((order, data, signature))
        return posted

    def bid(
        self,
        bonded: Sequence[SimDevice],
        posted: Sequence[tuple[Order, bytes, bytes]],
        now: int,
        services: SimServices,
    ) -> list[SimReport]:
        """Up to `BIDDERS` bonded providers (drawn per order) bid their price on each order the board took."""
        rules = self.params.market
        reports = []
        for order, data, signature in posted:
            rng = random.Random(f"{bonded[0].seed}:compute:bidders:{order.order_id}")
            for device in rng.sample(list(bonded), min(BIDDERS, len(bonded))):
                price = price_of(device)
                if price > order.max_price:
                    continue
                deposit = market.required_deposit(
                    price, order.job.units, rules.deposit_bps, rules.min_deposit
                )
                payload = {"order": data, "order_sig": signature, "price": price, "deposit": deposit}
                reports.append(SimReport(device.index, BID, now, payload))
        return reports
