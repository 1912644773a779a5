"""MQTT ingest against the machine's real Mosquitto broker (127.0.0.1:1883)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import cbor2
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from opendepin.clock import SimulatedClock
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.mqtt import MqttIngest, split_message
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from tests.conftest import onboard_request

pytestmark = pytest.mark.integration


def _publisher() -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    return client


def _wait(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the broker")
        time.sleep(0.02)


def test_split_message() -> None:
    one = sign_report(DeviceKey("ed25519", bytes(32)), "k", 1, 1, {}).to_wire()
    assert split_message(one, 10) == [one]
    assert split_message(cbor2.dumps([one, one]), 10) == [one, one]
    assert split_message(b"junk", 10) == [b"junk"]
    tagged = cbor2.dumps([cbor2.CBORTag(35, "a" * 1000), one])  # a costly tag is never interpreted
    assert split_message(tagged, 10) == [tagged]
    assert split_message(cbor2.dumps([one] * 11), 10) == [cbor2.dumps([one] * 11)]  # over the batch bound


def test_reports_over_mqtt_are_gated_stored_and_answered(
    node: Node, clock: SimulatedClock, device_key: DeviceKey
) -> None:
    node.onboard(onboard_request(node.config.name, device_key))
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    ingest = MqttIngest(node, prefix=prefix, client_id=f"ingest-{prefix}").start()
    results: list[dict[str, object]] = []
    lock = threading.Lock()
    listener = _publisher()

    def on_result(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            results.append(json.loads(message.payload))

    listener.on_message = on_result
    listener.subscribe(f"{prefix}/results/#", qos=1)
    time.sleep(0.2)
    now = clock.now()
    good = [
        sign_report(device_key, HEARTBEAT, now, 10 + i, {"lat": 52.52, "lon": 13.4}).to_wire()
        for i in range(5)
    ]
    try:
        listener.publish(f"{prefix}/reports/a", good[0], qos=1).wait_for_publish()
        listener.publish(f"{prefix}/reports/a", cbor2.dumps(good[1:]), qos=1).wait_for_publish()
        listener.publish(f"{prefix}/reports/a", good[0], qos=1).wait_for_publish()
        listener.publish(f"{prefix}/reports/a", b"\x00junk", qos=1).wait_for_publish()
        _wait(lambda: len(results) >= 7)
    finally:
        ingest.stop()
        listener.loop_stop()
        listener.disconnect()
    statuses = sorted(str(r["status"]) for r in results)
    assert statuses == ["accepted"] * 5 + ["report.duplicate", "report.malformed"]
    assert node.store.count_reports(0, 2**40) == 5


def test_reports_published_while_node_is_down_are_not_lost(
    node: Node, clock: SimulatedClock, device_key: DeviceKey
) -> None:
    node.onboard(onboard_request(node.config.name, device_key))
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    client_id = f"ingest-{prefix}"
    MqttIngest(node, prefix=prefix, client_id=client_id).start().stop()  # creates the persistent session
    publisher = _publisher()
    now = clock.now()
    try:
        for i in range(20):
            wire = sign_report(device_key, HEARTBEAT, now, 100 + i, {"lat": 52.52, "lon": 13.4}).to_wire()
            publisher.publish(f"{prefix}/reports/x", wire, qos=1).wait_for_publish()
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    ingest = MqttIngest(node, prefix=prefix, client_id=client_id).start()
    try:
        _wait(lambda: node.store.count_reports(0, 2**40) == 20)
    finally:
        ingest.stop()


def _claiming(device: str, seq: int) -> bytes:
    """A report whose envelope claims `device` (any text), signed by a key that is not its."""
    signed = sign_report(DeviceKey("ed25519", b"\x07" * 32), HEARTBEAT, 1_800_000_000, seq, {"lat": 1.0})
    envelope = cbor2.loads(signed.envelope_bytes)
    envelope["device"] = device
    return cbor2.dumps([cbor2.dumps(envelope, canonical=True), signed.signature])


def test_a_claimed_device_id_never_names_a_topic(
    node: Node, clock: SimulatedClock, device_key: DeviceKey
) -> None:
    """Verdicts of reports whose device is not established (claimed ids with MQTT wildcards, 250 topic
    levels, a victim's id under a forged signature) go to `results/unknown`; the bridge goes on ingesting
    after them (a wildcard in a result topic ended its network thread for good)."""
    node.onboard(onboard_request(node.config.name, device_key))
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    ingest = MqttIngest(node, prefix=prefix, client_id=f"ingest-{prefix}").start()
    topics: list[str] = []
    lock = threading.Lock()
    listener = _publisher()

    def on_result(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            topics.append(message.topic)

    listener.on_message = on_result
    listener.subscribe(f"{prefix}/results/#", qos=1)
    time.sleep(0.2)
    hostile = [
        _claiming("x#", 1),
        _claiming("a+b", 2),
        _claiming("a/" * 250, 3),
        _claiming(device_key.device_id, 4),
    ]
    good = sign_report(device_key, HEARTBEAT, clock.now(), 10, {"lat": 52.52, "lon": 13.4}).to_wire()
    try:
        for wire in hostile:
            listener.publish(f"{prefix}/reports/a", wire, qos=1).wait_for_publish()
        listener.publish(f"{prefix}/reports/a", good, qos=1).wait_for_publish()
        _wait(lambda: len(topics) >= 5)
    finally:
        ingest.stop()
        listener.loop_stop()
        listener.disconnect()
    assert sorted(topics) == sorted(
        [f"{prefix}/results/unknown"] * 4 + [f"{prefix}/results/{device_key.device_id}"]
    )
    assert node.store.count_reports(0, 2**40) == 1
    assert ingest.processed == 5
