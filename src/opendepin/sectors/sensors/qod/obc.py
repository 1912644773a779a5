"""WeatherXM's OBC check: values outside the manufacturer's limits are invalid (annotation OBC)."""

from __future__ import annotations

import numpy as np

from opendepin.sectors.sensors.params import ModelProfile, exact, milli
from opendepin.sectors.sensors.qod.codes import OBC
from opendepin.sectors.sensors.qod.series import Series
from opendepin.sectors.sensors.reports import MILLI, PARAMS, RAIN


def check_ranges(series: Series, profile: ModelProfile) -> None:
    """Annotate OBC where a present value lies outside [obc_min, obc_max] of its parameter (both inclusive).

    Rain is an accumulation: its increase between two present samples must not exceed obc_max (mm per
    second) × the seconds between them, so the limit grows across gaps as WeatherXM's does; a decrease is
    the counter's reset and valid."""
    for p, name in enumerate(PARAMS):
        if name == "rain" or name not in profile.obc_min:
            continue
        low, high = milli(profile.obc_min[name]), milli(profile.obc_max[name])
        column = series.values[:, p]
        bad = series.present[:, p] & ((column < low) | (column > high))
        series.codes[bad, p] = OBC
    if "rain" in profile.obc_max:
        _check_rain(series, exact(profile.obc_max["rain"]) * MILLI)


def _check_rain(series: Series, per_second_milli: object) -> None:
    rate = per_second_milli
    idx = np.flatnonzero(series.present[:, RAIN])
    if idx.size < 2:
        return
    values = series.values[idx, RAIN]
    increase = values[1:] - values[:-1]
    seconds = series.ts[idx[1:]] - series.ts[idx[:-1]]
    # exact: increase > rate × seconds, rate a Fraction n/d → increase × d > n × seconds
    numerator, denominator = rate.numerator, rate.denominator  # type: ignore[attr-defined]
    bad = increase * denominator > numerator * seconds
    series.codes[idx[1:][bad], RAIN] = OBC
