"""Storage pays usage only for receipts the provider countersigned (docs/storage.md, "Paying"): a receipt the
client alone signed, or whose device signature is wrong, pays nothing, is named with its numbers in a
`storage.receipts_unpaid` note, and counts in no usage pool; the node refuses such receipts at the door
(`usage.countersignature_required`), a payer is still never charged twice for one ref, and the
countersignature survives the store, the epoch bundle and its re-check."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.chain.deploy import ensure_deployed
from opendepin.chain.embedded import EmbeddedBackend
from opendepin.chain.keys import load_or_create_keys
from opendepin.clock import SimulatedClock
from opendepin.config import NetworkConfig, load_config
from opendepin.explain import explain_device
from opendepin.identity.keys import DeviceKey
from opendepin.identity.keystore import FAST_KDF_ENV
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import (
    SignedReceipt,
    UsageReceipt,
    UsageRecord,
    countersign,
    countersign_message,
    sign_receipt,
)
from opendepin.node import Node
from opendepin.rewards.audit import check_usage_receipts
from opendepin.rewards.bundle import decode_bundle, encode_bundle
from opendepin.rewards.epoch import EpochInputs, process_epoch
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.registry import load_sectors
from opendepin.sectors.storage.evaluate import (
    BAD_COUNTERSIGNATURE,
    NOT_COUNTERSIGNED,
    RECEIPTS_UNPAID,
    evaluate_storage,
)
from opendepin.sectors.storage.params import StorageParams
from opendepin.store.base import StoredReceipt
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request
from tests.sectors.storage.helpers import DAY, Net, rules
from tests.sectors.storage.test_evaluate import honest_epoch, notes_of

REPO = Path(__file__).resolve().parents[3]
KEYS = [
    DeviceKey("ed25519", hashlib.sha256(f"countersigning-provider-{i}".encode()).digest()) for i in range(10)
]
CLIENT = Wallet(hashlib.sha256(b"countersigning-client").digest())
STORJ = rules(held_schedule=((90, 75), (180, 50), (270, 25)), held_returns=((450, 50),))


def unheld_example() -> NetworkConfig:
    """examples/storage.toml without held amounts (the usage pool then counts each receipt as it comes)."""
    config = load_config(REPO / "examples" / "storage.toml")
    raw = config.model_dump(mode="json")
    raw["sectors"]["storage"] = {**raw["sectors"]["storage"], "held_schedule": [], "held_returns": []}
    return NetworkConfig.model_validate(raw)


def keyed_net(params: StorageParams) -> Net:
    """The tests' ten-provider network, with real device keys (the providers can countersign)."""
    devices = {
        k.device_id: DeviceInfo(
            k.device_id,
            f"0x{i + 1:040x}",
            "0x" + "11" * 20,
            "ed25519",
            None,
            -DAY,
            {"capacity_bytes": 10**12, "network_prefix": f"100.64.{i}.0/24"},
        )
        for i, k in enumerate(KEYS)
    }
    return Net(params, dict(sorted(devices.items())), CLIENT)


def receipt(key: DeviceKey, credits: int, ref: str, how: str, ts: int = 60) -> UsageRecord:
    """A storage receipt for `key`'s device, client-signed; `how`: `good` (countersigned by the device),
    `none` (client only) or `bad` (a countersignature by another device, as a forged row would carry)."""
    signed = sign_receipt(
        UsageReceipt("storage", key.device_id, CLIENT.address, credits, 4_096 * 24, "byte_hours", ref, ts),
        CLIENT.sign_text,
    )
    if how == "good":
        return UsageRecord.of(countersign(signed, key), ts)
    record = UsageRecord.of(signed, ts)
    if how == "bad":
        other = KEYS[(KEYS.index(key) + 1) % len(KEYS)]
        return replace(record, device_signature=other.sign(countersign_message(signed.receipt_id)))
    return record


def test_only_countersigned_receipts_pay_and_the_others_are_named_with_their_numbers() -> None:
    net = keyed_net(rules())
    reports, audits = honest_epoch(net, 4)
    key = KEYS[0]
    good = receipt(key, 700, "get:1", "good")
    client_only = receipt(key, 300, "get:2", "none")
    forged = receipt(key, 50, "get:3", "bad")
    data = replace(net.input(0, reports, audits), usage=[good, client_only, forged])
    out = evaluate_storage(data, net.params)
    assert out.unpaid_receipts == {
        client_only.receipt_id: NOT_COUNTERSIGNED,
        forged.receipt_id: BAD_COUNTERSIGNATURE,
    }
    (evidence,) = [e for reason, e in notes_of(out, key.device_id) if reason == RECEIPTS_UNPAID]
    assert evidence["receipts"] == 2 and evidence["credits"] == 350
    assert evidence["by_reason"] == {
        BAD_COUNTERSIGNATURE: {"receipts": 1, "credits": 50},
        NOT_COUNTERSIGNED: {"receipts": 1, "credits": 300},
    }
    listed = {item["receipt_id"]: item for item in evidence["listed"]}
    assert (
        listed[client_only.receipt_id]["quantity"] == 4_096 * 24
        and listed[forged.receipt_id]["ref"] == "get:3"
    )
    # a provider whose receipts were all countersigned has no such note
    assert all(reason != RECEIPTS_UNPAID for reason, _ in notes_of(out, KEYS[1].device_id))


def test_with_holding_only_countersigned_credits_are_earned_and_held() -> None:
    net = keyed_net(STORJ)
    reports, audits = honest_epoch(net, 4)
    usage = [receipt(k, 1_001, "a", "good") for k in KEYS] + [receipt(k, 5_000, "b", "none") for k in KEYS]
    out = evaluate_storage(replace(net.input(0, reports, audits), usage=usage), STORJ)
    # 1,001 earned, 750 held at age 1 (as test_held finds for client receipts where the network does not
    # require countersignatures); the 5,000 credits of unsigned receipts count for nothing
    assert out.usage_credits == {k.device_id: 1_001 - 750 for k in KEYS}
    assert len(out.unpaid_receipts) == len(KEYS)


def test_a_network_that_does_not_require_countersignatures_pays_client_receipts() -> None:
    net = keyed_net(rules(receipts_countersigned=False))
    reports, audits = honest_epoch(net, 4)
    usage = [receipt(KEYS[0], 300, "x", "none")]
    out = evaluate_storage(replace(net.input(0, reports, audits), usage=usage), net.params)
    assert out.unpaid_receipts == {} and not any(n.reason == RECEIPTS_UNPAID for n in out.notes)
    assert not load_sectors(load_config(REPO / "src/opendepin/sectors/storage/sim/storage.toml"))[
        "storage"
    ].usage_countersigned()
    assert load_sectors(load_config(REPO / "examples" / "storage.toml"))["storage"].usage_countersigned()


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(1, 10**9), st.sampled_from(["good", "none", "bad"])),
        max_size=12,
    )
)
def test_the_usage_pool_counts_exactly_the_countersigned_credits(
    rows: list[tuple[int, int, str]],
) -> None:
    """Through the whole epoch (`process_epoch`, examples/storage.toml without holding): the manifest's
    usage credits are the countersigned receipts' credits, whatever else was sent."""
    config = unheld_example()
    net = keyed_net(rules())
    usage = [receipt(KEYS[d], c, f"r{i}", how) for i, (d, c, how) in enumerate(rows)]
    window = replace(net.input(0, [], []).window)
    inputs = EpochInputs(window, net.devices, [], usage=usage, price_wad=10**18)
    manifest = process_epoch(config, load_sectors(config), inputs).manifest
    assert manifest["usage"]["credits"] == sum(c for _, c, how in rows if how == "good")


# through a node: ingestion, the store, the epoch, explain, the bundle and its re-check


@pytest.fixture
def storage_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmbeddedBackend, Node]]:
    monkeypatch.setenv(FAST_KDF_ENV, "1")
    text = (REPO / "examples" / "storage.toml").read_text()
    text += f'\n[[makers]]\nname = "m"\naddress = "{MAKER.address}"\n'
    (tmp_path / "network.toml").write_text(text)
    config = load_config(tmp_path / "network.toml")
    clock = SimulatedClock(config.epochs.genesis_ts + 3_600)
    backend = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path), clock=clock.now)
    ensure_deployed(backend, config, genesis_amount=1_000 * 10**18)
    node = Node(config, SQLiteStore(tmp_path / "depin.sqlite"), clock)
    node.use_chain(backend.latest_block_hash, backend.oracle_price_wad, backend.credits_of)
    yield backend, node
    node.store.close()
    backend.close()


def test_the_node_takes_only_countersigned_storage_receipts_and_explains_unpaid_ones(
    storage_node: tuple[EmbeddedBackend, Node],
) -> None:
    backend, node = storage_node
    assert backend.buy_credits("0.5", recipient=CLIENT.address).credits == 50_000
    key, other = KEYS[0], KEYS[1]
    for k, i in ((key, 0), (other, 1)):
        attributes = {"capacity_bytes": 10**12, "network_prefix": f"100.64.{i}.0/24"}
        node.onboard(onboard_request(node.config.name, k, owner_attributes=attributes))
    now = node.clock.now()

    def signed(ref: str, credits: int = 1_000) -> SignedReceipt:
        body = UsageReceipt("storage", key.device_id, CLIENT.address, credits, 4_096, "byte_hours", ref, now)
        return sign_receipt(body, CLIENT.sign_text)

    plain = signed("put:1")
    good = countersign(plain, key)
    # another provider's countersignature of this very receipt: it did not serve it
    foreign = replace(plain, device_signature=other.sign(countersign_message(plain.receipt_id)))
    again = countersign(signed("put:1", 999), key)  # a new receipt for the same ref
    results = node.record_usage(
        [plain.to_wire(), foreign.to_wire(), good.to_wire(), good.to_wire(), again.to_wire()]
    )
    assert [r.reason for r in results] == [
        "usage.countersignature_required",
        "receipt.bad_countersignature",
        "accepted",
        "usage.duplicate",
        "usage.duplicate",  # the payer is never charged twice for one ref
    ]
    # a row stored before the network required countersignatures (or by any other way in): paid nothing
    legacy = sign_receipt(
        UsageReceipt("storage", key.device_id, CLIENT.address, 333, 4_096, "byte_hours", "put:old", now),
        CLIENT.sign_text,
    )
    node.store.append_usage(
        [StoredReceipt(UsageRecord.of(legacy, now), legacy.receipt_bytes, legacy.signature)]
    )
    (stored_good,) = [s for s in node.store.usage_between(0, now + 1) if s.record.ref == "put:1"]
    assert stored_good.countersignature == good.device_signature and stored_good.record.countersigned

    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    clock.set(node.config.epochs.genesis_ts + 86_400 + node.config.epochs.lateness_seconds)
    (record,) = node.close_due_epochs()
    # the countersigned receipt only: examples/storage.toml holds 75 % of it at age 0 (Storj), and the 333
    # credits of the client-only receipt are in neither part
    assert record.manifest["usage"]["credits"] == 1_000 - 750
    explained = explain_device(node.store, key.device_id, 0)
    (note,) = [n for n in explained["notes"] if n["reason"] == RECEIPTS_UNPAID]
    assert note["evidence"]["receipts"] == 1 and note["evidence"]["credits"] == 333
    assert note["evidence"]["listed"][0]["reason"] == NOT_COUNTERSIGNED
    assert note["evidence"]["listed"][0]["ref"] == "put:old"
    # the bundle carries the countersignature (a fourth element) and its re-check accepts it
    bundle = decode_bundle(encode_bundle(node.epochs.bundle(0)))
    wires = {w.envelope: w for w in bundle.usage}
    assert wires[good.receipt_bytes].countersignature == good.device_signature
    assert wires[legacy.receipt_bytes].countersignature == b""
    records, problems = check_usage_receipts(bundle, bundle.device_infos())
    assert problems == [] and {r.receipt_id for r in records if r.countersigned} == {good.receipt_id}


def test_random_bytes_never_pass_as_a_provider_countersignature_at_the_node(
    storage_node: tuple[EmbeddedBackend, Node],
) -> None:
    backend, node = storage_node
    backend.buy_credits("0.5", recipient=CLIENT.address)
    key = KEYS[2]
    node.onboard(
        onboard_request(
            node.config.name, key, owner_attributes={"capacity_bytes": 1, "network_prefix": "100.64.2.0/24"}
        )
    )
    rng = random.Random(5)
    now = node.clock.now()
    wires = []
    for i in range(20):
        plain = sign_receipt(
            UsageReceipt("storage", key.device_id, CLIENT.address, 10, 1, "byte_hours", f"x{i}", now),
            CLIENT.sign_text,
        )
        wires.append(replace(plain, device_signature=rng.randbytes(64)).to_wire())
    assert {r.reason for r in node.record_usage(wires)} == {"receipt.bad_countersignature"}
    assert node.store.usage_between(0, now + 1) == []
