"""Ingest latency while an epoch closes: the same small batches timed with the node idle and while it
computes an epoch of many reports in the background (target: median during ≤ 2 × median idle)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.attestation import (
    Attestation,
    LocationAssertion,
    attestation_message,
    location_message,
)
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.node import EpochProcess, Node, OnboardRequest
from opendepin.reports.envelope import sign_report
from opendepin.store.sqlite import SQLiteStore

HOUR = 3_600
KIND = "wireless.heartbeat"


def onboard(node: Node, keys: list[DeviceKey], maker: Wallet, owner: Wallet) -> None:
    cell = "8c1f1d48945d9ff"
    for key in keys:
        attestation = Attestation(
            key.device_id,
            owner.address,
            maker.address,
            maker.sign_text(attestation_message(node.config.name, key.device_id, owner.address)),
        )
        location = LocationAssertion(
            key.device_id,
            cell,
            1,
            owner.sign_text(location_message(node.config.name, key.device_id, cell, 1)),
        )
        node.onboard(OnboardRequest(attestation, location))


def timed_batches(node: Node, batches: list[list[bytes]]) -> list[float]:
    latencies = []
    for wires in batches:
        started = time.perf_counter()
        results = node.ingest(wires)
        latencies.append(time.perf_counter() - started)
        assert all(r.accepted for r in results), {r.reason for r in results}
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument(
        "--in-thread",
        dest="process",
        action="store_false",
        help="close in a thread of the node (as tests do)",
    )
    args = parser.parse_args()
    maker, owner = Wallet(b"\x01" * 32), Wallet(b"\x02" * 32)
    config = NetworkConfig(makers=[MakerConfig(name="bench", address=maker.address)])
    keys = [DeviceKey("ed25519", i.to_bytes(32, "big")) for i in range(1, args.devices + 1)]
    genesis = config.epochs.genesis_ts
    with tempfile.TemporaryDirectory() as tmp:
        clock = SimulatedClock(genesis)
        process = EpochProcess(Path(tmp)) if args.process else None
        node = Node(config, SQLiteStore(Path(tmp) / config.store.path), clock, process)
        onboard(node, keys, maker, owner)
        for hour in range(24):  # the epoch to close: a heartbeat per device and hour
            ts = genesis + hour * HOUR + 30
            clock.set(ts + 1)
            wires = [sign_report(k, KIND, ts, ts, {"lat": 52.5201, "lon": 13.4051}).to_wire() for k in keys]
            node.ingest(wires)
        start = genesis + 86_400 + config.epochs.lateness_seconds
        clock.set(start)
        reports = node.store.count_reports(genesis, genesis + 86_400)
        seq = start * 10

        def batch(number: int) -> list[bytes]:
            chosen = keys[(number * args.batch) % len(keys) :][: args.batch]
            ts = start - 10
            payload = {"lat": 52.5201, "lon": 13.4051}
            return [sign_report(k, KIND, ts, seq + number, payload).to_wire() for k in chosen]

        idle = timed_batches(node, [batch(b) for b in range(args.batches)])
        during: list[float] = []
        closing = threading.Thread(target=node.close_epoch, args=(0,))
        before_close = time.perf_counter()
        closing.start()
        number = args.batches
        while closing.is_alive():
            wires = batch(number)  # signed outside the timed call, as a device would
            during.extend(timed_batches(node, [wires]))
            number += 1
        closing.join()
        close_s = time.perf_counter() - before_close
        node.store.close()
        if process is not None:
            process.shutdown()
    idle_ms, during_ms = statistics.median(idle) * 1e3, statistics.median(during) * 1e3
    print(f"epoch of {reports:,} reports from {args.devices:,} devices closed in {close_s:.2f} s")
    print(
        f"ingest of {args.batch} reports: median {idle_ms:.1f} ms idle, {during_ms:.1f} ms during the close "
        f"({len(during)} batches)"
    )
    print(f"ratio during/idle: {during_ms / idle_ms:.2f} (target ≤ 2)")


if __name__ == "__main__":
    main()
