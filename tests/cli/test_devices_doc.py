"""docs/devices.md: its generated blocks equal what the code produces, and its test vectors hold against the
node's own encoder, keys, onboarding checks and HTTP API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cbor2
import pytest
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.cli.devices_doc import (
    VECTOR_NETWORK,
    VECTOR_TS,
    device_vectors,
    generated_blocks,
    read_block,
    vector_secret,
)
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.identity.keys import DeviceKey, verify_signature
from opendepin.identity.wallets import Wallet
from opendepin.node import Node
from opendepin.reports.envelope import compute_report_id, decode_report, sign_report, split_batch
from opendepin.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "devices.md"
NETWORKS = [ROOT / "examples" / "wireless-iot.toml"]
REGENERATE = "python -m opendepin.cli.devices_doc --write docs/devices.md examples/wireless-iot.toml"


def _doc_vectors() -> dict[str, Any]:
    block = read_block(DOC.read_text(), "test-vectors")
    return json.loads(block.removeprefix("```json\n").removesuffix("\n```"))


@pytest.mark.parametrize("name", ["report-kinds", "test-vectors"])
def test_generated_blocks_match_the_code(name: str) -> None:
    expected = generated_blocks(NETWORKS)[name]
    assert read_block(DOC.read_text(), name) == expected, f"docs/devices.md is stale: run {REGENERATE}"


def test_every_report_kind_of_every_installed_sector_is_documented() -> None:
    from opendepin.cli.devices_doc import documented_plugins

    kinds = read_block(DOC.read_text(), "report-kinds")
    for plugin in documented_plugins(NETWORKS):
        for kind in plugin.report_kinds():
            assert f"### `{kind}` ({plugin.name} sector)" in kinds


def test_vector_reports_decode_verify_and_reencode() -> None:
    vectors = _doc_vectors()
    assert vectors == device_vectors()
    for vector in vectors["reports"]:
        secret = bytes.fromhex(vector["secret"])
        assert secret == vector_secret(f"{vector['key_type']} device")
        key = DeviceKey(vector["key_type"], secret)
        assert key.device_id == vector["device_id"]
        signed = decode_report(bytes.fromhex(vector["wire"]))
        assert signed.envelope_bytes.hex() == vector["envelope_cbor"]
        assert signed.signature.hex() == vector["signature"]
        assert signed.envelope.to_map() == vector["envelope"]
        assert signed.report_id == vector["report_id"] == compute_report_id(signed.envelope_bytes)
        assert verify_signature(key.key_type, key.public.raw, signed.envelope_bytes, signed.signature)
        tampered = bytearray(signed.envelope_bytes)
        tampered[-1] ^= 1
        assert not verify_signature(key.key_type, key.public.raw, bytes(tampered), signed.signature)
        if key.key_type == "ed25519":  # deterministic: the device's own signing gives the same bytes
            assert key.sign(signed.envelope_bytes).hex() == vector["signature"]
    wires = split_batch(bytes.fromhex(vectors["batch"]), 1000)
    assert [wire.hex() for wire in wires] == [vector["wire"] for vector in vectors["reports"]]
    assert cbor2.loads(bytes.fromhex(vectors["batch"])) == wires


def test_vector_onboarding_and_reports_through_the_http_api(tmp_path: Path) -> None:
    """A node of the vectors' network, with the vectors' maker, registers the vector device from the
    documented request body and accepts its heartbeat; the P-256 device was never onboarded."""
    vectors = _doc_vectors()
    onboarding = vectors["onboarding"]
    maker = Wallet(bytes.fromhex(onboarding["maker_secret"]))
    owner = Wallet(bytes.fromhex(onboarding["owner_secret"]))
    request = onboarding["request"]
    assert (maker.address, owner.address) == (request["maker"], request["owner"])
    assert maker.sign_text(onboarding["attestation_text"]).hex() == request["maker_signature"][2:]
    assert owner.sign_text(onboarding["location_text"]).hex() == request["location"]["signature"][2:]
    config = NetworkConfig(
        name=VECTOR_NETWORK,
        makers=[MakerConfig(name="vector-maker", address=maker.address)],
    )
    store = SQLiteStore(tmp_path / "depin.sqlite3")
    try:
        assert config.epochs.genesis_ts <= VECTOR_TS
        clock = SimulatedClock(VECTOR_TS)
        client = TestClient(create_app(Node(config, store, clock)), raise_server_exceptions=False)
        registered = client.post("/v1/devices", json=request)
        assert registered.status_code == 201, registered.text
        assert registered.json()["attributes"] == {"gain_dbi": 5.8, "mode": "full", "region": "EU868"}
        answer = client.post(
            "/v1/reports",
            content=bytes.fromhex(vectors["batch"]),
            headers={"content-type": "application/cbor"},
        )
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["status"] for r in results] == ["accepted", "device.unknown"]
        assert results[0]["report_id"] == vectors["reports"][0]["report_id"]
        # as the document says: an integer where a float is wanted is taken, text for a number is not
        device = DeviceKey("ed25519", vector_secret("ed25519 device"))
        whole = sign_report(device, "wireless.heartbeat", VECTOR_TS, 2, {"lat": 52, "lon": 13}).to_wire()
        text = sign_report(device, "wireless.heartbeat", VECTOR_TS, 3, {"lat": "52", "lon": 13}).to_wire()
        answer = client.post(
            "/v1/reports", content=cbor2.dumps([whole, text]), headers={"content-type": "application/cbor"}
        )
        assert [r["status"] for r in answer.json()["results"]] == ["accepted", "report.schema_invalid"]
    finally:
        store.close()
