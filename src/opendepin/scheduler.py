"""The epoch scheduler for a node on wall-clock time: issues the scheduled challenges of the current period
(a sector's `ChallengeKind(scheduled=True)`: audit seeds, capacity challenges) and closes every epoch whose
lateness cutoff passed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from opendepin.node import Node
from opendepin.store.base import EpochRecord

log = logging.getLogger(__name__)


class EpochScheduler:
    """A background loop that accepts a shutdown signal (`stop`) and survives a failing close."""

    def __init__(
        self,
        node: Node,
        interval_seconds: float = 10.0,
        on_close: Callable[[EpochRecord], None] | None = None,
    ) -> None:
        self.node = node
        self.interval = interval_seconds
        self.on_close = on_close
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="epoch-scheduler", daemon=True)

    def tick(self) -> list[EpochRecord]:
        """Issue the current period's scheduled challenges (so a period's audit seed exists even when nobody
        asks for it, e.g. after the last result of an epoch) and close what is due now; an error is logged
        and retried at the next tick (nothing half-written)."""
        try:
            self.node.challenges.issue_due()
        except Exception:
            log.exception("issuing the scheduled challenges failed; will retry")
        try:
            closed = self.node.close_due_epochs()
        except Exception:
            log.exception("closing an epoch failed; will retry")
            return []
        for record in closed:
            log.info("closed epoch %s root %s", record.number, record.manifest.get("root"))
            if self.on_close is not None:
                self.on_close(record)
        return closed

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)

    def start(self) -> EpochScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
