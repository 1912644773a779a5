"""The compute epoch: escrow, bids, matching, leases, spot checks, replica bisection, deadlines, funding."""

from __future__ import annotations

from typing import Any

from opendepin.sectors.compute.challenges import spot_units
from opendepin.sectors.compute.evaluate import evaluate_compute
from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.reports import BID, UNBOND
from tests.sectors.compute.helpers import (
    T0,
    TENANT,
    audits,
    bid,
    epoch,
    make_order,
    provider,
    receipt,
    report,
    result,
)

PARAMS = ComputeParams()
DEVICES = [provider(i) for i in range(4)]


def bonds(credits: int = 10_000) -> list[Any]:
    return [receipt(d.owner, d.device_id, credits, f"bond:{d.device_id}", T0) for d in DEVICES]


def funded(credits: int) -> list[Any]:
    return [receipt(TENANT.address, "dev0", credits, "escrow:1", T0)]


def reasons(outcome: Any) -> list[str]:
    return [v.reason for v in outcome.verdicts]


def test_cheapest_qualifying_bid_wins_and_is_paid_at_its_price_minus_the_take() -> None:
    signed = make_order(units=8, max_price=100)
    order = signed[0]
    reports = [
        bid("dev0", T0 + 1, signed, 50, 200),
        bid("dev1", T0 + 2, signed, 40, 160),
        bid("dev2", T0 + 3, signed, 120, 500),
        bid("dev3", T0 + 4, signed, 40, 159),
        result("dev1", T0 + 100, order, 0),
    ]
    out = evaluate_compute(epoch(DEVICES, reports, bonds() + funded(10_000)), PARAMS)
    assert reasons(out) == ["ok", "ok", "compute.bid_above_max", "compute.deposit_too_small", "ok"]
    assert out.verdicts[4].evidence["checked_units"]  # spot-checked in the same epoch
    assert out.usage_credits == {"dev1": 40 * 8 - 40 * 8 * 500 // 10_000}
    entry = out.state["orders"][order.order_id]
    assert entry["status"] == "done"
    assert out.state["take"] == 16
    assert out.state["accounts"][TENANT.address] == 10_000 - 320


def test_a_lazy_provider_is_caught_slashed_and_the_job_rescheduled() -> None:
    signed = make_order(units=8)
    order = signed[0]
    lazy = result("dev1", T0 + 100, order, 0, [bytes([i]) * 32 for i in range(8)])
    first = evaluate_compute(
        epoch(DEVICES, [bid("dev1", T0 + 2, signed, 40, 160), lazy], bonds() + funded(1_000)), PARAMS
    )
    assert reasons(first)[1] == "compute.spot_check_failed"
    assert first.usage_credits == {}
    assert first.state["bonds"]["dev1"] == 10_000 - 160
    # the tenant put up 10 % of the first run as its order deposit; the provider's deposit compensates it
    assert first.state["accounts"][TENANT.address] == 1_000 - 32 + 160
    entry = first.state["orders"][order.order_id]
    assert entry["status"] == "leased" and entry["resume"] == 0
    notes = [n.reason for n in first.notes if n.device_id == "dev1"]
    assert "compute.spot_check_failed" in notes
    # next epoch: the slot is auctioned again from the end of the last one; dev1 may not bid again
    day = T0 + 86_400
    again = [
        bid("dev1", day + 1, signed, 30, 120),
        bid("dev0", day + 2, signed, 45, 180),
        result("dev0", day + 200, order, 0),
    ]
    second = evaluate_compute(
        epoch(
            DEVICES,
            again,
            start=day,
            state=dict(first.state),
            number=1,
            device_state=dict(first.device_state),
        ),
        PARAMS,
    )
    assert reasons(second)[2] == "ok"
    assert second.usage_credits == {"dev0": 45 * 8 - 45 * 8 * 500 // 10_000}
    lease_devices = [lease["device"] for lease in second.state["orders"][order.order_id]["leases"]]
    assert lease_devices == ["dev1", "dev0"]


def test_a_provider_that_misses_its_deadline_loses_the_lease_and_another_finishes_the_job() -> None:
    signed = make_order(units=4, runs=2, deadline_s=600)
    order = signed[0]
    reports = [
        bid("dev1", T0 + 2, signed, 40, 80),
        result("dev1", T0 + 300, order, 0),  # run 0 in time (due T0+30+600), run 1 never (due T0+1230)
        bid("dev2", T0 + 1_240, signed, 50, 100),  # the reopened slot's window
        result("dev2", T0 + 1_400, order, 1),
        result("dev1", T0 + 1_500, order, 1),
    ]
    out = evaluate_compute(epoch(DEVICES, reports, bonds() + funded(10_000)), PARAMS)
    assert reasons(out) == ["ok", "ok", "ok", "ok", "compute.deadline_missed"]
    deadline = [n for n in out.notes if n.reason == "compute.deadline_missed"]
    assert deadline[0].device_id == "dev1" and deadline[0].evidence["due"] == T0 + 30 + 1_200
    assert out.usage_credits == {"dev1": 152, "dev2": 190}  # run 0 at 40/unit, run 1 at 50/unit, less 5 %
    assert out.state["orders"][order.order_id]["status"] == "done"


def test_an_order_whose_tenant_does_not_fund_it_closes_for_insufficient_funds() -> None:
    signed = make_order(units=8)
    out = evaluate_compute(epoch(DEVICES, [bid("dev1", T0 + 2, signed, 40, 160)], bonds()), PARAMS)
    entry = out.state["orders"][signed[0].order_id]
    assert entry["status"] == "closed" and entry["reason"] == "compute.insufficient_funds"
    assert entry["leases"] == [] and out.state["bonds"]["dev1"] == 10_000  # nobody waited, nothing locked


def test_a_free_rider_loses_its_order_deposit_to_the_provider_that_waited() -> None:
    signed = make_order(units=8)
    out = evaluate_compute(
        epoch(DEVICES, [bid("dev1", T0 + 2, signed, 40, 160)], bonds() + funded(32)), PARAMS
    )
    entry = out.state["orders"][signed[0].order_id]
    assert entry["status"] == "closed" and entry["reason"] == "compute.insufficient_funds"
    note = next(n for n in out.notes if n.reason == "compute.insufficient_funds")
    assert note.device_id == "dev1" and note.evidence["needed"] == 320 and note.evidence["escrow"] == 0
    assert entry["deposit_paid"] == 32 and out.usage_credits == {"dev1": 31}  # 10 % of the run, less the take
    assert out.state["accounts"][TENANT.address] == 0


def test_replicas_that_disagree_are_bisected_to_one_unit_and_the_wrong_one_pays() -> None:
    params = ComputeParams.model_validate({"verify": {"spot_checks": 1}})
    signed = make_order(units=8, replicas=2)
    order = signed[0]
    from opendepin.sectors.compute.jobs import run_job

    honest = run_job(order.job)
    good = result("dev1", T0 + 100, order, 0)
    bad = result("dev2", T0 + 110, order, 0)
    audit = audits(T0, T0 + 700)[1]
    checked = spot_units(audit.challenge_id, bad.report_id, 8, 1)
    wrong = next(u for u in range(8) if u not in checked)
    outputs = list(honest)
    outputs[wrong] = b"\x00" * 32
    bad = result("dev2", T0 + 110, order, 0, outputs)
    reports = [bid("dev1", T0 + 2, signed, 40, 160), bid("dev2", T0 + 3, signed, 41, 164), good, bad]
    out = evaluate_compute(epoch(DEVICES, reports, bonds() + funded(10_000)), params)
    checked = spot_units(audit.challenge_id, bad.report_id, 8, 1)
    if wrong in checked:  # the rebuilt report has another id; the spot check caught it instead
        assert reasons(out)[3] == "compute.spot_check_failed"
    else:
        assert reasons(out)[3] == "compute.result_mismatch"
        assert out.verdicts[3].evidence["unit"] == wrong
    assert "dev2" not in out.usage_credits and out.usage_credits["dev1"] > 0


def test_bids_are_refused_with_their_reason() -> None:
    params = ComputeParams.model_validate({"market": {"max_bids_per_order": 2}})
    signed = make_order(units=8, cores=8)
    weak = [provider(0, cores=4), *DEVICES[1:], provider(4)]
    forged = (signed[0], signed[1], signed[2][:-1] + bytes([signed[2][-1] ^ 1]))
    reports = [
        bid("dev0", T0 + 1, signed, 40, 160),
        bid("dev1", T0 + 2, signed, 40, 160),
        bid("dev1", T0 + 3, signed, 40, 160),
        bid("dev2", T0 + 4, signed, 40, 160),
        bid("dev3", T0 + 5, signed, 40, 160),
        bid("dev4", T0 + 6, signed, 30, 160),
        bid("dev3", T0 + 40, signed, 40, 160),
        bid("dev2", T0 + 5, forged, 40, 160),
    ]
    some_bonds = [r for r in bonds() if r.device != "dev2"]
    some_bonds.append(receipt(weak[4].owner, "dev4", 1_000, "bond:dev4", T0))
    out = evaluate_compute(epoch(weak, reports, some_bonds + funded(10_000)), params)
    assert reasons(out) == [
        "compute.requirements_unmet",
        "ok",
        "compute.duplicate_bid",
        "compute.insufficient_bond",
        "ok",
        "compute.too_many_bids",
        "compute.order_closed",
        "compute.bad_order_signature",
    ]
    assert out.verdicts[0].evidence["unmet"] == ["cpu_cores"]
    assert all(r.kind == BID for r in reports)


def test_a_bid_outside_the_bid_window_is_late() -> None:
    signed = make_order(ts=T0)
    out = evaluate_compute(epoch(DEVICES, [bid("dev0", T0 + 31, signed, 40, 160)], bonds()), PARAMS)
    assert reasons(out) == ["compute.bid_late"]


def test_a_result_checked_in_the_next_epoch_reports_its_failure_as_a_note() -> None:
    late = T0 + 86_400 - 100  # its audit period starts at the next epoch's start
    signed = make_order(units=4, ts=late - 50)
    order = signed[0]
    reports = [bid("dev1", late - 40, signed, 40, 80), result("dev1", late, order, 0, [b"x"] * 4)]
    first = evaluate_compute(epoch(DEVICES, reports, bonds() + funded(10_000)), PARAMS)
    assert reasons(first) == ["ok", "ok"]
    assert first.verdicts[1].evidence["checked"] == "pending" and len(first.state["pending"]) == 1
    day = T0 + 86_400
    second = evaluate_compute(
        epoch(
            DEVICES, [], start=day, state=dict(first.state), number=1, device_state=dict(first.device_state)
        ),
        PARAMS,
    )
    assert "compute.spot_check_failed" in [n.reason for n in second.notes if n.device_id == "dev1"]
    assert second.state["pending"] == []


def test_capacity_pays_a_streak_at_the_measured_speed_and_fails_liars() -> None:
    from opendepin.sectors.base import Challenge, ChallengeSeed
    from opendepin.sectors.compute.challenges import CAPACITY, capacity_target, challenge_id, solve_capacity
    from opendepin.sectors.compute.reports import CAPACITY as ANSWER
    from tests.sectors.compute.helpers import report

    params = ComputeParams.model_validate(
        {"capacity": {"work_s": 1, "expected_solutions": 8, "min_solutions": 4, "min_streak": 2}}
    )
    devices = [provider(0, hps=2_000), provider(1, hps=10**12), provider(2, hps=2_000)]
    challenges, reports, shown = list(audits(T0, T0 + 86_400)), [], []
    for hour in range(3):
        at = T0 + hour * 3_600
        seed = ChallengeSeed("0x" + f"{hour:064x}", at)
        challenge = Challenge(CAPACITY, challenge_id(CAPACITY, seed), at, seed)
        challenges.append(challenge)
        target = capacity_target(2_000, 1, 8)
        nonces = solve_capacity(challenge.challenge_id, "dev0", target, 2_000)
        shown.append(len(nonces) * 2_000 // 8)
        reports.append(
            report(ANSWER, "dev0", at + 2, {"challenge": challenge.challenge_id, "nonces": nonces})
        )
        reports.append(
            report(ANSWER, "dev2", at + 2, {"challenge": challenge.challenge_id, "nonces": nonces})
        )
    out = evaluate_compute(epoch(devices, reports, challenges=challenges), params)
    assert reasons(out)[1::2] == ["compute.benchmark_failed"] * 3  # dev0's nonces do not hash for dev2
    # dev0 found 4, 13 and 9 solutions (8 expected): it passed 3 challenges, paid from the 2nd on at the
    # speed it showed (13 · 2 000 / 8 and 9 · 2 000 / 8)
    assert shown == [1_000, 3_250, 2_250]
    (paid,) = out.contributions
    assert paid.device_id == "dev0" and paid.units == 3_250 + 2_250
    missed = [n for n in out.notes if n.reason == "compute.benchmark_failed"]
    assert {"dev1", "dev2"} <= {n.device_id for n in missed}
    assert out.device_state["dev1"]["streak"] == 0
    assert out.device_state["dev0"]["streak"] == 3


def test_a_disqualified_provider_loses_its_other_leases_at_once() -> None:
    orders = [make_order(units=8, nonce=n, ts=T0 + 100 * n, deadline_s=86_400) for n in range(3)]
    reports = []
    for n, signed in enumerate(orders):
        reports.append(bid("dev1", T0 + 100 * n + 1, signed, 40, 160))
    for n in range(2):  # two lazy results: two frauds from a clean record disqualify
        reports.append(result("dev1", T0 + 100 * n + 50, orders[n][0], 0, [bytes([7]) * 32] * 8))
    out = evaluate_compute(epoch(DEVICES, reports, bonds() + funded(10_000)), PARAMS)
    assert out.device_state["dev1"]["dq"]
    third = out.state["orders"][orders[2][0].order_id]
    (lease,) = third["leases"]
    assert lease["status"] == "failed" and lease["reason"] == "compute.disqualified"
    assert third["status"] == "leased" and third["resume"] == 0  # auctioned again
    assert out.state["bonds"]["dev1"] == 10_000 - 3 * 160
    assert out.usage_share["dev1"] == 0
    later = evaluate_compute(
        epoch(
            DEVICES,
            [bid("dev1", T0 + 86_401, make_order(ts=T0 + 86_400, nonce=9), 40, 160)],
            start=T0 + 86_400,
            state=dict(out.state),
            device_state=dict(out.device_state),
            number=1,
        ),
        PARAMS,
    )
    assert reasons(later) == ["compute.disqualified"]


def test_canaries_known_answers_wrong_answers_and_silence() -> None:
    from opendepin.sectors.base import ChallengeSeed
    from opendepin.sectors.compute.challenges import derive_canaries
    from opendepin.sectors.compute.jobs import JobSpec, run_job
    from opendepin.sectors.compute.merkle import outputs_root
    from opendepin.sectors.compute.reports import CANARY
    from tests.sectors.compute.helpers import report

    job = {"kind": "hashchain", "units": 3, "size": 100}
    seed = ChallengeSeed("0x" + "42" * 32, T0)
    devices = {d.device_id: d for d in DEVICES}
    canaries = derive_canaries(seed, devices, 10_000, job)  # everyone gets one at rate 100 %
    assert [c.device for c in canaries] == sorted(devices) and len({c.payload["seed"] for c in canaries}) == 4
    assert derive_canaries(seed, devices, 0, job) == []
    by_device = {c.device: c for c in canaries}
    answers = []
    for device, honest in (("dev0", True), ("dev1", False)):
        canary = by_device[device]
        outputs = run_job(JobSpec.from_map(dict(canary.payload)))
        if not honest:
            outputs = [outputs[0], b"\x00" * 32, outputs[2]]
        payload = {"challenge": canary.challenge_id, "root": outputs_root(outputs).hex(), "outputs": outputs}
        answers.append(report(CANARY, device, T0 + 100, payload))
    answers.append(report(CANARY, "dev3", T0 + 100, {**answers[0].payload}))  # another device's canary
    out = evaluate_compute(epoch(DEVICES, answers, challenges=[*audits(T0, T0 + 86_400), *canaries]), PARAMS)
    assert reasons(out) == ["ok", "compute.canary_missed", "compute.unknown_challenge"]
    assert out.verdicts[1].evidence["wrong_units"] == [1]
    missed = {n.device_id for n in out.notes if n.reason == "compute.canary_missed"}
    assert missed == {"dev2", "dev3"}  # they never answered their own (dev1 answered, wrongly: a fraud)


def test_a_bond_is_withdrawn_after_the_notice_never_under_a_lease_and_stays_slashable() -> None:
    """unbond: at most the free bond; the amount bids nothing; released to the owner's escrow at the first
    epoch end after the notice, once no bid or lease holds the bond; slashes in the meantime come first."""
    notice = PARAMS.market.unbond_notice_s
    signed = make_order(units=4, deadline_s=600)
    bond = [receipt(DEVICES[1].owner, "dev1", 1_000, "bond:dev1", T0)]
    reports = [
        report(UNBOND, "dev1", T0 + 1, {"amount": 1_001}),  # more than the bond
        report(UNBOND, "dev1", T0 + 2, {"amount": 900}),
        bid("dev1", T0 + 3, signed, 60, 120),  # 100 free: refused
        report(UNBOND, "dev1", T0 + 4, {"amount": 50}),
        bid("dev1", T0 + 5, signed, 25, 50),  # 50 free: the lease; it never delivers (due T0+630)
    ]
    first = evaluate_compute(epoch(DEVICES, reports, bond + funded(1_000)), PARAMS)
    assert reasons(first) == [
        "compute.unbond_refused",
        "ok",
        "compute.insufficient_bond",
        "ok",
        "ok",
    ]
    assert first.verdicts[0].evidence == {"amount": 1_001, "free_bond": 1_000}
    assert first.verdicts[1].evidence["release_after"] == T0 + 2 + notice
    # the deadline miss slashed the 50 deposit; nothing is released before the notice ends
    assert first.state["bonds"]["dev1"] == 950
    assert first.state["unbonding"]["dev1"] == [
        [900, T0 + 2, DEVICES[1].owner],
        [50, T0 + 4, DEVICES[1].owner],
    ]
    assert not [n for n in first.notes if n.reason == "compute.unbonded"]
    # an epoch ending after the notice: both withdrawals move to the owner's escrow, at most the bond left
    later = T0 + 86_400 * (1 + notice // 86_400)
    second = evaluate_compute(epoch(DEVICES, [], state=first.state, start=later, challenges=[]), PARAMS)
    released = [n.evidence for n in second.notes if n.reason == "compute.unbonded"]
    assert [(e["asked"], e["released"]) for e in released] == [(900, 900), (50, 50)]
    assert second.state["bonds"]["dev1"] == 0 and "dev1" not in second.state["unbonding"]
    assert second.state["accounts"][DEVICES[1].owner] == 950


def test_a_withdrawal_waits_while_the_provider_holds_a_lease() -> None:
    notice = 3_600
    params = ComputeParams.model_validate({"market": {"unbond_notice_s": notice}})
    signed = make_order(units=4, deadline_s=86_400)
    bond = [receipt(DEVICES[1].owner, "dev1", 1_000, "bond:dev1", T0)]
    reports = [bid("dev1", T0 + 1, signed, 25, 50), report(UNBOND, "dev1", T0 + 40, {"amount": 950})]
    out = evaluate_compute(epoch(DEVICES, reports, bond + funded(1_000)), params)
    assert reasons(out) == ["ok", "ok"]
    assert out.state["bonds"]["dev1"] == 1_000 and out.state["unbonding"]["dev1"][0][0] == 950
    assert not [n for n in out.notes if n.reason == "compute.unbonded"]  # the lease holds 50 of it
