"""Renewal and expiry of prepaid storage (docs/storage.md, "Renewal and expiry"): a piece put with an expiry
its client signed leaves the registry at that time (no audits owed, no byte-hours paid, a `storage.expired`
note); a `storage.renew` signed by the segment's client before then moves the expiry later; a renewal too
late, not later, or signed by anyone else is refused with its reason."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.identity.wallets import Wallet
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import SectorOutcome
from opendepin.sectors.storage.evaluate import evaluate_storage
from opendepin.sectors.storage.reports import PING, PUT, RENEW, expiry_message
from tests.sectors.storage.helpers import HOUR, Net, make_net, rules

STRANGER = Wallet(b"\x31" * 32)


def with_expiry(net: Net, puts: list[ReportRecord], expires: int, signer: Wallet | None = None) -> list[Any]:
    """The put reports with `expires` and the client's (or `signer`'s) signature over it."""
    out = []
    for r in puts:
        p = dict(r.payload)
        text = expiry_message(p["segment"], p["piece"], r.device_id, expires)
        p["expires"], p["expiry_sig"] = expires, (signer or net.client).sign_text(text)
        out.append(ReportRecord(r.report_id, r.kind, r.device_id, r.ts, r.seq, p, r.received_at))
    return out


def renewal(net: Net, put: ReportRecord, at: int, expires: int, signer: Wallet | None = None) -> ReportRecord:
    p = put.payload
    text = expiry_message(p["segment"], p["piece"], put.device_id, expires)
    payload = {
        "segment": p["segment"],
        "piece": p["piece"],
        "expires": expires,
        "expiry_sig": (signer or net.client).sign_text(text),
    }
    return net.report(put.device_id, RENEW, at, payload)


def answers_while_held(net: Net, audits: list[Any], expiry: dict[str, int]) -> list[ReportRecord]:
    """Honest answers: each provider proves the pieces not yet expired at the audit (a ping when none)."""
    reports = []
    for audit in audits:
        for device in net.devices:
            keep = {k: p for k, p in net.pieces.get(device, {}).items() if expiry.get(k, 0) > audit.issued_at}
            saved, net.pieces[device] = net.pieces.get(device, {}), keep
            answered = net.answers(device, audit)
            net.pieces[device] = saved
            reports += answered or [
                net.report(device, PING, audit.issued_at + 2, {"challenge": audit.challenge_id})
            ]
    return reports


def reasons(out: SectorOutcome, reports: list[ReportRecord], kind: str) -> list[str]:
    by_id = {v.report_id: v.reason for v in out.verdicts}
    return [by_id[r.report_id] for r in reports if r.kind == kind]


def test_an_expired_piece_is_dropped_no_longer_audited_nor_paid() -> None:
    net = make_net()
    expires = 2 * HOUR + HOUR // 2
    puts = with_expiry(net, net.place(3, random.Random(1)), expires)
    audits = [net.audit(t) for t in range(HOUR, 5 * HOUR, HOUR)]
    expiry = {f"{r.payload['segment']}:{r.payload['piece']}": expires for r in puts}
    reports = puts + answers_while_held(net, audits, expiry)
    out = evaluate_storage(net.input(0, reports, audits), rules())
    assert {v.reason for v in out.verdicts} == {"ok"}
    assert all(v.evidence["expires"] == expires for v in out.verdicts if v.evidence.get("size"))
    # byte-hours for the two periods that started before the expiry only (3 pieces of 4 KiB each)
    assert {c.device_id: c.units for c in out.contributions} == {d: 3 * 4_096 * 2 for d in net.devices}
    assert out.state["pieces"] == {} and out.state["repair"] == []
    notes = {(n.device_id, n.reason): dict(n.evidence) for n in out.notes}
    assert all(notes[(d, "storage.expired")] == {"pieces": 3, "bytes": 3 * 4_096} for d in net.devices)


def test_a_renewal_before_the_expiry_keeps_the_piece_audited_and_paid() -> None:
    net = make_net()
    first, later = 2 * HOUR + HOUR // 2, 30 * HOUR
    puts = with_expiry(net, net.place(3, random.Random(1)), first)
    renewals = [renewal(net, put, 2 * HOUR + 60, later) for put in puts]
    audits = [net.audit(t) for t in range(HOUR, 5 * HOUR, HOUR)]
    expiry = {f"{r.payload['segment']}:{r.payload['piece']}": later for r in puts}
    reports = puts + renewals + answers_while_held(net, audits, expiry)
    out = evaluate_storage(net.input(0, reports, audits), rules())
    assert set(reasons(out, reports, RENEW)) == {"ok"}
    assert {v.reason for v in out.verdicts} == {"ok"}
    assert {c.device_id: c.units for c in out.contributions} == {d: 3 * 4_096 * 4 for d in net.devices}
    assert len(out.state["pieces"]) == 30 and {row[6] for row in out.state["pieces"].values()} == {later}
    assert not any(n.reason == "storage.expired" for n in out.notes)
    # the next epoch: the piece leaves the registry at its new expiry
    prior = (out.state, {d: s for d, s in out.device_state.items() if s})
    audits2 = [net.audit(86_400 + t) for t in (HOUR, 2 * HOUR)]
    pings = [
        net.report(d, PING, a.issued_at + 2, {"challenge": a.challenge_id})
        for a in audits2
        for d in net.devices
    ]
    second = evaluate_storage(net.input(1, pings, audits2, prior), rules())
    assert second.state["pieces"] == {} and {v.reason for v in second.verdicts} == {"ok"}


def test_late_earlier_or_foreign_renewals_and_bad_expiries_are_refused() -> None:
    net = make_net()
    expires = 2 * HOUR
    puts = with_expiry(net, net.place(1, random.Random(2)), expires)
    a, b, c, d = puts[0], puts[1], puts[2], puts[3]
    bad_puts = with_expiry(net, net.place(1, random.Random(3)), 5 * HOUR, signer=STRANGER)[:1]
    past = with_expiry(net, net.place(1, random.Random(4)), 30)[:1]  # expires before the put (t = 60)
    renews = [
        renewal(net, a, expires + 1, 9 * HOUR),  # after the expiry: the piece is gone
        renewal(net, b, HOUR, expires),  # not later
        renewal(net, c, HOUR, 9 * HOUR, signer=STRANGER),  # not the segment's client
        renewal(net, d, HOUR, 30 * HOUR),  # past the window: the only piece left at its end
    ]
    out = evaluate_storage(net.input(0, puts + bad_puts + past + renews, []), rules())
    assert reasons(out, renews, RENEW) == [
        "storage.unknown_piece",
        "storage.renew_not_later",
        "storage.bad_client_signature",
        "ok",
    ]
    assert reasons(out, bad_puts, PUT) == ["storage.bad_client_signature"]
    assert reasons(out, past, PUT) == ["storage.bad_expiry"]
    key = f"{d.payload['segment']}:{d.payload['piece']}"
    assert list(out.state["pieces"]) == [key] and out.state["pieces"][key][6] == 30 * HOUR


@settings(max_examples=30, deadline=None)
@given(
    st.integers(HOUR, 20 * HOUR),
    st.lists(st.tuples(st.integers(61, 23 * HOUR), st.integers(HOUR, 40 * HOUR)), max_size=5),
)
def test_renewals_follow_the_model(first: int, events: list[tuple[int, int]]) -> None:
    """Whatever renewals arrive when: each is `ok` exactly when the piece is still held (its expiry not
    reached) and the new expiry is later; the piece is in the epoch's final registry exactly when the
    expiry it ended with is after the window."""
    net = make_net()
    (put,) = with_expiry(net, net.place(1, random.Random(5)), first)[:1]
    renews = [renewal(net, put, at, expires) for at, expires in events]
    out = evaluate_storage(net.input(0, [put, *renews], []), rules())
    current, held, expected = first, True, []
    for report in sorted(renews, key=lambda r: (r.ts, r.report_id)):
        if held and current <= report.ts:
            held = False
        new = report.payload["expires"]
        if not held:
            expected.append((report.report_id, "storage.unknown_piece"))
        elif new <= current:
            expected.append((report.report_id, "storage.renew_not_later"))
        else:
            expected.append((report.report_id, "ok"))
            current = new
    by_id = {v.report_id: v.reason for v in out.verdicts}
    assert [(rid, by_id[rid]) for rid, _ in expected] == expected
    key = f"{put.payload['segment']}:{put.payload['piece']}"
    assert (key in out.state["pieces"]) == (held and current > 86_400)


def test_a_renewal_in_the_same_second_as_its_put_comes_after_it() -> None:
    """Device time has whole seconds: a put and its renewal sent at once share one, and the renewal counts
    after the put whatever the report ids (ten pieces: both orders of ids occur)."""
    net = make_net()
    puts = with_expiry(net, net.place(1, random.Random(6)), 2 * HOUR)
    renews = [renewal(net, put, put.ts, 30 * HOUR) for put in puts]
    assert any(r.report_id < p.report_id for r, p in zip(renews, puts, strict=True))
    out = evaluate_storage(net.input(0, puts + renews, []), rules())
    assert set(reasons(out, renews, RENEW)) == {"ok"}
