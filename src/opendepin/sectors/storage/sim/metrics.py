"""Scoring a storage run: leakage, pay per adversary vs honest, precision, recall, false positives.

Same meaning as `depin simulate wireless`: leakage = share of everything paid to providers that went to
adversaries; false_positive_rate = share of honest providers flagged; a provider is flagged when the rules
named it with evidence: a proven failure (missing, corrupt, containment exhausted), a refused
`storage.prefix_duplicate` put, a suspension, a review for being offline, a disqualification, or pay
withheld for its online score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opendepin.detection import classification, leakage, pay_ratio

FLAG_REASONS = frozenset(
    {
        "storage.missing",
        "storage.corrupt",
        "storage.containment_exhausted",
        "storage.prefix_duplicate",
        "storage.suspended",
        "storage.under_review",
        "storage.disqualified",
    }
)


def is_flagged(reason: str, evidence: Mapping[str, Any] | None) -> bool:
    """Does this verdict or note name the provider as failing?"""
    if reason in FLAG_REASONS:
        return True
    return (
        reason == "storage.unpaid"
        and evidence is not None
        and "online_score" in evidence.get("unpaid_because", ())
    )


@dataclass(frozen=True, slots=True)
class Scores:
    leakage: float
    adversary_pay_ratio: float
    precision: float
    recall: float
    false_positive_rate: float
    flagged: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "leakage": round(self.leakage, 5),
            "adversary_pay_ratio": round(self.adversary_pay_ratio, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "false_positive_rate": round(self.false_positive_rate, 5),
            "flagged": self.flagged,
        }


def compute_scores(
    flagged: set[str], adversaries: set[str], honest: set[str], paid: Mapping[str, int]
) -> Scores:
    """Precision, recall, FPR, leakage and mean pay ratio (`opendepin.detection`)."""
    precision, recall, false_positive_rate = classification(flagged, adversaries, honest)
    return Scores(
        leakage(paid, adversaries),
        pay_ratio(paid, adversaries, honest),
        precision,
        recall,
        false_positive_rate,
        len(flagged),
    )
