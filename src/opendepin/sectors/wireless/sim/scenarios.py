"""Named scenarios: honest fleets and the cheating Helium saw, each as a way of adding devices."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from opendepin.sectors.wireless.sim.fleet import (
    HONEST,
    Fleet,
    FleetBuilder,
    Policy,
    RelayOperation,
    make_cities,
)
from opendepin.sectors.wireless.sim.geometry import MapFrame

GPS_SPOOF = "gps-spoof"
WITNESS_RING = "witness-ring"
BEACON_RELAY = "beacon-relay"
HEX_CLUSTER = "hex-cluster"
WALLET_FARM = "wallet-farm"
ADVERSARY_KINDS = (GPS_SPOOF, WITNESS_RING, BEACON_RELAY, HEX_CLUSTER, WALLET_FARM)
OWNER_SIZES = (1, 1, 1, 1, 1, 1, 1, 2, 2, 3)
REFERENCE_MAP_M = 120_000.0
REFERENCE_DEVICES = 2_000
"""The map grows with the fleet so that density (and so radio neighbourhoods) stay comparable."""


def _offset(rng: np.random.Generator, low: float, high: float) -> tuple[float, float]:
    radius, angle = rng.uniform(low, high), rng.uniform(0.0, 2 * math.pi)
    return radius * math.cos(angle), radius * math.sin(angle)


def _clip(builder: FleetBuilder, x: float, y: float) -> tuple[float, float]:
    size = builder.frame.size_m
    return float(np.clip(x, 0.0, size)), float(np.clip(y, 0.0, size))


def add_honest(builder: FleetBuilder, count: int) -> None:
    """Honest operators: mostly one hotspot each, some two or three placed within a few km."""
    added, owner = 0, 0
    while added < count:
        size = min(int(builder.rng.choice(OWNER_SIZES)), count - added)
        home = builder.random_place()
        for k in range(size):
            dx, dy = (0.0, 0.0) if k == 0 else _offset(builder.rng, 300.0, 3_000.0)
            spot = _clip(builder, home[0] + dx, home[1] + dy)
            builder.add(HONEST, f"owner-{owner}", spot, spot)
        added, owner = added + size, owner + 1


def add_gps_spoofers(builder: FleetBuilder, count: int) -> None:
    """Real radios asserting a location 8–60 km away; witness RSSI clamped to pass the free-space rule."""
    for k in range(count):
        real = builder.random_place()
        dx, dy = _offset(builder.rng, 8_000.0, 60_000.0)
        claimed = _clip(builder, real[0] + dx, real[1] + dy)
        builder.add(GPS_SPOOF, f"spoofer-{k // 2}", real, claimed, policy=Policy.CLAMP_TO_FSPL)


def add_witness_rings(builder: FleetBuilder, count: int) -> None:
    """Virtual hotspots (no radio) fabricating physically consistent witnesses of each other."""
    added = 0
    while added < count:
        size, group = min(int(builder.rng.integers(6, 13)), count - added), builder.new_group()
        centre = builder.random_place(city_share=0.5)
        wallets = int(builder.rng.integers(1, 3))
        for k in range(size):
            dx, dy = _offset(builder.rng, 0.0, 1_500.0)
            spot = _clip(builder, centre[0] + dx, centre[1] + dy)
            builder.add(
                WITNESS_RING,
                f"ring-{group}-{k % wallets}",
                spot,
                spot,
                radio=False,
                policy=Policy.FORGE_MODEL,
                group=group,
            )
        added += size


def add_beacon_relays(builder: FleetBuilder, count: int) -> None:
    """A capture hotspot in a city replays every beacon it hears to colluding witnesses 20–50 km away."""
    added = 0
    while added < count:
        size, group = min(int(builder.rng.integers(4, 7)), count - added), builder.new_group()
        a = builder.random_place(city_share=1.0)
        dx, dy = _offset(builder.rng, 20_000.0, 50_000.0)
        b = _clip(builder, a[0] + dx, a[1] + dy)
        owner = f"relay-{group}"
        capture = builder.add(BEACON_RELAY, owner, a, a, group=group)
        members = []
        for _ in range(size - 1):
            ox, oy = _offset(builder.rng, 0.0, 800.0)
            spot = _clip(builder, b[0] + ox, b[1] + oy)
            members.append(builder.add(BEACON_RELAY, owner, spot, spot, group=group))
        builder.relays.append(RelayOperation(capture, tuple(members), b))
        added += size


def add_hex_clusters(builder: FleetBuilder, count: int) -> None:
    """Hotspots in one building asserting spread-out hexes 1.5–5 km around it to dodge HIP-17 scaling."""
    added = 0
    while added < count:
        size, group = min(int(builder.rng.integers(8, 17)), count - added), builder.new_group()
        spot = builder.random_place(city_share=0.5)
        wallets = int(builder.rng.integers(1, 3))
        for k in range(size):
            real = _clip(
                builder, spot[0] + builder.rng.normal(0, 20.0), spot[1] + builder.rng.normal(0, 20.0)
            )
            dx, dy = _offset(builder.rng, 1_500.0, 5_000.0)
            builder.add(
                HEX_CLUSTER,
                f"cluster-{group}-{k % wallets}",
                real,
                _clip(builder, spot[0] + dx, spot[1] + dy),
                policy=Policy.FORGE_MODEL,
                group=group,
            )
        added += size


def add_wallet_farm(builder: FleetBuilder, count: int) -> None:
    """One wallet, hotspots racked at 2–3 sites, asserted all over the map (Helium's spoofing rings)."""
    sites = [builder.random_place(city_share=0.8) for _ in range(int(builder.rng.integers(2, 4)))]
    group = builder.new_group()
    for k in range(count):
        site = sites[k % len(sites)]
        real = _clip(builder, site[0] + builder.rng.normal(0, 20.0), site[1] + builder.rng.normal(0, 20.0))
        claimed = builder.random_place(city_share=0.3)
        builder.add(WALLET_FARM, "farm-wallet", real, claimed, policy=Policy.CLAMP_TO_FSPL, group=group)


ADDERS: dict[str, Callable[[FleetBuilder, int], None]] = {
    GPS_SPOOF: add_gps_spoofers,
    WITNESS_RING: add_witness_rings,
    BEACON_RELAY: add_beacon_relays,
    HEX_CLUSTER: add_hex_clusters,
    WALLET_FARM: add_wallet_farm,
}
SCENARIOS: dict[str, tuple[str, ...]] = {
    "honest": (),
    **{kind: (kind,) for kind in ADVERSARY_KINDS},
    "mixed": ADVERSARY_KINDS,
}


def build_fleet(
    scenario: str,
    devices: int,
    seed: int,
    adversary_share: float = 0.15,
    assertion_resolution: int = 12,
    frame: MapFrame | None = None,
) -> Fleet:
    """The fleet of a named scenario: `devices` hotspots, `adversary_share` of them cheating.

    Cities keep their spread while the map grows with √devices, so the honest density is the same at
    any fleet size: 2,000 hotspots on 120 km × 120 km, 6 cities, a quarter of the hotspots rural.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")
    rng = np.random.default_rng(seed)
    frame = frame or MapFrame(size_m=REFERENCE_MAP_M * math.sqrt(devices / REFERENCE_DEVICES))
    builder = FleetBuilder(
        rng, frame, make_cities(rng, frame, max(1, round(6 * devices / REFERENCE_DEVICES)))
    )
    kinds = SCENARIOS[scenario]
    adversaries = round(devices * adversary_share) if kinds else 0
    add_honest(builder, devices - adversaries)
    for k, kind in enumerate(kinds):
        share = adversaries // len(kinds) + (1 if k < adversaries % len(kinds) else 0)
        if share:
            ADDERS[kind](builder, share)
    return builder.build(assertion_resolution)
