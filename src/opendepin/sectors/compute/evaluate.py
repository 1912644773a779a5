"""One epoch of the compute sector: escrow, the order book, leases, verification, capacity and pay.

Rules (docs/compute.md), applied to the epoch's usage receipts and reports in receive-time order (a receipt
before a report of the same second):
- escrow: a compute usage receipt credits its payer's escrow account, except a receipt whose payer owns the
  device it names and whose `ref` starts with `bond:`, which credits that device's bond (bid deposits are
  locked from it). Receipts are spent on chain when accepted; the engine releases them to providers as
  verified work (`SectorOutcome.usage_credits`), keeping the take rate for the protocol;
- bids (`compute.bid`) count in the order's bid window; each is checked (tenant's signature, limits, price,
  the provider's signed attributes, deposit, free bond, bids per order) and refused with a reason code;
- when a bid window closes the cheapest bids win (market.match), each a lease, and the tenant's order
  deposit (`order_deposit_bps` of the first run, rounded up) moves from its escrow into the order (none
  there: the order closes with `compute.insufficient_funds` and nobody is bound). The tenant has
  `funding_window_s` to hold the next run of every lease in escrow; after that, at every epoch end, an order
  whose tenant cannot cover its next run closes with `compute.insufficient_funds` and its order deposit
  pays the providers that waited (the engine settles: nobody has to withdraw). An order that ends otherwise
  returns the deposit to the tenant's escrow;
- a lease must deliver run k by its due time (market.run_due), else `compute.deadline_missed`: its deposit
  goes to the tenant, the lease ends and the slot is auctioned again (the job is rescheduled). A run the
  tenant's escrow does not cover is not owed (the funding rule closes such an order instead);
- a result (`compute.result`) commits every unit's output under a Merkle root; it is spot-checked with the
  first audit seed drawn after it arrived (`verify.spot_checks` units recomputed, or with probability
  `verify.reexec_bps` every unit: a whole re-execution): a wrong unit is
  `compute.spot_check_failed`; replicas of one run are compared and, when their roots differ, bisection
  finds the first differing unit, which the engine recomputes: whoever is wrong there is
  `compute.result_mismatch`. A verified run is paid from escrow at the provider's price;
- capacity: each capacity challenge whose deadline falls in the epoch is judged for every provider; a pass
  extends the provider's streak, a miss or a wrong answer is `compute.benchmark_failed` and resets it.
  Availability pays, per passed challenge once the streak reaches `min_streak`, the speed the answer showed
  (challenges.shown_speed: unbiased whatever the claim);
- canaries: a share of providers gets a small job with a known answer each period (challenges.py); a wrong
  answer is `compute.canary_missed` (fraud weight), none by the deadline too (failure weight);
- bonds: a provider withdraws with `compute.unbond` (at most its free bond, else
  `compute.unbond_refused`); the amount bids nothing from then on and stays slashable, and moves to the
  owner's escrow account (credits for orders: receipts burned them on chain) at the first epoch end
  `unbond_notice_s` after, once the provider holds no live bid and no active lease (`compute.unbonded`);
- reputation: the decayed Beta score (reputation.py) records every verified run, capacity answer and
  failure (fraud weighs `fraud_weight`); a provider at or below `dq_ppm` is disqualified for good
  (`compute.disqualified`): its bids are refused, its active leases fail and are auctioned again, and it
  earns nothing more.
"""

from __future__ import annotations

import copy
import heapq
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from opendepin.market.receipts import UsageRecord
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import (
    OK,
    Challenge,
    Contribution,
    DeviceInfo,
    DeviceNote,
    SectorInput,
    SectorOutcome,
    Verdict,
)
from opendepin.sectors.compute import market
from opendepin.sectors.compute.attributes import Hardware
from opendepin.sectors.compute.challenges import (
    AUDIT,
    CANARY,
    CAPACITY,
    audit_for,
    capacity_deadline,
    capacity_target,
    check_capacity,
    reexecuted,
    shown_speed,
    spot_units,
)
from opendepin.sectors.compute.jobs import JobSpec, known_unit
from opendepin.sectors.compute.merkle import bisect, outputs_root, unit_hash
from opendepin.sectors.compute.orders import Order, OrderError, compute_order_id, decode_order, parse_order
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.reports import BID, RESULT, UNBOND
from opendepin.sectors.compute.reports import CANARY as CANARY_REPORT
from opendepin.sectors.compute.reports import CAPACITY as CAPACITY_REPORT
from opendepin.sectors.compute.reputation import Reputation

FRAUD = ("compute.spot_check_failed", "compute.result_mismatch", "compute.bad_result")
ACTIVE = "active"
KEPT_CAPACITY_IDS = 8


def kept_answers(window_s: int, period_s: int, lookback_s: int) -> int:
    """Rule: a provider's state keeps the ids of its latest answers to a periodic challenge, as many as one
    epoch can judge (those issued in its window and in the lookback before it, plus one), at least
    KEPT_CAPACITY_IDS. (Keeping a fixed 8 forgot answers in day-long epochs of hourly challenges, which
    were then judged missed.)"""
    return max(KEPT_CAPACITY_IDS, -(-(window_s + lookback_s) // period_s) + 1)


def is_provider(device: DeviceInfo) -> bool:
    """A compute provider: the maker attested cores and memory, the owner a benchmark."""
    return Hardware.of(device.attributes).is_provider


def scan_locks(orders: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Rule: a device's locked bond is the deposits of its bids on orders open for bids and of its active
    leases."""
    locks: dict[str, int] = defaultdict(int)
    for entry in orders.values():
        if entry["status"] not in ("open", "leased"):
            continue
        for bid in entry["bids"]:
            locks[bid[0]] += bid[3]
        for lease in entry["leases"]:
            if lease["status"] == ACTIVE:
                locks[lease["device"]] += lease["deposit"]
    return {d: v for d, v in locks.items() if v}


def order_limits(params: ComputeParams) -> dict[str, int]:
    m = params.market
    return {"max_units": m.max_units, "max_replicas": m.max_replicas, "max_runs": m.max_runs}


def load_order(entry: Mapping[str, Any], params: ComputeParams) -> Order:
    """An order the book already accepted (its bytes were checked when its first bid arrived)."""
    import cbor2

    return parse_order(cbor2.loads(bytes.fromhex(entry["order"])), **order_limits(params))


@dataclass
class Epoch:
    """The working state of one evaluation."""

    data: SectorInput
    params: ComputeParams
    state: dict[str, Any]
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    notes: list[DeviceNote] = field(default_factory=list)
    released: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reputations: dict[str, Reputation] = field(default_factory=dict)
    device_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders_cache: dict[str, Order] = field(default_factory=dict)
    schedule: list[tuple[int, str]] = field(default_factory=list)
    now: int = 0
    """the latest time the epoch has advanced to"""
    locks: dict[str, int] | None = None
    """device → credits of its bond locked (scan_locks on first use, then kept up to date)"""
    """(due time, order id), a heap (advance)"""

    # --- helpers -------------------------------------------------------------------------------------
    @property
    def orders(self) -> dict[str, dict[str, Any]]:
        return self.state["orders"]

    def order(self, order_id: str) -> Order:
        if order_id not in self.orders_cache:
            self.orders_cache[order_id] = load_order(self.orders[order_id], self.params)
        return self.orders_cache[order_id]

    def dstate(self, device: str) -> dict[str, Any]:
        if device not in self.device_state:
            prior = self.data.prior_device_state.get(device) or {}
            self.device_state[device] = copy.deepcopy(dict(prior))
        return self.device_state[device]

    def reputation(self, device: str) -> Reputation:
        if device not in self.reputations:
            saved = self.dstate(device).get("rep")
            rep = self.params.reputation
            self.reputations[device] = Reputation(*saved) if saved else Reputation.new(rep.alpha0)
        return self.reputations[device]

    def record(self, device: str, success: bool, weight: int) -> None:
        """One reputation event; disqualifies at or below the threshold (for good)."""
        rep = self.params.reputation
        updated = self.reputation(device).record(success, weight, rep.decay_ppm)
        self.reputations[device] = updated
        state = self.dstate(device)
        state["rep"] = [updated.alpha, updated.beta]
        if updated.score_ppm <= rep.dq_ppm and not state.get("dq"):
            state["dq"] = self.data.window.end
            evidence = {"score_ppm": updated.score_ppm, "dq_ppm": rep.dq_ppm}
            self.note(device, "compute.disqualified", evidence)
            for order_id in sorted(self.orders):  # its leases are rescheduled at once
                entry = self.orders[order_id]
                for lease in entry["leases"]:
                    if lease["device"] == device and lease["status"] == ACTIVE:
                        self.fail_lease(
                            entry, lease, "compute.disqualified", self.now, evidence, lease["committed"]
                        )

    def disqualified(self, device: str) -> bool:
        return bool(self.dstate(device).get("dq"))

    def note(self, device: str, reason: str, evidence: Mapping[str, Any]) -> None:
        self.notes.append(DeviceNote(device, reason, dict(evidence)))

    def locked(self, device: str) -> int:
        """Credits of the device's bond locked by its live bids and active leases (kept up to date from a
        first scan of the book: `lock` at every change)."""
        if self.locks is None:
            self.locks = scan_locks(self.orders)
        return self.locks.get(device, 0)

    def lock(self, device: str, amount: int) -> None:
        if self.locks is not None:
            self.locks[device] = self.locks.get(device, 0) + amount

    def clear_bids(self, entry: dict[str, Any]) -> None:
        for bid in entry["bids"]:
            self.lock(bid[0], -bid[3])
        entry["bids"] = []

    # --- escrow ----------------------------------------------------------------------------------------
    def deposit(self, record: UsageRecord) -> None:
        """A receipt credits the payer's escrow, or the device's bond (`bond:` from the device's owner)."""
        accounts, bonds = self.state["accounts"], self.state["bonds"]
        device = self.data.devices.get(record.device)
        if device is not None and record.payer == device.owner and record.ref.startswith("bond:"):
            bonds[record.device] = bonds.get(record.device, 0) + record.credits
        else:
            accounts[record.payer] = accounts.get(record.payer, 0) + record.credits

    def pay(self, entry: dict[str, Any], lease: dict[str, Any], run: int) -> int:
        """Release one verified run from the tenant's escrow (what is there, at most the run's cost)."""
        order = self.order(entry["id"])
        cost = lease["price"] * order.job.units
        accounts = self.state["accounts"]
        paid = min(cost, accounts.get(order.tenant, 0))
        accounts[order.tenant] = accounts.get(order.tenant, 0) - paid
        provider, take = market.split_take(paid, self.params.market.take_bps)
        self.released[lease["device"]] += provider
        self.state["take"] += take
        lease["paid_credits"] = lease.get("paid_credits", 0) + paid
        entry["spent"] = entry.get("spent", 0) + paid
        if paid < cost:
            self.close_order(
                entry,
                "compute.insufficient_funds",
                self.data.window.end,
                {"run": run, "cost": cost, "escrow": paid},
            )
        return paid

    # --- the book --------------------------------------------------------------------------------------
    def close_order(self, entry: dict[str, Any], reason: str, at: int, evidence: Mapping[str, Any]) -> None:
        """End an order: live bids unlock, active leases close (deposits unlocked, not slashed)."""
        if entry["status"] in ("done", "closed"):
            return
        entry["status"], entry["reason"], entry["ended"] = "closed", reason, at
        self.clear_bids(entry)
        waiting = [lease for lease in entry["leases"] if lease["status"] == ACTIVE]
        for lease in waiting:
            lease["status"], lease["reason"] = "closed", reason
            self.lock(lease["device"], -lease["deposit"])
            self.note(lease["device"], reason, {"order": entry["id"], **evidence})
        deposit = entry.pop("tenant_deposit", 0)
        if reason == "compute.insufficient_funds" and waiting:
            share = deposit // len(waiting)
            for lease in waiting:
                provider, take = market.split_take(share, self.params.market.take_bps)
                self.released[lease["device"]] += provider
                self.state["take"] += take
            self.state["take"] += deposit - share * len(waiting)
            entry["deposit_paid"] = deposit
        elif deposit:
            tenant = entry["tenant"]
            self.state["accounts"][tenant] = self.state["accounts"].get(tenant, 0) + deposit

    def fail_lease(
        self,
        entry: dict[str, Any],
        lease: dict[str, Any],
        reason: str,
        at: int,
        evidence: Mapping[str, Any],
        run: int,
    ) -> None:
        """A provider broke its lease: its deposit goes to the tenant, the slot is auctioned again from
        `run` (the job is rescheduled)."""
        order = self.order(entry["id"])
        active = lease["status"] == ACTIVE
        lease["status"], lease["reason"] = "failed", reason
        if active:
            self.lock(lease["device"], -lease["deposit"])
        slashed = min(lease["deposit"], self.state["bonds"].get(lease["device"], 0)) if active else 0
        self.state["bonds"][lease["device"]] = self.state["bonds"].get(lease["device"], 0) - slashed
        self.state["accounts"][order.tenant] = self.state["accounts"].get(order.tenant, 0) + slashed
        self.note(lease["device"], reason, {"order": entry["id"], "run": run, "slashed": slashed, **evidence})
        weight = (
            self.params.reputation.fraud_weight if reason in FRAUD else self.params.reputation.failure_weight
        )
        self.record(lease["device"], False, weight)
        if active and entry["status"] == "leased":
            entry["resume"] = min(entry.get("resume", run), run)
            entry["opened"] = at
            self.clear_bids(entry)
            self.touch(entry)

    def next_due(self, entry: dict[str, Any]) -> int | None:
        """When something is next due on an order: its bid window's end, a run's due time, its funding
        deadline (None: nothing)."""
        times = []
        status = entry["status"]
        if status == "open" or (status == "leased" and "resume" in entry):
            times.append(entry["opened"] + self.params.market.bid_window_s)
        if status == "leased":
            order = self.order(entry["id"])
            times += [
                market.run_due(lease["start"], lease["first_run"], lease["committed"], order.deadline_s)
                for lease in entry["leases"]
                if lease["status"] == ACTIVE and lease["committed"] < order.runs
            ]
            if not entry.get("funded"):
                times.append(entry["leased_at"] + self.params.market.funding_window_s)
        return min(times) if times else None

    def touch(self, entry: dict[str, Any]) -> None:
        """Put the order on the schedule at its next due time (older entries are skipped when they come)."""
        due = self.next_due(entry)
        if due is not None:
            heapq.heappush(self.schedule, (due, entry["id"]))

    def advance(self, now: int) -> None:
        """Everything due by `now`, in due-time order: auctions whose bid window closed, runs past their due
        time, funding deadlines. An uncovered run that is due stays on the schedule (a deposit may cover
        it later)."""
        self.now = max(self.now, now)
        seen: set[str] = set()
        later: list[tuple[int, str]] = []
        while self.schedule and self.schedule[0][0] <= now:
            _, order_id = heapq.heappop(self.schedule)
            entry = self.orders.get(order_id)
            if entry is None or order_id in seen:
                continue
            due = self.next_due(entry)
            if due is None or due > now:
                if due is not None:
                    heapq.heappush(self.schedule, (due, order_id))
                continue
            seen.add(order_id)
            self.due(entry, now)
            due = self.next_due(entry)
            if due is not None and due <= now:
                later.append((due, order_id))
            elif due is not None:
                heapq.heappush(self.schedule, (due, order_id))
        for item in later:
            heapq.heappush(self.schedule, item)

    def due(self, entry: dict[str, Any], now: int) -> None:
        """What is due on one order by `now`."""
        window = self.params.market.bid_window_s
        order_id = entry["id"]
        if entry["status"] in ("open", "leased") and entry["opened"] + window <= now:
            self.auction(entry, entry["opened"] + window)
        if entry["status"] != "leased":
            return
        order = self.order(order_id)
        for lease in entry["leases"]:
            if lease["status"] != ACTIVE or lease["committed"] >= order.runs:
                continue
            due = market.run_due(lease["start"], lease["first_run"], lease["committed"], order.deadline_s)
            cost = lease["price"] * order.job.units
            if due <= now and self.state["accounts"].get(order.tenant, 0) >= cost:
                self.fail_lease(
                    entry,
                    lease,
                    "compute.deadline_missed",
                    due,
                    {"due": due, "delivered_runs": lease["committed"]},
                    lease["committed"],
                )
        funding_due = entry["leased_at"] + self.params.market.funding_window_s
        if entry["status"] == "leased" and not entry.get("funded") and funding_due <= now:
            need = self.next_runs_cost(entry)
            escrow = self.state["accounts"].get(order.tenant, 0)
            if escrow < need:
                self.close_order(
                    entry, "compute.insufficient_funds", funding_due, {"escrow": escrow, "needed": need}
                )
            else:
                entry["funded"] = True

    def next_runs_cost(self, entry: dict[str, Any]) -> int:
        """Credits the next run of every active lease of the order costs (runs delivered but not yet paid
        included)."""
        order = self.order(entry["id"])
        return sum(
            lease["price"] * order.job.units * max(0, min(order.runs, lease["committed"] + 1) - lease["paid"])
            for lease in entry["leases"]
            if lease["status"] == ACTIVE
        )

    def auction(self, entry: dict[str, Any], closed_at: int) -> None:
        """Match the open slots of an order whose bid window just closed."""
        order = self.order(entry["id"])
        active = [lease for lease in entry["leases"] if lease["status"] in (ACTIVE, "done")]
        slots = order.replicas - len(active) if entry["status"] == "open" or "resume" in entry else 0
        bids = [market.Bid(*b) for b in entry["bids"] if not self.disqualified(b[0])]
        self.clear_bids(entry)
        if slots <= 0:
            return
        held = frozenset(lease["device"] for lease in entry["leases"])
        winners = market.match(bids, slots, held)
        if winners and "leased_at" not in entry:
            reserve = sum(bid.price for bid in winners) * order.job.units
            deposit = market.required_deposit(reserve, 1, self.params.market.order_deposit_bps, 0)
            escrow = self.state["accounts"].get(order.tenant, 0)
            if escrow < deposit:
                return self.close_order(
                    entry,
                    "compute.insufficient_funds",
                    closed_at,
                    {"order_deposit": deposit, "escrow": escrow},
                )
            self.state["accounts"][order.tenant] = escrow - deposit
            entry["tenant_deposit"] = deposit
        first_run = entry.pop("resume", 0)
        for bid in winners:
            self.lock(bid.device, bid.deposit)
            entry["leases"].append(
                {
                    "device": bid.device,
                    "owner": bid.owner,
                    "price": bid.price,
                    "deposit": bid.deposit,
                    "start": closed_at,
                    "first_run": first_run,
                    "committed": first_run,
                    "paid": first_run,
                    "status": ACTIVE,
                    "bid": bid.report_id,
                }
            )
        if winners:
            entry["status"] = "leased"
            entry.setdefault("leased_at", closed_at)
        elif not active:
            self.close_order(entry, "compute.no_bids", closed_at, {"bids": len(bids)})
        # an order that keeps some replicas runs on with fewer when no replacement bids

    def finish_if_done(self, entry: dict[str, Any], now: int) -> None:
        if entry["status"] != "leased":
            return
        order = self.order(entry["id"])
        for lease in entry["leases"]:
            if lease["status"] == ACTIVE and lease["paid"] >= order.runs:
                lease["status"] = "done"
                self.lock(lease["device"], -lease["deposit"])
        statuses = {lease["status"] for lease in entry["leases"]}
        if ACTIVE not in statuses and "resume" not in entry and "done" in statuses:
            entry["status"], entry["reason"], entry["ended"] = "done", OK, now
            deposit, tenant = entry.pop("tenant_deposit", 0), entry["tenant"]
            self.state["accounts"][tenant] = self.state["accounts"].get(tenant, 0) + deposit

    # --- reports ----------------------------------------------------------------------------------------
    def verdict(self, report: ReportRecord, reason: str, evidence: Mapping[str, Any] | None = None) -> None:
        self.verdicts[report.report_id] = Verdict(report.report_id, reason, dict(evidence or {}))

    def bid(self, report: ReportRecord) -> None:
        p, m = report.payload, self.params.market
        device = self.data.devices[report.device_id]
        known = self.orders.get(compute_order_id(bytes(p["order"])))
        if known is not None and known.get("sig") == bytes(p["order_sig"]).hex():
            order = self.order(known["id"])  # the same bytes and signature were checked already
        else:
            try:
                order = decode_order(bytes(p["order"]), bytes(p["order_sig"]), **order_limits(self.params))
            except OrderError as error:
                return self.verdict(report, error.reason, {"detail": str(error)})
        order_id = order.order_id
        entry = self.orders.get(order_id)
        if entry is None:
            entry = {
                "id": order_id,
                "order": bytes(p["order"]).hex(),
                "tenant": order.tenant,
                "sig": bytes(p["order_sig"]).hex(),
                "opened": order.ts,
                "status": "open",
                "bids": [],
                "leases": [],
            }
            if order.ts + m.bid_window_s <= report.received_at:
                return self.verdict(
                    report,
                    "compute.bid_late",
                    {"order_ts": order.ts, "window_s": m.bid_window_s, "received_at": report.received_at},
                )
            self.orders[order_id] = entry
            self.orders_cache[order_id] = order
            self.touch(entry)
        if entry["status"] not in ("open", "leased") or (
            entry["status"] == "leased" and "resume" not in entry
        ):
            return self.verdict(
                report, "compute.order_closed", {"order": order_id, "status": entry["status"]}
            )
        if not entry["opened"] <= report.received_at < entry["opened"] + m.bid_window_s:
            return self.verdict(
                report,
                "compute.bid_late",
                {"opened": entry["opened"], "window_s": m.bid_window_s, "received_at": report.received_at},
            )
        if self.disqualified(device.device_id):
            return self.verdict(report, "compute.disqualified", {})
        if p["price"] > order.max_price:
            return self.verdict(
                report, "compute.bid_above_max", {"price": p["price"], "max_price": order.max_price}
            )
        hardware = Hardware.of(device.attributes)
        unmet = market.unmet_requirements(hardware, order.requirements)
        if unmet:
            return self.verdict(
                report,
                "compute.requirements_unmet",
                {
                    "unmet": unmet,
                    "required": order.requirements.to_map(),
                    "attested": {
                        "cpu_cores": hardware.cpu_cores,
                        "memory_mb": hardware.memory_mb,
                        "gpu_model": hardware.gpu_model,
                        "benchmark_hps": hardware.benchmark_hps,
                    },
                },
            )
        needed = market.required_deposit(p["price"], order.job.units, m.deposit_bps, m.min_deposit)
        if p["deposit"] < needed:
            return self.verdict(
                report, "compute.deposit_too_small", {"deposit": p["deposit"], "required": needed}
            )
        if any(b[0] == device.device_id for b in entry["bids"]):
            return self.verdict(report, "compute.duplicate_bid", {"order": order_id})
        if len(entry["bids"]) >= m.max_bids_per_order:
            return self.verdict(report, "compute.too_many_bids", {"max": m.max_bids_per_order})
        free = self.free_bond(device.device_id)
        if free < p["deposit"]:
            return self.verdict(
                report, "compute.insufficient_bond", {"free_bond": free, "deposit": p["deposit"]}
            )
        self.lock(device.device_id, p["deposit"])
        entry["bids"].append(
            [device.device_id, device.owner, p["price"], p["deposit"], report.received_at, report.report_id]
        )
        self.verdict(report, OK, {"order": order_id, "price": p["price"], "deposit": p["deposit"]})
        return None

    # --- bond withdrawal ------------------------------------------------------------------------------
    def unbonding(self, device: str) -> int:
        return sum(request[0] for request in self.state["unbonding"].get(device, []))

    def free_bond(self, device: str) -> int:
        """Rule: what a device's bond can still lock: the bond less the deposits of its live bids and active
        leases and less what it asked to withdraw."""
        return self.state["bonds"].get(device, 0) - self.locked(device) - self.unbonding(device)

    def unbond(self, report: ReportRecord) -> None:
        """Rule: a provider asks to withdraw at most its free bond; the amount bids nothing from now on."""
        amount, device = report.payload["amount"], self.data.devices[report.device_id]
        free = self.free_bond(device.device_id)
        if amount > free:
            return self.verdict(report, "compute.unbond_refused", {"amount": amount, "free_bond": free})
        requests = self.state["unbonding"].setdefault(device.device_id, [])
        requests.append([amount, report.received_at, device.owner])
        release = report.received_at + self.params.market.unbond_notice_s
        self.verdict(report, OK, {"amount": amount, "release_after": release})
        return None

    def release_bonds(self) -> None:
        """Rule: at an epoch's end, a withdrawal asked for at least `unbond_notice_s` before moves to the
        owner's escrow account, if the provider holds no live bid and no active lease (else it waits); what
        was slashed in the meantime is not there to move (at most the bond left)."""
        end, notice = self.data.window.end, self.params.market.unbond_notice_s
        for device in sorted(self.state["unbonding"]):
            if self.locked(device):
                continue
            waiting = []
            for amount, asked, owner in self.state["unbonding"][device]:
                if asked + notice > end:
                    waiting.append([amount, asked, owner])
                    continue
                released = min(amount, self.state["bonds"].get(device, 0))
                self.state["bonds"][device] = self.state["bonds"].get(device, 0) - released
                self.state["accounts"][owner] = self.state["accounts"].get(owner, 0) + released
                evidence = {"asked": amount, "released": released, "asked_at": asked, "owner": owner}
                self.note(device, "compute.unbonded", evidence)
            if waiting:
                self.state["unbonding"][device] = waiting
            else:
                del self.state["unbonding"][device]

    def result(self, report: ReportRecord) -> None:
        p = report.payload
        entry = self.orders.get(p["order"])
        lease = None
        if entry is not None:
            mine = [lease for lease in entry["leases"] if lease["device"] == report.device_id]
            lease = next((x for x in mine if x["status"] == ACTIVE), None)
            if lease is None and mine and mine[-1].get("reason") == "compute.deadline_missed":
                return self.verdict(report, "compute.deadline_missed", {"order": p["order"], "run": p["run"]})
        if entry is None or lease is None:
            return self.verdict(report, "compute.no_lease", {"order": p["order"]})
        order = self.order(entry["id"])
        if p["run"] != lease["committed"]:
            return self.verdict(
                report, "compute.wrong_run", {"run": p["run"], "expected": lease["committed"]}
            )
        outputs = [bytes(o) for o in p["outputs"]]
        root = outputs_root(outputs).hex() if len(outputs) == order.job.units else ""
        if root != p["root"]:
            self.verdict(
                report,
                "compute.bad_result",
                {
                    "units": len(outputs),
                    "expected_units": order.job.units,
                    "root": p["root"],
                    "outputs_root": root,
                },
            )
            return self.fail_lease(
                entry, lease, "compute.bad_result", report.received_at, {"report": report.report_id}, p["run"]
            )
        lease["committed"] += 1
        self.state["pending"].append(
            {
                "report": report.report_id,
                "device": report.device_id,
                "order": entry["id"],
                "run": p["run"],
                "received_at": report.received_at,
                "outputs": [o.hex() for o in outputs],
            }
        )
        self.verdict(
            report, OK, {"order": entry["id"], "run": p["run"], "root": p["root"], "checked": "pending"}
        )
        return None

    def capacity_answer(self, report: ReportRecord, challenges: Mapping[str, Challenge]) -> None:
        p, c = report.payload, self.params.capacity
        challenge = challenges.get(p["challenge"])
        device = self.data.devices[report.device_id]
        hardware = Hardware.of(device.attributes)
        if challenge is None or not hardware.is_provider:
            return self.verdict(report, "compute.unknown_challenge", {"challenge": p["challenge"]})
        deadline = capacity_deadline(challenge.issued_at, c.work_s, c.grace_s)
        if report.received_at > deadline:
            return self.verdict(
                report,
                "compute.benchmark_failed",
                {"cause": "late", "deadline": deadline, "received_at": report.received_at},
            )
        target = capacity_target(hardware.benchmark_hps, c.work_s, c.expected_solutions)
        passed, evidence = check_capacity(
            challenge.challenge_id, device.device_id, p["nonces"], target, c.min_solutions
        )
        if not passed:
            return self.verdict(report, "compute.benchmark_failed", {"cause": "wrong", **evidence})
        state = self.dstate(device.device_id)
        shown = shown_speed(evidence["valid"], hardware.benchmark_hps, c.expected_solutions)
        window_s = self.data.window.end - self.data.window.start
        kept = kept_answers(window_s, c.period_s, c.period_s + c.work_s + c.grace_s)
        state["cap"] = [*state.get("cap", []), [challenge.challenge_id, shown]][-kept:]
        self.verdict(
            report,
            OK,
            {"challenge": challenge.challenge_id, "seconds": report.received_at - challenge.issued_at},
        )
        return None

    def canary_answer(self, report: ReportRecord, canaries: Mapping[str, Challenge]) -> None:
        """Rule: the answer to a canary addressed to this device, within its deadline, must equal the
        known output of every unit (else `compute.canary_missed`, a fraud)."""
        p = report.payload
        canary = canaries.get(p["challenge"])
        if canary is None or canary.device != report.device_id:
            return self.verdict(report, "compute.unknown_challenge", {"challenge": p["challenge"]})
        deadline = canary.issued_at + self.params.canary.deadline_s
        if report.received_at > deadline:
            return self.verdict(report, "compute.canary_missed", {"cause": "late", "deadline": deadline})
        job = JobSpec.from_map(dict(canary.payload))
        outputs = [bytes(o) for o in p["outputs"]]
        truth = [known_unit(job, u) for u in range(job.units)]
        wrong = [u for u in range(job.units) if u >= len(outputs) or outputs[u] != truth[u]]
        state = self.dstate(report.device_id)
        k, window_s = self.params.canary, self.data.window.end - self.data.window.start
        kept = kept_answers(window_s, k.period_s, k.period_s + k.deadline_s)
        state["canary"] = [*state.get("canary", []), canary.challenge_id][-kept:]  # answered
        if wrong or outputs_root(outputs).hex() != p["root"]:
            self.record(report.device_id, False, self.params.reputation.fraud_weight)
            return self.verdict(
                report, "compute.canary_missed", {"cause": "wrong", "wrong_units": wrong[:16]}
            )
        self.record(report.device_id, True, self.params.reputation.success_weight)
        self.verdict(report, OK, {"canary": canary.challenge_id})
        return None

    def judge_canaries(self, canaries: list[Challenge]) -> None:
        """Each canary whose deadline falls in the window and that its device did not answer right:
        `compute.canary_missed` (a failure)."""
        window = self.data.window
        for canary in sorted(canaries, key=lambda c: (c.issued_at, c.challenge_id)):
            deadline = canary.issued_at + self.params.canary.deadline_s
            device = canary.device
            if device is None or device not in self.data.devices or not window.start <= deadline < window.end:
                continue
            if self.disqualified(device) or canary.challenge_id in self.dstate(device).get("canary", []):
                continue
            self.record(device, False, self.params.reputation.failure_weight)
            self.note(
                device,
                "compute.canary_missed",
                {"cause": "missed", "canary": canary.challenge_id, "deadline": deadline},
            )

    # --- verification ------------------------------------------------------------------------------------
    def verify_pending(self, audits: list[Challenge]) -> None:
        period = self.params.verify.audit_period_s
        waiting = []
        for item in self.state["pending"]:
            audit = audit_for(item["received_at"], audits, period)
            if audit is None:
                waiting.append(item)
                continue
            self.check(item, audit)
        self.state["pending"] = waiting

    def check(self, item: dict[str, Any], audit: Challenge) -> None:
        entry = self.orders.get(item["order"])
        if entry is None:
            return
        leases = [x for x in entry["leases"] if x["device"] == item["device"]]
        lease = leases[-1] if leases else None
        if lease is None:
            return
        order = self.order(item["order"])
        job = order.job.for_run(item["run"])
        outputs = [bytes.fromhex(o) for o in item["outputs"]]
        verify = self.params.verify
        if reexecuted(audit.challenge_id, item["report"], verify.reexec_bps):
            units = list(range(job.units))
        else:
            units = spot_units(audit.challenge_id, item["report"], job.units, verify.spot_checks)
        for unit in units:
            expected = known_unit(job, unit)
            if expected != outputs[unit]:
                evidence = {
                    "report": item["report"],
                    "unit": unit,
                    "audit": audit.challenge_id,
                    "expected": unit_hash(expected).hex(),
                    "got": unit_hash(outputs[unit]).hex(),
                }
                self.mark(item, "compute.spot_check_failed", evidence)
                return self.fail_lease(
                    entry, lease, "compute.spot_check_failed", self.data.window.end, evidence, item["run"]
                )
        hashes = [unit_hash(o).hex() for o in outputs]
        by_device = entry.setdefault("hashes", {}).setdefault(str(item["run"]), {})
        for other, other_hashes in sorted(by_device.items()):
            found = bisect([bytes.fromhex(h) for h in hashes], [bytes.fromhex(h) for h in other_hashes])
            if found is None:
                continue
            truth = unit_hash(known_unit(job, found.unit)).hex()
            evidence = {
                "run": item["run"],
                "unit": found.unit,
                "expected": truth,
                "bisection_steps": len(found.steps),
            }
            if other_hashes[found.unit] != truth:
                bad = [x for x in entry["leases"] if x["device"] == other]
                if bad:
                    self.fail_lease(
                        entry,
                        bad[-1],
                        "compute.result_mismatch",
                        self.data.window.end,
                        {**evidence, "got": other_hashes[found.unit], "against": item["device"]},
                        item["run"],
                    )
            if hashes[found.unit] != truth:
                evidence = {**evidence, "report": item["report"], "got": hashes[found.unit], "against": other}
                self.mark(item, "compute.result_mismatch", evidence)
                return self.fail_lease(
                    entry, lease, "compute.result_mismatch", self.data.window.end, evidence, item["run"]
                )
        by_device[item["device"]] = hashes
        self.record(item["device"], True, self.params.reputation.success_weight)
        self.mark(item, OK, {"checked_units": units, "audit": audit.challenge_id})
        if lease.get("reason") not in FRAUD:
            self.pay(entry, lease, item["run"])
            lease["paid"] = max(lease["paid"], item["run"] + 1)
        return None

    def mark(self, item: Mapping[str, Any], reason: str, evidence: Mapping[str, Any]) -> None:
        """The outcome of a result's check: its verdict when the result arrived this epoch, else a note; and
        in the order's `checked` (report id → reason), which the book shows the tenant after the epoch."""
        entry = self.orders.get(item["order"])
        if entry is not None:
            entry.setdefault("checked", {})[item["report"]] = reason
        if item["report"] in self.verdicts:
            self.verdicts[item["report"]] = Verdict(item["report"], reason, dict(evidence))
        elif reason != OK:
            self.note(item["device"], reason, evidence)

    # --- funding, capacity, pay ------------------------------------------------------------------------
    def check_funding(self) -> None:
        """Rule: after the funding window, an order whose tenant's escrow (less what earlier orders of the
        tenant reserve, by order id) cannot cover the next run of every active lease closes with
        `compute.insufficient_funds`."""
        end, window = self.data.window.end, self.params.market.funding_window_s
        reserved: dict[str, int] = defaultdict(int)
        for order_id in sorted(self.orders):
            entry = self.orders[order_id]
            if entry["status"] != "leased":
                continue
            order = self.order(order_id)
            need = self.next_runs_cost(entry)
            available = self.state["accounts"].get(order.tenant, 0) - reserved[order.tenant]
            if available < need and end >= entry.get("leased_at", end) + window:
                self.close_order(
                    entry, "compute.insufficient_funds", end, {"escrow": available, "needed": need}
                )
            else:
                reserved[order.tenant] += need

    def judge_capacity(self, capacity: list[Challenge]) -> dict[str, int]:
        """Each capacity challenge whose deadline falls in the window, for every provider onboarded before
        it: pass or `compute.benchmark_failed`. Returns, per provider, the sum of the measured speeds of the
        passes that pay (streak ≥ min_streak)."""
        c, window = self.params.capacity, self.data.window
        paying: dict[str, int] = defaultdict(int)
        if not c.enabled:
            return paying
        for challenge in sorted(capacity, key=lambda x: x.issued_at):
            deadline = capacity_deadline(challenge.issued_at, c.work_s, c.grace_s)
            if not window.start <= deadline < window.end:
                continue
            for device_id in sorted(self.data.devices):
                device = self.data.devices[device_id]
                if not is_provider(device) or device.onboarded_at > challenge.issued_at:
                    continue
                if self.disqualified(device_id):
                    continue
                state = self.dstate(device_id)
                shown = dict((k, v) for k, v in state.get("cap", [])).get(challenge.challenge_id)
                if shown is not None:
                    state["streak"] = state.get("streak", 0) + 1
                    self.record(device_id, True, self.params.reputation.success_weight)
                    if state["streak"] >= c.min_streak:
                        paying[device_id] += shown
                else:
                    state["streak"] = 0
                    self.record(device_id, False, self.params.reputation.failure_weight)
                    self.note(
                        device_id,
                        "compute.benchmark_failed",
                        {"cause": "missed", "challenge": challenge.challenge_id, "deadline": deadline},
                    )
        return paying


def evaluate_compute(data: SectorInput, params: ComputeParams) -> SectorOutcome:
    """The epoch (see the module docstring)."""
    state = copy.deepcopy(dict(data.prior_state))
    empty_state = (
        ("accounts", {}),
        ("bonds", {}),
        ("orders", {}),
        ("pending", []),
        ("take", 0),
        ("unbonding", {}),
    )
    for key, empty in empty_state:
        state.setdefault(key, empty)
    state["as_of"] = data.window.end
    work = Epoch(data, params, state, now=data.window.start)
    for entry in state["orders"].values():
        work.touch(entry)
    capacity = {c.challenge_id: c for c in data.challenges if c.kind == CAPACITY}
    canaries = {c.challenge_id: c for c in data.challenges if c.kind == CANARY}
    events: list[tuple[int, int, str, UsageRecord | ReportRecord]] = [
        (u.received_at, 0, u.receipt_id, u) for u in data.usage
    ]
    events += [(r.received_at, 1, r.report_id, r) for r in data.reports]
    for at, _, _, event in sorted(events, key=lambda x: x[:3]):
        work.advance(at)
        if isinstance(event, UsageRecord):
            work.deposit(event)
            continue
        report = event
        if report.device_id not in data.devices:
            work.verdict(report, "compute.unknown_device")
        elif work.disqualified(report.device_id) and report.kind not in (BID, UNBOND):
            work.verdict(report, "compute.disqualified", {})
        elif report.kind == BID:
            work.bid(report)
        elif report.kind == UNBOND:
            work.unbond(report)
        elif report.kind == RESULT:
            work.result(report)
        elif report.kind == CAPACITY_REPORT:
            work.capacity_answer(report, capacity)
        elif report.kind == CANARY_REPORT:
            work.canary_answer(report, canaries)
        else:
            work.verdict(report, "compute.unknown_kind", {"kind": report.kind})
    work.advance(data.window.end)
    work.verify_pending([c for c in data.challenges if c.kind == AUDIT])
    for entry in state["orders"].values():
        work.finish_if_done(entry, data.window.end)
    work.check_funding()
    work.release_bonds()
    paying = work.judge_capacity(list(capacity.values()))
    work.judge_canaries(list(canaries.values()))
    if work.locks is not None and {d: v for d, v in work.locks.items() if v} != scan_locks(state["orders"]):
        raise RuntimeError("compute: the bond locks kept during the epoch differ from the book's")
    retention = params.market.retention_s
    for order_id in sorted(state["orders"]):
        entry = state["orders"][order_id]
        if entry["status"] in ("done", "closed") and entry["ended"] + retention < data.window.end:
            del state["orders"][order_id]
    contributions = []
    for device_id in sorted(paying):
        hardware = Hardware.of(data.devices[device_id].attributes)
        contributions.append(
            Contribution(
                device_id,
                params.category,
                paying[device_id],
                {"shown_hps_sum": paying[device_id], "benchmark_hps": hardware.benchmark_hps},
            )
        )
    usage_share = {d: Fraction(0) for d in work.device_state if work.disqualified(d)}
    verdicts = [work.verdicts[r.report_id] for r in data.reports]
    return SectorOutcome(
        verdicts=verdicts,
        contributions=contributions,
        notes=work.notes,
        state=state,
        device_state={
            d: work.device_state[d]
            for d in sorted(work.device_state)
            if work.device_state[d] != (data.prior_device_state.get(d) or {})
        },
        usage_share=usage_share,
        usage_credits={d: c for d, c in sorted(work.released.items()) if c > 0},
    )
