"""Counters of a node's ingest and the Prometheus text it is exposed in (`GET /metrics`).

Counted in the process that gates (HTTP and MQTT ingest of `depin serve`, or a bus worker): reports
accepted by source, refused by reason, and the rate over the last minute. Refusals are also counted in the
store (`rejection_counts`), which is what `/metrics` reports, so counts from every process appear there.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opendepin.ingest.gate import GateResult

RATE_WINDOW_SECONDS = 60.0


class IngestMetrics:
    """Thread-safe counters: accepted per source, refused per reason, and accepted per second over the
    last `RATE_WINDOW_SECONDS` (batches timed on a monotonic clock)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.accepted: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.batches = 0
        self._recent: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def record(self, results: Sequence[GateResult], source: str) -> None:
        """Count one gated batch."""
        kind = source.partition(":")[0] or "local"  # `http:<address>` is counted as `http` (bounded labels)
        accepted = 0
        with self._lock:
            for result in results:
                if result.accepted:
                    accepted += 1
                else:
                    self.rejected[result.reason] = self.rejected.get(result.reason, 0) + 1
            self.accepted[kind] = self.accepted.get(kind, 0) + accepted
            self.batches += 1
            now = self.monotonic()
            self._recent.append((now, accepted))
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - RATE_WINDOW_SECONDS:
            self._recent.popleft()

    def rate(self) -> float:
        """Reports accepted per second over the last minute."""
        with self._lock:
            self._trim(self.monotonic())
            return sum(count for _, count in self._recent) / RATE_WINDOW_SECONDS


_BY_NODE: weakref.WeakKeyDictionary[Any, IngestMetrics] = weakref.WeakKeyDictionary()


def metrics_of(node: Any) -> IngestMetrics:
    """The node's ingest counters, counting every batch its ingest service gates from now on (HTTP, MQTT,
    local). Idempotent: the service is instrumented once."""
    found = _BY_NODE.get(node)
    if found is not None:
        return found
    metrics = IngestMetrics()
    service = node.ingestion
    gate = service.ingest

    def counted(wires: Sequence[bytes], source: str = "local") -> list[GateResult]:
        results: list[GateResult] = gate(wires, source)
        metrics.record(results, source)
        return results

    service.ingest = counted
    _BY_NODE[node] = metrics
    return metrics


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


class Exposition:
    """Prometheus text format 0.0.4: HELP and TYPE once per family, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[Mapping[str, str], float | int]] | float | int,
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        if isinstance(samples, (int, float)):
            samples = [({}, samples)]
        for labels, value in samples:
            text = ",".join(f'{key}="{_escape(str(v))}"' for key, v in sorted(labels.items()))
            self.lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
