"""Headless storage scenarios through the network's own epoch, scored against the ground truth.

Every epoch goes through `opendepin.rewards.epoch.process_epoch` with the network's `NetworkConfig` (default:
`sim/storage.toml`, the same file as `examples/storage.toml`): audits are the challenges the sector
derives from a seeded stand-in for chain entropy, providers' answers are `storage.proof` reports with their
receive times, clients pay every holder of their pieces with usage receipts, and each provider's pay is its
`device_rewards` amount (emission and usage pools, caps and flows as configured).
"""

from __future__ import annotations

import hashlib
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from opendepin.config import NetworkConfig, load_config
from opendepin.market.receipts import UsageRecord
from opendepin.reports.model import ReportRecord
from opendepin.rewards.emissions import compute_epoch_emission
from opendepin.rewards.epoch import EpochInputs, process_epoch, window_for
from opendepin.sectors.base import Challenge, ChallengeSeed, DeviceInfo
from opendepin.sectors.registry import load_sectors
from opendepin.sectors.storage.audit import AUDIT, compute_audit_id, striped_segments
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.reports import PUT
from opendepin.sectors.storage.sim.behaviour import ProviderClock, period_reports, spoil
from opendepin.sectors.storage.sim.metrics import Scores, compute_scores, is_flagged
from opendepin.sectors.storage.sim.scenarios import build_world
from opendepin.sectors.storage.sim.world import HONEST, SimClient, SimPiece, SimProvider, sign_put

DEFAULT_NETWORK = Path(__file__).with_name("storage.toml")
ONBOARDED_BEFORE_S = 3_600
PUT_AFTER_S = 60
USAGE_RATIO = Fraction(1, 2)
"""Clients pay, each epoch, half the value of its emission (so both pools pay)."""


def load_network(path: Path | None = None) -> NetworkConfig:
    return load_config(path or DEFAULT_NETWORK)


def storage_params(config: NetworkConfig) -> StorageParams:
    params = load_sectors(config)["storage"].params
    assert isinstance(params, StorageParams)
    return params


@dataclass
class RunResult:
    """What `depin simulate storage` prints."""

    scenario: str
    network: str
    devices: int
    adversaries: int
    epochs: int
    seed: int
    scores: Scores
    by_behaviour: dict[str, dict[str, Any]]
    honest_disqualified: int
    reports: int
    invalid: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "network": self.network,
            "devices": self.devices,
            "adversaries": self.adversaries,
            "epochs": self.epochs,
            "seed": self.seed,
            "reports": self.reports,
            **self.scores.as_dict(),
            "honest_disqualified": self.honest_disqualified,
            "by_behaviour": self.by_behaviour,
            "invalid_by_reason": dict(sorted(self.invalid.items())),
        }


def registry_of(providers: list[SimProvider], onboarded_at: int) -> dict[str, DeviceInfo]:
    maker = "0x" + "11" * 20
    return {
        p.device_id: DeviceInfo(
            p.device_id,
            p.owner,
            maker,
            "ed25519",
            None,
            onboarded_at,
            {"capacity_bytes": 10**12, "network_prefix": p.prefix},
        )
        for p in providers
    }


def put_reports(puts: list[tuple[SimProvider, SimPiece, SimClient]], at: int) -> list[ReportRecord]:
    reports = []
    for seq, (provider, piece, client) in enumerate(puts):
        payload = {
            "segment": piece.segment,
            "piece": piece.index,
            "k": piece.k,
            "n": piece.n,
            "size": len(piece.data),
            "root": piece.root,
            "client": client.address,
            "client_sig": sign_put(client, provider, piece),
        }
        rid = hashlib.sha256(f"put:{provider.device_id}:{piece.segment}:{piece.index}".encode()).hexdigest()
        reports.append(ReportRecord(rid, PUT, provider.device_id, at, 10**6 + seq, payload, at))
    return reports


def usage_records(
    providers: list[SimProvider], config: NetworkConfig, number: int, clients: dict[str, SimClient]
) -> list[UsageRecord]:
    """Each client pays every holder of its pieces for the epoch, in proportion to the bytes held."""
    window = window_for(config, number)
    emission = compute_epoch_emission(config.emission, config.token, window, config.epochs.genesis_ts)
    policy = config.rewards.usage
    value_usd = (
        USAGE_RATIO * Fraction(emission, config.token.unit) * Fraction(str(policy.reference_price_usd))
    )
    total_credits = int(value_usd / Fraction(str(policy.credit_usd)))
    held: dict[tuple[str, str], int] = defaultdict(int)
    for p in providers:
        for piece in p.pieces.values():
            held[(p.device_id, piece.client)] += len(piece.data)
    total_bytes = sum(held.values()) or 1
    records = []
    for (device, client), size in sorted(held.items()):
        credits = total_credits * size // total_bytes
        if credits <= 0 or client not in clients:
            continue
        ref = f"{number}:{device[:20]}"
        rid = hashlib.sha256(f"usage:{number}:{device}:{client}".encode()).hexdigest()
        records.append(
            UsageRecord(
                rid,
                "storage",
                device,
                client,
                credits,
                size * 24,
                "byte_hours",
                ref,
                window.start + 1,
                window.end - 1,
            )
        )
    return records


def run_scenario(
    scenario: str,
    devices: int,
    epochs: int,
    seed: int,
    network: NetworkConfig | None = None,
    adversary_share: float = 0.15,
) -> RunResult:
    """Simulate `epochs` daily epochs of a named scenario and score detection and pay."""
    config = network or load_network()
    sectors = load_sectors(config)
    params = storage_params(config)
    rng = random.Random(seed)
    world = build_world(scenario, devices, seed, adversary_share, params, rng)
    for provider in world.providers:
        spoil(provider, rng)
    genesis = config.epochs.genesis_ts
    registry = registry_of(world.providers, genesis - ONBOARDED_BEFORE_S)
    clients = {c.address: c for c in world.clients}
    clocks = {p.device_id: ProviderClock() for p in world.providers}
    rate = params.fraction("stripe_audit_rate")
    put_at = genesis + PUT_AFTER_S
    state: dict[str, Any] = {}
    device_state: dict[str, dict[str, Any]] = {}
    cumulative: dict[str, int] = {}
    paid: Counter[str] = Counter()
    invalid: Counter[str] = Counter()
    first_flag_audits: dict[str, int] = {}
    total_reports = 0
    flagged_ever: set[str] = set()
    segments = {piece.segment for p in world.providers for piece in p.pieces.values()}
    for number in range(epochs):
        window = window_for(config, number)
        reports = put_reports(world.puts, put_at) if number == 0 else []
        challenges = []
        for t in range(window.start, window.end, params.audit_period_s):
            entropy = hashlib.sha256(f"storage-sim:{seed}:entropy:{t}".encode()).hexdigest()
            audit_id = compute_audit_id(entropy, t)
            challenges.append(Challenge(AUDIT, audit_id, t, ChallengeSeed(entropy, t), None, {}))
            striped = striped_segments(audit_id, segments, rate)
            for provider in world.providers:
                reports.extend(
                    period_reports(
                        provider,
                        clocks[provider.device_id],
                        audit_id,
                        t,
                        params,
                        rate,
                        rng,
                        put_at < t,
                        striped,
                    )
                )
        total_reports += len(reports)
        result = process_epoch(
            config,
            sectors,
            EpochInputs(
                window=window,
                devices=registry,
                reports=reports,
                prior_cumulative=cumulative,
                prior_state={"storage": state},
                usage=usage_records(world.providers, config, number, clients),
                challenges={"storage": challenges},
                prior_device_state={"storage": device_state},
            ),
        )
        for device_id, _category, _units, amount, _breakdown in result.device_rewards:
            paid[device_id] += amount
        for _rid, _device, reason, _evidence in result.verdicts:
            if reason != "ok":
                invalid[reason] += 1
        state = dict(result.sector_state.get("storage", {}))
        for device, value in result.device_state.get("storage", {}).items():
            if value is not None:
                device_state[device] = dict(value)
        cumulative = {owner: total for owner, _this, total in result.owner_rewards}
        for device, reason, evidence in result.notes:
            if is_flagged(reason, evidence):
                flagged_ever.add(device)
        for _rid, device, reason, _evidence in result.verdicts:
            if is_flagged(reason, None):
                flagged_ever.add(device)
        for device in flagged_ever:
            if device not in first_flag_audits:
                first = int(device_state.get(device, {}).get("first_flag_audits", -1))
                first_flag_audits[device] = (
                    first if first >= 0 else int(device_state.get(device, {}).get("audits", 0))
                )
    return score_run(
        scenario,
        config,
        world,
        epochs,
        seed,
        paid,
        flagged_ever,
        first_flag_audits,
        device_state,
        total_reports,
        invalid,
    )


def score_run(
    scenario: str,
    config: NetworkConfig,
    world: Any,
    epochs: int,
    seed: int,
    paid: Counter[str],
    flagged: set[str],
    first_flag_audits: dict[str, int],
    device_state: dict[str, dict[str, Any]],
    total_reports: int,
    invalid: Counter[str],
) -> RunResult:
    behaviour = {p.device_id: p.behaviour for p in world.providers}
    adversaries = {d for d, b in behaviour.items() if b != HONEST}
    honest = set(behaviour) - adversaries
    scores = compute_scores(flagged, adversaries, honest, paid)
    honest_mean = sum(paid[d] for d in honest) / len(honest) if honest else 0.0
    by_behaviour: dict[str, dict[str, Any]] = {}
    for kind in sorted(set(behaviour.values())):
        members = [d for d, b in behaviour.items() if b == kind]
        caught = [d for d in members if d in flagged]
        audits = [first_flag_audits[d] for d in caught if d in first_flag_audits]
        mean_pay = sum(paid[d] for d in members) / len(members)
        by_behaviour[kind] = {
            "devices": len(members),
            "flagged": len(caught),
            "disqualified": sum(
                1 for d in members if device_state.get(d, {}).get("status") == "disqualified"
            ),
            "audits_to_detection_median": statistics.median(audits) if audits else None,
            "pay_vs_honest": round(mean_pay / honest_mean, 4) if honest_mean else 0.0,
        }
    honest_dq = sum(1 for d in honest if device_state.get(d, {}).get("status") == "disqualified")
    return RunResult(
        scenario,
        config.name,
        len(behaviour),
        len(adversaries),
        epochs,
        seed,
        scores,
        by_behaviour,
        honest_dq,
        total_reports,
        dict(invalid),
    )
