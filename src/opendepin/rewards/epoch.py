"""An epoch is a pure function of its inputs and parameters (docs/epoch-bundle.md).

process_epoch runs, in order: the emission of the window → category pools → each sector's verdicts and
contributions → unused pools flowing on → pro-rata integer amounts per device → per-owner amounts →
cumulative totals → the OpenZeppelin-style Merkle root → the manifest. Paid + remainder = emission, always.

The reports may come as a list of records or as columns (`ReportColumns`, what the node gathers from its
store); with columns, a sector that offers a vectorised judge (`SectorPlugin.evaluate_columns`) is asked
for it, and the result is the same either way (docs/architecture.md, "Columnar epochs").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from opendepin import __version__
from opendepin.config import NetworkConfig
from opendepin.reports.columns import ReportColumns
from opendepin.reports.model import ReportRecord
from opendepin.rewards.digest import compute_inputs_digest, compute_params_digest
from opendepin.rewards.emissions import compute_epoch_emission
from opendepin.rewards.inputs import EpochInputs, as_dict
from opendepin.rewards.merkle import RewardsTree
from opendepin.rewards.pools import allocate_categories, compute_caps, compute_usage_figures, process_pools
from opendepin.sectors.base import (
    OK,
    Contribution,
    DeviceNote,
    EpochWindow,
    SectorInput,
    SectorPlugin,
    Verdict,
)
from opendepin.sectors.columns import VerdictColumns


class ConservationError(RuntimeError):
    """Paid + remainder differs from the emission: an engine bug; the epoch must not be published."""


@dataclass(frozen=True)
class EpochResult:
    """The outcome: manifest plus the per-report, per-device and per-owner detail behind it."""

    manifest: dict[str, Any]
    verdicts: Sequence[tuple[str, str, str, Mapping[str, Any]]]
    device_rewards: Sequence[tuple[str, str, int, int, Mapping[str, Any]]]
    owner_rewards: Sequence[tuple[str, int, int]]
    notes: Sequence[tuple[str, str, Mapping[str, Any]]]
    sector_state: dict[str, Any]
    tree: RewardsTree | None
    device_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    """sector → device → the state the sector stored for it this epoch (None: forgotten)."""


def window_for(config: NetworkConfig, number: int) -> EpochWindow:
    """Epoch `number` covers [genesis + n·L, genesis + (n+1)·L)."""
    start = config.epochs.genesis_ts + number * config.epochs.length_seconds
    return EpochWindow(number, start, start + config.epochs.length_seconds)


def epoch_of(config: NetworkConfig, ts: int) -> int:
    return (ts - config.epochs.genesis_ts) // config.epochs.length_seconds


def process_recipient_categories(
    config: NetworkConfig, pools: Mapping[str, int], remainder: dict[str, int]
) -> dict[str, int]:
    """Non-device categories (oracles, operations, stakers) go to their configured address, else unminted."""
    paid: dict[str, int] = defaultdict(int)
    for category, pool in sorted(pools.items()):
        if category in config.rewards.device_categories or pool == 0:
            continue
        address = config.rewards.recipients.get(category)
        if address is None:
            remainder[f"no_recipient.{category}"] = pool
        else:
            paid[address] += pool
    return dict(paid)


@dataclass
class SectorResults:
    """What all sectors decided for one epoch."""

    verdicts: Sequence[Verdict] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)
    notes: list[DeviceNote] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    device_state: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage_share: dict[str, Fraction] = field(default_factory=dict)
    usage_credits: dict[str, dict[str, int]] = field(default_factory=dict)
    """sector → device → credits it released this epoch, for sectors that keep usage in escrow"""
    unpaid_receipts: dict[str, str] = field(default_factory=dict)
    """receipt id → reason: receipts a sector refused to pay (they count in no pool)"""


def merge_verdicts(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """One verdict per report: a report of a kind shared by several sectors is `ok` only if every sector
    said so, else it carries the first refusal (sectors in name order) and every sector's evidence."""
    by_report: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        by_report.setdefault(verdict.report_id, []).append(verdict)
    merged = []
    for report_id, group in by_report.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        refusal = next((v for v in group if not v.ok), group[0])
        merged.append(Verdict(report_id, refusal.reason, {"by_sector": [dict(v.evidence) for v in group]}))
    return merged


def sector_reports(inputs: EpochInputs, kinds: set[str]) -> Sequence[ReportRecord]:
    """The reports of `kinds` from registered devices, in input order (as columns if they came so)."""
    if isinstance(inputs.reports, ReportColumns):
        return inputs.reports.select(kinds, inputs.devices.keys())
    return [r for r in inputs.reports if r.kind in kinds and r.device_id in inputs.devices]


def collect_verdicts(by_sector: Sequence[Sequence[Verdict]]) -> Sequence[Verdict]:
    """All sectors' verdicts, one per report (`merge_verdicts`). When a single sector judged reports and
    returned them as columns, they are kept as columns: report ids are unique in an epoch's inputs (each is
    the hash of a distinct signed envelope, the store's primary key), so there is nothing to merge."""
    judged = [verdicts for verdicts in by_sector if len(verdicts)]
    if len(judged) == 1 and isinstance(judged[0], VerdictColumns):
        return judged[0]
    return merge_verdicts([v for verdicts in judged for v in verdicts])


def run_sectors(sectors: Mapping[str, SectorPlugin], inputs: EpochInputs) -> SectorResults:
    """Evaluate every sector on the reports of its own kinds, its challenges and its carried state. With
    the reports as columns, a sector's vectorised judge (`evaluate_columns`) is asked first."""
    results = SectorResults()
    by_sector: list[Sequence[Verdict]] = []
    for name in sorted(sectors):
        plugin = sectors[name]
        kinds = set(plugin.report_kinds())
        data = SectorInput(
            window=inputs.window,
            devices=inputs.devices,
            reports=sector_reports(inputs, kinds),
            prior_state=inputs.prior_state.get(name, {}),
            context=inputs.context,
            challenges=list(inputs.challenges.get(name, ())),
            prior_device_state=inputs.prior_device_state.get(name, {}),
            usage=[u for u in inputs.usage if u.sector == name and u.device in inputs.devices],
        )
        outcome = plugin.evaluate_columns(data) if isinstance(data.reports, ReportColumns) else None
        if outcome is None:
            outcome = plugin.evaluate(data)
        by_sector.append(outcome.verdicts)
        results.contributions.extend(outcome.contributions)
        results.notes.extend(outcome.notes)
        results.state[name] = dict(outcome.state)
        if outcome.device_state:
            results.device_state[name] = {d: outcome.device_state[d] for d in sorted(outcome.device_state)}
        if outcome.usage_credits is not None:
            results.usage_credits[name] = {
                d: c for d, c in sorted(outcome.usage_credits.items()) if d in inputs.devices and c > 0
            }
        for device_id, share in outcome.usage_share.items():
            results.usage_share[device_id] = min(results.usage_share.get(device_id, Fraction(1)), share)
        for receipt_id, reason in outcome.unpaid_receipts.items():
            results.unpaid_receipts[receipt_id] = reason
    results.verdicts = collect_verdicts(by_sector)
    return results


def verdict_rows(
    inputs: EpochInputs, verdicts: Sequence[Verdict]
) -> Sequence[tuple[str, str, str, Mapping[str, Any]]]:
    """The published verdict rows: (report id, the report's device, reason, evidence)."""
    if isinstance(verdicts, VerdictColumns):
        return verdicts.rows
    device_of = {r.report_id: r.device_id for r in inputs.reports}
    return [(v.report_id, device_of[v.report_id], v.reason, dict(v.evidence)) for v in verdicts]


def check_conservation(emission: int, paid: int, remainder: Mapping[str, int]) -> None:
    """Paid + Σ remainder = emission, exactly; anything else raises ConservationError with the figures."""
    left = sum(remainder.values())
    if paid + left != emission or paid < 0 or any(v < 0 for v in remainder.values()):
        raise ConservationError(
            f"conservation broken: paid {paid} + remainder {left} = {paid + left} ≠ emission {emission} "
            f"(remainder by cause {dict(sorted(remainder.items()))})"
        )


def process_epoch(
    config: NetworkConfig, sectors: Mapping[str, SectorPlugin], inputs: EpochInputs
) -> EpochResult:
    """The whole epoch, deterministic: same inputs and parameters → byte-identical manifest."""
    window = inputs.window
    emission = compute_epoch_emission(config.emission, config.token, window, config.epochs.genesis_ts)
    outcome = run_sectors(sectors, inputs)
    verdicts, contributions, notes = outcome.verdicts, outcome.contributions, outcome.notes
    state = outcome.state
    units: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in contributions:
        units[c.category][c.device_id] += c.units
    usage_categories = {name: c for name, p in sorted(sectors.items()) if (c := p.usage_category())}
    usage = compute_usage_figures(
        config,
        usage_categories,
        [
            u
            for u in inputs.usage
            if u.device in inputs.devices and u.receipt_id not in outcome.unpaid_receipts
        ],
        emission,
        inputs.price_wad,
        released=outcome.usage_credits,
    )
    caps = compute_caps(config, usage)
    for by_device in caps.values():
        for device_id, share in outcome.usage_share.items():
            if device_id in by_device and share < 1:
                by_device[device_id] = int(by_device[device_id] * max(share, Fraction(0)))  # toward zero
    for category, by_device in usage.credits.items():
        for device_id, credits in by_device.items():
            units[category][device_id] += credits
            contributions.append(
                Contribution(
                    device_id,
                    category,
                    credits,
                    {
                        "rule": "pro rata to credits carried, at most cap × their token value",
                        "credits": credits,
                        "receipts": usage.receipts[category][device_id],
                        "cap_units": str(caps[category][device_id]),
                        **(
                            {"usage_share": str(outcome.usage_share[device_id])}
                            if device_id in outcome.usage_share and outcome.usage_share[device_id] < 1
                            else {}
                        ),
                    },
                )
            )
    pools, remainder = process_pools(config, emission, sorted(set(usage_categories.values())), usage.weight)
    allocation = allocate_categories(config, pools, units, caps, remainder)
    device_amounts = allocation.amounts
    pools = {**pools, **allocation.pools}
    recipient_amounts = process_recipient_categories(config, pools, remainder)

    this_epoch: dict[str, int] = defaultdict(int)
    for (device_id, _category), amount in device_amounts.items():
        this_epoch[inputs.devices[device_id].owner] += amount
    for address, amount in recipient_amounts.items():
        this_epoch[address] += amount
    cumulative = {owner: int(v) for owner, v in inputs.prior_cumulative.items()}
    for owner, amount in this_epoch.items():
        cumulative[owner] = cumulative.get(owner, 0) + amount
    leaves = sorted((owner, amount) for owner, amount in cumulative.items() if amount > 0)
    tree = RewardsTree.build(leaves) if leaves else None

    paid = sum(device_amounts.values()) + sum(recipient_amounts.values())
    totals: dict[str, int] = defaultdict(int)
    for (_device, category), amount in device_amounts.items():
        totals[category] += amount
    for category, pool in pools.items():
        if category not in config.rewards.device_categories and category in config.rewards.recipients:
            totals[category] += pool
    breakdown_by_key = {(c.device_id, c.category): c for c in contributions}
    device_rewards = [
        (
            device_id,
            category,
            units[category][device_id],
            device_amounts.get((device_id, category), 0),
            as_dict(breakdown_by_key[(device_id, category)].breakdown)
            if (device_id, category) in breakdown_by_key
            else {},
        )
        for category in sorted(units)
        for device_id in sorted(units[category])
    ]
    rejected_by_reason: dict[str, int] = defaultdict(int)
    if isinstance(verdicts, VerdictColumns):
        for reason, count in verdicts.counts_by_reason().items():
            if reason != OK:
                rejected_by_reason[reason] = count
    else:
        for v in verdicts:
            if not v.ok:
                rejected_by_reason[v.reason] += 1
    notes_by_reason: dict[str, int] = defaultdict(int)
    for note in notes:
        notes_by_reason[note.reason] += 1
    manifest: dict[str, Any] = {
        "number": window.number,
        "start": window.start,
        "end": window.end,
        "network": config.name,
        "engine_version": __version__,
        "inputs_digest": compute_inputs_digest(inputs),
        "params_digest": compute_params_digest(config, sectors),
        "emitted": emission,
        "paid": paid,
        "remainder": {k: v for k, v in sorted(remainder.items()) if v},
        "pools": dict(sorted(pools.items())),
        "flows": allocation.flows,
        "usage": usage.summary(),
        "totals": dict(sorted(totals.items())),
        "reports": len(inputs.reports),
        "invalid_by_reason": dict(sorted(rejected_by_reason.items())),
        "ingest_rejections": dict(sorted(inputs.rejections.items())),
        "device_notes_by_reason": dict(sorted(notes_by_reason.items())),
        "rewarded_devices": len({d for (d, _c), a in device_amounts.items() if a > 0}),
        "root": tree.root_hex if tree else None,
        "leaf_count": len(leaves),
        "leaves": [[owner, str(amount)] for owner, amount in leaves],
    }
    check_conservation(emission, paid, remainder)
    return EpochResult(
        manifest=manifest,
        verdicts=verdict_rows(inputs, verdicts),
        device_rewards=device_rewards,
        owner_rewards=[(owner, this_epoch.get(owner, 0), amount) for owner, amount in leaves],
        notes=[(n.device_id, n.reason, as_dict(n.evidence)) for n in notes],
        sector_state=state,
        tree=tree,
        device_state=outcome.device_state,
    )
