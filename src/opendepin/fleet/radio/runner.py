"""Headless scenario runner: fleet → reports → evaluate_poc epoch after epoch → emission → scores.

Each epoch is evaluated twice from the same reports: with detection (trust) and with the per-report
rules alone (Helium's set), each with its own carried state, so the two are compared on the same run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opendepin.fleet.radio.behaviour import REGION, simulate_epoch
from opendepin.fleet.radio.fleet import Fleet
from opendepin.fleet.radio.links import build_radio_links
from opendepin.fleet.radio.metrics import (
    NOT_SUSPICION,
    Scores,
    compute_leakage,
    compute_scores,
    is_flagged_by_reports,
)
from opendepin.fleet.radio.propagation import RadioPhysics
from opendepin.fleet.radio.scenarios import build_fleet
from opendepin.rewards.allocate import allocate_pool, split_by_basis_points
from opendepin.sectors.base import DeviceInfo, EpochWindow, SectorInput, SectorOutcome
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY, evaluate_poc
from opendepin.sectors.wireless.poc.params import PocParams

GENESIS = 1_767_225_600
EPOCH_SECONDS = 86_400
WIRELESS_SPLIT = {
    "beacons": 600,
    "witnesses": 2_400,
    "data_transfer": 5_000,
    "operations": 700,
    "oracles": 700,
    "stakers": 600,
}
UNUSED_DATA_FLOW = {"witnesses": 8_000, "beacons": 2_000}
EMISSION_PER_EPOCH = 1_000_000 * 10**18


@dataclass(slots=True)
class ModeTally:
    """Running totals of one evaluation mode."""

    params: PocParams
    state: dict[str, Any] = field(default_factory=dict)
    paid: Counter[str] = field(default_factory=Counter)
    suspicious: Counter[str] = field(default_factory=Counter)
    reports: Counter[str] = field(default_factory=Counter)
    trust: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What `depin simulate wireless` prints."""

    scenario: str
    devices: int
    adversaries: int
    epochs: int
    seed: int
    detection: Scores
    baseline: Scores
    reports: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "devices": self.devices,
            "adversaries": self.adversaries,
            "epochs": self.epochs,
            "seed": self.seed,
            "reports": self.reports,
            **self.detection.as_dict(),
            "baseline": self.baseline.as_dict(),
        }


def build_registry(fleet: Fleet) -> dict[str, DeviceInfo]:
    """What the network knows of each hotspot: owner, asserted cell, asserted antenna gain."""
    return {
        device: DeviceInfo(
            device,
            fleet.owners[k],
            "sim-maker",
            "ed25519",
            fleet.asserted[k],
            GENESIS,
            {"gain_dbi": float(fleet.gain_dbi[k]), "mode": "full", "region": REGION},
        )
        for k, device in enumerate(fleet.ids)
    }


def pay_epoch(outcome: SectorOutcome, params: PocParams) -> dict[str, int]:
    """The wireless split of one epoch's emission; unused data transfer flows 80/20 to coverage."""
    split = split_by_basis_points(EMISSION_PER_EPOCH, WIRELESS_SPLIT)
    flow = split_by_basis_points(split.amounts["data_transfer"], UNUSED_DATA_FLOW)
    pools = {
        params.beacon_category: split.amounts["beacons"] + flow.amounts["beacons"],
        params.witness_category: split.amounts["witnesses"] + flow.amounts["witnesses"],
    }
    paid: Counter[str] = Counter()
    for category, pool in pools.items():
        units: Counter[str] = Counter()
        for c in outcome.contributions:
            if c.category == category:
                units[c.device_id] += c.units
        paid.update(allocate_pool(pool, dict(units)).amounts)
    return dict(paid)


def tally(mode: ModeTally, outcome: SectorOutcome, owners: dict[str, str]) -> None:
    """Add one epoch's payments and verdicts to a mode's totals."""
    mode.paid.update(pay_epoch(outcome, mode.params))
    for verdict in outcome.verdicts:
        device = owners[verdict.report_id]
        mode.reports[device] += 1
        if verdict.reason not in NOT_SUSPICION:
            mode.suspicious[device] += 1
    mode.state = dict(outcome.state)
    mode.trust = {d: 1.0 - float(v.get("penalty", 0.0)) for d, v in mode.state.get("trust", {}).items()}


def score(mode: ModeTally, fleet: Fleet, sparse: set[str], use_trust: bool) -> Scores:
    """Flags (half the reports suspicious, or trust under the bar) against the ground truth."""
    adversaries = {d for d, adv in zip(fleet.ids, fleet.adversarial, strict=True) if adv}
    honest = set(fleet.ids) - adversaries
    flag_below = mode.params.trust.flag_below
    flagged = {
        d
        for d in fleet.ids
        if is_flagged_by_reports(mode.suspicious[d], mode.reports[d])
        or (use_trust and mode.trust.get(d, 1.0) < flag_below)
    }
    rewarded = sum(1 for d in sparse if mode.paid[d] > 0) / len(sparse) if sparse else 1.0
    return compute_scores(flagged, adversaries, honest, compute_leakage(mode.paid, adversaries), rewarded)


def find_sparse_honest(fleet: Fleet, radius_m: float = 3_000.0, max_neighbours: int = 3) -> set[str]:
    """Honest hotspots with 1–3 other radios within `radius_m` of them (rural coverage worth paying)."""
    honest = np.flatnonzero(~fleet.adversarial & fleet.has_radio)
    xy = fleet.real_xy[honest]
    counts = np.array([int(((xy - p) ** 2).sum(axis=1).__lt__(radius_m**2).sum()) - 1 for p in xy])
    return {
        fleet.ids[k]
        for k, c in zip(honest.tolist(), counts.tolist(), strict=True)
        if 1 <= c <= max_neighbours
    }


def run_scenario(
    scenario: str,
    devices: int,
    epochs: int,
    seed: int,
    params: PocParams | None = None,
    adversary_share: float = 0.15,
    physics: RadioPhysics | None = None,
) -> RunResult:
    """Simulate `epochs` days of a named scenario and score detection against per-report rules."""
    params = params or PocParams()
    physics = physics or RadioPhysics()
    fleet = build_fleet(scenario, devices, seed, adversary_share, params.assertion_resolution)
    rng = np.random.default_rng(seed + 1)
    links = build_radio_links(fleet, physics, rng)
    registry = build_registry(fleet)
    full = ModeTally(params)
    baseline = ModeTally(
        params.model_copy(update={"trust": params.trust.model_copy(update={"enabled": False})})
    )
    total_reports = 0
    for epoch in range(epochs):
        window = EpochWindow(epoch, GENESIS + epoch * EPOCH_SECONDS, GENESIS + (epoch + 1) * EPOCH_SECONDS)
        log = simulate_epoch(fleet, links, window, physics, params, rng, seed)
        owners = {r.report_id: r.device_id for r in log.reports}
        total_reports += len(log.reports)
        context = {ENTROPY_CONTEXT_KEY: log.entropies}
        for mode in (full, baseline):
            data = SectorInput(window, registry, log.reports, mode.state, context)
            tally(mode, evaluate_poc(data, mode.params), owners)
    sparse = find_sparse_honest(fleet)
    return RunResult(
        scenario,
        devices,
        int(fleet.adversarial.sum()),
        epochs,
        seed,
        score(full, fleet, sparse, True),
        score(baseline, fleet, sparse, False),
        total_reports,
    )
