"""One epoch of the storage sector: placements, audits judged period by period, reputation, pay.

Rules (docs/storage.md):
- puts and deletes change the piece registry in device-time order (registry.py); an audit period sees the
  pieces registered before it starts;
- each period, every provider that is not disqualified owes the answers `audit.due_for` names (plus its
  pieces under containment). A provider from which nothing arrived within `timeout_s` of the period's start
  is offline (`storage.offline`: the online score only). Otherwise each owed piece is judged:
  no answer in time → contained (`storage.contained`; the same piece is owed in the next periods; the
  `max_reverify`-th timeout is `storage.containment_exhausted`, a failure); `missing` → `storage.missing`;
  a leaf that does not hash to the provider-signed root → `storage.corrupt`; a stripe the error-locating
  decode names → `storage.corrupt`; fewer than k stripes → `storage.not_enough_shares` (nobody penalised);
  a valid answer later than `latency_bound_s` → `storage.slow_response` (an unknown error); else a success.
- a failed piece is lost: it leaves the registry (and its segment may need repair);
- a piece whose paid storage ran out leaves the registry at its expiry (`PieceRegistry.expire`, in time
  order with the puts, renewals and deletes): no longer owed in audits issued at or after it, no more
  byte-hours; a `storage.expired` note counts each provider's expired pieces and bytes; a
  `storage.renew` before the expiry moves it later (registry.py);
- with `pieces_paid_by_receipts` (the default) a put or renewal counts only as far as the byte-hours
  receipt it names pays: accepted this epoch or the previous one, paid by the segment's client to this
  provider at the network's price, at least one hour of the piece, used by no other piece; the piece's
  expiry is cut to the end of what it pays (a put without one gets that end), else `storage.unpaid_piece`
  (paid.py). Receipts of this epoch that backed no piece are carried to the next epoch only (`receipts`);
- pay: emission units = byte-hours of the pieces a provider held in the periods it was online, for eligible
  providers only: not disqualified, suspended or under review, online score ≥ `online_pay_threshold`
  (once `online_pay_windows` windows are complete), and no proven failure in the last `clean_epochs` epochs.
  Usage pay (the clients' receipts) follows the same eligibility, times the share of the epoch's audit
  periods the provider answered (`SectorOutcome.usage_share`): stored bytes nobody could reach earn
  nothing.
- with `receipts_countersigned` (the default), a receipt pays only if it carries the provider's valid
  countersignature (`market.receipts.verify_countersignature`): one signed by the client alone is
  `storage.receipt_not_countersigned`, one whose device signature does not verify is
  `storage.receipt_bad_countersignature`; both pay nothing (`SectorOutcome.unpaid_receipts`: the client's
  credits stay burned, no pool counts them) and a `storage.receipts_unpaid` note gives their numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from opendepin.market.receipts import UsageRecord, verify_countersignature
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import (
    OK,
    Challenge,
    Contribution,
    DeviceInfo,
    DeviceNote,
    SectorInput,
    SectorOutcome,
    Verdict,
)
from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.audit import AUDIT, Due, Piece, due_for, striped_segments
from opendepin.sectors.storage.gf256 import locate_wrong_shares
from opendepin.sectors.storage.held import age_in_epochs, apply_returns, held_percent, returns_due, split_held
from opendepin.sectors.storage.paid import ReceiptBook
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.registry import PieceRegistry
from opendepin.sectors.storage.reports import DELETE, PING, PROOF, PUT, RENEW, piece_key
from opendepin.sectors.storage.reputation import DISQUALIFIED, Reputation, update_states

SECTOR_ATTRIBUTE = "sector"
FAILURES = ("storage.missing", "storage.corrupt", "storage.containment_exhausted")


def is_provider(device: DeviceInfo) -> bool:
    """A device of this sector (on a network of several sectors the maker states `sector`)."""
    return device.attributes.get(SECTOR_ATTRIBUTE, "storage") == "storage"


@dataclass
class Judgement:
    """Outcomes of one period for one provider: piece key → (reason, evidence, report id or None)."""

    outcomes: dict[str, tuple[str, dict[str, Any], str | None]] = field(default_factory=dict)


@dataclass
class EpochWork:
    """What the evaluation accumulates."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    notes: list[DeviceNote] = field(default_factory=list)
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """device → byte-hours held while online"""
    offline: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    online: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """device → audit periods of the epoch it answered"""
    outcomes: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    expired: dict[str, list[int]] = field(default_factory=dict)
    """device → [pieces, bytes] that expired this epoch"""
    book: ReceiptBook | None = None
    """The byte-hours receipts that may still back a piece (None: pieces need no receipt)"""

    def note_expired(self, pieces: Sequence[Piece]) -> None:
        for piece in pieces:
            figures = self.expired.setdefault(piece.device, [0, 0])
            figures[0] += 1
            figures[1] += piece.size


def _answers(
    reports: Sequence[ReportRecord],
) -> tuple[dict[tuple[str, str, str], ReportRecord], dict[tuple[str, str], int]]:
    """Proofs by (device, challenge, piece key), first received wins; earliest arrival per (device,
    challenge) of any proof or ping."""
    proofs: dict[tuple[str, str, str], ReportRecord] = {}
    first: dict[tuple[str, str], int] = {}
    for r in sorted(reports, key=lambda r: (r.received_at, r.ts, r.report_id)):
        challenge = str(r.payload["challenge"])
        key = (r.device_id, challenge)
        first[key] = min(first.get(key, r.received_at), r.received_at)
        if r.kind == PROOF:
            proofs.setdefault(
                (r.device_id, challenge, piece_key(str(r.payload["segment"]), int(r.payload["piece"]))), r
            )
    return proofs, first


def judge_piece(
    due: Due, answer: ReportRecord | None, audit: Challenge, params: StorageParams
) -> tuple[str, dict[str, Any]]:
    """The outcome of one owed piece from its answer (stripe decoding comes after)."""
    piece = due.piece
    evidence: dict[str, Any] = {
        "segment": piece.segment,
        "piece": piece.index,
        "challenge": audit.challenge_id,
    }
    if answer is None or answer.received_at - audit.issued_at > params.timeout_s:
        late = None if answer is None else answer.received_at - audit.issued_at
        return "storage.contained", {**evidence, "answered_after_s": late, "timeout_s": params.timeout_s}
    latency = answer.received_at - audit.issued_at
    evidence["latency_s"] = latency
    payload = answer.payload
    if payload.get("missing"):
        return "storage.missing", {**evidence, "declared_missing": True}
    leaves = merkle.count_leaves(piece.size, params.leaf_size)
    data = bytes(payload.get("data", b""))
    expected_len = min(params.leaf_size, piece.size - due.leaf * params.leaf_size)
    if int(payload.get("leaf", -1)) != due.leaf or len(data) != expected_len:
        return "storage.corrupt", {
            **evidence,
            "leaf": payload.get("leaf"),
            "owed_leaf": due.leaf,
            "bytes": len(data),
        }
    path = [bytes(p) for p in payload.get("path", [])]
    if not merkle.verify(bytes.fromhex(piece.root), data, due.leaf, leaves, path):
        return "storage.corrupt", {
            **evidence,
            "leaf": due.leaf,
            "root": piece.root,
            "proof": "does not hash to the root",
        }
    if due.stripe is not None:
        offset, length = due.stripe
        if len(bytes(payload.get("stripe", b""))) != length:
            return "storage.corrupt", {
                **evidence,
                "stripe_offset": offset,
                "stripe_bytes": len(payload.get("stripe", b"")),
            }
    if latency > params.latency_bound_s:
        return "storage.slow_response", {**evidence, "latency_bound_s": params.latency_bound_s}
    return OK, evidence


def judge_stripes(
    audit: Challenge,
    owed: Mapping[str, Mapping[str, Due]],
    judged: dict[str, Judgement],
    proofs: Mapping[tuple[str, str, str], ReportRecord],
    params: StorageParams,
) -> None:
    """Decode each stripe-audited segment's stripe from every holder that answered in time; name the holders
    whose bytes are wrong (`storage.corrupt`), or nobody when fewer than k stripes arrived."""
    segments: dict[str, list[tuple[str, Due]]] = defaultdict(list)
    for device, dues in owed.items():
        for due in dues.values():
            if due.stripe is not None:
                segments[due.piece.segment].append((device, due))
    for segment, holders in sorted(segments.items()):
        shares: dict[int, bytes] = {}
        who: dict[int, str] = {}
        for device, due in holders:
            reason = judged[device].outcomes[due.piece.key][0]
            if reason in (OK, "storage.slow_response"):
                shares[due.piece.index] = bytes(
                    proofs[(device, audit.challenge_id, due.piece.key)].payload["stripe"]
                )
                who[due.piece.index] = device
        k, n = holders[0][1].piece.k, holders[0][1].piece.n
        offset = holders[0][1].stripe[0] if holders[0][1].stripe else 0
        evidence = {"segment": segment, "stripe_offset": offset, "shares": len(shares), "k": k}
        wrong = locate_wrong_shares(k, n, shares) if len(shares) >= k else None
        if wrong is None:
            for index, device in who.items():
                judgement = judged[device].outcomes[f"{segment}:{index}"]
                judgement[1]["stripe"] = "storage.not_enough_shares"
                judgement[1]["stripe_evidence"] = evidence
            continue
        for index in wrong:
            device = who[index]
            key = f"{segment}:{index}"
            _, prior, report_id = judged[device].outcomes[key]
            holders_named = {str(i): who[i] for i in wrong}
            judged[device].outcomes[key] = (
                "storage.corrupt",
                {
                    **prior,
                    **evidence,
                    "wrong_shares": wrong,
                    "named": holders_named,
                    "decoder": "berlekamp-welch",
                },
                report_id,
            )


def evaluate_storage(data: SectorInput, params: StorageParams) -> SectorOutcome:
    """The whole epoch (module docstring)."""
    registry = PieceRegistry.of(data.prior_state)
    work = EpochWork()
    if params.pieces_paid_by_receipts:
        work.book = ReceiptBook.of(data.usage, unpaid_receipts(data.usage, params), data.prior_state)
    price = params.credits_per_gb_hour
    providers = {d: info for d, info in data.devices.items() if is_provider(info)}
    reps: dict[str, Reputation] = {
        d: Reputation.of(dict(data.prior_device_state.get(d) or {}), params) for d in providers
    }
    # device-time order; a renewal after the puts and deletes of the same second (it renews what was put)
    puts = sorted(
        (r for r in data.reports if r.kind in (PUT, DELETE, RENEW)),
        key=lambda r: (r.ts, r.kind == RENEW, r.report_id),
    )
    answers = [r for r in data.reports if r.kind in (PROOF, PING)]
    proofs, first = _answers(answers)
    audits = sorted(
        (c for c in data.challenges if c.kind == AUDIT and data.window.contains(c.issued_at)),
        key=lambda c: c.issued_at,
    )
    rate = params.fraction("stripe_audit_rate")
    put_count: dict[str, int] = defaultdict(int)
    cursor = 0

    def apply_puts(before: int) -> None:
        nonlocal cursor
        while cursor < len(puts) and puts[cursor].ts < before:
            report = puts[cursor]
            cursor += 1
            device = report.device_id
            work.note_expired(registry.expire(report.ts))
            if report.kind == DELETE:
                reason, evidence = registry.check_delete(device, report.payload)
            elif report.kind == RENEW:
                reason, evidence = registry.check_renew(device, report.payload, work.book, price)
            else:
                rep = reps.get(device)
                put_count[device] += 1
                if rep is None or rep.status == DISQUALIFIED or rep.suspended:
                    reason, evidence = (
                        "storage.not_accepting",
                        {"status": None if rep is None else rep.status},
                    )
                elif put_count[device] > params.max_pieces_per_epoch:
                    reason, evidence = "storage.too_many_puts", {"max": params.max_pieces_per_epoch}
                else:
                    reason, evidence = registry.check_put(
                        device, report.payload, report.ts, data.devices, work.book, price
                    )
            work.verdicts[report.report_id] = Verdict(report.report_id, reason, evidence)
        work.note_expired(registry.expire(before))

    for audit in audits:
        apply_puts(audit.issued_at)
        judge_period(audit, registry, providers, reps, proofs, first, params, rate, work, data.window.number)
    apply_puts(data.window.end)
    for device, (count, size) in sorted(work.expired.items()):
        work.notes.append(DeviceNote(device, "storage.expired", {"pieces": count, "bytes": size}))
    for report in answers:
        if report.report_id not in work.verdicts:
            work.verdicts[report.report_id] = Verdict(
                report.report_id, OK if report.kind == PING else "storage.not_due", {}
            )
    return finish(data, params, registry, reps, work)


def judge_period(
    audit: Challenge,
    registry: PieceRegistry,
    providers: Mapping[str, DeviceInfo],
    reps: dict[str, Reputation],
    proofs: Mapping[tuple[str, str, str], ReportRecord],
    first: Mapping[tuple[str, str], int],
    params: StorageParams,
    rate: Fraction,
    work: EpochWork,
    epoch: int,
) -> None:
    """Judge every provider's answers to one audit period, then apply the outcomes in device order."""
    owed: dict[str, dict[str, Due]] = {}
    judged: dict[str, Judgement] = {}
    period_end = audit.issued_at + params.audit_period_s
    striped = striped_segments(
        audit.challenge_id, [s for s, held in registry.by_segment.items() if held], rate
    )
    for device in sorted(providers):
        rep = reps[device]
        if rep.status == DISQUALIFIED or providers[device].onboarded_at > audit.issued_at:
            continue
        pieces = registry.of_device(device, before=audit.issued_at)
        contained = [registry.pieces[k] for k in sorted(rep.contained) if k in registry.pieces]
        arrived = first.get((device, audit.challenge_id))
        online = arrived is not None and arrived - audit.issued_at <= params.timeout_s
        rep.record_online(audit.issued_at, online, params)
        if not online:
            work.offline[device] += 1
            continue
        work.online[device] += 1
        work.held[device] += sum(p.size for p in pieces) * params.audit_period_s // 3_600
        dues = due_for(
            audit.challenge_id,
            device,
            pieces,
            params.audit_slots,
            rate,
            params.leaf_size,
            params.stripe_size,
            contained,
            striped,
        )
        owed[device] = dues
        judgement = Judgement()
        for key, due in dues.items():
            answer = proofs.get((device, audit.challenge_id, key))
            reason, evidence = judge_piece(due, answer, audit, params)
            judgement.outcomes[key] = (reason, evidence, None if answer is None else answer.report_id)
        judged[device] = judgement
    judge_stripes(audit, owed, judged, proofs, params)
    for device in sorted(judged):
        apply_outcomes(device, judged[device], registry, reps[device], params, work, epoch)
    for device in sorted(owed.keys() | {d for d in providers if reps[d].status != DISQUALIFIED}):
        rep = reps[device]
        for reason, evidence in update_states(rep, params, period_end, providers[device].onboarded_at, epoch):
            work.notes.append(DeviceNote(device, reason, {**evidence, "period": audit.issued_at}))
        if rep.status == DISQUALIFIED:
            lost = registry.of_device(device)
            for piece in lost:
                registry.remove(piece.key)
            rep.contained = {}
            work.notes.append(
                DeviceNote(device, "storage.pieces_dropped", {"pieces": len(lost), "cause": "disqualified"})
            )
            if rep.held_credits or rep.held_byte_hours:
                work.notes.append(
                    DeviceNote(
                        device,
                        "storage.held_forfeited",
                        {
                            "credits": rep.held_credits,
                            "byte_hours": rep.held_byte_hours,
                            "cause": "disqualified",
                            "goes_to": "nobody: never counted (held credits stay burned; held "
                            "byte-hours were not counted in the epochs they were earned, whose storage "
                            "emission went to the units that were)",
                        },
                    )
                )
                rep.held_credits = rep.held_byte_hours = 0


def apply_outcomes(
    device: str,
    judgement: Judgement,
    registry: PieceRegistry,
    rep: Reputation,
    params: StorageParams,
    work: EpochWork,
    epoch: int,
) -> None:
    """Reputation events, containment and lost pieces from one period's outcomes of one provider."""
    for key, (reason, evidence, report_id) in sorted(judgement.outcomes.items()):
        if reason == "storage.contained":
            tries = rep.contained.get(key, 0) + 1
            if tries >= params.max_reverify:
                reason = "storage.containment_exhausted"
                evidence = {**evidence, "timeouts": tries}
                rep.contained.pop(key, None)
            else:
                rep.contained[key] = tries
                work.notes.append(
                    DeviceNote(device, reason, {**evidence, "timeouts": tries, "max": params.max_reverify})
                )
                work.outcomes[device][reason] += 1
                continue
        else:
            rep.contained.pop(key, None)
        work.outcomes[device][reason] += 1
        if reason in FAILURES:
            rep.record_failure(params, epoch)
            registry.remove(key)
        elif reason == "storage.slow_response":
            rep.record_unknown(params)
        else:
            rep.record_success(params)
        if report_id is not None:
            work.verdicts[report_id] = Verdict(report_id, reason, evidence)
        else:
            work.notes.append(DeviceNote(device, reason, evidence))


def eligibility(rep: Reputation, params: StorageParams, now: int, epoch: int) -> tuple[bool, dict[str, Any]]:
    """Is the provider paid this epoch, and why (not)."""
    online = rep.online_score(now, params)
    reasons = []
    if rep.status == DISQUALIFIED:
        reasons.append("disqualified")
    if rep.suspended:
        reasons.append("suspended")
    if rep.under_review:
        reasons.append("under_review")
    windows = len(rep.completed_windows(now, params))
    if (
        online is not None
        and windows >= params.reputation.online_pay_windows
        and online < params.fraction("reputation.online_pay_threshold")
    ):
        reasons.append("online_score")
    if rep.last_failure_epoch >= 0 and epoch - rep.last_failure_epoch < params.clean_epochs:
        reasons.append("recent_failure")
    evidence = {
        "status": rep.status,
        "online_score": None if online is None else f"{float(online):.4f}",
        "online_windows": windows,
        "audit_score": f"{float(rep.audit_score()):.6f}",
        "unknown_score": f"{float(rep.unknown_score()):.6f}",
        "last_failure_epoch": rep.last_failure_epoch,
        "clean_epochs": params.clean_epochs,
    }
    return not reasons, {**evidence, "unpaid_because": reasons}


def hold_and_return(
    rep: Reputation, byte_hours: int, credits: int, age: int, params: StorageParams
) -> tuple[int, int, dict[str, Any]]:
    """For a paid provider: hold `held_percent(age)` of this epoch's byte-hours and credits, return the
    return steps now due; (byte-hours counted, credits counted, figures for the breakdown). held.py."""
    percent = held_percent(age, params.held_schedule)
    bh_now, bh_held = split_held(byte_hours, percent)
    cr_now, cr_held = split_held(credits, percent)
    due = returns_due(age, rep.held_returns_done, params.held_returns)
    bh_back, rep.held_byte_hours = apply_returns(rep.held_byte_hours + bh_held, due)
    cr_back, rep.held_credits = apply_returns(rep.held_credits + cr_held, due)
    rep.held_returns_done += len(due)
    figures = {
        "rule": "a share of a young provider's pay is held by age, returned later, forfeited on "
        "disqualification",
        "age_epochs": age,
        "held_percent": percent,
        "byte_hours_earned": byte_hours,
        "byte_hours_held": bh_held,
        "byte_hours_returned": bh_back,
        "credits_earned": credits,
        "credits_held": cr_held,
        "credits_returned": cr_back,
        "returns_applied": due,
        "held_total": {"byte_hours": rep.held_byte_hours, "credits": rep.held_credits},
    }
    return bh_now + bh_back, cr_now + cr_back, figures


NOT_COUNTERSIGNED = "storage.receipt_not_countersigned"
BAD_COUNTERSIGNATURE = "storage.receipt_bad_countersignature"
RECEIPTS_UNPAID = "storage.receipts_unpaid"
UNPAID_LISTED = 20
"""At most this many unpaid receipts are listed one by one in a note (all are counted)."""


def unpaid_receipts(usage: Sequence[UsageRecord], params: StorageParams) -> dict[str, str]:
    """Receipt id → reason for the receipts this epoch does not pay: without the provider's valid
    countersignature, when the network requires it (docs/storage.md, "Paying")."""
    if not params.receipts_countersigned:
        return {}
    unpaid = {}
    for record in usage:
        if not record.device_signature:
            unpaid[record.receipt_id] = NOT_COUNTERSIGNED
        elif not verify_countersignature(record.receipt_id, record.device, record.device_signature):
            unpaid[record.receipt_id] = BAD_COUNTERSIGNATURE
    return unpaid


def unpaid_notes(usage: Sequence[UsageRecord], unpaid: Mapping[str, str]) -> list[DeviceNote]:
    """One `storage.receipts_unpaid` note per provider: counts and credits by reason, the first receipts."""
    by_device: dict[str, list[UsageRecord]] = defaultdict(list)
    for record in usage:
        if record.receipt_id in unpaid:
            by_device[record.device].append(record)
    notes = []
    for device, records in sorted(by_device.items()):
        records.sort(key=lambda r: r.receipt_id)
        reasons: dict[str, dict[str, int]] = {}
        for r in records:
            figures = reasons.setdefault(unpaid[r.receipt_id], {"receipts": 0, "credits": 0})
            figures["receipts"] += 1
            figures["credits"] += r.credits
        evidence = {
            "rule": "usage pays only receipts the provider countersigned (it stored or served the bytes)",
            "receipts": len(records),
            "credits": sum(r.credits for r in records),
            "by_reason": dict(sorted(reasons.items())),
            "listed": [
                {
                    "receipt_id": r.receipt_id,
                    "reason": unpaid[r.receipt_id],
                    "payer": r.payer,
                    "credits": r.credits,
                    "quantity": r.quantity,
                    "unit": r.unit,
                    "ref": r.ref,
                }
                for r in records[:UNPAID_LISTED]
            ],
        }
        notes.append(DeviceNote(device, RECEIPTS_UNPAID, evidence))
    return notes


def finish(
    data: SectorInput,
    params: StorageParams,
    registry: PieceRegistry,
    reps: Mapping[str, Reputation],
    work: EpochWork,
) -> SectorOutcome:
    """Contributions, usage shares, repair list, carried state."""
    contributions: list[Contribution] = []
    usage_share: dict[str, Fraction] = {}
    epoch = data.window.number
    holding = bool(params.held_schedule or params.held_returns)
    receipts: dict[str, int] = defaultdict(int)
    unpaid = unpaid_receipts(data.usage, params)
    for record in data.usage:
        if record.receipt_id not in unpaid:
            receipts[record.device] += record.credits
    work.notes.extend(unpaid_notes(data.usage, unpaid))
    usage_credits: dict[str, int] = {d: c for d, c in receipts.items() if d not in reps}
    for device in sorted(reps):
        rep = reps[device]
        paid, evidence = eligibility(rep, params, data.window.end, epoch)
        periods = work.online.get(device, 0) + work.offline.get(device, 0)
        usage_share[device] = (
            Fraction(work.online.get(device, 0), periods) if paid and periods else Fraction(int(paid))
        )
        held = work.held.get(device, 0)
        units, held_figures = held, None
        if holding:
            usage_credits[device] = receipts.get(device, 0)
            if paid:
                # the share is folded into the credits (toward zero) so that what is held is of what is earned
                earned = receipts.get(device, 0) * usage_share[device]
                age = age_in_epochs(
                    data.devices[device].onboarded_at, data.window.start, data.window.end - data.window.start
                )
                units, usage_credits[device], held_figures = hold_and_return(
                    rep, held, earned.numerator // earned.denominator, age, params
                )
                usage_share[device] = Fraction(1)
                if (
                    held_figures["byte_hours_held"]
                    or held_figures["credits_held"]
                    or any(held_figures[k] for k in ("byte_hours_returned", "credits_returned"))
                ):
                    work.notes.append(DeviceNote(device, "storage.held", held_figures))
        if work.offline.get(device):
            work.notes.append(DeviceNote(device, "storage.offline", {"periods": work.offline[device]}))
        if held and not paid:
            work.notes.append(DeviceNote(device, "storage.unpaid", evidence))
        if units and paid:
            breakdown = {
                "rule": "byte-hours of pieces held in the audit periods the provider was online",
                "byte_hours": held,
                "outcomes": dict(sorted(work.outcomes.get(device, {}).items())),
                **evidence,
                **({"held": held_figures} if held_figures is not None else {}),
            }
            contributions.append(Contribution(device, params.category, units, breakdown))
    repair = []
    segments: dict[str, list[Piece]] = defaultdict(list)
    for piece in registry.pieces.values():
        segments[piece.segment].append(piece)
    for segment, pieces in sorted(segments.items()):
        if len(pieces) <= params.repair_threshold:
            repair.append([segment, len(pieces), pieces[0].k, pieces[0].n])
    state = {**registry.to_state(), "repair": repair}
    if work.book is not None and work.book.current:
        state["receipts"] = work.book.to_state()
    device_state: dict[str, Mapping[str, Any] | None] = {
        d: rep.to_state()
        for d, rep in sorted(reps.items())
        if rep.audits or rep.windows or d in work.held or rep.held_credits or rep.held_byte_hours
    }
    verdicts = [work.verdicts[r.report_id] for r in data.reports if r.report_id in work.verdicts]
    missing = [r for r in data.reports if r.report_id not in work.verdicts]
    verdicts += [Verdict(r.report_id, "storage.not_due", {}) for r in missing]
    return SectorOutcome(
        verdicts,
        contributions,
        work.notes,
        state,
        device_state,
        usage_share=usage_share,
        usage_credits={d: c for d, c in usage_credits.items() if c > 0} if holding else None,
        unpaid_receipts=unpaid,
    )
