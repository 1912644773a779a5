"""Cheating measured through the engine itself: real jobs, real results, `evaluate_compute`'s spot checks
and re-executions, the pay it releases. One epoch; `pairs` honest and `pairs` cheating providers, each with
one lease of its own (fresh providers: no reputation history)."""

from __future__ import annotations

import hashlib
import math
import os
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


def engine_run(
    skip: float, params: ComputeParams, seed: int, pairs: int = 150, units: int = 32, price: int = 12
) -> dict[str, Any]:
    """Catch rate of results with ⌈skip·units⌉ random units, and the credits released to a cheating provider
    relative to an honest one, measured through `evaluate_compute` (hashchain jobs of 64 iterations)."""
    start = 1_700_006_400
    tenant = Wallet(hashlib.sha256(f"engine-tenant{seed}".encode()).digest())
    attrs = {"cpu_cores": 8, "memory_mb": 16_384, "benchmark_hps": 10**6}
    devices, usage, reports = {}, [], []
    wrong = math.ceil(skip * units)
    usage.append(
        UsageRecord("t", "compute", "h0", tenant.address, 10**12, 1, "credits", "escrow", start, start)
    )
    for i in range(2 * pairs):
        device = f"{'c' if i % 2 else 'h'}{i // 2}"
        devices[device] = DeviceInfo(device, f"0x{i:040x}", "0xm", "ed25519", None, start - DAY, attrs)
        usage.append(
            UsageRecord(
                f"b{i}", "compute", device, f"0x{i:040x}", 10**6, 1, "credits", f"bond:{device}", start, start
            )
        )
        ts = start + 60 * (i + 1)
        seed_hex = hashlib.sha256(f"{seed}|{i}".encode()).hexdigest()
        order = Order(
            tenant.address,
            JobSpec("hashchain", seed_hex, units, 64),
            Requirements(),
            price,
            10**6,
            1,
            1,
            600,
            ts,
            i,
        )
        data, sig = sign_order(order, tenant.sign_text)
        reports.append(
            ReportRecord(
                f"{i:064x}",
                BID,
                device,
                ts + 1,
                1,
                {"order": data, "order_sig": sig, "price": price, "deposit": price * units},
                ts + 1,
            )
        )
        outputs = run_job(order.job)
        if i % 2:
            outputs = [os.urandom(32) if u < wrong else o for u, o in enumerate(outputs)]
        rid = hashlib.sha256(f"result|{seed}|{i}".encode()).hexdigest()
        reports.append(
            ReportRecord(
                rid,
                RESULT,
                device,
                ts + 40,
                2,
                {"order": order.order_id, "run": 0, "root": outputs_root(outputs).hex(), "outputs": outputs},
                ts + 40,
            )
        )
    audits = []
    for t in range(start, start + DAY, params.verify.audit_period_s):
        s = ChallengeSeed("0x" + hashlib.sha256(f"{seed}|audit|{t}".encode()).hexdigest(), t)
        audits.append(Challenge(AUDIT, challenge_id(AUDIT, s), t, s))
    data = SectorInput(EpochWindow(0, start, start + DAY), devices, reports, challenges=audits, usage=usage)
    out = evaluate_compute(data, params)
    results = {v.report_id: v.reason for v in out.verdicts}
    cheat_ids = [r.report_id for r in reports if r.kind == RESULT and r.device_id.startswith("c")]
    honest_ids = [r.report_id for r in reports if r.kind == RESULT and r.device_id.startswith("h")]
    caught = sum(1 for r in cheat_ids if results[r] != "ok")
    false_positives = sum(1 for r in honest_ids if results[r] != "ok")
    paid_cheat = sum(c for d, c in out.usage_credits.items() if d.startswith("c"))
    paid_honest = sum(c for d, c in out.usage_credits.items() if d.startswith("h"))
    slashed = sum(10**6 - out.state["bonds"].get(f"c{i}", 0) for i in range(pairs))
    return {
        "results": pairs,
        "wrong_units": wrong,
        "detection_rate": caught / pairs,
        "false_positive_rate": false_positives / pairs,
        "pay_vs_honest": paid_cheat / paid_honest if paid_honest else 0.0,
        "deposits_slashed_credits": slashed,
        "net_vs_honest_per_result": (paid_cheat - slashed - paid_honest) / pairs,
    }
