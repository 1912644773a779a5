"""The data API: a buyer queries the latest observations, an hourly series and a bounding box, pays the
stations the answers name with usage receipts, and the usage pool pays those stations (not a cheater)."""

from __future__ import annotations

from pathlib import Path

import cbor2
import h3
import pytest
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, parse_config
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.sensors.reports import LOCATION, WEATHER
from opendepin.sectors.sensors.sim.world import FROZEN, HONEST, build_world, fix_payloads, weather_payloads
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

DAY = 86_400
BUYER = Wallet(bytes.fromhex("77" * 32))


@pytest.fixture
def node(tmp_path: Path) -> Node:
    config = parse_config(
        {
            "name": "weather-api",
            "epochs": {"genesis": "2026-06-01T00:00:00Z"},
            "emission": {"kind": "fixed", "per_year": 365_000},
            "rewards": {
                "categories": {"data_quality": 4_000, "data_api": 5_000, "oracles": 1_000},
                "device_categories": ["data_quality", "data_api"],
                "unused_flows_to": {"data_api": {"data_quality": 10_000}},
            },
            "sectors": {"sensors": {}},
            "makers": [MakerConfig(name="m", address=MAKER.address).model_dump()],
        }
    )
    node = Node(config, SQLiteStore(tmp_path / "api.sqlite"), SimulatedClock(config.epochs.genesis_ts))
    node.use_chain(node.block_hash_source, lambda: 10**18, {BUYER.address: 10**9}.__getitem__)
    return node


def test_buyers_query_and_pay_the_stations_served(node: Node) -> None:
    genesis = node.config.epochs.genesis_ts
    world = build_world(5, [HONEST] * 4 + [FROZEN], 4, genesis, 1, box_km=20.0)
    keys = [DeviceKey("ed25519", bytes([120 + i]) * 32) for i in range(5)]
    for station, key in zip(world.stations, keys, strict=True):
        node.onboard(
            onboard_request(
                node.config.name,
                key,
                owner=Wallet(bytes([140 + station.index]) * 32),
                cell=h3.latlng_to_cell(station.claimed[0], station.claimed[1], 12),
                maker_attributes={"model": "WS2000", "sensors": "weather"},
                owner_attributes={"elevation_m": station.claimed_elevation_m},
            )
        )
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    seq = 0
    for hour in range(24):
        start = genesis + hour * 3_600
        end = start + (3_600 if hour < 23 else 1_800)  # the buyer comes half way through the last hour
        clock.set(end)
        wires = []
        for station, key in zip(world.stations, keys, strict=True):
            for kind, (ts, payloads) in (
                (WEATHER, weather_payloads(world, station, start, end)),
                (LOCATION, fix_payloads(station, start, end)),
            ):
                for t, payload in zip(ts.tolist(), payloads, strict=True):
                    seq += 1
                    wires.append(sign_report(key, kind, int(t), seq, payload).to_wire())
        assert all(r.accepted for r in node.ingest(wires))
    client = TestClient(create_app(node))
    ids = [k.device_id for k in keys]
    latest = client.get(f"/v1/sectors/sensors/stations/{ids[0]}/latest").json()
    assert latest["observations"]["weather.obs"]["ts"] > genesis + 23 * 3_600 + 1_500
    assert latest["charge"]["credits"] == {ids[0]: 10}
    hourly = client.get(f"/v1/sectors/sensors/stations/{ids[1]}/hourly", params={"hours": 6}).json()
    assert len(hourly["weather"]) == 7 and [h["samples"] for h in hourly["weather"][1:-1]] == [20] * 5
    assert client.get("/v1/sectors/sensors/stations/ed25519:00/latest").status_code == 404
    box = client.get(
        "/v1/sectors/sensors/bbox", params={"south": 46, "west": 8, "north": 48, "east": 9}
    ).json()
    assert sorted(s["station"] for s in box["stations"]) == sorted(ids)
    assert (
        client.get(
            "/v1/sectors/sensors/bbox", params={"south": 48, "west": 8, "north": 46, "east": 9}
        ).status_code
        == 422
    )
    # the buyer pays every station the box served
    receipts = [
        sign_receipt(
            UsageReceipt("sensors", d, BUYER.address, c, 1, "queries", box["charge"]["refs"][d], clock.now()),
            BUYER.sign_text,
        ).to_wire()
        for d, c in box["charge"]["credits"].items()
    ]
    posted = client.post(
        "/v1/usage", content=cbor2.dumps(receipts), headers={"content-type": "application/cbor"}
    )
    assert posted.json()["accepted"] == 5, posted.json()
    clock.set(genesis + DAY + node.config.epochs.lateness_seconds)
    epoch = node.close_due_epochs()[-1]
    assert epoch.manifest["usage"]["credits"] == 50
    usage_paid = {
        d: sum(
            int(r["amount"])
            for r in node.store.device_epoch(epoch.number, d).get("rewards", [])
            if r["category"] == "data_api"
        )
        for d in ids
    }
    assert all(usage_paid[d] > 0 for d in ids[:4])
    assert usage_paid[ids[4]] == 0  # the frozen station's data is not paid for
