"""The NATS JetStream ingest path against the machine's servers: every report published is stored exactly
once, replay protection holds across two workers (seq in the database), duplicates inside and outside the
bus window, acknowledgement only after the commit."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import cbor2
import nats
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from opendepin.clock import SystemClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.bus import BusEdge, BusNames, connect_nats, delete_streams
from opendepin.ingest.worker import GateWorker, WorkerStats
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.store.postgres import PostgresStore
from opendepin.template import write_template
from tests.conftest import MAKER, onboard_request
from tests.store.pg import postgres_database

pytestmark = pytest.mark.integration  # NATS JetStream on 127.0.0.1:4222 and PostgreSQL

HEARTBEAT = {"lat": 52.52, "lon": 13.405}
NATS = "nats://127.0.0.1:4222"


@pytest.fixture
def network() -> Iterator[tuple[NetworkConfig, str, BusNames]]:
    with postgres_database() as dsn:
        names = BusNames.prefixed("t" + uuid.uuid4().hex[:10])
        yield NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)]), dsn, names

        async def cleanup() -> None:
            edge = await BusEdge(NATS, names).connect()
            assert edge.js is not None
            await delete_streams(edge.js, names)
            await edge.close()

        asyncio.run(cleanup())


def _devices(config: NetworkConfig, dsn: str, count: int) -> list[DeviceKey]:
    store = PostgresStore(dsn)
    node = Node(config, store, SystemClock())
    keys = [DeviceKey("ed25519", bytes([7, i % 256, i // 256]) + b"\x01" * 29) for i in range(count)]
    for key in keys:
        node.onboard(onboard_request(config.name, key))
    store.close()
    return keys


async def _publish(names: BusNames, wires: list[bytes]) -> list[bool]:
    edge = await BusEdge(NATS, names).connect()
    try:
        return await edge.publish(wires, "test")
    finally:
        await edge.close()


def _run_workers(config: NetworkConfig, dsn: str, names: BusNames, count: int) -> list[WorkerStats]:
    async def both() -> list[WorkerStats]:
        workers = [GateWorker(config, dsn, NATS, names, batch=50, index=i, of=count) for i in range(count)]
        return list(await asyncio.gather(*(w.run(idle_exit_seconds=1.5) for w in workers)))

    return asyncio.run(both())


def _stored(dsn: str) -> tuple[int, dict[str, int]]:
    store = PostgresStore(dsn)
    try:
        count = int(store._query("SELECT COUNT(*) FROM reports")[0][0])
        return count, store.rejection_counts(0, 2**62)
    finally:
        store.close()


def test_every_report_once_and_replays_refused_across_two_workers(
    network: tuple[NetworkConfig, str, BusNames],
) -> None:
    config, dsn, names = network
    keys = _devices(config, dsn, 20)
    now = int(time.time())
    honest = [
        sign_report(k, "wireless.heartbeat", now, seq, HEARTBEAT).to_wire()
        for k in keys
        for seq in range(1, 11)
    ]
    # replays: the same seq again with a different payload (a different report id), interleaved
    replays = [sign_report(k, "wireless.heartbeat", now, 5, {"lat": 1.0, "lon": 2.0}).to_wire() for k in keys]
    wires = [w for pair in zip(honest[::10], replays, strict=True) for w in pair] + [
        w for i, w in enumerate(honest) if i % 10
    ]
    fresh = asyncio.run(_publish(names, [*wires, *honest[:30]]))  # 30 re-sends inside the dedup window
    assert fresh.count(True) == len(wires) and fresh.count(False) == 30
    stats = _run_workers(config, dsn, names, 2)
    stored, refused = _stored(dsn)
    accepted = sum(s.accepted for s in stats)
    # a device's reports travel on one partition and are stored in publishing order by one worker, so the
    # outcome is exact whichever worker holds the device: per device seq 1, then the other seq 5, then
    # seq 2..10 arrive; 1, 5 (other payload), 6..10 are accepted and 2, 3, 4 and the honest 5 refused as
    # replays of a seq not above the last. Nothing is accepted twice.
    assert stored == accepted == 7 * len(keys)
    assert refused == {"report.replay": 4 * len(keys)}
    assert all(s.accepted for s in stats), stats  # both workers stored reports (8 partitions, 4 each)
    store = PostgresStore(dsn)
    try:
        rows = store._query("SELECT device_id, seq FROM reports")
        logged = store.logged_report_frame(0, 2**62)  # the workers kept their rows as report blocks too
        assert logged is not None and logged.equals(store.report_frame(0, 2**62))
    finally:
        store.close()
    assert len(rows) == len(set(rows))  # no (device, seq) twice: replay protection held across workers


def test_a_resend_after_the_window_is_deduped_by_the_database(
    network: tuple[NetworkConfig, str, BusNames],
) -> None:
    config, dsn, names = network
    (key,) = _devices(config, dsn, 1)
    now = int(time.time())
    wire = sign_report(key, "wireless.heartbeat", now, 1, HEARTBEAT).to_wire()
    asyncio.run(_publish(names, [wire]))
    _run_workers(config, dsn, names, 1)
    # past the bus window the stream takes it again (simulated by another stream); the database refuses it
    later = BusNames.prefixed("t" + uuid.uuid4().hex[:10])
    try:
        assert asyncio.run(_publish(later, [wire])) == [True]
        (stats,) = _run_workers(config, dsn, later, 1)
    finally:

        async def cleanup() -> None:
            edge = await BusEdge(NATS, later).connect()
            assert edge.js is not None
            await delete_streams(edge.js, later)
            await edge.close()

        asyncio.run(cleanup())
    stored, refused = _stored(dsn)
    assert stored == 1 and stats.accepted == 0 and refused == {"report.duplicate": 1}


def test_serve_with_the_bus_stores_what_the_http_edge_queued(
    network: tuple[NetworkConfig, str, BusNames], tmp_path: Path
) -> None:
    config, dsn, _ = network
    keys = _devices(config, dsn, 3)
    data = tmp_path / "net"
    write_template(data, makers={"m": MAKER.address})
    text = (data / "network.toml").read_text().replace('kind = "sqlite"', 'kind = "postgres"')
    text = text.replace("postgresql://postgres@127.0.0.1:5432/opendepin", dsn)
    text = text.replace("rejection_burst = 5000", "rejection_burst = 30")
    text = text.replace("rejections_per_second = 10", "rejections_per_second = 1")
    (data / "network.toml").write_text(text.replace('kind = "embedded"', 'kind = "none"'))
    # the default stream names: clear what an earlier run may have left
    asyncio.run(_clear(BusNames()))
    port, prefix = _free_port(), f"bus-{uuid.uuid4().hex[:10]}"
    log = (tmp_path / "serve.log").open("wb")
    command = [sys.executable, "-m", "opendepin", "serve", "--data-dir", str(data), "--port", str(port)]
    command += ["--mqtt", "127.0.0.1:1883", "--mqtt-prefix", prefix]
    process = subprocess.Popen([*command, "--bus", "nats", "--workers", "2"], stdout=log, stderr=log)
    answers: list[tuple[str, dict[str, object]]] = []
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"device-{prefix}")
    device.on_message = lambda _c, _u, message: answers.append((message.topic, json.loads(message.payload)))
    device.connect("127.0.0.1", 1883)
    device.loop_start()
    device.subscribe(f"{prefix}/results/#", qos=1)
    try:
        now = int(time.time())
        signed = [sign_report(k, "wireless.heartbeat", now, seq, HEARTBEAT) for k in keys for seq in (1, 2)]
        wires = [report.to_wire() for report in signed]
        body = cbor2.dumps(wires)
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/reports", body, {"content-type": "application/cbor"}
                )
                with urllib.request.urlopen(request, timeout=10) as answer:
                    batch = json.loads(answer.read())
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.3)
        # each answer names its report, as the direct gate's do
        assert batch["accepted"] == len(wires)
        assert [r["report_id"] for r in batch["results"]] == [report.report_id for report in signed]
        # a device over MQTT gets its answer on its own results topic, naming its report
        over_mqtt = sign_report(keys[0], "wireless.heartbeat", now, 3, HEARTBEAT)
        device.publish(f"{prefix}/reports/d", over_mqtt.to_wire(), qos=1).wait_for_publish()
        wires.append(over_mqtt.to_wire())
        deadline = time.monotonic() + 60
        while not answers:
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        topic, answer_body = answers[0]
        assert topic == f"{prefix}/results/{keys[0].device_id}"
        assert answer_body["report_id"] == over_mqtt.report_id and answer_body["status"] == "accepted"
        # junk and reports of devices nobody onboarded are refused at the edge, never put on the bus
        stranger = DeviceKey("ed25519", uuid.uuid4().bytes * 2)
        hostile = [b"\x00junk", sign_report(stranger, "wireless.heartbeat", now, 1, HEARTBEAT).to_wire()]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/reports", cbor2.dumps(hostile), {"content-type": "application/cbor"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            refused = json.loads(answer.read())
        assert refused["accepted"] == 0
        assert refused["results"][0]["status"].startswith("report.")
        assert refused["results"][1]["status"] == "device.unknown"
        deadline = time.monotonic() + 180  # two worker processes start under whatever load the machine has
        while _stored(dsn)[0] < len(wires):
            assert time.monotonic() < deadline, ((tmp_path / "serve.log").read_text(), _stored(dsn))
            time.sleep(0.3)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert "depin_bus_pending_messages 0" in metrics
        assert 'depin_reports_rejected_total{reason="device.unknown"} 1' in metrics  # counted at the edge
        # forged signatures of a registered device pass the edge (it checks no signature) and are refused
        # by the workers; the edge then charges them to their sender, which gets 429 as on the direct path
        forged = [
            cbor2.dumps([report.envelope_bytes, b"\x01" * 64])
            for report in (
                sign_report(keys[1], "wireless.heartbeat", now, 100 + n, HEARTBEAT) for n in range(40)
            )
        ]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/reports", cbor2.dumps(forged), {"content-type": "application/cbor"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["accepted"] == 40  # queued: the edge cannot tell
        deadline = time.monotonic() + 60
        while True:
            empty = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/reports", cbor2.dumps([]), {"content-type": "application/cbor"}
            )
            try:
                urllib.request.urlopen(empty, timeout=10).close()
            except urllib.error.HTTPError as limited:
                assert limited.code == 429 and limited.headers["Retry-After"]
                break
            assert time.monotonic() < deadline, ((tmp_path / "serve.log").read_text(), _stored(dsn))
            time.sleep(0.3)
    finally:
        device.loop_stop()
        device.disconnect()
        process.terminate()
        process.wait(timeout=60)
        # its workers stop with it (they watch their parent): nothing may keep consuming the default stream
        time.sleep(3)
        log.close()
        asyncio.run(_clear(BusNames()))
    assert _stored(dsn) == (len(wires), {"device.unknown": 1, "report.malformed": 1, "signature.invalid": 40})


async def _clear(names: BusNames) -> None:
    nc = await nats.connect(NATS)
    await delete_streams(nc.jetstream(), names)
    await nc.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_held_workers_start_up_fetch_nothing_and_keep_their_batches_as_large_as_a_lone_workers(
    network: tuple[NetworkConfig, str, BusNames],
) -> None:
    """A held worker connects and binds its partitions, says it is ready, and stores nothing until
    released; each of two workers fetches twice as many reports from each of its (half as many)
    partitions as a lone worker does."""
    config, dsn, names = network
    keys = _devices(config, dsn, 10)
    now = int(time.time())
    wires = [
        sign_report(k, "wireless.heartbeat", now, seq, HEARTBEAT).to_wire() for k in keys for seq in (1, 2)
    ]
    asyncio.run(_publish(names, wires))

    async def held() -> tuple[list[WorkerStats], int, int]:
        workers = [GateWorker(config, dsn, NATS, names, batch=50, index=i, of=2) for i in range(2)]
        hold, ready = asyncio.Event(), asyncio.Queue[int]()

        def says_ready(index: int) -> Callable[[], None]:
            return lambda: ready.put_nowait(index)

        runs = [
            asyncio.ensure_future(w.run(idle_exit_seconds=1.0, hold=hold, ready=says_ready(i)))
            for i, w in enumerate(workers)
        ]
        got = {await asyncio.wait_for(ready.get(), 30) for _ in workers}
        await asyncio.sleep(2.5)  # longer than the idle exit: a held worker neither stores nor leaves
        stored_while_held = _stored(dsn)[0]
        assert not any(run.done() for run in runs)
        hold.set()
        stats = list(await asyncio.gather(*runs))
        assert got == {0, 1}
        return stats, stored_while_held, workers[0].fetch_size

    stats, stored_while_held, fetch_size = asyncio.run(held())
    assert stored_while_held == 0
    assert sum(s.accepted for s in stats) == _stored(dsn)[0] == len(wires)
    assert fetch_size == 100  # 50 a partition for a lone worker of all 8; 4 partitions each for two
    beyond = GateWorker(config, dsn, NATS, names, batch=50, index=8, of=9)  # no partition of its own
    assert beyond.fetch_size == 50  # it takes orphans only, at the lone worker's size each
    beyond.store.close()


def test_a_connection_closed_by_its_process_is_not_reported_as_lost(caplog: pytest.LogCaptureFixture) -> None:
    """`connect_nats` logs a lost connection ("disconnected; reconnecting"), not this process closing its
    own at an orderly stop."""

    async def open_and_close() -> None:
        connection = await connect_nats(NATS)
        await connection.close()

    with caplog.at_level(logging.INFO, logger="opendepin.ingest.bus"):
        asyncio.run(open_and_close())
    assert "disconnected" not in caplog.text


def test_acknowledged_reports_leave_the_stream_after_the_duplicate_window() -> None:
    """The stream keeps what it is given until a worker has stored it and the duplicate window has passed,
    then the worker purges it: a node running for months does not keep every report it ever took on the
    bus's disk (each one did), and a re-send inside the window is still recognised by the stream."""
    config = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
    names = BusNames.prefixed("p" + uuid.uuid4().hex[:10], duplicate_window=3.0)
    with postgres_database() as dsn:
        keys = _devices(config, dsn, 10)
        now = int(time.time())
        wires = [
            sign_report(k, "wireless.heartbeat", now, seq, HEARTBEAT).to_wire()
            for k in keys
            for seq in (1, 2)
        ]

        async def scenario() -> tuple[int, int, list[bool], int]:
            nc = await connect_nats(NATS)
            js = nc.jetstream()
            stop = asyncio.Event()
            worker = GateWorker(config, dsn, NATS, names, batch=50)
            running = asyncio.ensure_future(worker.run(stop=stop))
            try:
                edge = await BusEdge(NATS, names).connect()
                assert all(await edge.publish(wires, "test"))
                deadline = time.monotonic() + 30
                while worker.stats.accepted < len(wires):
                    assert time.monotonic() < deadline, worker.stats
                    await asyncio.sleep(0.1)
                held = (await js.stream_info(names.stream)).state.messages  # stored, inside the window
                again = await edge.publish(wires[:5], "test")  # re-sent inside the window: duplicates
                while (await js.stream_info(names.stream)).state.messages and time.monotonic() < deadline:
                    await asyncio.sleep(0.3)
                left = (await js.stream_info(names.stream)).state.messages
                await edge.close()
                return held, left, again, worker.stats.accepted
            finally:
                stop.set()
                await running
                await delete_streams(js, names)
                await nc.close()

        held, left, again, accepted = asyncio.run(scenario())
    assert held == len(wires) and again == [False] * 5
    assert left == 0 and accepted == len(wires)
