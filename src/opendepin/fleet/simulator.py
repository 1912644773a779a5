"""The fleet simulator: real keys on real H3 cells sending signed reports over HTTP, for any sector.

Devices are created from a seed (so a fleet is reproducible), owned by M wallets, built by one maker,
placed in a region's neighbourhoods. Each device belongs to one of the network's enabled sectors that has a
simulation (`SectorPlugin.simulation`, found through `sectors.registry.load_sectors`, never imported by
name), in turn by index; a single-sector network puts every device in it. A share of devices misbehave:
the generic misbehaviours (behaviours.py) and their sector's own take turns. The fleet is saved in the data
dir so a restart continues.

Each hour (`reports_for_hour`) every sector's simulation says what its devices that are up send; the fleet
assigns the `seq`s, signs with the device keys and applies the generic misbehaviours. Devices are
onboarded with the attributes their sector's simulation gives (and the `sector` maker attribute when the
network has several sectors).

Keys: every private key of the fleet (maker, owners, devices) is derived from one 32-byte fleet secret
(HMAC-SHA256 per role and index), and the seed decides everything else (positions, owners, behaviours).
`depin up` draws a random fleet secret; without one, `Fleet.create` derives it from the seed, so a test
fleet is reproducible but its keys are as public as its seed. `fleet.json` holds no private key: only the
fleet secret, as an encrypted keystore under the data dir's keystore password.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from opendepin.config import ConfigError, NetworkConfig
from opendepin.fleet.behaviours import GENERIC_BEHAVIOURS, HONEST, behaviour_cycle, is_up, sign_hour
from opendepin.fleet.region import REGIONS
from opendepin.fleet.services import OFFLINE, FleetServices, SectorView
from opendepin.geo import cell_of
from opendepin.identity.attestation import attestation_message, location_message
from opendepin.identity.keys import DeviceKey, KeyType
from opendepin.identity.keystore import (
    KeystoreError,
    Password,
    data_dir_password,
    decrypt_key,
    encrypt_key,
    is_keystore,
)
from opendepin.identity.wallets import Wallet
from opendepin.sectors.base import SectorSimulation, SimDevice, SimReport
from opendepin.sectors.registry import load_sectors
from opendepin.services.onboarding import SECTOR_ATTRIBUTE

P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
SECP256K1_ORDER = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
FLEET_FORMAT = 2
"""fleet.json format: 2 = keys derived from an encrypted fleet secret (1 kept them in plain text)."""


@dataclass
class FleetDevice:
    """One simulated device: its key, owner, sector, asserted cell, where it stands, its behaviour."""

    index: int
    key_type: str
    secret: str
    owner_index: int
    lat: float
    lon: float
    cell: str
    behaviour: str
    sector: str = ""
    """The sector it serves ("" in a fleet.json written before fleets had sectors: assigned on load)."""
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


def compute_fleet_key(fleet_secret: bytes, label: str, order: int | None = None) -> bytes:
    """The fleet's 32-byte key for `label` ("maker", "owner:3", "device:7"): HMAC-SHA256 of the label
    under the fleet secret, mapped into [1, order − 1] when the curve needs a scalar below `order`."""
    digest = hmac.new(fleet_secret, label.encode(), hashlib.sha256).digest()
    if order is None:
        return digest
    return (int.from_bytes(digest, "big") % (order - 1) + 1).to_bytes(32, "big")


def compute_device_secret(fleet_secret: bytes, index: int, key_type: str) -> bytes:
    """Device `index`'s private key: a raw ed25519 seed, or a P-256 scalar."""
    order = P256_ORDER if key_type == "p256" else None
    return compute_fleet_key(fleet_secret, f"device:{index}", order)


def compute_seed_fleet_secret(seed: int) -> bytes:
    """The fleet secret of a reproducible (test) fleet: public, since it follows from the seed."""
    return compute_fleet_key(b"opendepin simulated fleet", f"seed:{seed}", SECP256K1_ORDER)


def fleet_maker(fleet_secret: bytes) -> Wallet:
    """The maker wallet of the fleet whose secret is `fleet_secret`."""
    return Wallet(compute_fleet_key(fleet_secret, "maker", SECP256K1_ORDER))


def simulations_of(network: NetworkConfig) -> dict[str, SectorSimulation]:
    """The simulations of the network's enabled sectors (those that have one), by sector name; ConfigError
    when there is none."""
    plugins = load_sectors(network)
    simulations = {name: sim for name, plugin in plugins.items() if (sim := plugin.simulation()) is not None}
    if not simulations:
        raise ConfigError(
            f"no enabled sector of network {network.name!r} ({sorted(plugins)}) has a simulation: the fleet "
            "has nothing to simulate"
        )
    return simulations


def read_fleet_secret(path: Path, password: Password | None = None) -> bytes:
    """The fleet secret a fleet.json written by `Fleet.save` holds (decrypted)."""
    doc = json.loads(path.read_text())
    return _decrypt_secret(path, doc, password)


def _decrypt_secret(path: Path, doc: Mapping[str, Any], password: Password | None) -> bytes:
    if doc.get("format") != FLEET_FORMAT or not is_keystore(doc.get("fleet_secret")):
        raise KeystoreError(
            f"{path} is from an older opendepin that kept the fleet's keys in plain text: start a new "
            "data dir"
        )
    password = password or data_dir_password(path.parent)
    return decrypt_key(doc["fleet_secret"], password.value, what=f"the fleet secret in {path}")


class Fleet:
    """A reproducible fleet on one network; `reports_for_hour` gives the signed wire bytes it sends."""

    def __init__(
        self,
        spec: FleetSpec,
        devices: list[FleetDevice],
        fleet_secret: bytes,
        network: NetworkConfig | None = None,
    ) -> None:
        """`network` (default: `NetworkConfig()`) decides the sectors and so what devices send."""
        self.spec = spec
        self.devices = devices
        self.fleet_secret = fleet_secret
        self.maker = fleet_maker(fleet_secret)
        self.owners = [
            Wallet(compute_fleet_key(fleet_secret, f"owner:{i}", SECP256K1_ORDER))
            for i in range(max(1, spec.owners))
        ]
        network = network or NetworkConfig()
        self.simulations = simulations_of(network)
        self.network_sectors = tuple(network.enabled_sectors)
        self._keys: dict[int, DeviceKey] = {}
        self._replay: dict[int, bytes] = {}
        for device in devices:
            if not device.sector:
                device.sector = self.sector_for(device.index)
        stray = sorted({d.sector for d in devices} - set(self.simulations))
        if stray:
            raise ConfigError(
                f"the fleet has devices of sectors {stray}, which network {network.name!r} does not simulate "
                f"({sorted(self.simulations)}): start a new data dir for a network with other sectors"
            )

    @classmethod
    def create(
        cls, spec: FleetSpec, fleet_secret: bytes | None = None, network: NetworkConfig | None = None
    ) -> Fleet:
        """A new fleet; its keys come from `fleet_secret` (None: from the seed, reproducible and public)."""
        if spec.region not in REGIONS:
            raise ValueError(f"unknown region {spec.region!r}; choose one of {sorted(REGIONS)}")
        fleet = cls(spec, [], fleet_secret or compute_seed_fleet_secret(spec.seed), network)
        fleet.grow(spec.devices)
        return fleet

    # who is who
    def sector_for(self, index: int) -> str:
        """Device `index`'s sector: the simulated sectors in turn, by name."""
        names = sorted(self.simulations)
        return names[index % len(names)]

    @property
    def behaviours(self) -> dict[str, str]:
        """Every behaviour of this fleet's devices → the reason that must catch it."""
        found = dict(GENERIC_BEHAVIOURS)
        for name in sorted(self.simulations):
            found.update(self.simulations[name].behaviours)
        return {HONEST: "ok", **found}

    def grow(self, total: int) -> None:
        """Add devices (deterministically from the seed and index) until there are `total`."""
        region = REGIONS[self.spec.region]
        misbehaving = {name: 0 for name in self.simulations}
        for device in self.devices:
            misbehaving[device.sector] = misbehaving.get(device.sector, 0) + (device.behaviour != HONEST)
        for index in range(len(self.devices), total):
            rng = random.Random(f"{self.spec.seed}:device:{index}")
            key_type = "p256" if rng.random() < self.spec.p256_share else "ed25519"
            lat, lon = region.random_point(rng)
            sector = self.sector_for(index)
            behaviour = HONEST
            if rng.random() < self.spec.misbehaving_share:
                cycle = behaviour_cycle(self.simulations[sector].behaviours)
                behaviour = cycle[misbehaving[sector] % len(cycle)]  # the sector's misbehaviours in turn
                misbehaving[sector] += 1
            rng.randbytes(32)  # once the device key; still drawn so a seed keeps its owners
            self.devices.append(
                FleetDevice(
                    index=index,
                    key_type=key_type,
                    secret=compute_device_secret(self.fleet_secret, index, key_type).hex(),
                    owner_index=rng.randrange(len(self.owners)),
                    lat=lat,
                    lon=lon,
                    cell=cell_of(lat, lon),
                    behaviour=behaviour,
                    sector=sector,
                )
            )
        self.spec.devices = len(self.devices)

    # persistence
    def save(self, path: Path, password: Password | None = None) -> None:
        """Write the fleet to `path` without any private key: the fleet secret goes in as an encrypted
        keystore (default password: the data dir's keystore password, `path`'s directory)."""
        password = password or data_dir_password(path.parent)
        doc = {
            "format": FLEET_FORMAT,
            "spec": asdict(self.spec),
            "fleet_secret": encrypt_key(self.fleet_secret, password),
            "devices": [{k: v for k, v in asdict(d).items() if k != "secret"} for d in self.devices],
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(path)

    @classmethod
    def load(
        cls, path: Path, password: Password | None = None, network: NetworkConfig | None = None
    ) -> Fleet:
        """Read a fleet written by `save`, deriving its keys again from the decrypted fleet secret; its
        devices send what `network`'s sectors simulate (default: `NetworkConfig()`)."""
        doc = json.loads(path.read_text())
        fleet_secret = _decrypt_secret(path, doc, password)
        known = {f.name for f in fields(FleetDevice)} - {"secret"}
        devices = [
            FleetDevice(
                **{k: v for k, v in d.items() if k in known},
                secret=compute_device_secret(fleet_secret, d["index"], d["key_type"]).hex(),
            )
            for d in doc["devices"]
        ]
        return cls(FleetSpec(**doc["spec"]), devices, fleet_secret, network)

    # identity
    def key_of(self, device: FleetDevice) -> DeviceKey:
        key = self._keys.get(device.index)
        if key is None:
            key = self._keys[device.index] = device.key()
        return key

    def owner_of(self, device: FleetDevice) -> Wallet:
        return self.owners[device.owner_index]

    def sim_device(self, device: FleetDevice) -> SimDevice:
        """What the device's sector simulation is told about it."""
        return SimDevice(
            index=device.index,
            device_id=self.key_of(device).device_id,
            owner=self.owner_of(device).address,
            cell=device.cell,
            lat=device.lat,
            lon=device.lon,
            behaviour=device.behaviour,
            seed=self.spec.seed,
        )

    def onboarding_request(self, network: str, device: FleetDevice) -> dict[str, Any]:
        """The JSON body of POST /v1/devices: maker attestation + owner-signed location, each with the
        attributes the device's sector simulation gives (and the maker's `sector` when there are several)."""
        device_id = self.key_of(device).device_id
        owner = self.owner_of(device)
        nonce = 1
        made, stated = (dict(a) for a in self.simulations[device.sector].attributes(self.sim_device(device)))
        if len(self.network_sectors) > 1:
            made = {SECTOR_ATTRIBUTE: device.sector, **made}
        return {
            "device_id": device_id,
            "owner": owner.address,
            "maker": self.maker.address,
            "maker_signature": self.maker.sign_text(
                attestation_message(network, device_id, owner.address, made)
            ).hex(),
            "attributes": made,
            "location": {
                "cell": device.cell,
                "nonce": nonce,
                "signature": owner.sign_text(
                    location_message(network, device_id, device.cell, nonce, stated)
                ).hex(),
                "attributes": stated,
            },
        }

    # reports
    def sector_reports(self, hour_ts: int, services: FleetServices = OFFLINE) -> dict[int, list[SimReport]]:
        """Device index → the unsigned reports its sector's simulation has it send in the hour starting at
        `hour_ts` (devices that are down this hour are not asked)."""
        up: dict[str, list[FleetDevice]] = {}
        for device in self.devices:
            if is_up(device.behaviour, hour_ts):
                up.setdefault(device.sector, []).append(device)
        reports: dict[int, list[SimReport]] = {}
        for name, members in sorted(up.items()):
            owners = {d.owner_index: self.owner_of(d) for d in self.devices if d.sector == name}
            keys = [self.key_of(d) for d in self.devices if d.sector == name]
            view = SectorView(name, services, [owners[i] for i in sorted(owners)], keys)
            indices = {d.index for d in members}
            for report in self.simulations[name].hour([self.sim_device(d) for d in members], hour_ts, view):
                if report.device not in indices:
                    raise ValueError(
                        f"sector {name!r}'s simulation sent a report for device {report.device}, which "
                        "is not one of the devices it was handed this hour"
                    )
                reports.setdefault(report.device, []).append(report)
        return reports

    def reports_for_hour(self, hour_ts: int, services: FleetServices = OFFLINE) -> list[bytes]:
        """Signed wire reports every device sends in the hour starting at `hour_ts` (asked at its end):
        its sector's reports signed in time order, then its generic misbehaviour applied."""
        reports = self.sector_reports(hour_ts, services)
        wires: list[bytes] = []
        for device in self.devices:
            mine: Sequence[SimReport] = reports.get(device.index, ())
            rng = random.Random(f"{self.spec.seed}:misbehave:{device.index}:{hour_ts}")
            signed, replay = sign_hour(
                self.key_of(device), device.behaviour, mine, hour_ts, rng, self._replay.get(device.index)
            )
            if replay is not None:
                self._replay[device.index] = replay
            wires.extend(signed)
        return wires
