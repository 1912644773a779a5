"""Open the store a network.toml asks for (`[store] kind = "sqlite" | "postgres"`)."""

from __future__ import annotations

from pathlib import Path

from opendepin.config import StoreConfig
from opendepin.store.base import Store


def open_store(config: StoreConfig, data_dir: Path) -> Store:
    """SQLite under the data dir (embedded default) or PostgreSQL at `dsn`."""
    if config.kind == "postgres":
        from opendepin.store.postgres import PostgresStore

        return PostgresStore(config.dsn)
    from opendepin.store.sqlite import SQLiteStore

    return SQLiteStore(data_dir / config.path)
