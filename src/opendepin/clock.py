"""Clocks passed into the shell (the core never reads time itself)."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> int:
        return int(time.time())


class SimulatedClock:
    """A clock that the simulation moves forward explicitly (used by `depin up` to accelerate time)."""

    def __init__(self, start: int) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            return self._now

    def set(self, value: int) -> None:
        with self._lock:
            if value < self._now:
                raise ValueError("a simulated clock never goes backwards")
            self._now = value

    def advance(self, seconds: int) -> int:
        with self._lock:
            self._now += seconds
            return self._now
