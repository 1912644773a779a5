"""PostgreSQL store (production path): the same statements as SQLite over psycopg 3, versioned migrations.

Durability: each batch is one transaction committed before `append` returns (PostgreSQL's default
synchronous_commit=on waits for the WAL flush), so an acknowledged report survives a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from opendepin.store.sql import Cursor, SQLStore

MIGRATIONS: tuple[str, ...] = (
    # 1: the report log, devices and epochs
    """
    CREATE TABLE makers (address TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE devices (
        device_id TEXT PRIMARY KEY, key_type TEXT NOT NULL, owner TEXT NOT NULL, maker TEXT NOT NULL,
        location TEXT, onboarded_at BIGINT NOT NULL, attestation TEXT NOT NULL);
    CREATE TABLE reports (
        report_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, seq BIGINT NOT NULL,
        ts BIGINT NOT NULL, received_at BIGINT NOT NULL, envelope BYTEA NOT NULL, signature BYTEA NOT NULL);
    CREATE INDEX reports_ts ON reports (ts);
    CREATE INDEX reports_device ON reports (device_id, seq);
    CREATE TABLE rejections (
        id BIGSERIAL PRIMARY KEY, reason TEXT NOT NULL, message TEXT NOT NULL,
        received_at BIGINT NOT NULL, report_id TEXT, device_id TEXT, raw BYTEA NOT NULL);
    CREATE INDEX rejections_received ON rejections (received_at);
    CREATE TABLE epochs (
        number BIGINT PRIMARY KEY, start_ts BIGINT NOT NULL, end_ts BIGINT NOT NULL,
        manifest TEXT NOT NULL, inputs TEXT NOT NULL, sector_state TEXT NOT NULL);
    CREATE TABLE verdicts (
        epoch BIGINT NOT NULL, report_id TEXT NOT NULL, device_id TEXT NOT NULL, reason TEXT NOT NULL,
        evidence TEXT NOT NULL, PRIMARY KEY (epoch, report_id));
    CREATE INDEX verdicts_device ON verdicts (epoch, device_id);
    CREATE TABLE device_rewards (
        epoch BIGINT NOT NULL, device_id TEXT NOT NULL, category TEXT NOT NULL, units BIGINT NOT NULL,
        amount TEXT NOT NULL, breakdown TEXT NOT NULL, PRIMARY KEY (epoch, device_id, category));
    CREATE TABLE owner_rewards (
        epoch BIGINT NOT NULL, owner TEXT NOT NULL, amount TEXT NOT NULL, cumulative TEXT NOT NULL,
        PRIMARY KEY (epoch, owner));
    CREATE TABLE device_notes (
        epoch BIGINT NOT NULL, device_id TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL);
    CREATE INDEX device_notes_device ON device_notes (epoch, device_id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: challenge entropy served to devices (wireless proof of coverage)
    """
    CREATE TABLE entropy (value TEXT PRIMARY KEY, ts BIGINT NOT NULL, source TEXT NOT NULL);
    CREATE INDEX entropy_ts ON entropy (ts);
    """,
)


class PostgresStore(SQLStore):
    """The production store; `dsn` like `postgresql://postgres@127.0.0.1:5432/opendepin`."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._lock = threading.RLock()
        self._db = psycopg.connect(dsn, autocommit=True)
        self.migrate()

    def migrate(self) -> None:
        """Apply every migration newer than `schema_version`, each in its own transaction (under a lock)."""
        with self._lock, self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(4242)")
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            version = int(row[0]) if row and row[0] is not None else 0
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.execute(script)
                self._db.execute("INSERT INTO schema_version VALUES (%s)", (number,))

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        with self._lock, self._db.transaction(), self._db.cursor() as cursor:
            yield cursor

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(self._sql(sql), params).fetchall()  # type: ignore[arg-type]

    def close(self) -> None:
        with self._lock:
            self._db.close()
