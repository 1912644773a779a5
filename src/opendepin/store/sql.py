"""The store over SQL, shared by the SQLite and PostgreSQL adapters: same statements, same rows.

Statements use `?` placeholders; an adapter translates them to its driver's style. Each adapter provides a
connection, a transaction context and its dialect's migrations (DDL differs: BLOB vs BYTEA, …).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import cbor2

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo
from opendepin.store.base import EpochRecord, Rejection, Store, StoredReport

DEVICE_COLUMNS = "device_id, key_type, owner, maker, location, onboarded_at"
DEVICE_READ_COLUMNS = f"{DEVICE_COLUMNS}, attestation"
REPORT_COLUMNS = "report_id, kind, device_id, ts, seq, received_at, envelope, signature"

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


def render_migrations(int_type: str, blob_type: str, serial: str) -> tuple[str, ...]:
    """The migrations in one dialect: 1 the report log, devices and epochs; 2 challenge entropy; 3 the last
    accepted seq per device in its own small table (a (device, seq) index on the log cost ~12 µs a report)."""
    types = {"int": int_type, "blob": blob_type, "serial": serial}
    return tuple(schema.format(**types) for schema in (SCHEMA_V1, SCHEMA_V2, SCHEMA_V3))


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) used for everything the store keeps as text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...


def _device(row: Sequence[Any]) -> DeviceInfo:
    """A device row (DEVICE_READ_COLUMNS); its attributes are the maker's and the owner's signed ones."""
    record = json.loads(row[6])
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
    envelope = bytes(row[6])
    record = ReportRecord(
        row[0], row[1], row[2], int(row[3]), int(row[4]), cbor2.loads(envelope)["payload"], int(row[5])
    )
    return StoredReport(record, envelope, bytes(row[7]))


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

    def _many(self, cursor: Cursor, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            cursor.executemany(self._sql(sql), rows)

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
                    dumps(dict(attestation)),
                ),
            )
            return bool(result.rowcount == 1)

    def get_device(self, device_id: str) -> DeviceInfo | None:
        rows = self._query(f"SELECT {DEVICE_READ_COLUMNS} FROM devices WHERE device_id = ?", (device_id,))
        return _device(rows[0]) if rows else None

    def devices(self) -> dict[str, DeviceInfo]:
        return {row[0]: _device(row) for row in self._query(f"SELECT {DEVICE_READ_COLUMNS} FROM devices")}

    def onboarding_records(self) -> dict[str, dict[str, Any]]:
        return {
            str(device_id): json.loads(record)
            for device_id, record in self._query("SELECT device_id, attestation FROM devices")
        }

    # the report log
    def append(self, accepted: Sequence[StoredReport], rejected: Sequence[Rejection]) -> None:
        with self._tx() as cur:
            self._many(
                cur,
                f"INSERT INTO reports ({REPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (report_id) DO NOTHING",
                [
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
                ],
            )
            last: dict[str, int] = {}
            for r in accepted:
                last[r.record.device_id] = max(r.record.seq, last.get(r.record.device_id, -1))
            self._many(
                cur,
                "INSERT INTO device_seq VALUES (?, ?) ON CONFLICT (device_id) DO UPDATE "
                f"SET last_seq = {self.greatest}(device_seq.last_seq, excluded.last_seq)",
                sorted(last.items()),
            )
            self._many(
                cur,
                "INSERT INTO rejections (reason, message, received_at, report_id, device_id, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.reason, r.message, r.received_at, r.report_id, r.device_id, r.raw) for r in rejected],
            )

    def last_seqs(self) -> dict[str, int]:
        return {d: int(s) for d, s in self._query("SELECT device_id, last_seq FROM device_seq")}

    def has_report(self, report_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM reports WHERE report_id = ?", (report_id,)))

    def stored_reports_between(self, start: int, end: int) -> list[StoredReport]:
        rows = self._query(
            f"SELECT {REPORT_COLUMNS} FROM reports WHERE ts >= ? AND ts < ? ORDER BY report_id", (start, end)
        )
        return [_stored(row) for row in rows]

    def reports_between(self, start: int, end: int) -> list[ReportRecord]:
        return [stored.record for stored in self.stored_reports_between(start, end)]

    def stored_report(self, report_id: str) -> StoredReport | None:
        rows = self._query(f"SELECT {REPORT_COLUMNS} FROM reports WHERE report_id = ?", (report_id,))
        return _stored(rows[0]) if rows else None

    def rejection_counts(self, start: int, end: int) -> dict[str, int]:
        rows = self._query(
            "SELECT reason, COUNT(*) FROM rejections "
            "WHERE received_at >= ? AND received_at < ? GROUP BY reason",
            (start, end),
        )
        return {reason: int(count) for reason, count in sorted(rows)}

    def count_reports(self, start: int, end: int) -> int:
        return int(self._query("SELECT COUNT(*) FROM reports WHERE ts >= ? AND ts < ?", (start, end))[0][0])

    # epochs
    def save_epoch(self, epoch: EpochRecord) -> None:
        n = epoch.number
        with self._tx() as cur:
            if self._exec(cur, "SELECT 1 FROM epochs WHERE number = ?", (n,)).fetchall():
                return
            self._many(
                cur,
                "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)",
                [(n, rid, dev, reason, dumps(dict(ev))) for rid, dev, reason, ev in epoch.verdicts],
            )
            self._many(
                cur,
                "INSERT INTO device_rewards VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (n, dev, cat, units, str(amount), dumps(dict(bd)))
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
                [(n, dev, reason, dumps(dict(ev))) for dev, reason, ev in epoch.notes],
            )
            # The manifest row is written last in the same transaction: it is the commit point.
            self._exec(
                cur,
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?)",
                (
                    n,
                    epoch.start,
                    epoch.end,
                    dumps(dict(epoch.manifest)),
                    dumps(dict(epoch.inputs)),
                    dumps(dict(epoch.sector_state)),
                ),
            )

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

    def epoch_numbers(self) -> list[int]:
        return [int(row[0]) for row in self._query("SELECT number FROM epochs ORDER BY number")]

    def device_epoch(self, number: int, device_id: str) -> dict[str, Any]:
        verdicts = self._query(
            "SELECT v.report_id, v.reason, v.evidence, r.kind, r.ts, r.seq FROM verdicts v "
            "JOIN reports r ON r.report_id = v.report_id WHERE v.epoch = ? AND v.device_id = ? "
            "ORDER BY r.ts, r.seq",
            (number, device_id),
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

    # challenge entropy
    def record_entropy(self, value: str, ts: int, source: str) -> None:
        with self._tx() as cur:
            self._exec(
                cur,
                "INSERT INTO entropy VALUES (?, ?, ?) ON CONFLICT (value) DO NOTHING",
                (value, ts, source),
            )

    def entropy_between(self, start: int, end: int) -> dict[str, int]:
        rows = self._query("SELECT value, ts FROM entropy WHERE ts >= ? AND ts < ? ORDER BY ts", (start, end))
        return {str(value): int(ts) for value, ts in rows}

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
