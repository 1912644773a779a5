"""Builders for the compute tests: providers, signed orders, bids, results, receipts, audit challenges."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageRecord
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import Challenge, ChallengeSeed, DeviceInfo, EpochWindow, SectorInput
from opendepin.sectors.compute.challenges import AUDIT, challenge_id
from opendepin.sectors.compute.jobs import JobSpec, run_job
from opendepin.sectors.compute.merkle import outputs_root
from opendepin.sectors.compute.orders import Order, Requirements, sign_order
from opendepin.sectors.compute.reports import BID, RESULT

TENANT = Wallet(bytes.fromhex("77" * 32))
OWNERS = [Wallet(bytes([0x80 + i]) * 32) for i in range(6)]
T0 = 1_700_006_400  # a multiple of 600 and 3600
SEED = "ab" * 32


def provider(
    index: int, cores: int = 8, memory: int = 16_384, hps: int = 1_000_000, gpu: str | None = None
) -> DeviceInfo:
    attrs: dict[str, Any] = {"cpu_cores": cores, "memory_mb": memory, "benchmark_hps": hps}
    if gpu:
        attrs["gpu_model"] = gpu
    owner = OWNERS[index % len(OWNERS)].address
    return DeviceInfo(f"dev{index}", owner, "0xmaker", "ed25519", None, T0 - 86_400, attrs)


def make_order(
    units: int = 8,
    replicas: int = 1,
    runs: int = 1,
    max_price: int = 100,
    budget: int = 10_000,
    ts: int = T0,
    deadline_s: int = 600,
    kind: str = "hashchain",
    size: int = 50,
    cores: int = 1,
    nonce: int = 0,
    tenant: Wallet = TENANT,
) -> tuple[Order, bytes, bytes]:
    order = Order(
        tenant.address,
        JobSpec(kind, SEED, units, size),
        Requirements(cores, 64, "", 0),
        max_price,
        budget,
        replicas,
        runs,
        deadline_s,
        ts,
        nonce,
    )
    data, sig = sign_order(order, tenant.sign_text)
    return order, data, sig


_counter = [0]


def report(kind: str, device: str, at: int, payload: dict[str, Any]) -> ReportRecord:
    _counter[0] += 1
    rid = hashlib.sha256(f"{kind}{device}{at}{_counter[0]}".encode()).hexdigest()
    return ReportRecord(rid, kind, device, at, _counter[0], payload, at)


def bid(device: str, at: int, signed: tuple[Order, bytes, bytes], price: int, deposit: int) -> ReportRecord:
    _, data, sig = signed
    return report(BID, device, at, {"order": data, "order_sig": sig, "price": price, "deposit": deposit})


def result(
    device: str, at: int, order: Order, run: int, outputs: Sequence[bytes] | None = None
) -> ReportRecord:
    outs = list(outputs) if outputs is not None else run_job(order.job.for_run(run))
    return report(
        RESULT,
        device,
        at,
        {"order": order.order_id, "run": run, "root": outputs_root(outs).hex(), "outputs": outs},
    )


def receipt(payer: str, device: str, credits: int, ref: str, at: int) -> UsageRecord:
    rid = hashlib.sha256(f"{payer}{ref}".encode()).hexdigest()
    return UsageRecord(rid, "compute", device, payer, credits, credits, "credits", ref, at, at)


def audits(start: int, end: int, period: int = 600) -> list[Challenge]:
    out = []
    for t in range(start - start % period, end, period):
        seed = ChallengeSeed("0x" + hashlib.sha256(str(t).encode()).hexdigest(), t)
        out.append(Challenge(AUDIT, challenge_id(AUDIT, seed), t, seed))
    return out


def epoch(
    devices: Sequence[DeviceInfo],
    reports: Sequence[ReportRecord],
    usage: Sequence[UsageRecord] = (),
    start: int = T0,
    length: int = 86_400,
    state: dict[str, Any] | None = None,
    device_state: dict[str, Any] | None = None,
    challenges: Sequence[Challenge] | None = None,
    number: int = 0,
) -> SectorInput:
    return SectorInput(
        EpochWindow(number, start, start + length),
        {d.device_id: d for d in devices},
        list(reports),
        state or {},
        challenges=list(challenges if challenges is not None else audits(start, start + length)),
        prior_device_state=device_state or {},
        usage=list(usage),
    )
