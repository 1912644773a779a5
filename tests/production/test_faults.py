"""Fault suite, ingest workers: a gate worker killed with SIGKILL after writing a batch but before the
commit, after the commit but before acknowledging it, and half-way through its acks. Another worker then
drains the stream; every report is stored exactly once, nothing is lost and nothing is counted twice
(neither as accepted nor as refused)."""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid

import pytest

from opendepin.ingest.bus import BusEdge, BusNames, delete_streams
from opendepin.ingest.worker import FAULT_ENV, GateWorker
from opendepin.store.postgres import PostgresStore
from tests.production.signed import CONFIG, onboarded_heartbeats
from tests.store.pg import postgres_database

pytestmark = pytest.mark.integration  # NATS JetStream on 127.0.0.1:4222 and PostgreSQL

NATS = "nats://127.0.0.1:4222"
BATCH = 100


def _worker(dsn: str, names: BusNames, fault: str | None) -> None:
    import os

    if fault is not None:
        os.environ[FAULT_ENV] = fault
    worker = GateWorker(CONFIG, dsn, NATS, names, batch=BATCH)
    asyncio.run(worker.run(idle_exit_seconds=4.0))


async def _publish(names: BusNames, wires: list[bytes]) -> None:
    edge = await BusEdge(NATS, names).connect()
    try:
        await edge.publish(wires, "fault-test")
    finally:
        await edge.close()


async def _delete(names: BusNames) -> None:
    edge = await BusEdge(NATS, names).connect()
    assert edge.js is not None
    await delete_streams(edge.js, names)
    await edge.close()


@pytest.mark.parametrize("fault", ["after_copy:2", "after_commit:2", "mid_ack:2"])
def test_a_killed_worker_loses_nothing_and_counts_nothing_twice(fault: str) -> None:
    with postgres_database() as dsn:
        wires = onboarded_heartbeats(dsn, 9, 50, 6)
        names = BusNames.prefixed("f" + uuid.uuid4().hex[:10], ack_wait=2.0)
        try:
            asyncio.run(_publish(names, wires))
            context = multiprocessing.get_context("fork")  # the test process has everything imported
            doomed = context.Process(target=_worker, args=(dsn, names, fault))
            doomed.start()
            doomed.join(timeout=240)
            assert doomed.exitcode == -9, f"the worker was to die by SIGKILL at {fault}"
            survivor = context.Process(target=_worker, args=(dsn, names, None))
            survivor.start()
            survivor.join(timeout=240)
            assert survivor.exitcode == 0
        finally:
            asyncio.run(_delete(names))
        store = PostgresStore(dsn)
        try:
            stored = store._query("SELECT device_id, seq FROM reports")
            refused = store.rejection_counts(0, 2**62)
            last = store.last_seqs()
        finally:
            store.close()
    assert len(stored) == len(wires) == len(set(stored))  # nothing lost, nothing twice
    assert refused == {}  # a redelivery of our own commit is not counted as a refusal
    assert set(last.values()) == {6}
