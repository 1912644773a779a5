"""PostgreSQL store (production path): the same statements as SQLite over psycopg 3, versioned migrations.

Durability: each batch is one transaction committed before `append` returns (PostgreSQL's default
synchronous_commit=on waits for the WAL flush), so an acknowledged report survives a crash.

A server restart breaks the connection: the transaction that meets the break fails (its caller retries or
answers with an error), and the next one opens a new connection (`_connection`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from opendepin.store.errors import StoreUnavailable
from opendepin.store.sql import Cursor, SQLStore, render_migrations

MIGRATIONS: tuple[str, ...] = render_migrations(
    "BIGINT",
    "BYTEA",
    "BIGSERIAL PRIMARY KEY",
    # stored out of line but never pglz-compressed: zstd-compressed Arrow streams do not compress again
    incompressible_blocks="ALTER TABLE report_blocks ALTER COLUMN block SET STORAGE EXTERNAL; "
    "ALTER TABLE verdict_blocks ALTER COLUMN block SET STORAGE EXTERNAL;",
    # every ingest batch rewrites its devices' last seq: half-full pages keep the new row version beside
    # the old one (a heap-only update: no index entry), measured 6.3 -> 3.3 us a report
    updated_in_place="ALTER TABLE device_seq SET (fillfactor = 50);",
)


def used_seqs_in(cur: Any, pairs: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
    """`Store.used_seqs` on a cursor (inside the caller's transaction): one query, the keys sent as two
    binary arrays."""
    if not pairs:
        return set()
    rows = cur.execute(
        "SELECT r.device_id, r.seq FROM report_seqs r JOIN unnest(%b::text[], %b::bigint[]) AS v (device_id, "
        "seq) ON r.device_id = v.device_id AND r.seq = v.seq",
        ([d for d, _ in pairs], [q for _, q in pairs]),
    ).fetchall()
    return {(str(d), int(q)) for d, q in rows}


def stored_ids_in(cur: Any, report_ids: Sequence[str]) -> set[str]:
    """`Store.stored_report_ids` on a cursor (inside the caller's transaction): one query."""
    if not report_ids:
        return set()
    rows = cur.execute("SELECT report_id FROM reports WHERE report_id = ANY(%b::text[])", (list(report_ids),))
    return {str(r) for (r,) in rows.fetchall()}


def explain_unavailable(dsn: str, error: psycopg.OperationalError) -> str:
    """Why the PostgreSQL store at `dsn` does not open, and what to do (the server's own words kept; the
    password, if the DSN holds one, left out)."""
    info = conninfo_to_dict(dsn)
    host, port = info.get("host", "localhost"), info.get("port", 5432)
    name = info.get("dbname") or info.get("user") or "postgres"
    text = " ".join(str(error).split())
    if "does not exist" in text and "database" in text:
        hint = (
            f"create it (`createdb -h {host} -p {port} -U {info.get('user', 'postgres')} {name}`) or point "
            "[store] dsn in network.toml at one that exists"
        )
    elif "Connection refused" in text or "No such file or directory" in text or "timeout" in text:
        hint = "start the server (Debian: `pg_ctlcluster 15 main start`) or fix [store] dsn in network.toml"
    else:
        hint = "check [store] dsn in network.toml and the server's access rules (pg_hba.conf)"
    return f"the PostgreSQL store {name!r} at {host}:{port} cannot be opened: {text}; {hint}"


class PostgresStore(SQLStore):
    """The production store; `dsn` like `postgresql://postgres@127.0.0.1:5432/opendepin`."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._lock = threading.RLock()
        try:
            self._db = psycopg.connect(dsn, autocommit=True)
            self.migrate()
        except psycopg.OperationalError as error:
            raise StoreUnavailable(explain_unavailable(dsn, error)) from error

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection, opened again if the server dropped it (raises while the server is down)."""
        if self._db.broken:
            self._db = psycopg.connect(self.dsn, autocommit=True)
        return self._db

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

    greatest = "GREATEST"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        with self._lock:
            db = self._connection()
            with db.transaction(), db.cursor() as cursor:
                yield cursor

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(self._sql(sql), params).fetchall()  # type: ignore[arg-type]

    def _query_chunks(
        self, sql: str, params: Sequence[Any] = (), size: int = 100_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Rows a chunk at a time from a server-side cursor in one transaction (one snapshot), so a large
        read never holds all its rows in the client at once."""
        with self._lock:
            db = self._connection()
            with db.transaction(), db.cursor(name="opendepin_chunks") as cursor:
                cursor.execute(self._sql(sql), params)  # type: ignore[arg-type]
                while rows := cursor.fetchmany(size):
                    yield rows

    def used_seqs(self, pairs: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        with self._tx() as cur:
            return used_seqs_in(cur, pairs)

    def stored_report_ids(self, report_ids: Sequence[str]) -> set[str]:
        with self._tx() as cur:
            return stored_ids_in(cur, report_ids)

    def close(self) -> None:
        with self._lock:
            self._db.close()
