"""What the bus fault tests start from: a network with one maker, devices onboarded in a PostgreSQL store,
and their signed heartbeats (every device's seqs 1…n, device by device within each seq)."""

from __future__ import annotations

import time

from opendepin.clock import SystemClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.store.postgres import PostgresStore
from tests.conftest import MAKER, onboard_request

CONFIG = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
HEARTBEAT = {"lat": 52.52, "lon": 13.405}


def onboarded_heartbeats(dsn: str, key_tag: int, devices: int, per_device: int) -> list[bytes]:
    """Onboard `devices` ed25519 devices (keys told apart from other tests' by `key_tag`) in the store at
    `dsn`, and return their signed heartbeats stamped now: seqs 1…per_device, each seq for every device."""
    store = PostgresStore(dsn)
    try:
        node = Node(CONFIG, store, SystemClock())
        keys = [DeviceKey("ed25519", bytes([key_tag, i]) + bytes([key_tag]) * 30) for i in range(devices)]
        for key in keys:
            node.onboard(onboard_request(CONFIG.name, key))
    finally:
        store.close()
    now = int(time.time())
    return [
        sign_report(k, "wireless.heartbeat", now, seq, HEARTBEAT).to_wire()
        for seq in range(1, per_device + 1)
        for k in keys
    ]
