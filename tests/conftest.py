"""Shared fixtures: a network config with a known maker, an in-memory-clock node over a temp SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.attestation import (
    Attestation,
    LocationAssertion,
    attestation_message,
    location_message,
)
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.node import Node, OnboardRequest
from opendepin.store.sqlite import SQLiteStore

MAKER = Wallet(bytes.fromhex("11" * 32))
OWNER = Wallet(bytes.fromhex("22" * 32))
CELL = "8c1f1d48945d9ff"  # H3 resolution-12 cell at Berlin Alexanderplatz

# No deadline for any property test: Hypothesis' default of 200 ms an example is a timing threshold, and
# this suite runs on shared, noisy machines (an example of exact token formatting took 363 ms in CI once).
settings.register_profile("opendepin", deadline=None)
settings.load_profile("opendepin")


@pytest.fixture
def config() -> NetworkConfig:
    return NetworkConfig(makers=[MakerConfig(name="test-maker", address=MAKER.address)])


@pytest.fixture
def clock(config: NetworkConfig) -> SimulatedClock:
    return SimulatedClock(config.epochs.genesis_ts)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "depin.sqlite3")
    yield s
    s.close()


@pytest.fixture
def node(config: NetworkConfig, store: SQLiteStore, clock: SimulatedClock) -> Node:
    return Node(config, store, clock)


def onboard_request(
    network: str,
    key: DeviceKey,
    owner: Wallet = OWNER,
    maker: Wallet = MAKER,
    cell: str | None = CELL,
    maker_attributes: Mapping[str, Any] | None = None,
    owner_attributes: Mapping[str, Any] | None = None,
) -> OnboardRequest:
    """A correctly signed onboarding request; attributes are signed by the maker and the owner."""
    device_id = key.device_id
    maker_attributes = dict(maker_attributes or {})
    owner_attributes = dict(owner_attributes or {})
    attestation = Attestation(
        device_id,
        owner.address,
        maker.address,
        maker.sign_text(attestation_message(network, device_id, owner.address, maker_attributes)),
        maker_attributes,
    )
    location = None
    if cell is not None:
        location = LocationAssertion(
            device_id,
            cell,
            1,
            owner.sign_text(location_message(network, device_id, cell, 1, owner_attributes)),
            owner_attributes,
        )
    return OnboardRequest(attestation, location)


@pytest.fixture
def device_key() -> DeviceKey:
    return DeviceKey("ed25519", bytes.fromhex("33" * 32))


@pytest.fixture(autouse=True)
def _no_event_loop_left_running(request: pytest.FixtureRequest) -> None:
    """A test starts with no asyncio loop running in this thread (the explorer's tests override this:
    Playwright's sync API runs one while a module's browser is open): otherwise a loop left running by an
    earlier test makes every `asyncio.run` fail with a message that names the wrong test."""
    running = asyncio.events._get_running_loop()
    assert running is None, (
        f"an asyncio loop is running in this thread before {request.node.nodeid}: an earlier test in this "
        "process left it (a session-scoped Playwright, an interrupted loop)"
    )
