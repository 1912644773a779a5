"""A gate worker learns the devices onboarded after it started, and looks up the devices it does not know a
chunk of reports at a time in one query: device ids are free to make up, so a flood of reports naming
unknown devices must not cost the database a query per report (PostgreSQL, no bus needed)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence

import cbor2
import pytest

from opendepin.clock import SystemClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.worker import Delivery, GateWorker
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.base import DeviceInfo
from opendepin.store.postgres import PostgresStore
from tests.conftest import MAKER, onboard_request
from tests.store.pg import postgres_database

pytestmark = pytest.mark.integration  # PostgreSQL on 127.0.0.1:5432

CONFIG = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
HEARTBEAT = {"lat": 52.52, "lon": 13.405}


@pytest.fixture
def worker_and_node() -> Iterator[tuple[GateWorker, Node]]:
    with postgres_database() as dsn:
        store = PostgresStore(dsn)
        worker = GateWorker(CONFIG, dsn)
        try:
            yield worker, Node(CONFIG, store, SystemClock())
        finally:
            worker.store.close()
            store.close()


def _deliveries(keys: Sequence[DeviceKey], seq: int = 1) -> list[Delivery]:
    now = int(time.time())
    return [
        Delivery(sign_report(key, "wireless.heartbeat", now, seq, HEARTBEAT).to_wire(), "test", now, None)
        for key in keys
    ]


def test_unknown_devices_cost_one_query_a_chunk_and_late_onboarding_is_seen(
    worker_and_node: tuple[GateWorker, Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker, node = worker_and_node
    late = DeviceKey("ed25519", b"\x05" * 32)
    node.onboard(onboard_request(CONFIG.name, late))  # after the worker started: not in its registry yet
    strangers = [DeviceKey("ed25519", os.urandom(32)) for _ in range(300)]
    asked: list[list[str]] = []
    lookup = worker.store.get_devices

    def counted(device_ids: Sequence[str]) -> list[DeviceInfo]:
        asked.append(list(device_ids))
        return lookup(device_ids)

    monkeypatch.setattr(worker.store, "get_devices", counted)
    monkeypatch.setattr(worker.store, "get_device", lambda _: pytest.fail("a query for one device"))
    batch = _deliveries([*strangers, *strangers, late])  # 601 reports, each stranger twice
    reasons = [r.reason for r in worker.store_batch(batch)]
    assert reasons.count("device.unknown") == 600 and reasons[-1] == "accepted"
    # one query a chunk of decoded reports (256), each naming only devices not asked before in the batch
    assert len(asked) == 3 and sum(map(len, asked)) == 301
    assert any(late.device_id in ids for ids in asked)
    assert worker.store_batch(_deliveries([late], seq=2))[0].accepted and len(asked) == 3  # known now


def test_nul_in_a_report_never_fails_the_batch_it_came_in(worker_and_node: tuple[GateWorker, Node]) -> None:
    """PostgreSQL cannot keep NUL in text. A device id with one is refused at decoding (before any lookup);
    a payload key with one is refused by the schema, its message kept with U+FFFD; the honest report in the
    same batch is stored either way (before, the whole batch failed, and after five deliveries every report
    in it went to the dead-letter stream)."""
    worker, node = worker_and_node
    key = DeviceKey("ed25519", b"\x06" * 32)
    node.onboard(onboard_request(CONFIG.name, key))
    now = int(time.time())
    envelope = cbor2.dumps(
        {"v": 1, "kind": "wireless.heartbeat", "device": "ed25519:\x00", "ts": now, "seq": 1, "payload": {}},
        canonical=True,
    )
    nul_device = cbor2.dumps([envelope, bytes(64)])
    nul_key = sign_report(key, "wireless.heartbeat", now, 2, {**HEARTBEAT, "\x00": 1}).to_wire()
    batch = [Delivery(wire, "test", now, None) for wire in (nul_device, nul_key)] + _deliveries([key], seq=3)
    assert [r.reason for r in worker.store_batch(batch)] == [
        "report.malformed",
        "report.schema_invalid",
        "accepted",
    ]
    (sample,) = node.store.rejection_samples("report.schema_invalid")
    assert "\ufffd" in sample.message and "\x00" not in sample.message


def test_a_worker_keeps_each_devices_budget() -> None:
    """The gate worker's path: the device's reports past its burst are refused as `device.rate_limited` and
    not stored; another device's budget is its own."""
    from opendepin.config import IngestConfig

    config = NetworkConfig(
        makers=[MakerConfig(name="m", address=MAKER.address)],
        ingest=IngestConfig(device_report_burst=3, device_reports_per_hour=1),
    )
    keys = [DeviceKey("ed25519", bytes([7 + i]) * 32) for i in range(2)]
    with postgres_database() as dsn:
        store = PostgresStore(dsn)
        worker = GateWorker(config, dsn)
        try:
            node = Node(config, store, SystemClock())
            for key in keys:
                node.onboard(onboard_request(config.name, key))
            batch = [item for seq in range(1, 6) for item in _deliveries(keys, seq)]
            reasons = [r.reason for r in worker.store_batch(batch)]
            assert reasons == ["accepted"] * 6 + ["device.rate_limited"] * 4
            assert store.count_reports(0, 2**40) == 6
        finally:
            worker.store.close()
            store.close()
