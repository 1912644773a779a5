"""Closing an epoch at network scale: N devices x 24 hourly heartbeats (and, `--speedtests`, 2 speed
tests: without them no radio is paid) stored, then `Node.close_epoch` (gather from the store, the wireless
rules, rewards, Merkle root, save, then the pruning of the report blocks it read), timed with its peak
memory, next to a bare polars group-by (reports per device) over the same rows, in the same process.

Each size is filled in one process and closed in another, so that peak memory (ru_maxrss) is that of
the close alone. Reports are stored directly (the ingest gate is measured by benchmarks/ingest.py and
benchmarks/pipeline.py); signatures are not checked when an epoch closes, so the stored signature bytes
are placeholders. The store is filled through `Store.append` (rows and report blocks, as ingest writes
them) with fsync off, hour by hour as ingest sees them (random-looking device ids, each radio alone in its
H3 cell, positions jittered by a few metres), then opened as a node opens it for the close. A million
devices take some 25 minutes to fill (16 GB on disk) and 5.5 to close.

A size whose close would need more memory than the machine has available (about 850 bytes a report, as
measured) is not started unless `--force`; a measuring process that dies (e.g. killed for want of memory)
is reported as such rather than waited for.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import TypeVar

import h3
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
SPEEDTEST_HOURS = (6, 18)
"""With `--speedtests`, the hours in which each device also sends a speed test (two a day: what the wireless
rule asks before it pays a radio; without them every share is zero and the close pays nobody)."""


def _site(i: int) -> tuple[str, float, float]:
    """Device `i`'s asserted cell (H3 resolution 12) and its centre: devices 60 m apart on a grid around
    Berlin, each alone in its cell, so that the cell rank pays every radio that earns."""
    cell = h3.latlng_to_cell(52.3 + (i // 2000) * 0.00055, 13.1 + (i % 2000) * 0.0009, 12)
    lat, lon = h3.cell_to_latlng(cell)
    return cell, lat, lon


def _device_id(i: int) -> str:
    """Device `i`'s id: a public key's worth of random-looking hex, as real ones are (not mostly zeros)."""
    return "ed25519:" + hashlib.sha256(i.to_bytes(8, "big")).hexdigest()


def _report(kind: str, device: str, ts: int, seq: int, payload: dict[str, float]) -> StoredReport:
    """A stored report as ingest keeps it (received when sent; the signature bytes a placeholder)."""
    envelope = encode_envelope(Envelope(kind, device, ts, seq, payload))
    return StoredReport(
        ReportRecord(compute_report_id(envelope), kind, device, ts, seq, payload, ts), envelope, b"\0" * 64
    )


def fill(path: Path, devices: int, speedtest_hours: tuple[int, ...] = ()) -> None:
    """A store at `path` with `devices` devices and their 24 heartbeats (and a speed test in each of
    `speedtest_hours`) each, written as ingest writes them (rows and report blocks) with fsync off: set-up,
    run in a process of its own so that what it allocates is not counted in the close's memory."""
    config = NetworkConfig(makers=[MakerConfig(name="bench", address=MAKER)])
    genesis = config.epochs.genesis_ts
    store = SQLiteStore(path)
    # no fsync per batch, and a page cache that holds the report table's id index (its keys arrive in
    # hash order); the close runs with the store's own settings
    store._db.execute("PRAGMA synchronous=OFF")
    store._db.execute(f"PRAGMA cache_size=-{max(262_144, devices * 4)}")  # KiB: 4 GiB at 1M devices
    filled = time.perf_counter()
    ids = [_device_id(i) for i in range(devices)]
    sites = [_site(i) for i in range(devices)]
    for start in range(0, devices, 10_000):
        with store._tx() as cur:
            cur.executemany(
                "INSERT INTO devices (device_id, key_type, owner, maker, location, onboarded_at, "
                "attestation) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (ids[i], "ed25519", "0x" + f"{i % 5000:040x}", MAKER, sites[i][0], 0, "{}")
                    for i in range(start, min(devices, start + 10_000))
                ],
            )
    # as ingest sees them: hour by hour, every device once an hour, each report a position of its own a
    # few metres around its cell's centre (so that blocks hold what real ones do, not 24 copies of a report);
    # and twice a day a speed test (a radio needs two to be paid), the device's seq counting both kinds
    batch: list[StoredReport] = []
    jitter = np.random.default_rng(7).uniform(-2e-5, 2e-5, size=(2, 1 << 16))
    speeds = np.random.default_rng(8).uniform(60.0, 400.0, size=1 << 16)
    centres = np.array([site[1:] for site in sites], dtype=np.float64).reshape(-1, 2)
    for hour in range(HOURS):
        ts = genesis + hour * 3600 + 60
        for i, device in enumerate(ids):
            k = (i * HOURS + hour) & 0xFFFF
            payload = {"lat": float(centres[i, 0] + jitter[0, k]), "lon": float(centres[i, 1] + jitter[1, k])}
            batch.append(_report("wireless.heartbeat", device, ts, 2 * hour, payload))
            if hour in speedtest_hours:
                test = {"download_mbps": float(speeds[k]), "upload_mbps": 12.5, "latency_ms": 31.0}
                batch.append(_report("wireless.speedtest", device, ts + 60, 2 * hour + 1, test))
            if len(batch) >= 50_000:
                store.append(batch, [])
                batch = []
        print(
            f"  filling: hour {hour + 1} of {HOURS} stored ({time.perf_counter() - filled:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    store.append(batch, [])
    store.close()


def measure(
    path: Path,
    devices: int,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
    speedtest_hours: tuple[int, ...] = (),
) -> None:
    """Close epoch 0 of the store `fill` wrote at `path` (opened as a node opens it: its fsync, its page
    cache), after a bare group-by of the same rows; the figures go to `out`."""
    config = NetworkConfig(makers=[MakerConfig(name="bench", address=MAKER)])
    genesis = config.epochs.genesis_ts
    store = SQLiteStore(path)
    # the same (device, ts) rows as stored, built from arrays rather than 26 Python objects a device
    ids = pl.Series("device", [_device_id(i) for i in range(devices)])
    times = [genesis + hour * 3600 + 60 for hour in range(HOURS)]
    times += [genesis + hour * 3600 + 120 for hour in speedtest_hours]
    frame = pl.DataFrame(
        {
            "device": ids.gather(np.repeat(np.arange(devices), len(times))),
            "ts": np.tile(np.array(times, dtype=np.int64), devices),
        }
    )
    del ids
    start = time.perf_counter()
    counts = frame.group_by("device").agg(pl.len().alias("reports"))
    bare = time.perf_counter() - start
    assert counts.height == devices
    del frame, counts

    clock = SimulatedClock(genesis + config.epochs.length_seconds + config.epochs.lateness_seconds)
    node = Node(config, store, clock)
    steps: dict[str, float] = {}
    node.gather_inputs = _timed(node.gather_inputs, "gather", steps)  # type: ignore[method-assign]
    node.compute_epoch = _timed(node.compute_epoch, "compute", steps)  # type: ignore[method-assign]
    store.save_epoch = _timed(store.save_epoch, "save", steps)  # type: ignore[method-assign]
    prune = _timed(store.prune_report_blocks, "prune (after the commit)", steps)
    store.prune_report_blocks = prune  # type: ignore[method-assign]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    record = node.close_epoch(0)
    close = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rewarded = len({row[0] for row in record.device_rewards if int(row[3]) > 0})  # devices paid
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


CLOSE_BYTES_PER_REPORT = 720
"""Memory a close adds per report, as measured here at a million devices: 16,104 MiB for 24M heartbeats (704
bytes a report) and 17,447 MiB for 26M reports with two speed tests a device (704 bytes a report): the
reports decompressed from their blocks and their id order, the judge's arrays, the registry, the reward
rows."""
PROCESS_BYTES = 3 << 29
"""What the measuring process holds besides the close (Python, polars, the bare group-by's leftovers)."""


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
    parser.add_argument(
        "--speedtests", action="store_true", help="2 speed tests a device as well (radios get paid)"
    )
    args = parser.parse_args()
    speedtest_hours = SPEEDTEST_HOURS if args.speedtests else ()
    per_device = HOURS + len(speedtest_hours)
    context = multiprocessing.get_context("spawn")
    print(
        f"epoch close of N devices x ({HOURS} heartbeats + {len(speedtest_hours)} speed tests) vs a bare "
        "polars group-by of the same rows"
    )
    for devices in args.devices:
        needed = devices * per_device * CLOSE_BYTES_PER_REPORT + PROCESS_BYTES
        available = available_memory()
        if available is not None and needed > available and not args.force:
            print(
                f"{devices:>9,} devices: not run: its close needs about {needed / 2**30:.0f} GiB "
                f"({CLOSE_BYTES_PER_REPORT} bytes a report as measured), {available / 2**30:.0f} GiB is "
                f"available (--force runs it anyway)"
            )
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "epoch.sqlite3"
            filler = context.Process(target=fill, args=(path, devices, speedtest_hours))
            filler.start()
            filler.join()
            if filler.exitcode != 0:
                print(f"{devices:>9,} devices: filling the store failed (exit code {filler.exitcode})")
                continue
            queue = context.Queue()
            process = context.Process(target=measure, args=(path, devices, queue, speedtest_hours))
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
            f"{devices_:>9,} devices ({devices_ * per_device:,} reports): close {close:8.2f} s, "
            f"group-by {bare:7.3f} s, close / group-by {close / bare:8.1f}x, "
            f"peak memory {peak:,.0f} MiB (before the close {before:,.0f} MiB), {owners:,} devices "
            f"paid; of the close: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
