"""Decayed Beta reputation (Storj's audit reputation), exact on every machine.

A neutral, pure module: it imports nothing of the sector, so another sector can carry the same rule.

Rules: a reputation is a pair (α, β) kept in fixed point (`SCALE` units per event of weight 1). Every event
first decays both by λ (each product rounded toward zero), then a success of weight w adds w to α, a
failure adds w to β. The score is α / (α + β) in parts per million, rounded toward zero. A new provider
starts at (α₀, 0) and score 1. With λ = 0.999 and α₀ = 1,000 the steady state α + β is 1,000 events, so the
score is an exponentially weighted success rate over about the last thousand events; from a perfect
record, ln(0.96)/ln(0.999) ≈ 41 consecutive failures of weight 1 bring it to 0.96.
"""

from __future__ import annotations

from dataclasses import dataclass

SCALE = 10**9
PPM = 1_000_000


@dataclass(frozen=True, slots=True)
class Reputation:
    """α and β in units of 1/SCALE events."""

    alpha: int
    beta: int

    @classmethod
    def new(cls, alpha0: int) -> Reputation:
        return cls(alpha0 * SCALE, 0)

    def record(self, success: bool, weight: int, decay_ppm: int) -> Reputation:
        """The reputation after one event."""
        alpha = self.alpha * decay_ppm // PPM
        beta = self.beta * decay_ppm // PPM
        if success:
            alpha += weight * SCALE
        else:
            beta += weight * SCALE
        return Reputation(alpha, beta)

    @property
    def score_ppm(self) -> int:
        total = self.alpha + self.beta
        return PPM if total == 0 else self.alpha * PPM // total
