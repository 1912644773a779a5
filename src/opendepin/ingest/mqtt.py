"""MQTT ingest adapter: signed reports over MQTT as over HTTP (docs/architecture.md).

Devices publish a signed report (the CBOR wire form) or a CBOR array of them to
`{prefix}/reports/{anything}` with QoS 1. The adapter keeps a persistent session (clean_session=False,
fixed client id) so the broker queues reports while the node is down, runs them through the same gate
as HTTP, and sends the PUBACK only after the batch is durably stored (manual acknowledgement): a crash
before the store commit makes the broker redeliver, and the store's idempotency by report id absorbs
the repeat. Each report's verdict is published to `{prefix}/results/{device id}` as JSON.
"""

from __future__ import annotations

import json
import logging
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from opendepin.errors import ServiceUnavailable
from opendepin.node import Node
from opendepin.reports.envelope import BatchError, split_batch

log = logging.getLogger(__name__)


def split_message(payload: bytes, max_items: int) -> list[bytes]:
    """One signed report `[envelope, signature]`, or a CBOR array of signed reports (a batch).

    Both are CBOR arrays of byte strings; a report's first element is an envelope (a CBOR map, major type
    5), a batch's elements are reports (CBOR arrays, major type 4). Split without a general CBOR decoder
    (no tag is interpreted, cost linear in the items); anything else goes to the gate whole, which names
    it (`report.malformed`, `report.too_large`).
    """
    try:
        items = split_batch(payload, max_items)
    except BatchError:
        return [payload]
    if not items or (items[0][:1] and items[0][0] >> 5 == 5):
        return [payload]
    return items


class MqttIngest:
    """Subscribe, gate, store, then acknowledge."""

    def __init__(
        self,
        node: Node,
        host: str = "127.0.0.1",
        port: int = 1883,
        prefix: str = "depin",
        client_id: str = "opendepin-ingest",
    ) -> None:
        self.node = node
        self.prefix = prefix
        self.processed = 0
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, manual_ack=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.host, self.port = host, port

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object = None
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.error("the MQTT broker at %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        client.subscribe(f"{self.prefix}/reports/#", qos=1)
        self._connected.set()

    def _on_message(self, client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        wires = split_message(bytes(message.payload), self.node.config.ingest.max_batch)
        try:
            results = self.node.ingest(wires, source="mqtt")  # the broker knows its clients; we do not
        except Exception:
            log.exception("storing an MQTT batch failed; not acknowledging it, the broker will redeliver")
            return
        for result in results:
            device = result.device_id or "unknown"
            body = {"status": result.reason, "message": result.message, "report_id": result.report_id}
            client.publish(f"{self.prefix}/results/{device}", json.dumps(body), qos=1)
        self.processed += len(results)
        client.ack(message.mid, message.qos)

    def start(self, timeout: float = 10.0) -> MqttIngest:
        """Connect and subscribe; a broker that cannot be reached, or does not accept the connection within
        `timeout` seconds, is a ServiceUnavailable naming it."""
        try:
            self.client.connect(self.host, self.port)
        except OSError as error:
            raise ServiceUnavailable(
                f"no MQTT broker at {self.host}:{self.port} ({error.strerror or error}); start one (e.g. "
                "Mosquitto) or leave out --mqtt"
            ) from None
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.stop()
            raise ServiceUnavailable(
                f"the MQTT broker at {self.host}:{self.port} did not accept the connection"
            )
        return self

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
