"""Fault suite, the bus: nats-server killed with SIGKILL while an edge has publishes in flight. The edge
re-sends every report whose publish acknowledgement it did not get (as a device re-sends what its node did
not acknowledge), first inside the duplicate window, then a re-send of reports already stored past it.

Exact counts: the stream holds each report once plus exactly the re-sends made past the window (the
dedup state survived the kill), the database stores every report once, and refuses exactly those
past-window re-sends as `report.duplicate`. Runs against a private nats-server (free port, temporary
store) and a throw-away database on the machine's PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import nats
import pytest

from opendepin.ingest.bus import RECEIVED_HEADER, SOURCE_HEADER, BusNames, ensure_streams, message_id, route
from opendepin.ingest.worker import GateWorker
from opendepin.store.postgres import PostgresStore
from tests.production.servers import PrivateServer, find_binary, nats_server
from tests.production.signed import CONFIG, onboarded_heartbeats
from tests.store.pg import postgres_database

pytestmark = [
    pytest.mark.integration,  # a private nats-server and the machine's PostgreSQL
    pytest.mark.skipif(find_binary("nats-server") is None, reason="no nats-server binary (see README)"),
]

WINDOW = 8.0  # the stream's duplicate window here (one hour in production)
DEVICES, PER_DEVICE = 100, 10
LATE_RESENDS = 25
CHUNK = 20


async def _publish_until_acked(js: object, names: BusNames, wires: list[bytes]) -> tuple[int, int, int]:
    """Publish each report until JetStream acknowledges it (re-sending whatever failed, in order, every
    0.2 s); returns (acknowledged as new, acknowledged as duplicates, re-sends)."""
    new = duplicate = resent = 0
    waiting = list(wires)
    while waiting:
        answers = await asyncio.gather(
            *(
                js.publish(  # type: ignore[attr-defined]
                    names.partition_subject(route(wire, names.partitions)[1]),
                    wire,
                    timeout=1.0,
                    headers={
                        "Nats-Msg-Id": message_id(wire),
                        SOURCE_HEADER: "fault-test",
                        RECEIVED_HEADER: str(int(time.time() * 1000)),
                    },
                )
                for wire in waiting
            ),
            return_exceptions=True,
        )
        failed = []
        for wire, answer in zip(waiting, answers, strict=True):
            if isinstance(answer, BaseException):
                failed.append(wire)
            elif answer.duplicate:
                duplicate += 1
            else:
                new += 1
        waiting = failed
        resent += len(failed)
        if waiting:
            await asyncio.sleep(0.2)
    return new, duplicate, resent


async def _scenario(server: PrivateServer, names: BusNames, wires: list[bytes]) -> dict[str, int]:
    url = f"nats://127.0.0.1:{server.port}"
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    await ensure_streams(js, names)
    half = len(wires) // 2
    first = await _publish_until_acked(js, names, wires[:half])
    # the second half: publishes in flight when the server dies (some stored and acknowledged, some stored
    # with the acknowledgement lost, some never received); the edge re-sends until acknowledged
    # the second half in chunks of CHUNK, one in flight at a time, while another thread kills the server
    # once a quarter of them is acknowledged (a chunk in flight: some stored and acknowledged, some stored
    # with the acknowledgement lost, some never received) and restarts it 1.5 s later; every chunk is
    # re-sent until acknowledged
    acked = [0]
    rest = wires[half:]

    def crash() -> None:
        while acked[0] < len(rest) // 4:
            time.sleep(0.001)
        server.kill()
        time.sleep(1.5)
        server.start()

    killer = threading.Thread(target=crash)
    killer.start()
    began = time.monotonic()
    second = [0, 0, 0]
    for start in range(0, len(rest), CHUNK):
        counts = await _publish_until_acked(js, names, rest[start : start + CHUNK])
        second = [a + b for a, b in zip(second, counts, strict=True)]
        acked[0] += CHUNK
    inside = time.monotonic() - began
    await asyncio.get_running_loop().run_in_executor(None, killer.join)
    info = await js.stream_info(names.stream)
    after_crash = int(info.state.messages)
    # past the window: reports already stored are sent again; the stream takes them, the database refuses
    await asyncio.sleep(WINDOW + 1.0)
    late = await _publish_until_acked(js, names, wires[:LATE_RESENDS])
    info = await js.stream_info(names.stream)
    await nc.close()
    return {
        "new": first[0] + second[0] + late[0],
        "duplicate": first[1] + second[1] + late[1],
        "late_new": late[0],
        "after_crash": after_crash,
        "stream": int(info.state.messages),
        "retry_seconds": round(inside),
        "resent": second[2],
    }


def test_nats_killed_mid_publish_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    server = nats_server(tmp_path).start()
    names = BusNames.prefixed("k" + uuid.uuid4().hex[:10], ack_wait=5.0, duplicate_window=WINDOW)
    try:
        with postgres_database() as dsn:
            wires = onboarded_heartbeats(dsn, 11, DEVICES, PER_DEVICE)
            counts = asyncio.run(_scenario(server, names, wires))
            assert counts["resent"] > 0, counts  # the kill caught publishes in flight
            assert counts["retry_seconds"] < WINDOW, counts  # the re-sends all fell inside the window
            # the kill kept the dedup state: the stream holds every report once, nothing lost
            assert counts["after_crash"] == len(wires), counts
            # past the window the stream took each late re-send as new
            assert counts["late_new"] == LATE_RESENDS and counts["stream"] == len(wires) + LATE_RESENDS
            worker = GateWorker(CONFIG, dsn, f"nats://127.0.0.1:{server.port}", names, batch=100)
            stats = asyncio.run(worker.run(idle_exit_seconds=3.0))
            store = PostgresStore(dsn)
            try:
                stored = store._query("SELECT device_id, seq FROM reports")
                refused = store.rejection_counts(0, 2**62)
            finally:
                store.close()
    finally:
        server.stop()
    assert len(stored) == len(set(stored)) == len(wires) == stats.accepted  # nothing lost, nothing twice
    assert refused == {"report.duplicate": LATE_RESENDS}  # exactly the re-sends past the window
