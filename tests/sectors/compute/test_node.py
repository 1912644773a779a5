"""The compute sector through the node: entry point, attributes at onboarding, the order board and book
routes, bids and results ingested as signed reports, escrow and bonds as usage receipts, the epoch paying the
provider from the compute usage pool, and the bundle recomputing."""

from __future__ import annotations

from pathlib import Path

import cbor2
import pytest
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, parse_config
from opendepin.identity.attestation import OnboardingError
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.rewards.audit import verify_bundle
from opendepin.rewards.bundle import decode_bundle
from opendepin.sectors.compute.jobs import run_job
from opendepin.sectors.compute.merkle import outputs_root
from opendepin.sectors.compute.reports import BID, RESULT
from opendepin.sectors.registry import available_sectors
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, OWNER, onboard_request
from tests.sectors.compute.helpers import TENANT, make_order

DAY = 86_400
HW = {"cpu_cores": 8, "memory_mb": 16_384}


def _node(tmp_path: Path, compute: dict) -> Node:
    config = parse_config(
        {
            "name": "compute-net",
            "emission": {"kind": "fixed", "per_year": 365_000},
            "rewards": {
                "categories": {"compute_availability": 3_000, "compute_usage": 5_000, "oracles": 2_000},
                "device_categories": ["compute_availability", "compute_usage"],
                "unused_flows_to": {"compute_usage": {"compute_availability": 10_000}},
            },
            "sectors": {"compute": compute},
            "makers": [MakerConfig(name="m", address=MAKER.address).model_dump()],
        }
    )
    node = Node(config, SQLiteStore(tmp_path / "c.sqlite"), SimulatedClock(config.epochs.genesis_ts + 60))
    balances = {TENANT.address: 10**9, OWNER.address: 10**9}
    node.use_chain(node.block_hash_source, lambda: 10**18, balances.__getitem__)
    return node


@pytest.fixture
def node(compute_installed: None, tmp_path: Path) -> Node:
    return _node(tmp_path, {})


def test_no_capacity_challenge_is_served_where_the_network_does_not_judge_capacity(
    compute_installed: None, tmp_path: Path
) -> None:
    """A provider asking for the capacity challenge of a network with capacity disabled is told so (404 and
    the reason), instead of hashing for a minute for nothing while bid windows close."""
    node = _node(tmp_path, {"capacity": {"enabled": False}})
    key = DeviceKey("ed25519", bytes([90]) * 32)
    node.onboard(
        onboard_request(
            node.config.name, key, maker_attributes=HW, owner_attributes={"benchmark_hps": 1_000_000}
        )
    )
    answer = TestClient(create_app(node)).get(f"/v1/sectors/compute/capacity/{key.device_id}")
    assert answer.status_code == 404 and answer.json()["detail"]["reason"] == "compute.capacity_disabled"


def _receipt(client: TestClient, payer: Wallet, device: str, credits: int, ref: str, now: int) -> None:
    receipt = UsageReceipt("compute", device, payer.address, credits, credits, "credits", ref, now)
    body = cbor2.dumps([sign_receipt(receipt, payer.sign_text).to_wire()])
    posted = client.post("/v1/usage", content=body, headers={"content-type": "application/cbor"}).json()
    assert posted["accepted"] == 1, posted


def test_a_job_is_ordered_bid_on_run_verified_and_paid_through_the_node(node: Node) -> None:
    assert "compute" in available_sectors()
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    keys = [DeviceKey("ed25519", bytes([90 + i]) * 32) for i in range(2)]
    with pytest.raises(OnboardingError, match="cpu_cores"):
        node.onboard(onboard_request(node.config.name, keys[0], maker_attributes={"memory_mb": 64}))
    for i, key in enumerate(keys):
        node.onboard(
            onboard_request(
                node.config.name,
                key,
                maker_attributes=HW,
                owner_attributes={"benchmark_hps": 1_000_000 * (i + 1)},
            )
        )
    client = TestClient(create_app(node))
    now = clock.now()
    rules = client.get("/v1/sectors/compute/rules").json()
    assert rules["market"]["max_bids_per_order"] == 20
    capacity = client.get(f"/v1/sectors/compute/capacity/{keys[1].device_id}").json()
    assert int(capacity["target"]) > 0 and capacity["deadline"] > capacity["issued_at"]
    for key in keys:
        _receipt(client, OWNER, key.device_id, 5_000, f"bond:{key.device_id}", now)
    _receipt(client, TENANT, keys[1].device_id, 1_000, "escrow:1", now)  # escrow before the order
    signed = make_order(units=6, max_price=90, ts=now, size=200)
    order = signed[0]
    posted = client.post(
        "/v1/sectors/compute/orders", json={"order": signed[1].hex(), "signature": signed[2].hex()}
    )
    assert posted.status_code == 200, posted.text
    bad = client.post("/v1/sectors/compute/orders", json={"order": signed[1].hex(), "signature": "00" * 65})
    assert bad.status_code == 400 and bad.json()["detail"]["reason"].startswith("compute.bad_order")
    board = client.get("/v1/sectors/compute/orders").json()
    (listed,) = board["open"]
    assert listed["id"] == order.order_id
    # both providers bid with the bytes from the board; the cheaper wins
    for i, (key, price) in enumerate(zip(keys, (70, 60), strict=True)):
        payload = {
            "order": bytes.fromhex(listed["order_hex"]),
            "order_sig": bytes.fromhex(listed["signature"]),
            "price": price,
            "deposit": price * 6 // 2,
        }
        wire = sign_report(key, BID, now + 1, i + 1, payload).to_wire()
        assert node.ingest([wire])[0].accepted
    clock.set(now + 40)
    detail = client.get(f"/v1/sectors/compute/orders/{order.order_id}").json()
    assert detail["status"] == "leased"
    (lease,) = detail["leases"]
    assert lease["device"] == keys[1].device_id and lease["price"] == 60
    outputs = run_job(order.job)
    payload = {"order": order.order_id, "run": 0, "root": outputs_root(outputs).hex(), "outputs": outputs}
    assert node.ingest([sign_report(keys[1], RESULT, clock.now(), 10, payload).to_wire()])[0].accepted
    detail = client.get(f"/v1/sectors/compute/orders/{order.order_id}").json()
    (delivered,) = detail["results"]
    assert delivered["outputs"] == [o.hex() for o in outputs] and delivered["verdict"] == "pending"
    genesis = node.config.epochs.genesis_ts
    for t in range(genesis + 600, genesis + 1_800, 600):  # the scheduler issues each audit seed
        clock.set(t)
        node.challenges.issue_due()
    clock.set(genesis + DAY + node.config.epochs.lateness_seconds)
    (record,) = node.close_due_epochs()
    assert record.manifest["totals"].get("compute_usage", 0) > 0
    assert record.manifest["usage"]["credits"] == 6 * 60 - 6 * 60 * 500 // 10_000
    state = record.sector_state["compute"]
    assert state["orders"][order.order_id]["status"] == "done"
    (checked,) = client.get(f"/v1/sectors/compute/orders/{order.order_id}").json()["results"]
    assert checked["verdict"] == "ok"  # spot-checked with the audit seed after it arrived
    assert state["take"] == 6 * 60 * 500 // 10_000
    account = client.get(f"/v1/sectors/compute/accounts/{TENANT.address}").json()
    assert account["escrow"] == 1_000 - 360
    assert node.audit_epoch(0).matches
    assert verify_bundle(decode_bundle(node.export_epoch(0))).matches


def test_the_book_shows_what_falls_due_by_now_only_and_the_scheduler_issues_audit_seeds(node: Node) -> None:
    """A lease due at t shows active until t and failed from t (the reopened order on the board from t, so a
    provider bidding on it is never early); the serving scheduler issues the period's audit seed unasked."""
    from opendepin.scheduler import EpochScheduler
    from opendepin.sectors.challenges import compute_period_start
    from opendepin.sectors.compute.challenges import AUDIT

    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    key = DeviceKey("ed25519", bytes([95]) * 32)
    node.onboard(
        onboard_request(node.config.name, key, maker_attributes=HW, owner_attributes={"benchmark_hps": 10**6})
    )
    client = TestClient(create_app(node))
    now = clock.now()
    _receipt(client, OWNER, key.device_id, 5_000, f"bond:{key.device_id}", now)
    _receipt(client, TENANT, key.device_id, 1_000, "escrow:due", now)
    signed = make_order(units=2, max_price=90, ts=now, size=50, deadline_s=100)
    payload = {"order": signed[1], "order_sig": signed[2], "price": 50, "deposit": 50}
    assert node.ingest([sign_report(key, BID, now + 1, 1, payload).to_wire()])[0].accepted
    due = now + 30 + 100  # the lease starts when the 30 s bid window closes
    path = f"/v1/sectors/compute/orders/{signed[0].order_id}"
    clock.set(due - 1)
    assert [x["status"] for x in client.get(path).json()["leases"]] == ["active"]
    assert client.get("/v1/sectors/compute/orders").json()["open"] == []
    clock.set(due)
    (lease,) = client.get(path).json()["leases"]
    assert lease["status"] == "failed" and lease["reason"] == "compute.deadline_missed"
    (reopened,) = client.get("/v1/sectors/compute/orders").json()["open"]
    assert reopened["id"] == signed[0].order_id and reopened["bids_until"] == due + 30
    period = compute_period_start(clock.now(), 600)  # the default audit period
    assert node.store.challenges_for_period(AUDIT, period) == []
    EpochScheduler(node).tick()
    (audit,) = node.store.challenges_for_period(AUDIT, period)
    assert audit.issued_at == period


def test_a_bad_order_says_what_is_wrong(node: Node) -> None:
    """A refused order's error carries its message (the route had put it under `detail`: an empty message)."""
    client = TestClient(create_app(node), raise_server_exceptions=False)
    for body in ({"order": "zz", "signature": ""}, {"order": "a0", "signature": "00"}):
        response = client.post("/v1/sectors/compute/orders", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["detail"]["reason"] == "compute.bad_order", response.text
        assert response.json()["detail"]["message"], response.text


def test_a_receipt_repeated_in_its_batch_spends_nothing(node: Node) -> None:
    """A payer with credits for two receipts sends [A, A again, B]: A accepted, its repeat refused as a
    duplicate without holding A's credits a second time, B accepted (it was refused as
    usage.insufficient_credits)."""
    key = DeviceKey("ed25519", bytes([77]) * 32)
    node.onboard(
        onboard_request(node.config.name, key, maker_attributes=HW, owner_attributes={"benchmark_hps": 10**6})
    )
    payer = Wallet(bytes([78]) * 32)
    node.use_chain(node.block_hash_source, lambda: 10**18, {payer.address: 100_000}.get)
    now = node.clock.now()

    def wire(ref: str) -> bytes:
        receipt = UsageReceipt("compute", key.device_id, payer.address, 50_000, 50_000, "credits", ref, now)
        return sign_receipt(receipt, payer.sign_text).to_wire()

    results = node.record_usage([wire("a"), wire("a"), wire("b")])
    assert [r.reason for r in results] == ["accepted", "usage.duplicate", "accepted"]
    assert node.store.credits_spent(payer.address) == 100_000
