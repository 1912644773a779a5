"""Ingest throughput: signed reports fully gated (decode, device, signature, replay, window, schema) and
stored durably in SQLite by one process, per second — next to bare ed25519 verification of the same
reports on one core (PyNaCl, one call per signature), measured in the same run (target ratio ≥ 0.6).

The node checks a batch's ed25519 signatures with libsodium in one compiled call (ingest/signatures.py), on
a second thread while it decodes and gates, and stores each gated chunk while the next one's signatures
are checked (prepared once at start, as `depin serve` does: the kernel compiled, the GIL handed over every
0.5 ms).

The two are timed in pairs, batch by batch (the bare verification of a batch's reports, then the node's
ingest of the same batch), so a slow spell of a shared machine slows both sides of a pair alike; the ratio
is the bare time over the node's time of all batches of a round, and the median round is printed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nacl.signing

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
from opendepin.ingest.signatures import prepare
from opendepin.node import Node, OnboardRequest
from opendepin.reports.envelope import decode_report, sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=30_000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    maker, owner = Wallet(b"\x01" * 32), Wallet(b"\x02" * 32)
    config = NetworkConfig(makers=[MakerConfig(name="bench", address=maker.address)])
    keys = [DeviceKey("ed25519", i.to_bytes(32, "big")) for i in range(1, args.devices + 1)]
    clock = SimulatedClock(config.epochs.genesis_ts + 3_600)
    now = clock.now()
    per_device = args.reports // args.devices
    wires = [
        sign_report(key, HEARTBEAT, now - 60, 10 + n, {"lat": 52.52 + n * 1e-6, "lon": 13.405}).to_wire()
        for n in range(per_device)
        for key in keys
    ]

    # baseline: bare ed25519 verification (PyNaCl / libsodium) of the same signed bytes
    decoded = [decode_report(w) for w in wires]
    verify_keys = {k.device_id: nacl.signing.VerifyKey(k.public.raw) for k in keys}

    def run_round(tmp: str, round_: int) -> tuple[float, float]:
        """(bare seconds, node seconds) over all batches, timed in pairs."""
        store = SQLiteStore(Path(tmp) / f"bench-{round_}.sqlite3")
        node = Node(config, store, clock)
        for key in keys:
            text = attestation_message(config.name, key.device_id, owner.address)
            cell = "8c1f1d48945d9ff"
            node.onboard(
                OnboardRequest(
                    Attestation(key.device_id, owner.address, maker.address, maker.sign_text(text)),
                    LocationAssertion(
                        key.device_id,
                        cell,
                        1,
                        owner.sign_text(location_message(config.name, key.device_id, cell, 1)),
                    ),
                )
            )
        bare = ours = 0.0
        accepted = 0
        for i in range(0, len(wires), args.batch):
            start = time.perf_counter()
            for report in decoded[i : i + args.batch]:
                verify_keys[report.envelope.device].verify(report.envelope_bytes, report.signature)
            middle = time.perf_counter()
            accepted += sum(r.accepted for r in node.ingest(wires[i : i + args.batch]))
            end = time.perf_counter()
            bare += middle - start
            ours += end - middle
        assert accepted == len(wires), f"only {accepted} of {len(wires)} accepted"
        assert store.count_reports(0, 2**40) == len(wires)
        store.close()
        return bare, ours

    prepare()
    rounds: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            rounds.append(run_round(tmp, round_))
    rounds.sort(key=lambda r: r[0] / r[1])
    bare_seconds, ours_seconds = rounds[len(rounds) // 2]
    bare, ours = len(wires) / bare_seconds, len(wires) / ours_seconds
    ratios = ", ".join(f"{b / o:.2f}" for b, o in rounds)

    print(
        f"reports: {len(wires)} from {args.devices} devices, batches of {args.batch}, {args.rounds} rounds "
        f"(ratios {ratios}; the median round below)"
    )
    print(f"bare ed25519 verify (PyNaCl):          {bare:10,.0f} reports/s")
    print(f"gate + durable SQLite store (opendepin): {ours:10,.0f} reports/s")
    print(f"ratio ours / bare verify:               {ours / bare:10.2f}  (target ≥ 0.6)")


if __name__ == "__main__":
    main()
