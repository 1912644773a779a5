"""Hourly scores and the day's quality of data (WeatherXM's score calculation, in exact fractions).

For each scored hour and parameter the score is the share of the hour's slots (3600 / step) that hold a
valid sample (no annotation), at most 1; the hour of a parameter is available when that share reaches the
parameter's availability threshold (0.67, wind 0.75, rain 0.85). A parameter's score is the mean of its
hourly scores; the quality of data is the mean over the parameters (the day as the mean of hourly means,
here over the hours scored in this epoch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from opendepin.sectors.sensors.params import ModelProfile, exact
from opendepin.sectors.sensors.qod.codes import NAMES, VALID
from opendepin.sectors.sensors.qod.series import Series
from opendepin.sectors.sensors.reports import PARAMS

HOUR = 3_600


@dataclass(frozen=True, slots=True)
class HourlyScores:
    """`valid[h, p]` valid slots (capped), `available[h, p]`, for the scored hour starts `hours`."""

    hours: Sequence[int]
    valid: np.ndarray
    available: np.ndarray
    slots: int

    def quality(self) -> Fraction:
        """Mean over parameters of the mean over hours of valid / slots (0 with no hour)."""
        if not self.hours:
            return Fraction(0)
        return Fraction(int(self.valid.sum()), self.slots * len(self.hours) * len(PARAMS))

    def available_hours(self) -> int:
        """Hours in which every parameter is available."""
        return int(np.count_nonzero(self.available.all(axis=1))) if self.hours else 0

    def parameter_scores(self) -> dict[str, str]:
        """Each parameter's mean hourly score, as an exact fraction (for explanations)."""
        if not self.hours:
            return {}
        denominator = self.slots * len(self.hours)
        return {
            name: str(Fraction(int(self.valid[:, p].sum()), denominator)) for p, name in enumerate(PARAMS)
        }


def score_hours(series: Series, profile: ModelProfile, hours: Sequence[int]) -> HourlyScores:
    """Valid slots and availability per scored hour and parameter (only `scored` samples count)."""
    slots = profile.slots_per_hour
    valid = np.zeros((len(hours), len(PARAMS)), dtype=np.int64)
    if hours:
        index = {h: k for k, h in enumerate(hours)}
        rows = np.flatnonzero(series.scored)
        hour_of = (series.ts[rows] // HOUR) * HOUR
        position = np.array([index.get(int(h), -1) for h in hour_of.tolist()], dtype=np.int64)
        keep = position >= 0
        rows, position = rows[keep], position[keep]
        good = series.present[rows] & (series.codes[rows] == VALID)
        for p in range(len(PARAMS)):
            valid[:, p] = np.bincount(position[good[:, p]], minlength=len(hours))
    valid = np.minimum(valid, slots)
    thresholds = [exact(profile.availability[name]) for name in PARAMS]
    available = np.zeros(valid.shape, dtype=bool)
    for p, threshold in enumerate(thresholds):
        available[:, p] = valid[:, p] * threshold.denominator >= threshold.numerator * slots
    return HourlyScores(list(hours), valid, available, slots)


def flagged_hours(series: Series, hours: Sequence[int]) -> dict[str, int]:
    """Per parameter, how many of the scored `hours` hold at least one annotated sample."""
    out: dict[str, int] = {}
    if not hours:
        return out
    wanted = set(hours)
    rows = series.scored
    hour_of = (series.ts[rows] // HOUR) * HOUR
    codes = series.codes[rows]
    for p, name in enumerate(PARAMS):
        bad = {int(h) for h in hour_of[codes[:, p] != VALID].tolist()} & wanted
        if bad:
            out[name] = len(bad)
    return out


def annotation_counts(series: Series) -> dict[str, dict[str, int]]:
    """Scored samples per parameter and annotation name (evidence for `depin explain`)."""
    counts: dict[str, dict[str, int]] = {}
    rows = series.scored
    for p, name in enumerate(PARAMS):
        codes = series.codes[rows, p]
        for code, label in NAMES.items():
            n = int(np.count_nonzero(codes == code))
            if n:
                counts.setdefault(name, {})[label] = n
    return counts
