"""Held amounts by provider age: the schedule, returns, forfeiture on disqualification, exact integers."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from opendepin.market.receipts import UsageRecord
from opendepin.sectors.base import SectorInput
from opendepin.sectors.storage.evaluate import evaluate_storage
from opendepin.sectors.storage.held import (
    age_in_epochs,
    apply_returns,
    held_percent,
    returns_due,
    split_held,
)
from opendepin.sectors.storage.reputation import SCALE, Reputation
from opendepin.sectors.storage.sim.runner import DEFAULT_NETWORK, load_network, run_scenario, storage_params
from tests.sectors.storage.helpers import DAY, HOUR, Net, make_net, rules
from tests.sectors.storage.test_evaluate import honest_epoch, notes_of

# the test network's providers are stand-in ids without keys, so its receipts cannot be countersigned
# (tests/sectors/storage/test_countersigned.py covers countersigned receipts with holding)
STORJ = rules(
    held_schedule=((90, 75), (180, 50), (270, 25)), held_returns=((450, 50),), receipts_countersigned=False
)


def with_usage(net: Net, data: SectorInput, credits: int) -> SectorInput:
    records = [
        UsageRecord(f"r{i}", "storage", d, net.client.address, credits, 1, "byte_hours", "x", 60, 60)
        for i, d in enumerate(sorted(net.devices))
    ]
    return replace(data, usage=records)


def test_storj_schedule_by_age_in_epochs() -> None:
    s = STORJ.held_schedule
    assert [held_percent(a, s) for a in (0, 89, 90, 179, 180, 269, 270, 10_000)] == [
        75,
        75,
        50,
        50,
        25,
        25,
        0,
        0,
    ]
    assert age_in_epochs(-DAY, 0, DAY) == 1 and age_in_epochs(5, 0, DAY) == 0
    assert returns_due(449, 0, STORJ.held_returns) == [] and returns_due(450, 0, STORJ.held_returns) == [50]
    assert returns_due(500, 1, STORJ.held_returns) == []  # once


@given(st.integers(0, 10**18), st.integers(0, 100), st.lists(st.integers(0, 100), max_size=4))
def test_holding_and_returning_never_create_or_lose_a_unit(
    amount: int, percent: int, returns: list[int]
) -> None:
    counted, held = split_held(amount, percent)
    assert counted + held == amount and held * 100 <= amount * percent < (held + 1) * 100
    back, still = apply_returns(held, returns)
    assert back + still == held and back >= 0 and still >= 0


def test_a_young_provider_has_three_quarters_held_and_the_breakdown_shows_it() -> None:
    net = make_net(STORJ)
    reports, audits = honest_epoch(net, 4)
    out = evaluate_storage(with_usage(net, net.input(0, reports, audits), 1_001), STORJ)
    byte_hours = 3 * 4_096 * 4
    assert {c.device_id: c.units for c in out.contributions} == {
        d: byte_hours - byte_hours * 3 // 4 for d in net.devices
    }
    assert out.usage_credits == {d: 1_001 - 750 for d in net.devices}  # 750.75 held rounds down to 750
    device = sorted(net.devices)[0]
    held = dict(next(c.breakdown for c in out.contributions if c.device_id == device))["held"]
    assert held["age_epochs"] == 1 and held["held_percent"] == 75
    assert held["held_total"] == {"byte_hours": byte_hours * 3 // 4, "credits": 750}
    assert dict(notes_of(out, device))["storage.held"]["credits_held"] == 750
    state = out.device_state[device]
    assert (
        state is not None and state["held_credits"] == 750 and state["held_byte_hours"] == byte_hours * 3 // 4
    )


def test_without_a_schedule_nothing_is_held_and_receipts_count_as_before() -> None:
    net = make_net()
    reports, audits = honest_epoch(net, 2)
    out = evaluate_storage(with_usage(net, net.input(0, reports, audits), 1_001), rules())
    assert out.usage_credits is None and not any(n.reason == "storage.held" for n in out.notes)


def test_half_is_returned_once_at_month_fifteen_and_nothing_more_is_held() -> None:
    net = make_net(STORJ)
    reports, audits = honest_epoch(net, 2)
    epoch = 450  # devices were onboarded a day before genesis: age 451
    shift = epoch * DAY
    audits = [net.audit(shift + a.issued_at) for a in audits]
    reports = net.place(3, random.Random(1))
    reports = [replace(r, ts=r.ts + shift, received_at=r.received_at + shift) for r in reports]
    for audit in audits:
        for device in net.devices:
            reports += net.answers(device, audit)
    device = sorted(net.devices)[0]
    rep = Reputation.fresh(STORJ)
    rep.held_credits, rep.held_byte_hours = 1_001, 3_001
    prior = ({}, {device: rep.to_state()})
    data = with_usage(net, net.input(epoch, reports, audits, prior), 100)
    out = evaluate_storage(data, STORJ)
    assert out.usage_credits is not None and out.usage_credits[device] == 100 + 500  # ⌊1001 / 2⌋ returned
    held = dict(next(c.breakdown for c in out.contributions if c.device_id == device))["held"]
    assert (
        held["held_percent"] == 0 and held["credits_returned"] == 500 and held["byte_hours_returned"] == 1_500
    )
    state = out.device_state[device]
    assert state is not None and (state["held_credits"], state["held_byte_hours"]) == (501, 1_501)
    again = evaluate_storage(replace(data, prior_device_state={device: state}), STORJ)
    assert again.usage_credits is not None and again.usage_credits[device] == 100  # the step is done


def test_what_is_held_is_forfeited_when_the_provider_is_disqualified() -> None:
    net = make_net(STORJ)
    reports = net.place(1, random.Random(4))
    provider = sorted(net.devices)[5]
    (key,) = net.pieces[provider]
    audit = net.audit(HOUR)
    for device in net.devices:
        reports += net.answers(device, audit, lost=frozenset({key}) if device == provider else frozenset())
    rep = Reputation.fresh(STORJ)
    rep.alpha, rep.beta, rep.warned = 9_601 * SCALE // 10, 399 * SCALE // 10, True  # score 0.9601
    rep.held_credits, rep.held_byte_hours = 7_000, 90_000
    data = with_usage(net, net.input(0, reports, [audit], ({}, {provider: rep.to_state()})), 1_000)
    out = evaluate_storage(data, STORJ)
    notes = dict(notes_of(out, provider))
    assert "storage.disqualified" in notes
    assert notes["storage.held_forfeited"]["credits"] == 7_000
    assert notes["storage.held_forfeited"]["byte_hours"] == 90_000
    state = out.device_state[provider]
    assert state is not None and state["held_credits"] == 0 and state["held_byte_hours"] == 0
    # its receipts still count toward the pool's size but it is paid none of them, and nothing comes back
    assert out.usage_credits is not None and out.usage_credits[provider] == 1_000
    assert out.usage_share[provider] == 0
    assert provider not in {c.device_id for c in out.contributions}


def test_through_the_epoch_engine_paid_plus_remainder_is_emission(tmp_path: Path) -> None:
    """The sim's network with Storj's schedule: `process_epoch` checks paid + remainder = emission exactly
    (it raises otherwise) with held credits taken out of the usage pool and held byte-hours out of the
    storage category; detection is unchanged."""
    text = DEFAULT_NETWORK.read_text()
    assert "[sectors.storage]\n" in text
    text = text.replace(
        "[sectors.storage]\n",
        "[sectors.storage]\nheld_schedule = [[90, 75], [180, 50], [270, 25]]\nheld_returns = [[450, 50]]\n",
    )
    path = tmp_path / "network.toml"
    path.write_text(text)
    config = load_network(path)
    assert storage_params(config).held_schedule == STORJ.held_schedule
    result = run_scenario("deleter-20", 40, 2, seed=3, network=config, adversary_share=0.2)
    assert result.by_behaviour["deleter-20"]["flagged"] == 8
    assert result.by_behaviour["honest"]["flagged"] == 0 and result.honest_disqualified == 0
