"""Settlement as a service: k-of-n oracle signatures, every closed epoch settled in order by the loop, and
reconciliation after a crash: a spend broadcast but not recorded is found on chain and never sent twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from opendepin.chain.deploy import ensure_deployed
from opendepin.chain.embedded import EmbeddedBackend
from opendepin.chain.keys import load_or_create_keys
from opendepin.chain.signing import address_of, sign_digest
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.identity.keystore import FAST_KDF_ENV
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.node import Node
from opendepin.settlement import (
    INFLIGHT_KEY,
    SETTLED_KEY,
    EpochSettler,
    NotEnoughSignatures,
    SettlementLoop,
    gather_signatures,
    local_oracle_signers,
    usage_tag,
)
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

UNIT = 10**18
USER = Wallet(bytes.fromhex("77" * 32))
DAY = 86_400


@pytest.fixture
def chain_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmbeddedBackend, Node]]:
    monkeypatch.setenv(FAST_KDF_ENV, "1")
    config = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
    clock = SimulatedClock(config.epochs.genesis_ts)
    backend = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path, 3, 2), clock=clock.now)
    ensure_deployed(backend, config, genesis_amount=1_000 * UNIT)
    node = Node(config, SQLiteStore(tmp_path / "depin.sqlite"), clock)
    node.use_chain(backend.latest_block_hash, backend.oracle_price_wad, backend.credits_of)
    yield backend, node
    node.store.close()
    backend.close()


def _usage_epoch(backend: EmbeddedBackend, node: Node, credits: int = 30_000) -> None:
    """USER buys credits and pays a device `credits` in epoch 0; the clock moves past epoch 0's cutoff."""
    assert backend.buy_credits("0.5", recipient=USER.address).credits == 50_000
    key = DeviceKey("ed25519", b"\x52" * 32)
    node.onboard(onboard_request(node.config.name, key))
    receipt = UsageReceipt(
        "wireless", key.device_id, USER.address, credits, 1, "bytes", "s1", node.clock.now()
    )
    assert [r.reason for r in node.record_usage([sign_receipt(receipt, USER.sign_text).to_wire()])] == [
        "accepted"
    ]
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    clock.set(node.config.epochs.genesis_ts + DAY + node.config.epochs.lateness_seconds)


def test_k_of_n_skips_a_failing_and_a_foreign_oracle() -> None:
    keys = ["0x" + bytes([i]).hex() * 32 for i in (1, 2, 3)]
    members = [address_of(k) for k in keys]
    digest = b"\x42" * 32

    def down(_digest: bytes) -> bytes:
        raise ConnectionError("oracle unreachable")

    stranger = "0x" + "09" * 32
    signers = [
        down,
        lambda d: sign_digest(stranger, d),
        lambda d: sign_digest(keys[2], d),
        lambda d: sign_digest(keys[2], d),  # the same oracle twice counts once
        lambda d: sign_digest(keys[0], d),
    ]
    signatures = gather_signatures(signers, digest, members, 2)
    signers_found = [Account._recover_hash(digest, signature=s) for s in signatures]
    assert signers_found == sorted([members[0], members[2]], key=lambda a: int(a, 16))
    with pytest.raises(NotEnoughSignatures, match="oracle unreachable"):
        gather_signatures(signers[:3], digest, members, 2)


def test_the_loop_settles_every_closed_epoch_in_order_with_2_of_3(
    chain_node: tuple[EmbeddedBackend, Node],
) -> None:
    backend, node = chain_node
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    clock.set(node.config.epochs.genesis_ts + 3 * DAY + node.config.epochs.lateness_seconds)
    assert len(node.close_due_epochs()) == 3
    settler = EpochSettler(backend, node.store, signers=local_oracle_signers(backend))
    loop = SettlementLoop(settler, lambda: node.next_epoch, threading.Lock(), clock=clock.now)
    done = loop.tick()
    assert [d["epoch"] for d in done] == [0, 1, 2]
    assert {d["settlement"] for d in done} == {"posted"}
    assert backend.next_epoch() == 3 and node.store.get_meta(SETTLED_KEY) == "3"
    assert loop.tick() == []  # nothing left: nothing sent


def test_a_spend_broadcast_but_not_recorded_is_found_and_not_sent_again(
    chain_node: tuple[EmbeddedBackend, Node],
) -> None:
    backend, node = chain_node
    _usage_epoch(backend, node)
    (record,) = node.close_due_epochs()
    settler = EpochSettler(backend, node.store)
    settler.post(record)
    # The crash: the in-flight spend was recorded, broadcast and mined, then the process died before the
    # store marked the receipts settled.
    inflight = {
        "epoch": 0,
        "payer": USER.address,
        "credits": 30_000,
        "start": record.start,
        "end": record.end,
    }
    node.store.set_meta(INFLIGHT_KEY, json.dumps(inflight))
    backend.spend_credits(USER.address, 30_000, usage_tag(0))
    assert backend.credits_of(USER.address) == 20_000
    restarted = EpochSettler(backend, node.store)
    assert restarted.reconcile() == "recorded"
    assert restarted.settle(record) == {
        "settlement": "already_posted",
        "credits_spent": 0,
        "credit_shortfall": 0,
        "payers": 0,
    }
    assert backend.credits_of(USER.address) == 20_000  # spent exactly once
    assert node.store.unsettled_credits(USER.address) == 0
    assert node.store.get_meta(INFLIGHT_KEY) == ""


def test_a_spend_recorded_in_flight_but_never_broadcast_is_sent_once(
    chain_node: tuple[EmbeddedBackend, Node],
) -> None:
    backend, node = chain_node
    _usage_epoch(backend, node)
    (record,) = node.close_due_epochs()
    inflight = {
        "epoch": 0,
        "payer": USER.address,
        "credits": 30_000,
        "start": record.start,
        "end": record.end,
    }
    node.store.set_meta(INFLIGHT_KEY, json.dumps(inflight))  # died before the broadcast
    settler = EpochSettler(backend, node.store)
    assert settler.reconcile() == "not_sent"
    outcome = settler.settle(record)
    assert outcome["credits_spent"] == 30_000 and outcome["settlement"] == "posted"
    assert backend.credits_of(USER.address) == 20_000
    assert backend.credit_spend_found(USER.address, 30_000, usage_tag(0))
    assert not backend.credit_spend_found(USER.address, 30_000, usage_tag(1))
