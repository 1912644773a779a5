"""Paid pieces (docs/storage.md, "Paid pieces"; paid.py): a put or renewal counts — registered, audited, paid
byte-hours — only until the end of what the byte-hours receipt it names pays, and only for a receipt the
segment's client paid this provider at the network's price for at least one hour of the piece, used by no
other piece. The attacks: a self-dealing provider with its own client wallet registering pieces with no or a
far expiry against a one-hour receipt, one receipt replayed for many pieces, a tiny receipt for a big piece,
a receipt from another client or for another provider, an underpriced or uncountersigned receipt."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, UsageRecord, countersign, sign_receipt
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import SectorInput
from opendepin.sectors.storage.evaluate import evaluate_storage
from opendepin.sectors.storage.paid import UNPAID_PIECE
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.pricing import storage_credits
from opendepin.sectors.storage.reports import RENEW, expiry_message
from tests.sectors.storage.helpers import DAY, HOUR, Net, make_net
from tests.sectors.storage.test_countersigned import KEYS, keyed_net
from tests.sectors.storage.test_renewal import answers_while_held

SIZE = 4_096
STRANGER = Wallet(b"\x42" * 32)
PRICED = StorageParams(receipts_countersigned=False, credits_per_gb_hour=10**6)
"""Pieces tied to receipts; a price at which a few hours of 4 KiB cost more than one credit
(⌈byte-hours / 1000⌉), so that an underpriced receipt can be drawn."""
_serial = iter(range(10**9))


def record(
    device: str, payer: str, quantity: int, credits: int, ts: int = 60, received: int | None = None
) -> UsageRecord:
    """An accepted byte-hours receipt (the epoch sees it after the node checked the client's signature)."""
    rid = hashlib.sha256(f"receipt-{next(_serial)}".encode()).hexdigest()
    return UsageRecord(
        rid, "storage", device, payer, credits, quantity, "byte_hours", f"put:{rid[:8]}", ts, received or ts
    )


def named(put: ReportRecord, receipt_id: str, expires: int = 0, net: Net | None = None) -> ReportRecord:
    """`put` naming `receipt_id`, with a client-signed expiry when `expires` (0: none)."""
    payload = {**put.payload, "receipt": receipt_id}
    if expires and net is not None:
        text = expiry_message(payload["segment"], payload["piece"], put.device_id, expires)
        payload["expires"], payload["expiry_sig"] = expires, net.client.sign_text(text)
    return replace(put, payload=payload)


def renewal(net: Net, put: ReportRecord, at: int, expires: int, receipt_id: str) -> ReportRecord:
    p = put.payload
    text = expiry_message(p["segment"], p["piece"], put.device_id, expires)
    payload = {
        "segment": p["segment"],
        "piece": p["piece"],
        "expires": expires,
        "expiry_sig": net.client.sign_text(text),
        "receipt": receipt_id,
    }
    return net.report(put.device_id, RENEW, at, payload)


def run(
    net: Net, number: int, reports: list[ReportRecord], usage: list[UsageRecord], prior: Any = None
) -> Any:
    """One epoch of hourly audits in which every provider answers for every piece it ever took."""
    start = number * DAY
    audits = [net.audit(t) for t in range(start + HOUR, start + DAY, HOUR)]
    keep = {k: 2**40 for pieces in net.pieces.values() for k in pieces}
    answers = answers_while_held(net, audits, keep)
    data: SectorInput = replace(net.input(number, reports + answers, audits, prior), usage=usage)
    return evaluate_storage(data, net.params), audits


def verdicts(out: Any, reports: list[ReportRecord]) -> list[tuple[str, dict[str, Any]]]:
    by_id = {v.report_id: (v.reason, v.evidence) for v in out.verdicts}
    return [by_id[r.report_id] for r in reports]


def test_a_self_dealer_cannot_stretch_a_one_hour_receipt() -> None:
    """Its own client signs no expiry (or one a year away) and pays one hour: the network registers each
    piece for that hour only; the byte-hours counted over two days are one period's."""
    net = make_net(PRICED)
    puts = net.place(1, random.Random(1))
    usage = [record(p.device_id, net.client.address, SIZE, storage_credits(SIZE, 10**6)) for p in puts]
    reports = [
        named(p, u.receipt_id, expires=(365 * DAY if i % 2 else 0), net=net)
        for i, (p, u) in enumerate(zip(puts, usage, strict=True))
    ]
    out, _ = run(net, 0, reports, usage)
    for reason, evidence in verdicts(out, reports):
        assert reason == "ok"
        assert evidence["expires"] == evidence["paid_until"] == 60 + HOUR
    # the audit at 3 600 s is the only period that starts while the pieces are paid for
    assert {c.device_id: c.units for c in out.contributions} == {p.device_id: SIZE for p in puts}
    second, _ = run(net, 1, [], [], (out.state, out.device_state))
    assert second.contributions == [] and second.state["pieces"] == {}


def test_one_receipt_backs_one_piece() -> None:
    """Replaying a receipt: the first put (in device-time order) takes it, the others are unpaid; the
    same receipt cannot back a renewal either."""
    net = make_net(PRICED)
    puts = net.place(1, random.Random(2))
    device = puts[0].device_id
    receipt = record(device, net.client.address, SIZE * 48, storage_credits(SIZE * 48, 10**6))
    first = named(puts[0], receipt.receipt_id)
    # another segment's piece on the same provider, naming the same receipt
    more = net.place(1, random.Random(3))
    again = named(next(p for p in more if p.device_id == device), receipt.receipt_id)
    again = replace(again, ts=61)
    renew = renewal(net, puts[0], 120, 96 * HOUR, receipt.receipt_id)
    out, _ = run(net, 0, [first, again, renew], [receipt])
    (ok, paid), (unpaid, why), (renew_reason, renew_why) = verdicts(out, [first, again, renew])
    assert ok == "ok" and paid["paid_until"] == 60 + 48 * HOUR
    assert unpaid == UNPAID_PIECE and why["receipt"] == receipt.receipt_id
    assert renew_reason == UNPAID_PIECE and renew_why["current"] == 60 + 48 * HOUR
    assert list(out.state["pieces"]) == [f"{first.payload['segment']}:0"]


def test_tiny_foreign_misdirected_and_missing_receipts_are_refused_with_their_numbers() -> None:
    net = make_net(PRICED)
    puts = net.place(1, random.Random(4))
    a, b, c, d, e = puts[:5]
    client = net.client.address
    tiny = record(a.device_id, client, SIZE - 1, 10**6)
    foreign = record(b.device_id, STRANGER.address, SIZE * 24, 10**6)
    misdirected = record(d.device_id, client, SIZE * 24, 10**6)  # paid to d, named by c
    cheap = record(e.device_id, client, SIZE * 24, storage_credits(SIZE * 24, 10**6) - 1)
    reports = [
        named(a, tiny.receipt_id),
        named(b, foreign.receipt_id),
        named(c, misdirected.receipt_id),
        d,  # names no receipt
        named(e, cheap.receipt_id),
    ]
    out, _ = run(net, 0, reports, [tiny, foreign, misdirected, cheap])
    got = verdicts(out, reports)
    assert [reason for reason, _ in got] == [UNPAID_PIECE] * 5
    assert got[0][1]["byte_hours"] == SIZE - 1 and "less than one hour" in got[0][1]["problem"]
    assert got[1][1]["payer"] == STRANGER.address and "client" in got[1][1]["problem"]
    assert got[2][1]["device"] == d.device_id and "another provider" in got[2][1]["problem"]
    assert got[3][1]["receipt"] is None
    assert got[4][1]["credits"] == got[4][1]["price_credits"] - 1 and "price" in got[4][1]["problem"]
    assert out.state["pieces"] == {} and out.contributions == []


def test_a_receipt_backs_a_put_in_the_next_epoch_only() -> None:
    """The provider posts the receipt before it reports the put: across an epoch boundary the receipt is
    in the earlier epoch. It is carried one epoch, then dropped."""
    net = make_net(PRICED)
    puts = net.place(1, random.Random(5))
    client = net.client.address
    receipts = [record(p.device_id, client, SIZE * 72, 10**6, ts=DAY - 1) for p in puts[:2]]
    first, _ = run(net, 0, [], receipts)
    assert sorted(first.state["receipts"]) == sorted(r.receipt_id for r in receipts)
    late = replace(named(puts[0], receipts[0].receipt_id), ts=DAY + 5, received_at=DAY + 5)
    second, _ = run(net, 1, [late], [], (first.state, first.device_state))
    ((reason, evidence),) = verdicts(second, [late])
    assert reason == "ok" and evidence["paid_until"] == DAY - 1 + 72 * HOUR
    assert "receipts" not in second.state  # the unused one is not carried twice
    too_late = replace(named(puts[1], receipts[1].receipt_id), ts=2 * DAY + 5, received_at=2 * DAY + 5)
    third, _ = run(net, 2, [too_late], [], (second.state, second.device_state))
    assert [r for r, _ in verdicts(third, [too_late])] == [UNPAID_PIECE]


def test_a_renewal_is_cut_to_what_its_receipt_pays_from_the_current_expiry() -> None:
    net = make_net(PRICED)
    (put, *_) = net.place(1, random.Random(6))
    client = net.client.address
    paid = record(put.device_id, client, SIZE * 2, 10**6)
    renew_paid = record(put.device_id, client, SIZE * 3, 10**6, ts=100)
    short = record(put.device_id, client, SIZE // 2, 10**6, ts=110)
    first = named(put, paid.receipt_id, expires=60 + 2 * HOUR, net=net)
    too_small = renewal(net, put, 110, 60 + 30 * HOUR, short.receipt_id)
    renew = renewal(net, put, 120, 60 + 30 * HOUR, renew_paid.receipt_id)
    out, _ = run(net, 0, [first, too_small, renew], [paid, renew_paid, short])
    (r1, _), (r2, e2), (r3, e3) = verdicts(out, [first, too_small, renew])
    assert (r1, r2, r3) == ("ok", UNPAID_PIECE, "ok")
    assert e2["current"] == 60 + 2 * HOUR
    assert e3["expires"] == 60 + 5 * HOUR and e3["signed_expires"] == 60 + 30 * HOUR
    # audits at 1..5 h start before the expiry at 5 h 1 min: five periods of the piece
    assert {c.device_id: c.units for c in out.contributions} == {put.device_id: 5 * SIZE}


def test_a_receipt_the_network_does_not_pay_backs_no_piece() -> None:
    """Where receipts must be countersigned, one the provider did not countersign pays nothing and so
    registers nothing; the countersigned one does."""
    net = keyed_net(StorageParams())
    puts = net.place(1, random.Random(7))
    keys = {k.device_id: k for k in KEYS}

    def signed(device: str, counter: bool) -> UsageRecord:
        receipt = UsageReceipt("storage", device, net.client.address, 1, SIZE * 24, "byte_hours", device, 60)
        wire = sign_receipt(receipt, net.client.sign_text)
        return UsageRecord.of(countersign(wire, keys[device]) if counter else wire, 60)

    good, bare = signed(puts[0].device_id, True), signed(puts[1].device_id, False)
    reports = [named(puts[0], good.receipt_id), named(puts[1], bare.receipt_id)]
    out, _ = run(net, 0, reports, [good, bare])
    assert [r for r, _ in verdicts(out, reports)] == ["ok", UNPAID_PIECE]


receipt_spec = st.tuples(
    st.integers(0, 30 * SIZE),  # byte-hours bought
    st.integers(-2, 2),  # credits relative to the price
    st.sampled_from(["client", "stranger"]),  # payer
    st.sampled_from(["self", "other"]),  # device the receipt pays
    st.sampled_from(["own", "previous", "none"]),  # which receipt the put names
    st.integers(0, 40),  # signed expiry in hours after the put (0: none)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(receipt_spec, min_size=10, max_size=10))
def test_pieces_are_counted_exactly_as_far_as_their_receipts_pay(specs: list[Any]) -> None:
    """For any mix of receipts (honest, tiny, foreign, misdirected, underpriced, replayed, missing), a piece
    is registered iff its receipt passes every check and no earlier put took it, until min(signed expiry,
    receipt time + byte-hours × 3600 // size); the byte-hours counted are those of the hourly periods
    that start before that, so never more than the receipt's byte-hours plus one period of the piece."""
    net = make_net(PRICED)
    puts = net.place(1, random.Random(8))
    order = sorted(net.devices)
    usage, reports, ids = [], [], []
    for i, (put, (bought, extra, payer, to, which, hours)) in enumerate(zip(puts, specs, strict=True)):
        price = storage_credits(bought, 10**6) if bought else 1
        device = put.device_id if to == "self" else order[(i + 1) % len(order)]
        wallet = net.client if payer == "client" else STRANGER
        r = record(device, wallet.address, bought or 1, max(1, price + extra), ts=30 + i)
        usage.append(r)
        ids.append(r.receipt_id)
        rid = {"own": r.receipt_id, "previous": ids[i - 1] if i else "", "none": ""}[which]
        reports.append(named(put, rid, expires=60 + hours * HOUR if hours else 0, net=net))
    out, audits = run(net, 0, reports, usage)
    by_id = {r.receipt_id: r for r in usage}
    used: set[str] = set()
    expected_units: dict[str, int] = {}
    for report in sorted(reports, key=lambda r: (r.ts, r.report_id)):
        rid = report.payload["receipt"]
        r = by_id.get(rid)
        fine = (
            r is not None
            and rid not in used
            and r.device == report.device_id
            and r.payer == net.client.address
            and r.credits >= storage_credits(r.quantity, 10**6)
            and r.quantity >= SIZE
        )
        (reason, evidence) = verdicts(out, [report])[0]
        assert reason == ("ok" if fine else UNPAID_PIECE), evidence
        if not fine:
            continue
        assert r is not None
        used.add(rid)
        until = min(r.ts, report.ts) + r.quantity * HOUR // SIZE
        signed = int(report.payload.get("expires", 0))
        expires = min(signed, until) if signed else until
        assert evidence["expires"] == expires
        units = SIZE * sum(1 for a in audits if a.issued_at < expires)
        assert units <= r.quantity + SIZE
        expected_units[report.device_id] = units
    assert {c.device_id: c.units for c in out.contributions} == {d: u for d, u in expected_units.items() if u}
