"""SQLite store: WAL journal, synchronous=FULL (a report is on disk before it is acknowledged), migrations."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opendepin.store.sql import SQLStore, dumps

__all__ = ["MIGRATIONS", "SQLiteStore", "dumps"]

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
    # 2: challenge entropy served to devices (wireless proof of coverage)
    """
    CREATE TABLE entropy (value TEXT PRIMARY KEY, ts INTEGER NOT NULL, source TEXT NOT NULL);
    CREATE INDEX entropy_ts ON entropy (ts);
    """,
)


class SQLiteStore(SQLStore):
    """The embedded default store (one file, no server)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
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
