"""One storage epoch end to end through `evaluate_storage`: placements, audits judged, reputation, pay."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from typing import Any

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import SectorOutcome
from opendepin.sectors.storage.evaluate import evaluate_storage
from opendepin.sectors.storage.reports import PROOF, PUT
from tests.sectors.storage.helpers import HOUR, Net, device_id, make_net, rules

STRIPES = rules(stripe_audit_rate=1.0)


def by_reason(out: SectorOutcome) -> Counter[str]:
    return Counter(v.reason for v in out.verdicts)


def verdicts_of(out: SectorOutcome, reports: list[ReportRecord], device: str) -> list[tuple[str, Any]]:
    mine = {r.report_id for r in reports if r.device_id == device}
    return [(v.reason, dict(v.evidence)) for v in out.verdicts if v.report_id in mine]


def notes_of(out: SectorOutcome, device: str) -> list[tuple[str, dict[str, Any]]]:
    return [(n.reason, dict(n.evidence)) for n in out.notes if n.device_id == device]


def honest_epoch(net: Net, periods: int, skip: str | None = None) -> tuple[list[ReportRecord], list[Any]]:
    reports = net.place(3, random.Random(1))
    audits = [net.audit(t) for t in range(HOUR, (periods + 1) * HOUR, HOUR)]
    for audit in audits:
        for device in net.devices:
            if device != skip:
                reports += net.answers(device, audit)
    return reports, audits


def test_honest_providers_are_paid_for_byte_hours_held() -> None:
    net = make_net()
    reports, audits = honest_epoch(net, 4)
    out = evaluate_storage(net.input(0, reports, audits), rules())
    assert set(by_reason(out)) == {"ok"}
    # each provider holds 3 pieces of 4 KiB, online in 4 periods of an hour
    assert {c.device_id: c.units for c in out.contributions} == {d: 3 * 4_096 * 4 for d in net.devices}
    assert all(out.usage_share[d] == 1 for d in net.devices)
    assert len(out.state["pieces"]) == 30 and out.state["repair"] == []


def test_a_lying_stripe_is_named_by_error_location() -> None:
    """A provider whose leaf proves but whose stripe bytes are wrong: the decode over the ten holders names
    it, and only it (no stored checksum needed)."""
    net = make_net(STRIPES)
    reports = net.place(1, random.Random(2))
    liar = sorted(net.devices)[3]
    audit = net.audit(HOUR)
    for device in net.devices:
        for r in net.answers(device, audit):
            if device == liar:
                stripe = bytearray(r.payload["stripe"])
                stripe[7] ^= 0x42
                r = replace(r, payload={**r.payload, "stripe": bytes(stripe)})
            reports.append(r)
    out = evaluate_storage(net.input(0, reports, [audit]), STRIPES)
    ((reason, evidence),) = [v for v in verdicts_of(out, reports, liar) if v[0] != "ok"]
    assert reason == "storage.corrupt" and evidence["decoder"] == "berlekamp-welch"
    assert evidence["named"] == {"3": liar} and evidence["wrong_shares"] == [3]
    assert by_reason(out)["storage.corrupt"] == 1
    assert liar not in {c.device_id for c in out.contributions} and out.usage_share[liar] == 0
    assert f"{evidence['segment']}:3" not in out.state["pieces"]


def test_a_leaf_that_does_not_hash_to_the_signed_root_is_corrupt() -> None:
    net = make_net()
    reports = net.place(1, random.Random(3))
    rotter = sorted(net.devices)[0]
    audit = net.audit(HOUR)
    for device in net.devices:
        for r in net.answers(device, audit):
            if device == rotter:
                data = bytearray(r.payload["data"])
                data[0] ^= 1
                r = replace(r, payload={**r.payload, "data": bytes(data)})
            reports.append(r)
    out = evaluate_storage(net.input(0, reports, [audit]), rules())
    ((reason, evidence),) = [v for v in verdicts_of(out, reports, rotter) if v[0] != "ok"]
    assert reason == "storage.corrupt" and evidence["proof"] == "does not hash to the root"


def test_missing_piece_fails_leaves_the_registry_and_stops_pay() -> None:
    net = make_net()
    reports = net.place(1, random.Random(4))
    deleter = sorted(net.devices)[5]
    (key,) = net.pieces[deleter]
    audit = net.audit(HOUR)
    for device in net.devices:
        reports += net.answers(device, audit, lost=frozenset({key}) if device == deleter else frozenset())
    out = evaluate_storage(net.input(0, reports, [audit]), rules())
    # its put, then its proof
    assert [r for r, _ in verdicts_of(out, reports, deleter)] == ["ok", "storage.missing"]
    assert key not in out.state["pieces"]
    unpaid = dict(notes_of(out, deleter))["storage.unpaid"]
    assert unpaid["unpaid_because"] == ["recent_failure"] and out.usage_share[deleter] == 0
    assert out.device_state[deleter]["failures"] == 1  # type: ignore[index]


def test_timeouts_go_to_containment_and_the_third_is_a_failure() -> None:
    net = make_net()
    reports = net.place(6, random.Random(5))
    staller = sorted(net.devices)[1]
    audits = [net.audit(t) for t in range(HOUR, 5 * HOUR, HOUR)]
    withheld: str | None = None
    for audit in audits:
        for device in net.devices:
            answers = net.answers(device, audit)
            if device == staller:
                if withheld is None:
                    withheld = str(answers[0].payload["segment"]) + ":" + str(answers[0].payload["piece"])
                answers = [r for r in answers if f"{r.payload['segment']}:{r.payload['piece']}" != withheld]
            reports += answers
    out = evaluate_storage(net.input(0, reports, audits), rules())
    timeline = [(r, e.get("timeouts")) for r, e in notes_of(out, staller) if r.startswith("storage.contain")]
    assert timeline == [
        ("storage.contained", 1),
        ("storage.contained", 2),
        ("storage.containment_exhausted", 3),
    ]
    assert withheld not in out.state["pieces"]


def test_slow_answers_are_unknown_errors_and_silence_is_offline() -> None:
    net = make_net()
    reports = net.place(1, random.Random(6))
    slow, silent = sorted(net.devices)[2], sorted(net.devices)[4]
    audit = net.audit(HOUR)
    for device in net.devices:
        if device != silent:
            reports += net.answers(device, audit, delay=30 if device == slow else 2)
    out = evaluate_storage(net.input(0, reports, [audit]), rules())
    ((reason, evidence),) = [v for v in verdicts_of(out, reports, slow) if v[0] != "ok"]
    assert reason == "storage.slow_response" and evidence["latency_s"] == 30
    assert out.device_state[slow]["unknown_beta"] > 0  # type: ignore[index]
    assert ("storage.offline", {"periods": 1}) in notes_of(out, silent)
    assert silent not in {c.device_id for c in out.contributions}
    # a fresh unknown-error score (α₀ = 1) falls to 0.49 on one slow answer: suspended, unpaid
    assert "storage.suspended" in dict(notes_of(out, slow)) and out.usage_share[slow] == 0
    assert out.usage_share[silent] == 0  # usage pay for the periods it answered: none
    assert out.usage_share[sorted(net.devices)[0]] == 1


def test_one_piece_per_prefix_and_client_signatures() -> None:
    net = make_net(same_prefix=2)
    reports = net.place(1, random.Random(7))
    shared = {device_id(0), device_id(1)}
    forged = next(r for r in reports if r.device_id not in shared)
    sig = bytearray(forged.payload["client_sig"])
    sig[5] ^= 1
    reports[reports.index(forged)] = replace(forged, payload={**forged.payload, "client_sig": bytes(sig)})
    out = evaluate_storage(net.input(0, reports, []), rules())
    outcomes = {d: verdicts_of(out, reports, d)[0] for d in shared}
    assert sorted(r for r, _ in outcomes.values()) == ["ok", "storage.prefix_duplicate"]
    second = next(d for d, (r, _) in outcomes.items() if r != "ok")
    evidence = outcomes[second][1]
    assert evidence["other_holder"] == (shared - {second}).pop()
    assert evidence["network_prefix"] == "198.18.0.0/24"
    assert by_reason(out)["storage.bad_client_signature"] == 1
    assert len(out.state["pieces"]) == 8


def test_fewer_than_k_stripes_penalise_nobody() -> None:
    net = make_net(STRIPES)
    reports = net.place(1, random.Random(8))
    audit = net.audit(HOUR)
    for device in sorted(net.devices)[:3]:
        reports += net.answers(device, audit)
    out = evaluate_storage(net.input(0, reports, [audit]), STRIPES)
    proofs = [v for v in out.verdicts if v.evidence.get("stripe") == "storage.not_enough_shares"]
    assert len(proofs) == 3 and {v.reason for v in proofs} == {"ok"}
    assert proofs[0].evidence["stripe_evidence"]["shares"] == 3


def test_state_carries_across_epochs() -> None:
    net = make_net()
    reports, audits = honest_epoch(net, 2)
    first = evaluate_storage(net.input(0, reports, audits), rules())
    audits2 = [net.audit(86_400 + t) for t in (HOUR, 2 * HOUR)]
    reports2 = [r for a in audits2 for d in net.devices for r in net.answers(d, a)]
    prior = (first.state, {d: s for d, s in first.device_state.items() if s})
    second = evaluate_storage(net.input(1, reports2, audits2, prior), rules())
    assert set(by_reason(second)) == {"ok"}
    assert second.state["pieces"] == first.state["pieces"]
    device = sorted(net.devices)[0]
    assert second.device_state[device]["audits"] > first.device_state[device]["audits"]  # type: ignore[index]
    assert all(r.kind == PROOF for r in reports2)


def test_the_online_pay_rule_waits_for_four_complete_windows() -> None:
    """Early 12 h windows with 6 h outages are not a verdict; four complete windows at 0.5 are (< 0.6)."""
    from opendepin.sectors.storage.evaluate import eligibility
    from opendepin.sectors.storage.reputation import Reputation

    params = rules()
    rep = Reputation.fresh(params)
    for hour in range(36):
        rep.record_online(hour * HOUR, hour % 12 >= 6, params)
    paid, evidence = eligibility(rep, params, 36 * HOUR, 0)
    assert paid and evidence["online_windows"] == 3 and evidence["online_score"] == "0.5000"
    for hour in range(36, 48):
        rep.record_online(hour * HOUR, hour % 12 >= 6, params)
    paid, evidence = eligibility(rep, params, 48 * HOUR, 0)
    assert not paid and evidence["unpaid_because"] == ["online_score"]


def test_a_repair_put_by_the_segments_client_moves_the_piece() -> None:
    """A piece held by one provider is taken by another only when the segment's own client signed it."""
    from opendepin.identity.wallets import Wallet
    from opendepin.sectors.storage.sim.world import make_piece

    net = make_net(providers=12)
    reports = net.place(1, random.Random(9))
    order = sorted(net.devices)
    (key,) = net.pieces[order[0]]
    piece = net.pieces[order[0]][key]
    moved = make_piece(piece.segment, piece.index, piece.data, net.params, net.client.address)
    reports.append(net.report(order[10], PUT, 120, net.put_payload(order[10], moved)))
    stranger = Wallet(b"\x33" * 32)
    intruder = make_piece(piece.segment, 1, piece.data, net.params, stranger.address)
    net.client, honest_client = stranger, net.client
    reports.append(net.report(order[11], PUT, 130, net.put_payload(order[11], intruder)))
    net.client = honest_client
    out = evaluate_storage(net.input(0, reports, []), rules())
    ((reason, evidence),) = verdicts_of(out, reports, order[10])
    assert reason == "ok" and evidence["replaces"] == order[0]
    assert out.state["pieces"][key][0] == order[10]
    ((reason, evidence),) = verdicts_of(out, reports, order[11])
    assert reason == "storage.piece_taken" and evidence["holder"] == order[1]
