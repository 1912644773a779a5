"""WeatherXM's constancy checks (SQC): a parameter stuck at one value for its short window is SHORT_CONST,
for its long window LONG_CONST, with the model's exceptions:

- temperature and humidity: excused when the humidity's median over the run is ≥ 95 % (fog, rain);
- wind speed and direction: stuck at a non-zero speed is faulty; calm (speed 0) is faulty unless the
  humidity's median is ≥ 85 %; with a median temperature below 0 °C the anemometer is a FROZEN_SENSOR;
- pressure: at any value; irradiance: only when not 0 (nights are dark);
- rain: no constancy check.

Medians are lower medians of the run's present samples, taken as counts (the lower median of n values is at
least x exactly when at least n − ⌊(n − 1)/2⌋ of them are). A run goes on across gaps up to the model's fill
and across epochs (its start is carried in the station's state).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from opendepin.sectors.sensors.params import ModelProfile
from opendepin.sectors.sensors.qod.codes import FROZEN_SENSOR, LONG_CONST, SHORT_CONST, VALID
from opendepin.sectors.sensors.qod.series import Series, continuity_limit_s
from opendepin.sectors.sensors.reports import (
    HUMIDITY,
    PARAMS,
    SOLAR,
    TEMPERATURE,
    WIND_DIRECTION,
    WIND_SPEED,
)

RH_WET = 95_000
RH_DAMP = 85_000


def median_at_least(values: np.ndarray, threshold: int) -> bool:
    """Lower median of `values` ≥ threshold (False for no values)."""
    n = int(values.size)
    return n > 0 and int(np.count_nonzero(values >= threshold)) >= n - (n - 1) // 2


def median_below(values: np.ndarray, threshold: int) -> bool:
    """Lower median of `values` < threshold (False for no values)."""
    n = int(values.size)
    return n > 0 and int(np.count_nonzero(values < threshold)) >= (n - 1) // 2 + 1


def _column(series: Series, rows: np.ndarray, p: int) -> np.ndarray:
    keep = series.present[rows, p]
    return series.values[rows[keep], p]


def constancy_code(series: Series, rows: np.ndarray, p: int, value: int) -> int:
    """The annotation a stuck run (sample rows `rows`, value `value`) gets, or VALID when excused."""
    if p in (TEMPERATURE, HUMIDITY):
        return VALID if median_at_least(_column(series, rows, HUMIDITY), RH_WET) else SHORT_CONST
    if p in (WIND_SPEED, WIND_DIRECTION):
        if median_below(_column(series, rows, TEMPERATURE), 0):
            return FROZEN_SENSOR
        calm = value == 0 if p == WIND_SPEED else not median_at_least(_column(series, rows, WIND_SPEED), 1)
        if calm and median_at_least(_column(series, rows, HUMIDITY), RH_DAMP):
            return VALID
        return SHORT_CONST
    if p == SOLAR and value == 0:
        return VALID
    return SHORT_CONST


RunStarts = dict[int, tuple[np.ndarray, np.ndarray]]
"""Per parameter index: (sample rows checked, start ts of the run each of them is in)."""


def check_constancy(
    series: Series, profile: ModelProfile, carried: Mapping[int, tuple[int, int, int]]
) -> RunStarts:
    """Annotate stuck runs. `carried` is, per parameter index, (ts, value, run start) of the first context
    sample: the run it is in began at `run start`, possibly before the context kept. Returns every checked
    sample's run start, from which the next epoch's `carried` is taken."""
    limit = continuity_limit_s(profile)
    starts_by_param: RunStarts = {}
    for p, name in enumerate(PARAMS):
        short = profile.constant_short_min.get(name)
        if short is None:
            continue
        long = profile.constant_long_min.get(name)
        idx = np.flatnonzero(series.present[:, p] & (series.codes[:, p] == VALID))
        if idx.size == 0:
            continue
        ts = series.ts[idx]
        values = series.values[idx, p]
        breaks = np.ones(idx.size, dtype=bool)
        breaks[1:] = (values[1:] != values[:-1]) | (ts[1:] - ts[:-1] > limit)
        run_of = np.cumsum(breaks) - 1
        starts = np.flatnonzero(breaks)
        ends = np.append(starts[1:], idx.size) - 1
        run_start_ts = ts[starts].copy()
        if p in carried:
            at, value, since = carried[p]
            where = np.flatnonzero(ts == at)
            if where.size and int(values[where[0]]) == value:
                r = int(run_of[where[0]])
                run_start_ts[r] = min(int(run_start_ts[r]), since)
        durations = ts[ends] - run_start_ts
        for r in np.flatnonzero(durations >= short * 60).tolist():
            rows = idx[starts[r] : ends[r] + 1]
            code = constancy_code(series, rows, p, int(values[starts[r]]))
            if code == SHORT_CONST and long is not None and durations[r] >= long * 60:
                code = LONG_CONST
            if code != VALID:
                series.codes[rows, p] = np.where(series.codes[rows, p] == VALID, code, series.codes[rows, p])
        starts_by_param[p] = (idx, run_start_ts[run_of])
    return starts_by_param


def carried_runs(series: Series, starts: RunStarts, first_row: int) -> dict[str, list[int]]:
    """The runs the sample at `first_row` is in, per parameter name: [ts, value, run start] (state)."""
    carried: dict[str, list[int]] = {}
    for p, (idx, run_start) in starts.items():
        where = np.flatnonzero(idx == first_row)
        if where.size:
            k = int(where[0])
            carried[PARAMS[p]] = [
                int(series.ts[first_row]),
                int(series.values[first_row, p]),
                int(run_start[k]),
            ]
    return carried
