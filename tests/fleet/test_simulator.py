"""The fleet: reproducible from its seed; every misbehaviour produces the reason code it is meant to."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cbor2

from opendepin.clock import SimulatedClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.fleet.behaviours import MISBEHAVIOURS
from opendepin.fleet.simulator import Fleet, FleetSpec
from opendepin.identity.attestation import Attestation, LocationAssertion
from opendepin.node import Node, OnboardRequest
from opendepin.store.sqlite import SQLiteStore

SPEC = FleetSpec(seed=3, region="lisbon", devices=40, owners=5, misbehaving_share=0.5, p256_share=0.3)


def _spec(**changes: object) -> FleetSpec:
    return FleetSpec(**{**SPEC.__dict__, **changes})  # type: ignore[arg-type]


def test_same_seed_same_fleet(tmp_path: Path) -> None:
    a, b = Fleet.create(_spec()), Fleet.create(_spec())
    assert [d.secret for d in a.devices] == [d.secret for d in b.devices]
    # envelopes are identical; P-256 (ECDSA) signatures are randomised, so compare the signed bytes
    envelopes = [
        [cbor2.loads(w)[0] for w in f.reports_for_hour(1_767_225_600) if w[:1] == b"\x82"] for f in (a, b)
    ]
    assert envelopes[0] == envelopes[1] and envelopes[0]
    a.save(tmp_path / "fleet.json")
    loaded = Fleet.load(tmp_path / "fleet.json")
    assert [d.cell for d in loaded.devices] == [d.cell for d in a.devices]
    assert loaded.maker.address == a.maker.address
    grown = Fleet.create(_spec(devices=10))
    grown.grow(40)
    assert [d.secret for d in grown.devices] == [d.secret for d in a.devices]


def test_key_types_and_behaviours() -> None:
    fleet = Fleet.create(_spec())
    assert {d.key_type for d in fleet.devices} == {"ed25519", "p256"}
    assert set(MISBEHAVIOURS) <= {d.behaviour for d in fleet.devices}


def test_misbehaviours_hit_their_reason_codes(tmp_path: Path) -> None:
    fleet = Fleet.create(_spec())
    config = NetworkConfig(makers=[MakerConfig(name="fleet", address=fleet.maker.address)])
    clock = SimulatedClock(config.epochs.genesis_ts)
    node = Node(config, SQLiteStore(tmp_path / "db.sqlite3"), clock)
    for device in fleet.devices:
        if device.behaviour == "unregistered":
            continue
        body = fleet.onboarding_request(config.name, device)
        node.onboard(
            OnboardRequest(
                Attestation(
                    body["device_id"], body["owner"], body["maker"], bytes.fromhex(body["maker_signature"])
                ),
                LocationAssertion(
                    body["device_id"],
                    body["location"]["cell"],
                    body["location"]["nonce"],
                    bytes.fromhex(body["location"]["signature"]),
                ),
            )
        )
    reasons: Counter[str] = Counter()
    for hour in range(6):
        hour_ts = config.epochs.genesis_ts + hour * 3600
        clock.set(hour_ts + 3599)
        reasons.update(r.reason for r in node.ingest(list(fleet.reports_for_hour(hour_ts))))
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
