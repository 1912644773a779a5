"""Air quality: PurpleAir's dual-channel checks and the US EPA correction.

- A/B agreement (US EPA sensortoolkit, after Barkjohn et al. 2021): a sample is invalid when
  |A − B| > 5 µg/m³ and |2(A − B)/(A + B)| > 0.70, or when either channel is missing
  (`sensors.ab_disagree`); otherwise the sample's value is the A/B average.
- Identical channels (ours): two real laser counters never agree to the last digit for long; samples in a
  run where A equals B exactly lasting `identical_s` (an hour) or more are invalid (`sensors.ab_identical`:
  one channel copied into the other).
- EPA correction of the A/B average x (cf = 1) with relative humidity RH, in exact fractions (`epa_correct`):
  x < 570: 0.524·x − 0.0862·RH + 5.75; from 611 (smoke) 4.21e-4·x² + 0.392·x + 3.44, blended between;
  never below 0.

Integers are thousandths of µg/m³ and of %.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

from opendepin.sectors.sensors.params import AirQualityParams, exact, milli

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
VALID, DISAGREE, IDENTICAL = 0, 1, 2
REASONS = {DISAGREE: "sensors.ab_disagree", IDENTICAL: "sensors.ab_identical"}


def check_agreement(a: IntArray, b: IntArray, present: BoolArray, params: AirQualityParams) -> BoolArray:
    """True where the channels disagree (or one is missing)."""
    diff = np.abs(a - b)
    total = a + b
    rel = exact(params.ab_rel)
    # |2(A−B)/(A+B)| > rel  ⇔  2·|A−B|·den > num·(A+B)   (A+B > 0; with A+B = 0 both are 0: agree)
    relative = 2 * diff * rel.denominator > rel.numerator * total
    return ~present | ((diff > milli(params.ab_abs_ugm3)) & relative)


def identical_runs(
    ts: IntArray, a: IntArray, b: IntArray, present: BoolArray, params: AirQualityParams, continuity_s: int
) -> BoolArray:
    """True for samples in a run of consecutive samples (gaps ≤ continuity_s) with A == B lasting at least
    `identical_s`."""
    same = present & (a == b)
    out = np.zeros(ts.shape, dtype=bool)
    idx = np.flatnonzero(same)
    if idx.size == 0:
        return out
    breaks = np.ones(idx.size, dtype=bool)
    breaks[1:] = (idx[1:] != idx[:-1] + 1) | (ts[idx[1:]] - ts[idx[:-1]] > continuity_s)
    starts = np.flatnonzero(breaks)
    ends = np.append(starts[1:], idx.size) - 1
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if ts[idx[e]] - ts[idx[s]] >= params.identical_s:
            out[idx[s : e + 1]] = True
    return out


def epa_correct(average: Fraction, humidity: Fraction) -> Fraction:
    """The EPA-corrected PM2.5 (µg/m³) of an A/B average x (cf = 1, µg/m³) at a relative humidity RH (%):

    - x < 570: 0.524·x − 0.0862·RH + 5.75 (Barkjohn et al. 2021);
    - x ≥ 611 (smoke): 4.21e-4·x² + 0.392·x + 3.44;
    - between: the two blended with weight w = 0.0244·x − 13.9 on the smoke fit;

    never below 0."""
    low = Fraction(524, 1000) * average - Fraction(862, 10_000) * humidity + Fraction(575, 100)
    smoke = Fraction(421, 1_000_000) * average * average + Fraction(392, 1000) * average + Fraction(344, 100)
    if average < 570:
        value = low
    elif average >= 611:
        value = smoke
    else:
        w = Fraction(244, 10_000) * average - Fraction(139, 10)
        value = w * smoke + (1 - w) * low
    return max(value, Fraction(0))


def epa_correct_milli(average_milli: int, humidity_milli: int) -> int:
    """`epa_correct` on thousandths, toward zero."""
    return int(epa_correct(Fraction(average_milli, 1000), Fraction(humidity_milli, 1000)) * 1000)
