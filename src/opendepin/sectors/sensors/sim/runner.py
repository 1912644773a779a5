"""`depin simulate sensors`: a seeded field of stations, honest and cheating, through the network's own
`process_epoch`, scored for detection and pay.

Same figures as `depin simulate wireless` and `storage`: leakage = share of everything paid to stations that
went to cheaters; false_positive_rate = share of honest stations flagged; precision and recall of the flags;
pay per cheating station relative to an honest one. A station is flagged when a note or verdict names it
with a reason that withholds or cuts its pay (FLAG_REASONS). Every station loses 3 % of its samples, and one
in 20 is offline for six hours and uploads them late, as real ones do.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3
import numpy as np

from opendepin.config import NetworkConfig, load_config
from opendepin.detection import classification, leakage, pay_ratio
from opendepin.reports.model import ReportRecord
from opendepin.rewards.epoch import EpochInputs, process_epoch, window_for
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.registry import load_sectors
from opendepin.sectors.sensors.reports import AIR_QUALITY, LOCATION, WEATHER
from opendepin.sectors.sensors.sim.world import (
    AB_IDENTICAL,
    CLONE,
    CROWDED,
    FAKE_LOCATION,
    FROZEN,
    HONEST,
    INDOOR,
    SPIKY,
    Station,
    World,
    aq_payloads,
    build_world,
    fix_payloads,
    weather_payloads,
)

DEFAULT_NETWORK = Path(__file__).with_name("weather.toml")
SCENARIOS = ("honest", CLONE, FROZEN, INDOOR, SPIKY, FAKE_LOCATION, CROWDED, AB_IDENTICAL, "mixed")
CROWD = 12
UPLOAD_DELAY_S = 45
LOSS = 0.03
OUTAGE_EVERY = 20
OUTAGE_START_S = 6 * 3_600
OUTAGE_END_S = 12 * 3_600
FLAG_REASONS = frozenset(
    {
        "sensors.neighbour_clone",
        "sensors.neighbour_mismatch",
        "sensors.faulty_sensor",
        "sensors.low_quality",
        "sensors.indoor_suspect",
        "sensors.location_unverified",
        "sensors.no_location_fix",
        "sensors.cell_group",
        "sensors.cell_capacity",
        "sensors.ab_identical",
    }
)


def behaviours_for(scenario: str, devices: int, share: float) -> list[str]:
    """Which station does what: cheaters spread evenly through the indices."""
    out = [HONEST] * devices
    if scenario == "honest":
        return out
    if scenario == CROWDED:
        for k in range(min(CROWD, devices // 4)):
            out[(k * 7 + 3) % devices] = CROWDED
        return out
    kinds = [CLONE, FROZEN, INDOOR, SPIKY, FAKE_LOCATION, AB_IDENTICAL] if scenario == "mixed" else [scenario]
    count = max(len(kinds), int(devices * share))
    every = devices / count
    for k in range(count):
        out[int(k * every + every / 2) % devices] = kinds[k % len(kinds)]
    if scenario == "mixed":
        for k in range(min(CROWD, devices // 10)):
            index = (k * 13 + 5) % devices
            if out[index] == HONEST:
                out[index] = CROWDED
    return out


def device_id_of(seed: int, index: int) -> str:
    return "sim" + hashlib.sha256(f"sensors {seed} {index}".encode()).hexdigest()[:40]


def registry_of(world: World, onboarded_at: int) -> dict[str, DeviceInfo]:
    devices = {}
    for s in world.stations:
        device_id = device_id_of(world.seed, s.index)
        devices[device_id] = DeviceInfo(
            device_id=device_id,
            owner=f"0x{s.owner_index:040x}",
            maker="0x" + "11" * 20,
            key_type="ed25519",
            location=h3.latlng_to_cell(s.claimed[0], s.claimed[1], 12),
            onboarded_at=onboarded_at,
            attributes={"model": "WS2000", "sensors": s.sensors, "elevation_m": s.claimed_elevation_m},
        )
    return devices


def station_reports(
    world: World, station: Station, start: int, end: int, sources: frozenset[int] = frozenset()
) -> list[ReportRecord]:
    """A station's reports in [start, end): it loses `LOSS` of its samples at random, and one station in
    `OUTAGE_EVERY` (not one a clone copies) is offline for six hours and uploads them when it is back."""
    device_id = device_id_of(world.seed, station.index)
    out: list[ReportRecord] = []
    streams = [(LOCATION, *fix_payloads(station, start, end))]
    if "weather" in station.sensors:
        streams.append((WEATHER, *weather_payloads(world, station, start, end)))
    if "aq" in station.sensors:
        streams.append((AIR_QUALITY, *aq_payloads(world, station, start, end)))
    rng = np.random.default_rng([world.seed, station.index, start])
    outage = station.index % OUTAGE_EVERY == 3 and station.index not in sources
    back = start + OUTAGE_END_S
    for kind, ts, payloads in streams:
        lost = rng.random(ts.size) < LOSS if kind != LOCATION else np.zeros(ts.size, dtype=bool)
        for t, payload, gone in zip(ts.tolist(), payloads, lost.tolist(), strict=True):
            if gone:
                continue
            received = t + UPLOAD_DELAY_S
            if outage and start + OUTAGE_START_S <= t < back:
                received = back + UPLOAD_DELAY_S  # buffered offline, uploaded on reconnecting
            out.append(ReportRecord(f"{device_id}:{kind}:{t}", kind, device_id, t, t, payload, received))
    return out


@dataclass
class RunResult:
    scenario: str
    network: str
    devices: int
    adversaries: int
    epochs: int
    seed: int
    scores: dict[str, float | int]
    by_behaviour: dict[str, dict[str, Any]]
    reasons: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "network": self.network,
            "devices": self.devices,
            "adversaries": self.adversaries,
            "epochs": self.epochs,
            "seed": self.seed,
            **self.scores,
            "by_behaviour": self.by_behaviour,
            "reasons": self.reasons,
        }


def score(
    behaviour: dict[str, str], flagged: set[str], paid: Counter[str]
) -> tuple[dict[str, float | int], dict[str, dict[str, Any]]]:
    adversaries = {d for d, b in behaviour.items() if b != HONEST}
    honest = set(behaviour) - adversaries
    precision, recall, false_positive_rate = classification(flagged, adversaries, honest)
    scores: dict[str, float | int] = {
        "leakage": round(leakage(paid, adversaries), 5),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "false_positive_rate": round(false_positive_rate, 5),
        "flagged": len(flagged),
    }
    by_behaviour: dict[str, dict[str, Any]] = {}
    for kind in sorted(set(behaviour.values())):
        members = {d for d, b in behaviour.items() if b == kind}
        by_behaviour[kind] = {
            "devices": len(members),
            "flagged": len(members & flagged),
            "pay_vs_honest": round(pay_ratio(paid, members, honest), 4),
        }
    return scores, by_behaviour


def load_network(path: Path | None = None) -> NetworkConfig:
    return load_config(path or DEFAULT_NETWORK)


def run_scenario(
    scenario: str,
    devices: int,
    epochs: int,
    seed: int,
    network: NetworkConfig | None = None,
    adversary_share: float = 0.1,
) -> RunResult:
    """Simulate `epochs` daily epochs of a named scenario and score detection and pay."""
    config = network or load_network()
    sectors = load_sectors(config)
    genesis = config.epochs.genesis_ts
    length = config.epochs.length_seconds
    world = build_world(devices, behaviours_for(scenario, devices, adversary_share), seed, genesis, epochs)
    registry = registry_of(world, genesis - 3_600)
    behaviour = {device_id_of(seed, s.index): s.behaviour for s in world.stations}
    state: dict[str, Any] = {}
    device_state: dict[str, dict[str, Any]] = {}
    cumulative: dict[str, int] = {}
    paid: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    flagged: set[str] = set()
    for number in range(epochs):
        window = window_for(config, number)
        # samples of the last minute of the epoch arrive after its end: the next epoch scores them
        start, end = window.start - UPLOAD_DELAY_S, window.end - UPLOAD_DELAY_S
        sources = frozenset(s.source for s in world.stations if s.source is not None)
        reports = [
            r for s in world.stations for r in station_reports(world, s, max(start, genesis), end, sources)
        ]
        result = process_epoch(
            config,
            sectors,
            EpochInputs(
                window=window,
                devices=registry,
                reports=reports,
                prior_cumulative=cumulative,
                prior_state=state,
                prior_device_state={"sensors": device_state},
            ),
        )
        for device_id, _category, _units, amount, _breakdown in result.device_rewards:
            paid[device_id] += amount
        for _rid, device, reason, _evidence in result.verdicts:
            if reason != "ok":
                reasons[reason] += 1
                if reason in FLAG_REASONS:
                    flagged.add(device)
        for device, reason, _evidence in result.notes:
            reasons[reason] += 1
            if reason in FLAG_REASONS:
                flagged.add(device)
        state = dict(result.sector_state.get("sensors", {}))
        for device, value in result.device_state.get("sensors", {}).items():
            if value is not None:
                device_state[device] = dict(value)
        cumulative = {owner: total for owner, _this, total in result.owner_rewards}
    del length
    scores, by_behaviour = score(behaviour, flagged, paid)
    adversaries = sum(1 for b in behaviour.values() if b != HONEST)
    return RunResult(
        scenario, config.name, devices, adversaries, epochs, seed, scores, by_behaviour, dict(reasons)
    )
