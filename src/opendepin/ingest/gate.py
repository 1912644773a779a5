"""The ingest gate: pure checks every report passes before it is stored (docs/architecture.md).

Order: decode → known device → signature → known kind → replay/duplicate (by the kind's `seq` policy) →
timestamp window (the kind's, else the network's) → epoch still open (for kinds counted by device time) →
payload schema (strict); then the device's report budget (ingest/device_rate.py, kept by the process that
gates). Each failure is a stable reason code with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from opendepin.config import IngestConfig
from opendepin.identity.keys import verify_signature
from opendepin.reports.envelope import EnvelopeError, SignedReport, decode_report
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DEFAULT_POLICY, DeviceInfo, IngestPolicy

ACCEPTED = "accepted"


@dataclass(frozen=True, slots=True)
class GateState:
    """What the gate reads: registered devices, last accepted seq per device, ids already stored."""

    devices: Mapping[str, DeviceInfo]
    last_seq: Mapping[str, int]
    stored_ids: Container[str]
    closed_until: int
    """Reports timed before this instant belong to closed epochs and can no longer change them."""
    policies: Mapping[str, IngestPolicy] = field(default_factory=dict)
    """Report kind → its sector's ingest policy (absent: the network's defaults)."""
    seen_seqs: Container[tuple[str, int]] = frozenset()
    """(device, seq) pairs already accepted for kinds whose `seq` policy is `unique`."""


@dataclass(frozen=True, slots=True)
class GateResult:
    """The gate's decision: `record` is set iff accepted; `reason` is `accepted` or a reason code."""

    reason: str
    message: str
    report_id: str | None = None
    device_id: str | None = None
    record: ReportRecord | None = None
    signed: SignedReport | None = None
    authenticated: bool = False
    """True once the signature verified with the registered key of `device_id` (only then may anything be
    attributed to that device)."""

    @property
    def accepted(self) -> bool:
        return self.reason == ACCEPTED


def _reject(
    reason: str, message: str, signed: SignedReport | None = None, authenticated: bool = False
) -> GateResult:
    if signed is None:
        return GateResult(reason, message)
    return GateResult(
        reason, message, signed.report_id, signed.envelope.device, signed=signed, authenticated=authenticated
    )


def rejection_source(result: GateResult, transport_source: str) -> str:
    """Whom a rejection is counted against. Rule: the device, if the report's signature verified with its
    registered key (`device:<id>`, a bounded set: onboarded devices only); otherwise the transport source
    the bytes came from (e.g. `http:<client address>`), because an unauthenticated report may name any
    device — the claimed device is kept with the sample, never used as the counter's key."""
    if result.authenticated and result.device_id is not None:
        return f"device:{result.device_id}"
    return transport_source


def rejection_bucket(received_at: int, genesis_ts: int, epoch_seconds: int, bucket_seconds: int) -> int:
    """Start of the counter bucket holding `received_at`. Rule: buckets of `bucket_seconds` laid from the
    start of each epoch (the last one of an epoch may be shorter), so every epoch boundary is a bucket
    boundary and counts over an epoch window are exact."""
    offset = (received_at - genesis_ts) % epoch_seconds
    epoch_start = received_at - offset
    return epoch_start + (offset // bucket_seconds) * bucket_seconds


def check_timestamp(
    ts: int, now: int, params: IngestConfig, policy: IngestPolicy = DEFAULT_POLICY
) -> str | None:
    """None if `ts` lies in [now − max_past, now + max_future] (the kind's bounds, else the network's),
    else the reason code."""
    past = params.max_past_seconds if policy.max_past_seconds is None else policy.max_past_seconds
    future = params.max_future_seconds if policy.max_future_seconds is None else policy.max_future_seconds
    if ts < now - past:
        return "report.stale"
    if ts > now + future:
        return "report.future"
    return None


def check_payload(
    kind: str, payload: Mapping[str, object], kinds: Mapping[str, type[BaseModel]]
) -> str | None:
    """None if the payload matches the kind's schema, else a message naming the wrong fields.

    Rule: validated in pydantic's strict mode whatever the sector's model says, so nothing is coerced:
    text, booleans or bytes are never numbers, an integer field takes only integers, a float field takes
    integers and floats (not booleans)."""
    model = kinds[kind]
    try:
        model.model_validate(payload, strict=True)
    except ValidationError as error:
        fields = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(payload)'}: {e['msg']}" for e in error.errors()[:5]
        )
        return f"payload does not match {kind}: {fields}"
    return None


def check_replay(
    device: str, seq: int, report_id: str, policy: IngestPolicy, state: GateState
) -> tuple[str, str] | None:
    """None, or (reason, message) for a report already stored (`report.duplicate`) or a reused `seq`
    (`report.replay`): above the device's last accepted `seq` for `increasing` kinds, never seen before
    for `unique` kinds (store-and-forward devices upload in any order)."""
    if policy.seq == "unique":
        if (device, seq) not in state.seen_seqs:
            return None
    elif seq > (last := state.last_seq.get(device, -1)):
        return None
    if report_id in state.stored_ids:  # looked up only for a reused seq: the log is not read per report
        return "report.duplicate", "this exact report is already stored"
    if policy.seq == "unique":
        return "report.replay", f"seq {seq} was already used by this device"
    return "report.replay", f"seq {seq} is not above the last accepted seq {last}"


def unique_seq_pairs(
    reports: Iterable[SignedReport | EnvelopeError], policies: Mapping[str, IngestPolicy]
) -> list[tuple[str, int]]:
    """The (device, seq) pairs of a batch's reports of `unique`-seq kinds: what `check_replay` will look up
    in `seen_seqs`, read from the store in one query before gating rather than one per report."""
    return [
        (r.envelope.device, r.envelope.seq)
        for r in reports
        if not isinstance(r, EnvelopeError) and policies.get(r.envelope.kind, DEFAULT_POLICY).seq == "unique"
    ]


def possibly_stored(
    reports: Iterable[SignedReport | EnvelopeError],
    policies: Mapping[str, IngestPolicy],
    last_seq: Mapping[str, int],
    used_seqs: Container[tuple[str, int]],
) -> list[str]:
    """The ids of a batch's reports that `check_replay` may look up in `stored_ids` and that could be
    stored: a reused seq (at or below the device's committed last seq, or a used `unique` pair). A report
    with a fresh seq cannot be stored (every stored report's seq is at or below its device's last, or its
    pair is used), so honest batches need no lookup at all; the batch's own ids are the caller's."""
    ids = []
    for r in reports:
        if isinstance(r, EnvelopeError):
            continue
        env = r.envelope
        if policies.get(env.kind, DEFAULT_POLICY).seq == "unique":
            reused = (env.device, env.seq) in used_seqs
        else:
            reused = env.seq <= last_seq.get(env.device, -1)
        if reused:
            ids.append(r.report_id)
    return ids


def gate_report(
    wire: bytes,
    state: GateState,
    now: int,
    params: IngestConfig,
    kinds: Mapping[str, type[BaseModel]],
) -> GateResult:
    """Decide on one signed report; pure (the caller updates `state` with accepted reports)."""
    try:
        signed = decode_report(wire, params.max_report_bytes)
    except EnvelopeError as error:
        return refused_undecodable(error)
    return gate_signed(signed, state, now, params, kinds)


def refused_undecodable(error: EnvelopeError) -> GateResult:
    """The result of bytes that do not decode (the device the envelope names, if readable, goes with the
    sample)."""
    return GateResult(error.reason, str(error), device_id=error.device)


def refused_unknown_device(signed: SignedReport) -> GateResult:
    """The result of a report naming a device that is not onboarded (its signature cannot be checked)."""
    device = signed.envelope.device
    return _reject("device.unknown", f"device {device[:80]} is not onboarded; POST /v1/devices first", signed)


def gate_signed(
    signed: SignedReport,
    state: GateState,
    now: int,
    params: IngestConfig,
    kinds: Mapping[str, type[BaseModel]],
    signature_ok: bool | None = None,
) -> GateResult:
    """`gate_report` after decoding (for callers that decoded the bytes already, e.g. to lock devices).
    `signature_ok`, if given, is `verify_signature` of this report with its device's registered key,
    computed ahead (ingest/signatures.py); None checks it here."""
    env = signed.envelope
    device = state.devices.get(env.device)
    if device is None:
        return refused_unknown_device(signed)
    if signature_ok is None:
        signature_ok = verify_signature(
            device.key_type,
            bytes.fromhex(env.device.partition(":")[2]),
            signed.envelope_bytes,
            signed.signature,
        )
    if not signature_ok:
        return _reject(
            "signature.invalid", "signature does not verify with the device's registered key", signed
        )
    report_id = signed.report_id
    if env.kind not in kinds:
        return _reject(
            "report.unknown_kind", f"kind {env.kind[:80]!r} is not one of {sorted(kinds)}", signed, True
        )
    policy = state.policies.get(env.kind, DEFAULT_POLICY)
    replay = check_replay(env.device, env.seq, report_id, policy, state)
    if replay is not None:
        return _reject(*replay, signed, True)
    late = check_timestamp(env.ts, now, params, policy)
    if late is not None:
        return _reject(late, f"ts {env.ts} is outside the window around receive time {now}", signed, True)
    if policy.assign_by == "device_time" and env.ts < state.closed_until:
        return _reject("report.epoch_closed", f"ts {env.ts} belongs to an epoch already closed", signed, True)
    problem = check_payload(env.kind, env.payload, kinds)
    if problem is not None:
        return _reject("report.schema_invalid", problem, signed, True)
    record = ReportRecord(report_id, env.kind, env.device, env.ts, env.seq, env.payload, now)
    return GateResult(ACCEPTED, "accepted", report_id, env.device, record, signed, authenticated=True)
