"""The HTTP API: per-report statuses, hostile input gets a clear 4xx (never a 500), nothing corrupted."""

from __future__ import annotations

import base64
import json

import cbor2
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import CELL, onboard_request

CBOR = {"content-type": "application/cbor"}


@pytest.fixture
def client(node: Node) -> TestClient:
    return TestClient(create_app(node), raise_server_exceptions=False)


def _onboard_json(
    network: str, key: DeviceKey, maker: Wallet | None = None, owner: Wallet | None = None
) -> dict[str, object]:
    request = onboard_request(
        network, key, **({"maker": maker} if maker else {}), **({"owner": owner} if owner else {})
    )
    a, loc = request.attestation, request.location
    assert loc is not None
    return {
        "device_id": a.device_id,
        "owner": a.owner,
        "maker": a.maker,
        "maker_signature": a.signature.hex(),
        "location": {"cell": loc.location, "nonce": loc.nonce, "signature": loc.signature.hex()},
    }


def test_onboard_and_get(client: TestClient, node: Node, device_key: DeviceKey) -> None:
    response = client.post("/v1/devices", json=_onboard_json(node.config.name, device_key))
    assert response.status_code == 201, response.text
    assert response.json()["location"] == CELL
    assert client.get(f"/v1/devices/{device_key.device_id}").json()["owner"] == response.json()["owner"]
    again = client.post("/v1/devices", json=_onboard_json(node.config.name, device_key))
    assert again.status_code == 201 and again.json()["onboarded_at"] == response.json()["onboarded_at"]
    other = _onboard_json(node.config.name, device_key, owner=Wallet(bytes.fromhex("55" * 32)))
    conflict = client.post("/v1/devices", json=other)
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["detail"]["reason"] == "onboarding.already_registered"


def test_invalid_onboarding(client: TestClient, node: Node, device_key: DeviceKey) -> None:
    unknown = client.post(
        "/v1/devices", json=_onboard_json(node.config.name, device_key, maker=Wallet.generate())
    )
    assert unknown.status_code == 403 and unknown.json()["detail"]["reason"] == "onboarding.unknown_maker"
    body = _onboard_json(node.config.name, device_key)
    body["maker_signature"] = "00" * 65
    assert client.post("/v1/devices", json=body).json()["detail"]["reason"] == "onboarding.bad_attestation"
    assert client.post("/v1/devices", json={"device_id": 1}).status_code == 422
    assert client.get("/v1/devices/ed25519:00").status_code == 404


def test_batch_statuses(client: TestClient, node: Node, clock: SimulatedClock, device_key: DeviceKey) -> None:
    node.onboard(onboard_request(node.config.name, device_key))
    now = clock.now()
    good = sign_report(device_key, HEARTBEAT, now, 1, {"lat": 52.52, "lon": 13.405}).to_wire()
    future = sign_report(device_key, HEARTBEAT, now + 10_000, 2, {"lat": 52.52, "lon": 13.405}).to_wire()
    stranger = sign_report(DeviceKey.generate(), HEARTBEAT, now, 1, {"lat": 1, "lon": 1}).to_wire()
    response = client.post(
        "/v1/reports", content=cbor2.dumps([good, future, stranger, b"junk", good]), headers=CBOR
    )
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["accepted", "report.future", "device.unknown", "report.malformed", "report.duplicate"]
    as_json = client.post("/v1/reports", json={"reports": [base64.b64encode(good).decode()]})
    assert as_json.json()["results"][0]["status"] == "report.duplicate"
    assert node.store.count_reports(0, 2**40) == 1
    assert node.store.rejection_counts(0, 2**40)["report.duplicate"] == 2


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"\xff\xfe", CBOR, 400),
        (cbor2.dumps({"a": 1}), CBOR, 400),
        (cbor2.dumps([1, 2]), CBOR, 400),
        (b"{not json", {"content-type": "application/json"}, 400),
        (b'{"reports": ["%%%"]}', {"content-type": "application/json"}, 400),
        (b"x", {"content-type": "text/plain"}, 415),
        (cbor2.dumps([b"x"] * 1_001), CBOR, 413),
        (b"\x00" * 20_000_000, CBOR, 413),
    ],
)
def test_hostile_input_is_4xx(
    client: TestClient, node: Node, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = client.post("/v1/reports", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["detail"]
    assert node.store.count_reports(0, 2**40) == 0


def test_epochs_and_health(client: TestClient, node: Node, clock: SimulatedClock) -> None:
    assert client.get("/v1/health").json()["status"] == "ok"
    assert client.get("/v1/epochs").json() == []
    assert client.get("/v1/epochs/0").status_code == 404
    clock.set(clock.now() + 86_400 + 600)
    node.close_due_epochs()
    listing = client.get("/v1/epochs").json()
    assert [e["number"] for e in listing] == [0]
    assert client.get("/v1/epochs/0").json()["paid"] == "0"  # token amounts are strings (api/exact.py)
    assert client.get("/v1/epochs/0/proof/0x" + "11" * 20).status_code == 404
    assert client.get("/v1/devices/x/explain?epoch=0").status_code == 404


def test_epochs_are_listed_a_page_at_a_time(client: TestClient, node: Node, clock: SimulatedClock) -> None:
    clock.set(clock.now() + 5 * 86_400 + 600)
    node.close_due_epochs()
    everything = client.get("/v1/epochs")
    assert [e["number"] for e in everything.json()] == [0, 1, 2, 3, 4]
    assert "X-Next-After" not in everything.headers
    pages, after = [], None
    while True:
        params = {"limit": 2} if after is None else {"limit": 2, "after": after}
        page = client.get("/v1/epochs", params=params)
        assert page.status_code == 200
        pages.append([e["number"] for e in page.json()])
        after = page.headers.get("X-Next-After")
        if after is None:
            break
    assert pages == [[0, 1], [2, 3], [4]]
    assert client.get("/v1/epochs", params={"limit": 0}).status_code == 422
    assert client.get("/v1/epochs", params={"after": 2**63}).status_code == 422


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
    content_type=st.sampled_from(["application/cbor", "application/json", "text/plain", ""]),
    path=st.sampled_from(["/v1/reports", "/v1/devices"]),
)
def test_fuzzed_bodies_never_500(
    client: TestClient, node: Node, body: bytes, content_type: str, path: str
) -> None:
    response = client.post(path, content=body, headers={"content-type": content_type} if content_type else {})
    assert 200 <= response.status_code < 500, response.text
    assert node.store.count_reports(0, 2**40) == 0


def test_entropy_needs_poc(client: TestClient) -> None:
    """The wireless sector serves entropy only when the network runs beacons and witnesses."""
    response = client.get("/v1/sectors/wireless/entropy")
    assert response.status_code == 404 and response.json()["detail"]["reason"] == "not_found"


def test_entropy_served_recorded_and_in_epoch_inputs(config: NetworkConfig, store: SQLiteStore) -> None:
    poc_config = config.model_validate(
        {
            **config.model_dump(),
            "sectors": {"wireless": {"poc": {}}},
            "rewards": {
                "categories": {
                    "coverage": 1000,
                    "beacons": 600,
                    "witnesses": 2400,
                    "data_transfer": 5000,
                    "oracles": 1000,
                },
                "device_categories": ["coverage", "beacons", "witnesses", "data_transfer"],
                "unused_flows_to": {"data_transfer": {"witnesses": 8000, "beacons": 2000}},
            },
        }
    )
    clock = SimulatedClock(poc_config.epochs.genesis_ts + 125)
    node = Node(poc_config, store, clock)
    client = TestClient(create_app(node))
    path = "/v1/sectors/wireless/entropy"
    first = client.get(path).json()
    assert first["timestamp"] == poc_config.epochs.genesis_ts + 120
    assert first["expires_at"] == first["timestamp"] + 180
    assert client.get(path).json() == first  # same period, same entropy
    clock.set(clock.now() + 60)
    second = client.get(path).json()
    assert second["value"] != first["value"]
    clock.set(poc_config.epochs.genesis_ts + 86_400 + 600)
    served = node.gather_inputs(0).challenges["wireless"]
    assert [(c.kind, c.challenge_id, c.issued_at) for c in served] == [
        ("wireless.entropy", first["value"], first["timestamp"]),
        ("wireless.entropy", second["value"], second["timestamp"]),
    ]
    node.close_epoch(0)
    assert node.audit_epoch(0).matches  # the challenges re-derive from their seeds
