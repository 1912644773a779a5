"""The compute sector's routes under `/v1/sectors/compute/`: rules, challenges, the order board, the book.

The book between epochs is the engine's own view: the state of the latest closed epoch advanced by the
reports, usage receipts and challenges since, from the devices' stored state, through the same
`evaluate_compute` (so a provider disqualified by a canary an hour ago wins no auction in the book either,
and a result is spot-checked as soon as its audit seed exists). What it shows is what an epoch closing now
would decide; only the closed epoch pays. Orders nobody has bid on yet live in the board of
this process (a tenant's CLI re-posts its order if the node restarted); once bid on, an order is in every
bid report and in the stored state.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, HTTPException
from fastapi.concurrency import run_in_threadpool

from opendepin.sectors.base import EpochWindow, SectorInput, SectorServices
from opendepin.sectors.compute.attributes import Hardware
from opendepin.sectors.compute.challenges import AUDIT, CANARY, CAPACITY, capacity_deadline, capacity_target
from opendepin.sectors.compute.evaluate import evaluate_compute, load_order
from opendepin.sectors.compute.orders import Order, OrderError, decode_order
from opendepin.sectors.compute.reports import RESULT

if TYPE_CHECKING:
    from opendepin.sectors.compute.plugin import ComputeSector

MAX_BOARD = 10_000


def order_view(order: Order) -> dict[str, Any]:
    return {"id": order.order_id, **order.to_map()}


def build_router(services: SectorServices, sector: ComputeSector) -> APIRouter:
    params = sector.compute
    router = APIRouter(tags=["compute"])
    board: dict[str, tuple[Order, bytes, bytes]] = {}
    lock = threading.Lock()

    def book() -> dict[str, Any]:
        """The latest stored state advanced to now by the reports received since."""
        state = dict(services.sector_state(sector.name))
        since = int(state.get("as_of", 0))
        reports = list(services.sector_reports(sector.name, since))
        devices = {}
        for device_id in {r.device_id for r in reports}:
            info = services.device(device_id)
            if info is not None:
                devices[device_id] = info
        now = services.now()
        usage = list(services.sector_usage(sector.name, since))
        for device_id in {u.device for u in usage} - set(devices):
            info = services.device(device_id)
            if info is not None:
                devices[device_id] = info
        # advanced to now and no further: what falls due in the next second (a lease failing, an order
        # reopening) is not shown before it happens, or a provider bidding on it would be early
        data = SectorInput(
            EpochWindow(-1, since, max(since, now)),
            devices,
            reports,
            state,
            challenges=list(services.sector_challenges(sector.name, since)),
            prior_device_state=services.sector_device_state(sector.name),
            usage=usage,
        )
        outcome = evaluate_compute(data, params)
        return {
            "state": dict(outcome.state),
            "reports": reports,
            "verdicts": {v.report_id: v for v in outcome.verdicts},
        }

    @router.get("/rules")
    async def rules() -> dict[str, Any]:
        """The parameters providers and tenants need: market, verification, capacity, reputation."""
        return params.model_dump(mode="json")

    @router.get("/audit")
    async def audit() -> dict[str, Any]:
        (challenge,) = await run_in_threadpool(services.current_challenge, AUDIT)
        return {"challenge": challenge.challenge_id, "issued_at": challenge.issued_at, "now": services.now()}

    @router.get("/capacity/{device_id}")
    async def capacity(device_id: str) -> dict[str, Any]:
        """The current capacity challenge, with this provider's target and deadline; 404
        `compute.capacity_disabled` where the network does not judge capacity (an agent would otherwise hash
        for `work_s` for nothing, missing the bid windows meanwhile)."""
        if not params.capacity.enabled:
            raise HTTPException(404, {"reason": "compute.capacity_disabled"})
        info = services.device(device_id)
        hardware = Hardware.of(info.attributes) if info is not None else None
        if hardware is None or not hardware.is_provider:
            raise HTTPException(404, {"reason": "compute.not_a_provider", "device": device_id})
        (challenge,) = await run_in_threadpool(services.current_challenge, CAPACITY)
        c = params.capacity
        return {
            "challenge": challenge.challenge_id,
            "issued_at": challenge.issued_at,
            "deadline": capacity_deadline(challenge.issued_at, c.work_s, c.grace_s),
            "work_s": c.work_s,
            "target": str(capacity_target(hardware.benchmark_hps, c.work_s, c.expected_solutions)),
            "min_solutions": c.min_solutions,
            "now": services.now(),
        }

    @router.get("/canary/{device_id}")
    async def canary(device_id: str) -> dict[str, Any]:
        """The canary jobs of the current period addressed to this provider (usually none)."""
        if not params.canary.enabled:
            return {"canaries": [], "now": services.now()}
        issued = await run_in_threadpool(services.current_challenge, CANARY)
        mine = [c for c in issued if c.device == device_id]
        return {
            "canaries": [
                {
                    "challenge": c.challenge_id,
                    "job": dict(c.payload),
                    "deadline": c.issued_at + params.canary.deadline_s,
                }
                for c in mine
            ],
            "now": services.now(),
        }

    @router.post("/orders")
    async def post_order(body: dict[str, str] = Body(...)) -> dict[str, Any]:  # noqa: B008
        """A tenant's signed order `{order: hex CBOR, signature: hex}` goes on the board for providers."""
        try:
            order_bytes, signature = (
                bytes.fromhex(body.get("order", "")),
                bytes.fromhex(body.get("signature", "")),
            )
            order = decode_order(
                order_bytes,
                signature,
                max_units=params.market.max_units,
                max_replicas=params.market.max_replicas,
                max_runs=params.market.max_runs,
            )
        except ValueError as error:
            reason = error.reason if isinstance(error, OrderError) else "compute.bad_order"
            raise HTTPException(400, {"reason": reason, "message": str(error)}) from None
        now = services.now()
        if order.ts + params.market.bid_window_s <= now or order.ts > now + 60:
            raise HTTPException(
                400,
                {
                    "reason": "compute.order_stale",
                    "ts": order.ts,
                    "now": now,
                    "window_s": params.market.bid_window_s,
                },
            )
        with lock:
            for key in [k for k, v in board.items() if v[0].ts + params.market.bid_window_s <= now]:
                del board[key]
            if len(board) >= MAX_BOARD:
                raise HTTPException(503, {"reason": "compute.board_full", "max": MAX_BOARD})
            board[order.order_id] = (order, order_bytes, signature)
        return {"id": order.order_id, "bids_until": order.ts + params.market.bid_window_s}

    @router.get("/orders")
    async def orders() -> dict[str, Any]:
        """Orders open for bids (with the signed bytes a bid carries) and the book's orders by status (an
        order with active leases: each lease's device, next run and price, the order's bytes and its
        tenant's escrow)."""
        now = services.now()
        current = await run_in_threadpool(book)
        window = params.market.bid_window_s
        with lock:
            posted = [(o, b, s) for o, b, s in board.values() if o.ts + window > now]
        open_bids = [
            {**order_view(o), "order_hex": b.hex(), "signature": s.hex(), "bids_until": o.ts + window}
            for o, b, s in posted
            if o.order_id not in current["state"]["orders"]
        ]
        for _, entry in sorted(current["state"]["orders"].items()):
            reopened = entry["status"] == "open" or "resume" in entry
            if entry["status"] in ("open", "leased") and reopened and entry["opened"] + window > now:
                open_bids.append(
                    {
                        **order_view(load_order(entry, params)),
                        "order_hex": entry["order"],
                        "signature": entry["sig"],
                        "bids_until": entry["opened"] + window,
                    }
                )
        accounts = current["state"]["accounts"]
        book_rows = []
        for k, v in sorted(current["state"]["orders"].items()):
            row = {"id": k, "status": v["status"], "tenant": v["tenant"], "leases": len(v["leases"])}
            active = [x for x in v["leases"] if x["status"] == "active"]
            if active:  # what a provider needs to run its due runs without asking for each order
                row["active"] = [
                    {"device": x["device"], "run": x["committed"], "price": x["price"]} for x in active
                ]
                row["order_hex"], row["escrow"] = v["order"], accounts.get(v["tenant"], 0)
            book_rows.append(row)
        return {"now": now, "open": open_bids, "book": book_rows, "as_of": current["state"].get("as_of")}

    @router.get("/orders/{order_id}")
    async def order_detail(order_id: str) -> dict[str, Any]:
        """One order: its status, bids, leases and the results delivered (outputs as hex)."""
        current = await run_in_threadpool(book)
        entry = current["state"]["orders"].get(order_id)
        if entry is None:
            with lock:
                posted = board.get(order_id)
            if posted is None:
                raise HTTPException(404, {"reason": "compute.unknown_order", "order": order_id})
            return {**order_view(posted[0]), "status": "posted", "bids": [], "leases": [], "results": []}
        results = []
        order_ts = load_order(entry, params).ts
        delivered = await run_in_threadpool(services.sector_reports, sector.name, order_ts)
        checked = entry.get("checked", {})
        pending = {item["report"] for item in current["state"]["pending"]}
        for report in delivered:
            if report.kind == RESULT and report.payload.get("order") == order_id:
                # the check's outcome once an epoch had its audit seed; `pending` until then; else why the
                # book refused it (no lease, wrong run, ...)
                refused = current["verdicts"].get(report.report_id)
                verdict = checked.get(report.report_id) or (
                    "pending" if report.report_id in pending else (refused.reason if refused else None)
                )
                results.append(
                    {
                        "report": report.report_id,
                        "device": report.device_id,
                        "run": report.payload["run"],
                        "root": report.payload["root"],
                        "received_at": report.received_at,
                        "verdict": verdict,
                        "outputs": [bytes(o).hex() for o in report.payload["outputs"]],
                    }
                )
        view = {k: v for k, v in entry.items() if k not in ("hashes", "order", "checked")}
        return {
            **view,
            "order_hex": entry["order"],
            "results": results,
            "escrow": current["state"]["accounts"].get(entry["tenant"], 0),
            "as_of": current["state"].get("as_of"),
        }

    @router.get("/providers")
    async def providers() -> dict[str, Any]:
        """Providers with a bond (any of them may anchor a tenant's escrow receipt) and their free bond."""
        current = await run_in_threadpool(book)
        bonds = current["state"]["bonds"]
        return {"providers": [{"device": d, "bond": b} for d, b in sorted(bonds.items()) if b > 0]}

    @router.get("/accounts/{address}")
    async def account(address: str) -> dict[str, Any]:
        """A tenant's escrow account or a provider's bond, as of the latest closed epoch."""
        state = await run_in_threadpool(services.sector_state, sector.name)
        return {
            "escrow": state.get("accounts", {}).get(address, 0),
            "bond": state.get("bonds", {}).get(address, 0),
            "take": state.get("take", 0),
            "as_of": state.get("as_of"),
        }

    return router
