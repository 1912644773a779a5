"""How well a sector's verification did in a simulated run, with one meaning for every sector.

The simulators (`depin simulate NAME`) know which devices cheated; these figures compare that with what the
rules flagged and paid:

- leakage: the share of everything paid to devices that went to the cheaters;
- pay ratio: the mean pay of a group of devices relative to the mean pay of the honest ones (unpaid
  devices count as 0);
- precision = TP / (TP + FP), recall = TP / cheaters, false-positive rate = FP / honest devices, where a
  true positive is a flagged cheater and a false positive a flagged honest device.

Floats, for people to read: these figures decide no amount.
"""

from __future__ import annotations

from collections.abc import Mapping, Set


def leakage(paid: Mapping[str, int], adversaries: Set[str]) -> float:
    """Share of everything paid to devices that went to `adversaries` (0 when nothing was paid)."""
    total = sum(paid.values())
    return sum(v for k, v in paid.items() if k in adversaries) / total if total else 0.0


def pay_ratio(paid: Mapping[str, int], group: Set[str], honest: Set[str]) -> float:
    """Mean pay per device of `group` relative to the mean pay per honest device (0 when either is
    empty or the honest were paid nothing)."""
    if not group or not honest:
        return 0.0
    honest_mean = sum(paid.get(d, 0) for d in honest) / len(honest)
    group_mean = sum(paid.get(d, 0) for d in group) / len(group)
    return group_mean / honest_mean if honest_mean else 0.0


def classification(flagged: Set[str], adversaries: Set[str], honest: Set[str]) -> tuple[float, float, float]:
    """(precision, recall, false-positive rate) of `flagged` against the known `adversaries` and `honest`
    devices. With nobody flagged among them, precision is 1 when there were no adversaries, else 0; recall
    is 1 without adversaries; the false-positive rate is 0 without honest devices."""
    tp, fp = len(flagged & adversaries), len(flagged & honest)
    precision = tp / (tp + fp) if tp + fp else (1.0 if not adversaries else 0.0)
    recall = tp / len(adversaries) if adversaries else 1.0
    return precision, recall, fp / len(honest) if honest else 0.0
