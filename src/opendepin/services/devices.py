"""The device registry as the node's services share it: an in-memory view of the store's devices."""

from __future__ import annotations

import threading

from opendepin.sectors.base import DeviceInfo
from opendepin.store.base import Store


class DeviceRegistry:
    """Registered devices by id (read by the ingest gate for every report, so kept in memory)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceInfo] = store.devices()

    def get(self, device_id: str) -> DeviceInfo | None:
        return self._devices.get(device_id)

    def snapshot(self) -> dict[str, DeviceInfo]:
        """A copy that later registrations do not change."""
        with self._lock:
            return dict(self._devices)

    def view(self) -> dict[str, DeviceInfo]:
        """The live mapping (read-only use: the gate reads it without copying)."""
        return self._devices

    def add(self, device: DeviceInfo) -> None:
        with self._lock:
            self._devices[device.device_id] = device
