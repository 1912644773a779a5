"""Which byte-hours receipt pays for which piece, and until when (docs/storage.md, "Paid pieces").

Rules (with `pieces_paid_by_receipts`, the default):
- a `storage.put` and a `storage.renew` name the byte-hours receipt that pays for them (`receipt`, its id);
  the epoch looks it up among the sector's accepted receipts of this epoch and the previous one's receipts
  that no piece used yet (`ReceiptBook`): unit `byte_hours`, and countersigned by the provider when the
  network requires it (a receipt the epoch does not pay backs no piece either);
- the receipt must name the provider that reports the piece (`device`), be paid by the segment's client
  (`payer`), cost at least the network's price for its quantity (`pricing.storage_credits`), and cover at
  least one hour of the piece (quantity ≥ size);
- it covers quantity × 3600 // size seconds of the piece: from the earlier of the receipt's time and the
  put's for a put, from the piece's current expiry for a renewal. The piece is registered (or renewed) only
  until the end of that cover: a signed expiry later than it, or none at all (0), is cut to it;
- a receipt backs one piece once: used, it leaves the book; a second put or renewal naming it is refused;
- otherwise `storage.unpaid_piece` with the receipt id and the numbers that failed; the piece is not
  registered (put) or keeps its expiry (renewal).
So every byte-hour the network audits and pays a piece for was bought by the segment's client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opendepin.market.receipts import UsageRecord
from opendepin.sectors.storage.pricing import STORED_UNIT, storage_credits

UNPAID_PIECE = "storage.unpaid_piece"
HOUR = 3_600


@dataclass(frozen=True, slots=True)
class PaidReceipt:
    """What the epoch needs of a byte-hours receipt to tie it to a piece."""

    receipt_id: str
    device: str
    payer: str
    credits: int
    quantity: int
    ts: int

    def to_row(self) -> list[Any]:
        return [self.device, self.payer, self.credits, self.quantity, self.ts]


@dataclass
class ReceiptBook:
    """The byte-hours receipts that may still back a piece: this epoch's, and the previous epoch's left over
    (a put reported just after the epoch its receipt was accepted in)."""

    current: dict[str, PaidReceipt] = field(default_factory=dict)
    carried: dict[str, PaidReceipt] = field(default_factory=dict)

    @classmethod
    def of(
        cls, usage: Sequence[UsageRecord], unpaid: Mapping[str, str], state: Mapping[str, Any]
    ) -> ReceiptBook:
        """This epoch's accepted byte-hours receipts that the epoch pays, and the carried ones from `state`
        (`receipts`: id → [device, payer, credits, quantity, ts])."""
        current = {
            r.receipt_id: PaidReceipt(r.receipt_id, r.device, r.payer, r.credits, r.quantity, r.ts)
            for r in usage
            if r.unit == STORED_UNIT and r.receipt_id not in unpaid
        }
        carried = {
            rid: PaidReceipt(rid, str(d), str(p), int(c), int(q), int(t))
            for rid, (d, p, c, q, t) in dict(state.get("receipts", {})).items()
            if rid not in current
        }
        return cls(current, carried)

    def get(self, receipt_id: str) -> PaidReceipt | None:
        return self.current.get(receipt_id) or self.carried.get(receipt_id)

    def take(self, receipt_id: str) -> None:
        """The receipt backed a piece: it backs no other."""
        self.current.pop(receipt_id, None)
        self.carried.pop(receipt_id, None)

    def to_state(self) -> dict[str, list[Any]]:
        """This epoch's unused receipts, for the next epoch only (the carried ones are dropped)."""
        return {rid: r.to_row() for rid, r in sorted(self.current.items())}


def paid_cover(
    receipt_id: str,
    receipt: PaidReceipt | None,
    *,
    device: str,
    client: str | None,
    size: int,
    start: int,
    credits_per_gb_hour: int,
) -> tuple[str, dict[str, Any]]:
    """Is the piece of `size` bytes on `device`, stored for `client`, paid by `receipt` from `start` on, and
    until when? (`ok`, {"paid_until": …}) or (`storage.unpaid_piece`, the numbers). Module docstring."""
    evidence: dict[str, Any] = {"receipt": receipt_id or None}
    if receipt is None:
        return UNPAID_PIECE, {
            **evidence,
            "problem": "no byte-hours receipt of this or the previous epoch with this id that the network "
            "pays and no other piece used",
        }
    price = storage_credits(receipt.quantity, credits_per_gb_hour)
    evidence |= {
        "device": receipt.device,
        "payer": receipt.payer,
        "client": client,
        "byte_hours": receipt.quantity,
        "size": size,
        "credits": receipt.credits,
        "price_credits": price,
    }
    problems = []
    if receipt.device != device:
        problems.append("the receipt is for another provider")
    if client is None or receipt.payer != client:
        problems.append("the receipt is not paid by the segment's client")
    if receipt.credits < price:
        problems.append("the receipt pays less than the network's price for its byte-hours")
    if receipt.quantity < size:
        problems.append("the receipt pays for less than one hour of the piece")
    if problems:
        return UNPAID_PIECE, {**evidence, "problem": "; ".join(problems)}
    return "ok", {**evidence, "paid_from": start, "paid_until": start + receipt.quantity * HOUR // size}


def capped_expiry(signed: int, paid_until: int) -> int:
    """The expiry the network registers: the client's signed one (0: none), never past what is paid."""
    return paid_until if signed == 0 else min(signed, paid_until)
