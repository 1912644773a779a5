"""Reputation and states of a storage provider (Storj's rules, exact integers).

Rules (docs/storage.md, "Reputation and states"):
- audit score: decayed Beta pair (α, β); success α ← λα + w, β ← λβ; failure α ← λα, β ← λβ + w; score =
  α/(α+β); α₀ = 1000, β₀ = 0. α and β are kept in units of 10⁻¹² and every product is rounded toward zero;
- unknown-error score: its own pair with λ 0.95, α₀ = 1; unknowns (slow answers) are its failures, and every
  success is a success of both pairs;
- online score: audits are counted in windows of 12 h; the score is the mean of online/total over the
  completed windows of the last 30 days (the current window excluded);
- states: NEW until 100 audits and 21 days since onboarding, then VETTED; a warning note when the audit
  score first falls to `audit_warning`; DISQUALIFIED (for good) at `audit_dq` or below; SUSPENDED while the
  unknown score is at or below `unknown_suspend` (lifted above it); UNDER REVIEW while the online score is
  below `online_threshold` over a full tracking period (lifted when it recovers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from opendepin.sectors.storage.params import StorageParams

SCALE = 10**12
NEW = "new"
VETTED = "vetted"
DISQUALIFIED = "disqualified"


def decay(value: int, lam: Fraction) -> int:
    """λ·value, rounded toward zero."""
    return value * lam.numerator // lam.denominator


def score_at_most(alpha: int, beta: int, bound: Fraction) -> bool:
    """α/(α+β) ≤ bound, exactly."""
    return alpha * bound.denominator <= bound.numerator * (alpha + beta)


@dataclass
class Reputation:
    """A provider's carried state (JSON-serialisable through `to_state`)."""

    alpha: int
    beta: int
    unknown_alpha: int
    unknown_beta: int
    audits: int = 0
    status: str = NEW
    suspended: bool = False
    under_review: bool = False
    warned: bool = False
    disqualified: dict[str, Any] | None = None
    last_failure_epoch: int = -1
    failures: int = 0
    contained: dict[str, int] = field(default_factory=dict)
    """piece key → timeouts so far"""
    windows: list[list[int]] = field(default_factory=list)
    """[window start, online audits, audits], oldest first"""
    first_flag_audits: int = -1
    """audits counted when the rules first named the provider (a failure, suspension, review, DQ)"""
    held_credits: int = 0
    """data credits of its receipts held back by age (held.py), forfeited on disqualification"""
    held_byte_hours: int = 0
    """capacity byte-hours held back by age, forfeited on disqualification"""
    held_returns_done: int = 0
    """return steps of `held_returns` already applied"""

    @classmethod
    def fresh(cls, params: StorageParams) -> Reputation:
        rep = params.reputation
        return cls(
            alpha=int(Fraction(str(rep.audit_alpha0)) * SCALE),
            beta=0,
            unknown_alpha=int(Fraction(str(rep.unknown_alpha0)) * SCALE),
            unknown_beta=0,
        )

    @classmethod
    def of(cls, state: dict[str, Any] | None, params: StorageParams) -> Reputation:
        if not state:
            return cls.fresh(params)
        data = dict(state)
        data["contained"] = dict(data.get("contained", {}))
        data["windows"] = [list(w) for w in data.get("windows", [])]
        return cls(**data)

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    # scores
    def audit_score(self) -> Fraction:
        total = self.alpha + self.beta
        return Fraction(self.alpha, total) if total else Fraction(1)

    def unknown_score(self) -> Fraction:
        total = self.unknown_alpha + self.unknown_beta
        return Fraction(self.unknown_alpha, total) if total else Fraction(1)

    def completed_windows(self, now: int, params: StorageParams) -> list[list[int]]:
        """The windows of the tracking period that ended by `now` and counted an audit."""
        rep = params.reputation
        done = [w for w in self.windows if w[0] + rep.online_window_s <= now and w[2] > 0]
        return [w for w in done if w[0] >= now - rep.online_tracking_s]

    def online_score(self, now: int, params: StorageParams) -> Fraction | None:
        """Mean online share over the completed windows of the tracking period (None: none completed)."""
        done = self.completed_windows(now, params)
        if not done:
            return None
        return sum((Fraction(w[1], w[2]) for w in done), Fraction(0)) / len(done)

    def flag(self) -> None:
        """Remember when the rules first named this provider."""
        if self.first_flag_audits < 0:
            self.first_flag_audits = self.audits

    # events
    def record_success(self, params: StorageParams) -> None:
        self._audit(params, success=True)
        self._unknown(params, success=True)

    def record_failure(self, params: StorageParams, epoch: int) -> None:
        self._audit(params, success=False)
        self.flag()
        self.last_failure_epoch = epoch
        self.failures += 1

    def record_unknown(self, params: StorageParams) -> None:
        self._unknown(params, success=False)

    def record_online(self, ts: int, online: bool, params: StorageParams) -> None:
        """Count one audit period in the 12 h window holding `ts`; drop windows past the tracking period."""
        rep = params.reputation
        start = ts - ts % rep.online_window_s
        if not self.windows or self.windows[-1][0] != start:
            self.windows.append([start, 0, 0])
        self.windows[-1][1] += int(online)
        self.windows[-1][2] += 1
        horizon = ts - rep.online_tracking_s - rep.online_window_s
        self.windows = [w for w in self.windows if w[0] >= horizon]

    def _audit(self, params: StorageParams, success: bool) -> None:
        lam = params.fraction("reputation.audit_lambda")
        w = int(params.fraction("reputation.audit_weight") * SCALE)
        self.alpha = decay(self.alpha, lam) + (w if success else 0)
        self.beta = decay(self.beta, lam) + (0 if success else w)
        self.audits += 1

    def _unknown(self, params: StorageParams, success: bool) -> None:
        lam = params.fraction("reputation.unknown_lambda")
        self.unknown_alpha = decay(self.unknown_alpha, lam) + (SCALE if success else 0)
        self.unknown_beta = decay(self.unknown_beta, lam) + (0 if success else SCALE)


def update_states(
    rep: Reputation, params: StorageParams, now: int, onboarded_at: int, epoch: int
) -> list[tuple[str, dict[str, Any]]]:
    """Apply the state rules at `now`; returns the transitions as (reason code, evidence) notes."""
    r = params.reputation
    events: list[tuple[str, dict[str, Any]]] = []
    figures = {
        "audit_score": f"{float(rep.audit_score()):.6f}",
        "unknown_score": f"{float(rep.unknown_score()):.6f}",
        "audits": rep.audits,
    }
    if rep.status == DISQUALIFIED:
        return events
    if not rep.warned and score_at_most(rep.alpha, rep.beta, params.fraction("reputation.audit_warning")):
        rep.warned = True
        events.append(
            (
                "storage.warning",
                {
                    **figures,
                    "state": rep.status,
                    "warning_at": str(r.audit_warning),
                    "dq_at": str(r.audit_dq),
                },
            )
        )
    if score_at_most(rep.alpha, rep.beta, params.fraction("reputation.audit_dq")):
        prior = rep.status
        rep.status = DISQUALIFIED
        rep.disqualified = {"reason": "audit_failure", "epoch": epoch, **figures}
        events.append(
            (
                "storage.disqualified",
                {
                    "cause": "audit_failure",
                    **figures,
                    "from": prior,
                    "to": DISQUALIFIED,
                    "dq_at": str(r.audit_dq),
                },
            )
        )
        return events
    suspend = score_at_most(
        rep.unknown_alpha, rep.unknown_beta, params.fraction("reputation.unknown_suspend")
    )
    if suspend != rep.suspended:
        rep.suspended = suspend
        rep.flag()
        events.append(
            (
                "storage.suspended" if suspend else "storage.suspension_lifted",
                {**figures, "suspended_at_or_below": str(r.unknown_suspend)},
            )
        )
    online = rep.online_score(now, params)
    tracked = now - onboarded_at >= r.online_tracking_s
    review = tracked and online is not None and online < params.fraction("reputation.online_threshold")
    if review != rep.under_review:
        rep.under_review = review
        rep.flag()
        evidence = {
            **figures,
            "online_score": f"{float(online or 0):.4f}",
            "review_below": str(r.online_threshold),
        }
        events.append(("storage.under_review" if review else "storage.review_lifted", evidence))
    if rep.status == NEW and rep.audits >= r.vetting_audits and now - onboarded_at >= r.vetting_age_s:
        rep.status = VETTED
        events.append(
            (
                "storage.vetted",
                {
                    **figures,
                    "from": NEW,
                    "to": VETTED,
                    "age_s": now - onboarded_at,
                    "vetting_audits": r.vetting_audits,
                    "vetting_age_s": r.vetting_age_s,
                },
            )
        )
    return events
