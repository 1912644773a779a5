"""EpochSettler: each closed epoch posted once, in order; the usage credits an epoch paid for spent on chain
as the router, once; a payer whose balance fell short is spent down to zero and the shortfall reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opendepin.chain.deploy import ensure_deployed
from opendepin.chain.embedded import EmbeddedBackend
from opendepin.chain.keys import load_or_create_keys
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.identity.keystore import FAST_KDF_ENV
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.node import Node
from opendepin.settlement import EpochSettler, usage_tag
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

UNIT = 10**18
USER = Wallet(bytes.fromhex("77" * 32))
SHORT = Wallet(bytes.fromhex("78" * 32))


@pytest.fixture
def chain_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmbeddedBackend, Node]]:
    monkeypatch.setenv(FAST_KDF_ENV, "1")
    config = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
    clock = SimulatedClock(config.epochs.genesis_ts)
    backend = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path), clock=clock.now)
    ensure_deployed(backend, config, genesis_amount=1_000 * UNIT)
    node = Node(config, SQLiteStore(tmp_path / "depin.sqlite"), clock)
    node.use_chain(backend.latest_block_hash, backend.oracle_price_wad, backend.credits_of)
    yield backend, node
    node.store.close()
    backend.close()


def test_settle_posts_once_and_spends_the_usage_once(chain_node: tuple[EmbeddedBackend, Node]) -> None:
    backend, node = chain_node
    assert backend.buy_credits("0.5", recipient=USER.address).credits == 50_000
    assert backend.buy_credits("0.001", recipient=SHORT.address).credits == 100
    key = DeviceKey("ed25519", b"\x51" * 32)
    node.onboard(onboard_request(node.config.name, key))
    now = node.clock.now()
    receipts = [
        UsageReceipt("wireless", key.device_id, USER.address, 30_000, 720_000, "bytes", "s1", now),
        UsageReceipt("wireless", key.device_id, SHORT.address, 100, 2_400, "bytes", "s2", now),
    ]
    payers = (USER, SHORT)
    results = node.record_usage(
        [sign_receipt(r, w.sign_text).to_wire() for r, w in zip(receipts, payers, strict=True)]
    )
    assert [r.reason for r in results] == ["accepted", "accepted"]
    backend.spend_credits(SHORT.address, 60, usage_tag(99))  # spent elsewhere before the epoch settles
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    clock.set(node.config.epochs.genesis_ts + 86_400 + node.config.epochs.lateness_seconds)
    (record,) = node.close_due_epochs()
    settler = EpochSettler(backend, node.store)
    assert settler.settle(record) == {
        "settlement": "posted",
        "credits_spent": 30_040,
        "credit_shortfall": 60,
        "payers": 2,
    }
    assert backend.credits_of(USER.address) == 20_000 and backend.credits_of(SHORT.address) == 0
    assert node.store.unsettled_credits(USER.address) == 0
    assert backend.next_epoch() == 1
    again = settler.settle(record)  # a re-run after a crash: nothing is posted or spent twice
    assert again == {"settlement": "already_posted", "credits_spent": 0, "credit_shortfall": 0, "payers": 0}
    assert backend.credits_of(USER.address) == 20_000
    gas = settler.summary()["gas"]
    assert gas["post_epoch"] > 0 and gas["spend_credits"] > 0
