"""Fixtures of the store tests: each test that takes `any_store` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opendepin.store.base import Store
from opendepin.store.sqlite import SQLiteStore
from tests.store.pg import postgres_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store: Store = SQLiteStore(tmp_path / "db.sqlite3")
        yield store
        store.close()
    else:
        with postgres_store() as store:
            yield store
