"""Scoring a run against the ground truth: leakage, precision, recall, false-positive rate."""

from __future__ import annotations

from dataclasses import dataclass

from opendepin.detection import leakage, pay_ratio

NOT_SUSPICION = frozenset(
    {
        "ok",
        "beacon.not_reciprocal",
        "witness.not_reciprocal",
        "witness.beacon_not_reciprocal",
        "witness.not_selected",
        "witness.relayed",
        "witness.too_late",
        "witness.implausible_link",
        "witness.too_close",
        "witness.too_close_by_rssi",
        "witness.rssi_too_strong",
    }
)
"""Reasons about activity, selection or link physics, not blame (a relayed witness's hearer is a victim;
hotspots in one building are too close to witness each other, and are paid for what they do witness; a
witness louder than free space allows at the asserted distance says that one end lies about where it
stands, not which: an honest hotspot hearing a neighbour that asserts a spot 600 m away is its victim)."""


@dataclass(frozen=True, slots=True)
class Scores:
    """Detection figures for one mode (full detection, or the per-report rules alone)."""

    leakage: float
    precision: float
    recall: float
    false_positive_rate: float
    flagged: int
    sparse_honest_rewarded: float
    adversary_pay_ratio: float
    """Mean pay per adversary hotspot over mean pay per honest hotspot (0 when adversaries earn nothing)."""

    def as_dict(self) -> dict[str, float | int]:
        return {
            "leakage": round(self.leakage, 5),
            "adversary_pay_ratio": round(self.adversary_pay_ratio, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "false_positive_rate": round(self.false_positive_rate, 5),
            "flagged": self.flagged,
            "sparse_honest_rewarded": round(self.sparse_honest_rewarded, 4),
        }


compute_leakage = leakage
"""Share of everything paid to devices that went to adversaries (`opendepin.detection.leakage`)."""
compute_pay_ratio = pay_ratio
"""Mean pay per adversary hotspot relative to the mean per honest hotspot (`opendepin.detection`)."""


def is_flagged_by_reports(suspicious: int, total: int) -> bool:
    """Per-report view of a device: at least half of its reports rejected for a cheating reason."""
    return total > 0 and 2 * suspicious >= total


def compute_scores(
    flagged: set[str],
    adversaries: set[str],
    honest: set[str],
    leakage: float,
    sparse_rewarded: float,
    pay_ratio: float = 0.0,
) -> Scores:
    """Precision = TP/(TP+FP), recall = TP/adversaries, FPR = FP/honest."""
    tp = len(flagged & adversaries)
    fp = len(flagged & honest)
    precision = tp / (tp + fp) if flagged else (1.0 if not adversaries else 0.0)
    recall = tp / len(adversaries) if adversaries else 1.0
    return Scores(
        leakage,
        precision,
        recall,
        fp / len(honest) if honest else 0.0,
        len(flagged),
        sparse_rewarded,
        pay_ratio,
    )
