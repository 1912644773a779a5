"""Rejections are counters by reason, source and bucket plus a bounded sample: a flood of garbage never
fills the disk (issue 11, "anyone can fill the disk")."""

from __future__ import annotations

import os
from pathlib import Path

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendepin.clock import SimulatedClock
from opendepin.config import IngestConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.gate import GateResult, rejection_bucket, rejection_source
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.rewards.epoch import window_for
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import onboard_request


@given(
    genesis=st.integers(-(2**40), 2**40),
    epoch_seconds=st.integers(60, 10**7),
    bucket_seconds=st.integers(60, 10**6),
    offset=st.integers(-(2**40), 2**40),
)
def test_buckets_tile_every_epoch(genesis: int, epoch_seconds: int, bucket_seconds: int, offset: int) -> None:
    t = genesis + offset
    bucket = rejection_bucket(t, genesis, epoch_seconds, bucket_seconds)
    epoch_start = t - (t - genesis) % epoch_seconds
    assert epoch_start <= bucket <= t < bucket + bucket_seconds
    assert (bucket - epoch_start) % bucket_seconds == 0
    assert rejection_bucket(epoch_start, genesis, epoch_seconds, bucket_seconds) == epoch_start


def test_only_an_authenticated_rejection_is_counted_against_its_device() -> None:
    claimed = GateResult("signature.invalid", "bad", "id", "ed25519:00", authenticated=False)
    signed = GateResult("report.replay", "old", "id", "ed25519:00", authenticated=True)
    assert rejection_source(claimed, "http:192.0.2.1") == "http:192.0.2.1"
    assert rejection_source(signed, "http:192.0.2.1") == "device:ed25519:00"


def _size(path: Path) -> int:
    return sum(os.path.getsize(p) for p in path.parent.glob(path.name + "*"))


def test_a_flood_of_garbage_adds_counters_not_rows(
    node: Node, store: SQLiteStore, tmp_path: Path, clock: SimulatedClock
) -> None:
    """The reproduced finding: one 16 MB batch of 1,000 garbage reports added 1,000 rows and 8.7 MB."""
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _size(Path(store.path))
    garbage = [os.urandom(16_000) for _ in range(1_000)]
    for _ in range(3):
        results = node.ingest(garbage, source="http:203.0.113.9")
        assert {r.reason for r in results} == {"report.malformed"}
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _size(Path(store.path)) - before < 256 * 1024
    now = clock.now()
    assert store.rejection_counts(0, now + 1) == {"report.malformed": 3_000}
    assert store.rejection_sources(0, now + 1) == {"http:203.0.113.9": {"report.malformed": 3_000}}
    samples = store.rejection_samples("report.malformed")
    assert len(samples) == IngestConfig().rejection_samples
    assert all(len(s.raw) == IngestConfig().rejection_sample_bytes for s in samples)
    assert samples[-1].raw == garbage[-1][: IngestConfig().rejection_sample_bytes]
    rows = store._query("SELECT COUNT(*) FROM rejection_counts")[0][0]
    assert rows == 1


def test_counts_per_epoch_window_are_exact(
    config: NetworkConfig, node: Node, store: SQLiteStore, clock: SimulatedClock, device_key: DeviceKey
) -> None:
    node.onboard(onboard_request(config.name, device_key))
    window = window_for(config, 0)
    good = sign_report(device_key, HEARTBEAT, window.start + 10, 5, {"lat": 52.5, "lon": 13.4}).to_wire()
    clock.set(window.start + 10)
    assert node.ingest([good])[0].accepted
    for at in (window.start + 11, window.end - 1, window.end, window.end + 5_000):
        clock.set(at)
        node.ingest([good, b"junk"], source="http:198.51.100.7")
    assert store.rejection_counts(window.start, window.end) == {"report.duplicate": 2, "report.malformed": 2}
    assert store.rejection_counts(window.end, window.end + 86_400) == {
        "report.duplicate": 2,
        "report.malformed": 2,
    }
    sources = store.rejection_sources(window.start, window.end)
    assert sources == {
        f"device:{device_key.device_id}": {"report.duplicate": 2},
        "http:198.51.100.7": {"report.malformed": 2},
    }


def test_samples_keep_the_latest_per_reason(config: NetworkConfig, store: SQLiteStore) -> None:
    keep = 3
    tuned = config.model_copy(
        update={
            "ingest": config.ingest.model_copy(
                update={"rejection_samples": keep, "rejection_sample_bytes": 4}
            )
        }
    )
    node = Node(tuned, store, SimulatedClock(config.epochs.genesis_ts))
    for i in range(10):
        node.ingest([b"\x00" + bytes([i]) * 9, cbor2.dumps([b"x" * 20_000, b"s"])])
    malformed = store.rejection_samples("report.malformed")
    assert [s.raw for s in malformed] == [b"\x00" + bytes([i]) * 3 for i in (7, 8, 9)]
    assert len(store.rejection_samples("report.too_large")) == keep
    assert len(store.rejection_samples()) == 2 * keep


def test_migration_turns_rejection_rows_into_counters_and_samples(tmp_path: Path) -> None:
    import sqlite3

    from opendepin.store.sqlite import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    rows = [("report.malformed", "m", 100 + i % 3, None, "ed25519:aa", b"\x01" * 2_048) for i in range(20)]
    rows += [("signature.invalid", "s", 5_000, "id", "ed25519:bb", b"\x02")]
    db.executemany(
        "INSERT INTO rejections (reason, message, received_at, report_id, device_id, raw) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.close()
    store = SQLiteStore(path)
    try:
        assert store.rejection_counts(0, 200) == {"report.malformed": 20}
        assert store.rejection_counts(101, 102) == {"report.malformed": 7}
        assert store.rejection_counts(0, 10_000) == {"report.malformed": 20, "signature.invalid": 1}
        samples = store.rejection_samples("report.malformed")
        assert len(samples) == 8 and all(len(s.raw) == 512 for s in samples)
        assert store.rejection_samples("signature.invalid")[0].device_id == "ed25519:bb"
        assert not store._query("SELECT name FROM sqlite_master WHERE name = 'rejections'")
    finally:
        store.close()


@pytest.mark.integration
def test_postgres_keeps_the_same_counters_and_samples() -> None:
    from opendepin.store.base import Rejection
    from tests.store.pg import postgres_store

    with postgres_store() as store:
        for i in range(12):
            store.append(
                [], [Rejection("report.malformed", "m", 7_200 + i, raw=bytes([i]), source="http:x")], 4
            )
        store.append([], [Rejection("report.replay", "r", 3_600, source="device:d", bucket=3_600)] * 3, 4)
        assert store.rejection_counts(0, 7_205) == {"report.malformed": 5, "report.replay": 3}
        assert store.rejection_sources(3_600, 3_601) == {"device:d": {"report.replay": 3}}
        assert [s.raw for s in store.rejection_samples("report.malformed")] == [
            bytes([i]) for i in range(8, 12)
        ]
