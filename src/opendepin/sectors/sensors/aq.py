"""One air-quality station's epoch: A/B agreement, identical channels, hourly scores, EPA-corrected hourly
PM2.5 for the neighbour comparison (rules in `airquality.py`, buffering in `buffer.py`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import OK, EpochWindow, Verdict
from opendepin.sectors.sensors.airquality import (
    DISAGREE,
    IDENTICAL,
    REASONS,
    VALID,
    check_agreement,
    epa_correct_milli,
    identical_runs,
)
from opendepin.sectors.sensors.buffer import HOUR, gather, next_buffer_state
from opendepin.sectors.sensors.params import SensorsParams, exact

AQ_FIELDS = ["pm25_a", "pm25_b", "humidity_pct", "temperature_c"]


@dataclass(slots=True)
class AirQualityEpoch:
    hours: list[int]
    valid: list[int]
    slots: int
    available: list[bool]
    counts: dict[str, int]
    summaries: dict[int, list[int | None]]
    verdicts: list[Verdict]
    state: dict[str, Any]

    def quality(self) -> Fraction:
        if not self.hours:
            return Fraction(0)
        return Fraction(sum(self.valid), self.slots * len(self.hours))

    def available_hours(self) -> int:
        return sum(self.available)


def process_air_quality(
    reports: Sequence[ReportRecord], prior: Mapping[str, Any], window: EpochWindow, params: SensorsParams
) -> AirQualityEpoch:
    """Score the hours this epoch closes for one air-quality station."""
    aq = params.air_quality
    buffered = gather(reports, AQ_FIELDS, prior, window, params.max_upload_delay_s, params.hour_grace_s)
    ts, _received, values, present, scored = buffered.arrays(len(AQ_FIELDS))
    a, b, rh = values[:, 0], values[:, 1], values[:, 2]
    both = present[:, 0] & present[:, 1]
    codes = np.where(check_agreement(a, b, both, aq), DISAGREE, VALID)
    codes = np.where(identical_runs(ts, a, b, both, aq, 2 * aq.step_s) & (codes == VALID), IDENTICAL, codes)
    slots = 3_600 // aq.step_s
    threshold = exact(aq.availability)
    hour_of = ts // HOUR * HOUR
    valid_counts, available, summaries = [], [], {}
    for hour in buffered.hours:
        rows = scored & (hour_of == hour) & (codes == VALID)
        valid = min(int(np.count_nonzero(rows)), slots)
        is_available = valid * threshold.denominator >= threshold.numerator * slots
        valid_counts.append(valid)
        available.append(is_available)
        pm = None
        if is_available:
            averages = np.sort((a[rows] + b[rows]) // 2)
            humidity = np.sort(rh[rows & present[:, 2]])
            median_rh = int(humidity[(humidity.size - 1) // 2]) if humidity.size else 0
            pm = epa_correct_milli(int(averages[(averages.size - 1) // 2]), median_rh)
        summaries[hour] = [pm]
    verdicts = list(buffered.verdicts)
    for k, report_id in enumerate(buffered.report_ids):
        if report_id is None:
            continue
        code = int(codes[k])
        evidence: dict[str, Any] = {"hour": int(ts[k]) // HOUR * HOUR}
        if code != VALID:
            evidence |= {"a_milli": buffered.rows[k][2], "b_milli": buffered.rows[k][3]}
        verdicts.append(Verdict(report_id, OK if code == VALID else REASONS[code], evidence))
    verdicts.extend(Verdict(rid, OK, {"held_for_hour": hour}) for rid, hour in buffered.held_reports)
    counts = {
        "ab_disagree": int(np.count_nonzero(scored & (codes == DISAGREE))),
        "ab_identical": int(np.count_nonzero(scored & (codes == IDENTICAL))),
    }
    state = next_buffer_state(buffered, window, params.max_upload_delay_s, params.context_s)
    return AirQualityEpoch(buffered.hours, valid_counts, slots, available, counts, summaries, verdicts, state)
