"""The generic fleet: reproducible from its seed; devices take the network's simulated sectors in turn;
every generic misbehaviour, applied to any sector's reports, produces the reason code it is meant to."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import cbor2
import pytest

from opendepin.clock import SimulatedClock
from opendepin.config import ConfigError, MakerConfig, NetworkConfig, parse_config
from opendepin.fleet.behaviours import MISBEHAVIOURS, SEQ_PER_SECOND, sign_hour
from opendepin.fleet.simulator import Fleet, FleetSpec
from opendepin.identity.attestation import Attestation, LocationAssertion
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node, OnboardRequest
from opendepin.reports.envelope import split_wire
from opendepin.sectors.base import SimReport
from opendepin.store.sqlite import SQLiteStore

SPEC = FleetSpec(seed=3, region="lisbon", devices=40, owners=5, misbehaving_share=0.5, p256_share=0.3)


def onboard_from_body(body: dict[str, Any]) -> OnboardRequest:
    """The node's onboarding request from the JSON body the fleet POSTs to /v1/devices."""
    return OnboardRequest(
        Attestation(
            body["device_id"],
            body["owner"],
            body["maker"],
            bytes.fromhex(body["maker_signature"]),
            body["attributes"],
        ),
        LocationAssertion(
            body["device_id"],
            body["location"]["cell"],
            body["location"]["nonce"],
            bytes.fromhex(body["location"]["signature"]),
            body["location"]["attributes"],
        ),
    )


def _spec(**changes: object) -> FleetSpec:
    return FleetSpec(**{**SPEC.__dict__, **changes})  # type: ignore[arg-type]


def test_same_seed_same_fleet(tmp_path: Path) -> None:
    a, b = Fleet.create(_spec()), Fleet.create(_spec())
    assert [d.secret for d in a.devices] == [d.secret for d in b.devices]
    assert [(d.lat, d.lon, d.owner_index, d.behaviour) for d in a.devices] == [
        (d.lat, d.lon, d.owner_index, d.behaviour) for d in b.devices
    ]
    # envelopes are identical; P-256 (ECDSA) signatures are randomised, so compare the signed bytes
    envelopes = [
        [cbor2.loads(w)[0] for w in f.reports_for_hour(1_767_225_600) if w[:1] == b"\x82"] for f in (a, b)
    ]
    assert envelopes[0] == envelopes[1] and envelopes[0]
    a.save(tmp_path / "fleet.json")
    loaded = Fleet.load(tmp_path / "fleet.json")
    assert [(d.cell, d.sector, d.behaviour) for d in loaded.devices] == [
        (d.cell, d.sector, d.behaviour) for d in a.devices
    ]
    assert loaded.maker.address == a.maker.address
    grown = Fleet.create(_spec(devices=10))
    grown.grow(40)
    assert [d.secret for d in grown.devices] == [d.secret for d in a.devices]
    assert [d.behaviour for d in grown.devices] == [d.behaviour for d in a.devices]


def test_key_types_sectors_and_behaviours() -> None:
    fleet = Fleet.create(_spec())
    assert {d.key_type for d in fleet.devices} == {"ed25519", "p256"}
    assert {d.sector for d in fleet.devices} == {"wireless"}  # the only sector of the default network
    assert set(MISBEHAVIOURS) | {"gps-far"} <= {d.behaviour for d in fleet.devices}
    assert set(fleet.behaviours) == {"honest", *MISBEHAVIOURS, "gps-far"}  # gps-spoof needs PoC


def test_a_network_without_a_simulated_sector_is_refused() -> None:
    no_sector = parse_config({"name": "empty", "sectors": {"wireless": {"enabled": False}}})
    with pytest.raises(ConfigError, match="has a simulation"):
        Fleet.create(_spec(), network=no_sector)


def test_misbehaviours_hit_their_reason_codes(tmp_path: Path) -> None:
    fleet = Fleet.create(_spec())
    config = NetworkConfig(makers=[MakerConfig(name="fleet", address=fleet.maker.address)])
    clock = SimulatedClock(config.epochs.genesis_ts)
    node = Node(config, SQLiteStore(tmp_path / "db.sqlite3"), clock)
    for device in fleet.devices:
        if device.behaviour == "unregistered":
            continue
        body = fleet.onboarding_request(config.name, device)
        node.onboard(onboard_from_body(body))
    reasons: Counter[str] = Counter()
    for hour in range(6):
        hour_ts = config.epochs.genesis_ts + hour * 3600
        clock.set(hour_ts + 3599)
        reasons.update(r.reason for r in node.ingest(fleet.reports_for_hour(hour_ts)))
    expected = {
        "accepted",
        "signature.invalid",
        "report.duplicate",
        "report.replay",
        "report.future",
        "report.stale",
        "report.malformed",
        "device.unknown",
    }
    assert expected <= set(reasons), reasons


def _envelopes(wires: list[bytes]) -> list[dict[str, Any]]:
    return [cbor2.loads(split_wire(w)[0]) for w in wires]


def test_sign_hour_orders_seqs_and_applies_each_misbehaviour() -> None:
    """Rule: reports signed in time order with seq = hour × 16 + k; the generic misbehaviours on top."""
    key = DeviceKey("ed25519", b"\x07" * 32)
    hour = 1_767_225_600 + 2 * 3_600  # an even hour: skewed clocks and malformed bytes
    reports = [SimReport(0, "x.b", hour + 50, {"n": 2}), SimReport(0, "x.a", hour + 10, {"n": 1})]
    honest, _ = sign_hour(key, "honest", reports, hour, random.Random(1))
    assert [(e["ts"], e["seq"]) for e in _envelopes(honest)] == [
        (hour + 10, hour * SEQ_PER_SECOND),
        (hour + 50, hour * SEQ_PER_SECOND + 1),
    ]
    skewed, _ = sign_hour(key, "clock-skew", reports, hour, random.Random(1))
    shifts = {e["ts"] - h["ts"] for e, h in zip(_envelopes(skewed), _envelopes(honest), strict=True)}
    assert len(shifts) == 1 and abs(shifts.pop()) == 14_400
    malformed, _ = sign_hour(key, "malformed", reports, hour, random.Random(1))
    assert malformed[:2] == honest and len(malformed) == 3
    bad, _ = sign_hour(key, "bad-signature", reports, hour, random.Random(1))
    assert [split_wire(w)[0] for w in bad] == [split_wire(w)[0] for w in honest] and bad != honest
    first, previous = sign_hour(key, "replayer", reports, hour, random.Random(1))
    assert first == honest and previous == honest[0]
    later, _ = sign_hour(key, "replayer", reports, hour + 3_600, random.Random(1), previous)
    assert later[2] == honest[0]  # the exact earlier report: a duplicate
    reused = _envelopes(later)[3]
    assert reused["seq"] == _envelopes(later)[0]["seq"] and reused["ts"] != _envelopes(later)[0]["ts"]
    assert sign_hour(key, "honest", [], hour, random.Random(1)) == ([], None)
