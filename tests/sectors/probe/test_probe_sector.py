"""A sector defined outside the core, installed through an entry point, runs through the node: it onboards
devices with attributes, serves a route, issues a challenge, accepts late uploads within its policy, keeps
per-device state, and is paid from emission and from a usage pool; its epochs recompute from a bundle."""

from __future__ import annotations

from pathlib import Path

import cbor2
import pytest
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig, parse_config
from opendepin.identity.attestation import OnboardingError
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.rewards.audit import verify_bundle
from opendepin.rewards.bundle import decode_bundle
from opendepin.sectors.registry import available_sectors
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

HOUR = 3_600
DAY = 86_400
USER = Wallet(bytes.fromhex("66" * 32))


def probe_network(makers: list[MakerConfig]) -> NetworkConfig:
    return parse_config(
        {
            "name": "probe-net",
            "emission": {"kind": "fixed", "per_year": 365_000},
            "rewards": {
                "categories": {"probe_coverage": 3_000, "probe_usage": 5_000, "oracles": 2_000},
                "device_categories": ["probe_coverage", "probe_usage"],
                "unused_flows_to": {"probe_usage": {"probe_coverage": 10_000}},
            },
            "sectors": {"probe": {}},
            "makers": [m.model_dump() for m in makers],
        }
    )


@pytest.fixture
def probe_node(probe_installed: Path, tmp_path: Path) -> Node:
    config = probe_network([MakerConfig(name="m", address=MAKER.address)])
    node = Node(config, SQLiteStore(tmp_path / "probe.sqlite"), SimulatedClock(config.epochs.genesis_ts))
    credits = {USER.address: 10**9}
    node.use_chain(node.block_hash_source, lambda: 10**18, credits.__getitem__)
    return node


def test_the_sector_comes_from_its_entry_point(probe_installed: Path) -> None:
    assert "probe" in available_sectors()


def _onboard(node: Node, keys: list[DeviceKey]) -> None:
    for index, key in enumerate(keys):
        request = onboard_request(
            node.config.name,
            key,
            maker_attributes={"capacity": index + 1},
            owner_attributes={"site": f"roof {index}"},
        )
        node.onboard(request)


def test_attributes_are_checked_against_the_sector_model(probe_node: Node) -> None:
    key = DeviceKey("ed25519", b"\x31" * 32)
    with pytest.raises(OnboardingError, match="capacity"):
        probe_node.onboard(onboard_request(probe_node.config.name, key))  # the maker must state capacity
    with pytest.raises(OnboardingError, match="capacity"):
        probe_node.onboard(
            onboard_request(probe_node.config.name, key, maker_attributes={"capacity": "big"})
        )
    with pytest.raises(OnboardingError, match="not one any sector"):
        probe_node.onboard(
            onboard_request(probe_node.config.name, key, maker_attributes={"capacity": 2, "colour": "red"})
        )


def test_route_challenge_late_uploads_state_and_both_pools(probe_node: Node) -> None:
    node = probe_node
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    keys = [DeviceKey("ed25519", bytes([40 + i]) * 32) for i in range(6)]
    _onboard(node, keys)
    client = TestClient(create_app(node))
    genesis = node.config.epochs.genesis_ts
    seq = dict.fromkeys(range(len(keys)), 0)
    answered = 0
    for hour in range(24):
        clock.set(genesis + hour * HOUR + 60)
        wires = []
        for index, key in enumerate(keys):
            answer = client.get(f"/v1/sectors/probe/ping/{key.device_id}")
            if answer.status_code == 200 and index != 5:  # device 5 never answers
                ping = answer.json()
                seq[index] += 1
                payload = {"ping": ping["ping"], "nonce": ping["nonce"]}
                wires.append(sign_report(key, "probe.pong", clock.now(), seq[index], payload).to_wire())
                answered += 1
            else:
                assert (answer.status_code == 404 and answer.json()["detail"]["reason"] in (
                    "probe.not_pinged",
                    "not_found",
                )) or index == 5
        assert all(r.accepted for r in node.ingest(wires)), [r.reason for r in node.ingest([])]
    assert answered > 24  # about half the devices each hour
    # device 0 was offline all day and uploads its readings 10 hours into the next epoch, out of order
    clock.set(genesis + DAY + node.config.epochs.lateness_seconds)
    node.close_due_epochs()
    clock.set(genesis + DAY + 10 * HOUR)
    late = [
        sign_report(keys[0], "probe.reading", genesis + h * HOUR, 10_000 - h, {"value": 7, "sampled_at": 0})
        for h in range(20)
    ]
    results = node.ingest([w.to_wire() for w in late])
    assert [r.reason for r in results] == ["accepted"] * 20  # a closed epoch's device time, any seq order
    assert node.ingest([late[3].to_wire()])[0].reason == "report.duplicate"
    replay = sign_report(keys[0], "probe.reading", genesis + 5, 10_000 - 3, {"value": 8, "sampled_at": 0})
    assert node.ingest([replay.to_wire()])[0].reason == "report.replay"
    stale = sign_report(keys[0], "probe.reading", clock.now() - 4 * DAY, 1, {"value": 7, "sampled_at": 0})
    assert node.ingest([stale.to_wire()])[0].reason == "report.stale"
    # a user pays device 1 for its readings
    paid_for = keys[1].device_id
    receipt = UsageReceipt("probe", paid_for, USER.address, 50_000, 20, "readings", "s1", clock.now())
    body = cbor2.dumps([sign_receipt(receipt, USER.sign_text).to_wire()])
    posted = client.post("/v1/usage", content=body, headers={"content-type": "application/cbor"}).json()
    assert posted["accepted"] == 1, posted
    clock.set(genesis + 2 * DAY + node.config.epochs.lateness_seconds)
    first, second = node.store.get_epoch(0), node.close_due_epochs()[-1]
    assert first is not None
    assert first.manifest["totals"]["probe_coverage"] > 0
    assert first.manifest["device_notes_by_reason"].get("probe.missed_pings", 0) >= 1  # device 5
    assert second.manifest["totals"].get("probe_usage", 0) > 0  # paid from the usage pool
    assert second.manifest["usage"]["credits"] == 50_000
    detail = node.store.device_epoch(1, keys[0].device_id)
    assert len([r for r in detail["reports"] if r["kind"] == "probe.reading"]) == 20  # counted on arrival
    state = node.store.prior_device_state(2)["probe"]
    assert state[keys[0].device_id]["readings"] == 20
    for number in (0, 1):
        assert node.audit_epoch(number).matches, node.audit_epoch(number).differences[:3]
        assert verify_bundle(decode_bundle(node.export_epoch(number))).matches


def test_a_forged_challenge_in_a_bundle_is_caught(probe_node: Node) -> None:
    node = probe_node
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    _onboard(node, [DeviceKey("ed25519", bytes([70 + i]) * 32) for i in range(4)])
    node.challenges.issue_due()
    clock.set(node.config.epochs.genesis_ts + DAY + node.config.epochs.lateness_seconds)
    node.close_due_epochs()
    bundle = decode_bundle(node.export_epoch(0))
    rows = bundle.challenges["probe"]
    assert rows
    forged = [[*row[:6], {"nonce": "00" * 16}] for row in rows]
    from dataclasses import replace

    report = verify_bundle(replace(bundle, challenges={"probe": forged}))
    assert any("not what its seed derives" in p for p in report.input_problems)
