"""Replay protection between writers that do not share a partition: a batch gated on a device's last `seq`
read before another writer committed a newer one is rolled back and gated again on the locked rows, so a
report is never accepted at or below a `seq` another writer committed (PostgreSQL, no bus needed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import opendepin.ingest.worker as worker_module
from opendepin.clock import SystemClock
from opendepin.config import MakerConfig, NetworkConfig, RewardsConfig, SectorConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.worker import Delivery, GateWorker
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.store.postgres import PostgresStore
from tests.conftest import MAKER, onboard_request
from tests.store.pg import postgres_database

pytestmark = pytest.mark.integration  # PostgreSQL on 127.0.0.1:5432

HEARTBEAT = {"lat": 52.52, "lon": 13.405}


STORAGE_ONLY = NetworkConfig(  # a sector whose kinds take any order of seq (`unique`)
    makers=[MakerConfig(name="m", address=MAKER.address)],
    sectors={"storage": SectorConfig(usage_category="")},
    rewards=RewardsConfig(categories={"storage": 10_000}, device_categories=["storage"], unused_flows_to={}),
)


@contextmanager
def _writers(config: NetworkConfig) -> Iterator[tuple[GateWorker, GateWorker, DeviceKey, str]]:
    with postgres_database() as dsn:
        store = PostgresStore(dsn)
        key = DeviceKey("ed25519", b"\x09" * 32)
        storage = "storage" in config.sectors
        owner = {"capacity_bytes": 10**12, "network_prefix": "100.64.9.0/24"} if storage else None
        Node(config, store, SystemClock()).onboard(onboard_request(config.name, key, owner_attributes=owner))
        store.close()
        first, second = GateWorker(config, dsn), GateWorker(config, dsn)
        try:
            yield first, second, key, dsn
        finally:
            first.store.close()
            second.store.close()


@pytest.fixture
def two_writers() -> Iterator[tuple[GateWorker, GateWorker, DeviceKey, str]]:
    with _writers(NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])) as writers:
        yield writers


@pytest.fixture
def storage_writers() -> Iterator[tuple[GateWorker, GateWorker, DeviceKey, str]]:
    with _writers(STORAGE_ONLY) as writers:
        yield writers


def _batch(
    key: DeviceKey, seq: int, payload: dict[str, Any] = HEARTBEAT, kind: str = "wireless.heartbeat"
) -> list[Delivery]:
    now = int(time.time())
    return [Delivery(sign_report(key, kind, now, seq, payload).to_wire(), "test", now, None)]


def _ping(key: DeviceKey, seq: int, challenge: str) -> list[Delivery]:
    return _batch(key, seq, {"challenge": challenge * 32}, "storage.ping")


def _other_commits_after_the_read(
    monkeypatch: pytest.MonkeyPatch, other: GateWorker, batch: list[Delivery], read: str = "_read_last_seqs"
) -> list[str]:
    """Make the worker's next read (`read`: of last seqs, unlocked, or `used_seqs_in` of unique pairs) be
    followed, before its batch writes, by `other` committing `batch` on its own connection; returns the
    reasons `other` got."""
    real = getattr(worker_module, read)
    fired: list[str] = []

    def read_then_other_writes(cur: Any, keys: list[Any], *lock: bool) -> Any:
        seen = real(cur, keys, *lock)
        if not any(lock) and not fired:
            fired.append("started")
            thread = threading.Thread(target=lambda: fired.extend(r.reason for r in other.store_batch(batch)))
            thread.start()
            thread.join(timeout=30)
        return seen

    monkeypatch.setattr(worker_module, read, read_then_other_writes)
    return fired


def _stored(dsn: str) -> list[tuple[str, int]]:
    store = PostgresStore(dsn)
    try:
        return [(str(d), int(s)) for d, s in store._query("SELECT device_id, seq FROM reports ORDER BY seq")]
    finally:
        store.close()


def test_a_device_first_seen_by_two_writers_keeps_one_seq_order(
    two_writers: tuple[GateWorker, GateWorker, DeviceKey, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, key, dsn = two_writers
    fired = _other_commits_after_the_read(monkeypatch, second, _batch(key, 5))
    results = first.store_batch(_batch(key, 3))  # read "no seq yet", then the other writer stored seq 5
    assert fired == ["started", "accepted"]
    assert [r.reason for r in results] == ["report.replay"]  # 3 is not above 5, whoever stored 5
    assert first.stats.seq_conflicts == 1 and first.stats.accepted == 0 and first.stats.rejected == 1
    assert _stored(dsn) == [(key.device_id, 5)]


def test_a_seq_moved_by_another_writer_refuses_the_same_seq_with_another_payload(
    two_writers: tuple[GateWorker, GateWorker, DeviceKey, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, key, dsn = two_writers
    assert [r.reason for r in first.store_batch(_batch(key, 1))] == ["accepted"]
    assert first.stats.seq_conflicts == 0  # one writer: the compare-and-set never fails
    fired = _other_commits_after_the_read(monkeypatch, second, _batch(key, 2))
    # the same seq 2 with another payload: another report id, so only replay protection can refuse it
    results = first.store_batch(_batch(key, 2, {"lat": 1.0, "lon": 2.0}))
    assert fired == ["started", "accepted"]
    assert [r.reason for r in results] == ["report.replay"]
    assert first.stats.seq_conflicts == 1
    assert _stored(dsn) == [(key.device_id, 1), (key.device_id, 2)]
    store = PostgresStore(dsn)
    try:
        assert store.last_seqs()[key.device_id] == 2
    finally:
        store.close()


def test_a_newer_seq_is_accepted_after_the_retry(
    two_writers: tuple[GateWorker, GateWorker, DeviceKey, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, key, dsn = two_writers
    first.store_batch(_batch(key, 1))
    _other_commits_after_the_read(monkeypatch, second, _batch(key, 2))
    results = first.store_batch(_batch(key, 7))  # read 1, the other stored 2: 7 is still above, accepted
    assert [r.reason for r in results] == ["accepted"] and first.stats.seq_conflicts == 1
    assert _stored(dsn) == [(key.device_id, 1), (key.device_id, 2), (key.device_id, 7)]


def test_the_last_seq_rows_every_batch_rewrites_are_updated_in_place(
    two_writers: tuple[GateWorker, GateWorker, DeviceKey, str],
) -> None:
    """Store migration 13: the last-seq table's pages keep room, so a batch's update of a device's row is a
    heap-only update (no new index entry), counted by PostgreSQL within the transaction."""
    first, _, key, dsn = two_writers
    first.store_batch(_batch(key, 1))
    store = PostgresStore(dsn)
    try:
        options = store._query("SELECT reloptions FROM pg_class WHERE relname = 'device_seq'")[0][0]
        assert options == ["fillfactor=50"]
        with store._tx() as cur:
            cur.execute("UPDATE device_seq SET last_seq = 2 WHERE device_id = %s", (key.device_id,))
            hot = cur.execute("SELECT pg_stat_get_xact_tuples_hot_updated('device_seq'::regclass)").fetchone()
            assert hot == (1,)
    finally:
        store.close()


def test_a_unique_seq_used_by_another_writer_meanwhile_is_refused(
    storage_writers: tuple[GateWorker, GateWorker, DeviceKey, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`unique`-seq kinds (any order, each seq once): the batch read the pair unused, the other writer then
    recorded it; the pair's insert finds it taken, and the batch gated again refuses the replay."""
    first, second, key, dsn = storage_writers
    assert [r.reason for r in first.store_batch(_ping(key, 9, "aa"))] == ["accepted"]
    assert [r.reason for r in first.store_batch(_ping(key, 2, "aa"))] == ["accepted"]  # any order
    assert [r.reason for r in first.store_batch(_ping(key, 2, "bb"))] == ["report.replay"]
    assert first.stats.seq_conflicts == 0
    fired = _other_commits_after_the_read(monkeypatch, second, _ping(key, 5, "cc"), read="used_seqs_in")
    results = first.store_batch(_ping(key, 5, "dd"))  # the same seq 5, another report
    assert fired == ["started", "accepted"]
    assert [r.reason for r in results] == ["report.replay"] and first.stats.seq_conflicts == 1
    assert sorted(seq for _, seq in _stored(dsn)) == [2, 5, 9]
