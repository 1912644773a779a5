"""A new network's genesis is its creation time: `depin init` leaves no backlog of epochs to close."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from opendepin.config import load_config
from opendepin.rewards.epoch import epoch_of
from opendepin.template import DEFAULT_GENESIS, creation_genesis, write_template


def test_init_writes_its_creation_minute_as_genesis(tmp_path: Path) -> None:
    before = int(datetime.now(UTC).timestamp())
    config = load_config(write_template(tmp_path))
    after = int(datetime.now(UTC).timestamp())
    assert before - 60 < config.epochs.genesis_ts <= after
    assert config.epochs.genesis_ts % 60 == 0
    assert epoch_of(config, after) == 0  # nothing has ended yet: nothing to close


def test_creation_genesis_floors_to_the_minute() -> None:
    moment = datetime(2026, 11, 30, 11, 14, 59, 999_999, tzinfo=UTC)
    assert creation_genesis(moment) == datetime(2026, 11, 30, 11, 14, tzinfo=UTC)


def test_an_explicit_genesis_is_kept(tmp_path: Path) -> None:
    config = load_config(write_template(tmp_path, genesis=DEFAULT_GENESIS))
    assert config.epochs.genesis == DEFAULT_GENESIS
