"""Recompute an epoch and compare it with what was published, row by row (docs/epoch-bundle.md, "Verify").

`compare_outputs` names every table, row and pair of values that differ between published outputs and a
recomputation; `verify_bundle` recomputes an epoch from a bundle alone: every signed report is re-checked
(id = SHA-256 of the envelope, the device key's signature, acceptance rules), every onboarding record is
re-checked (maker and owner signatures), then `process_epoch` runs and its outputs are compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cbor2

from opendepin import __version__
from opendepin.config import NetworkConfig
from opendepin.identity.attestation import recheck_onboarding
from opendepin.identity.keys import verify_signature
from opendepin.market.receipts import ReceiptError, UsageRecord, decode_receipt
from opendepin.reports.envelope import EnvelopeError, compute_report_id, decode_report
from opendepin.reports.model import ReportRecord
from opendepin.rewards.bundle import EpochBundle, EpochOutputs
from opendepin.rewards.digest import canonical_json
from opendepin.rewards.epoch import EpochResult, process_epoch
from opendepin.rewards.inputs import EpochInputs
from opendepin.sectors.base import (
    DEFAULT_POLICY,
    Challenge,
    ChallengeSeed,
    DeviceInfo,
    IngestPolicy,
    SectorPlugin,
)
from opendepin.sectors.challenges import challenge_kinds, rederive_problems

MAX_SHOWN = 10
MAX_REPORT_BYTES = 1 << 20


@dataclass(frozen=True)
class Difference:
    """One published value that the recomputation does not reproduce."""

    table: str
    row: str
    published: Any
    recomputed: Any

    def describe(self, width: int = 160) -> str:
        def short(value: Any) -> str:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            return text if len(text) <= width else text[: width - 1] + "…"

        published, recomputed = short(self.published), short(self.recomputed)
        return f"{self.table} {self.row}: published {published} / recomputed {recomputed}"


@dataclass
class AuditReport:
    """The outcome: problems with the inputs (signatures, onboarding) and differing outputs."""

    epoch: int
    input_problems: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    root: str | None = None
    reports: int = 0

    @property
    def matches(self) -> bool:
        return not self.input_problems and not self.differences


def _plain(value: Any) -> Any:
    """The JSON form of a value (tuples → lists, bytes → hex), as stored and published."""
    return json.loads(canonical_json(value))


def result_outputs(result: EpochResult) -> EpochOutputs:
    """A recomputation in the published form."""
    return EpochOutputs.of(result, result.device_state)


def _keyed(rows: Sequence[Sequence[Any]], width: int) -> dict[str, Any]:
    return {json.dumps(_plain(list(row[:width]))): _plain(list(row[width:])) for row in rows}


def _compare_keyed(
    table: str, published: Sequence[Sequence[Any]], recomputed: Sequence[Sequence[Any]], width: int
) -> Iterator[Difference]:
    left, right = _keyed(published, width), _keyed(recomputed, width)
    if len(left) != len(published):
        yield Difference(table, "(duplicate keys)", len(published), len(left))
    for key in sorted(set(left) | set(right)):
        if left.get(key) != right.get(key):
            yield Difference(table, key, left.get(key, "(missing)"), right.get(key, "(missing)"))


def _compare_multiset(
    table: str, published: Sequence[Sequence[Any]], recomputed: Sequence[Sequence[Any]]
) -> Iterator[Difference]:
    left = sorted(canonical_json(_plain(list(r))).decode() for r in published)
    right = sorted(canonical_json(_plain(list(r))).decode() for r in recomputed)
    extra, missing = _subtract(left, right), _subtract(right, left)
    for row in extra:
        yield Difference(table, row[:80], row, "(missing)")
    for row in missing:
        yield Difference(table, row[:80], "(missing)", row)


def _subtract(a: list[str], b: list[str]) -> list[str]:
    remaining = list(b)
    out = []
    for item in a:
        if item in remaining:
            remaining.remove(item)
        else:
            out.append(item)
    return out


def compare_outputs(published: EpochOutputs, recomputed: EpochOutputs) -> list[Difference]:
    """Every difference: manifest keys, verdicts by report, device rewards by (device, category), owner
    rewards by owner, notes as a multiset, sector state by sector."""
    diffs: list[Difference] = []
    left, right = _plain(dict(published.manifest)), _plain(dict(recomputed.manifest))
    for key in sorted(set(left) | set(right)):
        if left.get(key) != right.get(key):
            diffs.append(Difference("manifest", key, left.get(key, "(missing)"), right.get(key, "(missing)")))
    diffs.extend(_compare_keyed("verdicts", published.verdicts, recomputed.verdicts, 1))
    diffs.extend(_compare_keyed("device_rewards", published.device_rewards, recomputed.device_rewards, 2))
    diffs.extend(_compare_keyed("owner_rewards", published.owner_rewards, recomputed.owner_rewards, 1))
    diffs.extend(_compare_multiset("device_notes", published.notes, recomputed.notes))
    state_left, state_right = _plain(dict(published.sector_state)), _plain(dict(recomputed.sector_state))
    for key in sorted(set(state_left) | set(state_right)):
        if state_left.get(key) != state_right.get(key):
            diffs.append(Difference("sector_state", key, state_left.get(key), state_right.get(key)))
    left_devices, right_devices = _plain(dict(published.device_state)), _plain(dict(recomputed.device_state))
    for sector in sorted(set(left_devices) | set(right_devices)):
        left, right = left_devices.get(sector, {}), right_devices.get(sector, {})
        for device in sorted(set(left) | set(right)):
            before, after = left.get(device, "(absent)"), right.get(device, "(absent)")
            if before != after:
                diffs.append(Difference("device_state", f"{sector}/{device[:40]}", before, after))
    return diffs


def check_signed_reports(
    bundle: EpochBundle,
    config: NetworkConfig,
    kinds: Mapping[str, Any],
    devices: Mapping[str, DeviceInfo],
    policies: Mapping[str, IngestPolicy] | None = None,
) -> tuple[list[ReportRecord], list[str]]:
    """Decode and re-check every signed report: canonical envelope, id, signature of a snapshot device,
    device time in the window and within the ingest window around its receive time, known kind, valid
    payload. Returns the records and the problems found."""
    from opendepin.ingest.gate import check_payload, check_timestamp

    records: list[ReportRecord] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, wire in enumerate(bundle.reports):
        label = f"report #{index}"
        try:
            signed = decode_report(cbor2.dumps([wire.envelope, wire.signature]), MAX_REPORT_BYTES)
        except EnvelopeError as error:
            problems.append(f"{label}: {error.reason}: {error}")
            continue
        env = signed.envelope
        report_id = compute_report_id(wire.envelope)
        label = f"report {report_id[:16]}…"
        device = devices.get(env.device)
        if report_id in seen:
            problems.append(f"{label}: appears twice")
            continue
        seen.add(report_id)
        if device is None:
            problems.append(f"{label}: device {env.device[:40]} is not in the device snapshot")
            continue
        if not verify_signature(
            device.key_type, bytes.fromhex(env.device.partition(":")[2]), wire.envelope, wire.signature
        ):
            problems.append(f"{label}: the signature does not verify with {env.device[:40]}")
            continue
        policy = (policies or {}).get(env.kind, DEFAULT_POLICY)
        if policy.assign_by == "receive_time":
            if not bundle.window.contains(wire.received_at):
                problems.append(f"{label}: received at {wire.received_at}, outside the epoch window")
        elif not bundle.window.contains(env.ts):
            problems.append(f"{label}: ts {env.ts} is outside the epoch window")
        late = check_timestamp(env.ts, wire.received_at, config.ingest, policy)
        if late is not None:
            problems.append(f"{label}: {late}: ts {env.ts} vs received_at {wire.received_at}")
        if env.kind not in kinds:
            problems.append(f"{label}: kind {env.kind!r} is not a report kind of this network")
            continue
        invalid = check_payload(env.kind, env.payload, kinds)
        if invalid is not None:
            problems.append(f"{label}: {invalid}")
        records.append(
            ReportRecord(report_id, env.kind, env.device, env.ts, env.seq, env.payload, wire.received_at)
        )
    records.sort(key=lambda r: r.report_id)
    return records, problems


def challenge_of(row: Sequence[Any]) -> Challenge:
    """A challenge from its bundle row [kind, id, issued_at, seed entropy, seed period, device, payload]."""
    kind, challenge_id, issued_at, entropy, period_start, device, payload = row
    seed = ChallengeSeed(str(entropy), int(period_start))
    return Challenge(str(kind), str(challenge_id), int(issued_at), seed, device, payload)


def check_usage_receipts(
    bundle: EpochBundle, devices: Mapping[str, DeviceInfo]
) -> tuple[list[UsageRecord], list[str]]:
    """Decode and re-check every usage receipt: canonical, signed by its payer (and by its device when it
    carries a countersignature), for a snapshot device, received in the window, no receipt and no (payer,
    ref) twice."""
    records: list[UsageRecord] = []
    problems: list[str] = []
    refs: set[tuple[str, str]] = set()
    for index, wire in enumerate(bundle.usage):
        try:
            parts = [
                wire.envelope,
                wire.signature,
                *([wire.countersignature] if wire.countersignature else []),
            ]
            signed = decode_receipt(cbor2.dumps(parts))
        except ReceiptError as error:
            problems.append(f"usage receipt #{index}: {error.reason}: {error}")
            continue
        receipt = signed.receipt
        label = f"usage receipt {signed.receipt_id[:16]}…"
        if (receipt.payer, receipt.ref) in refs:
            problems.append(f"{label}: payer {receipt.payer} charged twice for ref {receipt.ref!r}")
            continue
        refs.add((receipt.payer, receipt.ref))
        if receipt.device not in devices:
            problems.append(f"{label}: device {receipt.device[:40]} is not in the device snapshot")
        if not bundle.window.contains(wire.received_at):
            problems.append(f"{label}: received at {wire.received_at}, outside the epoch window")
        records.append(UsageRecord.of(signed, wire.received_at))
    records.sort(key=lambda r: r.receipt_id)
    return records, problems


def check_onboarding(bundle: EpochBundle, config: NetworkConfig) -> tuple[list[str], list[str]]:
    """Re-check every device's onboarding record against the network's makers: (problems, notes)."""
    makers = {m.address.lower() for m in config.makers}
    problems: list[str] = []
    unchecked = 0
    for row in bundle.devices:
        device_id, owner, maker, location, record = row[0], row[2], row[3], row[4], row[7]
        if not record:
            unchecked += 1
            continue
        if str(maker).lower() not in makers:
            problems.append(f"device {device_id[:40]}: maker {maker} is not a maker of this network")
        problem = recheck_onboarding(config.name, device_id, owner, record)
        if problem is not None:
            problems.append(f"device {device_id[:40]}: {problem}")
        signed_cell = (record.get("location") or {}).get("cell")
        if signed_cell != location:
            problems.append(f"device {device_id[:40]}: location {location} is not the signed {signed_cell}")
        signed_attributes = {
            **record.get("maker_attributes", {}),
            **(record.get("location") or {}).get("attributes", {}),
        }
        if _plain(signed_attributes) != _plain(dict(row[6])):
            problems.append(f"device {device_id[:40]}: attributes differ from the signed ones")
    notes = []
    if unchecked:
        notes.append(f"{unchecked} devices were onboarded before records were kept; not re-checked")
    return problems, notes


def recompute_bundle(
    bundle: EpochBundle, sectors: Mapping[str, SectorPlugin], config: NetworkConfig
) -> tuple[EpochResult, list[str]]:
    """The epoch recomputed from the bundle's inputs; also the problems found in those inputs."""
    kinds: dict[str, Any] = {}
    policies: dict[str, IngestPolicy] = {}
    for plugin in sectors.values():
        kinds.update(plugin.report_kinds())
        policies.update({kind: plugin.ingest_policy(kind) for kind in plugin.report_kinds()})
    devices = bundle.device_infos()
    reports, problems = check_signed_reports(bundle, config, kinds, devices, policies)
    usage, usage_problems = check_usage_receipts(bundle, devices)
    problems.extend(usage_problems)
    challenges = {sector: [challenge_of(row) for row in rows] for sector, rows in bundle.challenges.items()}
    problems.extend(
        rederive_problems(challenge_kinds(sectors), [c for cs in challenges.values() for c in cs], devices)
    )
    inputs = EpochInputs(
        window=bundle.window,
        devices=devices,
        reports=reports,
        prior_cumulative=bundle.prior_cumulative,
        prior_state=bundle.prior_state,
        context=bundle.context,
        onboarding=bundle.onboarding(),
        rejections=bundle.rejections,
        usage=usage,
        price_wad=bundle.price_wad,
        challenges=challenges,
        prior_device_state=bundle.prior_device_state,
    )
    return process_epoch(config, sectors, inputs), problems


def verify_bundle(bundle: EpochBundle) -> AuditReport:
    """Recompute the epoch of `bundle` with nothing but the bundle; compare with its published outputs."""
    from opendepin.sectors.registry import load_sectors

    config = bundle.config()
    report = AuditReport(bundle.window.number, root=bundle.outputs.manifest.get("root"))
    report.reports = len(bundle.reports)
    if bundle.engine_version != bundle.outputs.manifest.get("engine_version"):
        report.input_problems.append(
            f"the bundle says engine {bundle.engine_version}, its manifest "
            f"{bundle.outputs.manifest.get('engine_version')}"
        )
    elif bundle.engine_version != __version__:
        report.notes.append(
            f"the epoch was closed by engine {bundle.engine_version}; this is {__version__}: "
            "a difference may come from the engine version"
        )
    onboarding_problems, onboarding_notes = check_onboarding(bundle, config)
    report.input_problems.extend(onboarding_problems)
    report.notes.extend(onboarding_notes)
    result, report_problems = recompute_bundle(bundle, load_sectors(config), config)
    report.input_problems.extend(report_problems)
    report.differences = compare_outputs(bundle.outputs, result_outputs(result))
    return report
