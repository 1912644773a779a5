from __future__ import annotations

from opendepin.clock import SimulatedClock
from opendepin.node import Node
from opendepin.scheduler import EpochScheduler


def test_tick_closes_due_epochs_in_order(node: Node, clock: SimulatedClock) -> None:
    closed: list[int] = []
    scheduler = EpochScheduler(node, on_close=lambda record: closed.append(record.number))
    assert scheduler.tick() == []
    clock.set(clock.now() + 3 * 86_400 + node.config.epochs.lateness_seconds)
    assert [r.number for r in scheduler.tick()] == [0, 1, 2]
    assert closed == [0, 1, 2] and node.next_epoch == 3


def test_background_loop_stops(node: Node, clock: SimulatedClock) -> None:
    clock.set(clock.now() + 86_400 + node.config.epochs.lateness_seconds)
    scheduler = EpochScheduler(node, interval_seconds=0.01).start()
    import time

    deadline = time.monotonic() + 5
    while node.next_epoch == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.stop()
    assert node.store.epoch_numbers() == [0]
