"""Named scenarios: honest fleets and the cheating Helium saw, each as a way of adding devices."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

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
FAITHFUL_RING = "faithful-ring"
WALLET_SPLIT = "wallet-split"
HEX_SPOOF = "hex-spoof"
LATE_CHEATER = "late-cheater"
BRIDGED_RING = "bridged-ring"
ADVERSARY_KINDS = (GPS_SPOOF, WITNESS_RING, BEACON_RELAY, HEX_CLUSTER, WALLET_FARM)
"""The first seven scenarios' cheats (as Helium saw them)."""
INFORMED_KINDS = (FAITHFUL_RING, WALLET_SPLIT, HEX_SPOOF, LATE_CHEATER, BRIDGED_RING)
"""Attackers built from the public docs: they know the rules, the radio model and the detectors."""
ADAPTIVE = "adaptive"
"""Not a fleet: the runner's adversary that tries every strategy on a pilot network and plays the best."""
BUILDING = "building"
"""Honest only, with 10–20 hotspots of different owners in some buildings (within 50 m)."""
VERIFIER_SHARE = 0.04
"""Share of honest radios that are maker-attested verifiers (network-operated, spread like the fleet)."""
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


def remote_place(builder: FleetBuilder, candidates: int = 400) -> tuple[float, float]:
    """The candidate spot farthest from every radio placed so far (where no honest radio hears)."""
    radios = np.array([p for p, r in zip(builder.real, builder.radio, strict=True) if r]).reshape(-1, 2)
    spots = builder.rng.uniform(0.0, builder.frame.size_m, (candidates, 2))
    if not len(radios):
        return float(spots[0, 0]), float(spots[0, 1])
    nearest = np.array([np.sqrt(((radios - p) ** 2).sum(axis=1)).min() for p in spots])
    best = spots[int(np.argmax(nearest))]
    return float(best[0]), float(best[1])


def add_faithful_rings(builder: FleetBuilder, count: int) -> None:
    """Virtual rings of 8–15 hotspots within 1.2 km, simulated faithfully at their assertions (true path
    loss, static shadowing, fading, sensitivity, the cap), far from any honest radio, 1–2 per wallet."""
    added = 0
    while added < count:
        size, group = min(int(builder.rng.integers(8, 16)), count - added), builder.new_group()
        _add_virtual_ring(builder, FAITHFUL_RING, "fring", group, remote_place(builder), size)
        added += size


def _add_virtual_ring(
    builder: FleetBuilder, role: str, prefix: str, group: int, centre: Sequence[float], size: int
) -> None:
    """`size` virtual hotspots (no radio) within 1.2 km of `centre`, forging faithfully, one or two per
    wallet (`prefix-group-k`, a wallet named by k or k // 2)."""
    for k in range(size):
        dx, dy = _offset(builder.rng, 0.0, 1_200.0)
        spot = _clip(builder, centre[0] + dx, centre[1] + dy)
        builder.add(
            role,
            f"{prefix}-{group}-{k // 2 if builder.rng.random() < 0.5 else k}",
            spot,
            spot,
            radio=False,
            policy=Policy.FORGE_PHYSICAL,
            group=group,
        )


def add_bridged_rings(builder: FleetBuilder, count: int) -> None:
    """Faithful rings joined to the honest graph by one real radio each: the bridge stands 1.5–3 km from
    the nearest honest radio (so they hear each other truly) on the way to the spot farthest from every
    radio, and its ring of 8–15 virtual hotspots lies 1.5–2.5 km beyond it (within 1.2 km of that spot);
    the bridge forges its links with its ring faithfully (true physics at the asserted distances), one
    or two hotspots per wallet."""
    added = 0
    while added < count:
        size, group = min(int(builder.rng.integers(9, 17)), count - added), builder.new_group()
        far = np.array(remote_place(builder))
        honest = np.array(
            [
                p
                for p, r, role in zip(builder.real, builder.radio, builder.roles, strict=True)
                if r and role == HONEST
            ]
        ).reshape(-1, 2)
        near = honest[int(np.argmin(((honest - far) ** 2).sum(axis=1)))] if len(honest) else far
        heading = far - near
        unit = heading / max(float(np.sqrt((heading**2).sum())), 1.0)
        bridge = _clip(builder, *(near + unit * builder.rng.uniform(1_500.0, 3_000.0)))
        builder.add(
            BRIDGED_RING, f"bridge-{group}", bridge, bridge, policy=Policy.FORGE_PHYSICAL, group=group
        )
        centre = np.array(bridge) + unit * builder.rng.uniform(1_500.0, 2_500.0)
        _add_virtual_ring(builder, BRIDGED_RING, "bring", group, centre, size - 1)
        added += size


def add_wallet_split(builder: FleetBuilder, count: int) -> None:
    """One operator's radios racked at one site, split over ~50 wallets, asserting spots 1.5–5 km around;
    forging each other's witnesses faithfully at the asserted distances."""
    group = builder.new_group()
    site = builder.random_place(city_share=0.5)
    wallets = max(1, min(50, count))
    for k in range(count):
        real = _clip(builder, site[0] + builder.rng.normal(0, 15.0), site[1] + builder.rng.normal(0, 15.0))
        dx, dy = _offset(builder.rng, 1_500.0, 5_000.0)
        builder.add(
            WALLET_SPLIT,
            f"split-{k % wallets}",
            real,
            _clip(builder, site[0] + dx, site[1] + dy),
            policy=Policy.FORGE_PHYSICAL,
            group=group,
        )


def add_hex_spoofers(builder: FleetBuilder, count: int) -> None:
    """Real radios standing within 50 m of an honest hotspot, asserting 300–900 m away (a neighbouring
    hex: a full HIP-17 scale of their own, and far enough to witness their neighbour)."""
    honest = [k for k, role in enumerate(builder.roles) if role == HONEST]
    for k in range(count):
        neighbour = builder.real[honest[int(builder.rng.integers(len(honest)))]]
        ox, oy = _offset(builder.rng, 5.0, 50.0)
        real = _clip(builder, neighbour[0] + ox, neighbour[1] + oy)
        dx, dy = _offset(builder.rng, 300.0, 900.0)
        claimed = _clip(builder, real[0] + dx, real[1] + dy)
        builder.add(HEX_SPOOF, f"hexspoof-{k}", real, claimed, policy=Policy.CLAMP_TO_FSPL)


def add_late_cheaters(builder: FleetBuilder, count: int, cheat_from: int = 1) -> None:
    """Honest in the first epoch, then re-assert 8–30 km away (and clamp their RSSI to pass the rules)."""
    for k in range(count):
        real = builder.random_place()
        dx, dy = _offset(builder.rng, 8_000.0, 30_000.0)
        index = builder.add(LATE_CHEATER, f"late-{k}", real, real, policy=Policy.CLAMP_TO_FSPL)
        builder.later[index] = _clip(builder, real[0] + dx, real[1] + dy)
        builder.cheat_from[index] = cheat_from


def add_buildings(builder: FleetBuilder, count: int) -> None:
    """Honest hotspots of different owners packed in buildings: 10–20 within 50 m of each other."""
    added = 0
    while added < count:
        size, spot = min(int(builder.rng.integers(10, 21)), count - added), builder.random_place()
        for k in range(size):
            ox, oy = _offset(builder.rng, 0.0, 50.0)
            here = _clip(builder, spot[0] + ox, spot[1] + oy)
            builder.add(HONEST, f"tenant-{added + k}", here, here)
        added += size


def choose_verifiers(builder: FleetBuilder, rng: np.random.Generator, share: float = VERIFIER_SHARE) -> None:
    """A `share` of the honest radios are maker-attested verifiers, drawn at random over the fleet (with
    their own generator, so the fleet itself is the same with or without them)."""
    honest = [k for k, role in enumerate(builder.roles) if role == HONEST and builder.radio[k]]
    picks = rng.choice(len(honest), size=round(share * len(honest)), replace=False)
    builder.verifiers.update(honest[int(p)] for p in picks)


ADDERS: dict[str, Callable[[FleetBuilder, int], None]] = {
    GPS_SPOOF: add_gps_spoofers,
    WITNESS_RING: add_witness_rings,
    BEACON_RELAY: add_beacon_relays,
    HEX_CLUSTER: add_hex_clusters,
    WALLET_FARM: add_wallet_farm,
    FAITHFUL_RING: add_faithful_rings,
    WALLET_SPLIT: add_wallet_split,
    HEX_SPOOF: add_hex_spoofers,
    LATE_CHEATER: add_late_cheaters,
    BRIDGED_RING: add_bridged_rings,
}
SCENARIOS: dict[str, tuple[str, ...]] = {
    "honest": (),
    BUILDING: (),
    **{kind: (kind,) for kind in ADVERSARY_KINDS},
    "mixed": ADVERSARY_KINDS,
    **{kind: (kind,) for kind in INFORMED_KINDS},
    "informed-mixed": INFORMED_KINDS,
    ADAPTIVE: (),
}
"""Scenario name → the cheats it adds (`adaptive` picks its own, see the runner)."""
BUILDING_SHARE = 0.1


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
    if scenario not in SCENARIOS or scenario == ADAPTIVE:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")
    rng = np.random.default_rng(seed)
    frame = frame or MapFrame(size_m=REFERENCE_MAP_M * math.sqrt(devices / REFERENCE_DEVICES))
    builder = FleetBuilder(
        rng, frame, make_cities(rng, frame, max(1, round(6 * devices / REFERENCE_DEVICES)))
    )
    kinds = SCENARIOS[scenario]
    adversaries = round(devices * adversary_share) if kinds else 0
    packed = round(devices * BUILDING_SHARE) if scenario == BUILDING else 0
    add_honest(builder, devices - adversaries - packed)
    add_buildings(builder, packed)
    for k, kind in enumerate(kinds):
        share = adversaries // len(kinds) + (1 if k < adversaries % len(kinds) else 0)
        if share:
            ADDERS[kind](builder, share)
    choose_verifiers(builder, np.random.default_rng([seed, 1]))
    return builder.build(assertion_resolution)
