"""Beacons and witnesses through the node: signed reports, entropy served by the wireless sector's route
(GET /v1/sectors/wireless/entropy), verdicts,
rewards in the beacon/witness categories, and the explanation of a device's reward."""

from __future__ import annotations

import math

import h3
import pytest
from fastapi.testclient import TestClient

from opendepin.api.app import create_app
from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.geo import cell_of, offset_point
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.poc import BEACON, WITNESS, compute_beacon_data
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import MAKER, onboard_request

POC_NETWORK = {
    "rewards": {
        "categories": {
            "beacons": 600,
            "witnesses": 2400,
            "data_transfer": 5000,
            "coverage": 0,
            "operations": 700,
            "oracles": 700,
            "stakers": 600,
        },
        "device_categories": ["beacons", "witnesses", "data_transfer", "coverage"],
        "unused_flows_to": {"data_transfer": {"witnesses": 8000, "beacons": 2000}},
    },
    "sectors": {"wireless": {"poc": {}}},
}
FREQUENCY = 904_100_000
CENTRE = (52.52, 13.405)


def _fspl_db(distance_m: float, frequency_hz: float) -> float:
    return 20 * math.log10(4 * math.pi * distance_m * frequency_hz / 2.998e8)


@pytest.fixture
def poc_node(tmp_path: object, config: NetworkConfig) -> Node:
    poc_config = NetworkConfig.model_validate(
        {**POC_NETWORK, "makers": [MakerConfig(name="m", address=MAKER.address).model_dump()]}
    )
    store = SQLiteStore(f"{tmp_path}/poc.sqlite3")
    return Node(poc_config, store, SimulatedClock(poc_config.epochs.genesis_ts + 3_600))


def test_beacons_and_witnesses_are_verified_paid_and_explained(poc_node: Node) -> None:
    node = poc_node
    clock = node.clock
    assert isinstance(clock, SimulatedClock)
    keys = [DeviceKey("ed25519", bytes([i + 1]) * 32) for i in range(4)]
    points = [offset_point(*CENTRE, 1_500.0 * i, 70.0 * i) for i in range(4)]
    for key, point in zip(keys, points, strict=True):
        node.onboard(onboard_request(node.config.name, key, cell=cell_of(*point)))
    client = TestClient(create_app(node))
    seq = dict.fromkeys(range(4), 0)
    wires = []
    rounds = [(r, b) for r in range(2) for b in range(4)]
    for round_, beaconer in rounds:
        # device b beacons at hour 1 + b, then at hour 13 + b: one beacon per 6-hour bucket
        clock.set(node.config.epochs.genesis_ts + (1 + beaconer + 12 * round_) * 3_600)
        entropy = client.get("/v1/sectors/wireless/entropy").json()
        now = clock.now()
        local = f"{beaconer:016x}"
        data = compute_beacon_data(entropy["value"], local, "EU868", FREQUENCY)
        tx_ms = now * 1000
        seq[beaconer] += 1
        wires.append(
            sign_report(
                keys[beaconer],
                BEACON,
                now,
                seq[beaconer],
                {
                    "entropy": entropy["value"],
                    "local_entropy": local,
                    "region": "EU868",
                    "frequency_hz": FREQUENCY,
                    "tx_power_dbm": 27.0,
                    "tx_ms": tx_ms,
                    "data": data,
                },
            ).to_wire()
        )
        for witness in range(4):
            if witness == beaconer:
                continue
            centre_a = h3.cell_to_latlng(cell_of(*points[beaconer]))
            centre_b = h3.cell_to_latlng(cell_of(*points[witness]))
            distance = h3.great_circle_distance(centre_a, centre_b, unit="m")
            rssi = round(27.0 + 2.4 - _fspl_db(distance, FREQUENCY) - 25.0, 1)
            seq[witness] += 1
            wires.append(
                sign_report(
                    keys[witness],
                    WITNESS,
                    now,
                    seq[witness],
                    {
                        "beaconer": keys[beaconer].device_id,
                        "entropy": entropy["value"],
                        "data": data,
                        "region": "EU868",
                        "frequency_hz": FREQUENCY + 2_000,
                        "rssi_dbm": rssi,
                        "snr_db": 5.0,
                        "rx_ms": tx_ms + 20,
                    },
                ).to_wire()
            )
        results = node.ingest(wires[-4:])
        assert [r.reason for r in results] == ["accepted"] * 4
    clock.set(node.config.epochs.genesis_ts + 86_400 + 600)
    record = node.close_epoch(0)
    manifest = record.manifest
    assert manifest["reports"] == 32
    # HIP-106: in the first round nobody has a recent witness/beacon yet; the second round is reciprocal
    second_round_start = node.config.epochs.genesis_ts + 13 * 3_600
    for key in keys:
        late = [
            r for r in node.store.device_epoch(0, key.device_id)["reports"] if r["ts"] >= second_round_start
        ]
        assert late and all(r["reason"] == "ok" for r in late), late
    assert set(manifest["invalid_by_reason"]) <= {"beacon.not_reciprocal", "witness.not_reciprocal"}
    assert manifest["totals"].get("beacons", 0) > 0 and manifest["totals"].get("witnesses", 0) > 0
    assert node.gather_inputs(0).challenges["wireless"]  # the entropy served is an epoch input
    explained = client.get(f"/v1/devices/{keys[1].device_id}/explain", params={"epoch": 0}).json()
    kinds = {r["kind"] for r in explained["reports"]}
    assert kinds == {BEACON, WITNESS}
    assert all(r["reason"] for r in explained["reports"])
    categories = {r["category"]: r["breakdown"] for r in explained["rewards"]}
    assert set(categories) <= {"beacons", "witnesses"} and categories
    for breakdown in categories.values():
        assert {"hip15_units", "hex_scale", "trust"} <= set(breakdown)
    stored, recomputed = node.verify_epoch(0)
    assert stored == recomputed
