"""Usage receipts: accept what payers signed, against their data-credit balance (docs/architecture.md).

A receipt is accepted when it decodes and its payer signed it (and, when countersigned, its device), the
device is registered, the device's sector meters usage, the device countersigned it if its sector requires
that (`usage.countersignature_required`), `(payer, ref)` is new, and the payer's credits on chain minus
what its accepted but not yet settled receipts already commit cover it. Settlement spends the credits on
chain after each epoch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from opendepin.clock import Clock
from opendepin.market.receipts import ReceiptError, SignedReceipt, UsageRecord, decode_receipt
from opendepin.sectors.base import SectorPlugin
from opendepin.services.devices import DeviceRegistry
from opendepin.store.base import Store, StoredReceipt

CreditBalance = Callable[[str], int]
"""A payer's data credits on chain (the DataCredits contract's balance)."""
MAX_RECEIPT_AGE_SECONDS = 7 * 86_400
"""A receipt older than this is refused (`usage.stale`): routers batch, but not forever."""
MAX_RECEIPT_FUTURE_SECONDS = 300
MAX_RECEIPTS_PER_BATCH = 1_000

ACCEPTED = "accepted"


@dataclass(frozen=True, slots=True)
class UsageResult:
    """The decision on one receipt: `accepted` or a reason code, with a message."""

    reason: str
    message: str
    receipt_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reason == ACCEPTED


class UsageService:
    """Checks and stores usage receipts."""

    def __init__(
        self,
        sectors: Mapping[str, SectorPlugin],
        store: Store,
        clock: Clock,
        registry: DeviceRegistry,
        credit_balance: CreditBalance | None = None,
    ) -> None:
        self.metered = {name: c for name, p in sectors.items() if (c := p.usage_category())}
        self.countersigned = {name for name, p in sectors.items() if p.usage_countersigned()}
        self.store = store
        self.clock = clock
        self.registry = registry
        self.credit_balance = credit_balance
        self._lock = threading.Lock()

    def check(self, signed: SignedReceipt, now: int, committed: dict[str, int]) -> UsageResult:
        """Everything but the signature (already checked by decoding) and uniqueness (the store's)."""
        receipt, rid = signed.receipt, signed.receipt_id
        if self.registry.get(receipt.device) is None:
            return UsageResult("usage.unknown_device", f"device {receipt.device[:80]} is not onboarded", rid)
        if receipt.sector not in self.metered:
            message = f"sector {receipt.sector[:40]!r} meters no usage here: {sorted(self.metered)}"
            return UsageResult("usage.not_metered", message, rid)
        if receipt.sector in self.countersigned and not signed.device_signature:
            return UsageResult(
                "usage.countersignature_required",
                f"sector {receipt.sector} pays only receipts its device countersigned: send "
                "[receipt, payer signature, device signature]",
                rid,
            )
        if receipt.ts < now - MAX_RECEIPT_AGE_SECONDS:
            return UsageResult("usage.stale", f"ts {receipt.ts} is more than 7 days before {now}", rid)
        if receipt.ts > now + MAX_RECEIPT_FUTURE_SECONDS:
            return UsageResult("usage.future", f"ts {receipt.ts} is after {now}", rid)
        if self.credit_balance is None:
            return UsageResult(
                "usage.no_credit_ledger", "this node has no chain to check the payer's data credits on", rid
            )
        payer = receipt.payer
        if payer not in committed:
            committed[payer] = self.store.unsettled_credits(payer)
        available = self.credit_balance(payer) - committed[payer]
        if receipt.credits > available:
            return UsageResult(
                "usage.insufficient_credits",
                f"payer {payer} has {max(available, 0)} credits not yet committed; the receipt spends "
                f"{receipt.credits}",
                rid,
            )
        committed[payer] += receipt.credits
        return UsageResult(ACCEPTED, "accepted", rid)

    def record(self, wires: Sequence[bytes]) -> list[UsageResult]:
        """Check a batch of signed receipts and store the good ones durably before answering."""
        with self._lock:
            now = self.clock.now()
            committed: dict[str, int] = {}
            results: list[UsageResult] = []
            accepted: list[tuple[int, StoredReceipt]] = []
            in_batch: set[object] = set()
            for index, wire in enumerate(wires):
                try:
                    signed = decode_receipt(wire)
                except ReceiptError as error:
                    results.append(UsageResult(error.reason, str(error)))
                    continue
                keys = (signed.receipt_id, (signed.receipt.payer, signed.receipt.ref))
                if any(key in in_batch for key in keys):
                    # a repeat inside the batch spends nothing: its credits are not held against the
                    # payer's next receipts (they were, refusing an honest one as insufficient_credits)
                    ref = signed.receipt.ref[:80]
                    message = f"this receipt, or ref {ref!r} of its payer, is earlier in the batch"
                    results.append(UsageResult("usage.duplicate", message, signed.receipt_id))
                    continue
                result = self.check(signed, now, committed)
                results.append(result)
                if result.accepted:  # only an accepted receipt takes its id and ref (a refused one is not)
                    in_batch.update(keys)
                    record = UsageRecord.of(signed, now)
                    stored = StoredReceipt(
                        record, signed.receipt_bytes, signed.signature, signed.device_signature
                    )
                    accepted.append((index, stored))
            inserted = self.store.append_usage([stored for _, stored in accepted])
            for (index, stored), new in zip(accepted, inserted, strict=True):
                if not new:
                    results[index] = UsageResult(
                        "usage.duplicate",
                        f"this receipt, or ref {stored.record.ref!r} of {stored.record.payer}, is stored",
                        stored.record.receipt_id,
                    )
            return results
