"""The ingest service: a batch is gated and stored in parts inside one transaction (services/ingest.py)."""

from __future__ import annotations

import sqlite3

import pytest

from opendepin.clock import SimulatedClock
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.signatures import CHUNK
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import onboard_request


def _batch(key: DeviceKey, now: int, count: int) -> list[bytes]:
    return [
        sign_report(key, HEARTBEAT, now - 60, 10 + n, {"lat": 52.52, "lon": 13.405 + n * 1e-6}).to_wire()
        for n in range(count)
    ]


def test_a_batch_stored_in_parts_is_all_or_nothing(
    node: Node, clock: SimulatedClock, device_key: DeviceKey, store: SQLiteStore
) -> None:
    """A batch of several parts whose last part the database refuses: none of it is stored, the parts
    already inserted included, and the node forgets the seqs it gated, so the same batch re-sent once the
    database takes it again is accepted whole (not refused as a replay of what was never stored)."""
    node.onboard(onboard_request(node.config.name, device_key))
    clock.set(clock.now() + 3_600)
    wires = _batch(device_key, clock.now(), 2 * CHUNK + 100)
    last_seq = 10 + len(wires) - 1
    store._db.execute(
        f"CREATE TRIGGER full BEFORE INSERT ON reports WHEN NEW.seq = {last_seq} "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        node.ingest(wires)
    assert store.count_reports(0, 2**40) == 0
    assert store.last_seqs() == {}
    store._db.execute("DROP TRIGGER full")
    results = node.ingest(wires)
    assert [r.reason for r in results if not r.accepted] == []
    assert store.count_reports(0, 2**40) == len(wires)
    assert store._db.execute("SELECT SUM(row_count) FROM report_blocks").fetchone() == (len(wires),)


def test_a_batch_with_refusals_in_every_part_keeps_order_and_counts(
    node: Node, clock: SimulatedClock, device_key: DeviceKey, store: SQLiteStore
) -> None:
    """Results come back in the batch's order across parts; replays inside the batch (every fifth report
    sent twice) are refused and counted, everything else stored once."""
    node.onboard(onboard_request(node.config.name, device_key))
    clock.set(clock.now() + 3_600)
    wires = _batch(device_key, clock.now(), 2 * CHUNK + 100)
    sent = [wire for n, wire in enumerate(wires) for _ in range(2 if n % 5 == 0 else 1)]
    results = node.ingest(sent)
    assert len(results) == len(sent)
    refused = [n for n, result in enumerate(results) if not result.accepted]
    assert refused == [n for n in range(1, len(sent)) if sent[n] == sent[n - 1]]
    assert store.count_reports(0, 2**40) == len(wires)
    assert sum(store.rejection_counts(0, 2**40).values()) == len(refused)
