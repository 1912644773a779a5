"""GET /v1/devices: the onboarded devices by id, a page at a time, optionally one owner's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.node import Node
from tests.conftest import OWNER, onboard_request


def test_pages_in_id_order_and_by_owner(node: Node) -> None:
    keys = [DeviceKey("ed25519", bytes([i + 1]) * 32) for i in range(5)]
    other = Wallet(bytes.fromhex("33" * 32))
    for i, key in enumerate(keys):
        node.onboard(onboard_request(node.config.name, key, **({"owner": other} if i == 4 else {})))
    client = TestClient(create_app(node), raise_server_exceptions=False)
    ids = sorted(key.device_id for key in keys)
    first = client.get("/v1/devices", params={"limit": 3}).json()
    assert [d["device_id"] for d in first["devices"]] == ids[:3] and first["next_after"] == ids[2]
    second = client.get("/v1/devices", params={"limit": 3, "after": first["next_after"]}).json()
    assert [d["device_id"] for d in second["devices"]] == ids[3:] and second["next_after"] is None
    mine = client.get("/v1/devices", params={"owner": OWNER.address.lower()}).json()
    assert {d["device_id"] for d in mine["devices"]} == {k.device_id for k in keys[:4]}
    assert all(d["owner"] == OWNER.address for d in mine["devices"])
    bad = client.get("/v1/devices", params={"owner": "0x12"})
    assert bad.status_code == 422 and bad.json()["detail"]["reason"] == "address.invalid"
    assert client.get("/v1/devices", params={"limit": 0}).status_code == 422
    assert client.get("/v1/devices", params={"limit": 1001}).status_code == 422
