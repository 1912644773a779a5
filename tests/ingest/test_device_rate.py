"""The per-device report budget (ingest/device_rate.py): a token bucket in integers, charged only by
accepted reports, taken by a batch only once it is stored."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.clock import SimulatedClock
from opendepin.config import IngestConfig, MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.device_rate import RATE_LIMITED, UNITS_PER_REPORT, DeviceBudgets, take_report
from opendepin.ingest.gate import GateResult
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request


@settings(max_examples=200, deadline=None)
@given(
    per_hour=st.integers(1, 100_000),
    burst=st.integers(1, 50),
    gaps=st.lists(st.integers(0, 7_200), min_size=1, max_size=200),
)
def test_a_device_never_gets_more_than_its_burst_and_its_hourly_refill(
    per_hour: int, burst: int, gaps: list[int]
) -> None:
    """Whatever the timing of the reports: accepted ≤ burst + ⌊elapsed × per_hour / 3600⌋, and a report is
    refused only when the bucket really holds less than one (the same sequence replayed with exact
    Fractions of a report agrees report by report)."""
    from fractions import Fraction

    bucket, now, first, accepted = None, 0, 0, 0
    exact, exact_at = Fraction(burst), 0
    for gap in gaps:
        now += gap
        exact = min(Fraction(burst), exact + Fraction((now - exact_at) * per_hour, 3600))
        exact_at = now
        taken = take_report(bucket, now, per_hour, burst)
        assert (taken is not None) == (exact >= 1)
        if taken is not None:
            bucket, accepted, exact = taken, accepted + 1, exact - 1
            assert 0 <= bucket[0] <= burst * UNITS_PER_REPORT
    assert accepted <= burst + (now - first) * per_hour // 3600


def test_a_clock_set_back_refills_nothing() -> None:
    bucket = take_report(None, 1_000, 3_600, 1)
    assert bucket == (0, 1_000)
    assert take_report(bucket, 500, 3_600, 1) is None
    assert take_report(bucket, 1_001, 3_600, 1) == (0, 1_001)


def _accepted(device: str) -> GateResult:
    return GateResult("accepted", "accepted", "ab" * 32, device, authenticated=True)


def test_only_acceptances_are_charged_and_a_batch_takes_nothing_until_committed() -> None:
    budgets = DeviceBudgets(IngestConfig(device_report_burst=2, device_reports_per_hour=3_600))
    refused = GateResult("report.duplicate", "dup", "cd" * 32, "ed25519:aa", authenticated=True)
    batch = budgets.batch()
    assert budgets.charge(refused, batch, 0) is refused and not batch.maps[0]
    assert budgets.charge(_accepted("ed25519:aa"), batch, 0).accepted
    assert budgets.charge(_accepted("ed25519:aa"), batch, 0).accepted
    third = budgets.charge(_accepted("ed25519:aa"), batch, 0)
    assert third.reason == RATE_LIMITED and third.authenticated and "again in 1 s" in third.message
    rolled_back = budgets.batch()  # the batch above was never stored: a new one starts from full buckets
    assert budgets.charge(_accepted("ed25519:aa"), rolled_back, 0).accepted
    budgets.commit(batch, 0)
    assert budgets.charge(_accepted("ed25519:aa"), budgets.batch(), 0).reason == RATE_LIMITED
    assert budgets.charge(_accepted("ed25519:aa"), budgets.batch(), 1).accepted
    off = DeviceBudgets(IngestConfig(device_report_burst=1, device_reports_per_hour=0))
    free = off.batch()
    assert all(off.charge(_accepted("ed25519:aa"), free, 0).accepted for _ in range(100))


def test_buckets_that_refilled_are_forgotten_about_hourly() -> None:
    budgets = DeviceBudgets(IngestConfig(device_report_burst=5, device_reports_per_hour=3_600))
    for second, device in enumerate(["ed25519:aa", "ed25519:bb"]):
        batch = budgets.batch()
        budgets.charge(_accepted(device), batch, second)
        budgets.commit(batch, second)
    assert set(budgets._buckets) == {"ed25519:aa", "ed25519:bb"}
    batch = budgets.batch()
    for _ in range(5):
        budgets.charge(_accepted("ed25519:cc"), batch, 3_600)
    budgets.commit(batch, 3_600)
    assert set(budgets._buckets) == {"ed25519:cc"}  # aa and bb are full again; cc is 5 reports short


def test_a_device_past_its_budget_is_refused_and_sends_again_later(tmp_path: object) -> None:
    """The node's path: a store-and-forward upload of more than the burst in one batch is stored up to the
    burst, the rest refused as `device.rate_limited` (counted, not stored); the same reports sent again
    once the bucket refilled are accepted."""
    config = NetworkConfig(
        makers=[MakerConfig(name="m", address=MAKER.address)],
        ingest=IngestConfig(device_report_burst=20, device_reports_per_hour=360),
    )
    clock = SimulatedClock(config.epochs.genesis_ts + 3_600)
    store = SQLiteStore(f"{tmp_path}/db.sqlite3")
    node = Node(config, store, clock)
    key = DeviceKey("ed25519", b"\x09" * 32)
    node.onboard(onboard_request(config.name, key))
    wires = [
        sign_report(key, HEARTBEAT, clock.now() - 60, 10 + n, {"lat": 52.52, "lon": 13.405}).to_wire()
        for n in range(25)
    ]
    results = node.ingest(wires)
    assert [r.reason for r in results] == ["accepted"] * 20 + [RATE_LIMITED] * 5
    assert store.count_reports(0, 2**40) == 20
    assert store.rejection_counts(0, 2**40) == {RATE_LIMITED: 5}
    clock.advance(4 * 10)  # 360 an hour: a report every 10 s
    assert [r.reason for r in node.ingest(wires[20:])] == ["accepted"] * 4 + [RATE_LIMITED]
    store.close()
