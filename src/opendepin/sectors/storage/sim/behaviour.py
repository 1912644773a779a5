"""What each simulated provider sends in an audit period: honest answers, or one of the adversaries'.

Behaviours (docs/storage.md, "Adversaries and what catches them"), each against the rule that must catch it:
- `honest`: always keeps its bytes; answers 1–5 s after the audit is issued (it polls the node); a few
  answers are slow (0.3 %) or lost (0.2 %, then answered in the next period); short outages (0.2 % of hours
  start one of 2–8 hours);
- `deleter-20` / `deleter-1`: dropped 20 % / 1 % (at least one) of its pieces and says so when asked
  (`storage.missing`);
- `bit-rotter`: 5 % (at least one) of its pieces have a flipped byte in every leaf (`storage.corrupt`);
- `outsourcer`: keeps nothing; on an audit it rebuilds the asked bytes from k peers, which takes a
  log-normal delay (median `OUTSOURCE_DELAY_S`) on top of its polling (`storage.slow_response` when past the
  latency bound: an unknown error, then suspension);
- `sybil`: 15 identities on one disk and one /24; its own client tries to put several pieces of a segment on
  them (`storage.prefix_duplicate`); honest clients place one piece per prefix, so the group holds what one
  provider would;
- `staller`: dropped 20 % of its pieces and never answers for them (`storage.contained`, then
  `storage.containment_exhausted` on the third timeout);
- `flaky`: online in half of the hours (online score below 0.6: unpaid, then under review).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from opendepin.reports.model import ReportRecord
from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.audit import Piece, due_for
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.reports import PING, PROOF
from opendepin.sectors.storage.sim.world import HONEST, SimProvider

DELETER_20 = "deleter-20"
DELETER_1 = "deleter-1"
BIT_ROTTER = "bit-rotter"
OUTSOURCER = "outsourcer"
SYBIL = "sybil"
STALLER = "staller"
FLAKY = "flaky"
ADVERSARIES = (DELETER_20, DELETER_1, BIT_ROTTER, OUTSOURCER, SYBIL, STALLER, FLAKY)
OUTSOURCE_DELAY_S = 14.0
OUTAGE_START = 0.002
"""Share of hours in which a provider's outage starts (about one outage every three weeks, 2–8 h: 99.7 %
online)."""
SLACK = 1
"""Answers beyond the reservoir's slots (a provider cannot know which pieces the network already dropped)."""


def spoil(provider: SimProvider, rng: random.Random) -> None:
    """Apply the behaviour to the bytes the provider keeps."""
    keys = sorted(provider.pieces)
    if not keys:
        return
    share = {DELETER_20: 0.2, STALLER: 0.2, DELETER_1: 0.01, BIT_ROTTER: 0.05}.get(provider.behaviour)
    if provider.behaviour == OUTSOURCER:
        provider.lost = set(keys)
    elif share is not None:
        chosen = set(rng.sample(keys, max(1, round(share * len(keys)))))
        if provider.behaviour == BIT_ROTTER:
            provider.rotted = chosen
            for key in chosen:
                piece = provider.pieces[key]
                data = bytearray(piece.data)
                for start in range(0, len(data), 4_096):
                    data[start + rng.randrange(min(4_096, len(data) - start))] ^= 0xFF
                piece.data = bytes(data)
        else:
            provider.lost = chosen


@dataclass
class ProviderClock:
    """Per-provider simulated availability and its own containment memory."""

    outage_left: int = 0
    contained: set[str] = field(default_factory=set)
    listed: list[Piece] | None = None
    """the provider's pieces as the audit rules see them (built once: a provider's pieces do not change)"""


def is_online(provider: SimProvider, clock: ProviderClock, rng: random.Random, hours: int = 1) -> bool:
    """Is the provider up when the period's audit is issued? Outages are drawn hour by hour over the
    period's `hours` (`OUTAGE_START` of hours start one lasting 2–8 hours), so the honest model does not
    depend on the audit period; a flaky provider is up at half the audits."""
    if provider.behaviour == FLAKY:
        return rng.random() < 0.5
    at_audit = True
    for hour in range(hours):
        if clock.outage_left > 0:
            clock.outage_left -= 1
            up = False
        elif rng.random() < OUTAGE_START:
            clock.outage_left = rng.randrange(1, 8)
            up = False
        else:
            up = True
        if hour == 0:
            at_audit = up
    return at_audit


def _report(provider: SimProvider, kind: str, at: int, payload: dict[str, object], seq: int) -> ReportRecord:
    what = f"{payload.get('challenge')}:{payload.get('segment')}:{payload.get('piece')}"
    rid = hashlib.sha256(f"{provider.device_id}:{kind}:{at}:{seq}:{what}".encode()).hexdigest()
    return ReportRecord(rid, kind, provider.device_id, at, seq, payload, at)


def period_reports(
    provider: SimProvider,
    clock: ProviderClock,
    audit_id: str,
    issued_at: int,
    params: StorageParams,
    rate: Fraction,
    rng: random.Random,
    registered: bool,
    striped: frozenset[str] | None = None,
) -> list[ReportRecord]:
    """The provider's reports for one audit period (nothing when it is down)."""
    if not is_online(provider, clock, rng, max(1, params.audit_period_s // 3_600)):
        return []
    if clock.listed is None:
        clock.listed = [
            Piece(key, p.segment, p.index, provider.device_id, len(p.data), p.root, p.k, p.n, 0)
            for key, p in sorted(provider.pieces.items())
        ]
    pieces = clock.listed if registered else []
    extra = [p for p in pieces if p.key in clock.contained]
    dues = due_for(
        audit_id,
        provider.device_id,
        pieces,
        params.audit_slots + SLACK,
        rate,
        params.leaf_size,
        params.stripe_size,
        extra,
        striped,
    )
    base = issued_at + rng.randrange(1, 6)
    reports: list[ReportRecord] = []
    if not dues:
        return [_report(provider, PING, base, {"challenge": audit_id}, 0)]
    for seq, (key, due) in enumerate(dues.items(), start=1):
        piece = provider.pieces[key]
        behaviour = provider.behaviour
        at = base
        if key in provider.lost and behaviour == STALLER:
            clock.contained.add(key)
            continue
        if behaviour == HONEST or behaviour in (SYBIL, FLAKY):
            if rng.random() < 0.002:
                clock.contained.add(key)
                continue
            if rng.random() < 0.003:
                at = issued_at + rng.randrange(11, 60)
        if behaviour == OUTSOURCER:
            at = base + math.ceil(rng.lognormvariate(math.log(OUTSOURCE_DELAY_S), 0.6))
            if at - issued_at > params.timeout_s:
                clock.contained.add(key)
                continue
        clock.contained.discard(key)
        if key in provider.lost and behaviour != OUTSOURCER:
            payload: dict[str, object] = {
                "challenge": audit_id,
                "segment": piece.segment,
                "piece": piece.index,
                "missing": True,
            }
        else:
            leaf = piece.data[due.leaf * params.leaf_size : (due.leaf + 1) * params.leaf_size]
            payload = {
                "challenge": audit_id,
                "segment": piece.segment,
                "piece": piece.index,
                "leaf": due.leaf,
                "data": leaf,
                "path": merkle.prove(piece.levels, due.leaf),
            }
            if due.stripe is not None:
                offset, length = due.stripe
                payload["stripe"] = piece.data[offset : offset + length]
        reports.append(_report(provider, PROOF, at, payload, seq))
    return reports


def answered_pieces(reports: Sequence[ReportRecord]) -> int:
    return sum(1 for r in reports if r.kind == PROOF)
