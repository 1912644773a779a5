"""The store over SQL, shared by the SQLite and PostgreSQL adapters: same statements, same rows.

Statements use `?` placeholders; an adapter translates them to its driver's style. Each adapter provides a
connection, a transaction context and its dialect's migrations (DDL differs: BLOB vs BYTEA, …).
"""

from __future__ import annotations

import json
import logging
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from typing import Any, Protocol, TypeVar

import cbor2
import polars as pl
import pyarrow as pa

from opendepin.market.receipts import UsageRecord
from opendepin.reports.columns import REPORT_SCHEMA, empty_report_frame
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import Challenge, ChallengeSeed, DeviceInfo
from opendepin.sectors.columns import VERDICT_SCHEMA, VerdictRows
from opendepin.store.base import (
    BatchWriter,
    EpochRecord,
    Rejection,
    Store,
    StoredReceipt,
    StoredReport,
)
from opendepin.store.errors import StoreCorruption
from opendepin.store.report_blocks import (
    BLOCK_ROWS,
    COMPACT_COUNT,
    SMALL_ROWS,
    Block,
    decode_blocks,
    encode_block,
    encode_frame_block,
    in_window,
    sort_by_report_id,
)
from opendepin.store.verdict_blocks import decode_verdict_blocks, encode_verdict_blocks, verdict_frame

log = logging.getLogger(__name__)

DEVICE_COLUMNS = "device_id, key_type, owner, maker, location, onboarded_at"
DEVICE_READ_COLUMNS = f"{DEVICE_COLUMNS}, attestation"
LOOKUP_CHUNK = 400
"""Keys a batch lookup sends per query (two values each at most: under SQLite's 999-variable floor)."""
K = TypeVar("K", str, tuple[str, int])
REPORT_COLUMNS = "report_id, kind, device_id, ts, seq, received_at, envelope, signature"
BLOCKS_PER_READ = 4
"""Report blocks fetched (then decompressed and cut to the window) at a time: the fetched bytes go once
decompressed, and the frame read points into the decompressed columns (views, store/report_blocks.py)."""
PRUNE_BLOCKS = 8
"""Report blocks deleted per transaction once an epoch is saved (`prune_report_blocks`)."""

SCHEMA_V1 = """
    CREATE TABLE makers (address TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE devices (
        device_id TEXT PRIMARY KEY, key_type TEXT NOT NULL, owner TEXT NOT NULL, maker TEXT NOT NULL,
        location TEXT, onboarded_at {int} NOT NULL, attestation TEXT NOT NULL);
    CREATE TABLE reports (
        report_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, seq {int} NOT NULL,
        ts {int} NOT NULL, received_at {int} NOT NULL, envelope {blob} NOT NULL, signature {blob} NOT NULL);
    CREATE INDEX reports_ts ON reports (ts);
    CREATE INDEX reports_device ON reports (device_id, seq);
    CREATE TABLE rejections (
        id {serial}, reason TEXT NOT NULL, message TEXT NOT NULL,
        received_at {int} NOT NULL, report_id TEXT, device_id TEXT, raw {blob} NOT NULL);
    CREATE INDEX rejections_received ON rejections (received_at);
    CREATE TABLE epochs (
        number {int} PRIMARY KEY, start_ts {int} NOT NULL, end_ts {int} NOT NULL,
        manifest TEXT NOT NULL, inputs TEXT NOT NULL, sector_state TEXT NOT NULL);
    CREATE TABLE verdicts (
        epoch {int} NOT NULL, report_id TEXT NOT NULL, device_id TEXT NOT NULL, reason TEXT NOT NULL,
        evidence TEXT NOT NULL, PRIMARY KEY (epoch, report_id));
    CREATE INDEX verdicts_device ON verdicts (epoch, device_id);
    CREATE TABLE device_rewards (
        epoch {int} NOT NULL, device_id TEXT NOT NULL, category TEXT NOT NULL, units {int} NOT NULL,
        amount TEXT NOT NULL, breakdown TEXT NOT NULL, PRIMARY KEY (epoch, device_id, category));
    CREATE TABLE owner_rewards (
        epoch {int} NOT NULL, owner TEXT NOT NULL, amount TEXT NOT NULL, cumulative TEXT NOT NULL,
        PRIMARY KEY (epoch, owner));
    CREATE TABLE device_notes (
        epoch {int} NOT NULL, device_id TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL);
    CREATE INDEX device_notes_device ON device_notes (epoch, device_id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
SCHEMA_V2 = """
    CREATE TABLE entropy (value TEXT PRIMARY KEY, ts {int} NOT NULL, source TEXT NOT NULL);
    CREATE INDEX entropy_ts ON entropy (ts);
"""
SCHEMA_V3 = """
    CREATE TABLE device_seq (device_id TEXT PRIMARY KEY, last_seq {int} NOT NULL);
    INSERT INTO device_seq SELECT device_id, MAX(seq) FROM reports GROUP BY device_id;
    DROP INDEX reports_device;
"""
SCHEMA_V4 = """
    CREATE TABLE rejection_samples (
        id {serial}, reason TEXT NOT NULL, received_at {int} NOT NULL, source TEXT NOT NULL,
        report_id TEXT, device_id TEXT, message TEXT NOT NULL, raw {blob} NOT NULL);
    CREATE INDEX rejection_samples_reason ON rejection_samples (reason, id);
    INSERT INTO rejection_samples (reason, received_at, source, report_id, device_id, message, raw)
        SELECT reason, received_at, 'before-counters', report_id, device_id, substr(message, 1, 300),
            substr(raw, 1, 512)
        FROM (SELECT r.*, ROW_NUMBER() OVER (PARTITION BY reason ORDER BY id DESC) AS latest
              FROM rejections r) ranked
        WHERE latest <= 8 ORDER BY id;
    CREATE TABLE rejection_counts (
        bucket {int} NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL, count {int} NOT NULL,
        PRIMARY KEY (bucket, reason, source));
    INSERT INTO rejection_counts
        SELECT received_at, reason, 'before-counters', COUNT(*) FROM rejections GROUP BY received_at, reason;
    DROP TABLE rejections;
"""

SCHEMA_V5 = """
    CREATE TABLE usage_receipts (
        receipt_id TEXT PRIMARY KEY, sector TEXT NOT NULL, device_id TEXT NOT NULL, payer TEXT NOT NULL,
        credits {int} NOT NULL, ref TEXT NOT NULL, ts {int} NOT NULL, received_at {int} NOT NULL,
        receipt {blob} NOT NULL, signature {blob} NOT NULL, settled_epoch {int}, UNIQUE (payer, ref));
    CREATE INDEX usage_received ON usage_receipts (received_at);
    CREATE INDEX usage_unsettled ON usage_receipts (payer, settled_epoch);
"""
SCHEMA_V6 = """
    CREATE INDEX reports_received ON reports (received_at);
    CREATE TABLE report_seqs (device_id TEXT NOT NULL, seq {int} NOT NULL, PRIMARY KEY (device_id, seq));
    CREATE TABLE challenges (
        kind TEXT NOT NULL, challenge_id TEXT NOT NULL, issued_at {int} NOT NULL, entropy TEXT NOT NULL,
        period_start {int} NOT NULL, device_id TEXT, payload TEXT NOT NULL, PRIMARY KEY (kind, challenge_id));
    CREATE INDEX challenges_issued ON challenges (issued_at);
    CREATE INDEX challenges_period ON challenges (kind, period_start);
    INSERT INTO challenges SELECT 'wireless.entropy', value, ts, source, ts, NULL, '{{}}' FROM entropy;
    CREATE TABLE sector_device_state (
        sector TEXT NOT NULL, device_id TEXT NOT NULL, epoch {int} NOT NULL, value TEXT,
        PRIMARY KEY (sector, device_id, epoch));
"""
SCHEMA_V7 = """
    ALTER TABLE usage_receipts ADD COLUMN countersignature {blob};
"""
SCHEMA_V8 = """
    CREATE TABLE verdicts_by_device (
        epoch {int} NOT NULL, report_id TEXT NOT NULL, device_id TEXT NOT NULL, reason TEXT NOT NULL,
        evidence TEXT NOT NULL, PRIMARY KEY (epoch, device_id, report_id)){without_rowid};
    INSERT INTO verdicts_by_device SELECT epoch, report_id, device_id, reason, evidence FROM verdicts
        ORDER BY epoch, device_id, report_id;
    DROP TABLE verdicts;
    ALTER TABLE verdicts_by_device RENAME TO verdicts;
"""
SCHEMA_V9 = """
    CREATE TABLE report_blocks (
        id {serial}, min_ts {int} NOT NULL, max_ts {int} NOT NULL, min_received {int} NOT NULL,
        max_received {int} NOT NULL, row_count {int} NOT NULL, block {blob} NOT NULL);
    CREATE INDEX report_blocks_ts ON report_blocks (max_ts);
    CREATE INDEX report_blocks_received ON report_blocks (max_received);
    CREATE INDEX report_blocks_small ON report_blocks (row_count);
"""
SCHEMA_V10 = """
    CREATE TABLE verdict_blocks (
        id {serial}, epoch {int} NOT NULL, first_device TEXT NOT NULL, last_device TEXT NOT NULL,
        row_count {int} NOT NULL, block {blob} NOT NULL);
    CREATE INDEX verdict_blocks_epoch ON verdict_blocks (epoch, last_device);
"""
SCHEMA_V11 = """
    DELETE FROM report_blocks;
"""
SCHEMA_V12 = """
    {incompressible_blocks}
"""
SCHEMA_V13 = """
    {updated_in_place}
"""


def _lookup_chunks(keys: Sequence[K]) -> Iterator[list[K]]:
    """A batch lookup's distinct keys, sorted, `LOOKUP_CHUNK` at a time (one query each)."""
    unique = sorted(set(keys))
    for at in range(0, len(unique), LOOKUP_CHUNK):
        yield unique[at : at + LOOKUP_CHUNK]


def _storable(text: str) -> str:
    """Text as both databases keep it: PostgreSQL refuses NUL in text, and a refused report's message or
    claimed device can carry one (a payload key, a malformed envelope), so NUL is kept as U+FFFD rather
    than failing the batch of every other report with it."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _storable_rejection(r: Rejection) -> Rejection:
    if "\x00" not in r.message + r.source + (r.device_id or ""):
        return r
    device_id = _storable(r.device_id) if r.device_id is not None else None
    return replace(r, message=_storable(r.message), source=_storable(r.source), device_id=device_id)


def render_migrations(
    int_type: str,
    blob_type: str,
    serial: str,
    without_rowid: str = "",
    incompressible_blocks: str = "SELECT 1;",
    updated_in_place: str = "SELECT 1;",
) -> tuple[str, ...]:
    """The migrations in one dialect: 1 the report log, devices and epochs; 2 challenge entropy; 3 the last
    accepted seq per device in its own small table (a (device, seq) index on the log cost ~12 µs a report);
    4 rejections as counters per (bucket, reason, source) plus the latest few raw samples per reason,
    instead of one row per rejected report (anyone could fill the disk with garbage); 5 usage receipts (the
    payer's signed bytes, one per (payer, ref)); 6 reports by receive time (store-and-forward kinds), used
    seqs of `unique`-seq kinds, challenges of every sector (the wireless entropy carried over), and
    per-device sector state stored incrementally; 7 the device's countersignature of a usage receipt; 8
    verdicts kept in (epoch, device, report) order, the key every reader uses (an epoch's verdicts, or one
    device's), instead of report order plus a (epoch, device) index: an epoch's verdicts, written in that
    order, append to one B-tree (SQLite: a `WITHOUT ROWID` table) rather than updating a second one at
    random places (5x faster for 240,000 verdicts); 9 the report log also in blocks of columns
    (store/report_blocks.py), read when an epoch closes; 10 an epoch's verdicts in blocks of columns
    (store/verdict_blocks.py) instead of a row each; 11 report blocks compressed, in Arrow's view layout
    (read without copying their text again): blocks of the earlier layout are dropped, and the epochs they
    covered are read from the report rows, as for a store that predates blocks; 12 where the database would
    try to compress large values itself (PostgreSQL's TOAST), not for the blocks' bytes, compressed already
    (`incompressible_blocks`; nothing to do for SQLite); 13 room left in the pages of the last-seq table,
    whose rows every batch rewrites, so that PostgreSQL updates them in place without touching the index
    (`updated_in_place`: heap-only updates; pages written before keep their fill until rewritten)."""
    types = {
        "int": int_type,
        "blob": blob_type,
        "serial": serial,
        "without_rowid": without_rowid,
        "incompressible_blocks": incompressible_blocks,
        "updated_in_place": updated_in_place,
    }
    schemas = (
        SCHEMA_V1,
        SCHEMA_V2,
        SCHEMA_V3,
        SCHEMA_V4,
        SCHEMA_V5,
        SCHEMA_V6,
        SCHEMA_V7,
        SCHEMA_V8,
        SCHEMA_V9,
        SCHEMA_V10,
        SCHEMA_V11,
        SCHEMA_V12,
        SCHEMA_V13,
    )
    return tuple(schema.format(**types) for schema in schemas)


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):  # a mapping that is not a dict (a dict is written as it is, not copied)
        return dict(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_json_default)
"""One encoder for every row (`json.dumps` with options builds one per call: a fifth of a reward row's
time)."""


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) used for everything the store keeps as text."""
    return _ENCODER.encode(value)


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...


def _device(row: Sequence[Any], record: Mapping[str, Any] | None = None) -> DeviceInfo:
    """A device row (DEVICE_READ_COLUMNS); its attributes are the maker's and the owner's signed ones
    (`record`: its onboarding record, when the caller has parsed it already)."""
    record = json.loads(row[6]) if record is None else record
    location = record.get("location") or {}
    return DeviceInfo(
        device_id=row[0],
        key_type=row[1],
        owner=row[2],
        maker=row[3],
        location=row[4],
        onboarded_at=int(row[5]),
        attributes={**record.get("maker_attributes", {}), **location.get("attributes", {})},
    )


def _stored(row: Sequence[Any]) -> StoredReport:
    """A report row → StoredReport; a row whose signed bytes are not bytes or whose envelope does not
    decode to a map with a payload raises StoreCorruption naming the report (never a driver error)."""
    envelope, signature = row[6], row[7]
    if not isinstance(envelope, (bytes, memoryview)) or not isinstance(signature, (bytes, memoryview)):
        kinds = f"{type(envelope).__name__} / {type(signature).__name__}"
        raise StoreCorruption(f"stored report {row[0]}: envelope and signature must be bytes, got {kinds}")
    envelope = bytes(envelope)
    try:
        payload = cbor2.loads(envelope)["payload"]
    except Exception as error:
        raise StoreCorruption(
            f"stored report {row[0]}: envelope does not decode ({type(error).__name__})"
        ) from None
    record = ReportRecord(row[0], row[1], row[2], int(row[3]), int(row[4]), payload, int(row[5]))
    return StoredReport(record, envelope, bytes(signature))


def _envelope_bytes(report_id: str, envelope: Any) -> bytes:
    """A stored envelope as bytes (a driver may hand out a memoryview); anything else is corruption."""
    if not isinstance(envelope, (bytes, memoryview)):
        raise StoreCorruption(
            f"stored report {report_id}: envelope must be bytes, got {type(envelope).__name__}"
        )
    return bytes(envelope)


CHALLENGE_COLUMNS = "kind, challenge_id, issued_at, entropy, period_start, device_id, payload"


def _challenge(row: Sequence[Any]) -> Challenge:
    kind, challenge_id, issued_at, entropy, period_start, device_id, payload = row
    return Challenge(
        str(kind),
        str(challenge_id),
        int(issued_at),
        ChallengeSeed(str(entropy), int(period_start)),
        None if device_id is None else str(device_id),
        json.loads(payload),
    )


def _stored_receipt(
    data: bytes, signature: bytes, received_at: int, countersignature: bytes
) -> StoredReceipt:
    from opendepin.market.receipts import decode_receipt

    signed = decode_receipt(
        cbor2.dumps([data, signature, countersignature] if countersignature else [data, signature])
    )
    return StoredReceipt(UsageRecord.of(signed, received_at), data, signature, countersignature)


class _RowWriter(BatchWriter):
    """`SQLStore.appending`'s writer: inserts each part's report rows in the open transaction when it is
    added (idempotent by report id, counting what the database inserted) and keeps what the end writes."""

    def __init__(self, store: SQLStore, cur: Cursor) -> None:
        super().__init__()
        self._store, self._cur = store, cur
        self.rows: list[tuple[Any, ...]] = []
        self.inserted = 0
        self.last_seq: dict[str, int] = {}
        self.unique_seqs: set[tuple[str, int]] = set()

    def add(self, accepted: Sequence[StoredReport]) -> None:
        rows = [
            (
                r.record.report_id,
                r.record.kind,
                r.record.device_id,
                r.record.ts,
                r.record.seq,
                r.record.received_at,
                r.envelope,
                r.signature,
            )
            for r in accepted
        ]
        self.inserted += self._store._many(
            self._cur,
            f"INSERT INTO reports ({REPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (report_id) DO NOTHING",
            rows,
        )
        self.rows.extend(rows)
        for r in accepted:
            device, seq = r.record.device_id, r.record.seq
            if r.seq_unique:
                self.unique_seqs.add((device, seq))
            else:
                self.last_seq[device] = max(seq, self.last_seq.get(device, -1))


class SQLStore(Store):
    """Every Store operation as SQL; subclasses supply `_tx`, `_query` and placeholder translation."""

    @abstractmethod
    def _tx(self) -> AbstractContextManager[Cursor]:
        """A write transaction; commits on success, rolls back on any exception."""

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read (with `?` placeholders) and fetch all rows."""

    greatest = "MAX"
    """The dialect's two-argument maximum (SQLite MAX, PostgreSQL GREATEST)."""

    def _sql(self, sql: str) -> str:
        return sql

    def _exec(self, cursor: Cursor, sql: str, params: Sequence[Any] = ()) -> Any:
        return cursor.execute(self._sql(sql), params)

    def _many(self, cursor: Cursor, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run `sql` once per row; returns the rows it changed (both drivers sum them over the rows)."""
        if not rows:
            return 0
        result = cursor.executemany(self._sql(sql), rows)
        return int((result if result is not None else cursor).rowcount)

    # makers and devices
    def add_maker(self, address: str, name: str) -> None:
        with self._tx() as cur:
            self._exec(
                cur, "INSERT INTO makers VALUES (?, ?) ON CONFLICT (address) DO NOTHING", (address, name)
            )

    def makers(self) -> dict[str, str]:
        return {address: name for address, name in self._query("SELECT address, name FROM makers")}

    def add_device(self, device: DeviceInfo, attestation: Mapping[str, Any]) -> bool:
        with self._tx() as cur:
            result = self._exec(
                cur,
                f"INSERT INTO devices ({DEVICE_COLUMNS}, attestation) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (device_id) DO NOTHING",
                (
                    device.device_id,
                    device.key_type,
                    device.owner,
                    device.maker,
                    device.location,
                    device.onboarded_at,
                    dumps(attestation),
                ),
            )
            return bool(result.rowcount == 1)

    def get_device(self, device_id: str) -> DeviceInfo | None:
        rows = self._query(f"SELECT {DEVICE_READ_COLUMNS} FROM devices WHERE device_id = ?", (device_id,))
        return _device(rows[0]) if rows else None

    def get_devices(self, device_ids: Sequence[str]) -> list[DeviceInfo]:
        found: list[DeviceInfo] = []
        for chunk in _lookup_chunks(device_ids):
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT {DEVICE_READ_COLUMNS} FROM devices WHERE device_id IN ({marks})"
            found.extend(_device(row) for row in self._query(query + " ORDER BY device_id", chunk))
        return found

    def devices(self) -> dict[str, DeviceInfo]:
        return {row[0]: _device(row) for row in self._query(f"SELECT {DEVICE_READ_COLUMNS} FROM devices")}

    def devices_page(
        self, after: str | None = None, limit: int = 100, owner: str | None = None
    ) -> list[DeviceInfo]:
        query = f"SELECT {DEVICE_READ_COLUMNS} FROM devices WHERE device_id > ?"
        args: list[Any] = [after or ""]
        if owner is not None:
            query += " AND lower(owner) = ?"
            args.append(owner.lower())
        return [_device(row) for row in self._query(query + " ORDER BY device_id LIMIT ?", (*args, limit))]

    def devices_and_records(self) -> tuple[dict[str, DeviceInfo], dict[str, dict[str, Any]]]:
        """`devices()` and `onboarding_records()` from one read, each record parsed once."""
        devices: dict[str, DeviceInfo] = {}
        records: dict[str, dict[str, Any]] = {}
        for row in self._query(f"SELECT {DEVICE_READ_COLUMNS} FROM devices"):
            record = json.loads(row[6])
            devices[row[0]] = _device(row, record)
            records[str(row[0])] = record
        return devices, records

    def onboarding_records(self) -> dict[str, dict[str, Any]]:
        return {
            str(device_id): json.loads(record)
            for device_id, record in self._query("SELECT device_id, attestation FROM devices")
        }

    # the report log
    def append(
        self, accepted: Sequence[StoredReport], rejected: Sequence[Rejection], keep_samples: int = 8
    ) -> None:
        with self.appending(keep_samples) as batch:
            batch.add(accepted)
            batch.reject(rejected)

    @contextmanager
    def appending(self, keep_samples: int = 8) -> Iterator[BatchWriter]:
        """One transaction in which each part's report rows are inserted as it is added; at the end, the
        block of all the rows it inserted, the devices' last seqs, the unique seqs and the rejections, then
        the commit."""
        with self._tx() as cur:
            batch = _RowWriter(self, cur)
            yield batch
            self.write_block(cur, [row[:7] for row in batch.rows], batch.inserted)
            self._many(
                cur,
                "INSERT INTO device_seq VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE "
                f"SET last_seq = {self.greatest}(device_seq.last_seq, excluded.last_seq)",
                sorted(batch.last_seq.items()),
            )
            self._many(
                cur, "INSERT INTO report_seqs VALUES (?, ?) ON CONFLICT DO NOTHING", sorted(batch.unique_seqs)
            )
            self._append_rejections(cur, batch.rejected, keep_samples)

    skip_locked = ""
    """What a read that takes blocks to merge adds so that two writers never merge the same block (SQLite
    has one writer at a time; PostgreSQL: `FOR UPDATE SKIP LOCKED`)."""

    def write_block(self, cur: Cursor, rows: Sequence[Sequence[Any]], inserted: int) -> None:
        """Keep the report rows this transaction inserted (report id, kind, device id, ts, seq, received
        at, envelope) as a block, or blocks of `BLOCK_ROWS` (store/report_blocks.py); if the database
        skipped some of `rows` as already stored (`inserted` < their number), no block: the epochs they
        fall in are read from the rows. Then merge the small blocks if enough wait."""
        if not rows or inserted != len(rows):
            return
        try:
            blocks = [encode_block(rows[at : at + BLOCK_ROWS]) for at in range(0, len(rows), BLOCK_ROWS)]
        except (pa.ArrowException, UnicodeError, ValueError, TypeError, OverflowError) as error:
            # the rows are stored whatever happens to their copy: their epoch is then read from the rows
            log.warning("%d reports kept without a report block: %s", len(rows), str(error)[:200])
            return
        for block in blocks:
            self._insert_block(cur, block)
        if blocks[-1].row_count >= SMALL_ROWS:
            return  # no small block was added, so no more wait than after the last write
        small = self._exec(
            cur, "SELECT COUNT(*) FROM report_blocks WHERE row_count < ?", (SMALL_ROWS,)
        ).fetchone()
        if int(small[0]) >= COMPACT_COUNT:
            self._merge_small_blocks(cur)

    def _insert_block(self, cur: Cursor, block: Block) -> None:
        self._exec(
            cur,
            "INSERT INTO report_blocks (min_ts, max_ts, min_received, max_received, row_count, block) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            block,
        )

    def _merge_small_blocks(self, cur: Cursor) -> None:
        """Merge up to COMPACT_COUNT small blocks (oldest first) into one, in the caller's transaction."""
        chosen = self._exec(
            cur,
            f"SELECT id, block FROM report_blocks WHERE row_count < ? ORDER BY id LIMIT ?{self.skip_locked}",
            (SMALL_ROWS, COMPACT_COUNT),
        ).fetchall()
        if len(chosen) < 2:
            return
        merged = encode_frame_block(decode_blocks(block for _, block in chosen))
        self._many(cur, "DELETE FROM report_blocks WHERE id = ?", [(block_id,) for block_id, _ in chosen])
        self._insert_block(cur, merged)

    def logged_report_frame(self, start: int, end: int, by_receive_time: bool = False) -> pl.DataFrame | None:
        """`report_frame` read from the report blocks, or None when they do not hold every report of the
        window (store/report_blocks.py: equal counts mean equal sets)."""
        low, high = ("min_received", "max_received") if by_receive_time else ("min_ts", "max_ts")
        parts = []
        for chunk in self._query_chunks(
            f"SELECT block, {low}, {high} FROM report_blocks WHERE {high} >= ? AND {low} < ?",
            (start, end),
            size=BLOCKS_PER_READ,
        ):  # a few blocks at a time, decompressed into the frame; blocks across an edge of the window cut
            part = decode_blocks(block for (block, _, _) in chunk)
            if any(first < start or last >= end for (_, first, last) in chunk):
                part = in_window(part, start, end, by_receive_time)
            parts.append(part)
        frame = pl.concat(parts, rechunk=False) if parts else empty_report_frame()  # sorted below: one copy
        del parts
        if frame.height != self.count_reports(start, end, by_receive_time):
            return None
        return sort_by_report_id(frame)

    def _append_rejections(self, cur: Cursor, rejected: Sequence[Rejection], keep: int) -> None:
        """Add the batch's rejections to their counters and keep only the latest `keep` samples of each
        reason it touched: storage grows with buckets × reasons × sources, never with rejected reports."""
        rejected = [_storable_rejection(r) for r in rejected]
        counts: dict[tuple[int, str, str], int] = {}
        for r in rejected:
            key = (r.received_at if r.bucket is None else r.bucket, r.reason, r.source)
            counts[key] = counts.get(key, 0) + 1
        self._many(
            cur,
            "INSERT INTO rejection_counts VALUES (?, ?, ?, ?) ON CONFLICT (bucket, reason, source) "
            "DO UPDATE SET count = rejection_counts.count + excluded.count",
            [(*key, n) for key, n in sorted(counts.items())],
        )
        latest: dict[str, list[Rejection]] = {}
        for r in rejected:
            latest.setdefault(r.reason, []).append(r)
        samples = [r for group in latest.values() for r in group[-keep:]] if keep > 0 else []
        self._many(
            cur,
            "INSERT INTO rejection_samples (reason, received_at, source, report_id, device_id, message, raw) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (r.reason, r.received_at, r.source, r.report_id, r.device_id, r.message, r.raw)
                for r in samples
            ],
        )
        self._many(
            cur,
            "DELETE FROM rejection_samples WHERE reason = ? AND id NOT IN "
            "(SELECT id FROM rejection_samples WHERE reason = ? ORDER BY id DESC LIMIT ?)",
            [(reason, reason, keep) for reason in sorted(latest)],
        )

    def last_seqs(self) -> dict[str, int]:
        return {d: int(s) for d, s in self._query("SELECT device_id, last_seq FROM device_seq")}

    def used_seqs(self, pairs: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        found: set[tuple[str, int]] = set()
        for chunk in _lookup_chunks(pairs):
            rows = self._query(
                "WITH v (device_id, seq) AS (VALUES " + ", ".join(["(?, ?)"] * len(chunk)) + ") "
                "SELECT r.device_id, r.seq FROM report_seqs r JOIN v "
                "ON r.device_id = v.device_id AND r.seq = v.seq",
                [value for pair in chunk for value in pair],
            )
            found.update((str(d), int(q)) for d, q in rows)
        return found

    def stored_report_ids(self, report_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _lookup_chunks(report_ids):
            marks = ", ".join("?" * len(chunk))
            rows = self._query(f"SELECT report_id FROM reports WHERE report_id IN ({marks})", chunk)
            found.update(str(r) for (r,) in rows)
        return found

    def stored_reports_received_between(self, start: int, end: int) -> list[StoredReport]:
        rows = self._query(
            f"SELECT {REPORT_COLUMNS} FROM reports WHERE received_at >= ? AND received_at < ? "
            "ORDER BY report_id",
            (start, end),
        )
        return [_stored(row) for row in rows]

    def has_report(self, report_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM reports WHERE report_id = ?", (report_id,)))

    def stored_reports_between(self, start: int, end: int) -> list[StoredReport]:
        rows = self._query(
            f"SELECT {REPORT_COLUMNS} FROM reports WHERE ts >= ? AND ts < ? ORDER BY report_id", (start, end)
        )
        return [_stored(row) for row in rows]

    def _query_chunks(
        self, sql: str, params: Sequence[Any] = (), size: int = 100_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """A read's rows, a chunk at a time (adapters that can stream override this)."""
        yield self._query(sql, params)

    def report_frame(self, start: int, end: int, by_receive_time: bool = False) -> pl.DataFrame:
        """One query, read a chunk of rows at a time into columns (no record per report)."""
        column = "received_at" if by_receive_time else "ts"
        parts = []
        for rows in self._query_chunks(
            f"SELECT report_id, kind, device_id, ts, seq, received_at, envelope FROM reports "
            f"WHERE {column} >= ? AND {column} < ?",
            (start, end),
        ):
            if not rows:
                continue
            columns = list(zip(*rows, strict=True))
            envelopes = columns[6]
            if not all(isinstance(e, bytes) for e in envelopes):
                envelopes = tuple(
                    _envelope_bytes(rid, e) for rid, e in zip(columns[0], envelopes, strict=True)
                )
            parts.append(
                pl.DataFrame(
                    dict(zip(REPORT_SCHEMA, [*columns[:6], envelopes], strict=True)), schema=REPORT_SCHEMA
                )
            )
            del rows, columns, envelopes
        # sorted here rather than by the database (a temporary B-tree there, a parallel sort here)
        return sort_by_report_id(pl.concat(parts, rechunk=True)) if parts else empty_report_frame()

    def reports_between(self, start: int, end: int) -> list[ReportRecord]:
        return [stored.record for stored in self.stored_reports_between(start, end)]

    def stored_report(self, report_id: str) -> StoredReport | None:
        rows = self._query(f"SELECT {REPORT_COLUMNS} FROM reports WHERE report_id = ?", (report_id,))
        return _stored(rows[0]) if rows else None

    def rejection_counts(self, start: int, end: int) -> dict[str, int]:
        rows = self._query(
            "SELECT reason, SUM(count) FROM rejection_counts "
            "WHERE bucket >= ? AND bucket < ? GROUP BY reason",
            (start, end),
        )
        return {reason: int(count) for reason, count in sorted(rows)}

    def rejection_tallies(self, since: int) -> dict[tuple[int, str, str], int]:
        """Every rejection counter of a bucket at or after `since`: (bucket, reason, source) → count."""
        rows = self._query(
            "SELECT bucket, reason, source, count FROM rejection_counts WHERE bucket >= ?", (since,)
        )
        return {(int(bucket), str(reason), str(source)): int(count) for bucket, reason, source, count in rows}

    def rejection_sources(self, start: int, end: int) -> dict[str, dict[str, int]]:
        rows = self._query(
            "SELECT source, reason, SUM(count) FROM rejection_counts WHERE bucket >= ? AND bucket < ? "
            "GROUP BY source, reason",
            (start, end),
        )
        out: dict[str, dict[str, int]] = {}
        for source, reason, count in sorted(rows):
            out.setdefault(source, {})[reason] = int(count)
        return out

    def rejection_samples(self, reason: str | None = None) -> list[Rejection]:
        where, params = ("WHERE reason = ? ", (reason,)) if reason is not None else ("", ())
        rows = self._query(
            "SELECT reason, message, received_at, report_id, device_id, raw, source FROM rejection_samples "
            f"{where}ORDER BY id",
            params,
        )
        return [
            Rejection(reason_, message, int(at), report_id, device_id, bytes(raw), source)
            for reason_, message, at, report_id, device_id, raw, source in rows
        ]

    def count_reports(self, start: int, end: int, by_receive_time: bool = False) -> int:
        column = "received_at" if by_receive_time else "ts"
        sql = f"SELECT COUNT(*) FROM reports WHERE {column} >= ? AND {column} < ?"
        return int(self._query(sql, (start, end))[0][0])

    # epochs
    def save_epoch(self, epoch: EpochRecord) -> None:
        n = epoch.number
        with self._tx() as cur:
            if self._exec(cur, "SELECT 1 FROM epochs WHERE number = ?", (n,)).fetchall():
                return
            verdicts = epoch.verdicts
            if not isinstance(verdicts, VerdictRows):
                verdicts = VerdictRows(verdict_frame(verdicts, dumps))
            for block in encode_verdict_blocks(verdicts):
                self._exec(  # a block at a time: an epoch's compressed verdicts are never all in memory
                    cur,
                    "INSERT INTO verdict_blocks (epoch, first_device, last_device, row_count, block) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (n, *block),
                )
            self._many(
                cur,
                "INSERT INTO device_rewards VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (n, dev, cat, units, str(amount), dumps(bd))
                    for dev, cat, units, amount, bd in epoch.device_rewards
                ],
            )
            self._many(
                cur,
                "INSERT INTO owner_rewards VALUES (?, ?, ?, ?)",
                [(n, owner, str(amount), str(cum)) for owner, amount, cum in epoch.owner_rewards],
            )
            self._many(
                cur,
                "INSERT INTO device_notes VALUES (?, ?, ?, ?)",
                [(n, dev, reason, dumps(ev)) for dev, reason, ev in epoch.notes],
            )
            self._many(
                cur,
                "INSERT INTO sector_device_state VALUES (?, ?, ?, ?)",
                [
                    (sector, device_id, n, None if value is None else dumps(value))
                    for sector, changes in sorted(epoch.device_state.items())
                    for device_id, value in sorted(changes.items())
                ],
            )
            # The manifest row is written last in the same transaction: it is the commit point.
            self._exec(
                cur,
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?)",
                (
                    n,
                    epoch.start,
                    epoch.end,
                    dumps(epoch.manifest),
                    dumps(epoch.inputs),
                    dumps(epoch.sector_state),
                ),
            )

    def prune_report_blocks(self, before: int) -> int:
        """Delete the report blocks with no report at or after `before`, `PRUNE_BLOCKS` per transaction:
        deleting a block walks its pages, so a million devices' blocks (9 GB) take minutes, during which one
        transaction would keep every ingest write waiting (store/report_blocks.py)."""
        pruned = 0
        while True:
            with self._tx() as cur:
                ids = [
                    int(row[0])
                    for row in self._exec(
                        cur,
                        "SELECT id FROM report_blocks WHERE max_ts < ? AND max_received < ? "
                        "ORDER BY id LIMIT ?",
                        (before, before, PRUNE_BLOCKS),
                    ).fetchall()
                ]
                if not ids:
                    return pruned
                self._exec(cur, f"DELETE FROM report_blocks WHERE id IN ({', '.join('?' * len(ids))})", ids)
            pruned += len(ids)

    def get_epoch(self, number: int) -> EpochRecord | None:
        rows = self._query(
            "SELECT number, start_ts, end_ts, manifest, inputs, sector_state FROM epochs WHERE number = ?",
            (number,),
        )
        if not rows:
            return None
        n, start, end, manifest, inputs, state = rows[0]
        owners = self._query(
            "SELECT owner, amount, cumulative FROM owner_rewards WHERE epoch = ? ORDER BY owner", (n,)
        )
        return EpochRecord(
            number=int(n),
            start=int(start),
            end=int(end),
            manifest=json.loads(manifest),
            inputs=json.loads(inputs),
            owner_rewards=[(o, int(a), int(c)) for o, a, c in owners],
            sector_state=json.loads(state),
        )

    def get_epoch_detail(self, number: int) -> EpochRecord | None:
        record = self.get_epoch(number)
        if record is None:
            return None
        verdicts = VerdictRows(sort_by_report_id(self.epoch_verdicts(number)))
        rewards = self._query(
            "SELECT device_id, category, units, amount, breakdown FROM device_rewards WHERE epoch = ? "
            "ORDER BY category, device_id",
            (number,),
        )
        notes = self._query("SELECT device_id, reason, evidence FROM device_notes WHERE epoch = ?", (number,))
        return replace(
            record,
            verdicts=verdicts,
            device_rewards=[
                (dev, cat, int(units), int(amount), json.loads(bd)) for dev, cat, units, amount, bd in rewards
            ],
            notes=[(dev, reason, json.loads(ev)) for dev, reason, ev in notes],
        )

    # usage receipts
    def append_usage(self, receipts: Sequence[StoredReceipt]) -> list[bool]:
        inserted = []
        with self._tx() as cur:
            for stored in receipts:
                r = stored.record
                result = self._exec(
                    cur,
                    "INSERT INTO usage_receipts (receipt_id, sector, device_id, payer, credits, ref, ts, "
                    "received_at, receipt, signature, countersignature) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (
                        r.receipt_id,
                        r.sector,
                        r.device,
                        r.payer,
                        r.credits,
                        r.ref,
                        r.ts,
                        r.received_at,
                        stored.receipt,
                        stored.signature,
                        stored.countersignature or None,
                    ),
                )
                inserted.append(bool(result.rowcount == 1))
        return inserted

    def usage_between(self, start: int, end: int) -> list[StoredReceipt]:
        rows = self._query(
            "SELECT receipt, signature, received_at, countersignature FROM usage_receipts "
            "WHERE received_at >= ? AND received_at < ? ORDER BY receipt_id",
            (start, end),
        )
        return [
            _stored_receipt(bytes(data), bytes(sig), int(at), bytes(counter or b""))
            for data, sig, at, counter in rows
        ]

    def credits_spent(self, payer: str) -> int:
        rows = self._query("SELECT COALESCE(SUM(credits), 0) FROM usage_receipts WHERE payer = ?", (payer,))
        return int(rows[0][0])

    def unsettled_credits(self, payer: str) -> int:
        rows = self._query(
            "SELECT COALESCE(SUM(credits), 0) FROM usage_receipts WHERE payer = ? AND settled_epoch IS NULL",
            (payer,),
        )
        return int(rows[0][0])

    def unsettled_usage_between(self, start: int, end: int) -> dict[str, int]:
        rows = self._query(
            "SELECT payer, SUM(credits) FROM usage_receipts WHERE received_at >= ? AND received_at < ? "
            "AND settled_epoch IS NULL GROUP BY payer ORDER BY payer",
            (start, end),
        )
        return {str(payer): int(total) for payer, total in rows}

    def mark_usage_settled(self, start: int, end: int, payer: str, epoch: int) -> None:
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE usage_receipts SET settled_epoch = ? WHERE payer = ? AND received_at >= ? "
                "AND received_at < ? AND settled_epoch IS NULL",
                (epoch, payer, start, end),
            )

    def epoch_numbers(self) -> list[int]:
        return [int(row[0]) for row in self._query("SELECT number FROM epochs ORDER BY number")]

    def epoch_manifests(self, after: int | None, limit: int) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT manifest FROM epochs WHERE number > ? ORDER BY number LIMIT ?",
            (-1 if after is None else after, limit),
        )
        return [json.loads(row[0]) for row in rows]

    def category_units(self, number: int) -> dict[str, int]:
        totals: dict[str, int] = {}
        rows = self._query("SELECT category, units FROM device_rewards WHERE epoch = ?", (number,))
        for category, units in rows:  # summed here: SQL integers could overflow
            totals[category] = totals.get(category, 0) + int(units)
        return dict(sorted(totals.items()))

    def epoch_verdicts(self, number: int, device_id: str | None = None) -> pl.DataFrame:
        """The verdict rows of closed epoch `number` (of one device) as a frame of `VERDICT_SCHEMA`, from
        its verdict blocks and, for an epoch saved before them, its rows (store/verdict_blocks.py)."""
        if device_id is None:
            where, params = "epoch = ?", (number,)
        else:
            where, params = (
                "epoch = ? AND last_device >= ? AND first_device <= ?",
                (number, device_id, device_id),
            )
        parts = [
            decode_verdict_blocks(block for (block,) in chunk)
            for chunk in self._query_chunks(
                f"SELECT block FROM verdict_blocks WHERE {where} ORDER BY id", params, 64
            )
        ]
        legacy = "SELECT report_id, device_id, reason, evidence FROM verdicts WHERE epoch = ?"
        if device_id is None:
            rows = self._query(legacy, (number,))
        else:
            rows = self._query(legacy + " AND device_id = ?", (number, device_id))
        if rows:
            parts.append(pl.DataFrame(rows, schema=VERDICT_SCHEMA, orient="row"))
        frame = pl.concat(parts) if parts else pl.DataFrame(schema=VERDICT_SCHEMA)
        return frame if device_id is None else frame.filter(pl.col("device_id") == device_id)

    def device_epoch(self, number: int, device_id: str) -> dict[str, Any]:
        judged = self.epoch_verdicts(number, device_id)
        stored = {
            rid: (kind, int(ts), int(seq))
            for rid, kind, ts, seq in self._query(
                "SELECT report_id, kind, ts, seq FROM reports WHERE device_id = ?", (device_id,)
            )
        }
        verdicts = sorted(
            (
                (rid, reason, ev, *stored[rid])
                for rid, reason, ev in judged.select("report_id", "reason", "evidence").iter_rows()
                if rid in stored
            ),
            key=lambda row: (row[4], row[5]),
        )
        rewards = self._query(
            "SELECT category, units, amount, breakdown FROM device_rewards "
            "WHERE epoch = ? AND device_id = ? ORDER BY category",
            (number, device_id),
        )
        notes = self._query(
            "SELECT reason, evidence FROM device_notes WHERE epoch = ? AND device_id = ?", (number, device_id)
        )
        return {
            "reports": [
                {
                    "report_id": rid,
                    "kind": kind,
                    "ts": int(ts),
                    "seq": int(seq),
                    "reason": reason,
                    "evidence": json.loads(ev),
                }
                for rid, reason, ev, kind, ts, seq in verdicts
            ],
            "rewards": [
                {"category": cat, "units": int(units), "amount": int(amount), "breakdown": json.loads(bd)}
                for cat, units, amount, bd in rewards
            ],
            "notes": [{"reason": reason, "evidence": json.loads(ev)} for reason, ev in notes],
        }

    # challenges
    def record_challenges(self, challenges: Sequence[Challenge]) -> None:
        with self._tx() as cur:
            self._many(
                cur,
                "INSERT INTO challenges VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (
                        c.kind,
                        c.challenge_id,
                        c.issued_at,
                        c.seed.entropy,
                        c.seed.period_start,
                        c.device,
                        dumps(c.payload),
                    )
                    for c in challenges
                ],
            )

    def challenges_for_period(self, kind: str, period_start: int) -> list[Challenge]:
        rows = self._query(
            f"SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE kind = ? AND period_start = ? "
            "ORDER BY challenge_id",
            (kind, period_start),
        )
        return [_challenge(row) for row in rows]

    def challenges_between(self, start: int, end: int) -> list[Challenge]:
        rows = self._query(
            f"SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE issued_at >= ? AND issued_at < ? "
            "ORDER BY kind, issued_at, challenge_id",
            (start, end),
        )
        return [_challenge(row) for row in rows]

    # per-device sector state
    def prior_device_state(self, number: int) -> dict[str, dict[str, Any]]:
        rows = self._query(
            "SELECT s.sector, s.device_id, s.value FROM sector_device_state s JOIN ("
            "SELECT sector, device_id, MAX(epoch) AS latest FROM sector_device_state WHERE epoch < ? "
            "GROUP BY sector, device_id) m ON s.sector = m.sector AND s.device_id = m.device_id "
            "AND s.epoch = m.latest WHERE s.value IS NOT NULL ORDER BY s.sector, s.device_id",
            (number,),
        )
        state: dict[str, dict[str, Any]] = {}
        for sector, device_id, value in rows:
            state.setdefault(str(sector), {})[str(device_id)] = json.loads(value)
        return state

    def device_state_changes(self, number: int) -> dict[str, dict[str, Any]]:
        rows = self._query(
            "SELECT sector, device_id, value FROM sector_device_state WHERE epoch = ? "
            "ORDER BY sector, device_id",
            (number,),
        )
        changes: dict[str, dict[str, Any]] = {}
        for sector, device_id, value in rows:
            changes.setdefault(str(sector), {})[str(device_id)] = None if value is None else json.loads(value)
        return changes

    # meta
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as cur:
            self._exec(
                cur,
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
