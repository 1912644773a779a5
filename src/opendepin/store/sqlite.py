"""SQLite store: WAL journal, synchronous=FULL (a report is on disk before it is acknowledged), migrations."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cbor2

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo
from opendepin.store.base import EpochRecord, Rejection, Store, StoredReport

MIGRATIONS: tuple[str, ...] = (
    # 1: the report log, devices and epochs
    """
    CREATE TABLE makers (address TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE devices (
        device_id TEXT PRIMARY KEY, key_type TEXT NOT NULL, owner TEXT NOT NULL, maker TEXT NOT NULL,
        location TEXT, onboarded_at INTEGER NOT NULL, attestation TEXT NOT NULL);
    CREATE TABLE reports (
        report_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL,
        ts INTEGER NOT NULL, received_at INTEGER NOT NULL, envelope BLOB NOT NULL, signature BLOB NOT NULL);
    CREATE INDEX reports_ts ON reports (ts);
    CREATE INDEX reports_device ON reports (device_id, seq);
    CREATE TABLE rejections (
        id INTEGER PRIMARY KEY AUTOINCREMENT, reason TEXT NOT NULL, message TEXT NOT NULL,
        received_at INTEGER NOT NULL, report_id TEXT, device_id TEXT, raw BLOB NOT NULL);
    CREATE INDEX rejections_received ON rejections (received_at);
    CREATE TABLE epochs (
        number INTEGER PRIMARY KEY, start_ts INTEGER NOT NULL, end_ts INTEGER NOT NULL,
        manifest TEXT NOT NULL, inputs TEXT NOT NULL, sector_state TEXT NOT NULL);
    CREATE TABLE verdicts (
        epoch INTEGER NOT NULL, report_id TEXT NOT NULL, device_id TEXT NOT NULL, reason TEXT NOT NULL,
        evidence TEXT NOT NULL, PRIMARY KEY (epoch, report_id));
    CREATE INDEX verdicts_device ON verdicts (epoch, device_id);
    CREATE TABLE device_rewards (
        epoch INTEGER NOT NULL, device_id TEXT NOT NULL, category TEXT NOT NULL, units INTEGER NOT NULL,
        amount TEXT NOT NULL, breakdown TEXT NOT NULL, PRIMARY KEY (epoch, device_id, category));
    CREATE TABLE owner_rewards (
        epoch INTEGER NOT NULL, owner TEXT NOT NULL, amount TEXT NOT NULL, cumulative TEXT NOT NULL,
        PRIMARY KEY (epoch, owner));
    CREATE TABLE device_notes (
        epoch INTEGER NOT NULL, device_id TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL);
    CREATE INDEX device_notes_device ON device_notes (epoch, device_id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
)


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) used for everything the store keeps as text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


class SQLiteStore(Store):
    """The embedded default store (one file, no server)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=10000")
        self.migrate()

    def migrate(self) -> None:
        """Apply every migration newer than the file's `user_version`, each in its own transaction."""
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # makers and devices
    def add_maker(self, address: str, name: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO makers VALUES (?, ?) ON CONFLICT (address) DO NOTHING", (address, name))

    def makers(self) -> dict[str, str]:
        return {address: name for address, name in self._query("SELECT address, name FROM makers")}

    def add_device(self, device: DeviceInfo, attestation: Mapping[str, Any]) -> bool:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO NOTHING",
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
            return cursor.rowcount == 1

    @staticmethod
    def _device(row: tuple[Any, ...]) -> DeviceInfo:
        return DeviceInfo(
            device_id=row[0],
            key_type=row[1],
            owner=row[2],
            maker=row[3],
            location=row[4],
            onboarded_at=row[5],
        )

    def get_device(self, device_id: str) -> DeviceInfo | None:
        rows = self._query(
            "SELECT device_id, key_type, owner, maker, location, onboarded_at FROM devices "
            "WHERE device_id = ?",
            (device_id,),
        )
        return self._device(rows[0]) if rows else None

    def devices(self) -> dict[str, DeviceInfo]:
        rows = self._query("SELECT device_id, key_type, owner, maker, location, onboarded_at FROM devices")
        return {row[0]: self._device(row) for row in rows}

    # the report log
    def append(self, accepted: Sequence[StoredReport], rejected: Sequence[Rejection]) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (report_id) DO NOTHING",
                [
                    (
                        r.record.report_id,
                        r.record.device_id,
                        r.record.kind,
                        r.record.seq,
                        r.record.ts,
                        r.record.received_at,
                        r.envelope,
                        r.signature,
                    )
                    for r in accepted
                ],
            )
            db.executemany(
                "INSERT INTO rejections (reason, message, received_at, report_id, device_id, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.reason, r.message, r.received_at, r.report_id, r.device_id, r.raw) for r in rejected],
            )

    def last_seqs(self) -> dict[str, int]:
        return dict(self._query("SELECT device_id, MAX(seq) FROM reports GROUP BY device_id"))

    def has_report(self, report_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM reports WHERE report_id = ?", (report_id,)))

    def reports_between(self, start: int, end: int) -> list[ReportRecord]:
        rows = self._query(
            "SELECT report_id, kind, device_id, ts, seq, received_at, envelope FROM reports "
            "WHERE ts >= ? AND ts < ? ORDER BY report_id",
            (start, end),
        )
        return [ReportRecord(r[0], r[1], r[2], r[3], r[4], cbor2.loads(r[6])["payload"], r[5]) for r in rows]

    def stored_report(self, report_id: str) -> StoredReport | None:
        rows = self._query(
            "SELECT report_id, kind, device_id, ts, seq, received_at, envelope, signature FROM reports "
            "WHERE report_id = ?",
            (report_id,),
        )
        if not rows:
            return None
        r = rows[0]
        record = ReportRecord(r[0], r[1], r[2], r[3], r[4], cbor2.loads(r[6])["payload"], r[5])
        return StoredReport(record, r[6], r[7])

    def stored_reports_between(self, start: int, end: int) -> list[StoredReport]:
        rows = self._query(
            "SELECT report_id, kind, device_id, ts, seq, received_at, envelope, signature FROM reports "
            "WHERE ts >= ? AND ts < ? ORDER BY report_id",
            (start, end),
        )
        return [
            StoredReport(
                ReportRecord(r[0], r[1], r[2], r[3], r[4], cbor2.loads(r[6])["payload"], r[5]), r[6], r[7]
            )
            for r in rows
        ]

    def rejection_counts(self, start: int, end: int) -> dict[str, int]:
        rows = self._query(
            "SELECT reason, COUNT(*) FROM rejections "
            "WHERE received_at >= ? AND received_at < ? GROUP BY reason",
            (start, end),
        )
        return {reason: count for reason, count in sorted(rows)}

    def count_reports(self, start: int, end: int) -> int:
        return int(self._query("SELECT COUNT(*) FROM reports WHERE ts >= ? AND ts < ?", (start, end))[0][0])

    # epochs
    def save_epoch(self, epoch: EpochRecord) -> None:
        n = epoch.number
        with self._tx() as db:
            if db.execute("SELECT 1 FROM epochs WHERE number = ?", (n,)).fetchone():
                return
            db.executemany(
                "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)",
                [(n, rid, dev, reason, dumps(dict(ev))) for rid, dev, reason, ev in epoch.verdicts],
            )
            db.executemany(
                "INSERT INTO device_rewards VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (n, dev, cat, units, str(amount), dumps(dict(bd)))
                    for dev, cat, units, amount, bd in epoch.device_rewards
                ],
            )
            db.executemany(
                "INSERT INTO owner_rewards VALUES (?, ?, ?, ?)",
                [(n, owner, str(amount), str(cum)) for owner, amount, cum in epoch.owner_rewards],
            )
            db.executemany(
                "INSERT INTO device_notes VALUES (?, ?, ?, ?)",
                [(n, dev, reason, dumps(dict(ev))) for dev, reason, ev in epoch.notes],
            )
            # The manifest row is written last in the same transaction: it is the commit point.
            db.execute(
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
            number=n,
            start=start,
            end=end,
            manifest=json.loads(manifest),
            inputs=json.loads(inputs),
            owner_rewards=[(o, int(a), int(c)) for o, a, c in owners],
            sector_state=json.loads(state),
        )

    def epoch_numbers(self) -> list[int]:
        return [row[0] for row in self._query("SELECT number FROM epochs ORDER BY number")]

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
                    "ts": ts,
                    "seq": seq,
                    "reason": reason,
                    "evidence": json.loads(ev),
                }
                for rid, reason, ev, kind, ts, seq in verdicts
            ],
            "rewards": [
                {"category": cat, "units": units, "amount": int(amount), "breakdown": json.loads(bd)}
                for cat, units, amount, bd in rewards
            ],
            "notes": [{"reason": reason, "evidence": json.loads(ev)} for reason, ev in notes],
        }

    # meta
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
