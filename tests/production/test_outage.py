"""Fault suite, an outage longer than the bus's duplicate window: no gate worker runs while reports wait on
the stream for longer than the window (two seconds here, one hour in production).

The alert is raised (a warning in the log, `depin_bus_outage_alert 1` in the metrics) once the oldest
waiting report is older than the window, and cleared when the backlog is drained. Devices re-sending
after the window are stored on the stream again (the bus no longer deduplicates them). Exact counts: every
report stored once, exactly the re-sends refused as `report.duplicate`, nothing skipped. A private
nats-server and a throw-away database on the machine's PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import pytest

from opendepin.api.routes.metrics import render_metrics
from opendepin.clock import SystemClock
from opendepin.ingest.bus import BusEdge, BusNames, OutageWatch
from opendepin.ingest.worker import GateWorker
from opendepin.node import Node
from opendepin.store.postgres import PostgresStore
from tests.production.servers import find_binary, nats_server
from tests.production.signed import CONFIG, onboarded_heartbeats
from tests.store.pg import postgres_database

pytestmark = [
    pytest.mark.integration,  # a private nats-server and the machine's PostgreSQL
    pytest.mark.skipif(find_binary("nats-server") is None, reason="no nats-server binary (see README)"),
]

WINDOW = 2.0
RESENDS = 30


def _metric(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


def test_an_outage_longer_than_the_window_raises_the_alert_and_skips_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = nats_server(tmp_path).start()
    url = f"nats://127.0.0.1:{server.port}"
    names = BusNames.prefixed("o" + uuid.uuid4().hex[:10], ack_wait=5.0, duplicate_window=WINDOW)
    watch = OutageWatch(WINDOW)
    try:
        with postgres_database() as dsn:
            wires = onboarded_heartbeats(dsn, 19, 20, 5)
            store = PostgresStore(dsn)
            node = Node(CONFIG, store, SystemClock())  # its metrics, as a node's /metrics renders them

            async def outage() -> dict[str, object]:
                edge = await BusEdge(url, names).connect()
                try:
                    assert (await edge.publish(wires, "outage")) == [True] * len(wires)
                    early = watch.observe(await edge.oldest_pending_age())
                    await asyncio.sleep(WINDOW + 1.0)  # no worker runs: the outage outlasts the window
                    with caplog.at_level(logging.WARNING, logger="opendepin.ingest.bus"):
                        late = watch.observe(await edge.oldest_pending_age())
                    during_metrics = render_metrics(node, await edge.pending(), watch.age, watch.alert)
                    resent = await edge.publish(wires[:RESENDS], "outage")  # devices re-send, past the window
                    worker = GateWorker(CONFIG, dsn, url, names, batch=50)
                    stats = await worker.run(idle_exit_seconds=3.0)
                    with caplog.at_level(logging.WARNING, logger="opendepin.ingest.bus"):
                        cleared = watch.observe(await edge.oldest_pending_age())
                    after_metrics = render_metrics(node, await edge.pending(), watch.age, watch.alert)
                    return {
                        "early": early,
                        "late": late,
                        "cleared": cleared,
                        "resent_new": resent.count(True),
                        "accepted": stats.accepted,
                        "during": during_metrics,
                        "after": after_metrics,
                    }
                finally:
                    await edge.close()

            found = asyncio.run(outage())
            stored = store._query("SELECT device_id, seq FROM reports")
            refused = store.rejection_counts(0, 2**62)
            store.close()
    finally:
        server.stop()
    assert found["early"] is False and found["late"] is True and found["cleared"] is False
    warnings = [r.getMessage() for r in caplog.records if r.name == "opendepin.ingest.bus"]
    assert any(m.startswith("bus outage alert: the oldest report") for m in warnings), warnings
    assert any(m.startswith("bus outage alert cleared") for m in warnings), warnings
    during, after = str(found["during"]), str(found["after"])
    assert _metric(during, "depin_bus_outage_alert") == 1
    assert _metric(during, "depin_bus_oldest_pending_seconds") > WINDOW
    assert _metric(during, "depin_bus_pending_messages") == len(wires)
    assert _metric(after, "depin_bus_outage_alert") == 0 and _metric(after, "depin_bus_pending_messages") == 0
    assert found["resent_new"] == RESENDS  # past the window the bus took every re-send again
    assert len(stored) == len(set(stored)) == len(wires) == found["accepted"]  # nothing skipped, none twice
    assert refused == {"report.duplicate": RESENDS}  # exactly the re-sends
