"""Gate workers: consume the report stream, gate each report, store the batch in PostgreSQL in one
transaction, and only then acknowledge the messages (docs/production.md).

Any number of workers run at once, in any number of processes or machines. The stream's device partitions
(ingest/bus.py) are shared among them: worker `index` of `of` takes the partitions k with k mod `of` =
`index`, each under a PostgreSQL session advisory lock, so one partition (and so one device) is consumed by
one worker at a time and a device's reports are stored in the order they were published. A second worker
started with the same index waits as a standby; a partition left free for `ORPHAN_SECONDS` (its worker
died and was not restarted) is taken by any worker that sees it. A partition taken over after a worker
died starts only once the dead worker's unacknowledged messages have been handed back (the ack wait), so
they are stored before newer ones. What keeps workers consistent lives in the database, not in a worker's
memory:
- replay protection: each batch reads the `device_seq` rows of the devices it names, gates against that
  committed last `seq`, and moves the rows by compare-and-set in its transaction (`UPDATE … WHERE last_seq
  = <what was read>`; a device's first row by `INSERT … ON CONFLICT DO NOTHING`). If another writer moved
  one meanwhile, nothing of the batch is written: it is gated again with the rows locked (`SELECT … FOR
  UPDATE`, in device order, so locking writers never deadlock on each other), so no report is accepted at
  or below a `seq` another writer committed. With the partitions one worker writes a device's row, and the
  compare-and-set never fails: the row locks (a write per row) are paid only when it does;
- duplicates: reports go through a staging table filled by COPY, then `INSERT … ON CONFLICT (report_id)
  DO NOTHING`, whatever the bus delivers twice; the inserted rows are also kept as a report block in the
  same transaction (store/report_blocks.py);
- epoch closing: each batch holds a shared advisory lock and reads `ingest_closed_until`; the node sets
  that value and takes the lock exclusively (`drain_workers`), which waits for batches in flight.

A batch that fails for another reason (a row the database refuses) is not acknowledged: JetStream
redelivers it after a short delay, and a message delivered `MAX_DELIVER` times moves to the dead-letter
stream with its reason. A failure of the database itself (`psycopg.OperationalError`: a restart, an outage,
a deadlock, a full disk) says nothing about the messages: the worker keeps the batch, holds its messages
and the next batch already fetched (`in_progress`), and retries it in place every
`UNREACHABLE_RETRY_SECONDS` until it commits, however long that takes; a nak would have let newer reports
of the same devices overtake it and be refused as replays. A
redelivered report found already stored is our own earlier commit whose ack was lost: it is acknowledged
without being counted again, as accepted or as refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout

from opendepin.config import NetworkConfig
from opendepin.ingest.bus import (
    MAX_DELIVER,
    RECEIVED_HEADER,
    SOURCE_HEADER,
    BusNames,
    connect_nats,
    ensure_streams,
)
from opendepin.ingest.device_rate import Bucket, DeviceBudgets
from opendepin.ingest.gate import (
    GateResult,
    GateState,
    gate_signed,
    possibly_stored,
    refused_undecodable,
    rejection_bucket,
    rejection_source,
    unique_seq_pairs,
)
from opendepin.ingest.signatures import decode_and_check, prepare
from opendepin.reports.envelope import EnvelopeError, SignedReport, decode_or_error
from opendepin.rewards.epoch import window_for
from opendepin.sectors.registry import load_sectors
from opendepin.services.devices import DeviceRegistry
from opendepin.services.ingest import MAX_KEPT_MESSAGE_CHARS, ingest_policies, report_kinds
from opendepin.store.base import Rejection
from opendepin.store.postgres import PostgresStore, stored_ids_in, used_seqs_in
from opendepin.store.sql import REPORT_COLUMNS

log = logging.getLogger(__name__)

CLOSE_LOCK = 7_700_001
"""Advisory lock key: shared by every batch, exclusive while the node marks an epoch closed."""
CLOSED_UNTIL_KEY = "ingest_closed_until"
"""Store meta: reports timed before this are refused (`report.epoch_closed`), set by the closing node."""
STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS staging_reports (report_id TEXT, device_id TEXT, kind TEXT, seq BIGINT, "
    "ts BIGINT, received_at BIGINT, envelope BYTEA, signature BYTEA) ON COMMIT DELETE ROWS"
)
STAGING_TYPES = ("text", "text", "text", "int8", "int8", "int8", "bytea", "bytea")
"""`REPORT_COLUMNS`' types, for a binary COPY (no text escaping of the envelopes on either side)."""
BATCH = 2_000
"""Reports a lone worker fetches from each partition at a time. A batch's fixed costs (a commit, a dozen
statements, PostgreSQL's per-statement work) spread over more reports at 2,000 than at 500: 175 against
about 200 µs of machine CPU a report, and two workers on two cores at 1.66x one worker against 1.47-1.53x
(benchmarks/pipeline.py, the same hour). A fetch returns what a partition holds, so at a low rate
batches stay small and latency is unchanged (p50 128 ms at 500 reports/s)."""
FETCH_SECONDS = 2.0
"""How long a pull waits for a full batch (a shorter wait times out on a loaded machine and leaves the
delivered messages to come back only after the ack wait)."""
FAULT_ENV = "DEPIN_WORKER_FAULT"
"""For the fault suite: `POINT:N` makes the worker kill itself with SIGKILL at POINT of its N-th batch
(`after_copy`: rows written, not committed; `after_commit`: committed, not acknowledged; `mid_ack`: half
the batch acknowledged)."""
UNREACHABLE_RETRY_SECONDS = 1.0
"""How often a worker retries a batch while the database is unreachable."""
PARTITION_LOCK = 7_700_002
"""Advisory lock class of the stream's partitions (the key is (PARTITION_LOCK, partition))."""
CLAIM_SECONDS = 1.0
"""How often a worker tries to lock the partitions it waits for."""
ORPHAN_SECONDS = 60.0
"""How long a partition stays free before any worker takes it (longer than `depin serve` takes to restart
a dead worker, so a restarted worker finds its own partitions free)."""


def _fault(point: str, batch: int) -> None:
    wanted = os.environ.get(FAULT_ENV, "")
    if wanted and wanted == f"{point}:{batch}":
        os.kill(os.getpid(), signal.SIGKILL)


def drain_workers(store: PostgresStore, closed_until: int) -> None:
    """The node's side of closing an epoch with bus workers: from now on workers refuse reports timed
    before `closed_until`, and this returns once every batch that started before is committed."""
    with store._tx() as cur:
        cur.execute(
            "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (CLOSED_UNTIL_KEY, str(closed_until)),
        )
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (CLOSE_LOCK,))


@dataclass
class WorkerStats:
    batches: int = 0
    accepted: int = 0
    rejected: int = 0
    redelivered_duplicates: int = 0
    failed_batches: int = 0
    batch_seconds: float = 0.0
    """Wall time inside `store_batch` (decode, lock, gate, write, commit)."""
    gate_seconds: float = 0.0
    """Wall time gating (signature checks and rules), inside `batch_seconds`."""
    lock_wait_seconds: float = 0.0
    """Time spent reading (or, after a conflict, locking) the devices' rows and waiting for the close lock."""
    seq_conflicts: int = 0
    """Batches gated again on locked rows because another writer moved one of their devices' `seq`."""
    dead_lettered: int = 0
    first_batch: float = 0.0
    """Unix time the first batch reached the store (the worker was connected and consuming)."""
    last_commit: float = 0.0
    """Unix time of the latest commit."""
    latencies: list[float] = field(default_factory=list)
    """Seconds from the edge's receipt to the commit, per accepted report (when the edge stamped it in ms)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    wire: bytes
    source: str
    received_at: int
    received_ms: int | None
    msg: Msg | None = None
    """The message it came in (None: handed to `store_batch` directly, delivered once)."""

    @property
    def delivered(self) -> int:
        """How many times JetStream has delivered the message, read from its reply subject only when
        asked (a duplicate or a failed batch), not for every report."""
        return self.msg.metadata.num_delivered if self.msg is not None else 1


def _delivery(msg: Msg) -> Delivery:
    headers = msg.headers or {}
    stamp = headers.get(RECEIVED_HEADER, "")
    received_ms = int(stamp) if stamp.isdigit() else None
    received_at = received_ms // 1000 if received_ms is not None else int(time.time())
    return Delivery(msg.data, headers.get(SOURCE_HEADER, "bus"), received_at, received_ms, msg)


class GateWorker:
    """One worker: a PostgreSQL connection, the network's gate, a pull subscription."""

    def __init__(
        self,
        config: NetworkConfig,
        dsn: str,
        nats_url: str = "nats://127.0.0.1:4222",
        names: BusNames | None = None,
        batch: int = BATCH,
        keep_latencies: bool = False,
        index: int = 0,
        of: int = 1,
        signature_thread: bool | None = None,
    ) -> None:
        """`batch`: reports fetched from each partition at a time when one worker holds them all; a worker
        of `of` holds fewer partitions and fetches proportionally more from each (`fetch_size`), so its
        store transactions stay as large as a lone worker's however many workers share the stream (their
        fixed costs, a commit and a dozen statements, spread over as many reports).
        `signature_thread`: check signatures on a second thread while decoding and gating (a second
        core's worth of work); None: only when there are fewer workers (`of`) than this machine's cores, so
        that N workers on N cores each keep to one core."""
        if not 0 <= index < of:
            raise ValueError(f"worker index {index} is not in 0..{of - 1}")
        self.config = config
        self.store = PostgresStore(dsn)
        self.registry = DeviceRegistry(self.store)
        sectors = load_sectors(config)
        self.kinds = report_kinds(sectors)
        self.policies = ingest_policies(sectors)
        self.nats_url = nats_url
        self.names = names or BusNames()
        self.batch = batch
        self.own = frozenset(k for k in range(self.names.partitions) if k % of == index)
        """The partitions this worker takes first (others only once orphaned)."""
        held = len(self.own)
        self.fetch_size = -(-batch * self.names.partitions // held) if held else batch
        """Reports fetched from one partition at a time (see `batch`; a worker with no partition of its own,
        beyond the partition count, takes orphans only, at `batch` each)."""
        self.keep_latencies = keep_latencies
        self.stats = WorkerStats()
        self.index, self.of = index, of
        self.signature_thread = (of < (os.cpu_count() or 1)) if signature_thread is None else signature_thread
        self.budgets = DeviceBudgets(config.ingest)
        """The budgets of the devices this worker gates (ingest/device_rate.py)."""

    # ---- one batch ------------------------------------------------------------------------------------

    def _decode(
        self, deliveries: Sequence[Delivery]
    ) -> tuple[list[SignedReport | EnvelopeError], Sequence[bool | None], list[str]]:
        """Each report decoded once, its signature checked (on the signature thread while the next chunk is
        decoded: ingest/signatures.py), and the registered devices the batch names, sorted. Devices the
        worker does not know (onboarded since it started, or never) are looked up a chunk at a time, in
        one query: made-up device ids, free to send, never cost a query each."""
        named: set[str] = set()
        absent: set[str] = set()  # looked up in this batch and not onboarded
        limit = self.config.ingest.max_report_bytes

        def resolve(part: list[SignedReport | EnvelopeError]) -> None:
            names = {s.envelope.device for s in part if not isinstance(s, EnvelopeError)} - absent
            unknown = [device for device in names - named if self.registry.get(device) is None]
            for device in self.store.get_devices(unknown) if unknown else ():
                self.registry.add(device)
            for device in names:
                (named if self.registry.get(device) is not None else absent).add(device)

        decoded, signatures = decode_and_check(
            [item.wire for item in deliveries],
            lambda wire: decode_or_error(wire, limit),
            self.registry.view,
            overlap=self.signature_thread,
            resolve=resolve,
        )
        return decoded, signatures, sorted(named)

    def _closed_until(self, cur: Any) -> int:
        numbers = cur.execute("SELECT MAX(number) FROM epochs").fetchone()
        by_epochs = window_for(self.config, int(numbers[0]) + 1).start if numbers[0] is not None else 0
        row = cur.execute("SELECT value FROM meta WHERE key = %s", (CLOSED_UNTIL_KEY,)).fetchone()
        return max(by_epochs, int(row[0]) if row else 0)

    def store_batch(self, deliveries: Sequence[Delivery]) -> list[GateResult]:
        """Gate and store a batch in one transaction (module rules); returns each report's result."""
        began = time.perf_counter()
        if not self.stats.first_batch:
            self.stats.first_batch = time.time()
        decoded, pending, devices = self._decode(deliveries)
        signatures = list(pending)  # all checked before the transaction: no row locks held meanwhile
        budgets = self.budgets.batch()
        try:
            results, accepted, rejected = self._write(
                deliveries, decoded, signatures, devices, budgets, lock=False
            )
        except (SeqMoved, psycopg.errors.DeadlockDetected) as moved:
            # another writer stored reports of these devices meanwhile: gate the batch again, rows locked
            self.stats.seq_conflicts += 1
            log.info("a batch met another writer's reports of its devices; gating it again locked: %s", moved)
            budgets = self.budgets.batch()  # the rolled-back attempt took nothing
            results, accepted, rejected = self._write(
                deliveries, decoded, signatures, devices, budgets, lock=True
            )
        self.budgets.commit(budgets, max((item.received_at for item in deliveries), default=0))
        self.stats.last_commit = time.time()
        log.debug("stored a batch: %d accepted, %d refused", len(accepted), len(rejected))
        self.stats.batch_seconds += time.perf_counter() - began
        self.stats.batches += 1
        self.stats.accepted += len(accepted)
        self.stats.rejected += len(rejected)
        self.stats.redelivered_duplicates += sum(
            _own_redelivered(result, item) for result, item in zip(results, deliveries, strict=True)
        )
        if self.keep_latencies:
            now_ms = time.time() * 1000
            self.stats.latencies.extend(
                (now_ms - item.received_ms) / 1000
                for item, result in zip(deliveries, results, strict=True)
                if result.accepted and item.received_ms is not None
            )
        return results

    def _write(
        self,
        deliveries: Sequence[Delivery],
        decoded: Sequence[SignedReport | EnvelopeError],
        signatures: Sequence[bool | None],
        devices: list[str],
        budgets: MutableMapping[str, Bucket],
        lock: bool,
    ) -> tuple[list[GateResult], list[tuple[Any, ...]], list[Rejection]]:
        """The batch's transaction: gate against the devices' last `seq` (read, or with `lock` locked),
        write the accepted reports and the refusals, and move the devices' last `seq` by compare-and-set
        (`SeqMoved` rolls it all back if another writer moved one meanwhile)."""
        registered = self.registry.view()
        params = self.config.ingest
        results: list[GateResult] = []
        with self.store._tx() as cur:
            waited = time.perf_counter()
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (CLOSE_LOCK,))
            closed_until = self._closed_until(cur)
            read = _read_last_seqs(cur, devices, lock)
            last_seq = dict(read)
            self.stats.lock_wait_seconds += time.perf_counter() - waited
            # what the replay check can ask the database, asked once for the batch (gate.py), and only of
            # reports that can reach it: signed with their device's registered key
            authentic = [signed for signed, ok in zip(decoded, signatures, strict=True) if ok]
            used_seqs = used_seqs_in(cur, unique_seq_pairs(authentic, self.policies))
            stored_ids = stored_ids_in(cur, possibly_stored(authentic, self.policies, read, used_seqs))
            state = GateState(registered, last_seq, stored_ids, closed_until, self.policies, used_seqs)
            gating = time.perf_counter()
            accepted: list[tuple[Any, ...]] = []
            unique: set[tuple[str, int]] = set()
            rejected: list[Rejection] = []
            for index, (item, signed) in enumerate(zip(deliveries, decoded, strict=True)):
                if isinstance(signed, EnvelopeError):
                    result = refused_undecodable(signed)
                else:
                    result = self.budgets.charge(
                        gate_signed(signed, state, item.received_at, params, self.kinds, signatures[index]),
                        budgets,
                        item.received_at,
                    )
                results.append(result)
                if result.accepted and result.record is not None and result.signed is not None:
                    record = result.record
                    accepted.append(
                        (
                            record.report_id,
                            record.kind,
                            record.device_id,
                            record.ts,
                            record.seq,
                            record.received_at,
                            result.signed.envelope_bytes,
                            result.signed.signature,
                        )
                    )
                    stored_ids.add(record.report_id)
                    if self.policies[record.kind].seq == "unique":
                        used_seqs.add((record.device_id, record.seq))
                        unique.add((record.device_id, record.seq))
                    else:
                        last_seq[record.device_id] = record.seq
                elif not _own_redelivered(result, item):
                    rejected.append(self._rejection(result, item))
            self.stats.gate_seconds += time.perf_counter() - gating
            _write_last_seqs(cur, read, last_seq)
            cur.execute(STAGING)
            with cur.copy(f"COPY staging_reports ({REPORT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(STAGING_TYPES)
                for row in accepted:
                    copy.write_row(row)
            inserted = cur.execute(
                f"INSERT INTO reports ({REPORT_COLUMNS}) SELECT {REPORT_COLUMNS} FROM staging_reports "
                "ON CONFLICT DO NOTHING"
            ).rowcount
            # the same rows in the report blocks (store/report_blocks.py), which hold all but the signature
            self.store.write_block(cur, [row[:7] for row in accepted], inserted)
            _use_seqs(cur, sorted(unique))
            self.store._append_rejections(cur, rejected, params.rejection_samples)
            _fault("after_copy", self.stats.batches + 1)
        return results, accepted, rejected

    def _rejection(self, result: GateResult, item: Delivery) -> Rejection:
        params = self.config.ingest
        return Rejection(
            result.reason,
            result.message[:MAX_KEPT_MESSAGE_CHARS],
            item.received_at,
            result.report_id,
            result.device_id[:MAX_KEPT_MESSAGE_CHARS] if result.device_id is not None else None,
            bytes(item.wire[: params.rejection_sample_bytes]),
            rejection_source(result, item.source),
            rejection_bucket(
                item.received_at,
                self.config.epochs.genesis_ts,
                self.config.epochs.length_seconds,
                params.rejection_bucket_seconds,
            ),
        )

    # ---- the loop --------------------------------------------------------------------------------------

    async def run(
        self,
        stop: asyncio.Event | None = None,
        idle_exit_seconds: float | None = None,
        hold: asyncio.Event | None = None,
        ready: Callable[[], None] | None = None,
    ) -> WorkerStats:
        """Consume this worker's partitions until `stop` is set (or, with `idle_exit_seconds`, until its
        partitions stay empty that long: benchmarks and tests). With `hold`, the worker starts up (connects,
        claims its partitions, binds their consumers), calls `ready`, and fetches nothing until `hold` is
        set: a benchmark starts several workers' consumption at one instant, so that one worker's start-up
        is not counted as the others' throughput."""
        await asyncio.to_thread(prepare)  # the signature kernel compiled before the first batch, not in it
        nc = await connect_nats(self.nats_url)
        js = nc.jetstream()
        await ensure_streams(js, self.names)
        locks = await asyncio.to_thread(psycopg.connect, self.store.dsn, autocommit=True)
        done = asyncio.Event()
        free_since: dict[int, float] = {}
        active: dict[int, asyncio.Task[float]] = {}
        self._idle_since: dict[int, float] = {}
        self._busy: set[int] = set()
        self._waiting: list[tuple[list[Msg], asyncio.Future[list[Msg]], asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._hold, self._ready = hold, ready
        self._bound: set[int] = set()
        storer = asyncio.ensure_future(self._store_waiting(js, stop))
        started, held = time.monotonic(), hold is not None
        try:
            while not done.is_set() and (stop is None or not stop.is_set()):
                for partition in range(self.names.partitions):
                    if partition in active:
                        continue
                    now = time.monotonic()
                    mine = partition in self.own
                    if not mine and now - free_since.setdefault(partition, now) < ORPHAN_SECONDS:
                        continue
                    if await asyncio.to_thread(_try_lock, locks, partition):
                        log.info("consuming partition %d of %s", partition, self.names.stream)
                        active[partition] = asyncio.ensure_future(self._consume(js, partition, done, stop))
                    elif not mine:
                        free_since[partition] = now  # held by another worker: not an orphan
                if held:  # idle time counts from the release
                    started, held = time.monotonic(), hold is not None and not hold.is_set()
                elif idle_exit_seconds is not None:
                    idle = [self._idle_since.get(k, started) for k in self.own if k not in self._busy]
                    quiet = all(time.monotonic() - t > idle_exit_seconds for t in idle)
                    if len(idle) == len(self.own) and quiet:
                        done.set()
                for task in active.values():
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), CLAIM_SECONDS)
        finally:
            done.set()
            await asyncio.gather(*active.values(), return_exceptions=True)
            storer.cancel()
            await asyncio.gather(storer, return_exceptions=True)
            self.store.close()
            await asyncio.to_thread(locks.close)  # releases the partitions
            await nc.close()
        return self.stats

    async def _store_waiting(self, js: Any, stop: asyncio.Event | None) -> None:
        """Store the batches the partitions have waiting as one batch (each partition's reports together
        and in their order), then answer each partition. A partition hands in its next batch only after
        this answer, so its reports are stored in order; while one batch is stored the others' next
        batches gather, so a busy worker stores large batches however its traffic is spread."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            entries, self._waiting = self._waiting, []
            if not entries:
                continue
            msgs = [msg for batch, _, _ in entries for msg in batch]
            try:
                stored = await self.handle(js, msgs, stop, [ahead for _, ahead, _ in entries])
            except Exception as error:
                for _, _, turn in entries:
                    turn.set_exception(error)
                continue
            for _, _, turn in entries:
                turn.set_result(stored)

    async def _consume(
        self, js: Any, partition: int, done: asyncio.Event, stop: asyncio.Event | None
    ) -> float:
        """One partition, batch after batch, in order: the next batch is fetched while this one is stored."""
        consumer = self.names.partition_consumer(partition)
        info = await js.consumer_info(self.names.stream, consumer)
        if info.num_ack_pending:  # a previous owner's deliveries come back first after the ack wait
            await asyncio.sleep(self.names.ack_wait + 1.0)
        sub = await js.pull_subscribe_bind(consumer, self.names.stream)
        self._bound.add(partition)
        if self._ready is not None and self.own <= self._bound:
            self._ready()
            self._ready = None
        if self._hold is not None:
            await self._hold.wait()

        async def fetch() -> list[Msg]:
            try:
                return list(await sub.fetch(self.fetch_size, timeout=FETCH_SECONDS))
            except (TimeoutError, NatsTimeout):
                return []

        self._idle_since[partition] = time.monotonic()
        purge = AckedPurge(self.names.duplicate_window)
        ahead = asyncio.ensure_future(fetch())
        try:
            while not done.is_set() and (stop is None or not stop.is_set()):
                await purge.tick(js, self.names.stream, consumer, self.names.partition_subject(partition))
                msgs = await ahead
                if not msgs:
                    ahead = asyncio.ensure_future(fetch())
                    continue
                self._busy.add(partition)  # never idle while a batch waits for, or holds, the store
                ahead = asyncio.ensure_future(fetch())  # the next batch arrives while this one is stored
                try:
                    turn: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
                    self._waiting.append((msgs, ahead, turn))
                    self._wake.set()
                    stored = await turn
                finally:
                    self._busy.discard(partition)
                if not stored:  # naked for redelivery: hand back what was fetched after it, then wait
                    unacked = await ahead
                    await asyncio.gather(*(msg.nak() for msg in unacked), return_exceptions=True)
                    await asyncio.sleep(1.0)
                    ahead = asyncio.ensure_future(fetch())
                self._idle_since[partition] = time.monotonic()
        finally:
            try:
                unacked = await ahead  # fetched but not processed: handed back for redelivery at once
                await asyncio.gather(*(msg.nak() for msg in unacked))
            except Exception:  # the connection is gone: JetStream redelivers after the ack wait
                pass
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return time.monotonic()

    async def handle(
        self,
        js: Any,
        msgs: Sequence[Msg],
        stop: asyncio.Event | None = None,
        ahead: Sequence[asyncio.Future[list[Msg]]] = (),
    ) -> bool:
        """Store a fetched batch, then acknowledge it (True). While the database is unreachable the batch
        is kept and retried in place, its messages and the next batch already fetched (`ahead`) held
        (`in_progress`), so a device's reports are not reordered behind newer ones by redelivery; any other
        failure naks it (or dead-letters it at MaxDeliver) and returns False."""
        deliveries = [_delivery(m) for m in msgs]
        while True:
            try:
                await asyncio.to_thread(self.store_batch, deliveries)
                break
            except psycopg.OperationalError as error:
                self.stats.failed_batches += 1
                if stop is not None and stop.is_set():
                    await asyncio.gather(*(msg.nak() for msg in msgs), return_exceptions=True)
                    return False
                log.warning(
                    "the database is unreachable; holding a batch of %d and retrying in %.0f s: %s",
                    len(msgs),
                    UNREACHABLE_RETRY_SECONDS,
                    error,
                )
                held = list(msgs)
                for next_batch in ahead:  # the next batches, already fetched, wait their turn: hold them
                    if next_batch.done() and not next_batch.cancelled() and not next_batch.exception():
                        held += next_batch.result()
                await asyncio.gather(*(msg.in_progress() for msg in held), return_exceptions=True)
                await asyncio.sleep(UNREACHABLE_RETRY_SECONDS)
            except Exception as error:
                self.stats.failed_batches += 1
                log.warning("a batch of %d failed, redelivering: %s", len(msgs), error)
                for msg, item in zip(msgs, deliveries, strict=True):
                    if item.delivered >= MAX_DELIVER:
                        reason = type(error).__name__
                        await js.publish(
                            f"{self.names.dead_prefix}.{reason}",
                            msg.data,
                            headers={**(msg.headers or {}), "Depin-Error": str(error)[:300]},
                        )
                        await msg.term()
                        self.stats.dead_lettered += 1
                    else:
                        await msg.nak(delay=1.0)
                return False
        # After the commit. A lost ack means a redelivery, which the database refuses as our own duplicate.
        _fault("after_commit", self.stats.batches)
        half = len(msgs) // 2
        # One after the other: an ack is a publish into the connection's buffer (no round trip), so a task
        # per ack would only cost the event loop (and the GIL the store thread needs).
        for msg in msgs[:half]:
            await msg.ack()
        if os.environ.get(FAULT_ENV) == f"mid_ack:{self.stats.batches}":
            await asyncio.sleep(0.2)  # let the first half leave before dying
        _fault("mid_ack", self.stats.batches)
        for msg in msgs[half:]:
            await msg.ack()
        return True


class AckedPurge:
    """Rule: a partition's reports leave the stream once acknowledged and older than the duplicate window.
    The stream keeps what it is given (limits retention: a worker outage loses nothing), so without this
    every report ever ingested stayed on the bus's disk. A worker notes its partition's ack floor (every
    report at or below it acknowledged: stored) now and then, and purges the partition's subject up to the
    floor it noted a duplicate window ago: the stream's deduplication of re-sent reports stays whole for
    the window, and what is not yet stored is never purged. A worker that restarts begins noting anew."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.every = max(0.5, min(60.0, window / 10))
        self._floors: deque[tuple[float, int]] = deque()
        self._next = 0.0
        self.purged_up_to = 0
        """The stream sequence below which this partition's reports were purged (0: none yet)."""

    async def tick(self, js: Any, stream: str, consumer: str, subject: str) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every
        try:
            info = await js.consumer_info(stream, consumer)
            self._floors.append((now, int(info.ack_floor.stream_seq)))
            floor = 0
            while self._floors and now - self._floors[0][0] >= self.window:
                floor = self._floors.popleft()[1]
            if floor > self.purged_up_to:
                await js.purge_stream(stream, seq=floor + 1, subject=subject)
                self.purged_up_to = floor + 1
        except (NatsError, TimeoutError) as error:  # the next tick tries again
            log.warning("purging the acknowledged reports of %s failed: %s", subject, error)


def _own_redelivered(result: GateResult, item: Delivery) -> bool:
    """A redelivered report found already stored: our own earlier commit whose ack was lost (acknowledged,
    counted neither as accepted nor as refused)."""
    return result.reason == "report.duplicate" and item.delivered > 1


class SeqMoved(Exception):
    """Another writer moved a device's last `seq` after this batch read it (the batch is gated again)."""


def _read_last_seqs(cur: Any, devices: list[str], lock: bool) -> dict[str, int]:
    """The last accepted `seq` of each named device that has one. With `lock`, every named device gets a
    row (-1: none yet) and the rows are locked in device order (`FOR UPDATE`), so the compare-and-set that
    follows cannot fail and two locking writers never deadlock."""
    if lock:
        cur.execute(
            "INSERT INTO device_seq SELECT d, -1 FROM unnest(%b::text[]) AS d ORDER BY d "
            "ON CONFLICT DO NOTHING",
            (devices,),
        )
    rows = cur.execute(
        "SELECT device_id, last_seq FROM device_seq WHERE device_id = ANY(%b::text[])"
        + (" ORDER BY device_id FOR UPDATE" if lock else ""),
        (devices,),
    ).fetchall()
    return {str(device): int(seq) for device, seq in rows}


def _write_last_seqs(cur: Any, read: dict[str, int], last_seq: dict[str, int]) -> None:
    """Compare-and-set the devices whose last `seq` the batch moved: each row still holds what was read
    (or, for a device without one, none was inserted meanwhile), else `SeqMoved` (rule: a report is
    accepted only above the device's last committed `seq`, whichever writer committed it). Without
    partitioning a conflict is possible; with it (one writer per device), never."""
    moved = sorted((d, read[d], s) for d, s in last_seq.items() if d in read and s != read[d])
    first = sorted((d, s) for d, s in last_seq.items() if d not in read)
    if moved:
        updated = cur.execute(
            "UPDATE device_seq AS d SET last_seq = v.seq "
            "FROM unnest(%b::text[], %b::bigint[], %b::bigint[]) AS v(device_id, was, seq) "
            "WHERE d.device_id = v.device_id AND d.last_seq = v.was",
            ([d for d, _, _ in moved], [w for _, w, _ in moved], [s for _, _, s in moved]),
        ).rowcount
        if updated != len(moved):
            raise SeqMoved(f"{len(moved) - updated} of {len(moved)} devices' last seq moved")
    _insert_all_new(cur, "device_seq", first, "new devices got a seq")


def _use_seqs(cur: Any, pairs: list[tuple[str, int]]) -> None:
    """Record the (device, seq) pairs of the batch's accepted `unique`-seq reports; `SeqMoved` if another
    writer recorded one meanwhile (the batch is gated again, and that report refused as a replay)."""
    _insert_all_new(cur, "report_seqs", pairs, "unique seqs were used")


def _insert_all_new(cur: Any, table: str, rows: list[tuple[str, int]], moved: str) -> None:
    """Insert (device, number) rows that must all be new; `SeqMoved` if another writer inserted one."""
    if not rows:
        return
    inserted = cur.execute(
        f"INSERT INTO {table} SELECT * FROM unnest(%b::text[], %b::bigint[]) ON CONFLICT DO NOTHING",
        ([d for d, _ in rows], [n for _, n in rows]),
    ).rowcount
    if inserted != len(rows):
        raise SeqMoved(f"{len(rows) - inserted} of {len(rows)} {moved} meanwhile")


def _try_lock(db: psycopg.Connection[Any], partition: int) -> bool:
    """Take the session advisory lock of a partition if no other worker holds it."""
    row = db.execute("SELECT pg_try_advisory_lock(%s, %s)", (PARTITION_LOCK, partition)).fetchone()
    return bool(row and row[0])


def run_worker_process(config_path: str, dsn: str, nats_url: str, index: int = 0, of: int = 1) -> None:
    """Entry point of a worker process started by `depin serve --bus nats` (runs until terminated)."""
    from opendepin.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s worker: %(message)s")
    worker = GateWorker(load_config(Path(config_path)), dsn, nats_url, index=index, of=of)

    parent = os.getppid()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)

        async def orphaned() -> None:
            """A worker of a node that is gone stops (it would consume reports for nobody's database)."""
            while not stop.is_set():
                if os.getppid() != parent:
                    log.warning("the node that started this worker is gone; stopping")
                    stop.set()
                await asyncio.sleep(1.0)

        watchdog = asyncio.ensure_future(orphaned())
        await worker.run(stop)
        watchdog.cancel()

    def last_resort() -> None:
        """If the orderly stop hangs (e.g. the database vanished under a batch), leave anyway: whatever
        this worker did not acknowledge is delivered again to another worker."""
        while os.getppid() == parent:
            time.sleep(1.0)
        time.sleep(15.0)
        os._exit(3)

    threading.Thread(target=last_resort, name="orphan-exit", daemon=True).start()

    asyncio.run(main())
