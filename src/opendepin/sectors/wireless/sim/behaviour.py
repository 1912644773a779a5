"""One epoch of beacon and witness reports from a fleet: honest physics, and each cheat's lies."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import EpochWindow
from opendepin.sectors.wireless.poc.entropy import compute_beacon_data, compute_entropy
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import BEACON, WITNESS
from opendepin.sectors.wireless.sim.fleet import Fleet, Policy
from opendepin.sectors.wireless.sim.links import RadioLinks
from opendepin.sectors.wireless.sim.propagation import (
    RadioPhysics,
    compute_fspl_db,
    compute_received_dbm,
    compute_snr_db,
)

REGION = "US915"
CHANNELS_HZ = tuple(903_900_000 + 200_000 * k for k in range(8))
RELAY_TX_DBM = 20.0


@dataclass(slots=True)
class EpochLog:
    """Reports of one epoch, the entropies served during it, and counters for ids."""

    epoch: int
    seed: int
    reports: list[ReportRecord] = field(default_factory=list)
    entropies: dict[str, int] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)

    def entropy_at(self, ts: int) -> tuple[str, int]:
        """The entropy served at `ts` (one per minute, from a deterministic stand-in block hash)."""
        minute = ts - ts % 60
        block = hashlib.sha256(f"{self.seed}:{minute}".encode()).hexdigest()
        value = compute_entropy(block, minute)
        self.entropies[value] = minute
        return value, minute

    def emit(self, kind: str, device: str, received_at: int, payload: dict[str, object]) -> None:
        seq = self.seq.get(device, 0) + 1
        self.seq[device] = seq
        report_id = f"e{self.epoch}-{len(self.reports):07d}"
        self.reports.append(ReportRecord(report_id, kind, device, received_at - 1, seq, payload, received_at))


@dataclass(frozen=True, slots=True)
class Beacon:
    """A beacon as transmitted: who, when, on which channel, with which payload."""

    beaconer: int
    received_at: int
    tx_ms: int
    entropy: str
    data: str
    frequency_hz: int


def expected_model_rssi(distance_m: np.ndarray, gains: np.ndarray, params: PocParams) -> np.ndarray:
    """RSSI a forger derives from the network's published nominal model at a claimed distance."""
    trust = params.trust
    loss = trust.reference_loss_db + 10 * trust.path_loss_exponent * np.log10(np.maximum(distance_m, 1.0))
    return 27.0 + gains - loss


def asserted_distance(fleet: Fleet, a: int, b: np.ndarray) -> np.ndarray:
    """Distances between assertions, as the verifier will compute them."""
    return np.sqrt(((fleet.asserted_xy[b] - fleet.asserted_xy[a]) ** 2).sum(axis=1))


def compute_pair_shadowing_db(a: int, b: np.ndarray, sigma_db: float, salt: int) -> np.ndarray:
    """A forger's static, symmetric shadowing for the pairs (a, b): normal(0, σ) from a hash of the pair,
    so every report of one link carries the same terrain (as a real link does)."""
    lo, hi = np.minimum(a, b).astype(np.uint64), np.maximum(a, b).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = lo * np.uint64(0x9E3779B97F4A7C15) ^ (hi + np.uint64(salt)) * np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(31)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(29)
    u1 = ((x >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    u2 = (((x * np.uint64(0xD6E8FEB86659FD93)) >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    return sigma_db * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def forge_physical_rssi(
    fleet: Fleet, beacon: Beacon, witnesses: np.ndarray, physics: RadioPhysics, rng: np.random.Generator
) -> np.ndarray:
    """What the true physics would give between the assertions: the forger's faithful RSSI."""
    distance = asserted_distance(fleet, beacon.beaconer, witnesses)
    return compute_received_dbm(
        np.full(len(witnesses), physics.tx_power_dbm),
        fleet.gain_dbi[beacon.beaconer] + fleet.gain_dbi[witnesses],
        fleet.site_db[beacon.beaconer] + fleet.site_db[witnesses],
        distance,
        compute_pair_shadowing_db(beacon.beaconer, witnesses, physics.shadowing_sigma_db, 7),
        rng.normal(0.0, physics.fading_sigma_db, len(witnesses)),
        physics,
    )


def report_rssi(
    fleet: Fleet,
    beacon: Beacon,
    witnesses: np.ndarray,
    true_rssi: np.ndarray,
    params: PocParams,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """What each witness claims per its policy; returns (claimed RSSI, keep mask)."""
    policy = fleet.policy[witnesses]
    distance = asserted_distance(fleet, beacon.beaconer, witnesses)
    gains = fleet.gain_dbi[beacon.beaconer] + fleet.gain_dbi[witnesses]
    bound = 27.0 + gains - compute_fspl_db(distance, beacon.frequency_hz) - 1.0
    forged = expected_model_rssi(distance, gains, params) + rng.normal(0.0, 6.0, len(witnesses))
    claimed = np.where(policy == Policy.CLAMP_TO_FSPL, np.minimum(true_rssi, bound), true_rssi)
    claimed = np.where(policy == Policy.FORGE_MODEL, np.minimum(forged, bound), claimed)
    keep = (policy != Policy.FORGE_MODEL) | (forged >= params.trust.sensitivity_dbm + 2)
    physical = policy == Policy.FORGE_PHYSICAL
    if physical.any():
        mates = physical & (fleet.group[witnesses] == fleet.group[beacon.beaconer])
        mates &= fleet.has_radio[witnesses] & fleet.has_radio[beacon.beaconer]
        faithful = forge_physical_rssi(fleet, beacon, witnesses, RadioPhysics(), rng)
        claimed = np.where(physical, np.minimum(true_rssi, bound), claimed)
        claimed = np.where(mates, np.minimum(faithful, bound), claimed)
        keep &= ~mates | (faithful >= fleet.sensitivity_dbm[witnesses])
        kept_mates = np.flatnonzero(keep & mates)
        if len(kept_mates) > params.witness_cap:  # no more witnesses than the cap pays (HIP-83)
            keep[rng.permutation(kept_mates)[params.witness_cap :]] = False
    return np.round(claimed, 1), keep


def emit_witnesses(
    log: EpochLog,
    fleet: Fleet,
    beacon: Beacon,
    witnesses: np.ndarray,
    rssi: np.ndarray,
    lag_ms: np.ndarray,
    physics: RadioPhysics,
    rng: np.random.Generator,
) -> None:
    """One witness report per (witness, claimed RSSI, lag)."""
    snr = compute_snr_db(rssi, physics)
    offsets = rng.normal(0.0, 3_000.0, len(witnesses)).round()
    delays = rng.integers(1, 10, len(witnesses))
    for k, w in enumerate(witnesses.tolist()):
        log.emit(
            WITNESS,
            fleet.ids[w],
            beacon.received_at + int(delays[k]),
            {
                "beaconer": fleet.ids[beacon.beaconer],
                "entropy": beacon.entropy,
                "data": beacon.data,
                "region": REGION,
                "frequency_hz": beacon.frequency_hz + int(offsets[k]),
                "rssi_dbm": float(rssi[k]),
                "snr_db": round(float(snr[k]), 1),
                "rx_ms": beacon.tx_ms + int(lag_ms[k]),
            },
        )


def transmit(
    log: EpochLog,
    fleet: Fleet,
    links: RadioLinks,
    beacon: Beacon,
    physics: RadioPhysics,
    params: PocParams,
    rng: np.random.Generator,
) -> np.ndarray:
    """A real transmission: who hears it by physics, and their (policy-shaped) witness reports."""
    rows = links.of(beacon.beaconer)
    dst = links.dst[rows]
    gains = fleet.gain_dbi[beacon.beaconer] + fleet.gain_dbi[dst]
    sites = fleet.site_db[beacon.beaconer] + fleet.site_db[dst]
    fading = rng.normal(0.0, physics.fading_sigma_db, len(dst))
    rssi = compute_received_dbm(
        np.full(len(dst), physics.tx_power_dbm),
        gains,
        sites,
        links.distance_m[rows],
        links.shadowing_db[rows],
        fading,
        physics,
    )
    heard = rssi >= fleet.sensitivity_dbm[dst]
    witnesses, true_rssi = dst[heard], rssi[heard]
    claimed, keep = report_rssi(fleet, beacon, witnesses, true_rssi, params, rng)
    lag = np.abs(rng.normal(0.0, physics.clock_jitter_ms, len(witnesses)))
    emit_witnesses(log, fleet, beacon, witnesses[keep], claimed[keep], lag[keep], physics, rng)
    return witnesses


def fabricate_ring(
    log: EpochLog,
    fleet: Fleet,
    beacon: Beacon,
    physics: RadioPhysics,
    params: PocParams,
    rng: np.random.Generator,
) -> None:
    """A virtual hotspot's beacon, 'heard' by its ring mates with model-consistent RSSI."""
    mates = np.flatnonzero((fleet.group == fleet.group[beacon.beaconer]) & ~fleet.has_radio)
    mates = mates[mates != beacon.beaconer]
    claimed, keep = report_rssi(fleet, beacon, mates, np.zeros(len(mates)), params, rng)
    lag = np.abs(rng.normal(0.0, physics.clock_jitter_ms, len(mates)))
    emit_witnesses(log, fleet, beacon, mates[keep], claimed[keep], lag[keep], physics, rng)


def replay(
    log: EpochLog,
    fleet: Fleet,
    beacon: Beacon,
    heard_by: np.ndarray,
    physics: RadioPhysics,
    rng: np.random.Generator,
) -> None:
    """Captured beacons replayed far away: colluders claim them on time, bystanders hear them late."""
    for op in fleet.relays:
        if beacon.beaconer != op.capture and op.capture not in heard_by:
            continue
        members = np.array(op.witnesses, dtype=np.int64)
        distance = asserted_distance(fleet, beacon.beaconer, members)
        gains = fleet.gain_dbi[beacon.beaconer] + fleet.gain_dbi[members]
        bound = 27.0 + gains - compute_fspl_db(distance, beacon.frequency_hz) - 1.0
        claimed = np.round(np.minimum(bound, rng.normal(-112.0, 3.0, len(members))), 1)
        lag = np.abs(rng.normal(0.0, physics.clock_jitter_ms, len(members)))
        emit_witnesses(log, fleet, beacon, members, claimed, lag, physics, rng)
        replay_to_bystanders(log, fleet, beacon, op.transmitter_xy, set(op.witnesses), physics, rng)


def replay_to_bystanders(
    log: EpochLog,
    fleet: Fleet,
    beacon: Beacon,
    origin: tuple[float, float],
    colluders: set[int],
    physics: RadioPhysics,
    rng: np.random.Generator,
) -> None:
    """Honest radios near the relay transmitter hear the replay and report it truthfully (late)."""
    radios = np.flatnonzero(fleet.has_radio)
    distance = np.sqrt(((fleet.real_xy[radios] - np.array(origin)) ** 2).sum(axis=1))
    near = radios[distance < 15_000.0]
    distance = distance[distance < 15_000.0]
    rssi = compute_received_dbm(
        np.full(len(near), RELAY_TX_DBM),
        3.0 + fleet.gain_dbi[near],
        fleet.site_db[near],
        distance,
        rng.normal(0.0, physics.shadowing_sigma_db, len(near)),
        np.zeros(len(near)),
        physics,
    )
    heard = (
        (rssi >= fleet.sensitivity_dbm[near]) & ~np.isin(near, list(colluders)) & (near != beacon.beaconer)
    )
    lag = rng.uniform(300.0, 1_500.0, int(heard.sum()))
    emit_witnesses(log, fleet, beacon, near[heard], np.round(rssi[heard], 1), lag, physics, rng)


def make_beacon(log: EpochLog, fleet: Fleet, device: int, at: int, rng: np.random.Generator) -> Beacon:
    """Emit a beacon report citing the entropy served at `at`."""
    entropy, _ = log.entropy_at(at)
    local = rng.bytes(8).hex()
    frequency = int(CHANNELS_HZ[int(rng.integers(len(CHANNELS_HZ)))])
    data = compute_beacon_data(entropy, local, REGION, frequency)
    received = at + int(rng.integers(1, 4))
    tx_ms = at * 1000 + int(rng.integers(0, 1000))
    log.emit(
        BEACON,
        fleet.ids[device],
        received,
        {
            "entropy": entropy,
            "local_entropy": local,
            "region": REGION,
            "frequency_hz": frequency,
            "tx_power_dbm": 27.0,
            "tx_ms": tx_ms,
            "data": data,
        },
    )
    return Beacon(device, received, tx_ms, entropy, data, frequency)


def simulate_epoch(
    fleet: Fleet,
    links: RadioLinks,
    window: EpochWindow,
    physics: RadioPhysics,
    params: PocParams,
    rng: np.random.Generator,
    seed: int,
    beacon_probability: float = 0.5,
) -> EpochLog:
    """Every hotspot beacons with `beacon_probability` per schedule bucket; the fleet reacts."""
    log = EpochLog(window.number, seed)
    interval = params.beacon_interval_s
    for bucket_start in range(window.start - window.start % interval, window.end, interval):
        if bucket_start < window.start:
            continue
        beaconers = np.flatnonzero(rng.random(fleet.size) < beacon_probability)
        times = bucket_start + rng.integers(0, max(1, interval - 600), len(beaconers))
        for device, at in sorted(zip(beaconers.tolist(), times.tolist(), strict=True), key=lambda p: p[1]):
            beacon = make_beacon(log, fleet, device, at, rng)
            if not fleet.has_radio[device] and fleet.policy[device] != Policy.FORGE_PHYSICAL:
                fabricate_ring(log, fleet, beacon, physics, params, rng)
                continue
            heard_by = transmit(log, fleet, links, beacon, physics, params, rng)
            replay(log, fleet, beacon, heard_by, physics, rng)
    return log
