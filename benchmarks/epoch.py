"""Closing an epoch at network scale: N devices x 24 hourly heartbeats stored, then `Node.close_epoch`
(gather from the store, the wireless rules, rewards, Merkle root, save), timed with its peak memory, next
to a bare polars group-by (heartbeats per device) over the same rows, measured in the same process.

Each size runs in its own process so that peak memory (ru_maxrss) is that size's. Reports are stored
directly (the ingest gate is measured by benchmarks/ingest.py and benchmarks/pipeline.py); signatures are
not checked when an epoch closes, so the stored signature bytes are placeholders. The store is filled
through `Store.append` (rows and report blocks, as ingest writes them) with fsync off, then reopened as a
node opens it for the close.

A size whose close would need more memory than the machine has available (about 900 bytes a report, as
measured) is not started unless `--force`; a measuring process that dies (e.g. killed for want of memory)
is reported as such rather than waited for.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import TypeVar

import numpy as np
import polars as pl

from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.node import Node
from opendepin.reports.envelope import Envelope, compute_report_id, encode_envelope
from opendepin.reports.model import ReportRecord
from opendepin.store.base import StoredReport
from opendepin.store.sqlite import SQLiteStore

T = TypeVar("T")
MAKER = "0x" + "11" * 20
HOURS = 24
CELLS = ("8c1f1d48945d9ff", "8c1f1d48945dbff", "8c1f1d48945d1ff", "8c1f1d48945d3ff")


def _device_id(i: int) -> str:
    return "ed25519:" + i.to_bytes(32, "big").hex()


def measure(devices: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    config = NetworkConfig(makers=[MakerConfig(name="bench", address=MAKER)])
    genesis = config.epochs.genesis_ts
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "epoch.sqlite3")
        # filling is set-up, not the close: no fsync per batch, and a page cache that holds the report
        # table's id index (its keys arrive in hash order); the close runs with the store's own settings
        store._db.execute("PRAGMA synchronous=OFF")
        store._db.execute(f"PRAGMA cache_size=-{max(262_144, devices * 4)}")  # KiB: 4 GiB at 1M devices
        filled = time.perf_counter()
        for start in range(0, devices, 10_000):
            with store._tx() as cur:
                cur.executemany(
                    "INSERT INTO devices (device_id, key_type, owner, maker, location, onboarded_at, "
                    "attestation) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (_device_id(i), "ed25519", "0x" + f"{i % 5000:040x}", MAKER, CELLS[i % 4], 0, "{}")
                        for i in range(start, min(devices, start + 10_000))
                    ],
                )
        batch: list[StoredReport] = []
        for i in range(devices):
            device = _device_id(i)
            for hour in range(HOURS):
                ts = genesis + hour * 3600 + 60
                envelope = encode_envelope(
                    Envelope("wireless.heartbeat", device, ts, hour, {"lat": 52.52, "lon": 13.405})
                )
                record = ReportRecord(
                    compute_report_id(envelope),
                    "wireless.heartbeat",
                    device,
                    ts,
                    hour,
                    {"lat": 52.52, "lon": 13.405},
                    ts,
                )
                batch.append(StoredReport(record, envelope, b"\0" * 64))
            if len(batch) >= 50_000:
                store.append(batch, [])
                batch = []
            if (i + 1) % 50_000 == 0:
                print(
                    f"  filling: {i + 1:,} of {devices:,} devices stored "
                    f"({time.perf_counter() - filled:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
        store.append(batch, [])
        store.close()  # the close runs on the store as a node opens it (its fsync, its page cache)
        store = SQLiteStore(Path(tmp) / "epoch.sqlite3")

        # the same (device, ts) rows as stored, built from arrays rather than 24 Python objects a device
        ids = pl.Series("device", [_device_id(i) for i in range(devices)])
        frame = pl.DataFrame(
            {
                "device": ids.gather(np.repeat(np.arange(devices), HOURS)),
                "ts": np.tile(genesis + np.arange(HOURS) * 3600 + 60, devices),
            }
        )
        del ids
        start = time.perf_counter()
        counts = frame.group_by("device").agg(pl.len().alias("heartbeats"))
        bare = time.perf_counter() - start
        assert counts.height == devices
        del frame, counts

        clock = SimulatedClock(genesis + config.epochs.length_seconds + config.epochs.lateness_seconds)
        node = Node(config, store, clock)
        steps: dict[str, float] = {}
        node.gather_inputs = _timed(node.gather_inputs, "gather", steps)  # type: ignore[method-assign]
        node.compute_epoch = _timed(node.compute_epoch, "compute", steps)  # type: ignore[method-assign]
        store.save_epoch = _timed(store.save_epoch, "save", steps)  # type: ignore[method-assign]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        record = node.close_epoch(0)
        close = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        rewarded = len({row[0] for row in record.device_rewards})
        store.close()
    out.put((devices, close, bare, before / 1024, peak / 1024, rewarded, steps))


def _timed(function: Callable[..., T], name: str, steps: dict[str, float]) -> Callable[..., T]:
    """`function`, adding the seconds each call takes to `steps[name]` (where a close spends its time)."""

    def timed(*args: object) -> T:
        start = time.perf_counter()
        try:
            return function(*args)
        finally:
            steps[name] = steps.get(name, 0.0) + time.perf_counter() - start

    return timed


CLOSE_BYTES_PER_REPORT = 900
"""Memory a close adds per report, as measured here (2.1 GiB for 2.4M reports, 8.1 GiB for 12M)."""
FILL_BYTES = 4 << 30
"""What the process holds before its close at a million devices (the fill's page cache, the registry)."""


def available_memory() -> int | None:
    """Bytes the kernel reports as available (Linux), else None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def result_of(process: multiprocessing.process.BaseProcess, queue: multiprocessing.Queue) -> tuple | None:  # type: ignore[type-arg]
    """The measurement the child sends, or None if it died without one (e.g. killed out of memory)."""
    while True:
        try:
            return queue.get(timeout=1.0)  # type: ignore[no-any-return]
        except Empty:
            if not process.is_alive():
                return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--force", action="store_true", help="run sizes that look too large for the memory")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    print(f"epoch close of N devices x {HOURS} heartbeats vs a bare polars group-by of the same rows")
    for devices in args.devices:
        needed = devices * HOURS * CLOSE_BYTES_PER_REPORT + min(FILL_BYTES, devices * 4096) + (1 << 30)
        available = available_memory()
        if available is not None and needed > available and not args.force:
            print(
                f"{devices:>9,} devices: not run: its close needs about {needed / 2**30:.0f} GiB "
                f"({CLOSE_BYTES_PER_REPORT} bytes a report as measured), {available / 2**30:.0f} GiB is "
                f"available (--force runs it anyway)"
            )
            continue
        queue = context.Queue()
        process = context.Process(target=measure, args=(devices, queue))
        process.start()
        outcome = result_of(process, queue)
        process.join()
        if outcome is None:
            print(
                f"{devices:>9,} devices: the measuring process died without a result (exit code "
                f"{process.exitcode}; -9 is a kill, most likely for want of memory)"
            )
            continue
        devices_, close, bare, before, peak, owners, steps = outcome
        print(
            f"{devices_:>9,} devices ({devices_ * HOURS:,} reports): close {close:8.2f} s, "
            f"group-by {bare:7.3f} s, close / group-by {close / bare:8.1f}x, "
            f"peak memory {peak:,.0f} MiB (before the close {before:,.0f} MiB), {owners:,} devices with "
            f"reward rows; of the close: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
