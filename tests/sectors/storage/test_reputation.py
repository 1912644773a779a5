"""Decayed Beta reputation and the state rules (Storj's defaults)."""

from __future__ import annotations

from fractions import Fraction

from opendepin.sectors.storage.params import DAY, StorageParams
from opendepin.sectors.storage.reputation import (
    DISQUALIFIED,
    NEW,
    VETTED,
    Reputation,
    decay,
    score_at_most,
    update_states,
)

P = StorageParams()


def test_exact_arithmetic() -> None:
    assert decay(10**12, Fraction(999, 1000)) == 999 * 10**9
    assert decay(7, Fraction(1, 2)) == 3
    assert score_at_most(96, 4, Fraction(96, 100)) and not score_at_most(97, 3, Fraction(96, 100))


def test_state_round_trips() -> None:
    rep = Reputation.fresh(P)
    rep.record_success(P)
    rep.record_online(3_600, True, P)
    assert Reputation.of(rep.to_state(), P) == rep
    assert Reputation.of(None, P) == Reputation.fresh(P)


def test_a_warning_comes_before_disqualification_after_about_forty_failures() -> None:
    rep = Reputation.fresh(P)
    events: list[tuple[int, str]] = []
    for failure in range(1, 80):
        rep.record_failure(P, epoch=0)
        events += [(failure, reason) for reason, _ in update_states(rep, P, 0, 0, 0)]
        if rep.status == DISQUALIFIED:
            break
    reasons = [r for _, r in events]
    assert reasons.index("storage.warning") < reasons.index("storage.disqualified")
    dq_at = dict((r, f) for f, r in events)["storage.disqualified"]
    assert 35 <= dq_at <= 45, dq_at  # β must reach ~4 % of α+β ≈ 1000
    assert rep.disqualified is not None and rep.disqualified["reason"] == "audit_failure"
    assert update_states(rep, P, 0, 0, 0) == []  # disqualified for good


def test_an_honest_node_survives_rare_failures() -> None:
    """One failure per 100 audits for 10,000 audits keeps the score near 0.99, far above 0.96."""
    rep = Reputation.fresh(P)
    for i in range(10_000):
        if i % 100 == 99:
            rep.record_failure(P, epoch=0)
        else:
            rep.record_success(P)
        update_states(rep, P, 0, 0, 0)
    assert rep.status != DISQUALIFIED and rep.audit_score() > Fraction(98, 100)


def test_unknown_errors_suspend_and_successes_lift() -> None:
    rep = Reputation.fresh(P)
    for _ in range(100):
        rep.record_success(P)
    rep.record_unknown(P)
    assert [r for r, _ in update_states(rep, P, 0, 0, 0)] == []  # one slow answer among many: no suspension
    reasons = []
    for _ in range(30):
        rep.record_unknown(P)
        reasons += [r for r, _ in update_states(rep, P, 0, 0, 0)]
    assert reasons == ["storage.suspended"] and rep.suspended
    for _ in range(30):
        rep.record_success(P)
        reasons += [r for r, _ in update_states(rep, P, 0, 0, 0)]
    assert reasons[-1] == "storage.suspension_lifted" and not rep.suspended


def test_vetting_needs_both_audits_and_age() -> None:
    rep = Reputation.fresh(P)
    for _ in range(100):
        rep.record_success(P)
    assert update_states(rep, P, 20 * DAY, 0, 0) == [] and rep.status == NEW
    assert [r for r, _ in update_states(rep, P, 21 * DAY, 0, 0)] == ["storage.vetted"]
    assert rep.status == VETTED


def test_online_score_over_completed_windows_and_review() -> None:
    rep = Reputation.fresh(P)
    window = P.reputation.online_window_s
    hour = 3_600
    # 31 days at one audit an hour, online in 1 hour of 2
    for t in range(0, 31 * DAY, hour):
        rep.record_online(t, (t // hour) % 2 == 0, P)
    now = 31 * DAY
    score = rep.online_score(now, P)
    assert score == Fraction(1, 2)
    assert all(w[0] >= now - P.reputation.online_tracking_s - window for w in rep.windows)
    reasons = [r for r, _ in update_states(rep, P, now, 0, 0)]
    assert "storage.under_review" in reasons and rep.under_review
    assert Reputation.fresh(P).online_score(now, P) is None


def test_every_transition_carries_its_scores_and_threshold() -> None:
    """Suspension, its lifting and review carry the scores and the threshold they crossed (the notes
    `depin explain` shows)."""
    rep = Reputation.fresh(P)
    events: list[tuple[str, dict[str, object]]] = []
    while not rep.suspended:
        rep.record_unknown(P)
        events += update_states(rep, P, 0, 0, 0)
    while rep.suspended:
        rep.record_success(P)
        events += update_states(rep, P, 0, 0, 0)
    (suspended, lifted) = events
    assert suspended[0] == "storage.suspended" and lifted[0] == "storage.suspension_lifted"
    assert suspended[1]["suspended_at_or_below"] == lifted[1]["suspended_at_or_below"] == "0.6"
    assert float(str(suspended[1]["unknown_score"])) <= 0.6 < float(str(lifted[1]["unknown_score"]))
    offline = Reputation.fresh(P)
    for hour in range(0, 31 * DAY, 3_600):
        offline.record_online(hour, hour % (4 * 3_600) == 0, P)
    (review,) = [e for e in update_states(offline, P, 31 * DAY, 0, 0) if e[0] == "storage.under_review"]
    assert review[1]["review_below"] == "0.6" and float(str(review[1]["online_score"])) < 0.6
