"""Headless scenario runner: fleet → reports → the network's own epoch → pay per device → scores.

Every epoch goes through `opendepin.rewards.epoch.process_epoch` with the network's `NetworkConfig` (default:
the wireless IoT example; `depin simulate wireless --network FILE` takes any network.toml with
`[sectors.wireless.poc]`), so the emission, category splits, unused-pool flows and integer allocation are
the network's, and each simulated hotspot's pay is its `device_rewards` amount. Hotspots are registered
with the attributes the node records at onboarding: the maker's (`mode`, `region`) and the owner's
(`gain_dbi`), merged as the node merges them.

Each epoch is processed twice from the same reports: with detection (trust), and with the per-report rules
alone (the same network with `[sectors.wireless.poc.trust] enabled = false`), each with its own carried
state and cumulative rewards, so the two are compared on the same run.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from opendepin.config import NetworkConfig
from opendepin.identity.wallets import normalize_address
from opendepin.reports.model import ReportRecord
from opendepin.rewards.epoch import EpochInputs, process_epoch, window_for
from opendepin.sectors.base import DeviceInfo, EpochWindow, SectorPlugin
from opendepin.sectors.registry import load_sectors
from opendepin.sectors.wireless.params import WirelessParams
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.trust import PPM
from opendepin.sectors.wireless.sim.behaviour import REGION, simulate_epoch
from opendepin.sectors.wireless.sim.fleet import HONEST, Fleet
from opendepin.sectors.wireless.sim.links import build_radio_links
from opendepin.sectors.wireless.sim.metrics import (
    NOT_SUSPICION,
    Scores,
    compute_leakage,
    compute_pay_ratio,
    compute_scores,
    is_flagged_by_reports,
)
from opendepin.sectors.wireless.sim.network import load_network, with_trust
from opendepin.sectors.wireless.sim.onboarding import hotspot_attributes
from opendepin.sectors.wireless.sim.propagation import RadioPhysics
from opendepin.sectors.wireless.sim.scenarios import (
    ADAPTIVE,
    ADVERSARY_KINDS,
    INFORMED_KINDS,
    LATE_CHEATER,
    build_fleet,
)

ALL_KINDS = (*ADVERSARY_KINDS, *INFORMED_KINDS)

GENESIS = 1_767_225_600
"""2026-01-01T00:00:00Z, the genesis of the wireless IoT example."""
EPOCH_SECONDS = 86_400
ONBOARDED_BEFORE_S = 3_600
"""Hotspots are onboarded an hour before the first epoch."""


def compute_sim_address(name: str) -> str:
    """A checksummed EVM address standing for a simulated wallet (owner or maker) named `name`."""
    return normalize_address("0x" + hashlib.sha256(f"opendepin-sim:{name}".encode()).hexdigest()[:40])


ONBOARDING_CHOICES = ("same", "spread", "sleepers")
"""When the fleet's hotspots were onboarded (`onboarding_times`)."""
SPREAD_S = 365 * 86_400
"""`spread`: onboarding times fall in the year before the first epoch."""


def onboarding_times(fleet: Fleet, first_epoch_start: int, seed: int, mode: str) -> dict[str, int]:
    """Each hotspot's onboarding time. `same`: all an hour before the first epoch (no radio is older than
    another, so nothing that ranks radios by seniority can tell them apart); `spread`: a second of the year
    before it, drawn from SHA-256 of (seed, device id), adversaries alike; `sleepers`: as `spread`, with the
    adversaries' radios a year older still (they were onboarded and kept quiet before the honest network
    grew, to rank first wherever seniority counts)."""
    if mode not in ONBOARDING_CHOICES:
        raise ValueError(f"onboarding must be one of {', '.join(ONBOARDING_CHOICES)}, not {mode!r}")
    latest = first_epoch_start - ONBOARDED_BEFORE_S
    times: dict[str, int] = {}
    for device, adversarial in zip(fleet.ids, fleet.adversarial.tolist(), strict=True):
        if mode == "same":
            times[device] = latest
            continue
        digest = hashlib.sha256(f"{seed}:{device}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") % SPREAD_S
        times[device] = latest - draw - (SPREAD_S if mode == "sleepers" and adversarial else 0)
    return times


def build_registry(
    fleet: Fleet, onboarded_at: int | Mapping[str, int] = GENESIS - ONBOARDED_BEFORE_S
) -> dict[str, DeviceInfo]:
    """What the network knows of each hotspot: owner wallet, asserted cell, attributes from onboarding
    (`onboarded_at`: one time for all, or each device's)."""
    maker = compute_sim_address("maker")
    owners = {name: compute_sim_address(name) for name in sorted(set(fleet.owners))}
    return {
        device: DeviceInfo(
            device,
            owners[fleet.owners[k]],
            maker,
            "ed25519",
            fleet.asserted[k],
            onboarded_at if isinstance(onboarded_at, int) else onboarded_at[device],
            hotspot_attributes(REGION, float(fleet.gain_dbi[k]), verifier=bool(fleet.verifier[k])),
        )
        for k, device in enumerate(fleet.ids)
    }


def get_poc_params(sectors: dict[str, SectorPlugin]) -> PocParams:
    """The proof-of-coverage parameters of the network's wireless sector."""
    params = sectors["wireless"].params
    if not isinstance(params, WirelessParams) or params.poc is None:
        raise ValueError("the network's wireless sector has no proof of coverage")
    return params.poc


@dataclass(slots=True)
class ModeTally:
    """One evaluation mode's network, carried epoch state and running totals."""

    config: NetworkConfig
    sectors: dict[str, SectorPlugin]
    state: dict[str, Any] = field(default_factory=dict)
    cumulative: dict[str, int] = field(default_factory=dict)
    paid: Counter[str] = field(default_factory=Counter)
    """Pay per device over the scored epochs (from the first epoch any adversary cheats in)."""
    suspicious: Counter[str] = field(default_factory=Counter)
    reports: Counter[str] = field(default_factory=Counter)
    trust_ppm: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, config: NetworkConfig) -> ModeTally:
        return cls(config, load_sectors(config))

    @property
    def poc(self) -> PocParams:
        return get_poc_params(self.sectors)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What `depin simulate wireless` prints."""

    scenario: str
    network: str
    devices: int
    adversaries: int
    epochs: int
    seed: int
    detection: Scores
    baseline: Scores
    reports: int
    honest_underpaid: float = 0.0
    """Share of honest hotspots that detection paid less than half of what the rules alone paid them."""
    scored_from_epoch: int = 0
    """Pay is counted from this epoch on (late cheaters: their first cheating epoch)."""
    strategy: str = ""
    """The adversary kind played (the adaptive adversary's choice)."""
    pilot: dict[str, float] = field(default_factory=dict)
    """Adaptive adversary: pay per hotspot relative to honest of each strategy on its pilot network."""
    onboarding: str = "same"
    """When the hotspots were onboarded (`onboarding_times`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "honest_underpaid": round(self.honest_underpaid, 5),
            "scored_from_epoch": self.scored_from_epoch,
            "strategy": self.strategy,
            "pilot_pay_ratio": {k: round(v, 4) for k, v in sorted(self.pilot.items())},
            "onboarding": self.onboarding,
            "scenario": self.scenario,
            "network": self.network,
            "devices": self.devices,
            "adversaries": self.adversaries,
            "epochs": self.epochs,
            "seed": self.seed,
            "reports": self.reports,
            **self.detection.as_dict(),
            "baseline": self.baseline.as_dict(),
        }


def run_epoch(
    mode: ModeTally,
    window: EpochWindow,
    registry: dict[str, DeviceInfo],
    reports: list[ReportRecord],
    context: dict[str, Any],
    scored: bool = True,
) -> None:
    """One epoch through the network's `process_epoch`; adds its pay and verdicts to the mode's totals."""
    result = process_epoch(
        mode.config,
        mode.sectors,
        EpochInputs(
            window=window,
            devices=registry,
            reports=reports,
            prior_cumulative=mode.cumulative,
            prior_state=mode.state,
            context=context,
        ),
    )
    for device_id, _category, _units, amount, _breakdown in result.device_rewards:
        if scored:
            mode.paid[device_id] += amount
    for _report_id, device_id, reason, _evidence in result.verdicts:
        mode.reports[device_id] += 1
        if reason not in NOT_SUSPICION:
            mode.suspicious[device_id] += 1
    mode.state = dict(result.sector_state)
    mode.cumulative = {owner: cumulative for owner, _this_epoch, cumulative in result.owner_rewards}
    trust = mode.state.get("wireless", {}).get("poc", {}).get("trust", {})
    mode.trust_ppm = {d: PPM - int(v.get("penalty_ppm", 0)) for d, v in trust.items()}


def score(mode: ModeTally, fleet: Fleet, sparse: set[str], use_trust: bool) -> Scores:
    """Flags (half the reports suspicious, or trust under the bar) against the ground truth."""
    adversaries = {d for d, adv in zip(fleet.ids, fleet.adversarial, strict=True) if adv}
    honest = set(fleet.ids) - adversaries
    flag_below_ppm = int(mode.poc.trust.flag_below * PPM)
    flagged = {
        d
        for d in fleet.ids
        if is_flagged_by_reports(mode.suspicious[d], mode.reports[d])
        or (use_trust and mode.trust_ppm.get(d, PPM) < flag_below_ppm)
    }
    rewarded = sum(1 for d in sparse if mode.paid[d] > 0) / len(sparse) if sparse else 1.0
    return compute_scores(
        flagged,
        adversaries,
        honest,
        compute_leakage(mode.paid, adversaries),
        rewarded,
        compute_pay_ratio(mode.paid, adversaries, honest),
    )


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


def compute_underpaid(ours: Counter[str], rules: Counter[str], honest: set[str]) -> float:
    """Share of honest hotspots paid by the rules alone that detection paid less than half as much."""
    paid = [d for d in honest if rules[d] > 0]
    return sum(1 for d in paid if 2 * ours[d] < rules[d]) / len(paid) if paid else 0.0


PILOT_DEVICES = 250
"""The adaptive adversary's pilot network: hotspots and one epoch, on its own seed."""


def run_adaptive(
    devices: int,
    epochs: int,
    seed: int,
    network: NetworkConfig | None = None,
    adversary_share: float = 0.15,
    physics: RadioPhysics | None = None,
    onboarding: str = "same",
) -> RunResult:
    """The adaptive adversary: knows the rules, the detectors and their published parameters (it runs this
    very code), tries every strategy on a pilot network of its own and plays the one paying most per
    hotspot relative to an honest one."""
    pilot = {
        kind: run_scenario(
            kind,
            PILOT_DEVICES,
            2 if kind == LATE_CHEATER else 1,
            seed + 10_000,
            network,
            adversary_share,
            physics,
            onboarding,
        ).detection.adversary_pay_ratio
        for kind in ALL_KINDS
    }
    best = max(sorted(pilot), key=lambda kind: pilot[kind])
    result = run_scenario(best, devices, epochs, seed, network, adversary_share, physics, onboarding)
    return replace(result, scenario=ADAPTIVE, strategy=best, pilot=pilot)


def run_scenario(
    scenario: str,
    devices: int,
    epochs: int,
    seed: int,
    network: NetworkConfig | None = None,
    adversary_share: float = 0.15,
    physics: RadioPhysics | None = None,
    onboarding: str = "same",
) -> RunResult:
    """Simulate `epochs` epochs of a named scenario on `network` (default: the wireless IoT example) and
    score detection against the per-report rules alone; `onboarding` says when the hotspots were onboarded
    (`onboarding_times`)."""
    if scenario == ADAPTIVE:
        return run_adaptive(devices, epochs, seed, network, adversary_share, physics, onboarding)
    config = network or load_network()
    physics = physics or RadioPhysics()
    full, baseline = ModeTally.of(with_trust(config, True)), ModeTally.of(with_trust(config, False))
    params = full.poc
    fleet = build_fleet(scenario, devices, seed, adversary_share, params.assertion_resolution)
    rng = np.random.default_rng(seed + 1)
    links = build_radio_links(fleet, physics, rng)
    onboarded = onboarding_times(fleet, window_for(config, 0).start, seed, onboarding)
    cheats = fleet.cheat_from[fleet.adversarial]
    scored_from = min(int(cheats.max()), epochs - 1) if len(cheats) else 0
    total_reports = 0
    for epoch in range(epochs):
        window = window_for(config, epoch)
        seen = fleet.at_epoch(epoch)
        registry = build_registry(seen, onboarded)
        log = simulate_epoch(seen, links, window, physics, params, rng, seed)
        total_reports += len(log.reports)
        context = {ENTROPY_CONTEXT_KEY: log.entropies}
        for mode in (full, baseline):
            run_epoch(mode, window, registry, log.reports, context, scored=epoch >= scored_from)
    sparse = find_sparse_honest(fleet)
    honest = {d for d, adv in zip(fleet.ids, fleet.adversarial, strict=True) if not adv}
    kinds = sorted({role for role in fleet.roles if role != HONEST})
    return RunResult(
        scenario,
        config.name,
        devices,
        int(fleet.adversarial.sum()),
        epochs,
        seed,
        score(full, fleet, sparse, True),
        score(baseline, fleet, sparse, False),
        total_reports,
        compute_underpaid(full.paid, baseline.paid, honest),
        scored_from,
        "+".join(kinds) if kinds else "none",
        onboarding=onboarding,
    )
