"""MQTT ingest adapter: signed reports over MQTT as over HTTP (docs/architecture.md).

Devices publish a signed report (the CBOR wire form) or a CBOR array of them to
`{prefix}/reports/{anything}` with QoS 1. The adapter keeps a persistent session (clean_session=False,
a client id fixed for its data dir) so the broker queues reports while the node is down, runs them through
the same gate as HTTP, and sends the PUBACK only after the batch is durably stored (manual acknowledgement):
a crash before the store commit makes the broker redeliver, and the store's idempotency by report id absorbs
the repeat. Each report's verdict is published as JSON to `{prefix}/results/{device id}` when the device is
established (signature verified, or accepted), else to `{prefix}/results/unknown` (`results_topic_device`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from opendepin.errors import ServiceUnavailable
from opendepin.ingest.gate import GateResult
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


DEVICE_TOPIC_LEVEL = re.compile(r"[a-z0-9]{1,16}:[0-9a-f]{1,256}")
"""What a device id must look like to name an MQTT topic level: a key type and a lower-case hex key (no
wildcard `+`/`#`, no `/`, no NUL, bounded length)."""


def results_topic_device(result: GateResult) -> str:
    """Rule: the topic level under `{prefix}/results/` a verdict is published on. A report's own device's
    level only when that device is established: the gate verified the signature with its registered key
    (`authenticated`), or the report was accepted (on the bus, the edge's queued answer for a registered
    device); every other verdict (undecodable bytes, an unknown device, a forged signature) goes to
    `unknown`. A claimed id is free to make: used as a topic level it let one message carry an MQTT wildcard
    (`x#`: the publish raised, and the bridge's network thread died for good, the message redelivered on
    every restart) or 250 levels (the broker dropped the bridge once a second), and let anyone publish
    verdicts on a victim's results topic."""
    device = result.device_id
    established = result.authenticated or result.accepted
    if established and device is not None and DEVICE_TOPIC_LEVEL.fullmatch(device):
        return device
    return "unknown"


def default_client_id(network: str, data_dir: str, prefix: str) -> str:
    """The bridge's MQTT client id: stable for one data dir, network and topic prefix (the broker keeps that
    persistent session's queue across restarts), distinct between nodes sharing a broker (one fixed id made
    two nodes take each other's session over)."""
    digest = hashlib.sha256(f"{network}|{data_dir}|{prefix}".encode()).hexdigest()[:16]
    return f"opendepin-ingest-{digest}"


class MqttIngest:
    """Subscribe, gate, store, then acknowledge."""

    def __init__(
        self,
        node: Node,
        host: str = "127.0.0.1",
        port: int = 1883,
        prefix: str = "depin",
        client_id: str | None = None,
    ) -> None:
        """`client_id`: the persistent session's id (default: `default_client_id` of the node's network and
        store, and `prefix`)."""
        self.node = node
        self.prefix = prefix
        self.processed = 0
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or default_client_id(node.config.name, _store_name(node), prefix),
            clean_session=False,
            manual_ack=True,
        )
        # an exception in a callback is logged, not raised out of the network thread (which it ends: MQTT
        # ingest then stops while the node looks healthy)
        self.client.suppress_exceptions = True
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
        client.ack(message.mid, message.qos)  # stored: the broker may forget it, whatever happens next
        self.processed += len(results)
        for result in results:
            body = {"status": result.reason, "message": result.message, "report_id": result.report_id}
            topic = f"{self.prefix}/results/{results_topic_device(result)}"
            try:
                client.publish(topic, json.dumps(body), qos=1)
            except (ValueError, TypeError, OSError) as error:  # pragma: no cover - the topic level is checked
                log.warning("an MQTT result could not be published on %r: %s", topic[:200], error)

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


def _store_name(node: Node) -> str:
    """What tells this node's store apart from another's on the same machine: its file or its DSN."""
    store = node.store
    path = getattr(store, "path", None)
    return os.path.abspath(path) if path else str(getattr(store, "dsn", None) or id(store))
