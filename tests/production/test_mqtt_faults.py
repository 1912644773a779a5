"""Fault suite, MQTT: Mosquitto killed with SIGKILL while devices send through it to the node's bridge.

A broker without persistence loses on SIGKILL whatever it held (reports it acknowledged to a device but had
not delivered, verdicts on their way back). A device's PUBACK comes from the broker, not the node, so what
a device relies on is its verdict on `PREFIX/results/DEVICE`: it re-sends a report (the same bytes) until a
verdict comes back, and sends its next report only then (its reports reach the bridge in seq order; the
bridge stores a batch before acknowledging it). A re-send of a stored report is answered `report.duplicate`.

Exact counts: every report is stored once, no refusal but `report.duplicate` (no replay: the order held),
and no report is accepted twice. Also `depin load --mqtt` through the same bridge. A private Mosquitto on a
free port; the node in this process over SQLite."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from opendepin.clock import SystemClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.fleet.load import LoadSpec, maker_address, run_load
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.mqtt import MqttIngest
from opendepin.node import Node
from opendepin.reports.envelope import SignedReport, sign_report
from opendepin.server import BackgroundServer
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request
from tests.production.servers import PrivateServer, find_binary, mosquitto

pytestmark = [
    pytest.mark.integration,  # a private Mosquitto
    pytest.mark.skipif(find_binary("mosquitto") is None, reason="no mosquitto binary (see README)"),
]

HEARTBEAT = {"lat": 52.52, "lon": 13.405}
DEVICES, PER_DEVICE = 8, 40
RESEND_SECONDS = 1.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateServer]:
    server = mosquitto(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


class Devices:
    """Devices sharing one MQTT connection, each sending its reports one at a time until answered."""

    def __init__(self, port: int, prefix: str) -> None:
        self.prefix = prefix
        self.verdicts: dict[str, list[str]] = {}
        self.answered = threading.Condition()
        self.sends = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"devices-{uuid.uuid4().hex[:8]}")
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/results/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        verdict = json.loads(message.payload)
        with self.answered:
            self.verdicts.setdefault(str(verdict["report_id"]), []).append(str(verdict["status"]))
            self.answered.notify_all()

    def send_until_answered(self, report_id: str, wire: bytes, deadline: float) -> str:
        while True:
            self.client.publish(f"{self.prefix}/reports/dev", wire, qos=1)
            with self.answered:
                self.sends += 1
                if self.answered.wait_for(lambda: report_id in self.verdicts, RESEND_SECONDS):
                    return self.verdicts[report_id][0]
            assert time.monotonic() < deadline, "no verdict for a report re-sent for a minute"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_mosquitto_killed_under_traffic_loses_nothing_and_counts_nothing_twice(
    broker: PrivateServer, tmp_path: Path
) -> None:
    config = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
    store = SQLiteStore(tmp_path / "node.sqlite3")
    node = Node(config, store, SystemClock())
    keys = [DeviceKey("ed25519", bytes([13, i]) + b"\x04" * 30) for i in range(DEVICES)]
    for key in keys:
        node.onboard(onboard_request(config.name, key))
    prefix = f"f{uuid.uuid4().hex[:8]}"
    bridge = MqttIngest(node, port=broker.port, prefix=prefix, client_id=f"bridge-{prefix}")
    bridge.client.reconnect_delay_set(0.1, 0.5)
    bridge.start()
    devices = Devices(broker.port, prefix)
    now = int(time.time())
    seqs = range(1, PER_DEVICE + 1)
    kind = "wireless.heartbeat"
    reports = {k.device_id: [sign_report(k, kind, now, s, HEARTBEAT) for s in seqs] for k in keys}
    first: dict[str, str] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + 120

    def device(mine: list[SignedReport]) -> None:
        for signed in mine:
            status = devices.send_until_answered(signed.report_id, signed.to_wire(), deadline)
            with lock:
                first[signed.report_id] = status

    threads = [threading.Thread(target=device, args=(mine,)) for mine in reports.values()]
    for thread in threads:
        thread.start()
    try:
        total = DEVICES * PER_DEVICE
        while len(first) < total // 3:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        broker.kill()  # mid-traffic: reports and verdicts in flight inside the broker are lost
        killed_at = len(first)
        time.sleep(1.0)
        broker.start()
        for thread in threads:
            thread.join(timeout=150)
        assert not any(t.is_alive() for t in threads)
    finally:
        devices.close()
        bridge.stop()
    stored = store._query("SELECT device_id, seq FROM reports")
    refused = store.rejection_counts(0, 2**62)
    store.close()
    assert killed_at < total
    assert len(first) == total and set(first.values()) <= {"accepted", "report.duplicate"}
    assert len(stored) == len(set(stored)) == total  # every report once: nothing lost, nothing twice
    assert set(refused) <= {"report.duplicate"}  # no report.replay: the devices' order held
    # verdicts travel at least once (QoS 1): the bridge's client re-sends a verdict the killed broker did not
    # acknowledge, so a device may read one "accepted" twice; what counts is the store, which holds each
    # report once (above); every verdict a device read says stored, now or before
    for statuses in devices.verdicts.values():
        assert set(statuses) <= {"accepted", "report.duplicate"}, statuses
    assert devices.sends > total  # the kill made devices re-send


def test_depin_load_over_mqtt_gets_every_verdict(broker: PrivateServer, tmp_path: Path) -> None:
    seed = 9
    config = NetworkConfig(makers=[MakerConfig(name="load", address=maker_address(seed))])
    store = SQLiteStore(tmp_path / "node.sqlite3")
    node = Node(config, store, SystemClock())
    prefix = f"l{uuid.uuid4().hex[:8]}"
    bridge = MqttIngest(node, port=broker.port, prefix=prefix, client_id=f"bridge-{prefix}").start()
    try:
        with BackgroundServer(node) as server:
            spec = LoadSpec(
                devices=10,
                rate=100.0,
                duration=1.0,
                node_url=server.url,
                mqtt=("127.0.0.1", broker.port),
                mqtt_prefix=prefix,
                seed=seed,
                batch=10,
            )
            stats = run_load(spec, config)
    finally:
        bridge.stop()
    count = store.count_reports(0, 2**40)
    store.close()
    assert stats.sent == 100 and stats.accepted == 100 and not stats.refused and not stats.errors
    assert count == 100 and len(stats.latencies) == 100
