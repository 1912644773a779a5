"""A throw-away database on the machine's PostgreSQL server (127.0.0.1:5432, trust auth)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from opendepin.store.postgres import PostgresStore

SERVER = os.environ.get("OPENDEPIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a uniquely named database, yield its DSN, drop it afterwards."""
    name = f"opendepin_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_store() -> Iterator[PostgresStore]:
    with postgres_database() as dsn:
        store = PostgresStore(dsn)
        try:
            yield store
        finally:
            store.close()
