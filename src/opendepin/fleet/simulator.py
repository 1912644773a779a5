"""The fleet simulator: real keys on real H3 cells sending signed reports over HTTP.

Devices are created from a seed (so a fleet is reproducible), owned by M wallets, built by one maker. A
share of them misbehave (see behaviours.py). The fleet is saved in the data dir so a restart continues.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opendepin.fleet.behaviours import MISBEHAVIOURS
from opendepin.fleet.region import REGIONS, cell_of, offset_point
from opendepin.identity.attestation import attestation_message, location_message
from opendepin.identity.keys import DeviceKey, KeyType
from opendepin.identity.wallets import Wallet
from opendepin.reports.envelope import sign_report
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST

P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
SPEEDTEST_EVERY_HOURS = 4


@dataclass
class SimDevice:
    """One simulated device: its key, owner, asserted cell, real position and behaviour."""

    index: int
    key_type: str
    secret: str
    owner_index: int
    lat: float
    lon: float
    cell: str
    behaviour: str
    download_mbps: float
    upload_mbps: float
    latency_ms: float
    onboarded: bool = False

    def key(self) -> DeviceKey:
        kt: KeyType = "p256" if self.key_type == "p256" else "ed25519"
        return DeviceKey(kt, bytes.fromhex(self.secret))


@dataclass
class FleetSpec:
    seed: int
    region: str
    devices: int
    owners: int
    misbehaving_share: float
    p256_share: float


def _device_secret(rng: random.Random, key_type: str) -> bytes:
    if key_type == "ed25519":
        return rng.randbytes(32)
    return (int.from_bytes(rng.randbytes(32), "big") % (P256_ORDER - 1) + 1).to_bytes(32, "big")


class Fleet:
    """A reproducible fleet; `reports_for_hour` yields the signed wire bytes its devices send."""

    def __init__(
        self, spec: FleetSpec, devices: list[SimDevice], maker_secret: bytes, owner_secrets: list[bytes]
    ) -> None:
        self.spec = spec
        self.devices = devices
        self.maker = Wallet(maker_secret)
        self.owners = [Wallet(secret) for secret in owner_secrets]
        self._keys: dict[int, DeviceKey] = {}
        self._history: dict[int, list[bytes]] = {}

    @classmethod
    def create(cls, spec: FleetSpec) -> Fleet:
        if spec.region not in REGIONS:
            raise ValueError(f"unknown region {spec.region!r}; choose one of {sorted(REGIONS)}")
        rng = random.Random(spec.seed)
        maker_secret = rng.randbytes(32)
        owner_secrets = [rng.randbytes(32) for _ in range(max(1, spec.owners))]
        fleet = cls(spec, [], maker_secret, owner_secrets)
        fleet.grow(spec.devices)
        return fleet

    def grow(self, total: int) -> None:
        """Add devices (deterministically from the seed and index) until there are `total`."""
        region = REGIONS[self.spec.region]
        for index in range(len(self.devices), total):
            rng = random.Random(f"{self.spec.seed}:device:{index}")
            key_type = "p256" if rng.random() < self.spec.p256_share else "ed25519"
            lat, lon = region.random_point(rng)
            cell = cell_of(lat, lon)
            misbehaves = rng.random() < self.spec.misbehaving_share
            bad_so_far = sum(1 for d in self.devices if d.behaviour != "honest")
            behaviour = MISBEHAVIOURS[bad_so_far % len(MISBEHAVIOURS)] if misbehaves else "honest"
            real_lat, real_lon = lat, lon
            if behaviour == "gps-far":
                real_lat, real_lon = offset_point(lat, lon, rng.uniform(1_500, 5_000), rng.uniform(0, 360))
            self.devices.append(
                SimDevice(
                    index=index,
                    key_type=key_type,
                    secret=_device_secret(rng, key_type).hex(),
                    owner_index=rng.randrange(len(self.owners)),
                    lat=real_lat,
                    lon=real_lon,
                    cell=cell,
                    behaviour=behaviour,
                    download_mbps=rng.uniform(60, 400),
                    upload_mbps=rng.uniform(6, 40),
                    latency_ms=rng.uniform(12, 70),
                )
            )
        self.spec.devices = len(self.devices)

    # persistence
    def save(self, path: Path) -> None:
        doc = {
            "spec": asdict(self.spec),
            "maker": self.maker.private_key.hex(),
            "owners": [o.private_key.hex() for o in self.owners],
            "devices": [asdict(d) for d in self.devices],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Fleet:
        doc = json.loads(path.read_text())
        return cls(
            FleetSpec(**doc["spec"]),
            [SimDevice(**d) for d in doc["devices"]],
            bytes.fromhex(doc["maker"]),
            [bytes.fromhex(s) for s in doc["owners"]],
        )

    # identity
    def key_of(self, device: SimDevice) -> DeviceKey:
        key = self._keys.get(device.index)
        if key is None:
            key = self._keys[device.index] = device.key()
        return key

    def owner_of(self, device: SimDevice) -> Wallet:
        return self.owners[device.owner_index]

    def onboarding_request(self, network: str, device: SimDevice) -> dict[str, Any]:
        """The JSON body of POST /v1/devices: maker attestation + owner-signed location."""
        device_id = self.key_of(device).device_id
        owner = self.owner_of(device)
        nonce = 1
        return {
            "device_id": device_id,
            "owner": owner.address,
            "maker": self.maker.address,
            "maker_signature": self.maker.sign_text(
                attestation_message(network, device_id, owner.address)
            ).hex(),
            "location": {
                "cell": device.cell,
                "nonce": nonce,
                "signature": owner.sign_text(location_message(network, device_id, device.cell, nonce)).hex(),
            },
        }

    # reports
    def reports_for_hour(self, hour_ts: int) -> Iterator[bytes]:
        """Signed wire reports every device sends in the hour starting at `hour_ts`."""
        for device in self.devices:
            yield from self._device_hour(device, hour_ts)

    def _device_hour(self, device: SimDevice, hour_ts: int) -> Iterator[bytes]:
        rng = random.Random(f"{self.spec.seed}:{device.index}:{hour_ts}")
        key = self.key_of(device)
        behaviour = device.behaviour
        hour_index = hour_ts // 3_600
        if behaviour == "lazy" and hour_index % 3 != 0:
            return
        ts = hour_ts + rng.randrange(60, 3_000)
        seq = ts * 16  # a monotonic counter; a skewed clock does not change it
        if behaviour == "clock-skew" and hour_index % 2 == 0:
            ts += rng.choice((-2, 2)) * 7_200
        jitter_lat, jitter_lon = offset_point(
            device.lat, device.lon, abs(rng.gauss(0, 25)), rng.uniform(0, 360)
        )
        payload = {"lat": round(jitter_lat, 7), "lon": round(jitter_lon, 7)}
        signed = sign_report(key, HEARTBEAT, ts, seq, payload)
        wires = [signed.to_wire()]
        if hour_index % SPEEDTEST_EVERY_HOURS == 0:
            test = {
                "download_mbps": round(max(0.0, rng.gauss(device.download_mbps, 5)), 2),
                "upload_mbps": round(max(0.0, rng.gauss(device.upload_mbps, 1)), 2),
                "latency_ms": round(max(1.0, rng.gauss(device.latency_ms, 3)), 2),
            }
            wires.append(sign_report(key, SPEEDTEST, ts, seq + 1, test).to_wire())
        if behaviour == "bad-signature":
            wires = [_flip_signature_byte(w, rng) for w in wires]
        elif behaviour == "malformed" and hour_index % 2 == 0:
            wires.append(rng.randbytes(rng.randrange(1, 200)))
        elif behaviour == "replayer":
            history = self._history.setdefault(device.index, [])
            if history:
                wires.append(history[-1])  # the exact previous report again: a duplicate
                stale_seq = sign_report(key, HEARTBEAT, ts + 1, seq - 1_000, payload)
                wires.append(stale_seq.to_wire())  # a new report with an old seq: a replay
            history[:] = [wires[0]]
        yield from wires


def _flip_signature_byte(wire: bytes, rng: random.Random) -> bytes:
    import cbor2

    envelope, signature = cbor2.loads(wire)
    sig = bytearray(signature)
    sig[rng.randrange(len(sig))] ^= 0x01
    return cbor2.dumps([envelope, bytes(sig)])
